# Licensed under the Apache License, Version 2.0.
"""Run a DAG with ``dag.test()`` and read back what its tasks left in the metadata database."""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from airflow.sdk import DAG

#: Addresses with known verdicts in every emulated vendor (DESIGN.md, "The emulator").
KNOWN_LIST = [
    "alice@example.com",  # deliverable
    "bob@example.org",  # deliverable
    "invalid.person@example.com",  # undeliverable (rejected)
    "carol@nowhere.invalid",  # undeliverable (invalid domain)
    "dave@catchall.test",  # risky (catch-all)
    "erin@mailinator.com",  # risky (disposable)
    "unknown.frank@example.com",  # unknown
]
KNOWN_COUNTS = {"deliverable": 2, "risky": 2, "undeliverable": 2, "unknown": 1}


def make_dag(name: str, **kwargs: Any) -> DAG:
    """A DAG with no schedule and a dag id made from ``name`` (a test's node name)."""
    from airflow.sdk import DAG

    dag_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:200]
    return DAG(dag_id, schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False, **kwargs)


def sync_dag(dag: DAG) -> None:
    """
    Write ``dag`` to the metadata database, as the DAG processor would: ``dag.test()`` only runs
    DAGs it finds serialized there (or in a bundle), and a DAG built inside a test is in neither.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.commit()
        bundle = next(iter(DagBundlesManager().get_all_dag_bundles())).name
        update_dag_parsing_results_in_db(bundle, None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session)


def run_dag(dag: DAG) -> DagRun:
    """Run every task of ``dag`` in this process (deferred tasks' triggers run inline)."""
    sync_dag(dag)
    return dag.test()


def task_state(dagrun: DagRun, task_id: str) -> str:
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = dagrun.get_task_instance(task_id, session=session)
        return str(ti.state)


def task_try_number(dagrun: DagRun, task_id: str) -> int:
    from airflow.utils.session import create_session

    with create_session() as session:
        return int(dagrun.get_task_instance(task_id, session=session).try_number)


def xcoms(dagrun: DagRun, task_id: str) -> dict[str, Any]:
    """Every XCom the task left in the run: key -> value."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=dagrun.run_id, dag_ids=dagrun.dag_id, task_ids=task_id)
        ).all()
        return {row.key: XComModel.deserialize_value(row) for row in rows}
