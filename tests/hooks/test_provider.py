# Licensed under the Apache License, Version 2.0.
"""
Provider registration: Airflow lists the provider, and every connection type it registers is
accepted from an ``AIRFLOW_CONN_<ID>`` URI and from JSON and reaches the emulator.

The vendor hooks are written independently; the connection tests are parametrized over the
connection types whose hook module imports (all five once every vendor is in).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_emailverify import get_provider_info as provider_module

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
#: v3 is the only type with a login (the API username).
LOGINS = {"neverbounce_v3": "emuluser"}


def _importable_types() -> list[str]:
    types = []
    for conn_type, (hook_path, *_) in provider_module._CONNECTIONS.items():
        module, _, name = hook_path.rpartition(".")
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        types.append(conn_type)
    return types


CONN_TYPES = _importable_types()


def hook_class(conn_type: str):
    module, _, name = provider_module._CONNECTIONS[conn_type][0].rpartition(".")
    return getattr(importlib.import_module(module), name)


def _env_for_cli(tmp_path: Path) -> dict[str, str]:
    """Environment for the ``airflow`` CLI: its own home; the provider visible as a distribution."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["AIRFLOW_HOME"] = str(tmp_path / "home")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{tmp_path}/airflow.db"
    paths = [str(REPO)]
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("airflow-provider-emailverify")
    except PackageNotFoundError:
        # Not installed (`make install` installs it editable): expose the entry point the way an
        # install would, from a minimal dist-info next to the sources.
        dist = tmp_path / "site" / "airflow_provider_emailverify-0.1.0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: airflow-provider-emailverify\nVersion: 0.1.0\n")
        (dist / "entry_points.txt").write_text(
            "[apache_airflow_provider]\nprovider_info = airflow_provider_emailverify.get_provider_info:get_provider_info\n"
        )
        paths.insert(0, str(tmp_path / "site"))
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _json_output(stdout: str):
    """The JSON document the CLI printed after its log lines."""
    line = next(line for line in reversed(stdout.splitlines()) if line.startswith("[{") or line == "[]")
    return json.loads(line)


def test_airflow_lists_the_provider(tmp_path):
    result = subprocess.run(
        [str(AIRFLOW), "providers", "list", "-o", "json"],
        env=_env_for_cli(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    listed = {entry["package_name"]: entry for entry in _json_output(result.stdout)}
    assert "airflow-provider-emailverify" in listed


def test_cli_reads_a_connection_uri(tmp_path, emulator):
    env = _env_for_cli(tmp_path)
    # Airflow's URI form of a host with its own scheme: neverbounce://http://:KEY@127.0.0.1%3APORT%2Fneverbounce
    env["AIRFLOW_CONN_NB_CLI"] = _uri("neverbounce", emulator, emulator.api_key)
    result = subprocess.run(
        [str(AIRFLOW), "connections", "get", "nb_cli", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (conn,) = _json_output(result.stdout)
    assert (conn["conn_type"], conn["password"]) == ("neverbounce", emulator.api_key)
    assert conn["host"].startswith("http://127.0.0.1")


def test_every_registered_type_has_a_hook_entry():
    assert set(provider_module._CONNECTIONS) == {
        "neverbounce",
        "neverbounce_v3",
        "bouncer",
        "bouncify",
        "emailverifierapp",
    }
    assert {"neverbounce", "neverbounce_v3"} <= set(CONN_TYPES)
    for conn_type in CONN_TYPES:
        hook = hook_class(conn_type)
        assert (hook.conn_type, hook.default_conn_name) == (conn_type, f"{conn_type}_default")


def _uri(conn_type: str, emulator, password: str) -> str:
    from airflow.models.connection import Connection

    return Connection(
        conn_id="x",
        conn_type=conn_type,
        host=emulator.base_url(conn_type),
        login=LOGINS.get(conn_type),
        password=password,
        extra={"max_retries": 3, "backoff_max": 0.1},
    ).get_uri()


def _json(conn_type: str, emulator, password: str) -> str:
    conn = json.loads(emulator.connection_json(conn_type, password=password, login=LOGINS.get(conn_type)))
    conn["extra"] = {"max_retries": 3, "backoff_max": 0.1}
    return json.dumps(conn)


@pytest.mark.parametrize("form", ["uri", "json"])
@pytest.mark.parametrize("conn_type", CONN_TYPES)
def test_connection_from_environment(conn_type, form, emulator, monkeypatch):
    value = (_uri if form == "uri" else _json)(conn_type, emulator, emulator.api_key)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_type.upper()}_DEFAULT", value)
    hook = hook_class(conn_type)()
    client = hook.get_conn()
    assert client.base_url == emulator.base_url(conn_type)
    assert client.api_key == emulator.api_key
    assert client.retry.attempts == 3
    if conn_type in LOGINS:
        assert client.username == LOGINS[conn_type]


@pytest.mark.parametrize("conn_type", CONN_TYPES)
def test_test_connection_good_and_bad_key(conn_type, emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_GOOD", _json(conn_type, emulator, emulator.api_key))
    monkeypatch.setenv("AIRFLOW_CONN_BAD", _json(conn_type, emulator, "wrong-key-123456"))
    ok, message = hook_class(conn_type)("good").test_connection()
    assert ok is True, message
    ok, message = hook_class(conn_type)("bad").test_connection()
    assert ok is False and message
    assert "wrong-key-123456" not in message


@pytest.mark.parametrize("conn_type", [t for t in CONN_TYPES if t.startswith("neverbounce")])
def test_neverbounce_bad_key_message_is_the_vendors(conn_type, emulator, monkeypatch):
    from airflow_provider_emailverify.exceptions import AuthenticationError

    monkeypatch.setenv("AIRFLOW_CONN_BAD", _json(conn_type, emulator, "wrong-key-123456"))
    hook = hook_class(conn_type)("bad")
    with pytest.raises(AuthenticationError) as caught:
        hook.get_credits()
    assert hook.test_connection() == (False, caught.value.vendor_message)
