# Licensed under the Apache License, Version 2.0.
"""Bouncer sends its key in the ``x-api-key`` header: it must still appear in no log record and no error."""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.clients.base import RetryPolicy
from airflow_provider_emailverify.clients.bouncer import BouncerClient
from airflow_provider_emailverify.exceptions import EmailVerificationError
from tests.clients.secret_checks import BAD_KEY, no_secret_escapes
from tests.clients.vendor_cases import FAST_RETRY, records, wait_for

VENDOR = "bouncer"


def make(emulator, key, base_url=None, retry=FAST_RETRY):
    return BouncerClient(api_key=key, base_url=base_url or emulator.base_url(VENDOR), retry=retry)


def test_lifecycle_under_faults_logs_no_key(emulator, caplog):
    with no_secret_escapes(caplog, [emulator.api_key]) as errors:
        emulator.set_faults(error_rate=0.3, throttle_rate=0.2, disconnect_rate=0.1, seed=7, rows_per_second=1_000_000)
        client = make(emulator, emulator.api_key)
        try:
            job_id = client.submit_job(records(["a@example.com", "b@example.com"]))
            wait_for(client, job_id)
            list(client.iter_results(job_id))
            client.verify_email("c@example.com")
        except EmailVerificationError as err:
            errors.append(err)


@pytest.mark.parametrize("scenario", ["wrong key", "refused connection", "exhausted retries"])
def test_errors_carry_no_key(emulator, caplog, scenario):
    key = BAD_KEY if scenario == "wrong key" else emulator.api_key
    base_url = "http://127.0.0.1:9/bouncer" if scenario == "refused connection" else None
    retry = RetryPolicy(attempts=2, initial=0.01, maximum=0.01, max_retry_after=0.01)
    with no_secret_escapes(caplog, [key]) as errors:
        if scenario == "exhausted retries":
            emulator.set_faults(error_rate=1.0)
        client = make(emulator, key, base_url, retry)
        for action in (client.get_credits, lambda: client.verify_email("a@example.com"),
                       lambda: client.submit_job(records(["a@example.com"]))):
            with pytest.raises(EmailVerificationError) as caught:
                action()
            errors.append(caught.value)
        ok, message = client.test_connection()
        assert ok is False and key not in message


async def test_async_calls_log_no_key(emulator, caplog):
    with no_secret_escapes(caplog, [BAD_KEY]) as errors:
        client = make(emulator, BAD_KEY)
        async with client.async_client() as http:
            try:
                await client.aget_job("0123456789abcdef01234567", http)
            except EmailVerificationError as err:
                errors.append(err)
        assert errors
