# Licensed under the Apache License, Version 2.0.
"""
The NeverBounce v4 emulator's jobs over real HTTP, checked against specs/neverbounce.md:
creation and input forms, results, download, search, remote lists and callbacks.
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from airflow_provider_emailverify.emulator.neverbounce import poe_token
from tests.emulator.neverbounce_helpers import ROWS, generated_csv
from tests.emulator.polling import LocalServer, wait_for


# -- jobs: creation and input forms ------------------------------------------------------------------------


def test_create_requires_parameters(nb):
    assert nb.error("jobs/create", input=ROWS)["message"] == "Missing required parameter 'input_location'"
    assert nb.error("jobs/create", input_location="supplied")["message"] == "Missing required parameter 'input'"
    assert nb.error("jobs/create", input_location="ftp", input=ROWS)["message"] == "Invalid value for parameter 'input_location'"
    assert nb.error("jobs/create", input_location="supplied", input="a@b.com")["message"] == "Invalid value for parameter 'input'"
    assert nb.error("jobs/create", input_location="supplied", input=ROWS, auto_parse="sometimes")["status"] == "general_failure"


def test_manual_parse_then_start(nb, emulator):
    job_id = nb.create(ROWS, auto_parse=0, auto_start=0, filename="manual.csv")
    before = nb.status(job_id)
    assert before["job_status"] == "waiting"
    assert before["total"]["records"] is None and before["bounce_estimate"] == -1 and before["started_at"] is None
    refused = nb.error("jobs/start", job_id=job_id)
    assert refused["message"].startswith("This job is not in a state which can")
    parsed = nb.ok("jobs/parse", job_id=job_id)
    assert re.fullmatch(r"NB-PQ-[0-9A-F]{13}", parsed["queue_id"])
    assert nb.error("jobs/parse", job_id=job_id)["message"] == "This job is not in a state which can be parsed"
    waiting = nb.wait(job_id, "waiting")
    assert waiting["total"]["records"] == 7 and waiting["total"]["processed"] is None
    assert emulator.stats()["credits_spent"] == {}
    started = nb.ok("jobs/start", job_id=job_id)
    assert started["queue_id"].startswith("NB-PQ-")
    done = nb.wait(job_id)
    assert done["job_status"] == "complete"
    assert done["total"] == {
        "records": 7, "billable": 5, "processed": 7, "valid": 2, "invalid": 2, "catchall": 1,
        "disposable": 1, "unknown": 1, "duplicates": 1, "bad_syntax": 1,
    }
    assert done["percent_complete"] == 100 and done["bounce_estimate"] == 0 and done["failure_reason"] is None
    assert done["filename"] == "manual.csv"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", done[key]) for key in ("created_at", "started_at", "finished_at"))
    assert emulator.stats()["credits_spent"][emulator.api_key] == 5
    assert nb.error("jobs/start", job_id=job_id)["message"] == "This job is not in a state which can be started"


def test_parse_with_auto_start(nb):
    job_id = nb.create(ROWS, auto_parse=0, auto_start=0)
    nb.ok("jobs/parse", job_id=job_id, auto_start=1)
    assert nb.wait(job_id)["job_status"] == "complete"


def test_start_while_parsing_is_refused(nb, emulator):
    emulator.set_faults(rows_per_second=5)  # parsing takes rows / 50 s
    job_id = nb.create([[f"u{index}@example.com"] for index in range(150)], auto_start=0)
    assert nb.status(job_id)["job_status"] == "parsing"
    assert nb.error("jobs/start", job_id=job_id)["message"] == "This job is not in a state which can be started"
    assert nb.error("jobs/delete", job_id=job_id)["message"] == "This job is not in a state which can be deleted"
    emulator.set_faults(rows_per_second=1e6)
    assert nb.wait(job_id, "waiting")["job_status"] == "waiting"


def test_running_progress_counters(nb, emulator):
    emulator.set_faults(rows_per_second=1e6)
    job_id = nb.create([[f"user{index}@example.com"] for index in range(300)], auto_start=0)
    nb.wait(job_id, "waiting")
    emulator.set_faults(rows_per_second=100)
    nb.ok("jobs/start", job_id=job_id)
    time.sleep(0.5)
    running = nb.status(job_id)
    assert running["job_status"] == "running"
    assert 0 < running["total"]["processed"] < 300
    assert running["total"]["valid"] == running["total"]["processed"]
    assert 0 < running["percent_complete"] < 100
    assert nb.error("jobs/delete", job_id=job_id)["message"] == "This job is not in a state which can be deleted"
    assert nb.error("jobs/results", job_id=job_id)["message"] == "This job is not in a state which can return results"
    early = nb.download(job_id)
    assert early.headers["content-type"] == "application/json"
    assert early.json()["message"] == "This job is not in a state which can be downloaded"
    assert nb.ok("account/info")["job_counts"]["processing"] == 1
    emulator.set_faults(rows_per_second=1e6)
    assert nb.wait(job_id)["total"]["processed"] == 300


def test_sample_run_then_full_run(nb, emulator):
    rows = [[f"invalid{index}@example.com" if index % 4 == 0 else f"user{index}@example.com"] for index in range(100)]
    job_id = nb.create(rows, auto_start=0, run_sample=1)
    analyzed = nb.wait(job_id, "waiting_analyzed")
    assert analyzed["bounce_estimate"] == 0.3  # 3 of the first 10 rows
    assert analyzed["total"]["processed"] is None
    assert emulator.stats()["credits_spent"] == {}
    assert nb.error("jobs/start", job_id=job_id, run_sample=1)["status"] == "general_failure"
    nb.ok("jobs/start", job_id=job_id)
    done = nb.wait(job_id)
    assert done["job_status"] == "complete" and done["bounce_estimate"] == 0.3
    assert emulator.stats()["credits_spent"][emulator.api_key] == 100


def test_sample_via_jobs_start(nb):
    job_id = nb.create(ROWS, auto_start=0)
    nb.wait(job_id, "waiting")
    nb.ok("jobs/start", job_id=job_id, run_sample=1)
    assert nb.wait(job_id, "waiting_analyzed")["bounce_estimate"] >= 0


def test_empty_input_fails_with_reason(nb):
    job_id = nb.create([["email"]])  # a header and nothing else
    failed = nb.wait(job_id)
    assert failed["job_status"] == "failed"
    assert failed["failure_reason"] == "The list does not contain any records"
    assert failed["bounce_estimate"] == -1
    assert "failure_reason" not in nb.status(job_id, "v4.1")


def test_fail_jobs_config(nb, emulator):
    emulator.set_faults(fail_jobs=1.0)
    job_id = nb.create(ROWS)
    failed = nb.wait(job_id)
    assert failed["job_status"] == "failed" and "malformed" in failed["failure_reason"]
    assert emulator.stats()["credits_spent"] == {}
    nb.ok("jobs/delete", job_id=job_id)


def test_insufficient_credits_at_start(nb, emulator):
    emulator.set_credits(3)
    job_id = nb.create(ROWS, auto_start=0)
    nb.wait(job_id, "waiting")
    body = nb.error("jobs/start", job_id=job_id)
    assert body["message"] == (
        "Insufficient credit balance. This transaction requires 5 credits. The current available credit balance is 3."
    )
    assert nb.status(job_id)["job_status"] == "waiting"
    emulator.set_option("neverbounce", insufficient_credits="fail_job")
    nb.ok("jobs/start", job_id=job_id)
    assert nb.wait(job_id)["failure_reason"].startswith("Insufficient credit balance.")


def test_insufficient_credits_on_auto_start_fails_job(nb, emulator):
    emulator.set_credits(1)
    failed = nb.wait(nb.create(ROWS))
    assert failed["job_status"] == "failed"
    assert failed["failure_reason"] == (
        "Insufficient credit balance. This transaction requires 5 credits. The current available credit balance is 1."
    )


def test_bill_duplicates_switch(nb, emulator):
    emulator.set_option("neverbounce", bill_duplicates=True)
    assert nb.wait(nb.create(ROWS))["total"]["billable"] == 6


def test_queued_beyond_ten_running_jobs(nb, emulator):
    emulator.set_faults(rows_per_second=1e6)
    ids = [nb.create([[f"u{index}@example.com"] for index in range(200)], auto_start=0) for _ in range(11)]
    for job_id in ids:
        nb.wait(job_id, "waiting")
    emulator.set_faults(rows_per_second=1)
    for job_id in ids:
        nb.ok("jobs/start", job_id=job_id)
    statuses = [nb.status(job_id)["job_status"] for job_id in ids]
    assert statuses == ["running"] * 10 + ["queued"]
    assert nb.ok("account/info")["job_counts"]["queued"] == 1
    queued = nb.status(ids[-1])
    assert queued["started_at"] is None and queued["total"]["processed"] is None
    nb.ok("jobs/delete", job_id=ids[-1])  # queued jobs may be deleted, and are refunded
    assert emulator.stats()["credits_spent"][emulator.api_key] == 2000
    emulator.set_faults(rows_per_second=1e6)
    assert {nb.wait(job_id)["job_status"] for job_id in ids[:10]} == {"complete"}


def test_queued_job_starts_when_a_slot_frees(nb, emulator):
    emulator.set_option("neverbounce", max_concurrent_jobs=1)
    first = nb.create([[f"a{index}@example.com"] for index in range(20)], auto_start=0)
    second = nb.create([[f"b{index}@example.com"] for index in range(20)], auto_start=0)
    nb.wait(first, "waiting")
    nb.wait(second, "waiting")
    emulator.set_faults(rows_per_second=20)
    nb.ok("jobs/start", job_id=first)
    nb.ok("jobs/start", job_id=second)
    assert nb.status(first)["job_status"] == "running"
    assert nb.status(second)["job_status"] == "queued"
    assert nb.wait(second, "running", timeout=10)["job_status"] == "running"
    assert nb.status(first)["job_status"] == "complete"


def test_manual_review(nb, emulator):
    emulator.set_option("neverbounce", manual_review_seconds=0.4)
    bad = [[f"invalid{index}@example.com"] for index in range(8)] + [["ok@example.com"]]
    job_id = nb.create(bad, allow_manual_review=1)
    assert nb.wait(job_id, "under_review", "complete")["job_status"] == "under_review"
    assert nb.ok("account/info")["job_counts"]["under_review"] == 1
    assert nb.wait(job_id)["job_status"] == "complete"
    no_review = nb.create(bad)  # v4.2 default: API jobs skip manual review
    assert nb.wait(no_review, "under_review", "complete")["job_status"] == "complete"
    legacy = nb.create(bad, version="v4.1")  # before v4.2 API jobs could fall into review
    assert nb.wait(legacy, "under_review", "complete", version="v4.1")["job_status"] == "under_review"


def test_unknown_job(nb):
    for endpoint in ("jobs/status", "jobs/parse", "jobs/start", "jobs/results", "jobs/download", "jobs/delete"):
        assert nb.error(endpoint, job_id=999)["message"] == "The job (999) could not be found"
    assert nb.error("jobs/status")["message"] == "Missing required parameter 'job_id'"
    assert nb.error("jobs/status", job_id="abc")["message"] == "Invalid value for parameter 'job_id'"


def test_job_id_as_string_and_other_keys_jobs_invisible(nb, emulator):
    job_id = nb.create(ROWS)
    assert nb.ok("jobs/status", job_id=str(job_id))["id"] == job_id
    emulator.state.add_key("other-key")
    other = requests.get(nb.url("jobs/status"), params={"key": "other-key", "job_id": job_id}, timeout=10).json()
    assert other["message"] == f"The job ({job_id}) could not be found"


def test_delete(nb):
    job_id = nb.create(ROWS)
    nb.wait(job_id)
    assert set(nb.ok("jobs/delete", job_id=job_id)) == {"status", "execution_time"}
    assert nb.error("jobs/status", job_id=job_id)["status"] == "general_failure"
    unparsed = nb.create(ROWS, auto_parse=0)
    assert nb.get("jobs/delete", job_id=unparsed).json()["status"] == "success"  # Python/.NET SDKs delete via GET


def test_supplied_objects_and_index_keyed_forms(nb):
    objects = [{"id": "12345", "email": "support@neverbounce.com", "name": "Fred McValid"}, {"id": "12346", "email": "invalid@neverbounce.com", "name": "Bob McInvalid"}]
    by_index = {"0": objects[0], "1": objects[1]}  # the Go SDK's form
    for value in (objects, by_index):
        job_id = nb.create(value)
        assert nb.wait(job_id)["total"]["records"] == 2
        assert nb.csv_lines(job_id) == [
            "id,email,name,email_status",
            '"12345","support@neverbounce.com","Fred McValid",valid',
            '"12346","invalid@neverbounce.com","Bob McInvalid",invalid',
        ]


def test_object_header_row_switch(nb, emulator):
    emulator.set_option("neverbounce", object_header_row=True)
    job_id = nb.create([{"email": "support@neverbounce.com", "id": "1"}, {"email": "a@example.com", "id": "2"}])
    total = nb.wait(job_id)["total"]
    assert (total["records"], total["billable"], total["invalid"], total["bad_syntax"]) == (3, 2, 1, 1)
    first = nb.ok("jobs/results", job_id=job_id)["results"][0]
    assert first["data"] == {"email": "email", "id": "id"}
    assert first["verification"]["result"] == "invalid"
    assert nb.csv_lines(job_id)[0] == "email,id,email_status"


def test_bracket_form_input(nb):
    data = {
        "key": nb.key,
        "input_location": "supplied",
        "auto_parse": "true",
        "auto_start": "true",
        "filename": "form.csv",
        "input[0][0]": "support@neverbounce.com",
        "input[0][1]": "Fred McValid",
        "input[1][0]": "invalid@neverbounce.com",
        "input[1][1]": "Bob McInvalid",
        "callback_headers[X-My-Token]": "123abc",
    }
    body = requests.post(nb.url("jobs/create"), data=data, timeout=10).json()
    assert body["status"] == "success"
    nb.wait(body["job_id"])
    assert nb.csv_lines(body["job_id"]) == ['"support@neverbounce.com","Fred McValid",valid', '"invalid@neverbounce.com","Bob McInvalid",invalid']
    objects = {"key": nb.key, "input_location": "supplied", "auto_parse": 1, "auto_start": 1, "input[0][email]": "a@example.com", "input[0][id]": "7"}
    job_id = requests.post(nb.url("jobs/create"), data=objects, timeout=10).json()["job_id"]
    nb.wait(job_id)
    assert nb.ok("jobs/results", job_id=job_id)["results"][0]["data"] == {"email": "a@example.com", "id": "7"}


def test_single_element_rows_and_scalar_rows(nb):
    job_id = nb.create([["a@example.com"], "b@example.com", ["c@catchall.test"]])
    assert nb.wait(job_id)["total"]["records"] == 3
    assert nb.csv_lines(job_id) == ['"a@example.com",valid', '"b@example.com",valid', '"c@catchall.test",catchall']


# -- results -----------------------------------------------------------------------------------------------


def test_results_pagination_and_query_echo(nb):
    rows = [[f"user{index}@example.com", str(index)] for index in range(23)]
    job_id = nb.create(rows)
    nb.wait(job_id)
    pages = [nb.ok("jobs/results", job_id=job_id, page=page, items_per_page=10) for page in (1, 2, 3, 4)]
    assert [len(page["results"]) for page in pages] == [10, 10, 3, 0]
    assert pages[0]["total_results"] == 23 and pages[0]["total_pages"] == 3
    assert pages[1]["query"] == {
        "job_id": job_id, "valids": 1, "invalids": 1, "disposables": 1, "catchalls": 1, "unknowns": 1, "page": 2, "items_per_page": 10,
    }
    seen = [item["data"]["1"] for page in pages for item in page["results"]]
    assert seen == [str(index) for index in range(23)]
    item = pages[0]["results"][0]
    assert item["data"] == {"0": "user0@example.com", "1": "0"}
    assert set(item["verification"]) == {"result", "flags", "suggested_correction", "address_info"}
    assert nb.ok("jobs/results", job_id=job_id)["query"]["items_per_page"] == 10
    assert nb.ok("jobs/results", job_id=job_id, items_per_page=5000)["query"]["items_per_page"] == 1000


def test_results_segment_filters(nb):
    job_id = nb.create(ROWS)
    nb.wait(job_id)
    body = nb.ok("jobs/results", job_id=job_id, valids=0, invalids=0)
    assert body["total_results"] == 3
    assert [item["verification"]["result"] for item in body["results"]] == ["catchall", "disposable", "unknown"]
    page2 = nb.ok("jobs/results", job_id=job_id, valids="false", items_per_page=2, page=2)
    assert [item["verification"]["result"] for item in page2["results"]] == ["disposable", "unknown"]


def test_results_of_large_job_seek(nb, emulator):
    job_id = nb.create([[f"user{index}@example.com"] for index in range(5000)])
    nb.wait(job_id)
    body = nb.ok("jobs/results", job_id=job_id, page=43, items_per_page=100)
    assert [item["data"]["0"] for item in body["results"][:2]] == ["user4200@example.com", "user4201@example.com"]


# -- download ------------------------------------------------------------------------------------------------


def test_download_defaults(nb):
    job_id = nb.create(ROWS)
    nb.wait(job_id)
    response = nb.download(job_id)
    assert response.headers["content-type"] == "application/octet-stream"
    text = response.content.decode()
    assert text.endswith("\n\r") and text.count("\n\r") == 6  # the documented default line feed; first instances only
    lines = text.split("\n\r")[:-1]
    assert lines == [
        '"support@neverbounce.com","Fred McValid",valid',
        '"invalid@neverbounce.com","Bob McInvalid",invalid',
        '"someone@catchall.test","Cat",catchall',
        '"temp@mailinator.com","Dis",disposable',
        '"unknown1@example.com","Unk",unknown',
        '"not-an-email","Bad",invalid',
    ]
    explicit = nb.download(job_id, valids=1, invalids=1, catchalls=1, unknowns=1, disposables=1, include_duplicates=0, email_status=1)
    assert explicit.content == response.content
    post_form = requests.post(nb.url("jobs/download"), data={"key": nb.key, "job_id": job_id}, timeout=10)
    assert post_form.content == response.content


def test_download_segmentation(nb):
    job_id = nb.create(ROWS)
    nb.wait(job_id)

    def emails(**params):
        return [line.split(",")[0].strip('"') for line in nb.csv_lines(job_id, **params)]

    assert emails(valids=1) == ["support@neverbounce.com"]  # omitted segments count as 0
    assert emails(valids=1, include_duplicates=1) == ["support@neverbounce.com", "support@neverbounce.com"]
    assert emails(invalids=1, disposables=1) == ["invalid@neverbounce.com", "temp@mailinator.com", "not-an-email"]
    assert emails(catchalls=1, unknowns="true") == ["someone@catchall.test", "unknown1@example.com"]
    assert emails(only_duplicates=1) == ["support@neverbounce.com", "support@neverbounce.com"]
    assert emails(only_bad_syntax=1, valids=1) == ["not-an-email"]
    assert emails(valids=0) == []  # one segment given: the others are off too


def test_download_segmentation_switches(nb, emulator):
    job_id = nb.create(ROWS)
    nb.wait(job_id)
    emulator.set_option("neverbounce", omitted_segments_off=False, only_duplicates="repeats")
    assert len(nb.csv_lines(job_id, valids=0)) == 5  # every non-valid row, bad syntax included
    assert nb.csv_lines(job_id, only_duplicates=1) == ['"support@neverbounce.com","Fred again",valid']


def test_download_appends_every_column(nb):
    job_id = nb.create([["Info@Mail.Example.com"], ["x+News@nowhere.invalid"], ["bad"], ["a@unknown.test"], ["me@gmail.com"]])
    nb.wait(job_id)
    appends = {name: 1 for name in (
        "bad_syntax", "free_email_host", "role_account", "addr", "alias", "host", "subdomain", "domain", "tld",
        "fqdn", "network", "has_dns_info", "has_mail_server", "mail_server_reachable", "email_status_int", "email_status",
    )}
    lines = nb.csv_lines(job_id, **appends)
    assert lines == [
        '"Info@Mail.Example.com",0,0,1,Info,,Mail.Example.com,mail,example,com,example.com,example.com,1,1,1,0,valid',
        '"x+News@nowhere.invalid",0,0,0,x,News,nowhere.invalid,,nowhere,invalid,nowhere.invalid,,0,0,0,1,invalid',
        '"bad",1,0,0,,,,,,,,,0,0,0,1,invalid',
        '"a@unknown.test",0,0,0,a,,unknown.test,,unknown,test,unknown.test,unknown.test,1,1,0,4,unknown',
        '"me@gmail.com",0,1,0,me,,gmail.com,,gmail,com,gmail.com,gmail.com,1,1,1,0,valid',
    ]


def test_download_appends_without_email_status(nb, emulator):
    job_id = nb.create([["a@example.com"]])
    nb.wait(job_id)
    assert nb.csv_lines(job_id, email_status=0) == ['"a@example.com"']
    assert nb.csv_lines(job_id, email_status_int=1) == ['"a@example.com",0,valid']
    emulator.set_option("neverbounce", email_status_default="bare")
    assert nb.csv_lines(job_id, email_status_int=1) == ['"a@example.com",0']


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("BIN_1_0", "1"), ("BIN_Y_N", "Y"), ("BIN_y_n", "y"), ("BIN_yes_no", "yes"), ("BIN_Yes_No", "Yes"), ("BIN_true_false", "true")],
)
def test_download_binary_operators(nb, setting, expected):
    job_id = nb.create([["info@gmail.com"]])
    nb.wait(job_id)
    assert nb.csv_lines(job_id, role_account=1, binary_operators_type=setting) == [f'"info@gmail.com",{expected},valid']


@pytest.mark.parametrize(("setting", "ending"), [("LINEFEED_0A0D", b"\n\r"), ("LINEFEED_0D0A", b"\r\n"), ("LINEFEED_0A", b"\n"), ("LINEFEED_0D", b"\r")])
def test_download_line_feeds(nb, setting, ending):
    job_id = nb.create([["a@example.com"], ["b@example.com"]])
    nb.wait(job_id)
    assert nb.download(job_id, line_feed_type=setting).content == b'"a@example.com",valid' + ending + b'"b@example.com",valid' + ending


def test_download_bad_settings_and_switch(nb, emulator):
    job_id = nb.create([["a@example.com"]])
    nb.wait(job_id)
    assert nb.download(job_id, line_feed_type="LF").json()["message"] == "Invalid value for parameter 'line_feed_type'"
    assert nb.download(job_id, binary_operators_type="BIN_X").json()["message"] == "Invalid value for parameter 'binary_operators_type'"
    emulator.set_option("neverbounce", default_line_feed_type="LINEFEED_0D0A")
    assert nb.download(job_id).content == b'"a@example.com",valid\r\n'


def test_download_quotes_original_cells(nb):
    job_id = nb.create([{"email": "a@example.com", "note": 'says "hi", twice'}])
    nb.wait(job_id)
    assert nb.csv_lines(job_id) == ["email,note,email_status", '"a@example.com","says ""hi"", twice",valid']


def test_download_streams_large_job(nb):
    job_id = nb.create([[f"user{index}@example.com", "x" * 20] for index in range(30_000)])
    nb.wait(job_id)
    with nb.download(job_id, line_feed_type="LINEFEED_0A") as response:
        count = sum(chunk.count(b"\n") for chunk in response.iter_content(65536))
    assert count == 30_000


# -- search, delete, poe ---------------------------------------------------------------------------------------


def test_search_filters_and_pagination(nb):
    ids = [nb.create([["a@example.com"]], filename=f"list-{index}.csv") for index in range(3)]
    unparsed = nb.create([["a@example.com"]], auto_parse=0, filename="later.csv")
    for job_id in ids:
        nb.wait(job_id)
    everything = nb.ok("jobs/search")
    assert everything["total_results"] == 4
    assert [item["id"] for item in everything["results"]] == [unparsed, *reversed(ids)]  # newest first
    item = everything["results"][1]
    assert set(item) == {"id", "job_status", "filename", "created_at", "started_at", "finished_at", "failure_reason", "total", "bounce_estimate", "percent_complete"}
    by_name = nb.ok("jobs/search", filename="list-1.csv")
    assert [item["id"] for item in by_name["results"]] == [ids[1]]
    assert by_name["query"] == {"page": 1, "items_per_page": 10, "filename": "list-1.csv"}
    assert nb.ok("jobs/search", filename="list-")["total_results"] == 0  # exact match only
    assert [item["id"] for item in nb.ok("jobs/search", job_status="waiting")["results"]] == [unparsed]
    assert nb.ok("jobs/search", job_id=ids[0])["results"][0]["filename"] == "list-0.csv"
    page = nb.ok("jobs/search", page=2, items_per_page=3)
    assert page["total_pages"] == 2 and [item["id"] for item in page["results"]] == [ids[0]]
    assert nb.ok("jobs/search", page=3, items_per_page=3)["results"] == []
    assert nb.error("jobs/search", job_status="done")["message"] == "Invalid value for parameter 'job_status'"
    assert nb.ok("jobs/search", "v4", completed=1)["total_results"] == 3  # v4.0 boolean filters
    assert "failure_reason" not in nb.ok("jobs/search", "v4.1")["results"][0]


def test_search_by_job_name_alias_switch(nb, emulator):
    nb.create([["a@example.com"]], filename="dag.run.task.0")
    nb.create([["a@example.com"]], filename="other")
    assert nb.ok("jobs/search", job_name="dag.run.task.0")["total_results"] == 2  # not a vendor filter
    emulator.set_option("neverbounce", search_job_name_alias=True)
    assert nb.ok("jobs/search", job_name="dag.run.task.0")["total_results"] == 1


def test_poe_confirm(nb, emulator):
    token = poe_token("a@example.com", "NBPOE-TXN-5942940c09669", "valid")
    params = {"email": "a@example.com", "transaction_id": "NBPOE-TXN-5942940c09669", "result": "valid"}
    assert nb.ok("poe/confirm", confirmation_token=token, **params)["token_confirmed"] is True
    assert nb.ok("poe/confirm", confirmation_token="e3173fdbbdce6bad26522dae792911f2", **params)["token_confirmed"] is False
    assert nb.error("poe/confirm", **params)["message"] == "Missing required parameter 'confirmation_token'"
    emulator.set_option("neverbounce", poe_accept_any_token=True)
    assert nb.ok("poe/confirm", confirmation_token="anything", **params)["token_confirmed"] is True


# -- remote_url ------------------------------------------------------------------------------------------------


def test_remote_url_csv(nb):
    with LocalServer() as files:
        files.files["/list.csv"] = b'id,email,name\n1,support@neverbounce.com,"McValid, Fred"\n2,invalid@neverbounce.com,Bob\n\n'
        body = nb.ok("jobs/create", input_location="remote_url", input=files.url + "/list.csv", auto_parse=1, auto_start=1)
        done = nb.wait(body["job_id"])
    assert done["total"]["records"] == 2 and done["total"]["invalid"] == 1
    assert nb.csv_lines(body["job_id"]) == [
        "id,email,name,email_status",
        '"1","support@neverbounce.com","McValid, Fred",valid',
        '"2","invalid@neverbounce.com","Bob",invalid',
    ]
    assert nb.ok("jobs/results", job_id=body["job_id"])["results"][0]["data"] == {"id": "1", "email": "support@neverbounce.com", "name": "McValid, Fred"}


def test_remote_url_streamed_generated_list_and_node_form(nb, emulator):
    emulator.set_faults(rows_per_second=5e5)
    with LocalServer() as files:
        files.files["/big.csv"] = generated_csv(20_000)
        files.files["/plain.txt"] = b"a@example.com\r\nb@catchall.test\r\n"
        job_id = nb.ok("jobs/create", input_location="remote_url", input=files.url + "/big.csv", auto_parse=1, auto_start=1)["job_id"]
        node = nb.ok("jobs/create", input_location="remote_url", input=[files.url + "/plain.txt"], auto_parse=1, auto_start=1)["job_id"]
        done = nb.wait(job_id, timeout=30)
        assert nb.wait(node)["total"]["catchall"] == 1
    assert done["total"]["records"] == 20_000 and done["total"]["invalid"] == 2_000
    assert nb.csv_lines(node) == ['"a@example.com",valid', '"b@catchall.test",catchall']


def test_remote_url_uploading_then_parse(nb):
    with LocalServer() as files:
        release = []

        def slow():
            yield b"email\n"
            wait_for(lambda: release, timeout=10)
            yield b"a@example.com\n"

        files.files["/slow.csv"] = slow
        job_id = nb.ok("jobs/create", input_location="remote_url", input=files.url + "/slow.csv")["job_id"]
        wait_for(lambda: nb.status(job_id)["job_status"] == "uploading")
        assert nb.error("jobs/delete", job_id=job_id)["status"] == "general_failure"
        nb.ok("jobs/parse", job_id=job_id, auto_start=1)  # accepted while uploading
        release.append(True)
        assert nb.wait(job_id)["job_status"] == "complete"


def test_remote_url_with_credentials(nb):
    import base64

    with LocalServer() as files:
        files.files["/secret.csv"] = b"a@example.com\n"
        files.auth["/secret.csv"] = "Basic " + base64.b64encode(b"name:passwd").decode()
        url = files.url.replace("http://", "http://name:passwd@") + "/secret.csv"
        job_id = nb.ok("jobs/create", input_location="remote_url", input=url, auto_parse=1, auto_start=1)["job_id"]
        assert nb.wait(job_id)["job_status"] == "complete"


def test_remote_url_failures(nb):
    with LocalServer() as files:
        missing = nb.ok("jobs/create", input_location="remote_url", input=files.url + "/missing.csv", auto_parse=1)["job_id"]
        assert nb.wait(missing)["failure_reason"] == "Unable to retrieve the remote file: HTTP 404"
    outside = nb.ok("jobs/create", input_location="remote_url", input="https://example.com/list.csv", auto_parse=1)["job_id"]
    assert "loopback" in nb.wait(outside)["failure_reason"]
    ftp = nb.ok("jobs/create", input_location="remote_url", input="ftp://127.0.0.1/list.csv")["job_id"]
    assert nb.wait(ftp)["job_status"] == "failed"
    assert nb.error("jobs/create", input_location="remote_url", input=[["a@b.com"], ["c@d.com"]])["message"] == "Invalid value for parameter 'input'"


# -- callbacks ------------------------------------------------------------------------------------------------


def test_callbacks_in_order_with_headers(nb):
    with LocalServer() as hooks:
        job_id = nb.create(ROWS, callback_url=hooks.url + "/nb", callback_headers={"X-My-Token": "123abc"})
        nb.wait(job_id)
        wait_for(lambda: len(hooks.posts) >= 4)
        nb.ok("jobs/delete", job_id=job_id)
        wait_for(lambda: len(hooks.posts) >= 5)
    events = [body["event"] for _, _, body in hooks.posts]
    assert events == ["job_parsing_started", "job_parsing_finished", "job_run_started", "job_run_finished", "job_deleted"]
    assert all(body["job_id"] == job_id and path == "/nb" for path, _, body in hooks.posts)
    assert all(headers["X-My-Token"] == "123abc" for _, headers, _ in hooks.posts)


def test_callbacks_for_sample_and_failure(nb, emulator):
    with LocalServer() as hooks:
        sample = nb.create(ROWS, auto_start=0, run_sample=1, callback_url=hooks.url + "/s")
        nb.wait(sample, "waiting_analyzed")
        emulator.set_faults(fail_jobs=1.0)
        failed = nb.create(ROWS, callback_url=hooks.url + "/f")
        nb.wait(failed)
        wait_for(lambda: len(hooks.posts) >= 6)
    by_path = {}
    for path, _, body in hooks.posts:
        by_path.setdefault(path, []).append(body["event"])
    assert by_path["/s"] == ["job_parsing_started", "job_parsing_finished", "job_sample_started", "job_sample_finished"]
    assert by_path["/f"] == ["job_parsing_started", "job_failed"]
