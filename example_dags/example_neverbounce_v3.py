# Licensed under the Apache License, Version 2.0.
"""
### Verify a CSV file with NeverBounce API v3 (deprecated)

For accounts still on NeverBounce's v3 API (OAuth tokens from an API username and secret).
Reads ``data/contacts.csv`` (a header row; the ``email`` column is the address, the other
columns pass through), waits for the job by polling from the worker (``deferrable=False``),
then checks the verdict counts.

**Connection** ``neverbounce_v3_default`` (type ``neverbounce_v3``): the API username is the
login, the API secret the password; the host is optional. Against the offline emulator::

    python -m airflow_provider_emailverify.emulator --port 8099
    export AIRFLOW_CONN_NEVERBOUNCE_V3_DEFAULT='{"conn_type": "neverbounce_v3",
        "host": "http://127.0.0.1:8099/neverbounce", "login": "emulator-user", "password": "emulator-key"}'
    airflow dags test example_neverbounce_v3

``EMAILVERIFY_EXAMPLE_POLL_SECONDS`` shortens the status polling interval (default 30 s).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator

CONN_ID = "neverbounce_v3_default"
POLL_SECONDS = float(os.environ.get("EMAILVERIFY_EXAMPLE_POLL_SECONDS", "30"))
CONTACTS_FILE = Path(__file__).parent / "data" / "contacts.csv"

with DAG(
    dag_id="example_neverbounce_v3",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "emailverify", "neverbounce"],
):
    verify = EmailVerificationOperator(
        task_id="verify",
        conn_id=CONN_ID,
        source=str(CONTACTS_FILE),
        email_column="email",
        job_name="contacts-v3",
        deferrable=False,
        poll_interval=POLL_SECONDS,
        timeout=3600,
    )

    @task
    def check(summary: dict) -> None:
        """Every address of the file got a verdict."""
        verified = sum(summary["counts"].values())
        print(f"{summary['vendor']} job(s) {summary['job_ids']}: {verified} verdict(s) {summary['counts']}")
        if verified != summary["total"]:
            raise ValueError(f"{summary['total']} address(es) submitted but {verified} verdict(s) counted")

    check(verify.output)
