# Licensed under the Apache License, Version 2.0.
"""NeverBounce v3 client (OAuth tokens) over real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_emailverify.clients.base import RetryPolicy
from airflow_provider_emailverify.clients.neverbounce_v3 import NeverBounceV3Client
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    InsufficientCreditsError,
    JobNotFoundError,
    TransientError,
)
from airflow_provider_emailverify.jobs import JobState
from tests.clients.neverbounce_cases import COUNTS, FAST_RETRY, VERDICTS, expected, neutral, records, wait_for
from tests.clients.vendor_cases import MULTILINE_EMAILS, check_values_spanning_lines

#: The v3 API username; the emulator's API key is the v3 API secret.
USERNAME = "emuluser"


#: A few quick tries, so that tries squared would stand out.
OUTAGE_RETRY = RetryPolicy(attempts=4, initial=0.001, maximum=0.01)


def make_client(
    emulator, *, secret: str | None = None, retry: RetryPolicy = FAST_RETRY, **extras
) -> NeverBounceV3Client:
    return NeverBounceV3Client(
        username=USERNAME,
        api_key=emulator.api_key if secret is None else secret,
        base_url=emulator.base_url("neverbounce_v3"),
        retry=retry,
        extras=extras,
    )


def v3_requests(emulator, endpoint: str) -> int:
    counters = emulator.stats()["requests"].get("neverbounce_v3", {})
    return sum(n for path, n in counters.items() if path.rstrip("/").endswith("/" + endpoint))


def requests_made(emulator) -> int:
    """Every request the emulator got: those its endpoints answered and those answered by a fault."""
    stats = emulator.stats()
    return sum(stats["faults"].values()) + sum(n for paths in stats["requests"].values() for n in paths.values())


@pytest.mark.parametrize("email", list(VERDICTS))
def test_single_verdicts_with_code_names(client, email):
    row = client.verify_email(email)
    status, vendor_status, disposable, _, _, catchall, syntax, _ = expected(email)
    assert (row.email, row.status, row.vendor_status, row.is_disposable, row.is_catchall) == (
        email,
        status,
        vendor_status,
        disposable,
        catchall,
    )
    assert (row.is_role, row.is_free, row.suggestion, row.vendor) == (None, None, None, "neverbounce_v3")
    assert row.is_syntax_error in (syntax, None)


def test_job_lifecycle(client, emulator):
    job_id = client.submit_job(records(), name="v3-lifecycle")
    info = wait_for(client, job_id)
    assert info.state == JobState.COMPLETED, info
    assert (info.job_id, info.vendor_status, info.total, info.processed) == (job_id, "4", len(VERDICTS), len(VERDICTS))
    assert info.counts == COUNTS
    rows = list(client.iter_results(job_id))
    assert [row.email for row in rows] == list(VERDICTS)
    for index, row in enumerate(rows):
        assert neutral(row) == expected(row.email, suggestion=False, v3=True), row
        assert (row.job_id, row.extra) == (job_id, {"id": str(index)})
    assert client.find_job("v3-lifecycle") == job_id
    assert client.find_job("v3-nothing") is None
    assert emulator.stats()["jobs_created"]["neverbounce_v3"] == 1


def test_plain_address_list(client):
    job_id = client.submit_job(["ok@example.com", "x@mailinator.com"])
    wait_for(client, job_id)
    assert [(row.email, row.vendor_status, row.extra) for row in client.iter_results(job_id)] == [
        ("ok@example.com", "valid", {}),
        ("x@mailinator.com", "disposable", {}),
    ]


def test_credits_and_cancel(client, emulator):
    assert client.get_credits() == 1_000_000
    client.verify_email("ok@example.com")
    assert client.get_credits() == 999_999
    job_id = client.submit_job(["ok@example.com"])
    wait_for(client, job_id)
    client.cancel_job(job_id)
    with pytest.raises(JobNotFoundError):
        client.get_job(job_id)


def test_insufficient_credits(client, emulator):
    emulator.set_credits(0)
    with pytest.raises(InsufficientCreditsError):
        client.verify_email("ok@example.com")


def test_bad_secret(emulator):
    v3 = make_client(emulator, secret="not-the-secret-123")
    with pytest.raises(AuthenticationError) as caught:
        v3.get_credits()
    assert caught.value.vendor_message
    ok, message = v3.test_connection()
    assert ok is False and message == caught.value.vendor_message


def test_token_is_cached(client, emulator):
    for _ in range(3):
        client.get_credits()
    assert v3_requests(emulator, "access_token") == 1


def test_expired_token_is_renewed_before_use(client, emulator):
    emulator.set_option("neverbounce_v3", token_ttl=1)
    client.get_credits()
    time.sleep(1.2)
    assert client.get_credits() == 1_000_000
    assert v3_requests(emulator, "access_token") == 2
    assert v3_requests(emulator, "account") == 2


def test_rejected_token_is_renewed_once_and_the_call_replayed(client, emulator):
    emulator.set_option("neverbounce_v3", token_ttl=1)
    client.get_credits()
    client._token_expires = time.monotonic() + 3600  # the client believes the token is still good
    time.sleep(1.2)
    assert client.get_credits() == 1_000_000
    assert v3_requests(emulator, "access_token") == 2
    assert v3_requests(emulator, "account") == 3  # the rejected call, then its replay


def test_values_spanning_lines_survive_the_supplied_csv_the_download_and_its_restarts(emulator, caplog):
    emulator.set_faults(rows_per_second=1_000_000)
    check_values_spanning_lines(emulator, make_client(emulator), caplog)


def test_a_bare_list_of_addresses_with_line_breaks(client):
    emails = [template.format(i) for i, template in enumerate(MULTILINE_EMAILS)]
    job_id = client.submit_job(emails)
    wait_for(client, job_id)
    assert [row.email for row in client.iter_results(job_id)] == emails


def test_ten_thousand_addresses_under_faults(emulator):
    emulator.set_faults(error_rate=0.2, throttle_rate=0.1, disconnect_rate=0.05, seed=11, rows_per_second=1_000_000)
    v3 = make_client(emulator)
    emails = [f"user{i}@example.com" for i in range(10_000)]
    job_id = v3.submit_job(emails, name="v3-faulty-10k")
    info = wait_for(v3, job_id, timeout=120)
    assert info.state == JobState.COMPLETED
    count = 0
    for index, row in enumerate(v3.iter_results(job_id)):
        assert row.email == emails[index]
        count += 1
    assert count == 10_000
    assert emulator.stats()["jobs_created"]["neverbounce_v3"] == 1


async def test_async_status_cancel_and_token(emulator):
    emulator.set_faults(rows_per_second=1_000_000)
    v3 = make_client(emulator)
    job_id = v3.submit_job(["ok@example.com"])
    wait_for(v3, job_id)
    fresh = make_client(emulator)  # no token yet: fetched asynchronously
    async_http = fresh.async_client()
    try:
        info = await fresh.aget_job(job_id, async_http)
        assert info.state == JobState.COMPLETED
        await fresh.acancel_job(job_id, async_http)
        with pytest.raises(JobNotFoundError):
            await fresh.aget_job(job_id, async_http)
    finally:
        await async_http.aclose()


def test_oauth_error_with_http_401(emulator):
    emulator.set_option("neverbounce_v3", oauth_error_status=401)
    v3 = make_client(emulator, secret="not-the-secret-123")
    with pytest.raises(AuthenticationError) as caught:
        v3.get_credits()
    assert caught.value.http_status == 401 and caught.value.vendor_message


def test_bulk_answer_labelled_text_html(client, emulator):
    emulator.set_option("neverbounce_v3", bulk_content_type="text/html")
    job_id = client.submit_job(["ok@example.com"])
    assert wait_for(client, job_id).state == JobState.COMPLETED


async def _async_status(v3: NeverBounceV3Client) -> None:
    await v3.aget_job("1")


OUTAGE_CALLS = {
    "sync": lambda v3: v3.get_credits(),
    "async": lambda v3: asyncio.run(_async_status(v3)),
    "job creation": lambda v3: v3.submit_job(["ok@example.com"], name="v3-outage"),
}


@pytest.mark.parametrize("operation", list(OUTAGE_CALLS))
def test_an_outage_costs_one_request_per_try_token_included(emulator, operation):
    """The token is fetched inside each try of the call, not with tries of its own: tries, not tries squared."""
    v3 = make_client(emulator, retry=OUTAGE_RETRY)
    emulator.set_faults(error_rate=1.0, seed=1)
    with pytest.raises(TransientError) as caught:
        OUTAGE_CALLS[operation](v3)
    assert "access_token" in caught.value.message
    assert emulator.stats()["faults"]["error"] == requests_made(emulator) == OUTAGE_RETRY.attempts
    assert emulator.stats()["jobs_created"].get("neverbounce_v3", 0) == 0
    emulator.set_faults(error_rate=0.0)
    assert v3.get_credits() == 1_000_000  # the same client works once the vendor is back
    assert v3_requests(emulator, "access_token") == 1


def test_an_outage_of_the_call_after_the_token_costs_one_request_per_try(client, emulator):
    client.get_credits()
    emulator.reset()
    emulator.set_faults(error_rate=1.0, seed=1)
    with pytest.raises(TransientError):
        client.get_credits()
    assert requests_made(emulator) == client.retry.attempts  # the cached token is used by every try


async def test_async_rejected_token_is_renewed_once_and_the_call_replayed(client, emulator):
    emulator.set_option("neverbounce_v3", token_ttl=1)
    client.get_credits()
    client._token_expires = time.monotonic() + 3600  # the client believes the token is still good
    time.sleep(1.2)
    account = await client.acall(client.endpoint_call("account"))
    assert account["credits"] == "1000000"
    assert v3_requests(emulator, "access_token") == 2
    assert v3_requests(emulator, "account") == 3  # the sync call, the rejected one, then its replay
