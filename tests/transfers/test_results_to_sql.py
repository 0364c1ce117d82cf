# Licensed under the Apache License, Version 2.0.
"""
EmailVerificationResultsToSqlOperator end to end: jobs verified by the emulator over real HTTP
(through the vendor hooks), loaded into real PostgreSQL, MariaDB and SQLite databases.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_emailverify.results import NEUTRAL_COLUMNS, STATUSES
from airflow_provider_emailverify.transfers.results_to_sql import EmailVerificationResultsToSqlOperator
from tests.transfers.conftest import TRICKY_EMAILS, results_of, submit_and_wait
from tests.transfers.test_sql_writer import as_rows, read

if TYPE_CHECKING:
    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle
    from tests.transfers.conftest import Database

#: Addresses with a known verdict in every vendor (DESIGN.md, "The emulator").
KNOWN = [
    "alice@example.com",
    "bob@example.org",
    "invalid.person@example.com",
    "carol@nowhere.invalid",
    "dave@catchall.test",
    "erin@mailinator.com",
    "unknown.frank@example.com",
]
KNOWN_COUNTS = {"deliverable": 2, "risky": 2, "undeliverable": 2, "unknown": 1}
VENDORS = ["neverbounce", "bouncer"]


def tricky_emails(vendor: str) -> list[str]:
    """
    The tricky addresses submitted to ``vendor`` (one of :data:`VENDORS`): all of them, line
    breaks included. NeverBounce's JSON input and Bouncer's JSON batch carry them, and the CSV
    download reads quoted values spanning lines, so each comes back byte for byte.
    """
    return list(TRICKY_EMAILS)


def to_sql(vendor: str, db: Database, table: str, job_ids: Any, **kwargs: Any) -> dict[str, Any]:
    op = EmailVerificationResultsToSqlOperator(
        task_id="to_sql", conn_id=vendor, job_ids=job_ids, sql_conn_id=db.conn_id, table=table, **kwargs
    )
    return op.execute({})


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_tricky_addresses_round_trip_exactly(vendor: str, any_db: Database):
    emails = tricky_emails(vendor)
    job_id = submit_and_wait(vendor, emails)
    expected = results_of(vendor, job_id)
    assert sorted(r.email for r in expected) == sorted(emails)  # the vendor side kept them

    table = any_db.table()
    summary = to_sql(vendor, any_db, table, [job_id])

    assert sorted(r[0] for r in any_db.rows(table, ["email"])) == sorted(emails)
    assert read(any_db, table) == sorted(as_rows(expected), key=lambda r: r[0])
    assert summary["rows"] == len(emails)
    assert summary["counts"] == {s: sum(r.status == s for r in expected) for s in STATUSES}
    assert summary["mode"] == "append"


def test_counts_per_status_and_several_jobs_from_a_rendered_xcom(vendor: str, any_db: Database):
    first = submit_and_wait(vendor, KNOWN)
    second = submit_and_wait(vendor, ["zoe@example.com"])
    table = any_db.table()
    # What ``{{ ti.xcom_pull(task_ids='verify')['job_ids'] }}`` renders: a Python list literal.
    summary = to_sql(vendor, any_db, table, str([first, second]))
    assert summary["counts"] == {**KNOWN_COUNTS, "deliverable": 3}
    assert summary["rows"] == 8
    assert {r[0] for r in any_db.rows(table, ["job_id"])} == {first, second}


@pytest.mark.parametrize(
    ("statuses", "kept"),
    [(["deliverable"], {"deliverable"}), ("risky,unknown", {"risky", "unknown"})],
)
def test_status_filter(vendor: str, any_db: Database, statuses: Any, kept: set[str]):
    job_id = submit_and_wait(vendor, KNOWN)
    table = any_db.table()
    summary = to_sql(vendor, any_db, table, job_id, statuses=statuses)
    written = any_db.rows(table, ["status"])
    assert {r[0] for r in written} == kept
    assert summary["rows"] == len(written) == sum(KNOWN_COUNTS[s] for s in kept)
    assert summary["counts"] == {s: (KNOWN_COUNTS[s] if s in kept else 0) for s in STATUSES}


def test_replace_mode(vendor: str, any_db: Database):
    table = any_db.table()
    to_sql(vendor, any_db, table, submit_and_wait(vendor, KNOWN))
    job_id = submit_and_wait(vendor, ["new@example.com", "other@example.com"])
    to_sql(vendor, any_db, table, job_id, mode="replace")
    assert sorted(any_db.rows(table, ["email", "job_id"])) == [
        ("new@example.com", job_id),
        ("other@example.com", job_id),
    ]


def test_upsert_syncs_status_columns_of_a_contacts_table(vendor: str, any_db: Database):
    """The CRM sync: only the mapped status columns change; the rest of each contact is kept."""
    table = any_db.table("contacts")
    q = any_db.quote
    any_db.execute(
        f"CREATE TABLE {q(table)} (contact_id INTEGER, {q('Email Address')} VARCHAR(320) NOT NULL UNIQUE, "
        f"first_name VARCHAR(50), {q('Email Status')} VARCHAR(20), vendor_verdict VARCHAR(30))"
    )
    any_db.execute(
        f"INSERT INTO {q(table)} (contact_id, {q('Email Address')}, first_name, {q('Email Status')}) VALUES "
        "(1, 'alice@example.com', 'Alice', 'stale'), (2, 'erin@mailinator.com', 'Erin', 'stale'), "
        "(3, 'not.in.job@example.com', 'Nora', 'stale')"
    )
    job_id = submit_and_wait(vendor, ["alice@example.com", "erin@mailinator.com", "new.person@example.com"])
    column_map = {"email": "Email Address", "status": "Email Status", "vendor_status": "vendor_verdict"}
    summary = to_sql(
        vendor, any_db, table, job_id, mode="upsert", column_map=column_map, key_columns=["Email Address"]
    )
    assert summary["rows"] == 3
    rows = any_db.rows(table, ["contact_id", "Email Address", "first_name", "Email Status", "vendor_verdict"])
    by_email = {r[1]: r for r in rows}
    assert by_email["alice@example.com"][:4] == (1, "alice@example.com", "Alice", "deliverable")
    assert by_email["erin@mailinator.com"][:4] == (2, "erin@mailinator.com", "Erin", "risky")
    assert by_email["new.person@example.com"][:4] == (None, "new.person@example.com", None, "deliverable")
    assert by_email["not.in.job@example.com"] == (3, "not.in.job@example.com", "Nora", "stale", None)
    assert by_email["alice@example.com"][4] and by_email["erin@mailinator.com"][4]  # the vendor's verdicts


def test_column_map_creates_only_mapped_columns_with_quoted_names(vendor: str, any_db: Database):
    q = any_db.quote_char
    table = any_db.table(f"Verified {q}List{q}")
    column_map = {"email": f"Address {q}as given{q}", "status": "order", "is_free": "Free Mail?"}
    job_id = submit_and_wait(vendor, ["alice@gmail.com", "bob@example.org"])
    to_sql(vendor, any_db, table, job_id, mode="upsert", column_map=column_map)
    rows = sorted(any_db.rows(table, list(column_map.values())))
    assert [(r[0], r[1], bool(r[2])) for r in rows] == [
        ("alice@gmail.com", "deliverable", True),
        ("bob@example.org", "deliverable", False),
    ]
    # Nothing but the mapped columns was created.
    assert any_db.columns(table) == list(column_map.values())


def _prefill(db: Database, table: str) -> list[tuple[Any, ...]]:
    q = db.quote
    db.execute(
        f"CREATE TABLE {q(table)} (email VARCHAR(320) PRIMARY KEY, status VARCHAR(20), job_id VARCHAR(64))"
    )
    db.execute(
        f"INSERT INTO {q(table)} (email, status, job_id) VALUES ('before@example.com', 'risky', 'old')"
    )
    return db.rows(table, ["email", "status", "job_id"])


@pytest.mark.parametrize("mode", ["append", "replace", "upsert"])
def test_download_failing_beyond_retries_leaves_the_table_unchanged(
    vendor: str, any_db: Database, emulator: EmulatorHandle, mode: str
):
    emails = [f"person{i:05d}.with.a.longish.local.part@example.com" for i in range(4000)]
    job_id = submit_and_wait(vendor, emails)
    table = any_db.table()
    before = _prefill(any_db, table)
    emulator.set_faults(disconnect_rate=1.0, seed=7)  # every download breaks part-way, every time
    with pytest.raises(Exception) as failure:
        to_sql(
            vendor, any_db, table, job_id, mode=mode, column_map=["email", "status", "job_id"], batch_size=100
        )
    assert "Boom" not in repr(failure.value)
    assert emulator.stats()["faults"]["disconnect"] >= 2
    emulator.set_faults(disconnect_rate=0.0)
    assert any_db.rows(table, ["email", "status", "job_id"]) == before


def test_download_failing_beyond_retries_creates_no_table(
    vendor: str, any_db: Database, emulator: EmulatorHandle
):
    job_id = submit_and_wait(vendor, [f"p{i:05d}.padding.padding.padding@example.com" for i in range(4000)])
    emulator.set_faults(disconnect_rate=1.0, seed=3)
    table = any_db.table()
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises once retries are spent
        to_sql(vendor, any_db, table, job_id, mode="upsert", batch_size=50)
    assert not any_db.exists(table)


def test_transient_disconnects_are_ridden_out(vendor: str, postgres_db: Database, emulator: EmulatorHandle):
    emails = [f"r{i}@example.com" for i in range(300)]
    job_id = submit_and_wait(vendor, emails)
    emulator.set_faults(disconnect_rate=0.3, seed=11)
    table = postgres_db.table()
    summary = to_sql(vendor, postgres_db, table, job_id)
    assert summary["rows"] == 300
    assert sorted(r[0] for r in postgres_db.rows(table, ["email"])) == sorted(emails)


@pytest.mark.parametrize("mode", ["append", "replace", "upsert"])
def test_a_row_the_database_rejects_rolls_back_everything(vendor: str, any_db: Database, mode: str):
    table = any_db.table()
    q = any_db.quote
    any_db.execute(
        f"CREATE TABLE {q(table)} (email VARCHAR(320) PRIMARY KEY, status VARCHAR(20), "
        "CHECK (email NOT LIKE 'reject%'))"
    )
    any_db.execute(f"INSERT INTO {q(table)} (email, status) VALUES ('before@example.com', 'risky')")
    emails = [f"ok{i}@example.com" for i in range(50)] + ["reject.me@example.com"] + ["after@example.com"]
    job_id = submit_and_wait(vendor, emails)
    with pytest.raises(Exception, match="(?i)check|constraint"):
        to_sql(vendor, any_db, table, job_id, mode=mode, column_map=["email", "status"], batch_size=10)
    assert any_db.rows(table, ["email", "status"]) == [("before@example.com", "risky")]


def test_a_bad_second_job_rolls_back_the_first(vendor: str, any_db: Database):
    good = submit_and_wait(vendor, KNOWN)
    table = any_db.table()
    with pytest.raises(Exception):  # noqa: B017 - the vendor's "no such job" error
        to_sql(vendor, any_db, table, json.dumps([good, "999999999"]), mode="upsert")
    assert not any_db.exists(table)


def test_schema_qualified_table(vendor: str, postgres_db: Database):
    schema = postgres_db.table("schema")
    postgres_db.execute(f"CREATE SCHEMA {postgres_db.quote(schema)}")
    try:
        job_id = submit_and_wait(vendor, KNOWN)
        to_sql(vendor, postgres_db, f"{schema}.results", job_id)
        to_sql(vendor, postgres_db, "results", job_id, schema=schema, mode="replace")
        rows = postgres_db.execute(f"SELECT count(*) FROM {postgres_db.quote(schema)}.results")
        assert rows == [(len(KNOWN),)]
    finally:
        postgres_db.execute(f"DROP SCHEMA {postgres_db.quote(schema)} CASCADE")


def test_bad_arguments_fail_at_parse_time():
    common = {"task_id": "t", "conn_id": "c", "job_ids": "1", "sql_conn_id": "s", "table": "t"}
    with pytest.raises(ValueError, match="mode"):
        EmailVerificationResultsToSqlOperator(mode="merge", **common)
    with pytest.raises(ValueError, match="key column"):
        EmailVerificationResultsToSqlOperator(mode="upsert", column_map={"status": "s"}, **common)
    with pytest.raises(ValueError, match="more than one field"):
        EmailVerificationResultsToSqlOperator(column_map={"email": "x", "status": "x"}, **common)
    op = EmailVerificationResultsToSqlOperator(**common)
    assert set(op.template_fields) >= {"job_ids", "table", "sql_conn_id"}
    assert list(NEUTRAL_COLUMNS)[0] == "email"
