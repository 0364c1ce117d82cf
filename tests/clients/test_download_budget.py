# Licensed under the Apache License, Version 2.0.
"""
One retry budget per result download, for every vendor, over real HTTP against the emulator.

A download restarts when its stream breaks; the restart loop is its only retry loop. When the
vendor is down, the whole download costs the retry policy's ``attempts`` requests (not
``attempts`` per restart); a stream that keeps breaking but gets further each time completes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_emailverify.clients.base import RetryPolicy
from airflow_provider_emailverify.clients.bouncer import BouncerClient
from airflow_provider_emailverify.clients.bouncify import BouncifyClient
from airflow_provider_emailverify.clients.emailverifierapp import EmailVerifierAppClient
from airflow_provider_emailverify.clients.neverbounce import NeverBounceClient
from airflow_provider_emailverify.clients.neverbounce_v3 import NeverBounceV3Client
from airflow_provider_emailverify.exceptions import EmailVerificationError, ThrottledError, TransientError
from tests.clients.cutting_proxy import RELAY, CuttingProxy
from tests.clients.vendor_cases import many, records, wait_for

#: A few quick tries, so that tries multiplied by restarts would stand out.
OUTAGE_RETRY = RetryPolicy(attempts=3, initial=0.001, maximum=0.01, max_retry_after=0.01)
#: Two tries: a download breaking on every request must get by on progress alone.
TWO_TRIES = RetryPolicy(attempts=2, initial=0.001, maximum=0.01, max_retry_after=0.01)


def _client(cls: type, base_url: str, emulator: Any, retry: RetryPolicy, **extras: Any) -> Any:
    kwargs: dict[str, Any] = {"username": "emuluser"} if cls is NeverBounceV3Client else {}
    client = cls(api_key=emulator.api_key, base_url=base_url, retry=retry, extras=extras, **kwargs)
    client.poll_interval = 0.05
    return client


#: name -> (client class, emulator vendor, extras)
VENDORS: dict[str, tuple[type, str, dict[str, Any]]] = {
    "neverbounce": (NeverBounceClient, "neverbounce", {}),
    "neverbounce_v3": (NeverBounceV3Client, "neverbounce_v3", {}),
    "bouncer-json": (BouncerClient, "bouncer", {}),
    "bouncer-csv": (BouncerClient, "bouncer", {"download_format": "csv"}),
    "bouncify": (BouncifyClient, "bouncify", {}),
    "emailverifierapp": (EmailVerifierAppClient, "emailverifierapp", {}),
}
#: The vendors whose download goes through the client's base URL (Email Verifier App's result
#: files are links the vendor gives, to its own host).
PROXIED = [name for name in VENDORS if name != "emailverifierapp"]


def make(name: str, emulator: Any, retry: RetryPolicy, base_url: str | None = None) -> Any:
    cls, vendor, extras = VENDORS[name]
    return _client(cls, base_url or emulator.base_url(vendor), emulator, retry, **extras)


def finished_job(emulator: Any, client: Any, emails: list[str]) -> str:
    emulator.set_faults(rows_per_second=1_000_000, seed=1)
    emulator.set_option("bouncify", prepare_seconds=0)
    job_id = client.submit_job(records(emails))
    wait_for(client, job_id)
    return job_id


def requests_made(emulator: Any) -> int:
    """Every request the emulator saw: answered by a vendor handler or by an injected fault."""
    stats = emulator.stats()
    return sum(stats["faults"].values()) + sum(n for paths in stats["requests"].values() for n in paths.values())


@pytest.mark.parametrize("name", list(VENDORS))
def test_a_download_during_an_outage_costs_the_tries_of_one_call(emulator, name):
    client = make(name, emulator, OUTAGE_RETRY)
    emails = many(30)
    job_id = finished_job(emulator, client, emails)
    results = client.iter_results(job_id)
    if name == "emailverifierapp":
        next(results)  # the links are fetched and the first file opened; the vendor goes down after
    before = requests_made(emulator)
    emulator.set_faults(error_rate=1.0)
    with pytest.raises(TransientError) as caught:
        list(results)
    assert caught.value.http_status is not None and caught.value.http_status >= 500
    assert requests_made(emulator) - before == OUTAGE_RETRY.attempts
    emulator.set_faults(error_rate=0.0)
    assert sorted(row.email for row in client.iter_results(job_id)) == sorted(emails)  # back to normal


def test_a_download_whose_links_cannot_be_had_costs_the_tries_of_one_call(emulator):
    client = make("emailverifierapp", emulator, OUTAGE_RETRY)
    job_id = finished_job(emulator, client, many(30))
    before = requests_made(emulator)
    emulator.set_faults(error_rate=1.0)
    with pytest.raises(TransientError):
        list(client.iter_results(job_id))
    assert requests_made(emulator) - before == OUTAGE_RETRY.attempts


def _cut_every_download(step: int) -> tuple[Callable[[str, str], str | int], list[int]]:
    """A proxy rule cutting the n-th download answer off after ``n * step`` bytes of its body."""
    cuts: list[int] = []

    def rule(method: str, path: str) -> str | int:
        if "/download" not in path.split("?")[0]:
            return RELAY
        cuts.append((len(cuts) + 1) * step)
        return cuts[-1]

    return rule, cuts


@pytest.mark.parametrize("name", PROXIED)
def test_a_download_breaking_on_every_request_but_getting_further_completes(emulator, name):
    emails = many(36_000)  # over 1.3 MB in every vendor's format: four cuts of the step or more
    job_id = finished_job(emulator, make(name, emulator, TWO_TRIES), emails)
    clean = [(row.email, row.status, row.vendor_status) for row in make(name, emulator, TWO_TRIES).iter_results(job_id)]
    assert sorted(email for email, *_ in clean) == sorted(emails)
    rule, cuts = _cut_every_download(step=270_000)  # over the stream's 256 KiB reads: each cut gets further
    with CuttingProxy(emulator.url, rule) as proxy:
        vendor = VENDORS[name][1]
        client = make(name, emulator, TWO_TRIES, base_url=proxy.url + emulator.base_url(vendor)[len(emulator.url):])
        got = [(row.email, row.status, row.vendor_status) for row in client.iter_results(job_id)]
    assert got == clean
    breaks = len(cuts) - 1
    assert breaks >= 2 * TWO_TRIES.attempts  # as many breaks as ended a download before: progress is what counts


@pytest.mark.parametrize("name", list(VENDORS))
def test_dropped_connections_change_no_row(emulator, name):
    client = make(name, emulator, RetryPolicy(attempts=6, initial=0.001, maximum=0.01))
    emails = many(8000)
    job_id = finished_job(emulator, client, emails)
    clean = [(row.email, row.status, row.vendor_status) for row in client.iter_results(job_id)]
    emulator.set_faults(disconnect_rate=0.4, seed=3)
    got = [(row.email, row.status, row.vendor_status) for row in client.iter_results(job_id)]
    assert got == clean
    assert emulator.stats()["faults"].get("disconnect", 0) > 0


#: Backoff of nothing, a Retry-After honoured up to 0.2 s: the waits in the log tell which was used.
THROTTLE_RETRY = RetryPolicy(attempts=3, initial=0.0, maximum=0.0, max_retry_after=0.2)


@pytest.mark.parametrize("name", list(VENDORS))
def test_a_throttled_download_waits_as_told_within_the_same_tries(emulator, name, caplog):
    client = make(name, emulator, THROTTLE_RETRY)
    job_id = finished_job(emulator, client, many(30))
    results = client.iter_results(job_id)
    if name == "emailverifierapp":
        next(results)
    before = requests_made(emulator)
    emulator.set_faults(throttle_rate=1.0)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_emailverify.clients.downloads"):
        with pytest.raises(ThrottledError) as caught:
            list(results)
    assert requests_made(emulator) - before == THROTTLE_RETRY.attempts
    waits = [
        found.group(1) for record in caplog.records if (found := re.search(r" in (\d+\.\d)s$", record.getMessage()))
    ]
    assert len(waits) == THROTTLE_RETRY.attempts - 1
    if name != "neverbounce":  # NeverBounce v4 throttles with a JSON status and no Retry-After
        assert caught.value.retry_after == 1
        assert set(waits) == {"0.2"}


@pytest.mark.parametrize("name", PROXIED)
def test_a_download_refused_for_good_is_not_retried(emulator, name):
    client = make(name, emulator, OUTAGE_RETRY)
    finished_job(emulator, client, many(3))
    client.get_credits()  # credentials in hand (NeverBounce v3 fetches a token first)
    before = requests_made(emulator)
    with pytest.raises(EmailVerificationError) as caught:
        list(client.iter_results("999999"))
    assert not isinstance(caught.value, (TransientError, ThrottledError))
    assert requests_made(emulator) - before == 1
