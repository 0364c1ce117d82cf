# Licensed under the Apache License, Version 2.0.
"""Email Verifier App client over real HTTP against the emulator."""

from __future__ import annotations

from functools import partial

import pytest

from airflow_provider_emailverify.clients.base import RetryPolicy
from airflow_provider_emailverify.clients.emailverifierapp import EmailVerifierAppClient
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    PayloadTooLargeError,
    TransientError,
)
from airflow_provider_emailverify.jobs import JobState
from tests.clients.vendor_cases import (
    EVA_BATCH,
    EVA_SINGLE,
    check_creation_is_not_repeated,
    check_download_restarts,
    check_single_verdict,
    neutral,
    records,
    run_under_faults,
    vendor_client,
    wait_for,
)

VENDOR = "emailverifierapp"


#: ``make_client(emulator, *, api_key=None, retry=FAST_RETRY, **extras)``
make_client = partial(vendor_client, EmailVerifierAppClient)


@pytest.mark.parametrize("email", list(EVA_SINGLE))
def test_real_time_verdicts(client, email):
    check_single_verdict(client, email, EVA_SINGLE)


def test_attribute_page_body_profile(client, emulator):
    emulator.set_option(VENDOR, profile="B")
    catchall, disposable, syntax = (client.verify_email(e) for e in ("x@catchall.test", "x@mailinator.com", "bad syntax"))
    assert (catchall.status, catchall.vendor_status, catchall.is_catchall) == ("risky", "risky", True)
    assert (disposable.status, disposable.is_disposable, disposable.is_catchall) == ("risky", True, False)
    assert (syntax.status, syntax.reason, syntax.is_syntax_error) == ("undeliverable", "Invalid Email", True)
    typo = client.verify_email("a@gmial.com")
    assert (typo.status, typo.suggestion) == ("deliverable", "a@gmail.com")


def test_form_validation(client):
    row = client.validate_form_email("info@gmail.com")
    assert (row.status, row.is_role, row.is_free) == ("deliverable", True, True)


def test_batch_lifecycle_and_every_neutral_column(client, emulator):
    job_id = client.submit_job(records(list(EVA_BATCH)), name="lifecycle")
    info = wait_for(client, job_id)
    assert (info.job_id, info.state, info.vendor_status, info.progress) == (job_id, JobState.COMPLETED, "Completed", 1.0)
    links = client.get_result_links(job_id)
    assert sorted(links) == ["invalid", "unknown", "valid"]
    rows = list(client.iter_results(job_id))
    # three files, in the order valid, invalid, unknown: compare per address
    assert sorted(row.email for row in rows) == sorted(EVA_BATCH)
    for row in rows:
        assert neutral(row) == EVA_BATCH[row.email], row
        assert (row.vendor, row.job_id) == (VENDOR, job_id)
    files = [{"Valid": 0, "Invalid": 1}.get(row.vendor_status, 2) for row in rows]
    assert files == sorted(files)  # the valid file, then the invalid file, then the unknown file
    assert emulator.stats()["jobs_created"][VENDOR] == 1


@pytest.mark.parametrize("job_id_format", ["scalar", "number"])
def test_batch_process_id_shapes(client, emulator, job_id_format):
    emulator.set_option(VENDOR, job_id_format=job_id_format)
    job_id = client.submit_job(records(["a@example.com"]))
    assert job_id and wait_for(client, job_id).state == JobState.COMPLETED


def test_unpublished_size_limits_are_connection_extras(emulator):
    """No limits are published: rows per job and upload bytes come from the connection, checked before sending."""
    emulator.set_faults(rows_per_second=1_000_000)
    assert EmailVerifierAppClient.max_job_size == 100_000
    assert make_client(emulator).max_upload_bytes is None
    client = make_client(emulator, max_rows_per_job=10)
    assert client.max_job_size == 10
    with pytest.raises(PayloadTooLargeError, match="more than 10 records"):
        client.submit_job(records([f"u{i}@example.com" for i in range(11)]))
    client = make_client(emulator, max_upload_bytes=100)
    with pytest.raises(PayloadTooLargeError, match=r"the upload file passes the 100-byte limit at record 6;"):
        client.submit_job(records([f"user{i}@example.com" for i in range(10)]))  # 19 bytes a line
    assert emulator.stats()["jobs_created"].get(VENDOR, 0) == 0
    job_id = client.submit_job(records([f"user{i}@example.com" for i in range(5)]))
    assert wait_for(client, job_id).state == JobState.COMPLETED
    assert make_client(emulator, max_rows_per_job=10_000_000).max_job_size == 10_000_000  # no vendor cap known


def test_no_credits_endpoint_and_no_cancel(client, emulator):
    assert client.get_credits() is None
    job_id = client.submit_job(records(["a@example.com"]))
    with pytest.raises(InvalidRequestError, match=f"emailverifierapp job {job_id} cannot be cancelled"):
        client.cancel_job(job_id)
    assert wait_for(client, job_id).state == JobState.COMPLETED  # nothing was sent: it ran on


@pytest.mark.parametrize("good", [True, False])
@pytest.mark.parametrize("errors_as_200", [False, True])
def test_test_connection(emulator, good, errors_as_200):
    emulator.set_option(VENDOR, errors_as_200=errors_as_200)
    ok, message = make_client(emulator, api_key=None if good else "wrong-token").test_connection()
    assert ok is good
    assert ("accepted" in message) if good else ("Invalid API Token" in message)


@pytest.mark.parametrize("errors_as_200", [False, True])
def test_documented_errors(emulator, errors_as_200):
    """Every error of the spec's [ASSUMED] table, with its own HTTP status or inside a 200 answer."""
    emulator.set_option(VENDOR, errors_as_200=errors_as_200)
    emulator.set_faults(rows_per_second=1_000_000)
    client = make_client(emulator)
    code = (lambda status: 200 if errors_as_200 else status)

    with pytest.raises(AuthenticationError, match="Invalid API Token") as caught:
        make_client(emulator, api_key="wrong-token").verify_email("a@example.com")
    assert caught.value.http_status == code(401)
    with pytest.raises(AuthenticationError, match="Invalid API Token"):
        make_client(emulator, api_key="wrong-token").submit_job(records(["a@example.com"]))

    with pytest.raises(JobNotFoundError, match="Job not found") as caught:
        client.get_job("999999")
    assert caught.value.http_status == code(404)
    with pytest.raises(JobNotFoundError):
        list(client.iter_results("999999"))

    with pytest.raises(InvalidRequestError, match="Missing parameter: email") as caught:
        client.verify_email("")
    assert caught.value.http_status == code(400)

    emulator.set_credits(2)
    with pytest.raises(InsufficientCreditsError, match="Insufficient API credit") as caught:
        client.submit_job(records(["a@example.com", "b@example.com", "c@example.com"]))
    assert caught.value.http_status == code(402)
    emulator.set_credits(0)
    with pytest.raises(InsufficientCreditsError, match="Insufficient API credit"):
        client.verify_email("a@example.com")
    assert emulator.stats()["jobs_created"].get(VENDOR, 0) == 0


def test_an_address_with_a_line_break_is_refused_before_uploading(client, emulator):
    """The upload file holds one address per line: a line break would split the address."""
    with pytest.raises(InvalidRequestError, match="record 2 has a line break in its email address"):
        client.submit_job([{"email": "a@example.com"}, {"email": "line\nbreak@example.com"}])
    with pytest.raises(InvalidRequestError, match="record 1 has a line break"):
        client.submit_job(["carriage\r@example.com"])
    assert emulator.stats()["jobs_created"].get(VENDOR, 0) == 0


def test_results_before_completion(emulator):
    emulator.set_faults(rows_per_second=2)
    client = make_client(emulator)
    job_id = client.submit_job(records([f"user{i}@example.com" for i in range(100)]))
    with pytest.raises(JobNotReadyError, match="not finished"):
        list(client.iter_results(job_id))


def test_batch_paths_are_connection_extras(emulator):
    client = make_client(emulator, progress_path="/jobprogress/")
    with pytest.raises(InvalidRequestError, match="check the batch path extras"):
        client.get_job("1")
    renamed = make_client(emulator, progress_path="/job_progress/", results_path="/get_results/")
    assert renamed.test_connection()[0] is True


def test_server_errors_surface_after_retries(emulator):
    client = make_client(emulator, retry=RetryPolicy(attempts=2, initial=0.01, maximum=0.01))
    emulator.set_faults(error_rate=1.0)
    with pytest.raises(TransientError):
        client.verify_email("a@example.com")


async def test_async_status_and_cancel(emulator):
    emulator.set_faults(rows_per_second=1_000_000)
    client = make_client(emulator)
    job_id = client.submit_job(records(["a@example.com", "b@example.com"]))
    async with client.async_client() as http:
        info = await client.aget_job(job_id, http)
        assert info.job_id == job_id
        with pytest.raises(InvalidRequestError, match="cannot be cancelled"):
            await client.acancel_job(job_id, http)  # no vendor endpoint
        with pytest.raises(JobNotFoundError):
            await client.aget_job("999999", http)
    assert wait_for(client, job_id).state == JobState.COMPLETED


def test_ten_thousand_addresses_under_faults_make_one_job(emulator):
    _seed, _uncertain, info, rows, emails = run_under_faults(emulator, VENDOR, lambda: make_client(emulator))
    assert info.state == JobState.COMPLETED
    assert len(rows) == 10_000
    assert sorted(row.email for row in rows) == sorted(emails)
    assert emulator.stats()["jobs_created"][VENDOR] == 1
    assert sum(emulator.stats()["faults"].values()) > 0


def test_broken_result_files_restart_without_losing_or_repeating_rows(emulator):
    emulator.set_faults(rows_per_second=1_000_000)
    emails = [f"user{i}@example.com" for i in range(5_000)] + [f"u{i}@invalid.test" for i in range(5_000)]
    check_download_restarts(emulator, make_client(emulator), emails, ordered=False)


def test_upload_is_retried_only_when_the_vendor_surely_did_not_act(emulator):
    check_creation_is_not_repeated(emulator, make_client(emulator), error_rate=0.5, seed=5, rows_per_second=1_000_000)
