# Licensed under the Apache License, Version 2.0.
"""
Secrets never reach a log record or an exception's text, whatever happens: good and bad keys,
vendor errors, injected faults (5xx, throttling, connections dropped mid-answer), keys sent in the
URL query string, OAuth tokens.

Each vendor adds scenarios to :data:`SCENARIOS` with :func:`scenario`: a function that takes the
emulator handle and a :class:`Recorder`, makes calls through ``recorder.attempt(...)`` (which
keeps any exception for inspection) and returns every secret the calls used (known after the
run, e.g. tokens the client obtained).
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_emailverify.clients.base import RetryPolicy
from airflow_provider_emailverify.clients.neverbounce import NeverBounceClient
from airflow_provider_emailverify.clients.neverbounce_v3 import NeverBounceV3Client

#: Loggers of the emulator, i.e. the vendor's side of the wire, are not ours to check.
SERVER_SIDE = ("airflow_provider_emailverify.emulator", "uvicorn")
FAULTS = {"error_rate": 0.3, "throttle_rate": 0.1, "disconnect_rate": 0.1, "seed": 3, "rows_per_second": 1_000_000}
RETRY = RetryPolicy(attempts=8, initial=0.01, maximum=0.05)
BAD_KEY = "secret_0123456789abcdefBADKEY"


@dataclass
class Recorder:
    """Runs calls for a scenario, keeping every exception they raise."""

    errors: list[BaseException] = field(default_factory=list)

    def attempt(self, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
            if hasattr(result, "__next__"):
                result = list(result)
            return result
        except Exception as err:  # noqa: BLE001 - every failure is kept for inspection
            self.errors.append(err)
            return None


SCENARIOS: list[tuple[str, Callable[[Any, Recorder], Iterable[str]]]] = []


def scenario(name: str):
    """Register a vendor scenario under ``name``."""

    def register(fn: Callable[[Any, Recorder], Iterable[str]]):
        SCENARIOS.append((name, fn))
        return fn

    return register


def exception_texts(err: BaseException) -> list[str]:
    """Everything a log or a UI shows of ``err``: str, repr, args, attributes, the displayed chain."""
    texts = ["".join(traceback.format_exception(err))]
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        texts += [str(value) for value in vars(current).values()] if hasattr(current, "__dict__") else []
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return texts


def follow_job(rec: Recorder, client: Any, job_id: str, *, early: bool = True) -> None:
    """Poll ``job_id`` until it ends and read its results (``early``: ask for them once before, too)."""
    if early:
        rec.attempt(lambda: client.iter_results(job_id))  # may be before completion: JobNotReadyError
    for _ in range(200):
        info = rec.attempt(lambda: client.get_job(job_id))
        if info is not None and info.is_terminal:
            break
    rec.attempt(lambda: client.iter_results(job_id))


# -- NeverBounce v4.2 --------------------------------------------------------------------------------
def _nb(emulator, key: str, **extras) -> NeverBounceClient:
    return NeverBounceClient(api_key=key, base_url=emulator.base_url("neverbounce"), retry=RETRY, extras=extras)


def _nb_session(emulator, rec: Recorder, client: NeverBounceClient) -> None:
    rec.attempt(client.get_credits)
    rec.attempt(lambda: client.verify_email("info@gmail.com"))
    job_id = rec.attempt(lambda: client.submit_job([f"user{i}@example.com" for i in range(300)], name="secrets"))
    if job_id:
        follow_job(rec, client, job_id)
        rec.attempt(lambda: client.iter_json_results(job_id, page_size=100))
        rec.attempt(lambda: asyncio.run(client.aget_job(job_id)))
    rec.attempt(lambda: client.get_job("424242424"))
    rec.attempt(lambda: client.call(client.endpoint_call("single/check")))


@scenario("neverbounce: good key, errors and faults")
def neverbounce_good(emulator, rec: Recorder) -> Iterable[str]:
    for location in ("body", "query"):
        emulator.set_faults(**FAULTS)
        _nb_session(emulator, rec, _nb(emulator, emulator.api_key, key_location=location))
        emulator.set_faults(error_rate=0, throttle_rate=0, disconnect_rate=0)
        emulator.set_credits(0)
        rec.attempt(
            lambda location=location: _nb(emulator, emulator.api_key, key_location=location).verify_email("a@b.com")
        )
        emulator.set_credits(1_000_000)
    return [emulator.api_key]


@scenario("neverbounce: bad key")
def neverbounce_bad(emulator, rec: Recorder) -> Iterable[str]:
    emulator.set_option("neverbounce", auth_failure_echo_key=True)  # "Invalid API key '<key>'"
    for location in ("body", "query"):
        client = _nb(emulator, BAD_KEY, key_location=location)
        rec.attempt(client.get_credits)
        rec.attempt(client.test_connection)
        rec.attempt(lambda client=client: client.submit_job(["a@b.com"]))
        rec.attempt(lambda client=client: client.iter_results("1"))
        rec.attempt(lambda client=client: asyncio.run(client.aget_job("1")))
    return [BAD_KEY]


# -- NeverBounce v3 ----------------------------------------------------------------------------------
def _v3(emulator, secret: str) -> NeverBounceV3Client:
    return NeverBounceV3Client(
        username="emuluser", api_key=secret, base_url=emulator.base_url("neverbounce_v3"), retry=RETRY
    )


@scenario("neverbounce_v3: tokens, expiry, errors and faults")
def neverbounce_v3_good(emulator, rec: Recorder) -> Iterable[str]:
    emulator.set_option("neverbounce_v3", token_ttl=1)
    emulator.set_faults(**FAULTS)
    client = _v3(emulator, emulator.api_key)
    rec.attempt(client.get_credits)
    rec.attempt(lambda: client.verify_email("x@mailinator.com"))
    job_id = rec.attempt(lambda: client.submit_job(["a@b.com", "c@d.com"], name="v3-secrets"))
    if job_id:
        follow_job(rec, client, job_id, early=False)
    client._token_expires = float("inf")  # force a rejected token
    time.sleep(1.1)
    rec.attempt(client.get_credits)
    rec.attempt(lambda: asyncio.run(_v3(emulator, emulator.api_key).aget_job(job_id or "1")))
    rec.attempt(lambda: client.get_job("424242424"))
    return [emulator.api_key, *client.secrets()]


@scenario("neverbounce_v3: bad secret")
def neverbounce_v3_bad(emulator, rec: Recorder) -> Iterable[str]:
    client = _v3(emulator, BAD_KEY)
    rec.attempt(client.get_credits)
    rec.attempt(client.test_connection)
    rec.attempt(lambda: asyncio.run(client.aget_job("1")))
    return client.secrets()


# -- Bouncer, Bouncify, Email Verifier App -----------------------------------------------------------
def _vendor_client(emulator, vendor: str, key: str, **extras):
    from airflow_provider_emailverify.clients.bouncer import BouncerClient
    from airflow_provider_emailverify.clients.bouncify import BouncifyClient
    from airflow_provider_emailverify.clients.emailverifierapp import EmailVerifierAppClient

    cls = {"bouncer": BouncerClient, "bouncify": BouncifyClient, "emailverifierapp": EmailVerifierAppClient}[vendor]
    from dataclasses import replace

    retry = replace(RETRY, max_retry_after=0.05)  # the emulator's Retry-After: 1 would dominate
    client = cls(api_key=key, base_url=emulator.base_url(vendor), retry=retry, extras=extras)
    client.poll_interval = 0.05  # type: ignore[misc]
    return client


def _vendor_session(rec: Recorder, client: Any, unknown_job: str) -> None:
    rec.attempt(client.get_credits)
    rec.attempt(lambda: client.verify_email("info@gmail.com"))
    job_id = rec.attempt(lambda: client.submit_job([{"email": f"user{i}@example.com"} for i in range(300)]))
    if job_id:
        follow_job(rec, client, job_id)
        rec.attempt(lambda: asyncio.run(client.aget_job(job_id)))
        rec.attempt(lambda: client.cancel_job(job_id))
    rec.attempt(lambda: client.get_job(unknown_job))
    rec.attempt(lambda: asyncio.run(client.aget_job(unknown_job)))


_UNKNOWN_JOB = {"bouncer": "0123456789abcdef01234567", "bouncify": "a" * 36, "emailverifierapp": "999999"}
#: Extras that change where the key travels or how errors come back.
_VARIANTS = {
    "bouncer": [{}, {"download_format": "csv"}],
    "bouncify": [{"job_id_in_path": True}, {"job_id_in_path": False}],  # apikey in every URL
    "emailverifierapp": [{}, {"result_links_need_token": True}],  # token in result-file URLs too
}


def _vendor_scenarios(vendor: str) -> None:
    @scenario(f"{vendor}: good key, errors and faults")
    def good(emulator, rec: Recorder) -> Iterable[str]:
        for extras in _VARIANTS[vendor]:
            emulator.set_faults(**FAULTS)
            if vendor == "emailverifierapp":
                emulator.set_option(vendor, errors_as_200=bool(extras))
            _vendor_session(rec, _vendor_client(emulator, vendor, emulator.api_key, **extras), _UNKNOWN_JOB[vendor])
            emulator.set_faults(error_rate=0, throttle_rate=0, disconnect_rate=0)
            emulator.set_credits(0)
            client = _vendor_client(emulator, vendor, emulator.api_key, **extras)
            rec.attempt(lambda client=client: client.verify_email("a@example.com"))
            rec.attempt(lambda client=client: client.submit_job([{"email": "a@example.com"}]))
            emulator.set_credits(1_000_000)
        return [emulator.api_key]

    @scenario(f"{vendor}: bad key")
    def bad(emulator, rec: Recorder) -> Iterable[str]:
        for extras in _VARIANTS[vendor]:
            if vendor == "emailverifierapp":
                emulator.set_option(vendor, errors_as_200=bool(extras))
            client = _vendor_client(emulator, vendor, BAD_KEY, **extras)
            rec.attempt(client.test_connection)
            rec.attempt(lambda client=client: client.verify_email("a@example.com"))
            rec.attempt(lambda client=client: client.submit_job([{"email": "a@example.com"}]))
            rec.attempt(lambda client=client: client.get_job(_UNKNOWN_JOB[vendor]))
            rec.attempt(lambda client=client: asyncio.run(client.aget_job(_UNKNOWN_JOB[vendor])))
        return [BAD_KEY]

    @scenario(f"{vendor}: refused connections and exhausted retries")
    def unreachable(emulator, rec: Recorder) -> Iterable[str]:
        for extras in _VARIANTS[vendor]:
            closed = _vendor_client(emulator, vendor, emulator.api_key, **extras)
            closed.base_url = f"http://127.0.0.1:9/{vendor}"  # nothing listens there
            closed.retry = RetryPolicy(attempts=2, initial=0.01, maximum=0.01)
            rec.attempt(closed.test_connection)
            rec.attempt(lambda closed=closed: closed.verify_email("a@example.com"))
            rec.attempt(lambda closed=closed: closed.get_job(_UNKNOWN_JOB[vendor]))
            emulator.set_faults(error_rate=1.0)
            failing = _vendor_client(emulator, vendor, emulator.api_key, **extras)
            failing.retry = RetryPolicy(attempts=2, initial=0.01, maximum=0.01)
            rec.attempt(lambda failing=failing: failing.verify_email("a@example.com"))
            rec.attempt(lambda failing=failing: failing.submit_job([{"email": "a@example.com"}]))
            rec.attempt(lambda failing=failing: asyncio.run(failing.aget_job(_UNKNOWN_JOB[vendor])))
            emulator.set_faults(error_rate=0)
        return [emulator.api_key]


for _vendor in ("bouncer", "bouncify", "emailverifierapp"):
    _vendor_scenarios(_vendor)


# -- the check --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "run"), SCENARIOS, ids=[name for name, _ in SCENARIOS])
def test_secrets_stay_out_of_logs_and_errors(name, run, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    secrets = [s for s in run(emulator, recorder) if s]
    assert secrets, "the scenario must name its secrets"
    assert recorder.errors, "the scenario should provoke errors"
    records = [r for r in caplog.records if not r.name.startswith(SERVER_SIDE)]
    assert any(r.name.startswith(("urllib3", "httpx")) for r in records), "HTTP library logs were not captured"
    texts = [r.getMessage() for r in records]
    texts += [logging.Formatter().formatException(r.exc_info) for r in records if r.exc_info]
    for err in recorder.errors:
        texts += exception_texts(err)
    for secret in secrets:
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"{name}: a secret appears in {len(leaks)} texts, e.g. {leaks[0][:300]!r}"
