# Licensed under the Apache License, Version 2.0.
"""NeverBounce v4.2 and v3 parsers against the bodies printed in specs/neverbounce.md and the seed pages."""

from __future__ import annotations

import json

import pytest

from airflow_provider_emailverify.clients.base import RawResponse
from airflow_provider_emailverify.clients.neverbounce import (
    NeverBounceClient,
    credits_from_account,
    job_info_from_status,
    result_from_verification,
    rows_from_download,
    supplied_rows,
)
from airflow_provider_emailverify.clients.neverbounce_v3 import (
    NeverBounceV3Client,
    csv_rows,
    result_from_single,
    result_name,
)
from airflow_provider_emailverify.clients.neverbounce_v3 import job_info_from_status as v3_job_info
from airflow_provider_emailverify.clients.neverbounce_v3 import rows_from_download as v3_rows
from airflow_provider_emailverify.clients.streams import iter_lines
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    EmailVerificationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    PayloadTooLargeError,
    ThrottledError,
    TransientError,
)
from airflow_provider_emailverify.jobs import JobState


# -- v4.2 ------------------------------------------------------------------------------------------
def test_account_info_paid_and_monthly_shapes():
    paid = {
        "status": "success",
        "credits_info": {
            "paid_credits_used": 0,
            "free_credits_used": 0,
            "paid_credits_remaining": 9950791,
            "free_credits_remaining": 0,
        },
        "job_counts": {"completed": 409, "under_review": 0, "queued": 0, "processing": 0},
        "execution_time": 896,
    }
    monthly = json.loads(
        '{"credits_info":{"free_credits_remaining":1000,"free_credits_used":0,"monthly_api_usage":0},'
        '"execution_time":405,"job_counts":{"completed":3,"processing":0,"queued":0,"under_review":0},'
        '"status":"success"}'
    )
    assert credits_from_account(paid) == 9950791
    assert credits_from_account(monthly) == 1000
    assert (
        credits_from_account(
            {"status": "success", "credits_info": {"paid_credits_remaining": "5", "free_credits_remaining": 3}}
        )
        == 8
    )
    assert credits_from_account({"status": "success", "credits": 53479}) == 53479


def test_single_check_examples():
    body = {
        "status": "success",
        "result": "valid",
        "flags": ["has_dns", "has_dns_mx", "role_account"],
        "suggested_correction": "",
        "address_info": {"original_email": "support@neverbounce.com"},
        "execution_time": 399,
    }
    row = result_from_verification("support@neverbounce.com", body)
    assert row.as_dict() == {
        "email": "support@neverbounce.com",
        "status": "deliverable",
        "vendor_status": "valid",
        "reason": "",
        "is_disposable": False,
        "is_role": True,
        "is_free": False,
        "is_catchall": False,
        "is_syntax_error": False,
        "suggestion": None,
        "vendor": "neverbounce",
        "job_id": None,
    }
    alias = json.loads(
        '{"status":"success","result":"valid","flags":["contains_alias","smtp_connectable","has_dns","has_dns_mx"],'
        '"suggested_correction":"","address_info":{"original_email":"fortunadze+1@gmail.com"},"execution_time":189}'
    )
    assert result_from_verification("fortunadze+1@gmail.com", alias).is_free is False
    typo = {
        "status": "success",
        "result": "invalid",
        "flags": ["bad_dns", "spelling_mistake", "mailbox_full"],
        "suggested_correction": "valid@gmail.com",
    }
    row = result_from_verification("valid@gmal.com", typo)
    assert (row.status, row.suggestion) == ("undeliverable", "valid@gmail.com")


@pytest.mark.parametrize(
    ("verdict", "flags", "status", "disposable", "catchall"),
    [
        ("valid", [], "deliverable", False, False),
        ("invalid", ["bad_syntax"], "undeliverable", False, False),
        ("disposable", ["disposable_email"], "risky", True, False),
        ("catchall", ["accepts_all"], "risky", False, True),
        ("unknown", [], "unknown", False, False),
        ("valid", ["disposable_email"], "risky", True, False),  # the cross-vendor disposable rule
    ],
)
def test_verdicts_map_to_neutral_status(verdict, flags, status, disposable, catchall):
    row = result_from_verification("a@b.com", {"result": verdict, "flags": flags})
    assert (row.status, row.vendor_status, row.is_disposable, row.is_catchall) == (
        status,
        verdict,
        disposable,
        catchall,
    )


def test_job_status_complete_example():
    body = {
        "status": "success",
        "id": 277461,
        "filename": "Created from Array.csv",
        "created_at": "2017-07-25 14:52:27",
        "started_at": "2017-07-25 14:52:40",
        "finished_at": "2017-07-25 14:53:06",
        "failure_reason": None,
        "total": {
            "records": 2,
            "billable": 2,
            "processed": 2,
            "valid": 0,
            "invalid": 2,
            "catchall": 0,
            "disposable": 0,
            "unknown": 0,
            "duplicates": 0,
            "bad_syntax": 0,
        },
        "bounce_estimate": 0,
        "percent_complete": 100,
        "job_status": "complete",
        "execution_time": 322,
    }
    info = job_info_from_status(body)
    assert info.job_id == "277461"
    assert info.state == JobState.COMPLETED and info.is_terminal
    assert (info.progress, info.total, info.processed) == (1.0, 2, 2)
    assert info.counts == {"deliverable": 0, "risky": 0, "undeliverable": 2, "unknown": 0}
    assert (info.vendor_status, info.message) == ("complete", None)


@pytest.mark.parametrize(
    ("job_status", "state"),
    [
        ("uploading", JobState.QUEUED),
        ("parsing", JobState.QUEUED),
        ("waiting", JobState.QUEUED),
        ("waiting_analyzed", JobState.QUEUED),
        ("queued", JobState.QUEUED),
        ("running", JobState.RUNNING),
        ("under_review", JobState.RUNNING),
        ("complete", JobState.COMPLETED),
        ("failed", JobState.FAILED),
    ],
)
def test_all_nine_job_statuses(job_status, state):
    assert job_info_from_status({"id": 1, "job_status": job_status, "total": {}}).state == state


def test_job_status_nulls_and_failure_reason():
    # Recorded failed/queued jobs carry null counters and bounce_estimate -1.
    failed = {
        "id": 12,
        "job_status": "failed",
        "failure_reason": "bad_data",
        "bounce_estimate": -1,
        "percent_complete": 0,
        "total": {
            "records": 0,
            "billable": 0,
            "processed": None,
            "valid": None,
            "invalid": 0,
            "catchall": None,
            "disposable": None,
            "unknown": None,
            "duplicates": None,
            "bad_syntax": None,
        },
    }
    info = job_info_from_status(failed)
    assert (info.state, info.message, info.processed, info.total) == (JobState.FAILED, "bad_data", 0, 0)
    assert info.counts == {"deliverable": 0, "risky": 0, "undeliverable": 0, "unknown": 0}
    running = {
        "id": 13,
        "job_status": "running",
        "percent_complete": 42.5,
        "total": {
            "records": 200,
            "processed": 85,
            "valid": 80,
            "invalid": 3,
            "catchall": 1,
            "disposable": 1,
            "unknown": 0,
        },
    }
    info = job_info_from_status(running)
    assert (info.state, info.progress, info.total, info.processed) == (JobState.RUNNING, 0.425, 200, 85)
    assert info.counts == {"deliverable": 80, "risky": 2, "undeliverable": 3, "unknown": 0}
    parsing = job_info_from_status(
        {"id": 14, "job_status": "parsing", "total": {"records": 0}, "percent_complete": None}
    )
    assert (parsing.total, parsing.progress, parsing.counts) == (None, 0.0, {})


def test_download_csv_seed_sample_with_appends():
    lines = [
        "id,email,name,bad_syntax,free_email_host,role_account,email_status",
        '"12345","support@neverbounce.com","Fred McValid",0,0,1,valid',
        '"12346","invalid@neverbounce.com","Bob McInvalid",0,0,0,invalid',
        '"12347","x@mailinator.com","",0,0,0,disposable',
        '"12348","bad syntax","",1,0,0,invalid',
        '"12349","info@gmail.com","",0,1,1,valid',
    ]
    rows = list(rows_from_download(lines, job_id="7"))
    assert [r.email for r in rows] == [
        "support@neverbounce.com",
        "invalid@neverbounce.com",
        "x@mailinator.com",
        "bad syntax",
        "info@gmail.com",
    ]
    assert rows[0].extra == {"id": "12345", "name": "Fred McValid"}
    assert (rows[0].status, rows[0].is_role, rows[0].job_id, rows[0].vendor) == (
        "deliverable",
        True,
        "7",
        "neverbounce",
    )
    assert (rows[2].status, rows[2].is_disposable) == ("risky", True)
    assert (rows[3].status, rows[3].is_syntax_error) == ("undeliverable", True)
    assert (rows[4].is_free, rows[4].is_role) == (True, True)


def test_download_csv_other_line_feeds_binary_types_and_header_artefact():
    # LINEFEED_0A0D ("\n\r") leaves a stray "\r" at the start of each following line; yes/no flags;
    # appended columns in another order; the header repeated as a data line is skipped.
    lines = [
        "email,email_status,role_account,free_email_host,bad_syntax",
        "\remail,invalid,no,no,yes",
        "\ra@catchall.test,catchall,no,no,no",
        "\r",
    ]
    rows = list(rows_from_download(lines, job_id="1"))
    assert len(rows) == 1
    assert (rows[0].email, rows[0].status, rows[0].is_catchall, rows[0].is_syntax_error, rows[0].extra) == (
        "a@catchall.test",
        "risky",
        True,
        False,
        {},
    )


def test_download_csv_with_values_spanning_lines_and_the_documented_line_feed():
    # LINEFEED_0A0D ends every line with "\n\r"; quoted original columns may hold line breaks.
    body = (
        b'email,name,bad_syntax,free_email_host,role_account,email_status\n\r'
        b'"line\nbreak@example.com","Ann ""A"",\r\nSmith",1,0,0,invalid\n\r'
        b'"\xc3\xbc@ex\xc3\xa4mple.com\r","\n\r",0,0,0,valid\n\r'
    )
    for size in (1, 2, 3, len(body)):
        chunks = [body[i:i + size] for i in range(0, len(body), size)]
        rows = list(rows_from_download(iter_lines(chunks), job_id="1"))
        assert [(r.email, r.extra, r.status, r.is_syntax_error) for r in rows] == [
            ("line\nbreak@example.com", {"name": 'Ann "A",\r\nSmith'}, "undeliverable", True),
            ("ü@exämple.com\r", {"name": "\n\r"}, "deliverable", False),
        ]


def test_download_csv_without_header():
    rows = list(rows_from_download(["a@b.com,0,1,0,valid"], job_id="1"))
    assert (rows[0].email, rows[0].status, rows[0].is_free) == ("a@b.com", "deliverable", True)


def test_download_csv_flags_in_any_spelling():
    # binary_operators_type spellings, then others read as flags are everywhere else; unreadable ones are None.
    spellings = {"1": True, "Y": True, "yes": True, "Yes": True, "true": True, " TRUE ": True, "t": True,
                 "0": False, "N": False, "no": False, "No": False, "false": False, "F": False,
                 "": None, "maybe": None, "2": None}
    lines = ["email,bad_syntax,free_email_host,role_account,email_status"]
    lines += [f"a{i}@b.com,{text},{text},{text},valid" for i, text in enumerate(spellings)]
    for _ in range(2):  # a second download reads the same spellings the same way
        rows = list(rows_from_download(lines, job_id="1"))
        assert [(r.is_syntax_error, r.is_free, r.is_role) for r in rows] == [(v, v, v) for v in spellings.values()]


def test_download_csv_with_many_distinct_verdicts():
    verdicts = [f"new verdict {i}" for i in range(100)] + ["valid", "disposable", "catchall", "invalid", "unknown"]
    lines = [f"a{i}@b.com,0,0,0,{verdict}" for i, verdict in enumerate(verdicts * 2)]
    rows = list(rows_from_download(lines, job_id="1"))
    expected = ["unknown"] * 100 + ["deliverable", "risky", "risky", "undeliverable", "unknown"]
    assert [(r.status, r.vendor_status) for r in rows] == list(zip(expected * 2, verdicts * 2))
    assert [(r.is_disposable, r.is_catchall) for r in rows[100:105]] == [
        (False, False), (True, False), (False, True), (False, False), (False, False)
    ]


def test_supplied_rows_build_the_input_array():
    body = b"".join(supplied_rows([{"email": "a@b.com", "id": 1}, {"email": "c@d.com"}, "e@f.com"]))
    assert json.loads(body) == [
        {"email": "a@b.com", "id": 1},
        {"email": "c@d.com", "id": ""},
        {"email": "e@f.com", "id": ""},
    ]
    with pytest.raises(InvalidRequestError, match="record 2 has no email"):
        b"".join(supplied_rows([{"email": "a@b.com"}, {"mail": "x"}]))
    with pytest.raises(InvalidRequestError, match="record 2 has columns"):
        b"".join(supplied_rows([{"email": "a@b.com"}, {"email": "x@y.com", "new": 1}]))
    with pytest.raises(InvalidRequestError, match="no records"):
        b"".join(supplied_rows([]))


def _check(client, body, *, status=200, endpoint="jobs/status"):
    from airflow_provider_emailverify.clients.base import ApiCall

    text = body if isinstance(body, str) else json.dumps(body)
    raw = RawResponse(status=status, headers={}, body=client.decode(status, {}, text.encode()).body, text=text)
    client.check(ApiCall(method="POST", path="/v4.2/" + endpoint, endpoint=endpoint), raw)


@pytest.mark.parametrize(
    ("body", "endpoint", "error", "message"),
    [
        (
            {"status": "auth_failure", "message": "Invalid API key 'adsfad'"},
            "account/info",
            AuthenticationError,
            "Invalid API key",
        ),
        (
            {"status": "general_failure", "message": "Missing required parameter 'key'"},
            "account/info",
            InvalidRequestError,
            "Missing required",
        ),
        (
            {
                "status": "general_failure",
                "message": "Insufficient credit balance. This transaction requires 1 credits. The current available credit balance is 0.",
            },
            "single/check",
            InsufficientCreditsError,
            "Insufficient credit",
        ),
        (
            {"status": "general_failure", "message": "This job is not in a state which can be started"},
            "jobs/start",
            JobNotReadyError,
            "not in a state",
        ),
        ({"status": "general_failure", "message": "Job not found"}, "jobs/status", JobNotFoundError, "Job not found"),
        (
            {"status": "temp_unavail", "message": "Unable to communicate with backend services"},
            "jobs/status",
            TransientError,
            "backend",
        ),
        (
            {"status": "throttle_triggered", "message": "Too many requests in a short amount of time"},
            "single/check",
            ThrottledError,
            "Too many",
        ),
        (
            {
                "status": "bad_referrer",
                "message": "The referrer this request originated from is not on the trusted list",
            },
            "single/check",
            AuthenticationError,
            "referrer",
        ),
        ({"status": "strange", "message": "new"}, "single/check", EmailVerificationError, "new"),
    ],
)
def test_error_envelopes_map_to_exceptions(body, endpoint, error, message):
    client = NeverBounceClient(api_key="adsfad")
    with pytest.raises(error) as caught:
        _check(client, body, endpoint=endpoint)
    assert message in caught.value.vendor_message
    assert caught.value.http_status == 200 and caught.value.vendor == "neverbounce"
    assert "adsfad" not in str(caught.value)


def test_http_errors_map_to_exceptions():
    client = NeverBounceClient(api_key="secret_x")
    with pytest.raises(PayloadTooLargeError):
        _check(client, "<html>413 Request Entity Too Large</html>", status=413, endpoint="jobs/create")
    with pytest.raises(TransientError):
        _check(client, "<html><body><h1>502 Bad Gateway</h1></body></html>", status=502)
    with pytest.raises(InvalidRequestError):
        _check(client, "{}", status=400)
    with pytest.raises(TransientError, match="unexpected answer"):
        _check(client, "<html>maintenance</html>", status=200)


# -- v3 --------------------------------------------------------------------------------------------
def test_v3_result_codes_become_names():
    assert [result_name(code) for code in (0, 1, 2, "3", 4)] == [
        "valid",
        "invalid",
        "disposable",
        "catchall",
        "unknown",
    ]
    row = result_from_single("a@b.com", {"success": True, "result": 0, "result_details": 0, "execution_time": 0.47})
    assert (row.status, row.vendor_status, row.is_syntax_error, row.is_role, row.vendor) == (
        "deliverable",
        "valid",
        False,
        None,
        "neverbounce_v3",
    )
    row = result_from_single("bad syntax", {"success": True, "result": 1, "result_details": 1})
    assert (row.status, row.vendor_status, row.is_syntax_error) == ("undeliverable", "invalid", True)


def test_v3_status_example():
    body = json.loads(
        r"""{"success": true, "id": "194459", "status": "4", "type": "1", "input_location": "1",
        "orig_name": "2017-04-26.api_job.1054.590102fbcae30.csv",
        "stats": {"total": 1,"processed": 1,"valid": 1,"invalid": 0,"catchall": 0,"disposable": 0,"unknown": 0,
                  "duplicates": 0,"bad_syntax": 0,"billable": 1,"job_time": 0},
        "created": "2017-04-26 16:28:43", "started": "2017-04-26 16:28:40", "finished": "2017-04-26 16:28:40",
        "analysis_started": null, "analysis_finished": null,
        "file_details": "{\"error\":false,\"email_col_i\":0,\"tot_cols\":1,\"delimiter\":\"\",\"has_header\":false,\"size\":20,\"tot_records\":2,\"tot_emails\":0}",
        "job_details": [], "execution_time": 0.012382984161377}"""
    )
    info = v3_job_info(body)
    assert (info.job_id, info.state, info.progress, info.total, info.processed, info.vendor_status) == (
        "194459",
        JobState.COMPLETED,
        1.0,
        1,
        1,
        "4",
    )
    assert info.counts == {"deliverable": 1, "risky": 0, "undeliverable": 0, "unknown": 0}
    states = [v3_job_info({"id": "1", "status": str(code), "stats": {}}).state for code in range(-1, 6)]
    assert states == [JobState.QUEUED] * 4 + [JobState.RUNNING, JobState.COMPLETED, JobState.FAILED]
    assert v3_job_info({"id": "1", "status": "5", "stats": {}}).message


def test_v3_download_sample_and_header():
    rows = list(v3_rows(["support@neverbounce.com,valid", "invalid@neverbounce.com,invalid", "x@y.com,2"], job_id="9"))
    assert [(r.email, r.status, r.vendor_status) for r in rows] == [
        ("support@neverbounce.com", "deliverable", "valid"),
        ("invalid@neverbounce.com", "undeliverable", "invalid"),
        ("x@y.com", "risky", "disposable"),
    ]
    rows = list(v3_rows(["email,id,result", "email,id,invalid", "a@b.com,7,catchall"], job_id="9"))
    assert [(r.email, r.extra, r.is_catchall) for r in rows] == [("a@b.com", {"id": "7"}, True)]


def test_v3_csv_rows():
    assert "".join(csv_rows(["a@b.com", {"email": "c@d.com"}])) == "a@b.com\nc@d.com\n"
    assert "".join(csv_rows([{"email": "a@b.com", "name": "A, B"}])) == 'email,name\na@b.com,"A, B"\n'


def test_v3_csv_rows_quote_every_line_break():
    # A lone "\r" is a line end to CSV readers, though the csv module leaves it unquoted with "\n" line ends.
    text = "".join(csv_rows(["a\nb@c.com", "lone\rcr@c.com", "d@e.com"]))
    assert text == '"a\nb@c.com"\n"lone\rcr@c.com"\nd@e.com\n'
    download = b'"a\nb@c.com",valid\n"lone\rcr@c.com",invalid\nd@e.com,valid\n'
    assert [(r.email, r.vendor_status) for r in v3_rows(iter_lines([download]), job_id="1")] == [
        ("a\nb@c.com", "valid"), ("lone\rcr@c.com", "invalid"), ("d@e.com", "valid")
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"success": False, "msg": "Authentication failed"}, AuthenticationError),
        ({"success": False, "msg": "Missing required parameter 'email'"}, InvalidRequestError),
        (
            {"success": False, "error_code": 4, "error_msg": "You have reached your monthly free API usage limit."},
            InsufficientCreditsError,
        ),
        (
            {"success": False, "error_msg": "Free API usage is limited to single requests only.", "error_code": 2},
            InvalidRequestError,
        ),
        ({"success": False, "error_code": 3, "error_msg": "Invalid job"}, JobNotFoundError),
        ({"success": False, "error_code": 0, "error_msg": "Internal error"}, TransientError),
        (
            {"error": "invalid_client", "error_description": "The api username and/or api secret key is incorrect"},
            AuthenticationError,
        ),
        (
            {"error": "invalid_request", "error_description": "The grant type was not specified in the request"},
            InvalidRequestError,
        ),
    ],
)
def test_v3_error_envelopes(body, error):
    from airflow_provider_emailverify.clients.base import ApiCall

    client = NeverBounceV3Client(api_key="v3-secret-xyz", username="user1234")
    raw = RawResponse(status=200, headers={}, body=body, text=json.dumps(body))
    with pytest.raises(error):
        client.check(ApiCall(method="POST", path="/v3/single", endpoint="single"), raw)


def test_header_row_artefact_correction():
    # NeverBounceCli-Ruby fixture for job 274226: records 3, billable 2, processed 3, valid 1, invalid 2, bad_syntax 1.
    body = {"id": 274226, "job_status": "complete", "percent_complete": 100,
            "total": {"records": 3, "billable": 2, "processed": 3, "valid": 1, "invalid": 2, "catchall": 0,
                      "disposable": 0, "unknown": 0, "duplicates": 0, "bad_syntax": 1}}
    assert job_info_from_status(body).total == 3
    info = job_info_from_status(body, header_row_counted=True)
    assert (info.total, info.processed, info.counts["undeliverable"]) == (2, 2, 1)
    clean = {"id": 1, "job_status": "complete", "total": {"records": 2, "processed": 2, "valid": 2, "invalid": 0, "bad_syntax": 0}}
    assert job_info_from_status(clean, header_row_counted=True).total == 2
