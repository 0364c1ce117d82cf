# Licensed under the Apache License, Version 2.0.
"""
Email Verifier App sends ``user_API_token`` as a form field (and in the upload's multipart body);
with ``result_links_need_token`` it also goes into result-file URLs. It must appear in no log
record and no error.
"""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.clients.base import RetryPolicy
from airflow_provider_emailverify.clients.emailverifierapp import EmailVerifierAppClient
from airflow_provider_emailverify.exceptions import EmailVerificationError
from tests.clients.secret_checks import BAD_KEY, no_secret_escapes
from tests.clients.vendor_cases import FAST_RETRY, records, wait_for

VENDOR = "emailverifierapp"


def make(emulator, key, base_url=None, retry=FAST_RETRY, **extras):
    return EmailVerifierAppClient(api_key=key, base_url=base_url or emulator.base_url(VENDOR), retry=retry,
                                  extras=extras)


@pytest.mark.parametrize("link_token", [False, True])
def test_lifecycle_under_faults_logs_no_token(emulator, caplog, link_token):
    with no_secret_escapes(caplog, [emulator.api_key]) as errors:
        emulator.set_faults(error_rate=0.3, throttle_rate=0.2, disconnect_rate=0.1, seed=7, rows_per_second=1_000_000)
        client = make(emulator, emulator.api_key, result_links_need_token=link_token)
        try:
            job_id = client.submit_job(records(["a@example.com", "b@invalid.test"]))
            wait_for(client, job_id)
            list(client.iter_results(job_id))
            client.verify_email("c@example.com")
        except EmailVerificationError as err:
            errors.append(err)


@pytest.mark.parametrize("errors_as_200", [False, True])
@pytest.mark.parametrize("scenario", ["wrong token", "refused connection", "exhausted retries"])
def test_errors_carry_no_token(emulator, caplog, scenario, errors_as_200):
    emulator.set_option(VENDOR, errors_as_200=errors_as_200)
    key = BAD_KEY if scenario == "wrong token" else emulator.api_key
    base_url = "http://127.0.0.1:9/emailverifierapp" if scenario == "refused connection" else None
    retry = RetryPolicy(attempts=2, initial=0.01, maximum=0.01, max_retry_after=0.01)
    with no_secret_escapes(caplog, [key]) as errors:
        if scenario == "exhausted retries":
            emulator.set_faults(error_rate=1.0)
        client = make(emulator, key, base_url, retry)
        for action in (lambda: client.verify_email("a@example.com"), lambda: client.get_job("1"),
                       lambda: client.submit_job(records(["a@example.com"]))):
            with pytest.raises(EmailVerificationError) as caught:
                action()
            errors.append(caught.value)
        ok, message = client.test_connection()
        assert ok is False and key not in message
