# Licensed under the Apache License, Version 2.0.
"""
### Verify a gzipped newsletter list with Bouncify

Reads ``data/newsletter.txt.gz`` (one address per line; blank lines are skipped and counted in
the log), uploads it as a Bouncify bulk job, waits in the triggerer and fails if more than 40 %
of the list is undeliverable (``max_undeliverable_ratio``), a cue to look at where the list came
from before mailing it.

**Connection** ``bouncify_default`` (type ``bouncify``): the API key is the password; the host is
optional and overrides ``https://api.bouncify.io``. Against the offline emulator::

    python -m airflow_provider_emailverify.emulator --port 8099
    export AIRFLOW_CONN_BOUNCIFY_DEFAULT='{"conn_type": "bouncify",
        "host": "http://127.0.0.1:8099/bouncify", "password": "emulator-key"}'
    airflow dags test example_bouncify

``EMAILVERIFY_EXAMPLE_POLL_SECONDS`` shortens the status polling interval (default 30 s).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator

CONN_ID = "bouncify_default"
POLL_SECONDS = float(os.environ.get("EMAILVERIFY_EXAMPLE_POLL_SECONDS", "30"))
NEWSLETTER_FILE = Path(__file__).parent / "data" / "newsletter.txt.gz"

with DAG(
    dag_id="example_bouncify",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "emailverify", "bouncify"],
):
    EmailVerificationOperator(
        task_id="verify",
        conn_id=CONN_ID,
        source=str(NEWSLETTER_FILE),
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=6 * 3600,
        max_undeliverable_ratio=0.4,
    )
