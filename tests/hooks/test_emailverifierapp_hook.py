# Licensed under the Apache License, Version 2.0.
"""Email Verifier App hook: an Airflow connection (from the environment) to a working client, against the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.exceptions import InvalidRequestError
from airflow_provider_emailverify.hooks.base import EmailVerificationHook, get_hook_class
from airflow_provider_emailverify.hooks.emailverifierapp import EmailVerifierAppHook
from airflow_provider_emailverify.jobs import JobState
from tests.clients.vendor_cases import EVA_BATCH, EVA_SINGLE, neutral, records, wait_for
from tests.hooks.vendor_hooks import check_test_connection, conn_fields, default_hook, use_connection


@pytest.fixture
def hook(emulator, monkeypatch):
    return default_hook(monkeypatch, emulator, EmailVerifierAppHook)


def test_hook_attributes():
    assert issubclass(EmailVerifierAppHook, EmailVerificationHook)
    assert (
        EmailVerifierAppHook.conn_type, EmailVerifierAppHook.default_conn_name, EmailVerifierAppHook.hook_name,
        EmailVerifierAppHook.vendor,
    ) == ("emailverifierapp", "emailverifierapp_default", "Email Verifier App", "emailverifierapp")
    assert get_hook_class("emailverifierapp") is EmailVerifierAppHook
    assert EmailVerifierAppHook().dashboard_url("x") is None and not EmailVerifierAppHook().can_find_jobs
    fields = conn_fields("emailverifierapp")
    assert {"batch_path", "progress_path", "results_path", "batch_file_field", "job_id_field"} <= set(fields)
    own = EmailVerifierAppHook.client_class().connection_extras
    assert all("[ASSUMED" in spec["description"] for spec in own.values())
    assert EmailVerifierAppHook.get_ui_field_behaviour()["relabeling"]["password"] == "API token (user_API_token)"


def test_whole_lifecycle_through_the_hook(hook, emulator):
    assert hook.test_connection()[0] is True
    assert hook.get_credits() is None
    job_id = hook.submit_job(records(list(EVA_BATCH)), name="hook-lifecycle")
    assert wait_for(hook, job_id).state == JobState.COMPLETED
    assert sorted(hook.get_result_links(job_id)) == ["invalid", "unknown", "valid"]
    rows = list(hook.iter_results(job_id))
    assert sorted((row.email, neutral(row)) for row in rows) == sorted(EVA_BATCH.items())
    assert neutral(hook.verify_email("x@catchall.test")) == EVA_SINGLE["x@catchall.test"]
    assert hook.validate_form_email("info@gmail.com", ev_score=True).is_role is True
    with pytest.raises(InvalidRequestError, match="cannot be cancelled .*: it keeps running"):
        hook.cancel_job(job_id)  # the vendor has no cancel: no caller may take the job for cancelled
    assert emulator.stats()["jobs_created"]["emailverifierapp"] == 1


def test_size_limits_are_connection_extras(emulator, monkeypatch):
    assert {"max_rows_per_job", "max_upload_bytes"} <= set(conn_fields("emailverifierapp"))
    use_connection(monkeypatch, emulator, "emailverifierapp")
    assert (EmailVerifierAppHook().max_job_size, EmailVerifierAppHook().client.max_upload_bytes) == (100_000, None)
    use_connection(monkeypatch, emulator, "emailverifierapp", max_rows_per_job=250_000, max_upload_bytes=5_000_000)
    assert (EmailVerifierAppHook().max_job_size, EmailVerifierAppHook().client.max_upload_bytes) == (250_000, 5_000_000)


def test_assumed_extras_reach_the_client(emulator, monkeypatch):
    use_connection(monkeypatch, emulator, "emailverifierapp", progress_path="/no_such_path/")
    ok, message = EmailVerifierAppHook().test_connection()
    assert ok is False and "check the batch path extras" in message


@pytest.mark.parametrize("good", [True, False])
def test_test_connection(emulator, monkeypatch, good):
    check_test_connection(
        monkeypatch, emulator, EmailVerifierAppHook, good,
        says="accepted", refused="Invalid API Token", bad_key="wrong-token",
    )


async def test_async_status_and_cancel_through_the_hook(hook):
    job_id = hook.submit_job(records(["a@example.com"]))
    assert (await hook.aget_job(job_id)).job_id == job_id
    with pytest.raises(InvalidRequestError, match="cannot be cancelled"):
        await hook.acancel_job(job_id)
