# Licensed under the Apache License, Version 2.0.
"""Connections for the Bouncer, Bouncify and Email Verifier App hook tests (from the environment)."""

from __future__ import annotations

import json

#: Fast retries through the connection's common extras.
FAST = {"max_retries": 10, "backoff_max": 0.1}


def connection(emulator, conn_type: str, *, password: str | None = None, **extra) -> str:
    """An ``AIRFLOW_CONN_*`` JSON value for ``conn_type`` pointing at the emulator."""
    conn = json.loads(emulator.connection_json(conn_type, **({"password": password} if password else {})))
    conn["extra"] = {**FAST, **extra}
    return json.dumps(conn)


def use_connection(monkeypatch, emulator, conn_type: str, **kwargs) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_type.upper()}_DEFAULT", connection(emulator, conn_type, **kwargs))
