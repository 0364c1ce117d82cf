# Licensed under the Apache License, Version 2.0.
"""
### CRM sync: contacts table → verify → statuses back into the database

1. ``seed_contacts`` creates a ``contacts`` table and fills it from ``data/contacts.csv`` when it
   is empty (a stand-in for your CRM export; drop this task in a real deployment).
2. ``verify`` streams ``SELECT ... FROM contacts`` through a server-side cursor into vendor
   jobs (no list of all rows in memory, whatever the table's size).
3. ``load_results`` upserts one neutral row per address (``email``, ``status``,
   ``vendor_status``, ``reason``, flags, ``suggestion``, ``vendor``, ``job_id``) into
   ``email_verification``, keyed by ``email`` (one transaction; the table is created if missing).
4. ``sync_statuses`` upserts each address's neutral status into ``contacts.email_status``
   (only that column is written; the contacts' other columns keep their values), and
   ``report`` prints the contacts per status.

The vendor is a parameter: trigger with ``{"vendor_conn_id": "bouncer_default"}`` to move the
sync to Bouncer; nothing else changes.

**Connections**

- ``neverbounce_default`` (or the ``vendor_conn_id`` param): see ``example_neverbounce``.
- ``crm_db``: any SQL connection (PostgreSQL, MySQL/MariaDB, SQLite, ...), e.g.
  ``AIRFLOW_CONN_CRM_DB='{"conn_type": "sqlite", "host": "/tmp/crm.sqlite"}'``.

Against the offline emulator::

    python -m airflow_provider_emailverify.emulator --port 8099
    export AIRFLOW_CONN_NEVERBOUNCE_DEFAULT='{"conn_type": "neverbounce",
        "host": "http://127.0.0.1:8099/neverbounce", "password": "emulator-key"}'
    export AIRFLOW_CONN_CRM_DB='{"conn_type": "sqlite", "host": "/tmp/crm.sqlite"}'
    airflow dags test example_crm_sync

``make demo`` runs this DAG end to end against the emulator and a SQLite file.
``EMAILVERIFY_EXAMPLE_POLL_SECONDS`` shortens the status polling interval (default 30 s).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Param, task

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator
from airflow_provider_emailverify.transfers.results_to_sql import EmailVerificationResultsToSqlOperator

CRM_CONN_ID = "crm_db"
CONTACTS_TABLE = "contacts"
RESULTS_TABLE = "email_verification"
POLL_SECONDS = float(os.environ.get("EMAILVERIFY_EXAMPLE_POLL_SECONDS", "30"))
SEED_FILE = Path(__file__).parent / "data" / "contacts.csv"

with DAG(
    dag_id="example_crm_sync",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    doc_md=__doc__,
    params={"vendor_conn_id": Param("neverbounce_default", type="string")},
    tags=["example", "emailverify", "sql"],
):

    @task
    def seed_contacts() -> int:
        """Create and fill the demo ``contacts`` table if it is empty; returns its row count."""
        import csv

        from airflow.providers.common.compat.sdk import BaseHook

        db = BaseHook.get_hook(CRM_CONN_ID)
        db.run(
            f"CREATE TABLE IF NOT EXISTS {CONTACTS_TABLE} "
            "(id INTEGER PRIMARY KEY, email VARCHAR(320) UNIQUE, first_name VARCHAR(100), email_status VARCHAR(20))"
        )
        existing = db.get_first(f"SELECT COUNT(*) FROM {CONTACTS_TABLE}")[0]
        if not existing:
            with open(SEED_FILE, newline="") as handle:
                rows = [(int(r["crm_id"]), r["email"], r["first_name"]) for r in csv.DictReader(handle)]
            db.insert_rows(CONTACTS_TABLE, rows, target_fields=["id", "email", "first_name"])
            existing = len(rows)
        return existing

    verify = EmailVerificationOperator(
        task_id="verify",
        conn_id="{{ params.vendor_conn_id }}",
        sql=f"SELECT id AS contact_id, email FROM {CONTACTS_TABLE} WHERE email IS NOT NULL AND email <> ''",
        sql_conn_id=CRM_CONN_ID,
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=12 * 3600,
    )

    job_ids = "{{ ti.xcom_pull(task_ids='verify')['job_ids'] }}"

    load_results = EmailVerificationResultsToSqlOperator(
        task_id="load_results",
        conn_id="{{ params.vendor_conn_id }}",
        job_ids=job_ids,
        sql_conn_id=CRM_CONN_ID,
        table=RESULTS_TABLE,
        mode="upsert",
    )

    sync_statuses = EmailVerificationResultsToSqlOperator(
        task_id="sync_statuses",
        conn_id="{{ params.vendor_conn_id }}",
        job_ids=job_ids,
        sql_conn_id=CRM_CONN_ID,
        table=CONTACTS_TABLE,
        mode="upsert",
        key_columns=("email",),
        column_map={"email": "email", "status": "email_status"},
        create_table=False,
    )

    @task
    def report() -> dict:
        """Print the contacts per email status."""
        from airflow.providers.common.compat.sdk import BaseHook

        db = BaseHook.get_hook(CRM_CONN_ID)
        counts = dict(
            db.get_records(
                f"SELECT COALESCE(email_status, 'not verified'), COUNT(*) FROM {CONTACTS_TABLE} "
                "GROUP BY COALESCE(email_status, 'not verified') ORDER BY 1"
            )
        )
        for status, count in counts.items():
            print(f"{status:<14}{count:>8}")
        return counts

    seed_contacts() >> verify >> [load_results, sync_statuses] >> report()
