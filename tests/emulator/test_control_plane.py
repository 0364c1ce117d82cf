# Licensed under the Apache License, Version 2.0.
"""The emulator's vendor-neutral parts: control plane, statistics, resets, the command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_emailverify.emulator.core import classify


def config(emulator, **data):
    return requests.post(emulator.url + "/_emulator/config", json=data, timeout=10)


def test_config_roundtrip(emulator):
    response = config(emulator, error_rate=0.25, latency_ms=5, fail_jobs=True, seed=9, options={"neverbounce": {"x": 1}})
    assert response.status_code == 200
    body = response.json()
    assert body["error_rate"] == 0.25 and body["latency_ms"] == 5.0 and body["fail_jobs"] == 1.0 and body["seed"] == 9
    assert body["options"] == {"neverbounce": {"x": 1}}
    current = requests.get(emulator.url + "/_emulator/config", timeout=10).json()
    assert current == body
    assert set(current) == {"error_rate", "throttle_rate", "disconnect_rate", "latency_ms", "rows_per_second", "fail_jobs", "seed", "options"}


@pytest.mark.parametrize(
    "data",
    [
        {"error_rate": 1.5},
        {"throttle_rate": -0.1},
        {"disconnect_rate": 2},
        {"fail_jobs": 3},
        {"latency_ms": -1},
        {"rows_per_second": -5},
        {"error_rate": "lots"},
        {"no_such_field": 1},
    ],
)
def test_config_validation_is_400(emulator, data):
    response = config(emulator, **data)
    assert response.status_code == 400
    assert response.json()["error"]
    assert requests.get(emulator.url + "/_emulator/config", timeout=10).json()["error_rate"] == 0.0


def test_config_body_not_json_is_400(emulator):
    response = requests.post(emulator.url + "/_emulator/config", data="error_rate=1", timeout=10)
    assert response.status_code == 400


def test_stats_shape(emulator):
    base = emulator.base_url("neverbounce")
    requests.get(base + "/v4.2/single/check", params={"key": emulator.api_key, "email": "a@example.com"}, timeout=10)
    stats = requests.get(emulator.url + "/_emulator/stats", timeout=10).json()
    assert {"requests", "jobs_created", "credits_spent"} <= set(stats)
    assert stats["requests"] == {"neverbounce": {"/v4.2/single/check": 1}}
    assert stats["jobs_created"] == {}
    assert stats["credits_spent"] == {emulator.api_key: 1}
    assert all(isinstance(count, int) for paths in stats["requests"].values() for count in paths.values())


def test_control_plane_is_not_counted_nor_faulted(emulator):
    emulator.set_faults(error_rate=1.0, throttle_rate=1.0)
    for _ in range(3):
        assert requests.get(emulator.url + "/_emulator/stats", timeout=10).status_code == 200
    assert emulator.stats()["requests"] == {}


def test_reset_restores_credits_and_forgets_everything(emulator):
    base = emulator.base_url("neverbounce")
    config(emulator, error_rate=0.0, latency_ms=1, options={"neverbounce": {"max_concurrent_jobs": 2}})
    emulator.set_credits(10)
    for _ in range(3):
        requests.get(base + "/v4.2/single/check", params={"key": emulator.api_key, "email": "a@example.com"}, timeout=10)
    assert emulator.stats()["credits"][emulator.api_key] == 7
    response = requests.post(emulator.url + "/_emulator/reset", timeout=10)
    assert response.status_code == 200 and response.json() == {"reset": True}
    stats = requests.get(emulator.url + "/_emulator/stats", timeout=10).json()
    assert stats["credits"][emulator.api_key] == 1_000_000
    assert stats["requests"] == {} and stats["credits_spent"] == {} and stats["jobs_created"] == {}
    current = requests.get(emulator.url + "/_emulator/config", timeout=10).json()
    assert current["latency_ms"] == 0.0 and current["options"] == {}


def test_credits_endpoint(emulator):
    response = requests.post(emulator.url + "/_emulator/credits", json={"api_key": "new-key", "credits": 5}, timeout=10)
    assert response.json() == {"api_key": "new-key", "credits": 5}
    body = requests.get(
        emulator.base_url("neverbounce") + "/v4.2/account/info", params={"key": "new-key"}, timeout=10
    ).json()
    assert body["credits_info"]["paid_credits_remaining"] == 5


@pytest.mark.parametrize(
    ("email", "category", "kind"),
    [
        ("someone@example.com", "deliverable", "valid"),
        ("bad address", "undeliverable", "syntax"),
        ("a@invalid.test", "undeliverable", "invalid_domain"),
        ("a@host.invalid", "undeliverable", "invalid_domain"),
        ("invalid.x@example.com", "undeliverable", "rejected"),
        ("bounce@example.com", "undeliverable", "rejected"),
        ("a@catchall.test", "risky", "catchall"),
        ("a@guerrillamail.com", "risky", "disposable"),
        ("a@unknown.test", "unknown", "unknown"),
        ("unknown.x@example.com", "unknown", "unknown"),
    ],
)
def test_classify_rules(email, category, kind):
    verdict = classify(email)
    assert (verdict.category, verdict.kind) == (category, kind)


def test_classify_flags():
    assert classify("info@gmail.com").free and classify("info@gmail.com").role
    assert classify("x@gnail.com").suggestion == "x@gmail.com"
    assert classify("x@example.com").suggestion is None


def test_command_line_serves_until_killed():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_emailverify.emulator", "--port", "0", "--api-key", "cli-key", "--credits", "42"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"emulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line + process.stderr.read() if process.poll() is not None else line
        url = match.group(1)
        assert int(match.group(2)) > 0
        body = requests.get(url + "/neverbounce/v4.2/account/info", params={"key": "cli-key"}, timeout=10).json()
        assert body["credits_info"]["paid_credits_remaining"] == 42
        denied = requests.get(url + "/neverbounce/v4.2/account/info", params={"key": "emulator-key"}, timeout=10).json()
        assert denied["status"] == "auth_failure"
        assert requests.get(url + "/_emulator/stats", timeout=10).json()["requests"]["neverbounce"]["/v4.2/account/info"] == 2
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode is not None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/_emulator/stats", timeout=1)
        except requests.ConnectionError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the emulator kept serving after it was stopped")
