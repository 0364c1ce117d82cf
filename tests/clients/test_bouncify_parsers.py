# Licensed under the Apache License, Version 2.0.
"""Bouncify parsers: the spec's and the seed page's example bodies become the expected neutral rows / JobInfo."""

from __future__ import annotations

import csv
import io

import pytest

from airflow_provider_emailverify.clients.bouncify_formats import (
    csv_row_parser,
    parse_credits,
    parse_job_id,
    parse_status,
    parse_verify,
)
from airflow_provider_emailverify.exceptions import EmailVerificationError
from airflow_provider_emailverify.jobs import JobState

ROW = ("email", "status", "vendor_status", "reason", "is_disposable", "is_role", "is_free", "is_catchall",
       "is_syntax_error", "suggestion", "vendor", "job_id")


def row(result):
    return tuple(getattr(result, name) for name in ROW)


def test_single_verification_example():
    body = {"result": "deliverable", "message": "This address can receive emails.", "email": "support@bouncify.io",
            "user": "support", "domain": "bouncify.io", "accept_all": 2, "role": 1, "free_email": 0,
            "disposable": 0, "spamtrap": 0, "success": True}
    # accept_all 2 = not determined [ASSUMED]
    assert row(parse_verify(body)) == (
        "support@bouncify.io", "deliverable", "deliverable", "", False, True, False, None, False, None, "bouncify", None,
    )


@pytest.mark.parametrize("spelling", ["accept_all", "accept-all", "accept all", "Accept-All"])
def test_every_accept_all_spelling_is_risky(spelling):
    result = parse_verify({"result": spelling, "email": "a@catchall.test", "accept_all": 1, "success": True})
    assert (result.status, result.vendor_status, result.is_catchall) == ("risky", spelling, True)


def test_disposable_flag_on_a_deliverable_verdict_is_risky():
    result = parse_verify({"result": "deliverable", "email": "x@mailinator.com", "accept_all": 0, "disposable": 1,
                           "role": 0, "free_email": 0, "success": True})
    assert (result.status, result.vendor_status, result.is_disposable, result.is_catchall) == (
        "risky", "deliverable", True, False)


def test_status_completed_seed_example():
    info = parse_status({
        "job_id": "r374aki32rnatv868nntpxloc7dkilszc3eu", "status": "completed", "created_at": "08/13/2021, 9:39:37 AM",
        "total": 2, "verified": 2, "pending": 0,
        "analysis": {"common_isp": 1, "role_based": 1, "disposable": 0, "spamtrap": 0, "syntax_error": 0},
        "results": {"deliverable": 1, "undeliverable": 0, "accept_all": 1, "unknown": 0},
        "success": True,
        "message": "Verification completed successfully. Please download the result using /download endpoint",
    })
    assert info.to_dict() == {
        "job_id": "r374aki32rnatv868nntpxloc7dkilszc3eu", "state": "completed", "progress": 1.0, "total": 2,
        "processed": 2, "counts": {"deliverable": 1, "undeliverable": 0, "risky": 1, "unknown": 0},
        "vendor_status": "completed", "message": None,
    }


def test_status_other_states_seed_examples():
    preparing = parse_status({"job_id": "r374", "status": "preparing", "created_at": "08/13/2021, 9:39:37 AM",
                              "success": True, "message": "Job is being prepared for verification"})
    assert (preparing.state, preparing.total, preparing.progress) == (JobState.QUEUED, None, 0.0)
    ready = parse_status({"job_id": "r374", "status": "ready", "total": 2, "success": True,
                          "analysis": {"common_isp": 1}, "message": "Job ready for verification."})
    assert (ready.state, ready.total) == (JobState.QUEUED, 2)
    verifying = parse_status({"job_id": "r374", "status": "verifying", "total": 2, "verified": 1, "pending": 1,
                              "results": {"deliverable": 1, "undeliverable": 0, "accept_all": 1, "unknown": 0},
                              "success": True, "message": "Job is being verified"})
    assert (verifying.state, verifying.progress, verifying.processed) == (JobState.RUNNING, 0.5, 1)
    failed = parse_status({"job_id": "565ad4aki32rnqweqaefwdaosjc7dksdaksd", "status": "failed",
                           "created_at": "08/03/2021, 3:35:32 PM", "total": 0, "success": True,
                           "message": "Unable to process your job, The uploaded list contains invalid data"})
    assert (failed.state, failed.message) == (
        JobState.FAILED, "Unable to process your job, The uploaded list contains invalid data")
    cancelled = parse_status({"job_id": "asdf", "status": "cancelled", "total": 4, "success": True,
                              "message": "Job is cancelled"})
    assert (cancelled.state, cancelled.message, cancelled.is_terminal) == (JobState.CANCELLED, "Job is cancelled", True)


def test_download_csv_documented_columns():
    text = (
        '"Email","Verification Result","Syntax Error","ISP","Role","Disposable","Trap","Verified At"\r\n'
        '"info@sample.com","deliverable","N","Y","N","N","N","2021-09-13T06:49:39.280Z"\r\n'
        '"support@sample.in","accept-all","N","N","Y","Y","N","2021-09-13T06:49:39.282Z"\r\n'
        '"bad syntax","undeliverable","Y","N","N","N","N","2021-09-13T06:49:39.282Z"\r\n'
        '"u@unknown.test","unknown","N","N","N","N","N","2021-09-13T06:49:39.282Z"\r\n'
    )
    reader = csv.reader(io.StringIO(text))
    parse = csv_row_parser(next(reader), job_id="j1")
    rows = [row(parse(r)) for r in reader]
    assert rows == [
        ("info@sample.com", "deliverable", "deliverable", "", False, False, True, False, False, None, "bouncify", "j1"),
        ("support@sample.in", "risky", "accept-all", "", True, True, False, True, False, None, "bouncify", "j1"),
        ("bad syntax", "undeliverable", "undeliverable", "", False, False, False, False, True, None, "bouncify", "j1"),
        ("u@unknown.test", "unknown", "unknown", "", False, False, False, None, False, None, "bouncify", "j1"),
    ]


def test_download_keeps_uploaded_columns_and_finds_email_by_name_or_first():
    parse = csv_row_parser(["email", "firstname", "Verification Result", "Syntax Error", "ISP", "Role",
                            "Disposable", "Trap", "Verified At"], job_id=None)
    result = parse(["a@b.c", "John", "deliverable", "N", "N", "N", "N", "N", "2021-09-13T06:49:39.280Z"])
    assert (result.email, result.extra) == ("a@b.c", {"firstname": "John"})
    headerless = csv_row_parser(["", "Verification Result", "Accept-all"], job_id=None)
    result = headerless(["x@y.z", "unknown", "Y"])
    assert (result.email, result.is_catchall, result.is_syntax_error) == ("x@y.z", True, None)
    with pytest.raises(EmailVerificationError):
        csv_row_parser(["Email", "Result"], job_id=None)


def test_short_rows_and_an_accept_all_column():
    parse = csv_row_parser(["Email", "Verification Result", "Accept-all", "Syntax Error", "ISP", "Role", "Disposable",
                            "note"], job_id="j")
    assert row(parse(["a@b.c", "deliverable", "2"])) == (
        "a@b.c", "deliverable", "deliverable", "", None, None, None, None, None, None, "bouncify", "j")
    full = parse(["a@b.c", "accept_all", "", "N", "Y", "N", "N", "hi"])
    assert (full.status, full.is_catchall, full.is_free, full.extra) == ("risky", True, True, {"note": "hi"})
    assert parse(["a@b.c"]).status == "unknown"


def test_upload_info_and_bad_bodies():
    assert parse_job_id({"job_id": "r374aki32rnatv868nntpxloc7dkilszc3eu", "success": True,
                         "message": "Bulk email verification list has been created"}) == "r374aki32rnatv868nntpxloc7dkilszc3eu"
    assert parse_credits({"success": True, "credits_info": {"credits_remaining": 100}}) == 100
    for parser in (parse_job_id, parse_credits, parse_status, parse_verify):
        with pytest.raises(EmailVerificationError):
            parser({"success": True})
