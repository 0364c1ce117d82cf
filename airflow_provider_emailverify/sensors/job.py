# Licensed under the Apache License, Version 2.0.
"""Wait for existing email verification jobs to finish."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_emailverify._utils import parse_job_ids
from airflow_provider_emailverify.jobs import JobInfo, JobState
from airflow_provider_emailverify.links import XCOM_JOB_URL, EmailVerificationJobLink

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_emailverify.hooks.base import EmailVerificationHook


class EmailVerificationJobSensor(BaseSensorOperator):
    """
    Wait until one or more verification jobs of the connection's vendor have finished.

    Succeeds when every job completed, fails (without retries) as soon as one ended failed or
    cancelled, with the vendor's reason. Works in ``poke`` and ``reschedule`` mode and, with
    ``deferrable``, in the triggerer (sharing the operator's trigger). A status check that fails
    for a transient reason (5xx, 429, dropped connection) counts as "not yet".

    The sensor only watches: it never cancels the jobs, also not when it times out or is killed.

    Returns (XCom) ``{"vendor", "job_ids", "state", "total"}``, which the transfers accept as ``job_ids``.

    :param conn_id: email verification connection (its type picks the vendor).
    :param job_ids: job id(s): a list, or a JSON/Python string of one, or the operator's summary
        dict (what ``{{ ti.xcom_pull(task_ids='verify')['job_ids'] }}`` renders); a mapped
        task's list of lists or of summaries is flattened. An empty list (the operator's input
        held no address) succeeds at once with ``total`` 0, so an empty day does not fail the run.
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param poke_interval: seconds between checks (also the trigger's poll interval).
    :param timeout: longest wait in seconds.
    :param mode: ``poke`` or ``reschedule`` (ignored when deferrable).
    """

    template_fields: Sequence[str] = ("conn_id", "job_ids")
    operator_extra_links = (EmailVerificationJobLink(),)
    ui_color = "#d7ecd9"

    def __init__(
        self,
        *,
        conn_id: str,
        job_ids: list[str] | str,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.job_ids = job_ids
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> EmailVerificationHook:
        from airflow_provider_emailverify.hooks.base import hook_for_connection

        return hook_for_connection(self.conn_id)

    @property
    def _ids(self) -> list[str]:
        return parse_job_ids(self.job_ids, allow_empty=True)

    def execute(self, context: Context) -> Any:
        if not self._ids:
            # The verification operator's input held no address: nothing to wait on.
            self.log.info("No %s verification jobs to wait on (job_ids is an empty list)", self.hook.vendor)
            return {"vendor": self.hook.vendor, "job_ids": [], "state": JobState.COMPLETED.value, "total": 0}
        if (url := self.hook.dashboard_url(self._ids[0])) is not None:
            context["ti"].xcom_push(key=XCOM_JOB_URL, value=url)
        if not self.deferrable:
            return super().execute(context)
        try:
            done = self.poke(context)
        except AirflowFailException as err:
            if self.soft_fail or self.never_fail:
                raise AirflowSkipException(f"Skipping ({'soft_fail' if self.soft_fail else 'never_fail'}): {err}") from err
            raise
        if done:
            return done.xcom_value if isinstance(done, PokeReturnValue) else None
        from airflow_provider_emailverify.triggers.job import EmailVerificationJobTrigger

        self.defer(
            trigger=EmailVerificationJobTrigger(
                conn_id=self.conn_id,
                conn_type=self.hook.conn_type,
                job_ids=self._ids,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                cancel_on_kill=False,
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_emailverify.exceptions import ThrottledError, TransientError

        hook = self.hook
        try:
            infos = [hook.get_job(job_id) for job_id in self._ids]
        except (TransientError, ThrottledError) as err:
            self.log.warning("Status check failed, trying again at the next poke: %s", err)
            return False
        for info in infos:
            self.log.info(
                "%s job %s: %s (%s), %d/%s addresses",
                hook.vendor, info.job_id, JobState(info.state).value, info.vendor_status,
                info.processed, info.total if info.total is not None else "?",
            )
        return self._verdict(infos)

    def _verdict(self, infos: list[JobInfo]) -> bool | PokeReturnValue:
        from airflow_provider_emailverify.triggers.job import describe_failure, overall_state

        state = overall_state(infos)
        if state in (JobState.FAILED, JobState.CANCELLED):
            raise AirflowFailException(f"{self.hook.vendor} verification failed: {describe_failure(infos)}")
        if state != JobState.COMPLETED:
            return False
        totals = [info.total for info in infos]
        return PokeReturnValue(
            is_done=True,
            xcom_value={
                "vendor": self.hook.vendor,
                "job_ids": [info.job_id for info in infos],
                "state": state.value,
                "total": sum(totals) if all(t is not None for t in totals) else None,  # type: ignore[misc]
            },
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger's event."""
        status = event.get("status")
        message = event.get("message") or ""
        if status == "timeout":
            raise AirflowSensorTimeout(f"Sensor timed out after {self.timeout:g}s: {message}")
        if status not in ("success", "failed"):
            raise AirflowException(f"Waiting for {self.hook.vendor} job(s) {', '.join(self._ids)} failed: {message}")
        done = self._verdict([JobInfo.from_dict(data) for data in event["jobs"]])
        return done.xcom_value if isinstance(done, PokeReturnValue) else None
