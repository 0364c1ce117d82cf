# Licensed under the Apache License, Version 2.0.
"""
Bouncify: a list is paid for when it starts, and Bouncify cannot find lists by name. Whatever
goes wrong after the upload returned a list id, no caller is led to upload and pay for the list
a second time. Over real HTTP: the emulator, behind a proxy that cuts off chosen requests.
"""

from __future__ import annotations

import logging

import pytest

from airflow_provider_emailverify.clients.bouncify import BouncifyClient
from airflow_provider_emailverify.exceptions import (
    EmailVerificationError,
    JobCreationUncertainError,
    JobNotFoundError,
    TransientError,
)
from airflow_provider_emailverify.jobs import JobState
from tests.clients.cutting_proxy import DROP, DROP_ANSWER, RELAY, CuttingProxy
from tests.clients.vendor_cases import FAST_RETRY, records, vendor_client, wait_for

VENDOR = "bouncify"
EMAILS = [f"user{i}@example.com" for i in range(20)]


def is_start(method: str, path: str) -> bool:
    return method == "PATCH" and "/v1/bulk/" in path


def through(proxy: CuttingProxy, emulator) -> BouncifyClient:
    """A client whose every request goes through ``proxy`` (fast retries, quick polls)."""
    client = BouncifyClient(
        api_key=emulator.api_key, base_url=proxy.url + "/bouncify", retry=FAST_RETRY
    )
    client.poll_interval = 0.05
    return client


@pytest.fixture
def emulator_fast(emulator):
    """The emulator with lists prepared and verified at once."""
    emulator.set_faults(rows_per_second=1_000_000)
    emulator.set_option(VENDOR, prepare_seconds=0)
    return emulator


def direct(emulator) -> BouncifyClient:
    return vendor_client(BouncifyClient, emulator, poll_interval=0.05)


def spent(emulator) -> int:
    return sum(emulator.stats()["credits_spent"].values())


def test_a_start_whose_answer_is_lost_but_took_effect_returns_the_list(emulator_fast, caplog):
    """Every start answer is cut off, yet the list verifies: the status says so and the list is used."""
    with CuttingProxy(emulator_fast.url, lambda m, p: DROP_ANSWER if is_start(m, p) else RELAY) as proxy:
        with caplog.at_level(logging.WARNING, logger="airflow_provider_emailverify.clients.bouncify"):
            job_id = through(proxy, emulator_fast).submit_job(records(EMAILS), name="answer lost")
        assert proxy.count("PATCH", DROP_ANSWER) == FAST_RETRY.attempts
    assert f"bouncify list {job_id}" in caplog.text and "it started" in caplog.text
    info = wait_for(direct(emulator_fast), job_id)
    assert (info.state, info.total) == (JobState.COMPLETED, len(EMAILS))
    assert [row.email for row in direct(emulator_fast).iter_results(job_id)] == EMAILS
    assert emulator_fast.stats()["jobs_created"] == {VENDOR: 1}
    assert spent(emulator_fast) == len(EMAILS)


def test_a_start_that_never_reached_bouncify_deletes_the_list_and_may_be_retried(emulator_fast):
    """The list is still ready: it is deleted, so a retry's new list is the only one ever paid for."""
    with CuttingProxy(emulator_fast.url, lambda m, p: DROP if is_start(m, p) else RELAY) as proxy:
        with pytest.raises(TransientError) as caught:
            through(proxy, emulator_fast).submit_job(records(EMAILS), name="never started")
    err = caught.value
    assert not isinstance(err, JobCreationUncertainError)
    job_id = str(err).split("bouncify list ", 1)[1].split()[0]
    assert "was uploaded but never started" in str(err) and "it has been deleted" in str(err)
    assert "An unstarted list costs nothing, so submitting the list again is safe" in str(err)
    with pytest.raises(JobNotFoundError):
        direct(emulator_fast).get_job(job_id)
    assert spent(emulator_fast) == 0
    # what a task retry does: upload again; one list in all is paid for
    retried = direct(emulator_fast).submit_job(records(EMAILS), name="never started")
    assert wait_for(direct(emulator_fast), retried).state == JobState.COMPLETED
    assert emulator_fast.stats()["jobs_created"] == {VENDOR: 2}
    assert spent(emulator_fast) == len(EMAILS)


def test_a_lost_start_whose_list_cannot_be_checked_is_final_and_names_the_list(emulator_fast):
    """
    The start's answer is lost and Bouncify then stops answering: the list may be verifying and
    paid for, so the error is final (not transient) and names the list to wait on.
    """
    cut = {"started": False}

    def rule(method: str, path: str) -> str:
        if cut["started"]:
            return DROP
        if is_start(method, path):
            cut["started"] = True
            return DROP_ANSWER
        return RELAY

    with CuttingProxy(emulator_fast.url, rule) as proxy:
        with pytest.raises(JobCreationUncertainError) as caught:
            through(proxy, emulator_fast).submit_job(records(EMAILS), name="unknown")
        assert proxy.count("PATCH", DROP_ANSWER) == 1 and proxy.count("GET", DROP) >= 1
    err = caught.value
    assert not isinstance(err, TransientError)
    job_id = err.job_id
    assert job_id and f"bouncify list {job_id} was uploaded" in str(err)
    assert "its status could not be read" in str(err) and "may be verifying and paid for" in str(err)
    assert f"EmailVerificationJobSensor(job_ids=['{job_id}'])" in str(err)
    assert emulator_fast.api_key not in str(err)
    # the list did start: waiting on it gives the results, and only one list was ever created
    assert wait_for(direct(emulator_fast), job_id).state == JobState.COMPLETED
    assert emulator_fast.stats()["jobs_created"] == {VENDOR: 1}
    assert spent(emulator_fast) == len(EMAILS)


def test_readiness_checks_that_run_out_of_retries_never_start_the_list(emulator_fast):
    """The start is never sent: the unstarted list is deleted and the error says a retry is safe."""
    rule = lambda m, p: DROP if m == "GET" and "/v1/bulk/" in p else RELAY  # noqa: E731
    with CuttingProxy(emulator_fast.url, rule) as proxy:
        with pytest.raises(TransientError) as caught:
            through(proxy, emulator_fast).submit_job(records(EMAILS))
        assert proxy.count("PATCH") == 0 and proxy.count("GET", DROP) == FAST_RETRY.attempts
    assert not isinstance(caught.value, JobCreationUncertainError)
    assert "never started" in str(caught.value) and "it has been deleted" in str(caught.value)
    assert "submitting the list again is safe" in str(caught.value)
    assert emulator_fast.stats()["jobs_created"] == {VENDOR: 1}
    assert spent(emulator_fast) == 0


def test_a_refused_start_keeps_the_vendor_reason_and_deletes_the_list(emulator_fast):
    """Bouncify refuses the start ("Verify restricted"): the list is provably unstarted and deleted."""
    emulator_fast.set_option(VENDOR, restricted=True)
    with pytest.raises(EmailVerificationError) as caught:
        direct(emulator_fast).submit_job(records(EMAILS))
    err = caught.value
    assert not isinstance(err, JobCreationUncertainError)
    assert err.vendor_message == "Verify restricted" and err.http_status == 400
    assert "Verify restricted" in str(err) and "never started" in str(err) and "deleted" in str(err)
    job_id = str(err).split("bouncify list ", 1)[1].split()[0]
    with pytest.raises(JobNotFoundError):
        direct(emulator_fast).get_job(job_id)
    assert spent(emulator_fast) == 0
