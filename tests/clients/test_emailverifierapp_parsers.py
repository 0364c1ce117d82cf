# Licensed under the Apache License, Version 2.0.
"""Email Verifier App parsers: the spec's and the seed page's example bodies become neutral rows / JobInfo."""

from __future__ import annotations

import csv
import io

import pytest

from airflow_provider_emailverify.clients.emailverifierapp import (
    file_row_parser,
    parse_job_ids,
    parse_progress,
    parse_verify,
)
from airflow_provider_emailverify.exceptions import EmailVerificationError
from airflow_provider_emailverify.jobs import JobState

ROW = ("email", "status", "vendor_status", "reason", "is_disposable", "is_role", "is_free", "is_catchall",
       "is_syntax_error", "suggestion", "vendor", "job_id")


def row(result):
    return tuple(getattr(result, name) for name in ROW)


def test_realtime_example_body():
    body = {"status": "Valid", "domain": "gmail.com", "free_email": True, "disposable": False, "typo_suggest": "None",
            "role_address": False, "bad_address": False, "message": "User exists!", "email": "bob@gmail.com"}
    assert row(parse_verify(body)) == (
        "bob@gmail.com", "deliverable", "Valid", "", False, False, True, False, None, None, "emailverifierapp", None,
    )


@pytest.mark.parametrize(
    "verdict, status, catchall",
    [("Valid", "deliverable", False), ("Invalid", "undeliverable", False), ("Risky", "risky", True),
     ("Unknown", "unknown", None)],
)
def test_realtime_verdicts(verdict, status, catchall):
    result = parse_verify({"status": verdict, "email": "", "typo_suggest": "a@gmail.com"}, email="a@gmial.com")
    assert (result.email, result.status, result.vendor_status, result.is_catchall, result.suggestion) == (
        "a@gmial.com", status, verdict, catchall, "a@gmail.com")


def test_disposable_flag_on_a_valid_verdict_is_risky():
    result = parse_verify({"status": "Valid", "email": "x@mailinator.com", "disposable": True})
    assert (result.status, result.vendor_status, result.is_disposable) == ("risky", "Valid", True)


def test_attribute_page_profile():
    body = {"success": True, "user": "bob", "domain": "example.com", "email": "bob@example.com", "result": "invalid",
            "reason": "Invalid Email", "message": "...", "risky": False, "disposable": False, "free": False,
            "bad": False, "role": True, "did_you_mean": ""}
    assert row(parse_verify(body)) == (
        "bob@example.com", "undeliverable", "invalid", "Invalid Email", False, True, False, False, True, None,
        "emailverifierapp", None,
    )


def test_get_results_seed_example_and_progress():
    done = parse_progress({"status": "success", "percentage": "100.00", "stage": "Completed",
                           "invalid_result_link": "", "valid_result_link": "", "unknown_link": ""}, job_id="001")
    assert done.to_dict() == {"job_id": "001", "state": "completed", "progress": 1.0, "total": None, "processed": 0,
                              "counts": {}, "vendor_status": "Completed", "message": None}
    assert parse_progress({"status": "success", "percentage": "42.50", "stage": "Processing"}, job_id="1").progress == 0.425
    assert parse_progress({"percentage": 0, "stage": "In Queue"}, job_id="1").state == JobState.QUEUED
    # "completed" in lower case, but not at 100 yet: still running
    assert parse_progress({"percentage": "99.99", "stage": "completed"}, job_id="1").state == JobState.RUNNING
    assert parse_progress({"percentage": 100, "stage": "completed"}, job_id="1").state == JobState.COMPLETED
    with pytest.raises(EmailVerificationError):
        parse_progress({"status": "success"}, job_id="1")


def test_batch_process_ids():
    assert parse_job_ids({"status": "success", "job_id": ["001"]}) == ["001"]
    assert parse_job_ids({"status": "success", "job_id": 17}) == ["17"]
    assert parse_job_ids({"status": "success", "job_id": ["1", 2]}) == ["1", "2"]
    with pytest.raises(EmailVerificationError):
        parse_job_ids({"status": "success", "job_id": []})


def test_result_files_by_file_and_flags():
    text = ("Email,Status,Free Email,Disposable,Role Address,Bad Address,Typo Suggestion\r\n"
            "info@gmail.com,Valid,True,False,True,False,None\r\n"
            "x@mailinator.com,Valid,False,True,False,False,None\r\n")
    reader = csv.reader(io.StringIO(text))
    parse = file_row_parser(next(reader), verdict="Valid", job_id="7")
    assert [row(parse(r)) for r in reader] == [
        ("info@gmail.com", "deliverable", "Valid", "", False, True, True, False, None, None, "emailverifierapp", "7"),
        ("x@mailinator.com", "risky", "Valid", "", True, False, False, False, None, None, "emailverifierapp", "7"),
    ]
    unknown = file_row_parser(["Email", "Status", "Typo Suggestion"], verdict="Unknown", job_id="7")
    assert row(unknown(["x@catchall.test", "Risky", "None"]))[1:8] == (
        "risky", "Risky", "", None, None, None, True)
    assert row(unknown(["u@unknown.test", "Unknown", "None"]))[1:8] == (
        "unknown", "Unknown", "", None, None, None, None)
    invalid = file_row_parser(None, verdict="Invalid", job_id="7")  # a file without header: email first
    assert row(invalid(["x@invalid.test"]))[:3] == ("x@invalid.test", "undeliverable", "Invalid")
    # original columns first: the address is the column named email, not "Free Email"
    shifted = file_row_parser(["id", "Free Email", "Contact Email", "Status"], verdict="Valid", job_id=None)
    assert shifted(["1", "False", "a@b.c", "Valid"]).email == "a@b.c"


def test_short_rows_and_files_without_a_header():
    parse = file_row_parser(["Email", "Status", "Free Email", "Disposable", "Role Address", "Bad Address",
                             "Typo Suggestion"], verdict="Valid", job_id="7")
    assert row(parse(["a@b.c", "Valid"])) == (
        "a@b.c", "deliverable", "Valid", "", None, None, None, False, None, None, "emailverifierapp", "7")
    assert row(parse(["a@gmial.com", "Valid", "True", "False", "False", "False", "a@gmail.com"]))[6:10] == (
        True, False, None, "a@gmail.com")
    headerless = file_row_parser(None, verdict="Unknown", job_id=None)
    assert row(headerless(["u@x.y", "Risky", "True"]))[:8] == ("u@x.y", "unknown", "Unknown", "", None, None, None, None)


def test_attribute_page_risky_is_catchall_only_for_low_deliverability():
    disposable = parse_verify({"success": True, "email": "x@mailinator.com", "result": "risky",
                               "reason": "Low Quality", "disposable": True})
    catchall = parse_verify({"success": True, "email": "x@catchall.test", "result": "risky",
                             "reason": "Low Deliverability", "disposable": False})
    assert (disposable.status, disposable.is_catchall, disposable.is_disposable) == ("risky", False, True)
    assert (catchall.status, catchall.is_catchall) == ("risky", True)
