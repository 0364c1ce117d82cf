# Licensed under the Apache License, Version 2.0.
"""Both transfers in a real DAG run (``dag.test()``): job ids from the verify task's XCom, asset events."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator
from airflow_provider_emailverify.transfers.results_to_s3 import EmailVerificationResultsToS3Operator
from airflow_provider_emailverify.transfers.results_to_sql import EmailVerificationResultsToSqlOperator
from tests.operators._dagrun import KNOWN_COUNTS, KNOWN_LIST, make_dag, run_dag, task_state, xcoms

if TYPE_CHECKING:
    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle
    from tests.transfers.conftest import Database

JOB_IDS = "{{ ti.xcom_pull(task_ids='verify')['job_ids'] }}"


def to_s3(
    task_id: str, key: str, *, s3_bucket: str, aws_conn_id: str, **kwargs: Any
) -> EmailVerificationResultsToS3Operator:
    """The S3 transfer of the verify task's jobs to ``key``."""
    return EmailVerificationResultsToS3Operator(
        task_id=task_id,
        conn_id="neverbounce_default",
        job_ids=JOB_IDS,
        s3_bucket=s3_bucket,
        s3_key=key,
        aws_conn_id=aws_conn_id,
        **kwargs,
    )


def to_sql(db: Database, table: str, **kwargs: Any) -> EmailVerificationResultsToSqlOperator:
    """The SQL transfer (task ``to_sql``) of the verify task's jobs into ``table``."""
    return EmailVerificationResultsToSqlOperator(
        task_id="to_sql", conn_id="neverbounce_default", job_ids=JOB_IDS, sql_conn_id=db.conn_id, table=table, **kwargs
    )


def s3_csv(s3_client: Any, bucket: str, key: str) -> tuple[str, list[dict[str, str]]]:
    """An object's text and its CSV records."""
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return body, list(csv.DictReader(io.StringIO(body, newline="")))


def asset_events(uri: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
        ).all()
        return [dict(event.extra or {}) for event in events]


def test_verify_then_load_to_s3_and_postgres(
    emulator_connections: EmulatorHandle,
    aws_conn_id: str,
    s3_bucket: str,
    s3_client: Any,
    postgres_db: Database,
    request: Any,
):
    emulator_connections.set_faults(rows_per_second=1_000_000)
    table = postgres_db.table()
    with make_dag(request.node.name) as dag:
        verify = EmailVerificationOperator(
            task_id="verify", conn_id="neverbounce_default", emails=KNOWN_LIST, poll_interval=0.1
        )
        s3 = {"s3_bucket": s3_bucket, "aws_conn_id": aws_conn_id}
        static = to_s3("to_s3", "lists/latest.csv", **s3)
        templated = to_s3(
            "to_s3_by_run",
            "lists/{{ run_id | replace(':', '_') }}/deliverable.jsonl",
            **s3,
            file_format="jsonl",
            statuses=["deliverable"],
        )
        verify >> [static, templated, to_sql(postgres_db, table, mode="upsert")]
    dagrun = run_dag(dag)

    for task_id in ("verify", "to_s3", "to_s3_by_run", "to_sql"):
        assert task_state(dagrun, task_id) == "success", task_id
    job_ids = xcoms(dagrun, "verify")["job_ids"]

    latest = xcoms(dagrun, "to_s3")["return_value"]
    assert latest["uri"] == f"s3://{s3_bucket}/lists/latest.csv"
    assert latest["counts"] == KNOWN_COUNTS
    _, records = s3_csv(s3_client, s3_bucket, "lists/latest.csv")
    assert sorted(r["email"] for r in records) == sorted(KNOWN_LIST)
    assert asset_events(latest["uri"]) == [{"rows": len(KNOWN_LIST), "job_ids": job_ids}]

    by_run = xcoms(dagrun, "to_s3_by_run")["return_value"]
    assert "{{" not in by_run["uri"] and by_run["uri"].endswith("/deliverable.jsonl")
    assert by_run["rows"] == KNOWN_COUNTS["deliverable"]
    # The rendered key reached the asset graph through the task's asset alias.
    assert asset_events(by_run["uri"]) == [{"rows": by_run["rows"], "job_ids": job_ids}]

    loaded = xcoms(dagrun, "to_sql")["return_value"]
    assert loaded["rows"] == len(KNOWN_LIST) and loaded["counts"] == KNOWN_COUNTS
    assert sorted(r[0] for r in postgres_db.rows(table, ["email"])) == sorted(KNOWN_LIST)


def test_a_verification_without_addresses_gives_empty_outputs(
    emulator_connections: EmulatorHandle,
    aws_conn_id: str,
    s3_bucket: str,
    s3_client: Any,
    postgres_db: Database,
    request: Any,
):
    """The verify task's input held no address: it reports ``job_ids: []``, and the run succeeds."""
    table = postgres_db.table()
    with make_dag(request.node.name) as dag:
        verify = EmailVerificationOperator(task_id="verify", conn_id="neverbounce_default", emails=[])
        verify >> [
            to_s3("to_s3", "lists/none.csv", s3_bucket=s3_bucket, aws_conn_id=aws_conn_id),
            to_sql(postgres_db, table),
        ]
    dagrun = run_dag(dag)

    for task_id in ("verify", "to_s3", "to_sql"):
        assert task_state(dagrun, task_id) == "success", task_id
    assert xcoms(dagrun, "verify")["return_value"]["job_ids"] == []
    zero = dict.fromkeys(KNOWN_COUNTS, 0)
    written = xcoms(dagrun, "to_s3")["return_value"]
    assert (written["rows"], written["counts"]) == (0, zero)
    body, records = s3_csv(s3_client, s3_bucket, "lists/none.csv")
    assert records == [] and body.startswith("email,status,")
    loaded = xcoms(dagrun, "to_sql")["return_value"]
    assert (loaded["rows"], loaded["counts"]) == (0, zero)
    assert postgres_db.rows(table, ["email"]) == []


def test_statuses_rendered_from_a_list_param(
    emulator_connections: EmulatorHandle,
    aws_conn_id: str,
    s3_bucket: str,
    s3_client: Any,
    postgres_db: Database,
    request: Any,
):
    """``{{ params.statuses }}`` renders a list as ``['deliverable', 'risky']``; ``tojson`` as JSON."""
    emulator_connections.set_faults(rows_per_second=1_000_000)
    table = postgres_db.table()
    with make_dag(request.node.name, params={"statuses": ["deliverable", "risky"]}) as dag:
        verify = EmailVerificationOperator(
            task_id="verify", conn_id="neverbounce_default", emails=KNOWN_LIST, poll_interval=0.1
        )
        verify >> [
            to_s3("to_s3", "kept.csv", s3_bucket=s3_bucket, aws_conn_id=aws_conn_id, statuses="{{ params.statuses }}"),
            to_sql(postgres_db, table, statuses="{{ params.statuses | tojson }}"),
        ]
    dagrun = run_dag(dag)

    kept = {s: (n if s in ("deliverable", "risky") else 0) for s, n in KNOWN_COUNTS.items()}
    for task_id in ("to_s3", "to_sql"):
        assert task_state(dagrun, task_id) == "success", task_id
        assert xcoms(dagrun, task_id)["return_value"]["counts"] == kept, task_id
    _, records = s3_csv(s3_client, s3_bucket, "kept.csv")
    assert {r["status"] for r in records} == {"deliverable", "risky"}
    assert {r[0] for r in postgres_db.rows(table, ["status"])} == {"deliverable", "risky"}
