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


# -- local database services ----------------------------------------------------------------------
# Addresses come from the environment (defaults: the local services of the dev machine). A test that
# needs a service that is not reachable is skipped on a laptop and FAILS under CI=true.
POSTGRES = {
    "host": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
    "port": int(os.environ.get("POSTGRES_PORT", "5432")),
    "user": os.environ.get("POSTGRES_USER", "postgres"),
    "password": os.environ.get("POSTGRES_PASSWORD", ""),
    "db": os.environ.get("POSTGRES_DB", "test"),
}
MARIADB = {
    "host": os.environ.get("MARIADB_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MARIADB_PORT", "3306")),
    "user": os.environ.get("MARIADB_USER", "root"),
    "password": os.environ.get("MARIADB_PASSWORD", ""),
    "db": os.environ.get("MARIADB_DB", "test"),
}


def service_missing(what: str, err: BaseException) -> None:
    """Skip locally, fail in CI: a missing service must never turn a CI run green."""
    message = f"{what} is not reachable: {err}"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(message + " (CI=true: services are required)")
    pytest.skip(message)


def _conn_uri(scheme: str, service: dict) -> str:
    from urllib.parse import quote

    auth = quote(service["user"], safe="")
    if service["password"]:
        auth += ":" + quote(service["password"], safe="")
    return f"{scheme}://{auth}@{service['host']}:{service['port']}/{service['db']}"


@pytest.fixture
def postgres_conn_id(monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection id (``emailverify_pg``) for the test PostgreSQL database."""
    import psycopg

    try:
        psycopg.connect(
            host=POSTGRES["host"], port=POSTGRES["port"], user=POSTGRES["user"],
            password=POSTGRES["password"] or None, dbname=POSTGRES["db"], connect_timeout=5,
        ).close()
    except Exception as err:
        service_missing(f"PostgreSQL at {POSTGRES['host']}:{POSTGRES['port']}", err)
    monkeypatch.setenv("AIRFLOW_CONN_EMAILVERIFY_PG", _conn_uri("postgresql", POSTGRES))
    return "emailverify_pg"


@pytest.fixture
def mariadb_conn_id(monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection id (``emailverify_maria``) for the test MariaDB/MySQL database."""
    import MySQLdb

    try:
        MySQLdb.connect(
            host=MARIADB["host"], port=MARIADB["port"], user=MARIADB["user"],
            password=MARIADB["password"], database=MARIADB["db"], connect_timeout=5,
        ).close()
    except Exception as err:
        service_missing(f"MariaDB at {MARIADB['host']}:{MARIADB['port']}", err)
    monkeypatch.setenv("AIRFLOW_CONN_EMAILVERIFY_MARIA", _conn_uri("mysql", MARIADB))
    return "emailverify_maria"


@pytest.fixture(scope="session")
def moto_s3_url() -> Iterator[str]:
    """moto's S3 in server mode on a free loopback port (real HTTP, as boto3/s3fs speak it)."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_conn_id(moto_s3_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow AWS connection id (``emailverify_aws``) whose S3 is the moto server."""
    import json

    monkeypatch.setenv(
        "AIRFLOW_CONN_EMAILVERIFY_AWS",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": moto_s3_url, "region_name": "us-east-1"},
            }
        ),
    )
    return "emailverify_aws"
