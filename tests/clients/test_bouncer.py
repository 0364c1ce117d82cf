# Licensed under the Apache License, Version 2.0.
"""Bouncer v1.1 client over real HTTP against the emulator."""

from __future__ import annotations

import logging
from functools import partial

import pytest

from airflow_provider_emailverify.clients.base import RetryPolicy
from airflow_provider_emailverify.clients.bouncer import BouncerClient
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    PayloadTooLargeError,
    ThrottledError,
    TransientError,
)
from airflow_provider_emailverify.jobs import JobState
from tests.clients.vendor_cases import (
    BOUNCER,
    BOUNCER_COUNTS,
    check_creation_is_not_repeated,
    check_download_restarts,
    check_single_verdict,
    check_values_spanning_lines,
    neutral,
    records,
    run_under_faults,
    vendor_client,
    wait_for,
)

VENDOR = "bouncer"


#: ``make_client(emulator, *, api_key=None, retry=FAST_RETRY, **extras)``
make_client = partial(vendor_client, BouncerClient, poll_interval=0.05)


@pytest.mark.parametrize("email", list(BOUNCER))
def test_real_time_verdicts(client, email):
    check_single_verdict(client, email, BOUNCER)


@pytest.mark.parametrize("download_format", ["json", "csv"])
def test_batch_lifecycle_and_every_neutral_column(emulator, download_format):
    emulator.set_faults(rows_per_second=1_000_000)
    client = make_client(emulator, download_format=download_format)
    submitted = [{"email": e, "name": f"n{i}"} for i, e in enumerate(BOUNCER)]
    job_id = client.submit_job(submitted, name="lifecycle")
    assert len(job_id) == 24
    info = wait_for(client, job_id)
    assert (info.job_id, info.state, info.vendor_status, info.progress) == (job_id, JobState.COMPLETED, "completed", 1.0)
    assert (info.total, info.processed, info.counts) == (len(BOUNCER), len(BOUNCER), BOUNCER_COUNTS)
    rows = list(client.iter_results(job_id))
    assert [row.email for row in rows] == list(BOUNCER)
    for index, row in enumerate(rows):
        assert neutral(row) == BOUNCER[row.email], row
        assert (row.vendor, row.job_id, row.extra) == (VENDOR, job_id, {"name": f"n{index}"})
    risky = list(client.iter_results(job_id, download="risky"))
    assert sorted(r.email for r in risky) == sorted(e for e, v in BOUNCER.items() if v[0] == "risky")
    assert emulator.stats()["jobs_created"][VENDOR] == 1


@pytest.mark.parametrize("download_format", ["json", "csv"])
def test_repeated_addresses_merged_by_bouncer_are_reported(emulator, download_format, caplog):
    """
    Bouncer collapses repeats (its ``duplicates`` count): fewer result rows than submitted
    records. The user is told at submission and by the batch's status, not left to notice.
    """
    emulator.set_faults(rows_per_second=1_000_000)
    client = make_client(emulator, download_format=download_format)
    emails = [f"user{i}@example.com" for i in range(13)] + ["dup@example.com", "dup@example.com", "DUP@example.com"]
    note = "2 repeated addresses are merged by Bouncer: results hold one row per distinct address"
    with caplog.at_level(logging.WARNING, logger="airflow_provider_emailverify.clients.bouncer"):
        job_id = client.submit_job(records(emails), name="repeats")
    assert f"bouncer batch {job_id}: {note}" in caplog.text
    info = wait_for(client, job_id)
    assert (info.state, info.total, info.processed, info.message) == (JobState.COMPLETED, 16, 14, note)
    rows = [row.email for row in client.iter_results(job_id)]
    assert len(rows) == 14 and rows.count("dup@example.com") == 1 and "DUP@example.com" not in rows
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_emailverify.clients.bouncer"):
        distinct = client.submit_job(records(emails[:13]))
    assert "merged" not in caplog.text
    assert wait_for(client, distinct).message is None


def test_credits_are_reserved_and_spent(client, emulator):
    assert client.get_credits() == 1_000_000
    job_id = client.submit_job(records(["a@example.com", "b@example.com"]))
    wait_for(client, job_id)
    assert client.get_credits() == 1_000_000 - 2


@pytest.mark.parametrize("good", [True, False])
def test_test_connection(emulator, good):
    ok, message = make_client(emulator, api_key=None if good else "wrong-key").test_connection()
    assert ok is good
    assert ("credits" in message) if good else ("user not found" in message)


def test_missing_key_is_an_authentication_error(emulator):
    with pytest.raises(AuthenticationError, match="api key is required") as caught:
        make_client(emulator, api_key="").get_credits()
    assert caught.value.http_status == 401


def test_insufficient_credits(emulator):
    client = make_client(emulator)
    emulator.set_credits(1)
    with pytest.raises(InsufficientCreditsError, match="1 credits left") as caught:
        client.submit_job(records(["a@example.com", "b@example.com"]))
    assert (caught.value.http_status, caught.value.credits_left, caught.value.vendor_message) == (402, 1, "1 credits left")
    emulator.set_credits(0)
    with pytest.raises(InsufficientCreditsError, match="0 credits left"):
        client.verify_email("someone@example.com")
    assert emulator.stats()["jobs_created"].get(VENDOR, 0) == 0


def test_unknown_batch(client):
    with pytest.raises(JobNotFoundError, match="does not exist") as caught:
        client.get_job("0123456789abcdef01234567")
    assert caught.value.http_status == 404
    with pytest.raises(JobNotFoundError):
        list(client.iter_results("0123456789abcdef01234567"))


def test_state_errors_finish_delete_and_download(emulator):
    emulator.set_faults(rows_per_second=2)
    client = make_client(emulator)
    job_id = client.submit_job(records([f"user{i}@example.com" for i in range(200)]))
    with pytest.raises(JobNotReadyError, match="batch is not completed") as caught:
        list(client.iter_results(job_id))
    assert caught.value.http_status == 405
    with pytest.raises(JobNotReadyError, match="cannot be deleted"):
        client.delete_job(job_id)
    emulator.set_faults(rows_per_second=1_000_000)
    wait_for(client, job_id)
    with pytest.raises(JobNotReadyError, match="has to be running to finish") as caught:
        client.finish_job(job_id)
    assert caught.value.http_status == 400
    client.delete_job(job_id)
    with pytest.raises(JobNotFoundError):
        client.get_job(job_id)
    with pytest.raises(JobNotFoundError):  # 404, or 405 "results have been removed"
        list(client.iter_results(job_id))


def test_too_many_emails_is_refused_locally_and_by_bouncer(emulator):
    client = make_client(emulator)
    with pytest.raises(PayloadTooLargeError, match="more than 100000"):
        client.submit_job(records([f"u{i}@example.com" for i in range(100_001)]))
    assert emulator.stats()["requests"].get(VENDOR, {}).get("/v1.1/email/verify/batch", 0) == 0
    client.max_job_size = 200_000  # let the vendor refuse it
    with pytest.raises(PayloadTooLargeError, match="too many emails") as caught:
        client.submit_job(records([f"u{i}@example.com" for i in range(100_001)]))
    assert caught.value.http_status == 400
    with pytest.raises(PayloadTooLargeError, match="at most 10000"):
        client.verify_batch_sync([f"u{i}@example.com" for i in range(10_001)])


def test_bad_input_names_the_row(client, emulator):
    with pytest.raises(InvalidRequestError, match="record 2 has no email"):
        client.submit_job([{"email": "a@example.com"}, {"mail": "b@example.com"}])
    with pytest.raises(InvalidRequestError, match="no records"):
        client.submit_job([])
    assert emulator.stats()["jobs_created"].get(VENDOR, 0) == 0


def test_throttling_and_server_errors_surface_after_retries(emulator):
    client = make_client(emulator, retry=RetryPolicy(attempts=2, initial=0.01, maximum=0.01, max_retry_after=0.01))
    emulator.set_faults(throttle_rate=1.0)
    with pytest.raises(ThrottledError, match="too many requests") as caught:
        client.get_credits()
    assert caught.value.http_status == 429
    emulator.set_faults(throttle_rate=0.0, error_rate=1.0)
    with pytest.raises(TransientError) as caught:
        client.get_credits()
    assert caught.value.http_status == 503


def test_cancel_finishes_a_running_batch_and_refunds(emulator):
    emulator.set_faults(rows_per_second=5)
    client = make_client(emulator)
    job_id = client.submit_job(records([f"user{i}@example.com" for i in range(500)]))
    client.cancel_job(job_id)  # waits for queued -> processing, then finishes
    info = wait_for(client, job_id)
    assert info.state == JobState.COMPLETED
    rows = list(client.iter_results(job_id))
    assert len(rows) <= 500
    assert client.get_credits() > 1_000_000 - 500
    client.cancel_job(job_id)  # completed: nothing to do
    client.delete_job(job_id)
    client.cancel_job(job_id)  # gone: nothing to do


async def test_async_status_and_cancel(emulator):
    emulator.set_faults(rows_per_second=5)
    client = make_client(emulator)
    job_id = client.submit_job(records([f"user{i}@example.com" for i in range(500)]))
    async with client.async_client() as http:
        info = await client.aget_job(job_id, http)
        assert info.job_id == job_id and info.state in (JobState.QUEUED, JobState.RUNNING)
        await client.acancel_job(job_id, http)
        emulator.set_faults(rows_per_second=1_000_000)
        info = await client.aget_job(job_id, http)
    assert wait_for(client, job_id).state == JobState.COMPLETED


def test_ten_thousand_addresses_under_faults_make_one_batch(emulator):
    _seed, _uncertain, info, rows, emails = run_under_faults(emulator, VENDOR, lambda: make_client(emulator))
    assert info.state == JobState.COMPLETED and info.total == len(emails)
    assert len(rows) == len(emails) == 10_000
    assert [row.email for row in rows] == emails
    assert emulator.stats()["jobs_created"][VENDOR] == 1
    assert sum(emulator.stats()["faults"].values()) > 0


def test_vendor_only_endpoints(client, emulator):
    synced = client.verify_batch_sync(["info@gmail.com", "x@catchall.test"])
    assert [neutral(r) for r in synced] == [BOUNCER["info@gmail.com"], BOUNCER["x@catchall.test"]]
    domain = client.verify_domain("usebouncer.com")
    assert domain["domain"]["name"] == "usebouncer.com"
    list_id = client.create_toxicity_list(["jane@usebouncer.com", "hello@usebouncer.com"])
    assert client.get_toxicity_list(list_id)["id"] == list_id
    sample = client.create_sample(records(["a@example.com", "x@invalid.test", "y@catchall.test"]))
    assert client.get_sample(sample["id"])["emails"] == 3


def test_a_broken_download_restarts_without_losing_or_repeating_rows(emulator):
    emulator.set_faults(rows_per_second=1_000_000)
    check_download_restarts(emulator, make_client(emulator), [f"user{i}@example.com" for i in range(10_000)])


@pytest.mark.parametrize("download_format", ["json", "csv"])
def test_values_spanning_lines_survive_the_download_and_its_restarts(emulator, caplog, download_format):
    """Line breaks in addresses and names travel in the JSON batch and come back from either download."""
    emulator.set_faults(rows_per_second=1_000_000)
    client = make_client(emulator, download_format=download_format)
    check_values_spanning_lines(emulator, client, caplog, key="name")


def test_creation_is_retried_only_when_bouncer_surely_did_not_act(emulator):
    """503 and 429 say the request was not handled: retried. A lost answer is not: one batch at most."""
    check_creation_is_not_repeated(emulator, make_client(emulator), error_rate=0.5, throttle_rate=0.3, seed=5)
