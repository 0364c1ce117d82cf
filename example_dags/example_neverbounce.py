# Licensed under the Apache License, Version 2.0.
"""
### Verify a list with NeverBounce (API v4.2)

Submits a small list of contacts (dicts: the extra fields travel with each address), waits for
the NeverBounce job in the triggerer (``deferrable=True``), then prints the neutral results.
A list larger than NeverBounce's job size limit would become several jobs, tracked as one.

**Connection** ``neverbounce_default`` (type ``neverbounce``): the API key is the password; the
host is optional and overrides ``https://api.neverbounce.com``. Against the offline emulator::

    python -m airflow_provider_emailverify.emulator --port 8099
    export AIRFLOW_CONN_NEVERBOUNCE_DEFAULT='{"conn_type": "neverbounce",
        "host": "http://127.0.0.1:8099/neverbounce", "password": "emulator-key"}'
    airflow dags test example_neverbounce

``EMAILVERIFY_EXAMPLE_POLL_SECONDS`` shortens the status polling interval (default 30 s).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator

CONN_ID = "neverbounce_default"
POLL_SECONDS = float(os.environ.get("EMAILVERIFY_EXAMPLE_POLL_SECONDS", "30"))

CONTACTS = [
    {"email": "alice@example.com", "crm_id": 1},
    {"email": "bob@gmail.com", "crm_id": 2},
    {"email": "carol@gmial.com", "crm_id": 3},
    {"email": "dave@catchall.test", "crm_id": 4},
    {"email": "erin@mailinator.com", "crm_id": 5},
    {"email": "bounce.frank@example.com", "crm_id": 6},
    {"email": "heidi@unknown.test", "crm_id": 7},
]

with DAG(
    dag_id="example_neverbounce",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "emailverify", "neverbounce"],
):
    verify = EmailVerificationOperator(
        task_id="verify",
        conn_id=CONN_ID,
        emails=CONTACTS,
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=6),
        max_undeliverable_ratio=0.5,
    )

    @task
    def show_results(summary: dict) -> int:
        """Stream the neutral result rows of every job of the run into the task log."""
        from airflow_provider_emailverify.hooks.base import hook_for_connection

        hook = hook_for_connection(CONN_ID)
        rows = 0
        for job_id in summary["job_ids"]:
            for result in hook.iter_results(job_id):
                rows += 1
                print(f"{result.email:<32} {result.status:<14} {result.vendor_status:<12} {result.suggestion or ''}")
        print(f"{rows} result(s); counts: {summary['counts']}")
        return rows

    show_results(verify.output)
