# Licensed under the Apache License, Version 2.0.
"""Bouncify hook: an Airflow connection (from the environment) to a working client, against the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.exceptions import InvalidRequestError, JobNotFoundError
from airflow_provider_emailverify.hooks.base import EmailVerificationHook, get_hook_class
from airflow_provider_emailverify.hooks.bouncify import BouncifyHook
from airflow_provider_emailverify.jobs import JobState
from tests.clients.vendor_cases import BOUNCIFY_BATCH, BOUNCIFY_SINGLE, neutral, records, wait_for
from tests.hooks.vendor_hooks import check_test_connection, conn_fields, default_hook, use_connection


@pytest.fixture
def hook(emulator, monkeypatch):
    return default_hook(monkeypatch, emulator, BouncifyHook, poll_interval=0.05)


def test_hook_attributes(emulator, monkeypatch):
    assert issubclass(BouncifyHook, EmailVerificationHook)
    assert (BouncifyHook.conn_type, BouncifyHook.default_conn_name, BouncifyHook.hook_name, BouncifyHook.vendor) == (
        "bouncify", "bouncify_default", "Bouncify", "bouncify",
    )
    assert get_hook_class("bouncify") is BouncifyHook
    assert BouncifyHook().dashboard_url("x") is None and not BouncifyHook().can_find_jobs
    assert {"job_id_in_path", "max_rows_per_job", "max_upload_bytes"} <= set(conn_fields("bouncify"))
    use_connection(monkeypatch, emulator, "bouncify")
    assert BouncifyHook().max_job_size == 200_000
    use_connection(monkeypatch, emulator, "bouncify", max_rows_per_job=500_000)
    assert BouncifyHook().max_job_size == 500_000


def test_whole_lifecycle_through_the_hook(hook, emulator):
    assert hook.test_connection()[0] is True
    assert hook.get_credits() == 1_000_000
    job_id = hook.submit_job(records(list(BOUNCIFY_BATCH)), name="hook-lifecycle")
    info = wait_for(hook, job_id)
    assert (info.state, info.total, info.processed) == (JobState.COMPLETED, len(BOUNCIFY_BATCH), len(BOUNCIFY_BATCH))
    rows = list(hook.iter_results(job_id))
    assert [(row.email, neutral(row)) for row in rows] == list(BOUNCIFY_BATCH.items())
    assert [row.extra for row in rows] == [{"id": str(i)} for i in range(len(BOUNCIFY_BATCH))]
    assert [r.email for r in hook.iter_results_by_status(job_id, ["undeliverable"])] == [
        e for e, v in BOUNCIFY_BATCH.items() if v[0] == "undeliverable"
    ]
    assert neutral(hook.verify_email("x@mailinator.com")) == BOUNCIFY_SINGLE["x@mailinator.com"]
    assert hook.get_credits() == 1_000_000 - len(BOUNCIFY_BATCH) - 1
    hook.cancel_job(job_id)  # completed: nothing to cancel
    hook.delete_job(job_id)
    with pytest.raises(JobNotFoundError):
        hook.get_job(job_id)
    assert emulator.stats()["jobs_created"]["bouncify"] == 1


@pytest.mark.parametrize("good", [True, False])
def test_test_connection(emulator, monkeypatch, good):
    check_test_connection(
        monkeypatch, emulator, BouncifyHook, good, says="credits", refused="Invalid API key", bad_key="wrong-key"
    )


async def test_async_status_and_cancel_through_the_hook(hook, emulator):
    emulator.set_faults(rows_per_second=5)
    job_id = hook.submit_job(records([f"user{i}@example.com" for i in range(100)]))
    info = await hook.aget_job(job_id)
    assert (info.job_id, info.state) == (job_id, JobState.RUNNING)
    with pytest.raises(InvalidRequestError, match="cannot stop a started list, it keeps running"):
        await hook.acancel_job(job_id)  # verifying lists cannot be stopped
    emulator.set_faults(rows_per_second=1_000_000)
    assert wait_for(hook, job_id).state == JobState.COMPLETED


def test_start_job_is_safe_to_repeat(hook):
    job_id = hook.submit_job(records(["a@example.com"]))
    hook.start_job(job_id)
    assert wait_for(hook, job_id).state == JobState.COMPLETED
