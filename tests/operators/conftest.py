# Licensed under the Apache License, Version 2.0.
"""
Airflow harness shared by the operator, sensor, trigger and example-DAG tests.

``airflow_db`` (session scope) creates the metadata database of the throwaway ``AIRFLOW_HOME``
that ``tests/conftest.py`` set up, once per session; tests that run tasks or ``dag.test()``
request it (directly or through ``emulator_connections``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle

#: connection type -> default connection id, as DESIGN.md names them.
EMULATOR_CONN_TYPES = ("neverbounce", "neverbounce_v3", "bouncer", "bouncify", "emailverifierapp")


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """The session's Airflow metadata database, migrated to the installed Airflow's head."""
    from airflow.utils import db

    db.initdb()
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture
def emulator_connections(
    airflow_db: str, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmulatorHandle]:
    """``AIRFLOW_CONN_<TYPE>_DEFAULT`` for every vendor, pointing at the (reset) emulator."""
    for conn_type in EMULATOR_CONN_TYPES:
        login = "emulator-user" if conn_type == "neverbounce_v3" else None
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_type.upper()}_DEFAULT", emulator.connection_json(conn_type, login=login)
        )
    yield emulator
