# Licensed under the Apache License, Version 2.0.
"""
Shared machinery of the emulator: deterministic verdicts, accounts and credits, statistics,
fault configuration, job progress clocks and on-disk row spools.

Nothing here knows a vendor's wire format; each vendor module (``neverbounce``, ``bouncer``,
``bouncify``, ``emailverifierapp``) subclasses :class:`VendorEmulator` and renders these facts in
its own dialect. This package imports nothing from the rest of the provider.
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
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
    from typing import BinaryIO

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

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


class RowSpool:
    """
    A job's submitted rows kept on disk as JSON lines, so memory does not grow with job size.

    Rows are lists (CSV-style input) or dicts; :meth:`__iter__` reads them back in order.
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

    def discard(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


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
    def throttle_response(self, path: str) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse(
            {"status": 429, "error": "Too Many Requests", "message": "too many requests"},
            status_code=429,
            headers={"Retry-After": "1"},
        )

    def error_response(self, path: str) -> Response:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("503 Service Temporarily Unavailable", status_code=503)


# -- helpers shared by the vendor modules ------------------------------------------------------------

_TRAP_PREFIXES = ("spamtrap", "trap")
_JSON_BLANK = re.compile(r"[ \t\n\r]*")
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})


def is_spamtrap(verdict: Verdict) -> bool:
    """
    The spam-trap flag (Bouncify ``spamtrap``, Email Verifier App ``bad_address``).

    Not part of the verdict rules; a local part starting ``trap`` or ``spamtrap`` raises the flag
    only, so every vendor still agrees on the address's status.
    """
    return verdict.local.lower().startswith(_TRAP_PREFIXES)


def iso_millis(timestamp: float) -> str:
    """A wall-clock time as ISO-8601 UTC with milliseconds: ``2023-03-26T18:08:15.033Z``."""
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def as_bool(value: Any, default: bool = False) -> bool:
    """
    A boolean parameter as vendors send it: JSON ``true``, ``"true"``, ``"True"``, ``1``, ``"yes"``.

    :raises ValueError: on anything else.
    """
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean: {value!r}")


class UploadLimitError(Exception):
    """
    An upload is over a vendor's limit.

    :param what: ``rows`` or ``bytes``.
    :param limit: the limit that was passed.
    """

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"upload has more than {limit} {what}")
        self.what = what
        self.limit = limit


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


class JsonArrayStream:
    """
    The items of a JSON array, parsed incrementally from a request body's chunks.

    The body is the array itself or, with ``key``, an object one of whose members is the array
    (the object's other members end up in :attr:`members` once iteration is over). Memory holds
    one chunk and one item at a time, whatever the body's size.

    :param chunks: the body, e.g. ``request.stream()``.
    :param key: member of a top-level object holding the array.
    :param max_bytes: raise :class:`UploadLimitError` once the body is larger.
    :raises ValueError: on malformed JSON (during iteration).
    """

    def __init__(self, chunks: AsyncIterator[bytes], *, key: str | None = None, max_bytes: int | None = None) -> None:
        import codecs

        self._chunks = chunks
        self._text = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.key = key
        self.max_bytes = max_bytes
        self.bytes_read = 0
        self.members: dict[str, Any] = {}
        #: whether the array was present (always true without ``key`` once iteration starts)
        self.found = key is None

    async def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._eof = True
            self._buf += self._text.decode(b"", final=True)
            return False
        self.bytes_read += len(chunk)
        if self.max_bytes is not None and self.bytes_read > self.max_bytes:
            raise UploadLimitError("bytes", self.max_bytes)
        if self._pos > 65536:
            self._buf, self._pos = self._buf[self._pos :], 0
        self._buf += self._text.decode(chunk)
        return True

    async def _peek(self) -> str:
        while True:
            self._pos = _JSON_BLANK.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not await self._fill():
                return ""

    async def _expect(self, chars: str) -> str:
        char = await self._peek()
        if not char or char not in chars:
            raise ValueError(f"malformed JSON body: expected one of {chars!r}")
        self._pos += 1
        return char

    async def _value(self) -> Any:
        await self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError:
                if not await self._fill():
                    raise ValueError("malformed JSON body") from None
                continue
            # A number may go on in the next chunk: ``1`` of ``1.5``, ``1.5`` of ``1.5e3``.
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number and (end >= len(self._buf) or self._buf[end] in _NUMBER_CHARS) and await self._fill():
                continue
            self._pos = end
            return value

    async def _array(self) -> AsyncIterator[Any]:
        await self._expect("[")
        if await self._peek() == "]":
            self._pos += 1
            return
        while True:
            yield await self._value()
            if await self._expect(",]") == "]":
                return

    async def __aiter__(self) -> AsyncIterator[Any]:
        if self.key is None:
            async for item in self._array():
                yield item
        else:
            await self._expect("{")
            if await self._peek() == "}":
                self._pos += 1
            else:
                while True:
                    name = await self._value()
                    if not isinstance(name, str):
                        raise ValueError("malformed JSON body: object key is not a string")
                    await self._expect(":")
                    if name == self.key and await self._peek() == "[":
                        self.found = True
                        async for item in self._array():
                            yield item
                    else:
                        self.members[name] = await self._value()
                    if await self._expect(",}") == "}":
                        break
        if await self._peek():
            raise ValueError("malformed JSON body: data after the end")

    async def drain(self) -> None:
        """Read and drop the rest of the body, so an early error answer keeps the connection sane."""
        await drain(self._chunks)


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Consume what is left of a request body."""
    try:
        async for _ in chunks:
            pass
    except (RuntimeError, StopAsyncIteration):  # already consumed
        pass


async def iter_body_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines of a text body (``\\n`` or ``\\r\\n`` separated), decoded as UTF-8, read chunk by chunk."""
    import codecs

    text = codecs.getincrementaldecoder("utf-8-sig")("replace")
    pending = ""
    async for chunk in chunks:
        pending += text.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line.rstrip("\r")
    pending += text.decode(b"", final=True)
    if pending:
        yield pending.rstrip("\r")


@dataclass
class CsvUpload:
    """What :func:`ingest_csv` learnt about an uploaded list."""

    #: the file's header row, ``None`` for a header-less file
    header: list[str] | None
    #: index of the address column
    email_index: int
    #: cells in the first row
    width: int
    #: data rows spooled
    rows: int


def _email_column(header: Sequence[str]) -> int:
    names = [cell.strip().lower() for cell in header]
    for index, name in enumerate(names):
        if name in ("email", "e-mail", "email address", "email_address"):
            return index
    return next((index for index, name in enumerate(names) if "email" in name), 0)


def _csv_records(fh: BinaryIO) -> Iterator[list[str]]:
    """Non-blank CSV rows of an uploaded file, from its start."""
    import csv
    import io

    fh.seek(0)
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
    try:
        for cells in csv.reader(text):
            if cells and (cells[0].strip() or any(cell.strip() for cell in cells)):
                yield cells
    except csv.Error as err:
        raise ValueError(f"unreadable CSV: {err}") from None
    finally:
        text.detach()


def _line_count(fh: BinaryIO) -> int:
    """Lines in a file (an upper bound of its CSV records), counted without parsing."""
    fh.seek(0)
    lines, last = 0, b"\n"
    while chunk := fh.read(1024 * 1024):
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    return lines + (last != b"\n")


def _is_header(cells: Sequence[str]) -> bool:
    return not any("@" in cell for cell in cells)


def ingest_csv(
    fh: BinaryIO,
    spool: RowSpool,
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    on_email: Callable[[str], None] | None = None,
) -> CsvUpload:
    """
    Copy an uploaded CSV or one-address-a-line TXT file into ``spool``, one list of cells a row.

    Reads the (already spooled) upload as a stream; blank lines are skipped. A first row none of
    whose cells contains ``@`` is a header, and the address column is the one named ``email``
    (else containing ``email``, else the first); in a header-less file it is the first cell of
    the first row holding an ``@``. ``on_email`` sees each row's address as it is spooled (to
    tally verdicts in the same pass). An oversized file is refused after a quick counting pass,
    before any row is spooled. Run it in a worker thread: it blocks.

    :raises UploadLimitError: past ``max_rows`` data rows or ``max_bytes`` bytes.
    :raises ValueError: when the file is not readable CSV.
    """
    if max_bytes is not None:
        fh.seek(0, os.SEEK_END)
        if fh.tell() > max_bytes:
            raise UploadLimitError("bytes", max_bytes)
    if max_rows is not None and _line_count(fh) > max_rows:
        count, header_rows = 0, 0
        for cells in _csv_records(fh):
            if not count:
                header_rows = int(_is_header(cells))
            count += 1
        if count - header_rows > max_rows:
            raise UploadLimitError("rows", max_rows)
    header: list[str] | None = None
    email_index = width = rows = 0
    for cells in _csv_records(fh):
        if not width:
            width = len(cells)
            if _is_header(cells):
                header = cells
                email_index = _email_column(cells)
                continue
            email_index = next((index for index, cell in enumerate(cells) if "@" in cell), 0)
        rows += 1
        spool.append(cells)
        if on_email is not None:
            on_email(cells[email_index] if email_index < len(cells) else "")
    return CsvUpload(header, email_index, width, rows)


def csv_chunks(
    rows: Iterable[Sequence[Any]],
    *,
    header: Sequence[str] | None = None,
    quote_all: bool = False,
    line_end: str = "\r\n",
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """CSV (RFC 4180 quoting) for a :class:`~starlette.responses.StreamingResponse`, in chunks."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator=line_end)
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buf.tell() >= chunk_size:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def json_array_chunks(items: Iterable[Any], *, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON array of ``items`` for a :class:`~starlette.responses.StreamingResponse`, in chunks."""
    parts = ["["]
    size = 1
    for index, item in enumerate(items):
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        if index:
            parts.append(",")
        parts.append(text)
        size += len(text) + 1
        if size >= chunk_size:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    parts.append("]")
    yield "".join(parts).encode("utf-8")
