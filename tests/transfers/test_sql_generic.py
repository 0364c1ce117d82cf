# Licensed under the Apache License, Version 2.0.
"""
The generic SQL dialect, which every database without its own (Snowflake, Redshift, SQL Server,
Oracle, ...) gets, run against a real PostgreSQL server: ANSI DDL, batched ``executemany``, and
upsert through a staging table and one ``MERGE`` (PostgreSQL 15+ speaks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_provider_emailverify.transfers._sql_dialects import SqlDialect
from tests.transfers.conftest import TRICKY_EMAILS, sample_results
from tests.transfers.test_sql_writer import Boom, as_rows, failing_after, load, normalise, read

if TYPE_CHECKING:
    from tests.transfers.conftest import Database


@pytest.fixture
def pg(postgres_db: Database) -> Database:
    (version,) = postgres_db.execute("SHOW server_version_num")[0]
    assert int(version) >= 150000, "the generic dialect's MERGE needs PostgreSQL 15 or later"
    return postgres_db


def test_generic_append_and_replace_round_trip_exactly(pg: Database):
    table = pg.table()
    results = sample_results()
    load(pg, table, results, dialect_class=SqlDialect)
    assert read(pg, table) == sorted(as_rows(results), key=lambda r: r[0])
    newer = sample_results(TRICKY_EMAILS[:2], job_id="j2")
    load(pg, table, newer, mode="replace", dialect_class=SqlDialect)
    assert read(pg, table) == sorted(as_rows(newer), key=lambda r: r[0])


def test_generic_upsert_updates_mapped_columns_and_keeps_the_rest(pg: Database):
    """The sync case: statuses written back into a contacts table, its other columns untouched."""
    table = pg.table("contacts")
    q = pg.quote
    pg.execute(
        f"CREATE TABLE {q(table)} (id INTEGER, email VARCHAR(320), first_name VARCHAR(50), "
        f"email_status VARCHAR(20), email_checked BOOLEAN)"
    )
    # No unique key, and a key present twice: MERGE matches on the column, both rows are updated.
    pg.execute(
        f"INSERT INTO {q(table)} (id, email, first_name, email_status) VALUES "
        "(1, 'ann@example.com', 'Ann', 'old'), (2, 'bob@example.com', 'Bob', 'old'), "
        "(3, 'ann@example.com', 'Annie', 'old')"
    )
    results = sample_results(["ann@example.com", "carl@example.com", "ann@example.com"])
    column_map = {"email": "email", "status": "email_status", "is_catchall": "email_checked"}
    load(pg, table, results, mode="upsert", column_map=column_map, dialect_class=SqlDialect)
    columns = ["id", "email", "first_name", "email_status", "email_checked"]
    rows = [normalise(r, ["id", "email", "first_name", "email_status", "is_catchall"]) for r in pg.rows(table, columns)]
    assert sorted(rows, key=lambda r: (r[1], r[0] or 0)) == [
        # The last row of a repeated address wins (the third result: undeliverable, not catch-all).
        (1, "ann@example.com", "Ann", "undeliverable", True),
        (3, "ann@example.com", "Annie", "undeliverable", True),
        (2, "bob@example.com", "Bob", "old", None),
        (None, "carl@example.com", None, "risky", False),
    ]


def test_generic_upsert_creates_the_table_then_merges_on_a_composite_key(pg: Database):
    table = pg.table()
    first = sample_results(["a@example.com", "b@example.com"], job_id="j1")
    load(pg, table, first, mode="upsert", keys=("email", "job_id"), dialect_class=SqlDialect)
    again = sample_results(["b@example.com"], job_id="j1") + sample_results(["b@example.com"], job_id="j2")
    load(pg, table, again, mode="upsert", keys=("job_id", "email"), dialect_class=SqlDialect)
    assert [(r[0], r[-1]) for r in read(pg, table)] == [
        ("a@example.com", "j1"),
        ("b@example.com", "j1"),
        ("b@example.com", "j2"),
    ]


def test_generic_upsert_of_key_columns_only_inserts_new_addresses(pg: Database):
    table = pg.table()
    load(pg, table, sample_results(["a@example.com"]), mode="upsert", column_map=["email"], dialect_class=SqlDialect)
    both = sample_results(["a@example.com", "b@example.com"])
    load(pg, table, both, mode="upsert", column_map=["email"], dialect_class=SqlDialect)
    assert pg.rows(table, ["email"], order_by="email") == [("a@example.com",), ("b@example.com",)]


def test_generic_upsert_quotes_names_and_round_trips_tricky_addresses(pg: Database):
    table = pg.table('Odd "Table"; -- name')
    column_map = {"email": 'E-Mail "Address"', "status": "select", "is_free": "Free?"}
    results = sample_results()
    load(pg, table, results, mode="upsert", column_map=column_map, dialect_class=SqlDialect)
    load(pg, table, results, mode="upsert", column_map=column_map, dialect_class=SqlDialect)
    rows = pg.rows(table, list(column_map.values()))
    expected = as_rows(results, ["email", "status", "is_free"])
    assert sorted(normalise(r, ["email", "status", "is_free"]) for r in rows) == sorted(expected)


def test_generic_upsert_failing_part_way_leaves_the_table_as_it_was(pg: Database):
    table = pg.table()
    load(pg, table, sample_results(), mode="upsert", dialect_class=SqlDialect)
    before = read(pg, table)
    with pytest.raises(Boom):
        load(
            pg,
            table,
            failing_after(sample_results(job_id="j2"), 5),
            mode="upsert",
            batch_size=2,
            dialect_class=SqlDialect,
        )
    assert read(pg, table) == before
    # A row the database rejects (too long for the existing column) fails the load the same way.
    longest = max(len(row[3]) for row in before)
    pg.execute(f"ALTER TABLE {pg.quote(table)} ALTER COLUMN reason TYPE VARCHAR({longest})")
    rejected = sample_results(job_id="j3")
    rejected[-1].reason = "x" * (longest + 1)
    with pytest.raises(Exception, match="too long"):
        load(pg, table, rejected, mode="upsert", dialect_class=SqlDialect)
    assert read(pg, table) == before
