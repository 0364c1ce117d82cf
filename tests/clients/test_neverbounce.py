# Licensed under the Apache License, Version 2.0.
"""NeverBounce v4.2 client over real HTTP against the emulator."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_emailverify.clients.neverbounce import NeverBounceClient
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    PayloadTooLargeError,
)
from airflow_provider_emailverify.jobs import JobState
from tests.clients.neverbounce_cases import COUNTS, FAST_RETRY, VERDICTS, expected, neutral, records, wait_for
from tests.clients.vendor_cases import check_values_spanning_lines


def make_client(emulator, **extras) -> NeverBounceClient:
    return NeverBounceClient(
        api_key=emulator.api_key, base_url=emulator.base_url("neverbounce"), retry=FAST_RETRY, extras=extras
    )


@pytest.mark.parametrize("email", list(VERDICTS))
def test_single_check_verdicts(client, email):
    row = client.verify_email(email)
    assert row.email == email
    assert neutral(row) == expected(email)
    assert (row.vendor, row.job_id) == ("neverbounce", None)


def test_job_lifecycle_and_every_neutral_column(client, emulator):
    job_id = client.submit_job(records(), name="lifecycle-1")
    info = wait_for(client, job_id)
    assert info.state == JobState.COMPLETED, info
    assert (info.job_id, info.vendor_status, info.progress) == (job_id, "complete", 1.0)
    assert info.total == len(VERDICTS)
    assert info.processed == len(VERDICTS)
    assert info.counts == COUNTS

    rows = list(client.iter_results(job_id))
    assert [row.email for row in rows] == list(VERDICTS)
    for index, row in enumerate(rows):
        assert neutral(row) == expected(row.email, suggestion=False), row
        assert (row.vendor, row.job_id, row.extra) == ("neverbounce", job_id, {"id": str(index)})

    json_rows = list(client.iter_json_results(job_id, page_size=4))
    assert [row.email for row in json_rows] == list(VERDICTS)
    for index, row in enumerate(json_rows):
        assert neutral(row) == expected(row.email), row
        assert row.extra == {"id": str(index)}
    assert emulator.stats()["jobs_created"]["neverbounce"] == 1


def test_results_source_extra_switches_to_json_pages(emulator):
    emulator.set_faults(rows_per_second=1_000_000)
    nb = make_client(emulator, results_source="results", key_location="query")
    job_id = nb.submit_job([{"email": "a@gmial.com"}, {"email": "ok@example.com"}])
    wait_for(nb, job_id)
    assert [(row.email, row.suggestion) for row in nb.iter_results(job_id)] == [
        ("a@gmial.com", "a@gmail.com"),
        ("ok@example.com", None),
    ]


def test_find_job_and_search(client):
    job_id = client.submit_job(["ok@example.com"], name="findable-job")
    assert client.find_job("findable-job") == job_id
    assert client.find_job("no-such-job") is None
    assert [item["id"] for item in client.search_jobs(job_id=job_id)] in ([int(job_id)], [job_id])


def test_credits(client, emulator):
    assert client.get_credits() == 1_000_000
    emulator.set_credits(50)
    assert client.get_credits() == 50
    client.verify_email("ok@example.com")
    assert client.get_credits() == 49
    assert client.test_connection()[0] is True


def test_cancel_deletes_a_finished_job(client):
    job_id = client.submit_job(["ok@example.com"])
    wait_for(client, job_id)
    client.cancel_job(job_id)
    with pytest.raises(JobNotFoundError):
        client.get_job(job_id)
    client.cancel_job(job_id)  # already gone: not an error


def test_cancel_of_a_running_job_is_refused_by_the_vendor(client, emulator):
    # NeverBounce cannot stop a run: jobs/delete is refused while uploading, parsing or running.
    emulator.set_faults(rows_per_second=20)
    job_id = client.submit_job([f"user{i}@example.com" for i in range(200)])
    assert client.get_job(job_id).vendor_status in ("parsing", "running")
    with pytest.raises(JobNotReadyError) as caught:
        client.cancel_job(job_id)
    assert caught.value.vendor_message


def test_parse_and_start_of_a_job_created_without_auto_start(client, emulator):
    server, url = serve_list(["ok@example.com", "x@invalid.test", "info@gmail.com"])
    try:
        job_id = client.create_remote_job(url, name="remote-manual", auto_start=False)
        deadline = time.monotonic() + 20
        while (info := client.get_job(job_id)).vendor_status != "waiting":
            assert time.monotonic() < deadline and not info.is_terminal, info
            time.sleep(0.05)
        assert info.state == JobState.QUEUED and info.total == 3
        client.start_job(job_id)
        info = wait_for(client, job_id)
        assert info.state == JobState.COMPLETED
        rows = list(client.iter_results(job_id))
        assert [(row.email, row.status) for row in rows] == [
            ("ok@example.com", "deliverable"),
            ("x@invalid.test", "undeliverable"),
            ("info@gmail.com", "deliverable"),
        ]
    finally:
        server.shutdown()


def serve_list(lines: list[str]) -> tuple[ThreadingHTTPServer, str]:
    """A local HTTP server with one file for remote_url jobs."""
    body = ("\n".join(lines) + "\n").encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/list.csv"


def test_poe_confirm_answers_a_boolean(client):
    confirmed = client.confirm_poe(
        email="ok@example.com",
        transaction_id="NBPOE-TXN-5942940c09669",
        confirmation_token="e3173fdbbdce6bad26522dae792911f2",
        result="valid",
    )
    assert isinstance(confirmed, bool)


# -- documented vendor errors ----------------------------------------------------------------------
def test_bad_key(emulator):
    nb = NeverBounceClient(
        api_key="secret_wrongwrongwrong", base_url=emulator.base_url("neverbounce"), retry=FAST_RETRY
    )
    with pytest.raises(AuthenticationError) as caught:
        nb.get_credits()
    assert caught.value.vendor_message and caught.value.http_status == 200
    ok, message = nb.test_connection()
    assert ok is False and message == caught.value.vendor_message
    assert "secret_wrongwrongwrong" not in message


def test_missing_parameter(client):
    with pytest.raises(InvalidRequestError) as caught:
        client.call(client.endpoint_call("single/check"))
    assert "email" in caught.value.vendor_message


def test_insufficient_credits(client, emulator):
    emulator.set_credits(0)
    with pytest.raises(InsufficientCreditsError) as caught:
        client.verify_email("ok@example.com")
    assert "credit" in caught.value.vendor_message.lower()


def test_unknown_job(client):
    with pytest.raises(JobNotFoundError):
        client.get_job("987654321")
    with pytest.raises(JobNotFoundError):
        list(client.iter_results("987654321"))


def test_results_before_completion(client, emulator):
    emulator.set_faults(rows_per_second=1)
    job_id = client.submit_job([f"user{i}@example.com" for i in range(100)])
    with pytest.raises(JobNotReadyError) as caught:
        list(client.iter_results(job_id))
    assert caught.value.vendor_message
    with pytest.raises(JobNotReadyError):
        list(client.iter_json_results(job_id))


def test_start_of_a_running_job_is_refused(client, emulator):
    emulator.set_faults(rows_per_second=1)
    job_id = client.submit_job([f"user{i}@example.com" for i in range(100)])
    time.sleep(0.3)
    with pytest.raises(JobNotReadyError):
        client.start_job(job_id)


def test_payload_over_25_mb(emulator):
    pad = "x" * 1000
    rows = ({"email": f"user{i}@example.com", "pad": pad} for i in range(26_000))
    with pytest.raises(PayloadTooLargeError):  # refused locally, before sending
        make_client(emulator).submit_job(rows)
    assert emulator.stats()["jobs_created"].get("neverbounce", 0) == 0
    rows = ({"email": f"user{i}@example.com", "pad": pad} for i in range(26_000))
    with pytest.raises(PayloadTooLargeError) as caught:  # and by the vendor (HTTP 413)
        make_client(emulator, max_payload_bytes=10**9).submit_job(rows)
    assert caught.value.http_status == 413


# -- faults ---------------------------------------------------------------------------------------
def test_ten_thousand_addresses_under_faults(emulator):
    emulator.set_faults(error_rate=0.2, throttle_rate=0.1, disconnect_rate=0.05, seed=7, rows_per_second=1_000_000)
    nb = make_client(emulator)
    emails = [f"user{i}@example.com" for i in range(10_000)]
    job_id = nb.submit_job(({"email": e, "n": str(i)} for i, e in enumerate(emails)), name="faulty-10k")
    info = wait_for(nb, job_id, timeout=120)
    assert info.state == JobState.COMPLETED and info.total == 10_000
    seen = 0
    for index, row in enumerate(nb.iter_results(job_id)):
        assert (row.email, row.extra["n"]) == (emails[index], str(index))
        seen += 1
    assert seen == 10_000
    stats = emulator.stats()
    assert stats["jobs_created"]["neverbounce"] == 1


# -- async ------------------------------------------------------------------------------------------
async def test_async_status_and_cancel(client):
    job_id = client.submit_job(["ok@example.com", "x@invalid.test"])
    wait_for(client, job_id)
    async_http = client.async_client()
    try:
        info = await client.aget_job(job_id, async_http)
        assert (info.state, info.total) == (JobState.COMPLETED, 2)
        await client.acancel_job(job_id, async_http)
        with pytest.raises(JobNotFoundError):
            await client.aget_job(job_id, async_http)
    finally:
        await async_http.aclose()


def test_parse_of_a_job_created_without_auto_parse(client):
    server, url = serve_list(["ok@example.com", "x@catchall.test"])
    try:
        job_id = client.create_remote_job(url, name="remote-unparsed", auto_parse=False, auto_start=False)
        deadline = time.monotonic() + 20
        while client.get_job(job_id).vendor_status == "uploading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.parse_job(job_id, auto_start=True).startswith("NB-PQ-")
        with pytest.raises((InvalidRequestError, JobNotReadyError)):  # a job is parsed only once
            client.parse_job(job_id)
        assert wait_for(client, job_id).state == JobState.COMPLETED
        assert [row.status for row in client.iter_results(job_id)] == ["deliverable", "risky"]
    finally:
        server.shutdown()


def test_retries_exhausted_surface_the_last_error(emulator):
    from airflow_provider_emailverify.clients.base import RetryPolicy
    from airflow_provider_emailverify.exceptions import ThrottledError, TransientError

    nb = NeverBounceClient(
        api_key=emulator.api_key, base_url=emulator.base_url("neverbounce"), retry=RetryPolicy(attempts=2, initial=0.01)
    )
    emulator.set_faults(throttle_rate=1.0)
    with pytest.raises(ThrottledError) as caught:
        nb.get_credits()
    assert caught.value.vendor_message
    emulator.set_faults(throttle_rate=0.0, error_rate=1.0)
    with pytest.raises(TransientError) as caught:
        nb.get_credits()
    assert caught.value.http_status >= 500


# -- behaviour the spec marks as inferred or unverified (emulator switches) ---------------------------
def test_monthly_credits_shape(client, emulator):
    emulator.set_option("neverbounce", credits_info_shape="monthly")
    credits = client.get_credits()
    assert isinstance(credits, int) and credits > 0


def test_auth_failure_echoing_the_key_is_redacted(emulator):
    emulator.set_option("neverbounce", auth_failure_echo_key=True)
    nb = NeverBounceClient(api_key="secret_echoedechoedechoed", base_url=emulator.base_url("neverbounce"))
    with pytest.raises(AuthenticationError) as caught:
        nb.get_credits()
    assert "secret_echoedechoedechoed" not in str(caught.value)
    assert "secret_echoedechoedechoed" not in caught.value.vendor_message
    assert "***" in caught.value.vendor_message


def test_job_failing_for_credits_reports_the_reason(client, emulator):
    emulator.set_option("neverbounce", insufficient_credits="fail_job")
    emulator.set_credits(2)
    job_id = client.submit_job([f"user{i}@example.com" for i in range(5)])
    info = wait_for(client, job_id)
    assert (info.state, info.vendor_status) == (JobState.FAILED, "failed")
    assert info.message


def test_header_row_counted_as_a_record(client, emulator):
    emulator.set_option("neverbounce", object_header_row=True)
    job_id = client.submit_job(records())
    assert wait_for(client, job_id).total == len(VERDICTS) + 1  # as the vendor reports it
    assert [row.email for row in client.iter_results(job_id)] == list(VERDICTS)
    assert [row.email for row in client.iter_json_results(job_id)] == list(VERDICTS)
    corrected = make_client(emulator, header_row_counted=True).get_job(job_id)
    assert (corrected.total, corrected.processed, corrected.counts) == (len(VERDICTS), len(VERDICTS), COUNTS)


@pytest.mark.parametrize("line_feed", ["LINEFEED_0A0D", "LINEFEED_0D0A", "LINEFEED_0A"])
def test_download_line_feeds(emulator, line_feed):
    emulator.set_faults(rows_per_second=1_000_000)
    emulator.set_option("neverbounce", default_line_feed_type=line_feed)
    nb = make_client(emulator, download_line_feed_type=line_feed)
    job_id = nb.submit_job(records())
    wait_for(nb, job_id)
    rows = list(nb.iter_results(job_id))
    assert [(row.email, neutral(row)) for row in rows] == [(e, expected(e, suggestion=False)) for e in VERDICTS]


@pytest.mark.parametrize("line_feed", ["LINEFEED_0A0D", "LINEFEED_0D0A", "LINEFEED_0A", "LINEFEED_0D"])
def test_values_spanning_lines_survive_the_download_and_its_restarts(emulator, caplog, line_feed):
    """Quoted values holding line breaks, with every line feed type (the documented default is ``\\n\\r``)."""
    emulator.set_faults(rows_per_second=1_000_000)
    check_values_spanning_lines(emulator, make_client(emulator, download_line_feed_type=line_feed), caplog)


def test_queued_state(client, emulator):
    emulator.set_option("neverbounce", max_concurrent_jobs=1)
    emulator.set_faults(rows_per_second=20)
    first = client.submit_job([f"user{i}@example.com" for i in range(100)])
    deadline = time.monotonic() + 10
    while client.get_job(first).vendor_status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = client.submit_job(["ok@example.com"])
    deadline = time.monotonic() + 10
    while (info := client.get_job(second)).vendor_status != "queued":
        assert time.monotonic() < deadline and not info.is_terminal, info
        time.sleep(0.05)
    assert (info.state, info.is_terminal) == (JobState.QUEUED, False)


def test_under_review_is_running(client, emulator):
    emulator.set_option("neverbounce", manual_review_seconds=0.5, allow_manual_review=True)
    nb = make_client(emulator, allow_manual_review=True)
    job_id = nb.submit_job([f"invalid{i}@example.com" for i in range(8)] + ["ok@example.com"])
    deadline = time.monotonic() + 10
    while (info := nb.get_job(job_id)).vendor_status != "under_review":
        assert time.monotonic() < deadline and not info.is_terminal, info
        time.sleep(0.02)
    assert (info.state, info.is_terminal) == (JobState.RUNNING, False)
    assert wait_for(nb, job_id).state == JobState.COMPLETED
