# Licensed under the Apache License, Version 2.0.
"""Wait in the triggerer for one or more vendor verification jobs to finish."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_emailverify.jobs import JobInfo, JobState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from airflow_provider_emailverify.hooks.base import EmailVerificationHook

#: Longest pause between two polls after errors, in seconds.
MAX_ERROR_BACKOFF = 300.0
#: Seconds ``on_kill`` gives each cancel call.
CANCEL_TIMEOUT = 20.0


def overall_state(infos: list[JobInfo]) -> JobState:
    """One state for several vendor jobs tracked as one unit (the worst one wins)."""
    states = {JobState(info.state) for info in infos}
    for state in (JobState.FAILED, JobState.CANCELLED, JobState.RUNNING):
        if state in states:
            return state
    if states == {JobState.COMPLETED}:
        return JobState.COMPLETED
    # Some done, some still queued: the unit as a whole is under way.
    return JobState.RUNNING if JobState.COMPLETED in states else JobState.QUEUED


def describe_failure(infos: list[JobInfo]) -> str:
    """Human text naming each job that ended failed or cancelled, with the vendor's reason."""
    parts = []
    for info in infos:
        if JobState(info.state) in (JobState.FAILED, JobState.CANCELLED):
            reason = info.message or info.vendor_status or "no reason given"
            parts.append(f"job {info.job_id} {JobState(info.state).value} ({reason})")
    return "; ".join(parts)


class EmailVerificationJobTrigger(BaseTrigger):
    """
    Poll vendor verification jobs from the triggerer until all of them finish.

    The kwargs are plain JSON (a connection id, job ids, numbers): the API key is read from the
    connection, asynchronously, when the trigger runs. One HTTP client serves the whole run.
    Transient vendor errors (5xx, 429, dropped connections) are ridden out with backoff, up to
    ``max_consecutive_errors`` polls in a row. Exactly one event is yielded:

    - ``{"status": "success", "job_ids", "jobs", "message"}``: every job completed;
    - ``{"status": "failed", ...}``: a job ended failed or cancelled (``message`` has the vendor's reason);
    - ``{"status": "timeout", ...}``: ``end_time`` passed first;
    - ``{"status": "error", ...}``: the vendor kept failing, or refused the request (bad key, unknown job).

    ``jobs`` holds each job's last :meth:`JobInfo.to_dict`.

    :param conn_id: the email verification connection.
    :param job_ids: vendor job ids to wait on.
    :param poll_interval: seconds between polls.
    :param end_time: epoch seconds after which a ``timeout`` event is sent.
    :param conn_type: the connection's type (picks the vendor hook); read from the connection when omitted.
    :param max_poll_interval: polls that see no progress space out by half each time up to this
        many seconds (default: four times ``poll_interval``); progress resets the pace.
    :param max_consecutive_errors: failed polls in a row tolerated before an ``error`` event.
    :param cancel_on_kill: cancel the jobs when a user kills the deferred task (Airflow 3.3+
        calls :meth:`on_kill` for that). The operator that submitted the jobs sets it; a sensor
        waiting on someone else's jobs does not.
    """

    def __init__(
        self,
        *,
        conn_id: str,
        job_ids: list[str],
        poll_interval: float,
        end_time: float,
        conn_type: str | None = None,
        max_poll_interval: float | None = None,
        max_consecutive_errors: int = 10,
        cancel_on_kill: bool = True,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.job_ids = [str(job_id) for job_id in job_ids]
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time)
        self.conn_type = conn_type
        self.max_poll_interval = max_poll_interval
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.cancel_on_kill = bool(cancel_on_kill)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "job_ids": list(self.job_ids),
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "conn_type": self.conn_type,
                "max_poll_interval": self.max_poll_interval,
                "max_consecutive_errors": self.max_consecutive_errors,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    async def _hook(self) -> EmailVerificationHook:
        from airflow_provider_emailverify.hooks.base import get_hook_class

        conn_type = self.conn_type
        if not conn_type:
            from airflow.providers.common.compat.connection import get_async_connection

            conn_type = (await get_async_connection(self.conn_id)).conn_type
        hook = get_hook_class(conn_type)(conn_id=self.conn_id)
        await hook.aget_client()  # reads the connection asynchronously, once
        return hook

    def _event(self, status: str, infos: dict[str, JobInfo], message: str) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "job_ids": list(self.job_ids),
                "jobs": [infos[job_id].to_dict() for job_id in self.job_ids if job_id in infos],
                "message": message,
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_emailverify.exceptions import ThrottledError, TransientError

        infos: dict[str, JobInfo] = {}
        try:
            hook = await self._hook()
            client = await hook.aget_client()
        except Exception as err:
            yield self._event("error", infos, f"cannot use connection {self.conn_id!r}: {err}")
            return

        ceiling = self.max_poll_interval or self.poll_interval * 4
        interval = self.poll_interval
        errors = 0
        last_seen: dict[str, tuple[str, int]] = {}
        async with client.async_client() as http:
            while True:
                changed = False
                try:
                    for job_id in self.job_ids:
                        if job_id in infos and infos[job_id].is_terminal:
                            continue
                        info = await hook.aget_job(job_id, http)
                        infos[job_id] = info
                        seen = (JobState(info.state).value, info.processed)
                        if last_seen.get(job_id) != seen:
                            changed = True
                            last_seen[job_id] = seen
                            self.log.info(
                                "%s job %s: %s (%s), %d/%s addresses, %.0f%%",
                                hook.vendor, job_id, seen[0], info.vendor_status,
                                info.processed, info.total if info.total is not None else "?",
                                100 * (info.progress or 0.0),
                            )
                    errors = 0
                except (TransientError, ThrottledError) as err:
                    errors += 1
                    if errors >= self.max_consecutive_errors:
                        yield self._event(
                            "error", infos, f"{errors} polls in a row failed, the last with: {err}"
                        )
                        return
                    pause = min(MAX_ERROR_BACKOFF, self.poll_interval * 2**errors)
                    pause = random.uniform(pause / 2, pause)
                    self.log.warning(
                        "Polling failed (%d/%d): %s; next poll in %.1fs",
                        errors, self.max_consecutive_errors, err, pause,
                    )
                    if time.time() + pause < self.end_time:
                        await asyncio.sleep(pause)
                        continue
                except Exception as err:
                    # Refused for good (bad key, unknown job, bad answer): waiting won't help.
                    yield self._event("error", infos, f"{type(err).__name__}: {err}")
                    return
                else:
                    if len(infos) == len(self.job_ids) and all(i.is_terminal for i in infos.values()):
                        listed = [infos[job_id] for job_id in self.job_ids]
                        if overall_state(listed) == JobState.COMPLETED:
                            yield self._event("success", infos, f"{len(listed)} job(s) completed")
                        else:
                            yield self._event("failed", infos, describe_failure(listed))
                        return

                now = time.time()
                if now >= self.end_time:
                    pending = [job_id for job_id in self.job_ids if not (job_id in infos and infos[job_id].is_terminal)]
                    yield self._event(
                        "timeout", infos, f"job(s) {', '.join(pending)} did not finish before the deadline"
                    )
                    return
                interval = self.poll_interval if changed else min(ceiling, interval * 1.5)
                await asyncio.sleep(max(0.0, min(interval, self.end_time - now)))

    async def on_kill(self) -> None:
        """Cancel the jobs when a user kills the deferred task (Airflow 3.3+; never on timeout or restart)."""
        if not self.cancel_on_kill:
            return
        hook = await self._hook()
        if hook.cancel_keeps_partial_results:
            # Cancelling would complete the jobs with partial results that a later try of the task
            # could not tell from complete ones (see the verification operator's on_kill).
            self.log.warning(
                "Deferred task killed: %s job(s) %s left running (a retry reattaches to them)",
                hook.vendor, ", ".join(self.job_ids),
            )
            return
        await cancel_jobs_async(hook, self.job_ids, log=self.log)


async def cancel_jobs_async(hook: EmailVerificationHook, job_ids: list[str], *, log: Any) -> None:
    """Cancel (or delete, where the vendor cannot cancel) each job; best effort, every outcome logged."""
    client = await hook.aget_client()
    http: httpx.AsyncClient
    async with client.async_client() as http:
        for job_id in job_ids:
            try:
                info = await asyncio.wait_for(hook.aget_job(job_id, http), CANCEL_TIMEOUT)
                if info.is_terminal:
                    log.info("%s job %s already %s; nothing to cancel", hook.vendor, job_id, info.state)
                    continue
                await asyncio.wait_for(hook.acancel_job(job_id, http), CANCEL_TIMEOUT)
                log.info("Cancelled %s job %s", hook.vendor, job_id)
            except Exception as err:
                log.warning("Could not cancel %s job %s: %s", hook.vendor, job_id, err)
