# Licensed under the Apache License, Version 2.0.
"""
### Verify a list with Email Verifier App

Submits a list as an Email Verifier App batch, waits in the triggerer, and keeps only the
deliverable addresses for the next step (here: printed). The same DAG runs on any other vendor by
changing ``CONN_ID``: the operator and the result rows are vendor-neutral.

**Connection** ``emailverifierapp_default`` (type ``emailverifierapp``): the API key is the
password; the host is optional and overrides ``https://api.evasrv.com``. Against the offline
emulator::

    python -m airflow_provider_emailverify.emulator --port 8099
    export AIRFLOW_CONN_EMAILVERIFIERAPP_DEFAULT='{"conn_type": "emailverifierapp",
        "host": "http://127.0.0.1:8099/emailverifierapp", "password": "emulator-key"}'
    airflow dags test example_emailverifierapp

``EMAILVERIFY_EXAMPLE_POLL_SECONDS`` shortens the status polling interval (default 30 s).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator

CONN_ID = "emailverifierapp_default"
POLL_SECONDS = float(os.environ.get("EMAILVERIFY_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_emailverifierapp",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "emailverify", "emailverifierapp"],
):
    verify = EmailVerificationOperator(
        task_id="verify",
        conn_id=CONN_ID,
        emails=[
            "alice@example.com",
            "bob@icloud.com",
            "sales@example.com",
            "carol@disposable.test",
            "dave@catchall.test",
            "invalid.erin@example.com",
            "frank@unknown.test",
        ],
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=6 * 3600,
    )

    @task
    def deliverable_only(summary: dict) -> list[str]:
        """The addresses safe to mail (kept small here; big lists go to S3 or SQL with a transfer)."""
        from airflow_provider_emailverify.hooks.base import hook_for_connection

        hook = hook_for_connection(CONN_ID)
        keep = [
            result.email
            for job_id in summary["job_ids"]
            for result in hook.iter_results(job_id)
            if result.status == "deliverable"
        ]
        print(f"{len(keep)} deliverable of {summary['total']}: {keep}")
        return keep

    deliverable_only(verify.output)
