# Licensed under the Apache License, Version 2.0.
"""
1,200,000 addresses through the verification operator: from a gzipped file into Bouncer (at most
100,000 per batch) and from a PostgreSQL table into NeverBounce (the client's ``max_job_size``).
The input is split into vendor-sized jobs, every job completes and every address is counted.
"""

from __future__ import annotations

import gzip
import uuid

import pytest

from tests.operators._dagrun import make_dag, run_dag, task_state, xcoms

SIZE = 1_200_000
#: every 10th address is undeliverable (local part "bounce..."), every 25th unknown, the rest deliverable.
UNDELIVERABLE = len(range(0, SIZE, 10))
UNKNOWN = len([i for i in range(0, SIZE, 25) if i % 10])

pytestmark = pytest.mark.timeout(600)


def address(i: int) -> str:
    if i % 10 == 0:
        return f"bounce{i}@example.com"
    if i % 25 == 0:
        return f"person{i}@unknown.test"
    return f"person{i}@example.com"


def verify_dag(name: str, conn_id: str, **source):
    from airflow_provider_emailverify.operators.verify import EmailVerificationOperator

    dag = make_dag(name)
    with dag:
        EmailVerificationOperator(
            task_id="verify", conn_id=conn_id, deferrable=True, poll_interval=0.5, timeout=600, **source
        )
    return dag


def check(dagrun, emulator, vendor: str, max_job_size: int) -> None:
    assert task_state(dagrun, "verify") == "success"
    summary = xcoms(dagrun, "verify")["return_value"]
    expected_jobs = -(-SIZE // max_job_size)
    assert summary["vendor"] == vendor
    assert summary["state"] == "completed"
    assert len(summary["job_ids"]) == len(set(summary["job_ids"])) == expected_jobs
    assert summary["total"] == SIZE
    assert summary["counts"] == {
        "deliverable": SIZE - UNDELIVERABLE - UNKNOWN,
        "risky": 0,
        "undeliverable": UNDELIVERABLE,
        "unknown": UNKNOWN,
    }
    assert emulator.stats()["jobs_created"][vendor] == expected_jobs


def test_file_into_bouncer_batches(emulator_connections, tmp_path, request):
    from airflow_provider_emailverify.hooks.bouncer import BouncerHook

    emulator_connections.set_faults(rows_per_second=1e9)
    emulator_connections.set_credits(10 * SIZE)
    path = tmp_path / "big-list.txt.gz"
    with gzip.open(path, "wt", compresslevel=1) as out:
        for start in range(0, SIZE, 100_000):
            out.write("".join(address(i) + "\n" for i in range(start, start + 100_000)))
    assert BouncerHook("bouncer_default").max_job_size == 100_000
    dagrun = run_dag(verify_dag(request.node.name, "bouncer_default", source=str(path)))
    check(dagrun, emulator_connections, "bouncer", 100_000)


def test_postgres_table_into_neverbounce_jobs(emulator_connections, postgres_conn_id, request):
    import psycopg

    from airflow_provider_emailverify.hooks.neverbounce import NeverBounceHook
    from tests.operators.conftest import POSTGRES

    emulator_connections.set_faults(rows_per_second=1e9)
    emulator_connections.set_credits(10 * SIZE)
    table = f"big_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(
        host=POSTGRES["host"], port=POSTGRES["port"], user=POSTGRES["user"],
        password=POSTGRES["password"] or None, dbname=POSTGRES["db"], autocommit=True,
    )
    try:
        admin.execute(
            f"""create table {table} as
            select i as id, case when i % 10 = 0 then 'bounce' || i || '@example.com'
                                 when i % 25 = 0 then 'person' || i || '@unknown.test'
                                 else 'person' || i || '@example.com' end as email
            from generate_series(0, {SIZE - 1}) i"""
        )
        dagrun = run_dag(
            verify_dag(
                request.node.name, "neverbounce_default",
                sql=f"select id, email from {table} order by id", sql_conn_id=postgres_conn_id,
            )
        )
        check(dagrun, emulator_connections, "neverbounce", NeverBounceHook("neverbounce_default").max_job_size)
    finally:
        admin.execute(f"drop table if exists {table}")
        admin.close()
