# Licensed under the Apache License, Version 2.0.
"""Bouncer hook: an Airflow connection (from the environment) to a working client, against the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.exceptions import JobNotFoundError
from airflow_provider_emailverify.hooks.base import EmailVerificationHook, get_hook_class
from airflow_provider_emailverify.hooks.bouncer import BouncerHook
from airflow_provider_emailverify.jobs import JobState
from tests.clients.vendor_cases import BOUNCER, BOUNCER_COUNTS, neutral, records, wait_for
from tests.hooks.vendor_hooks import check_test_connection, conn_fields, default_hook


@pytest.fixture
def hook(emulator, monkeypatch):
    return default_hook(monkeypatch, emulator, BouncerHook, poll_interval=0.05)


def test_hook_attributes():
    assert issubclass(BouncerHook, EmailVerificationHook)
    assert (BouncerHook.conn_type, BouncerHook.default_conn_name, BouncerHook.hook_name, BouncerHook.vendor) == (
        "bouncer", "bouncer_default", "Bouncer", "bouncer",
    )
    assert get_hook_class("bouncer") is BouncerHook
    assert BouncerHook().max_job_size == 100_000 and not BouncerHook().can_find_jobs
    assert BouncerHook().dashboard_url("x") is None
    assert {"download_format", "verify_timeout", "callback_url"} <= set(conn_fields("bouncer"))
    behaviour = BouncerHook.get_ui_field_behaviour()
    assert behaviour["placeholders"]["host"] == "https://api.usebouncer.com"
    assert "login" in behaviour["hidden-fields"]


def test_client_from_connection(hook, emulator):
    client = hook.get_conn()
    assert (client.base_url, client.api_key, client.retry.attempts) == (emulator.base_url("bouncer"), emulator.api_key, 10)


def test_whole_lifecycle_through_the_hook(hook, emulator):
    assert hook.test_connection()[0] is True
    assert hook.get_credits() == 1_000_000
    job_id = hook.submit_job(records(list(BOUNCER)), name="hook-lifecycle")
    assert hook.find_job("hook-lifecycle") is None  # Bouncer cannot search batches
    info = wait_for(hook, job_id)
    assert (info.state, info.total, info.counts) == (JobState.COMPLETED, len(BOUNCER), BOUNCER_COUNTS)
    rows = list(hook.iter_results(job_id))
    assert [(row.email, neutral(row)) for row in rows] == list(BOUNCER.items())
    assert [r.email for r in hook.iter_results_by_status(job_id, "unknown")] == [
        e for e, v in BOUNCER.items() if v[0] == "unknown"
    ]
    assert neutral(hook.verify_email("a@gmial.com")) == BOUNCER["a@gmial.com"]
    assert hook.get_credits() < 1_000_000
    hook.cancel_job(job_id)  # completed: nothing to stop
    hook.delete_job(job_id)
    with pytest.raises(JobNotFoundError):
        hook.get_job(job_id)
    assert emulator.stats()["jobs_created"]["bouncer"] == 1


def test_cancel_finishes_a_running_batch(hook, emulator):
    emulator.set_faults(rows_per_second=5)
    job_id = hook.submit_job(records([f"user{i}@example.com" for i in range(300)]))
    hook.cancel_job(job_id)
    emulator.set_faults(rows_per_second=1_000_000)
    assert wait_for(hook, job_id).state == JobState.COMPLETED
    assert hook.get_credits() > 1_000_000 - 300  # the unverified part was refunded


@pytest.mark.parametrize("good", [True, False])
def test_test_connection(emulator, monkeypatch, good):
    check_test_connection(
        monkeypatch, emulator, BouncerHook, good, says="credits", refused="user not found", bad_key="wrong-key"
    )


async def test_async_status_and_cancel_through_the_hook(hook, emulator):
    emulator.set_faults(rows_per_second=5)
    job_id = hook.submit_job(records([f"user{i}@example.com" for i in range(300)]))
    info = await hook.aget_job(job_id)
    assert info.job_id == job_id and not info.is_terminal
    await hook.acancel_job(job_id)
    emulator.set_faults(rows_per_second=1_000_000)
    assert (await hook.aget_job(job_id)).state in (JobState.RUNNING, JobState.COMPLETED)


def test_vendor_only_features(hook):
    synced = hook.verify_batch_sync(["x@mailinator.com"])
    assert [neutral(r) for r in synced] == [BOUNCER["x@mailinator.com"]]
    assert hook.verify_domain("gmail.com")["domain"]["name"] == "gmail.com"
    list_id = hook.create_toxicity_list(["jane@usebouncer.com", "hello@usebouncer.com"])
    deadline = 200
    while hook.get_toxicity_list(list_id)["status"] != "completed" and deadline:
        deadline -= 1
        import time

        time.sleep(0.05)
    data = list(hook.iter_toxicity_data(list_id))
    assert sorted(d["email"] for d in data) == ["hello@usebouncer.com", "jane@usebouncer.com"]
    assert all(0 <= d["toxicity"] <= 5 for d in data)
    hook.delete_toxicity_list(list_id)
    with pytest.raises(JobNotFoundError, match="list not found"):
        hook.get_toxicity_list(list_id)
    sample = hook.create_sample(records(["a@example.com", "x@invalid.test"]))
    assert hook.get_sample(sample["id"])["id"] == sample["id"]
