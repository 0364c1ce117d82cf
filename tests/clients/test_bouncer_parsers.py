# Licensed under the Apache License, Version 2.0.
"""Bouncer parsers: the example bodies of the spec and of the seed page become the expected neutral rows."""

from __future__ import annotations

import csv
import io

import pytest

from airflow_provider_emailverify.clients.bouncer_formats import (
    csv_record_reader,
    csv_row_parser,
    parse_batch,
    parse_created,
    parse_credits,
    parse_record,
)
from airflow_provider_emailverify.clients.streams import iter_json_array
from airflow_provider_emailverify.exceptions import EmailVerificationError
from airflow_provider_emailverify.jobs import JobState

ROW = ("email", "status", "vendor_status", "reason", "is_disposable", "is_role", "is_free", "is_catchall",
       "is_syntax_error", "suggestion", "vendor", "job_id")

# spec 4.1 / seed 002: a deliverable record
DELIVERABLE = {
    "email": "john@usebouncer.com",
    "status": "deliverable",
    "reason": "accepted_email",
    "domain": {"name": "usebouncer.com", "acceptAll": "no", "disposable": "no", "free": "no"},
    "account": {"role": "no", "disabled": "no", "fullMailbox": "no"},
    "dns": {"type": "MX", "record": "aspmx.l.google.com."},
    "provider": "google.com",
    "score": 100,
    "toxic": "unknown",
    "toxicity": 0,
}
TIMEOUT = {
    "email": "john@usebouncer.com",
    "status": "unknown",
    "reason": "timeout",
    "domain": {"name": "usebouncer.com", "acceptAll": "unknown", "disposable": "no", "free": "no"},
    "account": {"role": "no", "disabled": "unknown", "fullMailbox": "unknown"},
    "dns": {"type": "MX", "record": "aspmx.l.google.com."},
    "provider": "google.com",
    "retryAfter": "2022-11-24T09:55:09.029Z",
}
SYNTAX = {"email": "john1234 @gnail.com.", "status": "undeliverable", "reason": "invalid_email", "didYouMean": "john1234@gmail.com"}


def row(result):
    return tuple(getattr(result, name) for name in ROW)


def test_deliverable_record():
    assert row(parse_record(DELIVERABLE, job_id="b1")) == (
        "john@usebouncer.com", "deliverable", "deliverable", "accepted_email",
        False, False, False, False, False, None, "bouncer", "b1",
    )


def test_timeout_record_has_unknown_catchall():
    assert row(parse_record(TIMEOUT)) == (
        "john@usebouncer.com", "unknown", "unknown", "timeout", False, False, False, None, False, None, "bouncer", None,
    )


def test_syntax_error_record_with_suggestion():
    assert row(parse_record(SYNTAX)) == (
        "john1234 @gnail.com.", "undeliverable", "undeliverable", "invalid_email",
        None, None, None, None, True, "john1234@gmail.com", "bouncer", None,
    )


def test_disposable_and_catchall_records():
    disposable = {**DELIVERABLE, "status": "risky", "reason": "low_quality",
                  "domain": {"name": "d.test", "acceptAll": "no", "disposable": "yes", "free": "no"}}
    assert (parse_record(disposable).status, parse_record(disposable).is_disposable) == ("risky", True)
    # the neutral rule: a "deliverable" verdict flagged disposable is risky
    flagged = {**DELIVERABLE, "domain": {**DELIVERABLE["domain"], "disposable": "yes"}}
    assert (parse_record(flagged).status, parse_record(flagged).vendor_status) == ("risky", "deliverable")
    catchall = {**DELIVERABLE, "status": "risky", "reason": "low_deliverability",
                "domain": {"name": "c.test", "acceptAll": "yes", "disposable": "no", "free": "no"}}
    assert (parse_record(catchall).status, parse_record(catchall).is_catchall) == ("risky", True)


def test_name_is_passed_through():
    assert parse_record({**DELIVERABLE, "name": "John Doe"}).extra == {"name": "John Doe"}
    assert parse_record(DELIVERABLE).extra == {}


def test_seed_download_array_streams_record_by_record():
    body = (
        b'[{"email":"john@usebouncer.com","status":"deliverable","reason":"accepted_email",'
        b'"domain":{"name":"usebouncer.com","acceptAll":"no","disposable":"no","free":"no"},'
        b'"account":{"role":"no","disabled":"no","fullMailbox":"no"},"dns":{"type":"MX","record":"aspmx.l.google.com."},'
        b'"provider":"google.com","score":100,"toxic":"unknown","toxicity":0},'
        b'{"email":"jane@usebouncer.com","status":"deliverable","reason":"accepted_email"}]'
    )
    chunks = [body[i:i + 7] for i in range(0, len(body), 7)]
    rows = [parse_record(r, job_id="b") for r in iter_json_array(chunks)]
    assert [(r.email, r.status) for r in rows] == [("john@usebouncer.com", "deliverable"), ("jane@usebouncer.com", "deliverable")]
    with pytest.raises(ValueError, match="cut short"):
        list(iter_json_array(chunks[:-3]))


def test_csv_download_columns_found_by_name():
    text = (
        "email,name,status,reason,domain,acceptAll,disposable,free,role,disabled,fullMailbox,dnsType,dnsRecord,"
        "provider,score,toxic,toxicity,didYouMean,retryAfter\r\n"
        "info@gmail.com,,deliverable,accepted_email,gmail.com,no,no,yes,yes,no,no,MX,x.,google.com,100,no,0,,\r\n"
        "a@gmial.com,Ann,undeliverable,invalid_domain,gmial.com,no,no,no,no,no,no,,,,,,,a@gmail.com,\r\n"
    )
    reader = csv.reader(io.StringIO(text))
    to_record = csv_record_reader(next(reader))
    first, second = (parse_record(to_record(r), job_id="j") for r in reader)
    assert row(first) == ("info@gmail.com", "deliverable", "deliverable", "accepted_email",
                          False, True, True, False, False, None, "bouncer", "j")
    assert (second.suggestion, second.extra, second.is_syntax_error) == ("a@gmail.com", {"name": "Ann"}, False)
    # reordered columns
    to_record = csv_record_reader(["status", "didYouMean", "email"])
    assert parse_record(to_record(["risky", "", "x@y.z"])).status == "risky"
    with pytest.raises(EmailVerificationError):
        csv_record_reader(["foo", "bar"])


def test_csv_rows_shorter_than_the_header_or_without_some_columns():
    header = ["email", "name", "status", "reason", "domain", "acceptAll", "disposable", "free", "role", "disabled",
              "fullMailbox", "dnsType", "dnsRecord", "provider", "score", "toxic", "toxicity", "didYouMean", "retryAfter"]
    parse = csv_row_parser(header, job_id="j")
    assert row(parse(["a@b.c", "", "risky", "low_deliverability", "b.c", "yes"])) == (
        "a@b.c", "risky", "risky", "low_deliverability", None, None, None, True, False, None, "bouncer", "j")
    few = csv_row_parser(["status", "email"], job_id=None)  # no reason, flags, name or suggestion columns
    assert row(few(["unknown", "x@y.z"]))[:9] == ("x@y.z", "unknown", "unknown", "", None, None, None, None, None)
    with pytest.raises(EmailVerificationError, match="unexpected result record"):
        parse(["", "Ann", "deliverable"])


def test_verdicts_given_as_numbers_or_booleans_keep_their_own_spelling():
    base = {"email": "a@b.c", "reason": "accepted_email"}
    spelled = [parse_record({**base, "status": status}).vendor_status for status in ("deliverable", 1, True, 1.0, "1")]
    assert spelled == ["deliverable", "1", "True", "1.0", "1"]
    assert [parse_record({**base, "status": "unknown", "reason": reason}).reason for reason in (1, True)] == ["1", "True"]
    assert parse_record({**base, "status": "deliverable", "domain": {"disposable": ["yes"]}}).is_disposable is None


def test_batch_states_and_stats():
    queued = parse_created({"batchId": "4d5fdf6b5ee97c4dbbccbfe1", "created": "2023-03-26T18:08:15.033Z",
                            "status": "queued", "quantity": 2, "duplicates": 0})
    assert queued == "4d5fdf6b5ee97c4dbbccbfe1"
    processing = parse_batch({"batchId": "4d5fdf6b5ee97c4dbbccbfe1", "created": "2023-03-26T15:27:26.713Z",
                              "started": "2023-03-26T15:27:30.124Z", "status": "processing", "quantity": 2,
                              "duplicates": 0})
    assert (processing.state, processing.total, processing.progress) == (JobState.RUNNING, 2, 0.0)
    done = parse_batch({"batchId": "642152127eec9c46c00fb8d7", "created": "2023-03-27T08:21:38.357Z",
                        "started": "2023-03-27T08:21:40.355Z", "completed": "2023-03-27T08:21:51.426Z",
                        "status": "completed", "quantity": 2, "duplicates": 0, "credits": 2, "processed": 2,
                        "stats": {"deliverable": 1, "risky": 0, "undeliverable": 1, "unknown": 0}})
    assert done.to_dict() == {
        "job_id": "642152127eec9c46c00fb8d7", "state": "completed", "progress": 1.0, "total": 2, "processed": 2,
        "counts": {"deliverable": 1, "risky": 0, "undeliverable": 1, "unknown": 0},
        "vendor_status": "completed", "message": None,
    }
    half = parse_batch({"batchId": "b", "status": "processing", "quantity": 10, "duplicates": 2, "processed": 4,
                        "stats": {"deliverable": 4}})
    assert (half.progress, half.processed, half.counts["risky"]) == (0.5, 4, 0)
    assert half.message == "2 repeated addresses are merged by Bouncer: results hold one row per distinct address"
    one = parse_batch({"batchId": "b", "status": "queued", "quantity": 3, "duplicates": 1})
    assert one.message == "1 repeated address is merged by Bouncer: results hold one row per distinct address"
    # an undocumented status is not terminal
    assert parse_batch({"batchId": "b", "status": "paused", "quantity": 1}).state == JobState.RUNNING
    assert parse_batch({"batchId": "b", "status": "queued", "quantity": 1}).state == JobState.QUEUED


def test_credits_and_bad_bodies():
    assert parse_credits({"credits": 1000}) == 1000
    for bad in ({"oops": 1}, "text", []):
        with pytest.raises(EmailVerificationError):
            parse_credits(bad)
        with pytest.raises(EmailVerificationError):
            parse_batch(bad)
    with pytest.raises(EmailVerificationError):
        parse_record({"status": "deliverable"})
