# Licensed under the Apache License, Version 2.0.
"""
### Submit to Bouncer now, wait with a sensor

The submitting task returns as soon as the Bouncer batch exists (``wait_for_completion=False``);
``EmailVerificationJobSensor`` then waits for it in the triggerer, and a last task prints the
results. Splitting submit and wait lets other work run in between, or lets a separate DAG wait on
jobs submitted elsewhere. Bouncer takes at most 100,000 addresses per batch: longer lists
become several batches, all of them listed in ``job_ids``.

**Connection** ``bouncer_default`` (type ``bouncer``): the API key is the password; the host is
optional and overrides ``https://api.usebouncer.com``. Against the offline emulator::

    python -m airflow_provider_emailverify.emulator --port 8099
    export AIRFLOW_CONN_BOUNCER_DEFAULT='{"conn_type": "bouncer",
        "host": "http://127.0.0.1:8099/bouncer", "password": "emulator-key"}'
    airflow dags test example_bouncer

``EMAILVERIFY_EXAMPLE_POLL_SECONDS`` shortens the status polling interval (default 30 s).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator
from airflow_provider_emailverify.sensors.job import EmailVerificationJobSensor

CONN_ID = "bouncer_default"
POLL_SECONDS = float(os.environ.get("EMAILVERIFY_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_bouncer",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "emailverify", "bouncer"],
):
    submit = EmailVerificationOperator(
        task_id="submit",
        conn_id=CONN_ID,
        emails=[
            "deliverable@sandbox.usebouncer.com",
            "accept-all@sandbox.usebouncer.com",
            "undeliverable@sandbox.usebouncer.com",
            "alice@example.com",
            "support@example.org",
            "unknown.bob@example.net",
        ],
        wait_for_completion=False,
    )

    wait = EmailVerificationJobSensor(
        task_id="wait",
        conn_id=CONN_ID,
        job_ids="{{ ti.xcom_pull(task_ids='submit')['job_ids'] }}",
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=6 * 3600,
    )

    @task
    def show_results(summary: dict) -> dict:
        """Count the neutral statuses of the finished batches."""
        from collections import Counter

        from airflow_provider_emailverify.hooks.base import hook_for_connection

        hook = hook_for_connection(CONN_ID)
        counts: Counter[str] = Counter()
        for job_id in summary["job_ids"]:
            for result in hook.iter_results(job_id):
                counts[result.status] += 1
                print(f"{result.email:<40} {result.status:<14} {result.vendor_status:<14} {result.reason}")
        print(dict(counts))
        return dict(counts)

    results = show_results(submit.output)
    submit >> wait >> results
