# Licensed under the Apache License, Version 2.0.
"""
The NeverBounce job lifecycle (spec §6), shared by the v4 and v3 APIs of one account.

``uploading`` (remote files) -> ``unparsed`` -> ``parsing`` -> ``waiting`` -> ``queued`` ->
``running`` (sample -> ``waiting_analyzed``; full, possibly via ``under_review``) -> ``complete``;
``failed`` from uploading, parsing or an auto-start without credits. At most
``max_concurrent_jobs`` jobs of an account run at once; the others stay ``queued``.

Transitions happen on the server's event loop: in request handlers (which first bring every job
up to date), in the background tasks that fetch and index rows, and in a ticker that runs while
jobs are queued or running, so callbacks fire on time even when nobody polls.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import BackgroundTasks, JobClock, JobStore
from airflow_provider_emailverify.emulator.neverbounce_data import (
    insufficient_credits_message,
)
from airflow_provider_emailverify.emulator.neverbounce_jobs import (
    FetchError,
    Job,
    fetch_remote,
    loopback_url,
    parse_spool,
)

if TYPE_CHECKING:
    from airflow_provider_emailverify.emulator.core import EmulatorState, RowSpool
    from airflow_provider_emailverify.emulator.neverbounce_jobs import ParseSummary

log = logging.getLogger(__name__)

ACTIVE = frozenset({"queued", "running", "under_review"})
DELETABLE = frozenset({"unparsed", "waiting", "waiting_analyzed", "queued", "complete", "failed"})
_TICK = 0.05


class InsufficientCredits(Exception):
    def __init__(self, needed: int, balance: int) -> None:
        super().__init__(insufficient_credits_message(needed, balance))
        self.message = str(self)


class JobBook:
    """
    All NeverBounce jobs of the emulator, and what moves them along.

    :param state: the shared emulator state (credits, config, switches).
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.store = JobStore()
        self.lock = threading.RLock()
        self._ids = itertools.count(150_970)
        self._seq = itertools.count()
        self.tasks = BackgroundTasks()
        self._ticker: asyncio.Task[Any] | None = None
        #: credits spent through NeverBounce per key (``paid_credits_used``)
        self.used: dict[str, int] = defaultdict(int)

    def option(self, name: str, default: Any) -> Any:
        return self.state.option("neverbounce", name, default)

    def reset(self) -> None:
        with self.lock:
            self.store.clear()
            self.used.clear()

    # -- bookkeeping ------------------------------------------------------------------------------
    def create(self, *, api_key: str, api: str, version: str, spool: RowSpool, **fields: Any) -> Job:
        """Register a new job (counted in the stats as ``neverbounce`` or ``neverbounce_v3``)."""
        job = Job(id=next(self._ids), api_key=api_key, api=api, version=version, spool=spool, **fields)
        self.store.add(str(job.id), job)
        self.state.count_job("neverbounce_v3" if api == "v3" else "neverbounce")
        return job

    def get(self, api_key: str, job_id: int) -> Job | None:
        return self.store.get(str(job_id), api_key)

    def jobs(self, api_key: str) -> list[Job]:
        """The account's jobs, newest first."""
        return sorted(self.store.jobs(api_key), key=lambda job: job.id, reverse=True)

    def alive(self, job: Job) -> bool:
        return self.store.get(str(job.id)) is job

    def delete(self, job: Job) -> bool:
        """Delete a job unless it is uploading, parsing or running; ``False`` when refused."""
        with self.lock:
            if job.phase not in DELETABLE:
                return False
            if job.phase == "queued" and job.credits_charged:
                self.state.refund(job.api_key, job.credits_charged)
                self.used[job.api_key] -= job.credits_charged
            self.store.pop(str(job.id))
            self._emit(job, "job_deleted")
            return True

    # -- background work ----------------------------------------------------------------------------
    def upload(self, job: Job, url: str) -> None:
        """Fetch a remote file into the job (``uploading``), then parse it if that was asked for."""
        job.phase = "uploading"
        self.tasks.spawn(self._upload(job, url))

    async def _upload(self, job: Job, url: str) -> None:
        try:
            header, email_col, size = await fetch_remote(url, job.spool, self.state.spool_dir)
        except FetchError as err:
            with self.lock:
                if self.alive(job):
                    self.fail(job, str(err))
            return
        with self.lock:
            if not self.alive(job):
                return
            job.header, job.email_col, job.size = header, email_col, size
            job.phase = "unparsed"
            if job.parse_requested:
                self.parse(job)

    def parse(self, job: Job, auto_start: bool | None = None) -> None:
        """Start indexing (``parsing``); a job still uploading is parsed once its file is in."""
        if auto_start is not None:
            job.auto_start = auto_start
        job.parse_requested = True
        if job.phase != "unparsed":
            return
        job.phase = "parsing"
        job.parse_started = time.time()
        self._emit(job, "job_parsing_started")
        self.tasks.spawn(self._parse(job))

    async def _parse(self, job: Job) -> None:
        began = time.monotonic()
        try:
            summary = await asyncio.to_thread(
                parse_spool,
                job.spool.path,
                job.email_col,
                self.state.spool_dir,
                bill_duplicates=bool(self.option("bill_duplicates", False)),
            )
        except OSError:  # the job was deleted or the emulator reset meanwhile
            log.debug("indexing of job %s stopped", job.id)
            return
        speed = max(self.state.config.rows_per_second, 1.0) * float(self.option("parse_speedup", 10))
        remaining = began + summary.records / speed - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)
        with self.lock:
            if self.alive(job):
                self._parsed(job, summary)

    def _parsed(self, job: Job, summary: ParseSummary) -> None:
        job.summary = summary
        job.parse_finished = time.time()
        if summary.records == 0:
            self.fail(job, "The list does not contain any records")
            return
        if self.state.job_should_fail():
            self.fail(job, "Unable to parse the list: malformed CSV data (fail_jobs)")
            return
        job.phase = "waiting"
        self._emit(job, "job_parsing_finished")
        if job.run_sample:
            self.start(job, sample=True)
        elif job.auto_start:
            try:
                self.start(job, sample=False)
            except InsufficientCredits as err:
                self.fail(job, err.message)

    # -- runs -----------------------------------------------------------------------------------------
    def start(self, job: Job, *, sample: bool) -> None:
        """
        Queue a sample (free) or full run (credits = billable rows) of a parsed job.

        :raises InsufficientCredits: when the account cannot pay for a full run.
        """
        assert job.summary is not None
        with self.lock:
            if not sample:
                cost = job.summary.billable
                if not self.state.spend(job.api_key, cost):
                    raise InsufficientCredits(cost, self.state.balance(job.api_key))
                self.used[job.api_key] += cost
                job.credits_charged = cost
            job.run_kind = "sample" if sample else "full"
            job.phase = "queued"
            job.queued_seq = next(self._seq)
            self._schedule(job.api_key)
        self.ensure_ticker()

    def fail(self, job: Job, reason: str) -> None:
        job.phase = "failed"
        job.failure_reason = reason
        job.finished = time.time()
        self._emit(job, "job_failed")

    def _needs_review(self, job: Job) -> bool:
        if job.reviewed or job.run_kind != "full" or job.summary is None:
            return False
        if job.version == "v4.2" and not job.allow_manual_review:
            return False
        counts = job.summary.counts()
        ratio = counts["invalid"] / max(job.summary.records, 1)
        return ratio > float(self.option("manual_review_threshold", 0.5))

    def _begin(self, job: Job) -> bool:
        """Move a queued job on: into review, or running. ``True`` when it now occupies a slot."""
        assert job.summary is not None
        if self._needs_review(job):
            job.phase = "under_review"
            job.review_until = time.monotonic() + float(self.option("manual_review_seconds", 1.0))
            return False
        job.phase = "running"
        now = time.time()
        if job.run_kind == "sample":
            fraction = float(self.option("sample_fraction", 0.1))
            job.sample_size = max(1, min(job.summary.records, round(job.summary.records * fraction)))
            job.sample_started = now
            job.clock = JobClock(self.state, job.sample_size)
            self._emit(job, "job_sample_started")
        else:
            job.run_started = now
            job.clock = JobClock(self.state, job.summary.records)
            self._emit(job, "job_run_started")
        job.last_stats_event = time.monotonic()
        return True

    def _schedule(self, api_key: str) -> None:
        limit = int(self.option("max_concurrent_jobs", 10))
        jobs = self.store.jobs(api_key)
        running = sum(1 for job in jobs if job.phase == "running")
        for job in sorted((job for job in jobs if job.phase == "queued"), key=lambda job: job.queued_seq):
            if running >= limit:
                break
            if self._begin(job):
                running += 1

    def _finish_run(self, job: Job) -> None:
        assert job.summary is not None
        if job.run_kind == "sample":
            job.phase = "waiting_analyzed"
            job.sample_finished = time.time()
            invalid = job.summary.counts(job.sample_size)["invalid"]
            job.bounce_estimate = round(invalid / max(job.sample_size, 1), 4)
            self._emit(job, "job_sample_finished")
        else:
            job.phase = "complete"
            job.finished = time.time()
            job.bounce_estimate = max(job.bounce_estimate, 0)
            self._emit(job, "job_run_finished")

    def advance(self) -> bool:
        """Bring every job up to date; ``True`` while some job is queued, in review or running."""
        with self.lock:
            now = time.monotonic()
            keys = set()
            for job in self.store.jobs():
                if job.phase == "under_review" and now >= job.review_until:
                    job.reviewed = True
                    job.phase = "queued"
                    self._emit(job, "job_review_completed")
                elif job.phase == "running" and job.clock is not None:
                    if job.clock.finished():
                        self._finish_run(job)
                    elif job.callback_url and now - job.last_stats_event >= 1.0:
                        job.last_stats_event = now
                        self._emit(job, "job_stats_updated")
                if job.phase in ACTIVE:
                    keys.add(job.api_key)
            for key in keys:
                self._schedule(key)
            return bool(keys)

    def ensure_ticker(self) -> None:
        """Keep jobs moving (and callbacks firing) between requests while any job is active."""
        if self._ticker is not None and not self._ticker.done():
            return
        if any(job.phase in ACTIVE for job in self.store.jobs()):
            self._ticker = self.tasks.spawn(self._tick())

    async def _tick(self) -> None:
        while self.advance():
            await asyncio.sleep(_TICK)

    # -- callbacks (v4.2) ---------------------------------------------------------------------------
    def _emit(self, job: Job, event: str) -> None:
        job.touched = time.time()
        if job.callback_url:
            body = {"job_id": job.id, "event": event}
            previous = job.callback_task
            job.callback_task = self.tasks.spawn(
                self._post_callback(previous, job.callback_url, dict(job.callback_headers), body)
            )

    async def _post_callback(
        self, previous: asyncio.Task[Any] | None, url: str, headers: dict[str, str], body: dict[str, Any]
    ) -> None:
        """POST one event, after the job's previous event (events of a job arrive in order)."""
        import httpx

        if previous is not None:
            await asyncio.wait([previous])
        if not loopback_url(url):
            log.info("callback %s not sent: the emulator only calls loopback hosts", body["event"])
            return
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as err:
            log.info("callback %s failed: %s", body["event"], type(err).__name__)
