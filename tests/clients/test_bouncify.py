# Licensed under the Apache License, Version 2.0.
"""Bouncify v1 client over real HTTP against the emulator."""

from __future__ import annotations

from functools import partial

import pytest

from airflow_provider_emailverify.clients.base import ApiCall, RetryPolicy
from airflow_provider_emailverify.clients.bouncify import BouncifyClient
from airflow_provider_emailverify.clients.streams import multipart_body
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    PayloadTooLargeError,
    ThrottledError,
)
from airflow_provider_emailverify.jobs import JobState
from tests.clients.vendor_cases import (
    BOUNCIFY_BATCH,
    BOUNCIFY_SINGLE,
    check_creation_is_not_repeated,
    check_download_restarts,
    check_single_verdict,
    check_values_spanning_lines,
    counts,
    neutral,
    records,
    run_under_faults,
    vendor_client,
    wait_for,
)

VENDOR = "bouncify"


#: ``make_client(emulator, *, api_key=None, retry=FAST_RETRY, **extras)``
make_client = partial(vendor_client, BouncifyClient, poll_interval=0.05)


@pytest.mark.parametrize("email", list(BOUNCIFY_SINGLE))
def test_single_verdicts(client, email):
    check_single_verdict(client, email, BOUNCIFY_SINGLE)


@pytest.mark.parametrize("job_id_in_path", [True, False])
def test_list_lifecycle_and_every_neutral_column(emulator, job_id_in_path):
    emulator.set_faults(rows_per_second=1_000_000)
    client = make_client(emulator, job_id_in_path=job_id_in_path)
    job_id = client.submit_job(records(list(BOUNCIFY_BATCH)), name="lifecycle 1")
    info = wait_for(client, job_id)
    assert (info.job_id, info.state, info.vendor_status, info.progress) == (job_id, JobState.COMPLETED, "completed", 1.0)
    assert (info.total, info.processed) == (len(BOUNCIFY_BATCH), len(BOUNCIFY_BATCH))
    # the vendor's own counters, mapped: a deliverable flagged disposable is still counted deliverable
    assert info.counts == {**counts(BOUNCIFY_BATCH), "deliverable": 4, "risky": 1}
    rows = list(client.iter_results(job_id))
    assert [row.email for row in rows] == list(BOUNCIFY_BATCH)
    for index, row in enumerate(rows):
        assert neutral(row) == BOUNCIFY_BATCH[row.email], row
        assert (row.vendor, row.job_id, row.extra) == (VENDOR, job_id, {"id": str(index)})
    accept_all = list(client.iter_results(job_id, filter_result=["accept-all"]))
    assert [r.email for r in accept_all] == ["x@catchall.test"]
    with pytest.raises(InvalidRequestError, match="filter_result"):
        list(client.iter_results(job_id, filter_result=["risky"]))
    client.delete_job(job_id)
    with pytest.raises(JobNotFoundError):
        client.get_job(job_id)
    assert emulator.stats()["jobs_created"][VENDOR] == 1


def test_credits_are_spent_at_start(client):
    before = client.get_credits()
    job_id = client.submit_job(records(["a@example.com", "b@example.com", "c@example.com"]))
    wait_for(client, job_id)
    assert client.get_credits() == before - 3


@pytest.mark.parametrize("good", [True, False])
def test_test_connection(emulator, good):
    ok, message = make_client(emulator, api_key=None if good else "wrong-key").test_connection()
    assert ok is good
    assert ("credits" in message) if good else ("Invalid API key" in message)


def test_bad_key_everywhere(emulator):
    client = make_client(emulator, api_key="wrong-key")
    with pytest.raises(AuthenticationError, match="Invalid API Key") as caught:
        client.verify_email("a@example.com")
    assert caught.value.http_status == 401
    with pytest.raises(AuthenticationError):
        client.submit_job(records(["a@example.com"]))
    with pytest.raises(AuthenticationError):
        client.get_job("r374aki32rnatv868nntpxloc7dkilszc3eu")


def test_insufficient_credits_at_start_deletes_the_unstarted_list(emulator):
    emulator.set_faults(rows_per_second=1_000_000)
    client = make_client(emulator)
    emulator.set_credits(2)
    with pytest.raises(InsufficientCreditsError, match="Insufficient verification credits") as caught:
        client.submit_job(records(["a@example.com", "b@example.com", "c@example.com"]))
    assert caught.value.http_status == 402
    assert emulator.stats()["jobs_created"][VENDOR] == 1
    assert emulator.stats()["requests"][VENDOR].get("/v1/bulk/{job_id}", 0) >= 2  # status, start, delete
    emulator.set_credits(0)
    with pytest.raises(InsufficientCreditsError, match="Insufficient verification credits"):
        client.verify_email("a@example.com")


def test_unknown_and_malformed_job_ids(client):
    with pytest.raises(JobNotFoundError, match="Job not found") as caught:
        client.get_job("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert caught.value.http_status == 400
    with pytest.raises(JobNotFoundError, match="Invalid jobId"):
        client.get_job("nope")
    with pytest.raises(JobNotFoundError):
        list(client.iter_results("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
    with pytest.raises(JobNotFoundError):
        client.delete_job("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    client.cancel_job("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")  # already gone: nothing to do


def test_state_errors_while_verifying(emulator):
    emulator.set_faults(rows_per_second=2)
    client = make_client(emulator)
    job_id = client.submit_job(records([f"user{i}@example.com" for i in range(200)]))
    assert client.get_job(job_id).state == JobState.RUNNING
    with pytest.raises(JobNotReadyError, match="being verified") as caught:
        list(client.iter_results(job_id))
    assert caught.value.http_status == 400
    with pytest.raises(JobNotReadyError, match="cannot be deleted"):
        client.delete_job(job_id)
    client.start_job(job_id)  # "Verification has already started." is not an error
    with pytest.raises(InvalidRequestError, match=f"bouncify list {job_id} is verifying: .* it keeps running"):
        client.cancel_job(job_id)  # Bouncify cannot stop a verifying list: no caller may take it for cancelled
    assert client.get_job(job_id).state == JobState.RUNNING


def test_invalid_file_is_refused(client):
    content_type, generate = multipart_body(
        {}, file_field="local_file", filename="x.csv", content_type="text/csv", chunks=lambda: iter([b""])
    )
    call = ApiCall("POST", "/v1/bulk", "bulk upload", content=b"".join(generate()),
                   headers={"Content-Type": content_type})
    with pytest.raises(InvalidRequestError, match="Invalid file data") as caught:
        client.call(call)
    assert caught.value.http_status == 400


def test_upload_limits_are_checked_before_sending(emulator):
    client = make_client(emulator, max_upload_bytes=1000)
    with pytest.raises(PayloadTooLargeError, match=r"1000-byte limit at record 2\d;"):
        client.submit_job(records([f"someone.with.a.long.name{i}@example.com" for i in range(100)]))
    client = make_client(emulator, max_rows_per_job=10)
    with pytest.raises(PayloadTooLargeError, match="more than 10 records"):
        client.submit_job(records([f"u{i}@example.com" for i in range(11)]))
    assert emulator.stats()["jobs_created"].get(VENDOR, 0) == 0
    assert make_client(emulator, max_rows_per_job=10_000_000).max_job_size == 500_000
    assert BouncifyClient.max_job_size == 200_000


def test_bad_input_names_the_row(client):
    with pytest.raises(InvalidRequestError, match="record 3 has no email"):
        client.submit_job([{"email": "a@example.com"}, "b@example.com", {"email": " "}])


def test_throttled_single_verification(emulator):
    client = make_client(emulator, retry=RetryPolicy(attempts=2, initial=0.01, maximum=0.01, max_retry_after=0.01))
    emulator.set_faults(throttle_rate=1.0)
    with pytest.raises(ThrottledError) as caught:
        client.verify_email("a@example.com")
    assert caught.value.http_status == 429


def test_cancel_deletes_a_list_that_has_not_started(emulator):
    emulator.set_faults(rows_per_second=1_000_000)
    client = make_client(emulator)
    from airflow_provider_emailverify.clients.bouncify_formats import parse_job_id

    content_type, generate = multipart_body(
        {}, file_field="local_file", filename="x.csv", content_type="text/csv",
        chunks=lambda: iter([b"email\r\na@example.com\r\n"]),
    )
    job_id = client.call(ApiCall("POST", "/v1/bulk", "bulk upload", parse=parse_job_id,
                                 content=b"".join(generate()), headers={"Content-Type": content_type}))
    client.cancel_job(job_id)  # preparing -> ready -> deleted, never charged
    with pytest.raises(JobNotFoundError):
        client.get_job(job_id)


async def test_async_status_and_cancel(emulator):
    emulator.set_faults(rows_per_second=5)
    client = make_client(emulator)
    job_id = client.submit_job(records([f"user{i}@example.com" for i in range(100)]))
    async with client.async_client() as http:
        info = await client.aget_job(job_id, http)
        assert (info.job_id, info.state, info.total) == (job_id, JobState.RUNNING, 100)
        with pytest.raises(InvalidRequestError, match="cannot stop a started list"):
            await client.acancel_job(job_id, http)  # verifying: cannot be stopped
        emulator.set_faults(rows_per_second=1_000_000)
    assert wait_for(client, job_id).state == JobState.COMPLETED
    async with client.async_client() as http:
        await client.acancel_job(job_id, http)  # completed: nothing to do


def test_ten_thousand_addresses_under_faults_make_one_list(emulator):
    _seed, _uncertain, info, rows, emails = run_under_faults(emulator, VENDOR, lambda: make_client(emulator))
    assert info.state == JobState.COMPLETED and info.total == len(emails)
    assert [row.email for row in rows] == emails
    assert len(rows) == 10_000
    assert emulator.stats()["jobs_created"][VENDOR] == 1
    assert sum(emulator.stats()["faults"].values()) > 0


def test_a_broken_download_restarts_without_losing_or_repeating_rows(emulator):
    emulator.set_faults(rows_per_second=1_000_000)
    check_download_restarts(emulator, make_client(emulator), [f"user{i}@example.com" for i in range(10_000)])


def test_values_spanning_lines_survive_the_upload_the_download_and_its_restarts(emulator, caplog):
    """The quoted upload CSV carries line breaks; the quoted download gives them back."""
    emulator.set_faults(rows_per_second=1_000_000)
    check_values_spanning_lines(emulator, make_client(emulator), caplog)


def test_upload_is_retried_only_when_bouncify_surely_did_not_act(emulator):
    check_creation_is_not_repeated(emulator, make_client(emulator), error_rate=0.5, seed=5, rows_per_second=1_000_000)
