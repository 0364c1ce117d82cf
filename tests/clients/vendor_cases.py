# Licensed under the Apache License, Version 2.0.
"""
The emulator's deterministic verdicts (DESIGN.md) as Bouncer, Bouncify and Email Verifier App
neutral rows, written from the specs, plus helpers shared by their client and hook tests.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest

from airflow_provider_emailverify.clients.base import RetryPolicy
from airflow_provider_emailverify.exceptions import JobCreationUncertainError

#: Small backoffs (and a short cap on Retry-After) so fault tests run fast.
FAST_RETRY = RetryPolicy(attempts=10, initial=0.01, maximum=0.1, max_retry_after=0.1)

FIELDS = ("status", "vendor_status", "reason", "is_disposable", "is_role", "is_free", "is_catchall",
          "is_syntax_error", "suggestion")
F, T, N = False, True, None

#: The addresses every vendor test submits (DESIGN.md rules 1 and 3-6).
COMMON = ["x@invalid.test", "bounce1@example.com", "x@catchall.test", "x@mailinator.com", "info@gmail.com",
          "a@gmial.com", "unknown1@x.com", "ok@example.com", "bad syntax"]

#: Bouncer: its own four statuses, reasons per its status/reason table, domain/account yes/no flags.
BOUNCER: dict[str, tuple[Any, ...]] = {
    "x@invalid.test": ("undeliverable", "undeliverable", "invalid_domain", F, F, F, F, F, N),
    "bounce1@example.com": ("undeliverable", "undeliverable", "rejected_email", F, F, F, F, F, N),
    "x@catchall.test": ("risky", "risky", "low_deliverability", F, F, F, T, F, N),
    "x@mailinator.com": ("risky", "risky", "low_quality", T, F, F, F, F, N),
    "info@gmail.com": ("deliverable", "deliverable", "accepted_email", F, T, T, F, F, N),
    "a@gmial.com": ("deliverable", "deliverable", "accepted_email", F, F, F, F, F, "a@gmail.com"),
    "unknown1@x.com": ("unknown", "unknown", "unknown", F, F, F, N, F, N),
    "ok@example.com": ("deliverable", "deliverable", "accepted_email", F, F, F, F, F, N),
    # a syntax failure is the four-key record of the spec: no domain/account flags
    "bad syntax": ("undeliverable", "undeliverable", "invalid_email", N, N, N, N, T, N),
    # the documented sandbox addresses (spec section 8)
    "deliverable@sandbox.usebouncer.com": ("deliverable", "deliverable", "accepted_email", F, F, F, F, F, N),
    "deliverable+12345@sandbox.usebouncer.com": ("deliverable", "deliverable", "accepted_email", F, F, F, F, F, N),
    "free@sandbox.usebouncer.com": ("deliverable", "deliverable", "accepted_email", F, F, T, F, F, N),
    "disposable@sandbox.usebouncer.com": ("risky", "risky", "low_quality", T, F, F, F, F, N),
    "accept-all@sandbox.usebouncer.com": ("risky", "risky", "low_deliverability", F, F, F, T, F, N),
    "undeliverable@sandbox.usebouncer.com": ("undeliverable", "undeliverable", "rejected_email", F, F, F, F, F, N),
    "unknown@sandbox.usebouncer.com": ("unknown", "unknown", "unknown", F, F, F, N, F, N),
    "other@sandbox.usebouncer.com": ("risky", "risky", "low_deliverability", F, T, F, F, F, N),
}


def counts(table: dict[str, tuple[Any, ...]]) -> dict[str, int]:
    """Neutral status -> number of addresses in ``table``, all four statuses present."""
    result = dict.fromkeys(("deliverable", "risky", "undeliverable", "unknown"), 0)
    for values in table.values():
        result[values[0]] += 1
    return result


BOUNCER_COUNTS = counts(BOUNCER)

#: Bouncify single verification: 0/1 flags, accept_all 2 = undetermined, no syntax flag on an answer.
BOUNCIFY_SINGLE: dict[str, tuple[Any, ...]] = {
    "x@invalid.test": ("undeliverable", "undeliverable", "", F, F, F, F, F, N),
    "bounce1@example.com": ("undeliverable", "undeliverable", "", F, F, F, F, F, N),
    "x@catchall.test": ("risky", "accept-all", "", F, F, F, T, F, N),
    # disposable only as a flag: deliverable + disposable is risky
    "x@mailinator.com": ("risky", "deliverable", "", T, F, F, F, F, N),
    "info@gmail.com": ("deliverable", "deliverable", "", F, T, T, F, F, N),
    "a@gmial.com": ("deliverable", "deliverable", "", F, F, F, F, F, N),
    "unknown1@x.com": ("unknown", "unknown", "", F, F, F, N, F, N),
    "ok@example.com": ("deliverable", "deliverable", "", F, F, F, F, F, N),
    # HTTP 400 "Invalid request. Required email." becomes an undeliverable syntax-error row
    "bad syntax": ("undeliverable", "Invalid request. Required email.", "", N, N, N, N, T, N),
}
#: Bouncify result CSV: Y/N columns, catch-all from the verdict.
BOUNCIFY_BATCH: dict[str, tuple[Any, ...]] = {
    **BOUNCIFY_SINGLE,
    "bad syntax": ("undeliverable", "undeliverable", "", F, F, F, F, T, N),
}
BOUNCIFY_COUNTS = {"deliverable": 3, "undeliverable": 3, "risky": 1, "unknown": 1}

#: Email Verifier App real-time: Valid/Invalid/Risky/Unknown, booleans, typo_suggest.
EVA_SINGLE: dict[str, tuple[Any, ...]] = {
    "x@invalid.test": ("undeliverable", "Invalid", "", F, F, F, F, N, N),
    "bounce1@example.com": ("undeliverable", "Invalid", "", F, F, F, F, N, N),
    "x@catchall.test": ("risky", "Risky", "", F, F, F, T, N, N),
    "x@mailinator.com": ("risky", "Valid", "", T, F, F, F, N, N),
    "info@gmail.com": ("deliverable", "Valid", "", F, T, T, F, N, N),
    "a@gmial.com": ("deliverable", "Valid", "", F, F, F, F, N, "a@gmail.com"),
    "unknown1@x.com": ("unknown", "Unknown", "", F, F, F, N, N, N),
    "ok@example.com": ("deliverable", "Valid", "", F, F, F, F, N, N),
    "bad syntax": ("undeliverable", "Invalid", "", F, F, F, F, N, N),
}
#: Email Verifier App batch: the file decides (Risky rows sit in the unknown file).
EVA_BATCH = EVA_SINGLE


def neutral(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in FIELDS)


def vendor_client(
    cls: Any, emulator: Any, *, api_key: str | None = None, retry: RetryPolicy = FAST_RETRY,
    poll_interval: float | None = None, **extras: Any,
) -> Any:
    """A ``cls`` client on the emulator: its key unless ``api_key`` is given, fast retries, ``extras``."""
    client = cls(
        api_key=emulator.api_key if api_key is None else api_key,
        base_url=emulator.base_url(cls.vendor),
        retry=retry,
        extras=extras,
    )
    if poll_interval is not None:
        client.poll_interval = poll_interval
    return client


def check_single_verdict(client: Any, email: str, table: dict[str, tuple[Any, ...]]) -> None:
    """One real-time verification of ``email`` gives the neutral columns ``table`` expects, outside any job."""
    row = client.verify_email(email)
    assert row.email == email
    assert neutral(row) == table[email]
    assert (row.vendor, row.job_id) == (client.vendor, None)


def records(emails: list[str]) -> list[dict[str, Any]]:
    return [{"email": email, "id": str(index)} for index, email in enumerate(emails)]


def wait_for(client: Any, job_id: str, *, timeout: float = 120.0, interval: float = 0.05):
    """Poll ``client.get_job`` until the job is terminal."""
    deadline = time.monotonic() + timeout
    while True:
        info = client.get_job(job_id)
        if info.is_terminal:
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {info.vendor_status} after {timeout}s: {info}")
        time.sleep(interval)


def many(n: int) -> list[str]:
    """``n`` distinct addresses cycling through every verdict."""
    kinds = ["ok{}@example.com", "bounce{}@example.com", "u{}@catchall.test", "u{}@mailinator.com",
             "unknown{}@example.com", "u{}@invalid.test"]
    return [kinds[i % len(kinds)].format(i) for i in range(n)]


#: DESIGN.md's fault mix for the "one big job under faults" tests.
FAULTS = {"error_rate": 0.2, "throttle_rate": 0.1, "disconnect_rate": 0.05, "rows_per_second": 1_000_000}


def check_download_restarts(emulator: Any, client: Any, emails: list[str], *, ordered: bool = True) -> None:
    """A finished job's results come whole through dropped connections: no row lost or repeated."""
    job_id = client.submit_job(records(emails))
    wait_for(client, job_id)
    emulator.set_faults(disconnect_rate=0.5, seed=3)
    got = [row.email for row in client.iter_results(job_id)]
    assert (got if ordered else sorted(got)) == (emails if ordered else sorted(emails))
    assert emulator.stats()["faults"].get("disconnect", 0) > 0


#: Addresses a CSV reader that splits on line breaks first would break or merge: line breaks of
#: every kind (also leading and trailing), quotes, commas, non-ASCII; ``{}`` keeps each unique.
MULTILINE_EMAILS = (
    "line\nbreak{}@example.com",
    "carriage\r\nreturn{}@example.com",
    "lone\rcarriage{}@example.com",
    '"quoted\n, comma"{}@example.com',
    "\r\nleading{}@exämple.com",
    "trailing{}@例子.广告\n",
)


def multiline_records(n: int, key: str) -> list[dict[str, str]]:
    """``n`` records whose addresses and pass-through ``key`` values span lines and hold quotes and commas."""
    return [
        {"email": MULTILINE_EMAILS[i % len(MULTILINE_EMAILS)].format(i), key: f'Ann "A", {i}\r\nÜber\n'}
        for i in range(n)
    ]


def check_values_spanning_lines(emulator: Any, client: Any, caplog: Any, *, key: str = "id", n: int = 3000) -> None:
    """
    Quoted CSV values spanning lines (addresses and the pass-through ``key`` column) come back
    exactly, in order; also through dropped connections, where the download restarts after rows
    spanning lines were read, skips them and loses, repeats or merges none.
    """
    rows = multiline_records(n, key)
    job_id = client.submit_job(rows)
    wait_for(client, job_id)
    expected = [(row["email"], row[key]) for row in rows]
    assert [(row.email, row.extra.get(key)) for row in client.iter_results(job_id)] == expected
    emulator.set_faults(disconnect_rate=0.5, seed=3)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_emailverify.clients.downloads"):
        assert [(row.email, row.extra.get(key)) for row in client.iter_results(job_id)] == expected
    read_before_restart = [
        int(found.group(1)) for record in caplog.records
        if (found := re.search(r" broke after (\d+) rows", record.getMessage()))
    ]
    assert any(read_before_restart), read_before_restart  # restarted mid-stream, not only at the start


def check_creation_is_not_repeated(emulator: Any, client: Any, **faults: Any) -> None:
    """
    Creation refused before the vendor acted (``faults``: 503, 429) is retried into one job; an
    answer lost after it acted raises ``JobCreationUncertainError`` instead of a second job.
    """
    vendor = client.vendor
    emulator.set_faults(**faults)
    assert client.submit_job(records(["a@example.com"]))
    assert emulator.stats()["jobs_created"][vendor] == 1
    emulator.reset()
    emulator.set_faults(disconnect_rate=1.0)
    with pytest.raises(JobCreationUncertainError, match="may have been created"):
        client.submit_job(records(["a@example.com"]))
    assert emulator.stats()["jobs_created"].get(vendor, 0) == 1


def run_under_faults(emulator: Any, vendor: str, make_client: Any, *, n: int = 10_000, seeds=range(1, 9)):
    """
    Submit an ``n``-address job with every fault on, from creation to the last result row.

    These vendors cannot look a job up by name, so when the answer to the creating request is
    lost (a dropped connection after the vendor acted) the client raises
    ``JobCreationUncertainError`` instead of re-submitting. Each such seed is checked to have
    created at most one job, and the next fixed seed is tried, until a job gets through.
    Returns ``(seed, uncertain_seeds, job_info, rows, emails)``.
    """
    emails = many(n)
    uncertain = []
    for seed in seeds:
        emulator.reset()
        emulator.set_faults(seed=seed, **FAULTS)
        client = make_client()
        try:
            job_id = client.submit_job(records(emails), name=f"faults-{seed}")
        except JobCreationUncertainError as err:
            assert "may have been created" in str(err)
            assert emulator.stats()["jobs_created"].get(vendor, 0) <= 1
            uncertain.append(seed)
            continue
        info = wait_for(client, job_id)
        rows = list(client.iter_results(job_id))
        assert emulator.stats()["jobs_created"].get(vendor, 0) == 1
        return seed, uncertain, info, rows, emails
    raise AssertionError(f"no seed got a {vendor} job created: every creation answer was lost ({uncertain})")
