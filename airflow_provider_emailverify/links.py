# Licensed under the Apache License, Version 2.0.
"""Operator extra link to the vendor's dashboard page of a verification job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, TaskInstanceKey

#: XCom key under which tasks push the dashboard URL of their (first) job.
XCOM_JOB_URL = "job_url"


class EmailVerificationJobLink(BaseOperatorLink):
    """
    "Verification Job" button: the vendor dashboard page of the task's job.

    The task works the URL out when it submits or attaches to a job (from the connection's vendor,
    see :meth:`EmailVerificationHook.dashboard_url`) and pushes it to XCom under
    :data:`XCOM_JOB_URL`; the link only reads it back, so the UI never needs the connection.
    When a list was split into several jobs, the link opens the first one.
    """

    name = "Verification Job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return XCom.get_value(key=XCOM_JOB_URL, ti_key=ti_key) or ""
