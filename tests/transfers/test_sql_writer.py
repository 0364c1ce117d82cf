# Licensed under the Apache License, Version 2.0.
"""
The SQL load strategies on their own (rows from plain generators of neutral results), against
real PostgreSQL, MariaDB and SQLite: every mode, quoting, exact round trips, and failures that
must leave the table as it was.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_emailverify.results import FLAG_COLUMNS, NEUTRAL_COLUMNS
from airflow_provider_emailverify.transfers._common import ResultColumns
from airflow_provider_emailverify.transfers._sql_dialects import (
    LoadPlan,
    PostgresDialect,
    SqlDialect,
    SqliteDialect,
    dialect_for,
)
from airflow_provider_emailverify.transfers._sql_mysql import MySqlDialect
from tests.transfers.conftest import TRICKY_EMAILS, sample_results

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_provider_emailverify.results import VerificationResult
    from tests.transfers.conftest import Database

log = logging.getLogger(__name__)


class Boom(RuntimeError):
    """Stands in for a download that breaks part-way."""


def db_hook(conn_id: str) -> Any:
    from airflow.providers.common.compat.sdk import BaseHook

    return BaseHook.get_connection(conn_id).get_hook()


def load(
    db: Database,
    table: str,
    results: Iterable[VerificationResult],
    *,
    mode: str = "append",
    column_map: Any = None,
    keys: tuple[str, ...] = ("email",),
    create_table: bool = True,
    batch_size: int = 5,
    dialect_class: type[SqlDialect] | None = None,
) -> SqlDialect:
    """What the SQL operator does, minus the vendor download (``dialect_class`` forces a dialect)."""
    hook = db_hook(db.conn_id)
    dialect = dialect_for(hook, log) if dialect_class is None else dialect_class(hook, log)
    columns = ResultColumns(column_map)
    plan = LoadPlan(
        schema=None,
        table=table,
        columns=columns.targets,
        sources=columns.sources,
        mode=mode,
        keys=tuple(columns.target_of(k) for k in keys) if mode == "upsert" else (),
        create_table=create_table,
        batch_size=batch_size,
    )
    conn = hook.get_conn()
    try:
        dialect.load(conn, plan, map(columns.row_getter(), iter(results)))
    finally:
        conn.close()
    return dialect


def normalise(row: tuple[Any, ...], columns: Iterable[str]) -> tuple[Any, ...]:
    """Flags come back as bool (PostgreSQL) or 0/1 (MariaDB, SQLite)."""
    return tuple(
        (None if v is None else bool(v)) if c in FLAG_COLUMNS else v
        for v, c in zip(row, columns, strict=True)
    )


def as_rows(results: Iterable[VerificationResult], columns: Iterable[str] = NEUTRAL_COLUMNS) -> list[tuple]:
    columns = list(columns)
    return [tuple(getattr(r, c) for c in columns) for r in results]


def read(db: Database, table: str, columns: Iterable[str] = NEUTRAL_COLUMNS, order_by: str = "email") -> list:
    columns = list(columns)
    rows = [normalise(r, columns) for r in db.rows(table, columns)]
    position = columns.index(order_by)
    return sorted(rows, key=lambda r: r[position])


def failing_after(results: list[VerificationResult], n: int) -> Iterable[VerificationResult]:
    yield from results[:n]
    raise Boom("download broke")


def test_dialect_is_picked_by_connection(any_db: Database):
    expected = {"postgresql": PostgresDialect, "mysql": MySqlDialect, "sqlite": SqliteDialect}[any_db.family]
    assert type(dialect_for(db_hook(any_db.conn_id), log)) is expected


def test_append_round_trips_every_column_exactly(any_db: Database):
    table = any_db.table()
    results = sample_results()
    load(any_db, table, results)
    assert read(any_db, table) == sorted(as_rows(results), key=lambda r: r[0])
    assert sorted(r[0] for r in any_db.rows(table, ["email"])) == sorted(TRICKY_EMAILS)


def test_append_adds_to_existing_rows(any_db: Database):
    table = any_db.table()
    first, second = sample_results(["a@example.com"]), sample_results(["b@example.com"])
    load(any_db, table, first)
    load(any_db, table, second)
    assert [r[0] for r in read(any_db, table)] == ["a@example.com", "b@example.com"]


def test_replace_swaps_contents_and_keeps_the_table(any_db: Database):
    table = any_db.table()
    q = any_db.quote
    any_db.execute(
        f"CREATE TABLE {q(table)} (email VARCHAR(320), status VARCHAR(20), note VARCHAR(20) DEFAULT 'kept')"
    )
    any_db.execute(f"INSERT INTO {q(table)} (email, status, note) VALUES ('old@example.com', 'risky', 'x')")
    results = sample_results(["new1@example.com", "new2@example.com"])
    load(any_db, table, results, mode="replace", column_map=["email", "status"])
    assert any_db.rows(table, ["email", "status", "note"], order_by="email") == [
        ("new1@example.com", "deliverable", "kept"),
        ("new2@example.com", "risky", "kept"),
    ]


def test_upsert_updates_only_mapped_columns(any_db: Database):
    table = any_db.table("contacts")
    q = any_db.quote
    any_db.execute(
        f"CREATE TABLE {q(table)} (id INTEGER, email VARCHAR(320) PRIMARY KEY, first_name VARCHAR(50), "
        f"email_status VARCHAR(20), email_checked BOOLEAN)"
    )
    any_db.execute(
        f"INSERT INTO {q(table)} (id, email, first_name, email_status) VALUES "
        "(1, 'ann@example.com', 'Ann', 'old'), (2, 'bob@example.com', 'Bob', 'old')"
    )
    results = sample_results(["ann@example.com", "carl@example.com", "ann@example.com"])
    column_map = {"email": "email", "status": "email_status", "is_catchall": "email_checked"}
    load(any_db, table, results, mode="upsert", column_map=column_map)
    rows = any_db.rows(
        table, ["id", "email", "first_name", "email_status", "email_checked"], order_by="email"
    )
    assert [normalise(r, ["id", "email", "first_name", "email_status", "is_catchall"]) for r in rows] == [
        # The last row of a repeated address wins; id and first_name are untouched.
        (1, "ann@example.com", "Ann", "undeliverable", True),
        (2, "bob@example.com", "Bob", "old", None),
        (None, "carl@example.com", None, "risky", False),
    ]


def test_upsert_creates_the_table_with_its_key(any_db: Database):
    table = any_db.table()
    load(any_db, table, sample_results(["a@example.com", "b@example.com"]), mode="upsert")
    results = sample_results(["b@example.com", "c@example.com"], job_id="job-2")
    load(any_db, table, results, mode="upsert", keys=("email",))
    assert [(r[0], r[-1]) for r in read(any_db, table)] == [
        ("a@example.com", "job-1"),
        ("b@example.com", "job-2"),
        ("c@example.com", "job-2"),
    ]


def test_upsert_on_a_composite_key(any_db: Database):
    table = any_db.table()
    results = sample_results(["a@example.com"], job_id="j1") + sample_results(["a@example.com"], job_id="j2")
    load(any_db, table, results, mode="upsert", keys=("email", "job_id"))
    load(
        any_db, table, sample_results(["a@example.com"], job_id="j2"), mode="upsert", keys=("job_id", "email")
    )
    assert sorted(r[-1] for r in read(any_db, table)) == ["j1", "j2"]


def test_upsert_with_only_key_columns_inserts_new_addresses(any_db: Database):
    table = any_db.table()
    load(any_db, table, sample_results(["a@example.com"]), mode="upsert", column_map=["email"])
    load(
        any_db, table, sample_results(["a@example.com", "b@example.com"]), mode="upsert", column_map=["email"]
    )
    assert any_db.rows(table, ["email"], order_by="email") == [("a@example.com",), ("b@example.com",)]


def test_upsert_without_a_unique_key_is_refused_before_writing(any_db: Database):
    table = any_db.table()
    any_db.execute(f"CREATE TABLE {any_db.quote(table)} (email VARCHAR(320), status VARCHAR(20))")
    with pytest.raises(ValueError, match=r"primary key or unique index on \(email\)"):
        load(any_db, table, sample_results(), mode="upsert", column_map=["email", "status"])
    assert any_db.rows(table, ["email"]) == []


def test_names_that_need_quoting(any_db: Database):
    q = any_db.quote_char
    table = any_db.table(f"Odd {q}Table{q}; -- name")
    column_map = {"email": f"E-Mail {q}Address{q}", "status": "select", "is_free": "Free?"}
    results = sample_results()
    load(any_db, table, results, mode="upsert", column_map=column_map)
    load(any_db, table, results, mode="replace", column_map=column_map)
    extra = sample_results(["more" + e for e in TRICKY_EMAILS[:3]])
    load(any_db, table, extra, mode="append", column_map=column_map, create_table=False)
    rows = any_db.rows(table, list(column_map.values()))
    expected = as_rows(results + extra, ["email", "status", "is_free"])
    assert sorted(normalise(r, ["email", "status", "is_free"]) for r in rows) == sorted(expected)


@pytest.mark.parametrize("mode", ["append", "replace", "upsert"])
def test_failure_mid_load_leaves_existing_table_unchanged(any_db: Database, mode: str):
    table = any_db.table()
    before = sample_results(["keep1@example.com", "keep2@example.com"])
    load(any_db, table, before, mode="upsert")
    snapshot = read(any_db, table)
    more = sample_results([f"new{i}@example.com" for i in range(40)] + ["keep1@example.com"])
    with pytest.raises(Boom):
        load(any_db, table, failing_after(more, 37), mode=mode, batch_size=10)
    assert read(any_db, table) == snapshot


@pytest.mark.parametrize("mode", ["append", "replace", "upsert"])
def test_failure_mid_load_leaves_no_new_table(any_db: Database, mode: str):
    table = any_db.table()
    with pytest.raises(Boom):
        load(any_db, table, failing_after(sample_results(), 7), mode=mode, batch_size=3)
    assert not any_db.exists(table)


@pytest.mark.parametrize("mode", ["append", "replace", "upsert"])
def test_row_rejected_by_the_database_rolls_back_the_load(any_db: Database, mode: str):
    table = any_db.table()
    q = any_db.quote
    any_db.execute(
        f"CREATE TABLE {q(table)} (email VARCHAR(320) PRIMARY KEY, status VARCHAR(20), "
        "CHECK (email NOT LIKE 'reject%'))"
    )
    any_db.execute(f"INSERT INTO {q(table)} (email, status) VALUES ('old@example.com', 'risky')")
    emails = [f"ok{i}@example.com" for i in range(30)] + ["reject@example.com"] + ["late@example.com"]
    with pytest.raises(Exception, match="(?i)check|constraint"):
        load(any_db, table, sample_results(emails), mode=mode, column_map=["email", "status"], batch_size=7)
    assert any_db.rows(table, ["email", "status"]) == [("old@example.com", "risky")]


def test_postgres_copy_through_psycopg2(postgres_db: Database, monkeypatch: pytest.MonkeyPatch):
    """The COPY path for psycopg2 (``copy_expert`` over a generator), used by older postgres providers."""
    from airflow.providers.postgres.hooks import postgres

    monkeypatch.setattr(postgres, "USE_PSYCOPG3", False)
    hook = db_hook(postgres_db.conn_id)
    assert type(hook.get_conn()).__module__.startswith("psycopg2")
    table = postgres_db.table()
    results = sample_results()
    load(postgres_db, table, results)
    expected = sorted(as_rows(results), key=lambda r: r[0])
    assert read(postgres_db, table) == expected


def test_postgres_upsert_through_psycopg2(postgres_db: Database, monkeypatch: pytest.MonkeyPatch):
    from airflow.providers.postgres.hooks import postgres

    monkeypatch.setattr(postgres, "USE_PSYCOPG3", False)
    table = postgres_db.table()
    load(postgres_db, table, sample_results(), mode="upsert")
    again = sample_results(TRICKY_EMAILS[:3], job_id="j2")
    load(postgres_db, table, again, mode="upsert")
    rows = read(postgres_db, table)
    assert len(rows) == len(TRICKY_EMAILS)
    assert sorted(r[0] for r in rows if r[-1] == "j2") == sorted(TRICKY_EMAILS[:3])
    with pytest.raises(Boom):
        load(postgres_db, table, failing_after(sample_results(job_id="j3"), 5), mode="upsert", batch_size=2)
    assert read(postgres_db, table) == rows


def test_other_databases_get_the_generic_dialect_with_ansi_quoting():
    class OtherHook:
        conn_type = "oracle"
        placeholder = ":1"
        dialect_name = "oracle"

    dialect = dialect_for(OtherHook(), log)
    assert type(dialect) is SqlDialect
    assert dialect.supports_upsert
    assert dialect.table_ref("s", 'a"b') == '"s"."a""b"'
    with pytest.raises(ValueError, match="invalid SQL identifier"):
        dialect.quote("a\x00b")


@pytest.mark.parametrize("family", ["postgres", "mariadb"])
def test_dict_cursor_extras_do_not_confuse_the_load(family: str, request: Any, monkeypatch: pytest.MonkeyPatch):
    """A connection whose ``cursor`` extra asks for dict rows: our own catalog queries still work."""
    import os

    db: Database = request.getfixturevalue(f"{family}_db")
    env = f"AIRFLOW_CONN_{db.conn_id.upper()}"
    monkeypatch.setenv(env, os.environ[env] + "?cursor=dictcursor")
    table = db.table()
    load(db, table, sample_results(["a@example.com", "b@example.com"]), mode="upsert")
    load(db, table, sample_results(["b@example.com", "c@example.com"], job_id="j2"), mode="upsert")
    assert [(r[0], r[-1]) for r in read(db, table)] == [
        ("a@example.com", "job-1"),
        ("b@example.com", "j2"),
        ("c@example.com", "j2"),
    ]
