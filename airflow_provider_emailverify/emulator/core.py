# Licensed under the Apache License, Version 2.0.
"""
Shared machinery of the emulator: deterministic verdicts, accounts and credits, statistics,
fault configuration, job progress clocks, on-disk row spools, verdict tallies and job tables.

Nothing here knows a vendor's wire format; each vendor module (``neverbounce``, ``bouncer``,
``bouncify``, ``emailverifierapp``) subclasses :class:`VendorEmulator` and renders these facts in
its own dialect, reading request bodies and writing downloads with :mod:`.streams`. This package
imports nothing from the rest of the provider.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from airflow_provider_emailverify.emulator.verdict_codes import CodedVerdict

DEFAULT_API_KEY = "emulator-key"
DEFAULT_CREDITS = 1_000_000
DEFAULT_ROWS_PER_SECOND = 50_000

FREE_DOMAINS = frozenset({"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"})
ROLE_LOCALS = frozenset(
    {
        "info", "support", "sales", "admin", "contact", "help", "billing",
        "noreply", "no-reply", "postmaster", "webmaster",
    }
)
DISPOSABLE_DOMAINS = frozenset({"mailinator.com", "guerrillamail.com", "10minutemail.com", "disposable.test"})
TYPO_SUGGESTIONS = {
    "gmial.com": "gmail.com",
    "gnail.com": "gmail.com",
    "yaho.com": "yahoo.com",
    "hotmial.com": "hotmail.com",
}
_SYNTAX = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_TRAP_PREFIXES = ("spamtrap", "trap")


@dataclass(frozen=True, slots=True)
class Verdict:
    """
    The emulator's vendor-independent verdict on one address.

    :param category: ``deliverable``, ``risky``, ``undeliverable`` or ``unknown``.
    :param kind: why: ``valid``, ``syntax``, ``invalid_domain``, ``rejected``, ``catchall``,
        ``disposable`` or ``unknown``. Vendor modules turn this into their own verdict and reason.
    """

    email: str
    category: str
    kind: str
    free: bool = False
    role: bool = False
    disposable: bool = False
    catchall: bool = False
    syntax_error: bool = False
    suggestion: str | None = None
    domain: str = ""
    local: str = ""

    @property
    def spamtrap(self) -> bool:
        """The spam-trap flag: see :func:`is_spamtrap`."""
        return self.local.lower().startswith(_TRAP_PREFIXES)


def classify(email: str) -> Verdict:
    """
    Deterministic verdict for an address (DESIGN.md, "The emulator").

    Rule 2 (Bouncer's sandbox addresses) is vendor-specific and applied by the Bouncer module
    before calling this.
    """
    address = (email or "").strip()
    if not _SYNTAX.match(address) or ".." in address:
        local, _, domain = address.partition("@")
        return Verdict(address, "undeliverable", "syntax", syntax_error=True, domain=domain.lower(), local=local)
    local, _, domain = address.rpartition("@")
    domain = domain.lower()
    llocal = local.lower()
    flags = {
        "free": domain in FREE_DOMAINS,
        "role": llocal in ROLE_LOCALS,
        "suggestion": (local + "@" + TYPO_SUGGESTIONS[domain]) if domain in TYPO_SUGGESTIONS else None,
        "domain": domain,
        "local": local,
    }
    if domain == "invalid.test" or domain.endswith(".invalid") or domain == "invalid":
        return Verdict(address, "undeliverable", "invalid_domain", **flags)
    if llocal.startswith("invalid") or llocal.startswith("bounce"):
        return Verdict(address, "undeliverable", "rejected", **flags)
    if domain == "catchall.test":
        return Verdict(address, "risky", "catchall", catchall=True, **flags)
    if domain in DISPOSABLE_DOMAINS:
        return Verdict(address, "risky", "disposable", disposable=True, **flags)
    if domain == "unknown.test" or llocal.startswith("unknown"):
        return Verdict(address, "unknown", "unknown", **flags)
    return Verdict(address, "deliverable", "valid", **flags)


def suggestion_of(email: str) -> str:
    """
    The did-you-mean suggestion :func:`classify` gives an address that has one (its verdict
    code says so: :attr:`~.verdict_codes.CodedVerdict.typo`), without classifying it again.
    """
    local, _, domain = email.strip().rpartition("@")
    return local + "@" + TYPO_SUGGESTIONS[domain.lower()]


def is_spamtrap(verdict: Verdict | CodedVerdict) -> bool:
    """
    The spam-trap flag (Bouncify ``spamtrap``, Email Verifier App ``bad_address``).

    Not part of the verdict rules; a local part starting ``trap`` or ``spamtrap`` raises the flag
    only, so every vendor still agrees on the address's status.
    """
    return verdict.spamtrap


@dataclass
class EmulatorConfig:
    """Fault injection and speed; changed at run time through ``POST /_emulator/config``."""

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    disconnect_rate: float = 0.0
    latency_ms: float = 0.0
    rows_per_second: float = DEFAULT_ROWS_PER_SECOND
    fail_jobs: float = 0.0
    seed: int | None = None
    #: vendor switches for behaviours the specs mark [ASSUMED]: ``{"<vendor>": {"<switch>": value}}``.
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    FIELDS = ("error_rate", "throttle_rate", "disconnect_rate", "latency_ms", "rows_per_second", "fail_jobs", "seed")

    def update(self, data: dict[str, Any]) -> None:
        unknown = set(data) - set(self.FIELDS) - {"options"}
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        for name in self.FIELDS:
            if name in data:
                value = data[name]
                if name == "fail_jobs" and isinstance(value, bool):
                    value = 1.0 if value else 0.0
                if name == "seed":
                    value = None if value is None else int(value)
                elif value is not None:
                    value = float(value)
                    if name.endswith("_rate") or name == "fail_jobs":
                        if not 0.0 <= value <= 1.0:
                            raise ValueError(f"{name} must be between 0 and 1")
                    elif value < 0:
                        raise ValueError(f"{name} must not be negative")
                setattr(self, name, value)
        for vendor, switches in (data.get("options") or {}).items():
            self.options.setdefault(vendor, {}).update(switches)

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.FIELDS}
        data["options"] = self.options
        return data


class EmulatorState:
    """
    Everything the emulator remembers: accounts, credits, statistics, configuration.

    Thread-safe: the control plane and the vendor handlers may run on different threads.

    :param api_keys: keys every vendor accepts (other keys get the vendor's auth error).
    :param credits: starting credits per key.
    :param rows_per_second: how fast jobs progress.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        credits: int = DEFAULT_CREDITS,
        rows_per_second: float = DEFAULT_ROWS_PER_SECOND,
    ) -> None:
        self.lock = threading.RLock()
        self.initial_keys = tuple(api_keys) or (DEFAULT_API_KEY,)
        self.initial_credits = int(credits)
        self.initial_rps = float(rows_per_second)
        self.spool_dir = tempfile.mkdtemp(prefix="emailverify-emulator-")
        self._reset_hooks: list[Callable[[], None]] = []
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget jobs, statistics and faults; restore credits."""
        with self.lock:
            self.config = EmulatorConfig(rows_per_second=self.initial_rps)
            self.rng = random.Random()
            self.credits: dict[str, int] = {key: self.initial_credits for key in self.initial_keys}
            self.requests: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            self.jobs_created: dict[str, int] = defaultdict(int)
            self.credits_spent: dict[str, int] = defaultdict(int)
            self.faults: dict[str, int] = defaultdict(int)
            for hook in self._reset_hooks:
                hook()

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Register a vendor's own clean-up (its job tables) to run on every reset."""
        self._reset_hooks.append(hook)

    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.config.update(data)
            if "seed" in data and data["seed"] is not None:
                self.rng.seed(int(data["seed"]))
            return self.config.as_dict()

    def option(self, vendor: str, name: str, default: Any) -> Any:
        """A vendor switch for an [ASSUMED] behaviour (set with ``{"options": {vendor: {...}}}``)."""
        return self.config.options.get(vendor, {}).get(name, default)

    # -- accounts ----------------------------------------------------------------------------
    def is_valid_key(self, key: str | None) -> bool:
        return bool(key) and key in self.credits

    def add_key(self, key: str, credits: int | None = None) -> None:
        with self.lock:
            self.credits[key] = self.initial_credits if credits is None else int(credits)

    def set_credits(self, key: str, credits: int) -> None:
        with self.lock:
            self.credits[key] = int(credits)

    def balance(self, key: str) -> int:
        with self.lock:
            return self.credits.get(key, 0)

    def spend(self, key: str, amount: int) -> bool:
        """Take ``amount`` credits from ``key``; ``False`` (nothing taken) when it cannot pay."""
        with self.lock:
            if amount <= 0:
                return True
            if self.credits.get(key, 0) < amount:
                return False
            self.credits[key] -= amount
            self.credits_spent[key] += amount
            return True

    def refund(self, key: str, amount: int) -> None:
        with self.lock:
            if amount > 0:
                self.credits[key] = self.credits.get(key, 0) + amount
                self.credits_spent[key] -= amount

    # -- statistics --------------------------------------------------------------------------
    def count_request(self, vendor: str, endpoint: str) -> None:
        with self.lock:
            self.requests[vendor][endpoint] += 1

    def count_job(self, vendor: str) -> None:
        with self.lock:
            self.jobs_created[vendor] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": {vendor: dict(paths) for vendor, paths in self.requests.items()},
                "jobs_created": dict(self.jobs_created),
                "credits_spent": dict(self.credits_spent),
                "faults": dict(self.faults),
                "credits": dict(self.credits),
            }

    # -- randomness for faults -----------------------------------------------------------------
    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate

    def randint(self, low: int, high: int) -> int:
        with self.lock:
            return self.rng.randint(low, high)

    def job_should_fail(self) -> bool:
        return self.chance(self.config.fail_jobs)

    def new_spool(self) -> RowSpool:
        return RowSpool(self.spool_dir)


class JobClock:
    """
    Progress of a job that verifies ``total`` rows at the configured rows per second.

    :param state: the emulator state (read for ``rows_per_second``).
    :param total: rows to process.
    :param delay: seconds before processing starts (a vendor's queue or preparation time).
    """

    def __init__(self, state: EmulatorState, total: int, *, delay: float = 0.0) -> None:
        self.state = state
        self.total = total
        self.started = time.monotonic() + delay
        self._done_at: int | None = None

    def processed(self) -> int:
        if self._done_at is not None:
            return self._done_at
        elapsed = time.monotonic() - self.started
        if elapsed < 0:
            return 0
        rps = max(self.state.config.rows_per_second, 1.0)
        # Every job takes at least a moment, so a status check can see it running.
        return min(self.total, int(elapsed * rps))

    def started_yet(self) -> bool:
        return time.monotonic() >= self.started

    def finished(self) -> bool:
        return self.processed() >= self.total

    def finish_now(self) -> int:
        """Freeze progress where it is (a vendor's 'finish early' / cancel); returns rows processed."""
        self._done_at = self.processed()
        return self._done_at


#: spooled rows are read and decoded about this many bytes of lines at a time
BLOCK_BYTES = 64 * 1024


class RowSpool:
    """
    A job's submitted rows kept on disk as JSON lines, so memory does not grow with job size.

    Rows are lists (CSV-style input) or dicts; :meth:`__iter__` reads them back in order, and
    :meth:`line_blocks` their lines a block at a time (for whole downloads:
    :func:`~.downloads.decode_rows` decodes a block, or the lines of it a download keeps, in one call).
    """

    def __init__(self, directory: str) -> None:
        fd, self.path = tempfile.mkstemp(dir=directory, suffix=".jsonl")
        self._fh = os.fdopen(fd, "w", encoding="utf-8")
        self.count = 0

    def append(self, row: Any) -> None:
        self._fh.write(json.dumps(row, ensure_ascii=False))
        self._fh.write("\n")
        self.count += 1

    def extend(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self.append(row)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __iter__(self) -> Iterator[Any]:
        if not self._fh.closed:
            self._fh.flush()
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)

    def line_blocks(self) -> Iterator[list[bytes]]:
        """The rows' JSON lines in order, in blocks of about :data:`BLOCK_BYTES`."""
        if not self._fh.closed:
            self._fh.flush()
        with open(self.path, "rb") as fh:
            while lines := fh.readlines(BLOCK_BYTES):
                yield lines

    def discard(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class VerdictTally:
    """
    One byte per job row recording its outcome category and flags, with prefix counts.

    A job's rows stay on disk in a :class:`RowSpool`; this keeps just enough to answer "counts
    among the first N rows" (status endpoints with progress counters) in time independent of the
    job size: cumulative counts are kept every :attr:`BLOCK` rows.

    :param categories: up to four mutually exclusive outcome names.
    :param flags: up to six independent flag names.
    """

    BLOCK = 1024

    def __init__(self, categories: Sequence[str], flags: Sequence[str] = ()) -> None:
        if len(categories) > 4 or len(flags) > 6:
            raise ValueError("a tally holds at most 4 categories and 6 flags")
        self.names = tuple(categories) + tuple(flags)
        self._category_code = {name: code for code, name in enumerate(categories)}
        self._flag_bit = {name: 1 << (2 + bit) for bit, name in enumerate(flags)}
        self._flag_slot = {name: len(categories) + bit for bit, name in enumerate(flags)}
        self._ncat = len(categories)
        self._codes = bytearray()
        self._running = [0] * len(self.names)
        self._marks: list[tuple[int, ...]] = [tuple(self._running)]

    def __len__(self) -> int:
        return len(self._codes)

    def add(self, category: str, flags: Iterable[str] = ()) -> None:
        """Record the next row's outcome."""
        code = self._category_code[category]
        self._running[code] += 1
        for name in flags:
            code |= self._flag_bit[name]
            self._running[self._flag_slot[name]] += 1
        self._codes.append(code)
        if len(self._codes) % self.BLOCK == 0:
            self._marks.append(tuple(self._running))

    def counts(self, upto: int | None = None) -> dict[str, int]:
        """Counts per category and flag among the first ``upto`` rows (all rows by default)."""
        upto = len(self._codes) if upto is None else max(0, min(upto, len(self._codes)))
        block = upto // self.BLOCK
        totals = list(self._marks[block])
        flag_bits = list(self._flag_bit.values())
        for code in self._codes[block * self.BLOCK : upto]:
            totals[code & 3] += 1
            for index, bit in enumerate(flag_bits):
                if code & bit:
                    totals[self._ncat + index] += 1
        return dict(zip(self.names, totals))

    def category_at(self, index: int) -> str:
        """The category recorded for row ``index``."""
        return self.names[self._codes[index] & 3]


class JobStore:
    """
    A vendor's jobs by id, each owned by one API key (``job.api_key``).

    A job's ``spool`` attribute, when it has one, is discarded with the job.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Any] = {}

    def add(self, job_id: str, job: Any) -> None:
        with self._lock:
            self._jobs[job_id] = job

    def get(self, job_id: str | None, api_key: str | None = None) -> Any:
        """The job, or ``None`` when unknown or owned by another key."""
        with self._lock:
            job = self._jobs.get(job_id or "")
        if job is None or (api_key is not None and job.api_key != api_key):
            return None
        return job

    def pop(self, job_id: str) -> Any:
        """Remove a job and discard its rows; returns it (or ``None``)."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is not None and getattr(job, "spool", None) is not None:
            job.spool.discard()
        return job

    def jobs(self, api_key: str | None = None) -> list[Any]:
        with self._lock:
            return [job for job in self._jobs.values() if api_key is None or job.api_key == api_key]

    def clear(self) -> None:
        with self._lock:
            jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            if getattr(job, "spool", None) is not None:
                job.spool.discard()


class BackgroundTasks:
    """
    Fire-and-forget coroutines (callbacks, fetching and indexing rows) on the running event loop.

    Holds each task until it is done: the event loop itself keeps only weak references to tasks.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro`` as a task; outside an event loop it is closed unrun and ``None`` is returned."""
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


class VendorEmulator:
    """
    Base of a vendor module: its routes, its request counting, and the shape of its injected faults.

    Subclasses set :attr:`vendor` and :attr:`prefix` and implement :meth:`routes`, registering
    each handler with :meth:`endpoint` so requests are counted under the endpoint's path template.

    :param state: the shared emulator state.
    """

    vendor: str = ""
    prefix: str = ""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        state.on_reset(self.reset)

    def reset(self) -> None:
        """Forget this vendor's jobs (called by :meth:`EmulatorState.reset`)."""

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def option(self, name: str, default: Any) -> Any:
        """This vendor's switch ``name`` for an [ASSUMED] behaviour (see :meth:`EmulatorState.option`)."""
        return self.state.option(self.vendor, name, default)

    def stats_vendor(self, path: str) -> str:
        """Stats key for a request path below the prefix (NeverBounce splits off ``neverbounce_v3``)."""
        return self.vendor

    def endpoint(self, path: str, handler: Callable[..., Any], methods: list[str]) -> BaseRoute:
        """A route whose requests are counted as ``requests[vendor][path]``."""
        from starlette.routing import Route

        vendor = self.stats_vendor(path)

        async def counted(request: Request) -> Response:
            self.state.count_request(vendor, path)
            return await handler(request)

        return Route(path, counted, methods=methods)

    # -- injected faults, in the vendor's own shapes (override where the vendor differs) ----------
    def throttle_body(self, path: str) -> Any:
        """The JSON body of an injected 429 (the default is Bouncer's error envelope)."""
        return {"status": 429, "error": "Too Many Requests", "message": "too many requests"}

    def throttle_response(self, path: str) -> Response:
        """Injected rate limiting: HTTP 429 with :meth:`throttle_body` and ``Retry-After: 1``."""
        from starlette.responses import JSONResponse

        return JSONResponse(self.throttle_body(path), status_code=429, headers={"Retry-After": "1"})

    def error_response(self, path: str) -> Response:
        """Injected 5xx: a plain-text 503."""
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("503 Service Temporarily Unavailable", status_code=503)
