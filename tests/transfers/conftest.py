# Licensed under the Apache License, Version 2.0.
"""
Fixtures of the transfer tests: real PostgreSQL, MariaDB and SQLite databases, moto's S3 in
server mode, vendor connections pointing at the emulator, and tricky addresses.

Service addresses come from the environment (``POSTGRES_*``, ``MARIADB_*``; see
``tests/operators/conftest.py``); a missing service skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_emailverify.results import VerificationResult
from tests.operators.conftest import (  # noqa: F401 - fixtures shared with the operator tests
    MARIADB,
    POSTGRES,
    airflow_db,
    aws_conn_id,
    emulator_connections,
    mariadb_conn_id,
    moto_s3_url,
    postgres_conn_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle

#: Addresses that break naive CSV, COPY, JSON or SQL handling; each must come back byte for byte.
TRICKY_EMAILS = [
    '"quoted"@example.com',
    "comma,local@example.com",
    "o'brien@example.com",
    "semi;colon@example.com",
    "back\\slash@example.com",
    "\\N@example.com",
    "tab\there@example.com",
    "line\nbreak@example.com",
    "carriage\r\nreturn@example.com",
    "lone\rcarriage@example.com",
    "ünïcødé@exämple.com",
    "用户@例子.广告",
    "emoji😀@example.com",
    "NULL@example.com",
    "MixedCase@Example.COM",
]


def sample_results(emails: list[str] | None = None, *, job_id: str = "job-1") -> list[VerificationResult]:
    """Plain neutral rows covering every status and flag value (for writer-level tests)."""
    emails = emails if emails is not None else TRICKY_EMAILS
    statuses = ["deliverable", "risky", "undeliverable", "unknown"]
    flags = [True, False, None]
    rows = []
    for i, email in enumerate(emails):
        rows.append(
            VerificationResult(
                email=email,
                status=statuses[i % 4],
                vendor_status=["valid", "catchall", "invalid", "unknown"][i % 4],
                reason="" if i % 3 else 'reason, with "quotes"\nand\tcontrol',
                is_disposable=flags[i % 3],
                is_role=flags[(i + 1) % 3],
                is_free=flags[(i + 2) % 3],
                is_catchall=i % 2 == 0,
                is_syntax_error=None,
                suggestion=None if i % 2 else "gmail.com",
                vendor="neverbounce",
                job_id=job_id,
            )
        )
    return rows


def unique_name(prefix: str = "ev") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# -- raw database access (to check what the operators wrote) ---------------------------------------


class Database:
    """A raw DB-API connection to one of the test databases, plus the Airflow conn id naming it."""

    def __init__(self, family: str, conn_id: str, connect: Callable[[], Any], quote: str) -> None:
        self.family = family
        self.conn_id = conn_id
        self._connect = connect
        self.quote_char = quote
        self.created: list[str] = []

    def quote(self, name: str) -> str:
        q = self.quote_char
        return q + name.replace(q, q + q) + q

    def table(self, prefix: str = "ev") -> str:
        """A fresh table name, dropped after the test."""
        name = unique_name(prefix)
        self.created.append(name)
        return name

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            rows = list(cur.fetchall()) if cur.description else []
            conn.commit()
            return rows
        finally:
            conn.close()

    def rows(self, table: str, columns: list[str], order_by: str | None = None) -> list[tuple[Any, ...]]:
        cols = ", ".join(self.quote(c) for c in columns)
        order = f" ORDER BY {self.quote(order_by)}" if order_by else ""
        return [tuple(r) for r in self.execute(f"SELECT {cols} FROM {self.quote(table)}{order}")]

    def columns(self, table: str) -> list[str]:
        """The table's column names, in order."""
        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT * FROM {self.quote(table)} WHERE 1 = 0")
            names = [d[0] for d in cur.description]
            cur.fetchall()
            return names
        finally:
            conn.close()

    def exists(self, table: str) -> bool:
        if self.family == "sqlite":
            found = self.execute("SELECT name FROM sqlite_master WHERE type='table' AND name = ?", (table,))
        elif self.family == "mysql":
            found = self.execute(
                "SELECT TABLE_NAME FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                (table,),
            )
        else:
            found = self.execute("SELECT to_regclass(%s)", (self.quote(table),))
            found = [r for r in found if r[0] is not None]
        return bool(found)

    def drop_created(self) -> None:
        for name in self.created:
            try:
                self.execute(f"DROP TABLE IF EXISTS {self.quote(name)}")
            except Exception:  # noqa: BLE001 - cleanup must not hide the test's own result
                pass


def _pg_connect() -> Any:
    import psycopg

    return psycopg.connect(
        host=POSTGRES["host"],
        port=POSTGRES["port"],
        user=POSTGRES["user"],
        password=POSTGRES["password"] or None,
        dbname=POSTGRES["db"],
    )


def _maria_connect() -> Any:
    import MySQLdb

    return MySQLdb.connect(
        host=MARIADB["host"],
        port=MARIADB["port"],
        user=MARIADB["user"],
        password=MARIADB["password"],
        database=MARIADB["db"],
        charset="utf8mb4",
    )


@pytest.fixture
def postgres_db(postgres_conn_id: str) -> Iterator[Database]:  # noqa: F811
    db = Database("postgresql", postgres_conn_id, _pg_connect, '"')
    yield db
    db.drop_created()


@pytest.fixture
def mariadb_db(mariadb_conn_id: str) -> Iterator[Database]:  # noqa: F811
    db = Database("mysql", mariadb_conn_id, _maria_connect, "`")
    yield db
    db.drop_created()


@pytest.fixture
def sqlite_db(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    path = str(tmp_path / "results.db")
    monkeypatch.setenv("AIRFLOW_CONN_EMAILVERIFY_SQLITE", json.dumps({"conn_type": "sqlite", "host": path}))
    db = Database("sqlite", "emailverify_sqlite", lambda: sqlite3.connect(path), '"')
    yield db
    db.drop_created()


@pytest.fixture(params=["postgres", "mariadb", "sqlite"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """Each test database in turn."""
    return request.getfixturevalue(f"{request.param}_db")


# -- S3 -----------------------------------------------------------------------------------------------


@pytest.fixture
def s3_client(moto_s3_url: str) -> Any:  # noqa: F811
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto_s3_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    bucket = unique_name("bucket").replace("_", "-")
    s3_client.create_bucket(Bucket=bucket)
    return bucket


# -- vendors ------------------------------------------------------------------------------------------


def submit_and_wait(conn_id: str, emails: list[str] | list[dict[str, Any]], *, timeout: float = 60.0) -> str:
    """
    Create a job of ``emails`` (addresses, or records with pass-through fields besides ``email``)
    through the vendor hook and wait until the vendor completed it.
    """
    import time

    from airflow_provider_emailverify.hooks.base import hook_for_connection

    hook = hook_for_connection(conn_id)
    job_id = hook.submit_job(email if isinstance(email, dict) else {"email": email} for email in emails)
    deadline = time.monotonic() + timeout
    while True:
        info = hook.get_job(job_id)
        if info.is_terminal:
            assert str(info.state) == "completed", info
            return job_id
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {info.state} after {timeout}s")
        time.sleep(0.05)


def results_of(conn_id: str, *job_ids: str) -> list[VerificationResult]:
    """What the vendor hook reads back for the jobs (the reference the transfers must reproduce)."""
    from airflow_provider_emailverify.hooks.base import hook_for_connection

    hook = hook_for_connection(conn_id)
    return [result for job_id in job_ids for result in hook.iter_results(job_id)]


@pytest.fixture
def vendor(request: pytest.FixtureRequest, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> str:
    """A connection id for the vendor named by the test's ``vendor`` parameter (NeverBounce by default)."""
    conn_type = getattr(request, "param", "neverbounce")
    emulator.set_faults(rows_per_second=1_000_000)
    conn = json.loads(emulator.connection_json(conn_type))
    # Few, short retries: the failure tests make downloads break for good.
    conn["extra"] = {"max_retries": 2, "backoff_max": 0.05}
    conn_id = f"ev_{conn_type}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id
