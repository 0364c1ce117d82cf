# Licensed under the Apache License, Version 2.0.
"""Submit an email list to the connection's verification vendor and (by default) wait for the verdicts."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowTaskTimeout,
    BaseOperator,
    conf,
)

try:
    from airflow.sdk.exceptions import TaskDeferralTimeout
except ImportError:  # Airflow 3.0
    from airflow.exceptions import TaskDeferralTimeout  # type: ignore[no-redef]

from airflow_provider_emailverify._utils import XCOM_JOB_IDS, XCOM_VENDOR, default_job_name
from airflow_provider_emailverify.jobs import JobInfo, JobState
from airflow_provider_emailverify.links import XCOM_JOB_URL, EmailVerificationJobLink
from airflow_provider_emailverify.results import STATUSES

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_emailverify.hooks.base import EmailVerificationHook

#: Task state store key holding ``{"vendor": ..., "jobs": {job name: job id}}`` across tries.
STATE_KEY = "emailverify_jobs"
#: Failed status polls in a row the worker tolerates (each already retried by the client).
MAX_CONSECUTIVE_POLL_ERRORS = 10


class _WaitTimedOut(Exception):
    """The operator's own ``timeout`` passed while polling from the worker."""


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class EmailVerificationOperator(BaseOperator):
    """
    Verify an email list with the vendor of ``conn_id`` and return the verdict counts.

    The connection's type picks the vendor (a vendor switch is a ``conn_id`` change). Records come
    from exactly one of ``emails``, ``source`` or ``sql`` and are streamed to the vendor; a list
    larger than the vendor's job size limit becomes several vendor jobs tracked as one unit.

    Each vendor job gets a name that is the same on every try of this task instance and different
    for every run, task and map index. A retried task reattaches to the jobs its earlier try
    created instead of paying for them again: it looks in the task state store (Airflow 3.3+),
    then asks the vendor for a job of that name where the vendor can search (NeverBounce). A job
    found failed, cancelled or deleted is submitted again, and so is one this task cancelled on
    timeout. Where the vendor cannot search (Bouncer, Bouncify, Email Verifier App), the task
    state store is the only memory: on Airflow before 3.3, or when a worker dies between the
    vendor accepting a job and the store recording it, the retry submits (and pays for) that job
    again.

    The job ids are pushed to XCom (key ``job_ids``) as soon as each job exists. The operator
    then checks the jobs once and, unless ``wait_for_completion`` is off, waits for them: in the
    triggerer when ``deferrable``, else polling from the worker. When ``timeout`` passes, on
    ``execution_timeout`` and when the task is killed, the unfinished remote jobs are cancelled
    (best effort, logged).

    The return value (XCom) is a summary::

        {"vendor": "neverbounce", "job_ids": ["123"], "state": "completed", "total": 1000,
         "counts": {"deliverable": 900, "risky": 40, "undeliverable": 50, "unknown": 10}}

    ``counts`` come from the vendor's job report where it gives one, else from streaming the results.

    .. seealso::
        :class:`~airflow_provider_emailverify.sensors.job.EmailVerificationJobSensor` to wait on
        jobs submitted elsewhere, and the transfers to load the results into S3 or a SQL table.

    :param conn_id: email verification connection (its type picks the vendor).
    :param emails: the addresses: a list of strings, or of dicts with an ``email`` key (extra
        keys are passed through where the vendor returns them).
    :param source: a file of addresses (CSV with a header, or one address per line).
    :param email_column: the column of ``source`` or ``sql`` holding the address.
    :param sql: a query whose rows are the addresses (with ``sql_conn_id``).
    :param sql_conn_id: the database connection of ``sql``.
    :param job_name: readable part of the vendor job name; a digest of the dag, run, task and map
        index is appended so that it stays unique per task instance (default: built from the ids).
    :param wait_for_completion: wait for the jobs to finish; when ``False`` return right after
        submitting, with the jobs' current state.
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param poll_interval: seconds (or timedelta) between status checks.
    :param timeout: longest wait for the jobs (seconds or timedelta), after which they are
        cancelled and the task fails.
    :param max_undeliverable_ratio: fail the task (without retries) when more than this share
        (0.0 - 1.0) of the verified addresses is undeliverable.
    :param max_job_size: split the list into vendor jobs of at most this many addresses
        (default, and upper bound: the vendor's own limit). Smaller jobs finish and fail separately.
    """

    template_fields: Sequence[str] = ("conn_id", "emails", "source", "email_column", "sql", "sql_conn_id", "job_name")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql", "emails": "json"}
    operator_extra_links = (EmailVerificationJobLink(),)
    ui_color = "#d7ecd9"

    def __init__(
        self,
        *,
        conn_id: str,
        emails: Iterable[str | dict[str, Any]] | str | None = None,
        source: str | None = None,
        email_column: str = "email",
        sql: str | None = None,
        sql_conn_id: str | None = None,
        job_name: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: timedelta | float = 60,
        timeout: timedelta | float = timedelta(days=7),
        max_undeliverable_ratio: float | None = None,
        max_job_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        given = [name for name, value in (("emails", emails), ("source", source), ("sql", sql)) if value is not None]
        if len(given) != 1:
            raise ValueError(f"pass exactly one of emails, source or sql (got {', '.join(given) or 'none'})")
        if max_undeliverable_ratio is not None and not 0 <= max_undeliverable_ratio <= 1:
            raise ValueError(f"max_undeliverable_ratio must be between 0 and 1, not {max_undeliverable_ratio}")
        self.conn_id = conn_id
        self.emails = emails
        self.source = source
        self.email_column = email_column
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.job_name = job_name
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = _seconds(poll_interval)
        self.timeout = _seconds(timeout)
        self.max_undeliverable_ratio = max_undeliverable_ratio
        if max_job_size is not None and max_job_size < 1:
            raise ValueError(f"max_job_size must be a positive number of addresses, not {max_job_size}")
        self.max_job_size = max_job_size
        self._job_ids: list[str] = []
        self._delivered: frozenset[str] = frozenset()
        self._settled = False
        self._logged: dict[str, tuple[str, int]] = {}

    @cached_property
    def hook(self) -> EmailVerificationHook:
        from airflow_provider_emailverify.hooks.base import hook_for_connection

        return hook_for_connection(self.conn_id)

    # -- execute -----------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook
        ti = context["ti"]
        ti.xcom_push(key=XCOM_VENDOR, value=hook.vendor)
        job_ids = self._submit_all(context, hook)
        if not job_ids:
            self.log.warning("The input holds no address: no %s job was created", hook.vendor)
            self._settled = True
            return self._report(self._summary(hook, [], [], dict.fromkeys(STATUSES, 0)))

        infos = [hook.get_job(job_id) for job_id in job_ids]
        self._log_states(hook, infos)
        if all(info.is_terminal for info in infos):
            return self._finish(context, hook, infos)
        if not self.wait_for_completion:
            self._settled = True
            self.log.info("Not waiting for completion: %s job(s) %s left running", hook.vendor, ", ".join(job_ids))
            self._mark_delivered(context, hook, job_ids)
            return self._summary(hook, job_ids, infos, self._reported_counts(infos))
        if self.deferrable:
            from airflow_provider_emailverify.triggers.job import EmailVerificationJobTrigger

            self.defer(
                trigger=EmailVerificationJobTrigger(
                    conn_id=self.conn_id,
                    conn_type=hook.conn_type,
                    job_ids=job_ids,
                    poll_interval=self.poll_interval,
                    end_time=time.time() + self.timeout,
                ),
                method_name="execute_complete",
                timeout=self.execution_timeout,
            )
        try:
            infos = self._wait(hook, job_ids)
        except AirflowTaskTimeout:
            # execution_timeout struck while polling: stop the jobs here, where the task state
            # store can still be updated (on_kill then has nothing left to do).
            self._stop(context, hook, job_ids, "execution_timeout")
            raise
        except _WaitTimedOut as err:
            raise self._timed_out(context, hook, job_ids, str(err)) from None
        return self._finish(context, hook, infos)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger's event: fail on timeout or error, else finish as :meth:`execute` does."""
        hook = self.hook
        self._job_ids = [str(job_id) for job_id in event.get("job_ids") or []]
        status = event.get("status")
        message = event.get("message") or ""
        if status == "timeout":
            raise self._timed_out(context, hook, self._job_ids, message)
        if status not in ("success", "failed"):
            raise AirflowException(f"Waiting for {hook.vendor} job(s) {', '.join(self._job_ids)} failed: {message}")
        return self._finish(context, hook, [JobInfo.from_dict(data) for data in event["jobs"]])

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Also cancel the jobs when ``execution_timeout`` ends the deferral."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except TaskDeferralTimeout:
            ti = context["ti"]
            job_ids = ti.xcom_pull(task_ids=ti.task_id, key=XCOM_JOB_IDS, map_indexes=ti.map_index)
            if job_ids:
                self._stop(context, self.hook, [str(job_id) for job_id in job_ids], "execution_timeout")
            raise

    def on_kill(self) -> None:
        """
        Cancel the unfinished remote jobs when the worker kills the task; never raises.

        Runs in a signal handler, so it only talks to the vendor: the task state store keeps the
        job ids, and a later try finds the cancelled jobs and submits anew. Where cancelling
        completes a job with what was verified so far (Bouncer's "finish"), nothing here could
        record that, and a later try would take the partial results for the whole list: such
        jobs are left running (a retry reattaches to them), and the log says how to stop them.
        """
        if not self._job_ids or self._settled:
            return
        self._settled = True
        hook = self.hook
        if hook.cancel_keeps_partial_results:
            self.log.warning(
                "Task killed: %s job(s) %s left running, since stopping them early would leave results a "
                "retry cannot tell from complete ones; a retry reattaches to them. To stop spending, finish "
                "them with %s(conn_id=%r).finish_job(job_id)",
                hook.vendor, ", ".join(self._job_ids), type(hook).__name__, self.conn_id,
            )
            return
        self.log.info("Task killed: cancelling %s job(s) %s", hook.vendor, ", ".join(self._job_ids))
        self._cancel(hook, self._job_ids)

    # -- submission and reattachment ----------------------------------------------------------------
    def _base_name(self, context: Context) -> str:
        ti = context["ti"]
        name = default_job_name(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index)
        if self.job_name:
            # Keep the user's words, but stay unique per task instance: a job of the same name is
            # reattached rather than submitted, so a fixed name would pick up last run's job.
            return f"{self.job_name}-{name.rsplit('-', 1)[-1]}"
        return name

    def _submit_all(self, context: Context, hook: EmailVerificationHook) -> list[str]:
        """Submit each part of the input (or reattach to it); job ids are published as they appear."""
        from airflow_provider_emailverify.sources import batched, iter_records

        ti = context["ti"]
        store = context.get("task_state_store")
        known = self._load_state(store, hook)
        base = self._base_name(context)
        # A first try cannot have created anything under this task instance's names yet.
        first_try = (getattr(ti, "try_number", None) or 1) <= 1
        records = iter_records(
            emails=self.emails, source=self.source, email_column=self.email_column,
            sql=self.sql, sql_conn_id=self.sql_conn_id,
        )
        job_ids = self._job_ids = []
        try:
            with records:
                size = min(hook.max_job_size, self.max_job_size or hook.max_job_size)
                for index, part in enumerate(batched(records, size)):
                    name = base if index == 0 else f"{base}-part{index + 1}"
                    job_id = self._reattach(hook, name, known.get(name), search=not first_try, skip=self._delivered)
                    if job_id is None:
                        job_id = self._submit(hook, part, name)
                        self.log.info("Submitted %s job %s (%s)", hook.vendor, job_id, name)
                        if left := sum(1 for _ in part):
                            raise AirflowException(f"{hook.vendor} client left {left} record(s) of job {job_id} unsent")
                    else:
                        for _ in part:  # skip this part's records (still read, so bad rows are reported)
                            pass
                    job_ids.append(job_id)
                    known[name] = job_id
                    self._save_state(store, hook, known)
                    ti.xcom_push(key=XCOM_JOB_IDS, value=list(job_ids))
                    if index == 0 and (url := hook.dashboard_url(job_id)):
                        ti.xcom_push(key=XCOM_JOB_URL, value=url)
        except ValueError:
            # Bad input part-way through: the jobs already created would only spend credits.
            if job_ids:
                self.log.error("Bad input after %d job(s) were created: cancelling them", len(job_ids))
                self._stop(context, hook, job_ids, "bad input")
            raise
        self.log.info("%s", records.summary())
        return job_ids

    def _submit(self, hook: EmailVerificationHook, records: Iterable[dict[str, Any]], name: str) -> str:
        from airflow_provider_emailverify.exceptions import JobCreationUncertainError

        try:
            return str(hook.submit_job(records, name=name))
        except JobCreationUncertainError as err:
            # The vendor may have the job and cannot find it by name: a task retry would submit
            # (and pay for) the list again, so this failure is final.
            raise AirflowFailException(f"{err}. The task is not retried, so the list is not paid for twice.") from err

    def _reattach(
        self,
        hook: EmailVerificationHook,
        name: str,
        remembered: str | None,
        *,
        search: bool = True,
        skip: Collection[str] = (),
    ) -> str | None:
        """
        The id of a live or completed job named ``name`` from an earlier try, else ``None``:
        the one the task state store remembers, else (where the vendor can search) the newest
        job of that name. Failed, cancelled and deleted jobs do not count, nor those in ``skip``
        (jobs whose results a successful try already delivered: the task was cleared to run again).
        """
        from airflow_provider_emailverify.exceptions import JobNotFoundError

        def candidates() -> Iterator[tuple[str, str]]:
            if remembered:
                yield "the task state store", remembered
            if search and hook.can_find_jobs and (found := hook.find_job(name)) and str(found) != remembered:
                yield f"a {hook.vendor} search by name", str(found)

        for origin, job_id in candidates():
            if job_id in skip:
                self.log.info(
                    "Job %s (from %s) delivered its results in an earlier successful run of this task: "
                    "verifying the input again", job_id, origin,
                )
                continue
            try:
                info = hook.get_job(job_id)
            except JobNotFoundError:
                self.log.info("Job %s (from %s) no longer exists", job_id, origin)
                continue
            if JobState(info.state) in (JobState.FAILED, JobState.CANCELLED):
                self.log.info("Job %s (from %s) ended %s: submitting again", job_id, origin, info.state)
                continue
            self.log.info(
                "Reattached to %s job %s (%s, from %s) instead of submitting it again",
                hook.vendor, job_id, JobState(info.state).value, origin,
            )
            return job_id
        return None

    def _load_state(self, store: Any, hook: EmailVerificationHook) -> dict[str, str]:
        """
        The job ids earlier tries recorded (job name -> id), in one read of the task state store;
        the jobs earlier successful runs delivered (see :meth:`_mark_delivered`) are added to
        ``self._delivered``, which :meth:`_save_state` writes back.
        """
        if store is None:
            if not hook.can_find_jobs:
                self.log.info(
                    "No task state store (Airflow < 3.3) and %s cannot search jobs: a retry submits anew", hook.vendor
                )
            return {}
        try:
            state = store.get(STATE_KEY) or {}
        except Exception as err:
            self.log.warning("Could not read the task state store: %s", err)
            return {}
        if not isinstance(state, dict) or state.get("vendor") != hook.vendor:
            return {}
        self._delivered = self._delivered | {str(job_id) for job_id in state.get("delivered") or ()}
        return {str(k): str(v) for k, v in (state.get("jobs") or {}).items()}

    def _mark_delivered(self, context: Context, hook: EmailVerificationHook, job_ids: list[str]) -> None:
        """
        Record that this run succeeded with ``job_ids``: a retry after a failure reattaches to its
        jobs, but a run after this one (the task was cleared) verifies the input again.
        """
        store = context.get("task_state_store")
        known = self._load_state(store, hook)
        self._delivered = self._delivered | set(job_ids)
        self._save_state(store, hook, known)

    def _save_state(self, store: Any, hook: EmailVerificationHook, known: dict[str, str]) -> None:
        if store is None:
            return
        try:
            store.set(STATE_KEY, {"vendor": hook.vendor, "jobs": dict(known), "delivered": sorted(self._delivered)})
        except Exception as err:  # the job exists either way; a retry may then submit it again
            self.log.warning("Could not record the job ids in the task state store: %s", err)

    # -- waiting --------------------------------------------------------------------------------------
    def _wait(self, hook: EmailVerificationHook, job_ids: list[str]) -> list[JobInfo]:
        """Poll from the worker until every job is terminal or ``timeout`` passes."""
        from airflow_provider_emailverify.exceptions import ThrottledError, TransientError

        deadline = time.monotonic() + self.timeout
        infos: dict[str, JobInfo] = {}
        errors = 0
        while True:
            time.sleep(max(0.0, min(self.poll_interval, deadline - time.monotonic())))
            try:
                for job_id in job_ids:
                    if job_id not in infos or not infos[job_id].is_terminal:
                        infos[job_id] = hook.get_job(job_id)
                errors = 0
                self._log_states(hook, list(infos.values()))
            except (TransientError, ThrottledError) as err:
                errors += 1
                if errors >= MAX_CONSECUTIVE_POLL_ERRORS:
                    raise
                self.log.warning("Status check failed (%d/%d): %s", errors, MAX_CONSECUTIVE_POLL_ERRORS, err)
            if len(infos) == len(job_ids) and all(info.is_terminal for info in infos.values()):
                return [infos[job_id] for job_id in job_ids]
            if time.monotonic() >= deadline:
                pending = [job_id for job_id in job_ids if not (job_id in infos and infos[job_id].is_terminal)]
                raise _WaitTimedOut(f"job(s) {', '.join(pending)} still running")

    def _timed_out(
        self, context: Context, hook: EmailVerificationHook, job_ids: list[str], message: str
    ) -> AirflowException:
        """Stop the jobs and build the error that fails the task (names what could not be stopped)."""
        cancelled, kept = self._stop(context, hook, job_ids, f"the timeout of {self.timeout:g}s")
        text = f"{hook.vendor} job(s) {', '.join(job_ids)} did not finish within the timeout of {self.timeout:g}s"
        text += f"; cancelled: {', '.join(cancelled) or 'none'}"
        if kept:
            text += "; could not cancel: " + "; ".join(f"{job_id} ({reason})" for job_id, reason in kept.items())
        if message:
            text += f" [{message}]"
        return AirflowException(text)

    def _stop(
        self, context: Context, hook: EmailVerificationHook, job_ids: list[str], why: str
    ) -> tuple[list[str], dict[str, str]]:
        """Cancel the jobs after ``why`` and forget the cancelled ones, so that a retry submits anew."""
        self._settled = True
        self.log.info("Cancelling %s job(s) %s after %s", hook.vendor, ", ".join(job_ids), why)
        cancelled, kept = self._cancel(hook, job_ids)
        if cancelled and (store := context.get("task_state_store")) is not None:
            known = {name: job_id for name, job_id in self._load_state(store, hook).items() if job_id not in cancelled}
            self._save_state(store, hook, known)
        return cancelled, kept

    def _cancel(self, hook: EmailVerificationHook, job_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """
        Cancel (or delete, or finish early: the vendor's nearest) each unfinished job; best
        effort, never raises. Returns the ids cancelled and, for the others, why not.
        """
        cancelled: list[str] = []
        kept: dict[str, str] = {}
        for job_id in job_ids:
            try:
                info = hook.get_job(job_id)
                if info.is_terminal:
                    self.log.info("%s job %s already %s; not cancelling it", hook.vendor, job_id, info.state)
                    kept[job_id] = f"already {JobState(info.state).value}"
                    continue
                hook.cancel_job(job_id)
                self.log.info("Cancelled %s job %s", hook.vendor, job_id)
                cancelled.append(job_id)
            except Exception as err:
                self.log.warning("Could not cancel %s job %s: %s", hook.vendor, job_id, err)
                kept[job_id] = str(err)
        return cancelled, kept

    # -- results ------------------------------------------------------------------------------------
    def _finish(self, context: Context, hook: EmailVerificationHook, infos: list[JobInfo]) -> dict[str, Any]:
        from airflow_provider_emailverify.triggers.job import describe_failure, overall_state

        self._settled = True
        self._log_states(hook, infos)
        if overall_state(infos) != JobState.COMPLETED:
            raise AirflowException(f"{hook.vendor} verification failed: {describe_failure(infos)}")
        counts = self._final_counts(hook, infos)
        summary = self._report(self._summary(hook, [i.job_id for i in infos], infos, counts))
        self._check_quality(summary)
        self._mark_delivered(context, hook, [i.job_id for i in infos])
        return summary

    def _reported_counts(self, infos: list[JobInfo]) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for info in infos:
            for status in STATUSES:
                counts[status] += int((info.counts or {}).get(status) or 0)
        return counts

    def _final_counts(self, hook: EmailVerificationHook, infos: list[JobInfo]) -> dict[str, int]:
        """Per neutral status: the vendor's job report where it has exact ones, else counted from the results."""
        counts = dict.fromkeys(STATUSES, 0)
        exact = hook.exact_job_counts
        for info in infos:
            reported = {k: v for k, v in (info.counts or {}).items() if k in counts} if exact else {}
            if reported:
                for status, value in reported.items():
                    counts[status] += int(value or 0)
                continue
            self.log.info("Counting the results of %s job %s", hook.vendor, info.job_id)
            for row in hook.iter_results(info.job_id):
                status = str(row.status)
                counts[status if status in counts else "unknown"] += 1
        return counts

    def _summary(
        self, hook: EmailVerificationHook, job_ids: list[str], infos: list[JobInfo], counts: dict[str, int]
    ) -> dict[str, Any]:
        from airflow_provider_emailverify.triggers.job import overall_state

        totals = [info.total for info in infos]
        if infos and all(total is not None for total in totals):
            total: int | None = sum(totals)  # type: ignore[arg-type]
        elif not infos:
            total = 0
        else:
            total = sum(counts.values()) or None
        return {
            "vendor": hook.vendor,
            "job_ids": list(job_ids),
            "state": overall_state(infos).value if infos else JobState.COMPLETED.value,
            "total": total,
            "counts": {status: counts.get(status, 0) for status in STATUSES},
        }

    def _report(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Log the summary table (the last thing the task logs on success)."""
        counts = summary["counts"]
        verified = sum(counts.values())
        lines = [f"{'status':<14}{'count':>12}{'share':>9}"]
        for status in STATUSES:
            share = f"{100 * counts[status] / verified:.1f}%" if verified else "-"
            lines.append(f"{status:<14}{counts[status]:>12,}{share:>9}")
        lines.append(f"{'total':<14}{verified:>12,}{'100.0%' if verified else '-':>9}")
        self.log.info(
            "%s verification %s, job(s) %s:\n%s",
            summary["vendor"], summary["state"], ", ".join(summary["job_ids"]) or "none", "\n".join(lines),
        )
        return summary

    def _check_quality(self, summary: dict[str, Any]) -> None:
        if self.max_undeliverable_ratio is None:
            return
        counts = summary["counts"]
        verified = sum(counts.values())
        if not verified:
            return
        ratio = counts["undeliverable"] / verified
        if ratio > self.max_undeliverable_ratio:
            raise AirflowFailException(
                f"{counts['undeliverable']:,} of {verified:,} addresses ({ratio:.1%}) are undeliverable, "
                f"above max_undeliverable_ratio={self.max_undeliverable_ratio:g} "
                f"({self.max_undeliverable_ratio:.1%}); {summary['vendor']} job(s) {', '.join(summary['job_ids'])}"
            )

    def _log_states(self, hook: EmailVerificationHook, infos: list[JobInfo]) -> None:
        """Log each job whose state or progress changed since it was last logged."""
        for info in infos:
            seen = (JobState(info.state).value, info.processed)
            if self._logged.get(info.job_id) == seen:
                continue
            self._logged[info.job_id] = seen
            self.log.info(
                "%s job %s: %s (%s), %d/%s addresses, %.0f%%",
                hook.vendor, info.job_id, JobState(info.state).value, info.vendor_status,
                info.processed, info.total if info.total is not None else "?", 100 * (info.progress or 0.0),
            )
