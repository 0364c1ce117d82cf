# Licensed under the Apache License, Version 2.0.
"""Connections and hooks for the vendor hook tests (from the environment), against the emulator."""

from __future__ import annotations

import json

#: Fast retries through the connection's common extras.
FAST = {"max_retries": 10, "backoff_max": 0.1}


def connection(emulator, conn_type: str, *, password: str | None = None, login: str | None = None, **extra) -> str:
    """An ``AIRFLOW_CONN_*`` JSON value for ``conn_type`` pointing at the emulator."""
    conn = json.loads(emulator.connection_json(conn_type, login=login, **({"password": password} if password else {})))
    conn["extra"] = {**FAST, **extra}
    return json.dumps(conn)


def use_connection(monkeypatch, emulator, conn_type: str, **kwargs) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_type.upper()}_DEFAULT", connection(emulator, conn_type, **kwargs))


def default_hook(monkeypatch, emulator, hook_class, *, poll_interval: float | None = None, **kwargs):
    """
    ``hook_class`` on its default connection to the emulator (``kwargs``: see :func:`connection`),
    rows verified at once; ``poll_interval`` shortens its client's waits.
    """
    emulator.set_faults(rows_per_second=1_000_000)
    use_connection(monkeypatch, emulator, hook_class.conn_type, **kwargs)
    hook = hook_class()
    if poll_interval is not None:
        hook.client.poll_interval = poll_interval
    return hook


def check_test_connection(
    monkeypatch, emulator, hook_class, good: bool, *, says: str, refused: str, bad_key: str
) -> None:
    """
    ``test_connection`` of a default ``hook_class`` connection works with the emulator's key (its
    message containing ``says``) and fails with ``bad_key`` (the vendor's ``refused`` text, never the key).
    """
    use_connection(monkeypatch, emulator, hook_class.conn_type, **({} if good else {"password": bad_key}))
    ok, message = hook_class().test_connection()
    assert ok is good
    assert (says in message) if good else (refused in message)
    assert bad_key not in message


def conn_fields(conn_type: str) -> dict:
    """The connection form's extras as Airflow's UI reads them (provider info ``conn-fields``)."""
    from airflow_provider_emailverify.get_provider_info import get_provider_info

    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type]
    return entry["conn-fields"]
