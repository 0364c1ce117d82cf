# Licensed under the Apache License, Version 2.0.
"""
The example DAGs parse, and each runs to success with ``dag.test()`` against the emulator,
deferral included (``dag.test()`` runs a deferred task's trigger in line and resumes the task).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from tests.operators._dagrun import xcoms

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
DAG_IDS = sorted(path.stem for path in EXAMPLE_DAGS.glob("example_*.py"))
STATUSES = ("deliverable", "risky", "undeliverable", "unknown")

pytestmark = pytest.mark.timeout(300)


def counts(deliverable=0, risky=0, undeliverable=0, unknown=0) -> dict[str, int]:
    return {"deliverable": deliverable, "risky": risky, "undeliverable": undeliverable, "unknown": unknown}


def test_every_example_dag_parses():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    assert sorted(bag.dags) == DAG_IDS == sorted(
        [
            "example_backfill_archive", "example_bouncer", "example_bouncify", "example_crm_sync",
            "example_emailverifierapp", "example_neverbounce", "example_neverbounce_v3",
        ]
    )
    for dag in bag.dags.values():
        assert dag.doc_md and "AIRFLOW_CONN_" in dag.doc_md, f"{dag.dag_id} does not document its connections"


@pytest.fixture
def crm_db(tmp_path) -> Path:
    return tmp_path / "crm.sqlite"


@pytest.fixture
def example_env(emulator_connections, crm_db, monkeypatch, caplog):
    """Emulator connections for every vendor, a SQLite CRM database and a short polling interval."""
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", json.dumps({"conn_type": "sqlite", "host": str(crm_db)}))
    monkeypatch.setenv("EMAILVERIFY_EXAMPLE_POLL_SECONDS", "0.5")
    caplog.set_level(logging.INFO, logger="airflow.sdk.definitions.dag")
    # Slow enough that no job is finished at the operator's first look, so every DAG defers.
    emulator_connections.set_faults(rows_per_second=4)
    return emulator_connections


def run(dag_id: str, caplog, **kwargs):
    """Parse the DAG file afresh (it reads the environment at parse time) and ``dag.test()`` it."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS / f"{dag_id}.py"))
    assert bag.import_errors == {}
    caplog.clear()
    dagrun = bag.dags[dag_id].test(**kwargs)
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in dagrun.get_task_instances()}
    assert dagrun.state == "success", states
    assert set(states.values()) == {"success"}, states
    return dagrun


def inline_triggers(caplog) -> int:
    """How many deferrals ``dag.test()`` resolved by running the trigger in line."""
    return sum("running trigger in line" in record.getMessage() for record in caplog.records)


def test_example_neverbounce(example_env, caplog):
    dagrun = run("example_neverbounce", caplog)
    summary = xcoms(dagrun, "verify")["return_value"]
    assert summary["vendor"] == "neverbounce" and summary["state"] == "completed"
    assert summary["counts"] == counts(deliverable=3, risky=2, undeliverable=1, unknown=1)
    assert xcoms(dagrun, "show_results")["return_value"] == 7
    assert inline_triggers(caplog) == 1
    assert example_env.stats()["jobs_created"] == {"neverbounce": 1}


def test_example_neverbounce_v3(example_env, caplog):
    dagrun = run("example_neverbounce_v3", caplog)
    summary = xcoms(dagrun, "verify")["return_value"]
    assert summary["vendor"] == "neverbounce_v3" and summary["total"] == 10
    assert summary["counts"] == counts(deliverable=4, risky=2, undeliverable=3, unknown=1)
    assert inline_triggers(caplog) == 0  # deferrable=False: waits on the worker
    assert example_env.stats()["jobs_created"] == {"neverbounce_v3": 1}


def test_example_bouncer(example_env, caplog):
    dagrun = run("example_bouncer", caplog)
    submitted = xcoms(dagrun, "submit")["return_value"]
    assert submitted["vendor"] == "bouncer" and len(submitted["job_ids"]) == 1
    assert xcoms(dagrun, "show_results")["return_value"] == counts(deliverable=3, risky=1, undeliverable=1, unknown=1)
    assert inline_triggers(caplog) == 1  # the sensor waited in the trigger; the submitting task did not wait
    assert example_env.stats()["jobs_created"] == {"bouncer": 1}


def test_example_bouncify(example_env, caplog):
    dagrun = run("example_bouncify", caplog)
    summary = xcoms(dagrun, "verify")["return_value"]
    assert summary["vendor"] == "bouncify" and summary["total"] == 7  # the blank line is skipped
    assert summary["counts"] == counts(deliverable=4, risky=1, undeliverable=1, unknown=1)
    assert inline_triggers(caplog) == 1


def test_example_emailverifierapp(example_env, caplog):
    dagrun = run("example_emailverifierapp", caplog)
    summary = xcoms(dagrun, "verify")["return_value"]
    assert summary["vendor"] == "emailverifierapp"
    assert summary["counts"] == counts(deliverable=3, risky=2, undeliverable=1, unknown=1)
    assert xcoms(dagrun, "deliverable_only")["return_value"] == [
        "alice@example.com", "bob@icloud.com", "sales@example.com",
    ]
    assert inline_triggers(caplog) == 1


def test_example_backfill_archive_maps_one_task_per_file(example_env, caplog):
    dagrun = run("example_backfill_archive", caplog)
    files = xcoms(dagrun, "list_files")["return_value"]
    assert [Path(f).name for f in files] == ["2024-01.csv", "2024-02.txt", "2024-03.csv.gz"]
    verify_tis = [ti for ti in dagrun.get_task_instances() if ti.task_id == "verify"]
    assert sorted(ti.map_index for ti in verify_tis) == [0, 1, 2]
    total = xcoms(dagrun, "total")["return_value"]
    assert total["files"] == 3 and len(set(total["job_ids"])) == 3
    assert total["counts"] == counts(deliverable=7, risky=2, undeliverable=2, unknown=1)
    assert inline_triggers(caplog) == 3
    assert example_env.stats()["jobs_created"] == {"neverbounce": 3}


def test_example_crm_sync_upserts_statuses_back(example_env, crm_db, caplog):
    expected = counts(deliverable=4, risky=2, undeliverable=3, unknown=1)
    dagrun = run("example_crm_sync", caplog)
    assert xcoms(dagrun, "verify")["return_value"]["counts"] == expected
    assert xcoms(dagrun, "report")["return_value"] == expected
    assert inline_triggers(caplog) == 1
    with sqlite3.connect(crm_db) as conn:
        assert conn.execute("select count(*) from email_verification").fetchone() == (10,)
        assert conn.execute("select email_status from contacts where id = 1007").fetchone() == ("undeliverable",)
        assert conn.execute("select first_name from contacts where id = 1007").fetchone() == ("Frank",)

    # Again, on another vendor: a vendor switch is a conn_id change, and the upserts replace rows.
    dagrun = run("example_crm_sync", caplog, run_conf={"vendor_conn_id": "bouncer_default"})
    assert xcoms(dagrun, "verify")["return_value"]["vendor"] == "bouncer"
    assert xcoms(dagrun, "report")["return_value"] == expected
    with sqlite3.connect(crm_db) as conn:
        assert conn.execute("select count(*), min(vendor), max(vendor) from email_verification").fetchone() == (
            10, "bouncer", "bouncer",
        )
        assert conn.execute("select count(*) from contacts").fetchone() == (10,)
