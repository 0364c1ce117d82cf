# Licensed under the Apache License, Version 2.0.
"""
SQL loads into the tables users really have, against real PostgreSQL, MariaDB and SQLite: columns
typed other than text (an integer id, an enum status), values longer than a list's usual
addresses, names holding ``%``, and values PostgreSQL cannot store.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from airflow_provider_emailverify.transfers._sql_dialects import SqlDialect
from tests.transfers.conftest import sample_results, unique_name
from tests.transfers.test_sql_writer import load, read

if TYPE_CHECKING:
    from airflow_provider_emailverify.results import VerificationResult
    from tests.transfers.conftest import Database


def with_ids(emails: list[str], ids: list[int], *, job_id: str = "job-1") -> list[VerificationResult]:
    """Results carrying the CRM id submitted with each address (a pass-through field)."""
    return [
        dataclasses.replace(result, extra={"crm_id": str(crm_id)})
        for result, crm_id in zip(sample_results(emails, job_id=job_id), ids, strict=True)
    ]


CRM_MAP = {"crm_id": "id", "email": "email", "status": "status"}


@pytest.fixture
def contacts(any_db: Database) -> tuple[Database, str]:
    """A contacts table keyed by an integer id; on PostgreSQL its status is an enum type."""
    table = any_db.table("contacts")
    status_type = "VARCHAR(20)"
    if any_db.family == "postgresql":
        status_type = unique_name("ev_status")
        any_db.execute(f"CREATE TYPE {status_type} AS ENUM ('deliverable', 'risky', 'undeliverable', 'unknown')")
    q = any_db.quote
    any_db.execute(
        f"CREATE TABLE {q(table)} (id INTEGER PRIMARY KEY, email VARCHAR(320), status {status_type}, "
        "note VARCHAR(20) DEFAULT 'kept')"
    )
    any_db.execute(f"INSERT INTO {q(table)} (id, email, status) VALUES (1, 'ann@example.com', 'unknown')")
    yield any_db, table
    if any_db.family == "postgresql":
        any_db.execute(f"DROP TABLE IF EXISTS {q(table)}")
        any_db.execute(f"DROP TYPE {status_type}")


def test_upsert_and_replace_into_typed_columns(contacts: tuple[Database, str]):
    """The CRM sync: statuses written back by the contact's integer id, its other columns kept."""
    db, table = contacts
    results = with_ids(["ann@example.com", "bob@example.com"], [1, 2])
    load(db, table, results, mode="upsert", column_map=CRM_MAP, keys=("crm_id",))
    assert db.rows(table, ["id", "email", "status", "note"], order_by="id") == [
        (1, "ann@example.com", "deliverable", "kept"),
        (2, "bob@example.com", "risky", "kept"),
    ]
    load(db, table, with_ids(["carl@example.com"], [3]), mode="replace", column_map=CRM_MAP)
    assert db.rows(table, ["id", "email", "status", "note"], order_by="id") == [
        (3, "carl@example.com", "deliverable", "kept")
    ]


def test_generic_merge_into_typed_columns(postgres_db: Database):
    db = postgres_db
    status_type = unique_name("ev_status")
    db.execute(f"CREATE TYPE {status_type} AS ENUM ('deliverable', 'risky', 'undeliverable', 'unknown')")
    table = db.table("contacts")
    try:
        db.execute(f"CREATE TABLE {db.quote(table)} (id INTEGER, email VARCHAR(320), status {status_type})")
        db.execute(f"INSERT INTO {db.quote(table)} VALUES (1, 'ann@example.com', 'unknown')")
        results = with_ids(["ann@example.com", "bob@example.com"], [1, 2])
        load(db, table, results, mode="upsert", column_map=CRM_MAP, keys=("crm_id",), dialect_class=SqlDialect)
        assert db.rows(table, ["id", "email", "status"], order_by="id") == [
            (1, "ann@example.com", "deliverable"),
            (2, "bob@example.com", "risky"),
        ]
    finally:
        db.execute(f"DROP TABLE IF EXISTS {db.quote(table)}")
        db.execute(f"DROP TYPE {status_type}")


def test_created_tables_hold_long_addresses_and_pass_through_values(any_db: Database):
    """A junk "address" longer than any real one and a 70 kB note load like any other row."""
    table = any_db.table()
    long_email = "x" * 400 + "@example.com"
    note = "n" * 70_000
    results = [dataclasses.replace(r, extra={"note": note}) for r in sample_results([long_email, "b@example.com"])]
    column_map = {"email": "email", "status": "status", "note": "note"}
    for mode in ("append", "replace"):
        load(any_db, table, results, mode=mode, column_map=column_map)
        rows = any_db.rows(table, ["email", "note"], order_by="email")
        assert rows == [("b@example.com", note), (long_email, note)], mode


def percent_names_round_trip(db: Database, dialect: type[SqlDialect] | None) -> None:
    table = db.table("t%s_100%")
    column_map = {"email": "e%mail", "status": "status_%(x)s", "is_free": "100%"}
    load(db, table, sample_results(["a@example.com", "b@example.com"]), mode="upsert", column_map=column_map,
         dialect_class=dialect)
    again = sample_results(["b@example.com", "c@example.com"], job_id="j2")
    load(db, table, again, mode="upsert", column_map=column_map, dialect_class=dialect)
    assert [r[0] for r in db.rows(table, ["e%mail"], order_by="e%mail")] == [
        "a@example.com", "b@example.com", "c@example.com"
    ]
    load(db, table, again, mode="replace", column_map=column_map, dialect_class=dialect)
    load(db, table, sample_results(["d@example.com"]), mode="append", column_map=column_map, dialect_class=dialect)
    rows = db.rows(table, ["e%mail", "status_%(x)s"], order_by="e%mail")
    assert rows == [("b@example.com", "deliverable"), ("c@example.com", "risky"), ("d@example.com", "deliverable")]


@pytest.mark.parametrize("family", ["postgres", "sqlite"])
def test_an_upsert_leaves_rows_alone_whose_values_are_already_there(family: str, request: pytest.FixtureRequest):
    """A sync that changes one status updates one row: no new row version, one update trigger call."""
    db: Database = request.getfixturevalue(f"{family}_db")
    table, log = db.table("contacts"), db.table("updates")
    q = db.quote
    db.execute(f"CREATE TABLE {q(table)} (email VARCHAR(320) PRIMARY KEY, status VARCHAR(20), vendor_status VARCHAR(20))")
    db.execute(f"CREATE TABLE {q(log)} (email VARCHAR(320))")
    if db.family == "postgresql":
        function = unique_name("ev_log_update")
        db.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN INSERT INTO {q(log)} VALUES (NEW.email); RETURN NEW; END $$"
        )
        db.execute(f"CREATE TRIGGER logged AFTER UPDATE ON {q(table)} FOR EACH ROW EXECUTE FUNCTION {function}()")
    else:
        db.execute(
            f"CREATE TRIGGER {unique_name('logged')} AFTER UPDATE ON {q(table)} "
            f"BEGIN INSERT INTO {q(log)} VALUES (NEW.email); END"
        )
    columns = ["email", "status", "vendor_status"]
    results = sample_results(["a@example.com", "b@example.com", "c@example.com", "d@example.com"])
    load(db, table, results, mode="upsert", column_map=columns)
    load(db, table, results, mode="upsert", column_map=columns)  # the same statuses again
    assert db.rows(log, ["email"]) == []
    changed = [dataclasses.replace(r, status="risky", vendor_status="catchall") if r.email == "c@example.com" else r for r in results]
    load(db, table, changed, mode="upsert", column_map=columns)
    assert db.rows(log, ["email"]) == [("c@example.com",)]
    assert db.rows(table, columns, order_by="email") == [(r.email, r.status, r.vendor_status) for r in changed]
    if db.family == "postgresql":
        db.execute(f"DROP TABLE {q(table)}")
        db.execute(f"DROP FUNCTION {function}()")


def test_an_upsert_into_columns_without_equality_on_postgresql(postgres_db: Database):
    """A pass-through field mapped into a ``json`` column (a type with no ``=``) is upserted like any other."""
    table = postgres_db.table("contacts")
    postgres_db.execute(f"CREATE TABLE {table} (email TEXT PRIMARY KEY, status TEXT, profile JSON)")
    results = [
        dataclasses.replace(r, extra={"profile": '{"plan": "%s"}' % plan})
        for r, plan in zip(sample_results(["a@example.com", "b@example.com"]), ["free", "pro"])
    ]
    column_map = ["email", "status", "profile"]
    load(postgres_db, table, results, mode="upsert", column_map=column_map)
    results[1] = dataclasses.replace(results[1], extra={"profile": '{"plan": "team"}'})
    load(postgres_db, table, results, mode="upsert", column_map=column_map)
    rows = postgres_db.rows(table, ["email", "status"], order_by="email")
    assert rows == [(r.email, r.status) for r in results]
    plans = [r[0] for r in postgres_db.execute(f"SELECT profile->>'plan' FROM {table} ORDER BY email")]
    assert plans == ["free", "team"]


def test_percent_signs_in_names(any_db: Database):
    """``%`` in names is taken verbatim, also by drivers whose placeholder is ``%s`` (MySQL)."""
    percent_names_round_trip(any_db, None)


def test_percent_signs_in_names_through_the_generic_dialect(postgres_db: Database):
    percent_names_round_trip(postgres_db, SqlDialect)


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_a_nul_character_names_its_row_and_loads_nothing(
    postgres_db: Database, driver: str, monkeypatch: pytest.MonkeyPatch
):
    from airflow.providers.postgres.hooks import postgres

    monkeypatch.setattr(postgres, "USE_PSYCOPG3", driver == "psycopg")
    table = postgres_db.table()
    load(postgres_db, table, sample_results(["a@example.com"]))
    before = read(postgres_db, table)
    results = sample_results(["b@example.com", "nul\x00byte@example.com", "c@example.com"])
    with pytest.raises(ValueError, match=r"'nul\\x00byte@example.com' has a NUL character in column 'email'"):
        load(postgres_db, table, results)
    assert read(postgres_db, table) == before


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_non_ascii_text_round_trips_when_the_connection_asks_for_another_encoding(
    postgres_db: Database, driver: str, monkeypatch: pytest.MonkeyPatch
):
    """A connection whose extras set ``client_encoding`` (here LATIN1) still stores every character as sent."""
    import os

    from airflow.providers.postgres.hooks import postgres

    monkeypatch.setattr(postgres, "USE_PSYCOPG3", driver == "psycopg")
    variable = f"AIRFLOW_CONN_{postgres_db.conn_id.upper()}"
    monkeypatch.setenv(variable, os.environ[variable] + "?options=-c%20client_encoding%3DLATIN1")
    table = postgres_db.table()
    emails = ["ñandú@example.com", "zoë.o'brien@example.com", "müller@bücher.example"]
    for mode in ("append", "replace"):
        load(postgres_db, table, sample_results(emails), mode=mode)
        assert sorted(email for (email,) in postgres_db.rows(table, ["email"])) == sorted(emails)


def test_a_table_name_differing_only_in_case_is_refused(postgres_db: Database):
    """PostgreSQL folds unquoted names to lower case; ours are quoted, so "EV_X" would be a second table."""
    table = postgres_db.table()
    postgres_db.execute(f"CREATE TABLE {table} (email TEXT, status TEXT)")  # unquoted: stored lower case
    with pytest.raises(ValueError, match=rf'table "{table.upper()}" does not exist, but "{table}" does: .* pass table={table!r}'):
        load(postgres_db, table.upper(), sample_results(["a@example.com"]), column_map=["email", "status"])
    assert not postgres_db.exists(table.upper())
    load(postgres_db, table, sample_results(["a@example.com"]), column_map=["email", "status"])
    assert postgres_db.rows(table, ["email"]) == [("a@example.com",)]
