# Licensed under the Apache License, Version 2.0.
"""
Upsert keys of the tables the SQL transfer creates, against real PostgreSQL, MariaDB and SQLite:
a natural key of a table holding the results of many jobs and vendors, loaded by the operator
from jobs the emulator verified over HTTP, and keys of many columns.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from airflow_provider_emailverify.results import NEUTRAL_COLUMNS
from tests.transfers.conftest import results_of, sample_results, submit_and_wait
from tests.transfers.test_results_to_sql import KNOWN, to_sql
from tests.transfers.test_sql_writer import as_rows, load, read

if TYPE_CHECKING:
    from tests.transfers.conftest import Database

NATURAL_KEY = ["email", "job_id", "vendor"]


def test_upsert_on_email_job_and_vendor_updates_statuses_in_place(vendor: str, any_db: Database):
    """Results of two jobs of the same addresses side by side; a rerun of one refreshes its rows."""
    first = submit_and_wait(vendor, KNOWN)
    second = submit_and_wait(vendor, KNOWN)
    table = any_db.table()
    to_sql(vendor, any_db, table, [first, second], mode="upsert", key_columns=NATURAL_KEY)
    assert len(any_db.rows(table, ["email"])) == 2 * len(KNOWN)

    q = any_db.quote
    any_db.execute(f"UPDATE {q(table)} SET status = 'stale', vendor_status = 'stale' WHERE job_id = '{first}'")
    summary = to_sql(vendor, any_db, table, first, mode="upsert", key_columns=NATURAL_KEY)

    assert summary["rows"] == len(KNOWN)
    rows = any_db.rows(table, ["email", "job_id", "vendor", "status", "vendor_status"])
    assert len(rows) == 2 * len(KNOWN)
    expected = results_of(vendor, first, second)
    assert sorted(rows) == sorted(as_rows(expected, ["email", "job_id", "vendor", "status", "vendor_status"]))


def test_a_key_of_every_neutral_column_fits(any_db: Database):
    """Whatever neutral columns make the key, the created table takes it (values at their usual sizes)."""
    table = any_db.table()
    # Key columns cannot be null: every flag and the suggestion are given.
    known = {"is_disposable": False, "is_role": True, "is_free": False, "is_syntax_error": False}
    results = [
        dataclasses.replace(r, **known, suggestion="a@gmail.com", reason="low_deliverability")
        for r in sample_results(["a@example.com", "b@example.com"], job_id="5f8a3c2e9b1d4e7fa0c6b2d1")
    ]
    load(any_db, table, results, mode="upsert", keys=NEUTRAL_COLUMNS)
    load(any_db, table, results[1:], mode="upsert", keys=NEUTRAL_COLUMNS)
    assert read(any_db, table) == as_rows(results)


def test_a_key_too_long_for_mariadb_is_refused_before_loading(vendor: str, mariadb_db: Database):
    """Two pass-through key columns beside the address: more than InnoDB's 3,072 bytes a key."""
    records = [{"email": "alice@example.com", "crm_id": "A-1", "list_id": "spring"}]
    job_id = submit_and_wait(vendor, records)
    table = mariadb_db.table()
    column_map = {"email": "email", "crm_id": "crm_id", "list_id": "list_id", "status": "status"}
    message = (
        r"cannot create table `ev_\w+` with the upsert key \(`email`, `crm_id`, `list_id`\): its columns "
        r"take 3,320 bytes \(`email` VARCHAR\(320\): 1,280 bytes, `crm_id` VARCHAR\(255\): "
        r"1,020 bytes, `list_id` VARCHAR\(255\): 1,020 bytes; .*over the 3,072 bytes .* nothing was loaded"
    )
    with pytest.raises(ValueError, match=message):
        to_sql(
            vendor, mariadb_db, table, job_id, mode="upsert", column_map=column_map,
            key_columns=["email", "crm_id", "list_id"],
        )
    assert not mariadb_db.exists(table)


@pytest.mark.parametrize("mode", ["upsert", "replace"])
def test_a_value_too_long_for_its_key_column_names_its_row_and_loads_nothing(
    vendor: str, mariadb_db: Database, mode: str
):
    """
    Refused, not cut to fit, even where the server's SQL mode is not strict: two ids that differ
    only past the column's size would otherwise become one key.
    """
    column_map = {"email": "email", "crm_id": "crm_id", "status": "status"}
    first = submit_and_wait(vendor, [{"email": "before@example.com", "crm_id": "B-1"}])
    table = mariadb_db.table()
    to_sql(vendor, mariadb_db, table, first, mode="upsert", column_map=column_map, key_columns=["email", "crm_id"])
    before = mariadb_db.rows(table, ["email", "crm_id", "status"])

    long_id = "crm-" + "9" * 296
    records = [{"email": f"p{i}@example.com", "crm_id": f"C-{i}"} for i in range(5)]
    records.insert(3, {"email": "long.id@example.com", "crm_id": long_id})
    job_id = submit_and_wait(vendor, records)
    message = (
        r"row 4 of the load \(address 'long.id@example.com'\) has 300 characters in column `crm_id`, more "
        r"than its type varchar\(255\) holds: 'crm-9999.*'\.\.\.\. .*nothing was loaded"
    )
    with pytest.raises(ValueError, match=message):
        to_sql(
            vendor, mariadb_db, table, job_id, mode=mode, column_map=column_map, key_columns=["email", "crm_id"],
            batch_size=2, sql_hook_params={"init_command": "SET SESSION sql_mode = ''"},
        )
    assert mariadb_db.rows(table, ["email", "crm_id", "status"]) == before
