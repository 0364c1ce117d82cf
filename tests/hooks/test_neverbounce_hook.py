# Licensed under the Apache License, Version 2.0.
"""NeverBounce hooks: an Airflow connection (from the environment) to a working client, against the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.exceptions import JobNotFoundError
from airflow_provider_emailverify.hooks.base import EmailVerificationHook
from airflow_provider_emailverify.hooks.neverbounce import NeverBounceHook, NeverBounceV3Hook
from airflow_provider_emailverify.jobs import JobState
from tests.clients.neverbounce_cases import COUNTS, VERDICTS, expected, neutral, records, wait_for
from tests.clients.test_neverbounce import serve_list
from tests.hooks.vendor_hooks import connection, default_hook


@pytest.fixture
def nb_hook(emulator, monkeypatch):
    return default_hook(monkeypatch, emulator, NeverBounceHook)


@pytest.fixture
def v3_hook(emulator, monkeypatch):
    return default_hook(monkeypatch, emulator, NeverBounceV3Hook, login="emuluser")


def test_hook_attributes():
    assert issubclass(NeverBounceHook, EmailVerificationHook) and issubclass(NeverBounceV3Hook, EmailVerificationHook)
    assert (NeverBounceHook.conn_type, NeverBounceHook.default_conn_name, NeverBounceHook.hook_name) == (
        "neverbounce",
        "neverbounce_default",
        "NeverBounce",
    )
    assert (NeverBounceV3Hook.conn_type, NeverBounceV3Hook.default_conn_name) == (
        "neverbounce_v3",
        "neverbounce_v3_default",
    )
    assert (NeverBounceHook.vendor, NeverBounceV3Hook.vendor) == ("neverbounce", "neverbounce_v3")
    assert NeverBounceHook.client_class().login_label is None
    assert NeverBounceV3Hook.client_class().login_label == "API username"
    assert NeverBounceV3Hook.get_ui_field_behaviour()["relabeling"]["login"] == "API username"
    behaviour = NeverBounceV3Hook.get_ui_field_behaviour()
    assert "login" not in behaviour["hidden-fields"] and behaviour["relabeling"]["password"] == "API secret"
    assert "login" in NeverBounceHook.get_ui_field_behaviour()["hidden-fields"]
    assert NeverBounceHook().dashboard_url("42").endswith("/42")
    assert NeverBounceHook().max_job_size == 100_000 and NeverBounceHook().can_find_jobs


def test_client_from_connection(nb_hook, emulator):
    client = nb_hook.get_conn()
    assert client.base_url == emulator.base_url("neverbounce")
    assert client.api_key == emulator.api_key
    assert client.retry.attempts == 10


def test_whole_lifecycle_through_the_hook(nb_hook, emulator):
    assert nb_hook.test_connection()[0] is True
    assert nb_hook.get_credits() == 1_000_000
    job_id = nb_hook.submit_job(records(), name="hook-lifecycle")
    assert nb_hook.find_job("hook-lifecycle") == job_id
    info = wait_for(nb_hook, job_id)
    assert (info.state, info.total, info.counts) == (JobState.COMPLETED, len(VERDICTS), COUNTS)
    rows = list(nb_hook.iter_results(job_id))
    assert [(row.email, neutral(row)) for row in rows] == [(e, expected(e, suggestion=False)) for e in VERDICTS]
    assert [neutral(row) for row in nb_hook.iter_json_results(job_id)] == [expected(e) for e in VERDICTS]
    single = nb_hook.verify_email("a@gmial.com")
    assert neutral(single) == expected("a@gmial.com")
    assert nb_hook.get_credits() < 1_000_000
    nb_hook.cancel_job(job_id)
    assert nb_hook.find_job("hook-lifecycle") is None


def test_vendor_only_features(nb_hook):
    server, url = serve_list(["ok@example.com", "x@catchall.test"])
    try:
        job_id = nb_hook.create_remote_job(url, name="hook-remote")
        wait_for(nb_hook, job_id)
        assert [(row.email, row.status, row.is_catchall) for row in nb_hook.iter_results(job_id)] == [
            ("ok@example.com", "deliverable", False),
            ("x@catchall.test", "risky", True),
        ]
    finally:
        server.shutdown()
    assert isinstance(
        nb_hook.confirm_poe(
            email="ok@example.com", transaction_id="NBPOE-TXN-1", confirmation_token="0" * 32, result="valid"
        ),
        bool,
    )
    assert nb_hook.account_info()["status"] == "success"


def test_bad_key_fails_test_connection(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NB_BAD", connection(emulator, "neverbounce", password="secret_badbadbadbad"))
    ok, message = NeverBounceHook("nb_bad").test_connection()
    assert ok is False and message and "secret_badbadbadbad" not in message


async def test_async_through_the_hook(nb_hook):
    job_id = nb_hook.submit_job(["ok@example.com"])
    wait_for(nb_hook, job_id)
    fresh = NeverBounceHook()  # reads the connection asynchronously
    info = await fresh.aget_job(job_id)
    assert info.state == JobState.COMPLETED
    await fresh.acancel_job(job_id)
    with pytest.raises(JobNotFoundError):
        nb_hook.get_job(job_id)


def test_v3_lifecycle_through_the_hook(v3_hook, emulator):
    client = v3_hook.get_conn()
    assert (client.username, client.api_key, client.base_url) == (
        "emuluser",
        emulator.api_key,
        emulator.base_url("neverbounce_v3"),
    )
    assert v3_hook.test_connection()[0] is True
    job_id = v3_hook.submit_job(records(), name="v3-hook")
    info = wait_for(v3_hook, job_id)
    assert (info.state, info.counts) == (JobState.COMPLETED, COUNTS)
    rows = list(v3_hook.iter_results(job_id))
    assert [neutral(row) for row in rows] == [expected(e, suggestion=False, v3=True) for e in VERDICTS]
    assert v3_hook.verify_email("x@mailinator.com").status == "risky"
    assert v3_hook.get_credits() < 1_000_000
    v3_hook.cancel_job(job_id)


async def test_v3_async_through_the_hook(v3_hook):
    job_id = v3_hook.submit_job(["ok@example.com"])
    wait_for(v3_hook, job_id)
    fresh = NeverBounceV3Hook()
    assert (await fresh.aget_job(job_id)).state == JobState.COMPLETED
    await fresh.acancel_job(job_id)
