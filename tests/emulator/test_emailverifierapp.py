# Licensed under the Apache License, Version 2.0.
"""The Email Verifier App emulator over real HTTP, against specs/emailverifierapp.md."""

from __future__ import annotations

import csv
import io
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.emulator.polling import VendorClient, wait_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle

FILE_COLUMNS = ["Email", "Status", "Free Email", "Disposable", "Role Address", "Bad Address", "Typo Suggestion"]


class Eva(VendorClient):
    """A thin test client: form POSTs carrying ``user_API_token``."""

    vendor = "emailverifierapp"

    def __init__(self, emulator: EmulatorHandle) -> None:
        super().__init__(emulator)
        self.token = emulator.api_key

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, data={"user_API_token": self.token, **(data or {})}, timeout=60, **kwargs)

    def verify(self, email: str, **flags: Any) -> dict[str, Any]:
        response = self.post("/email_verification/", {"email": email, **flags})
        assert response.status_code == 200, response.text
        return response.json()

    def upload(self, *files: tuple[str, bytes]) -> list[str]:
        response = self.post("/batch_process/", files=[("file", f) for f in files])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "success"
        return body["job_id"]

    def results(self, job_id: str) -> dict[str, Any]:
        return self.post("/get_results/", {"job_id": job_id}).json()

    def wait(self, job_id: str, timeout: float = 20) -> dict[str, Any]:
        return wait_for(lambda: (body := self.results(job_id))["stage"] == "Completed" and body, timeout)

    def credits(self) -> int:
        return self.emulator.stats()["credits"][self.token]


def assert_failed(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"status": "failed", "message": message}


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def eva(vendor_client: Callable[..., Eva]) -> Eva:
    return vendor_client(Eva, queue_seconds=0.0)


# -- auth and error shapes ---------------------------------------------------------------------------------
def test_token_is_a_case_sensitive_form_field(eva: Eva) -> None:
    url = eva.base + "/email_verification/"
    assert_failed(requests.post(url, data={"email": "a@b.com"}, timeout=10), 401, "Invalid API Token")
    assert_failed(requests.post(url, data={"email": "a@b.com", "user_api_token": eva.token}, timeout=10),
                  401, "Invalid API Token")
    assert_failed(requests.post(url, data={"email": "a@b.com", "user_API_token": "nope"}, timeout=10),
                  401, "Invalid API Token")
    assert_failed(requests.post(url, params={"user_API_token": eva.token, "email": "a@b.com"}, timeout=10),
                  401, "Invalid API Token")


def test_errors_can_be_sent_with_http_200(eva: Eva) -> None:
    eva.emulator.set_option("emailverifierapp", errors_as_200=True)
    assert_failed(eva.post("/email_verification/", {"user_API_token": "nope", "email": "a@b.com"}), 200, "Invalid API Token")
    assert_failed(eva.post("/email_verification/"), 200, "Missing parameter: email")
    assert_failed(eva.post("/get_results/", {"job_id": "999"}), 200, "Job not found")


# -- real-time verification ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("email", "status", "message"),
    [
        ("bob@example.com", "Valid", "User exists!"),
        ("bob@invalid.test", "Invalid", "User does not exist!"),
        ("invalid.me@example.com", "Invalid", "User does not exist!"),
        ("not-an-email", "Invalid", "User does not exist!"),
        ("x@catchall.test", "Risky", "Domain accepts all emails"),
        ("x@unknown.test", "Unknown", "Could not verify"),
    ],
)
def test_verify_statuses(eva: Eva, email: str, status: str, message: str) -> None:
    body = eva.verify(email)
    assert (body["status"], body["message"]) == (status, message)
    assert eva.credits() == 999_999


def test_verify_body_and_flags(eva: Eva) -> None:
    body = eva.verify("Support@Gmail.com")
    assert body == {
        "status": "Valid", "domain": "gmail.com", "free_email": True, "disposable": False, "typo_suggest": "None",
        "role_address": True, "bad_address": False, "message": "User exists!", "email": "support@gmail.com",
    }
    assert eva.verify("bob@gmial.com")["typo_suggest"] == "bob@gmail.com"
    disposable = eva.verify("x@mailinator.com")
    assert disposable["status"] == "Valid" and disposable["disposable"] is True
    assert eva.verify("trap.me@example.com")["bad_address"] is True


def test_verify_profile_b(eva: Eva) -> None:
    eva.emulator.set_option("emailverifierapp", profile="B")
    body = eva.verify("info@gmail.com")
    assert body["success"] is True and body["result"] == "valid" and body["reason"] == "Accepted Email"
    assert (body["user"], body["domain"], body["free"], body["role"]) == ("info", "gmail.com", True, True)
    assert eva.verify("x@catchall.test")["reason"] == "Low Deliverability"
    assert eva.verify("x@mailinator.com")["result"] == "risky"
    assert eva.verify("x@invalid.test")["reason"] == "Invalid Domain"
    assert eva.verify("x@unknown.test")["result"] == "unknown"


def test_verify_errors_and_credits(eva: Eva) -> None:
    assert_failed(eva.post("/email_verification/"), 400, "Missing parameter: email")
    eva.emulator.set_credits(0)
    assert_failed(eva.post("/email_verification/", {"email": "a@example.com"}), 402, "Insufficient API credit")
    assert eva.credits() == 0


def test_path_without_trailing_slash_redirects(eva: Eva) -> None:
    response = eva.post("/email_verification", {"email": "a@example.com"})
    assert response.status_code == 200 and response.json()["status"] == "Valid"
    assert response.history and response.history[0].status_code in (307, 308)


# -- form validation ---------------------------------------------------------------------------------------
def test_form_validation_returns_only_the_flags_asked_for(eva: Eva) -> None:
    every = eva.verify("support@gmial.com", free="true", disposable="true", did_you_mean="true", role="true",
                       bad="true", ev_score="true")
    assert every["status"] == "Valid" and every["email"] == "support@gmial.com"
    assert every["typo_suggest"] == "support@gmail.com" and every["role_address"] is True
    assert every["free_email"] is False and every["disposable"] is False and every["bad_address"] is False
    assert every["ev_score"] == 100
    some = eva.verify("x@catchall.test", free="True", role="false")
    assert set(some) == {"email", "domain", "status", "message", "free_email"}
    assert some["status"] == "Valid"  # no mailbox probe at form level
    assert eva.verify("x@nowhere.invalid", ev_score="true") | {"message": ""} == {
        "email": "x@nowhere.invalid", "domain": "nowhere.invalid", "status": "Invalid", "message": "", "ev_score": 0,
    }
    assert eva.credits() == 999_997


# -- batch ---------------------------------------------------------------------------------------------------
def test_batch_lifecycle_in_queue_processing_completed(eva: Eva) -> None:
    eva.emulator.set_option("emailverifierapp", queue_seconds=0.3)
    eva.emulator.set_faults(rows_per_second=40)
    (job_id,) = eva.upload(("list.txt", b"".join(b"user%d@example.com\n" % i for i in range(20))))
    assert job_id == "001"
    assert eva.credits() == 999_980
    queued = eva.post("/job_progress/", {"job_id": job_id}).json()
    assert queued == {"status": "success", "percentage": "0.00", "stage": "In Queue"}
    assert eva.results(job_id)["valid_result_link"] == ""
    processing = wait_for(lambda: (b := eva.post("/job_progress/", {"job_id": job_id}).json())["stage"] == "Processing" and b)
    assert 0.0 <= float(processing["percentage"]) < 100.0 and len(processing["percentage"].split(".")[1]) == 2
    during = eva.results(job_id)
    assert during["stage"] in ("Processing", "Completed")
    done = eva.wait(job_id)
    assert done["percentage"] == "100.00" and done["status"] == "success"
    assert all(done[k].startswith("http://") for k in ("valid_result_link", "invalid_result_link", "unknown_link"))
    assert eva.post("/job_progress/", {"job_id": job_id}).json()["stage"] == "Completed"
    stats = eva.emulator.stats()
    assert stats["jobs_created"]["emailverifierapp"] == 1
    assert stats["requests"]["emailverifierapp"]["/job_progress/"] >= 2


def test_one_job_per_file_and_result_files(eva: Eva) -> None:
    with_header = b"id,Email Address,city\n1,info@gmail.com,Oslo\n2,x@catchall.test,Rome\n3,bob@invalid.test,Lima\n" \
        b"4,y@unknown.test,Kyiv\n5,z@mailinator.com,Pune\n"
    first, second = eva.upload(("a.csv", with_header), ("b.txt", b"a@example.com\r\nbob@invalid.test\r\n"))
    assert (first, second) == ("001", "002")
    assert eva.credits() == 1_000_000 - 7
    links = eva.wait(first)
    valid = rows_of(requests.get(links["valid_result_link"], timeout=10).text)
    assert valid[0] == ["id", "Email Address", "city", *FILE_COLUMNS]
    assert valid[1] == ["1", "info@gmail.com", "Oslo", "info@gmail.com", "Valid", "True", "False", "True", "False", ""]
    assert valid[2][3:6] == ["z@mailinator.com", "Valid", "False"] and valid[2][6] == "True"
    invalid = rows_of(requests.get(links["invalid_result_link"], timeout=10).text)
    assert [row[3:5] for row in invalid[1:]] == [["bob@invalid.test", "Invalid"]]
    unknown_file = requests.get(links["unknown_link"], timeout=10)
    assert unknown_file.headers["content-type"].startswith("text/csv") and '"Risky"' in unknown_file.text
    assert [row[3:5] for row in rows_of(unknown_file.text)[1:]] == [["x@catchall.test", "Risky"], ["y@unknown.test", "Unknown"]]
    plain = eva.wait(second)
    assert rows_of(requests.get(plain["valid_result_link"], timeout=10).text) == [
        FILE_COLUMNS, ["a@example.com", "Valid", "False", "False", "False", "False", ""],
    ]


def test_a_txt_list_is_one_address_a_line_taken_verbatim(eva: Eva) -> None:
    """The spec: ``.txt`` is one address per line; commas and quotes belong to the address."""
    (job,) = eva.upload(("list.txt", b'comma,local@example.com\n"quoted"@example.com\n\nplain@example.com\n'))
    links = eva.wait(job)
    valid, invalid = (
        [row[0] for row in rows_of(requests.get(links[name], timeout=10).text)[1:]]
        for name in ("valid_result_link", "invalid_result_link")
    )
    assert valid == ["plain@example.com"]
    assert invalid == ["comma,local@example.com", '"quoted"@example.com']  # bad syntax, kept whole
    assert eva.credits() == 1_000_000 - 3


def test_result_links_need_the_right_token(eva: Eva) -> None:
    (job_id,) = eva.upload(("a.txt", b"a@example.com\n"))
    link = eva.wait(job_id)["valid_result_link"]
    assert requests.get(link, timeout=10).status_code == 200
    assert requests.get(link.replace(f"/{job_id}/", "/999/"), timeout=10).status_code == 404
    token = link.rsplit("/", 2)[1]
    assert requests.get(link.replace(token, "guess"), timeout=10).status_code == 404
    assert requests.get(link.replace("valid.csv", "other.csv"), timeout=10).status_code == 404


def test_job_id_formats_are_switchable(eva: Eva) -> None:
    eva.emulator.set_option("emailverifierapp", job_id_format="scalar")
    scalar = eva.post("/batch_process/", files={"file": ("a.txt", b"a@example.com\n")}).json()
    assert scalar == {"status": "success", "job_id": "001"}
    eva.emulator.set_option("emailverifierapp", job_id_format="number")
    numbers = eva.post("/batch_process/", files={"file": ("a.txt", b"a@example.com\n")}).json()
    assert numbers["job_id"] == [2]
    assert eva.post("/job_progress/", {"job_id": "2"}).json()["status"] == "success"


def test_batch_errors(eva: Eva) -> None:
    assert_failed(eva.post("/batch_process/"), 400, "Missing parameter: file")
    assert_failed(eva.post("/batch_process/", files={"file": ("a.csv", b"")}), 400, "Invalid file")
    assert_failed(eva.post("/batch_process/", files={"file": ("a.csv", b"email\n")}), 400, "Invalid file")
    assert_failed(eva.post("/job_progress/"), 400, "Missing parameter: job_id")
    assert_failed(eva.post("/get_results/", {"job_id": "404"}), 404, "Job not found")
    eva.emulator.set_credits(2)
    assert_failed(eva.post("/batch_process/", files=[("file", ("a.txt", b"a@e.co\nb@e.co\n")), ("file", ("b.txt", b"c@e.co\n"))]),
                  402, "Insufficient API credit")
    assert eva.credits() == 2 and eva.emulator.stats()["jobs_created"].get("emailverifierapp", 0) == 0
    (job_id,) = eva.upload(("a.txt", b"a@e.co\n"))
    eva.emulator.state.add_key("other")
    foreign = requests.post(eva.base + "/get_results/", data={"user_API_token": "other", "job_id": job_id}, timeout=10)
    assert_failed(foreign, 404, "Job not found")


def test_upload_limits(eva: Eva) -> None:
    rows = b"".join(b"u%d@e.co\n" % i for i in range(1_000_001))
    assert_failed(eva.post("/batch_process/", files={"file": ("a.txt", rows)}), 400, "File too large")
    eva.emulator.set_option("emailverifierapp", max_bytes=100)
    assert_failed(eva.post("/batch_process/", files={"file": ("a.txt", b"a@example.com\n" * 10)}), 400, "File too large")
    eva.emulator.set_option("emailverifierapp", max_bytes=10_000, max_rows=3)
    assert_failed(eva.post("/batch_process/", files={"file": ("a.txt", b"a@e.co\n" * 4)}), 400, "File too large")
    assert eva.upload(("a.txt", b"a@e.co\n" * 3)) == ["001"]
    assert eva.credits() == 1_000_000 - 3


# -- faults --------------------------------------------------------------------------------------------------
def test_injected_faults(eva: Eva) -> None:
    eva.emulator.set_faults(throttle_rate=1.0)
    throttled = eva.post("/email_verification/", {"email": "a@example.com"})
    assert_failed(throttled, 429, "Too many requests")
    assert int(throttled.headers["Retry-After"]) >= 1
    eva.emulator.set_faults(throttle_rate=0.0, error_rate=1.0)
    assert eva.post("/email_verification/", {"email": "a@example.com"}).status_code >= 500
    eva.emulator.set_faults(error_rate=0.0, latency_ms=250)
    started = time.monotonic()
    assert eva.verify("a@example.com")["status"] == "Valid"
    assert time.monotonic() - started >= 0.25
    assert eva.credits() == 999_999  # only the call that got through was charged
    assert eva.emulator.stats()["faults"] == {"throttle": 1, "error": 1}


def test_disconnect_mid_result_download(eva: Eva) -> None:
    (job_id,) = eva.upload(("a.txt", b"".join(b"user%d@example.com\n" % i for i in range(3000))))
    link = eva.wait(job_id)["valid_result_link"]
    eva.emulator.set_faults(disconnect_rate=1.0, seed=7)
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(link, timeout=10).content  # noqa: B018
    eva.emulator.set_faults(disconnect_rate=0.0)
    assert len(rows_of(requests.get(link, timeout=10).text)) == 3001


def test_fail_jobs_has_no_failed_stage_to_use(eva: Eva) -> None:
    eva.emulator.set_faults(fail_jobs=1.0)
    (job_id,) = eva.upload(("a.txt", b"a@example.com\n"))
    assert eva.wait(job_id)["percentage"] == "100.00"


def test_a_large_list_splits_into_the_three_files_with_each_address_answered_as_in_real_time(eva: Eva) -> None:
    """Thousands of rows (many spool blocks), uploaded columns that need quoting, every kind of address."""
    kinds = ["u{i}@example.com", "info{i}@gmail.com", "x{i}@catchall.test", "y{i}@invalid.test", "z{i}@unknown.test",
             "w{i}@mailinator.com", "trap{i}@example.com", "v{i}@gmial.com", "bad {i}@example.com"]
    emails = [kinds[i % len(kinds)].format(i=i) for i in range(3000)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "email", "note"])
    for i, email in enumerate(emails):
        writer.writerow([str(i), email, 'say "hi", then\nleave' if i % 2 else "plain"])
    (job_id,) = eva.upload(("list.csv", buffer.getvalue().encode()))
    links = eva.wait(job_id)
    files = {name: rows_of(requests.get(links[key], timeout=30).text)
             for name, key in (("valid", "valid_result_link"), ("invalid", "invalid_result_link"), ("unknown", "unknown_link"))}
    assert all(rows[0] == ["id", "email", "note", *FILE_COLUMNS] for rows in files.values())
    by_id = {int(row[0]): (name, row) for name, rows in files.items() for row in rows[1:]}
    assert sorted(by_id) == list(range(len(emails)))
    for name, rows in files.items():
        assert [int(row[0]) for row in rows[1:]] == sorted(int(row[0]) for row in rows[1:])  # upload order
    for i in range(len(kinds)):
        name, row = by_id[i]
        single = eva.verify(emails[i])
        assert row[:3] == [str(i), emails[i], "plain" if i % 2 == 0 else 'say "hi", then\nleave']
        assert name == {"Valid": "valid", "Invalid": "invalid"}.get(single["status"], "unknown")
        flags = [single[key] for key in ("free_email", "disposable", "role_address", "bad_address")]
        suggestion = "" if single["typo_suggest"] == "None" else single["typo_suggest"]
        assert row[3:] == [emails[i], single["status"], *map(str, flags), suggestion]
