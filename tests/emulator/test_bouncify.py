# Licensed under the Apache License, Version 2.0.
"""The Bouncify v1 emulator over real HTTP, against specs/bouncify.md."""

from __future__ import annotations

import calendar
import csv
import io
import re
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.emulator.polling import VendorClient, wait_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle

RESULT_COLUMNS = ["Verification Result", "Syntax Error", "ISP", "Role", "Disposable", "Trap", "Verified At"]
NOT_READY = (
    "Job is not ready for verification, please call the /status endpoint and start verification once the status "
    "of the job turns to ready."
)


class Bouncify(VendorClient):
    """A thin test client: the emulator's Bouncify base URL plus the ``apikey`` query parameter."""

    vendor = "bouncify"

    def __init__(self, emulator: EmulatorHandle) -> None:
        super().__init__(emulator)
        self.key = emulator.api_key

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, params={"apikey": self.key, **(params or {})}, timeout=60, **kwargs)

    def upload_csv(self, content: bytes, name: str = "list.csv", **kwargs: Any) -> requests.Response:
        return self.call("POST", "/v1/bulk", files={"local_file": (name, content, "text/csv")}, **kwargs)

    def upload_json(self, emails: list[dict[str, Any]], auto_verify: Any = None) -> str:
        body: dict[str, Any] = {"emails": emails}
        if auto_verify is not None:
            body["auto_verify"] = auto_verify
        response = self.call("POST", "/v1/bulk", json=body)
        assert response.status_code == 201, response.text
        return response.json()["job_id"]

    def status(self, job_id: str) -> dict[str, Any]:
        return self.call("GET", "/v1/bulk", {"job_id": job_id}).json()

    def wait(self, job_id: str, status: str, timeout: float = 20) -> dict[str, Any]:
        return wait_for(lambda: (body := self.status(job_id))["status"] == status and body, timeout)

    def start(self, job_id: str) -> requests.Response:
        return self.call("PATCH", f"/v1/bulk/{job_id}", json={"action": "start"})

    def download(self, job_id: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", "/v1/download", {"jobId": job_id}, **kwargs)

    def credits(self) -> int:
        return self.call("GET", "/v1/info").json()["credits_info"]["credits_remaining"]


def assert_fail(response: requests.Response, status: int, text: str, field: str = "result", success: Any = False) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {field: text, "success": success}


@pytest.fixture
def bouncify(vendor_client: Callable[..., Bouncify]) -> Bouncify:
    return vendor_client(Bouncify, prepare_seconds=0.0)


def rows_of(response: requests.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


# -- auth and account ------------------------------------------------------------------------------------
def test_invalid_api_key_bodies_per_endpoint(bouncify: Bouncify) -> None:
    bouncify.key = "wrong"
    assert_fail(bouncify.call("GET", "/v1/verify", {"email": "a@b.com"}), 401, "Invalid API Key", success="false")
    assert_fail(bouncify.call("GET", "/v1/info"), 401, "Invalid API key")
    assert_fail(bouncify.call("POST", "/v1/bulk", json={"emails": [{"email": "a@b.com"}]}), 401, "Invalid API Key")
    for method in ("GET", "PATCH", "DELETE"):
        assert_fail(bouncify.call(method, "/v1/bulk", {"job_id": "x" * 36}), 401, "Invalid API Key")
    assert_fail(bouncify.call("POST", "/v1/download", {"jobId": "x" * 36}), 401, "Invalid API Key")
    missing = requests.get(bouncify.base + "/v1/info", timeout=10)
    assert missing.status_code == 401


def test_info_reports_credits(bouncify: Bouncify) -> None:
    bouncify.emulator.set_credits(321)
    assert bouncify.call("GET", "/v1/info").json() == {"success": True, "credits_info": {"credits_remaining": 321}}


# -- single verification ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("email", "result", "flags"),
    [
        ("support@gmail.com", "deliverable", {"role": 1, "free_email": 1, "accept_all": 0}),
        ("bob@invalid.test", "undeliverable", {"accept_all": 0}),
        ("x@catchall.test", "accept-all", {"accept_all": 1}),
        ("x@unknown.test", "unknown", {"accept_all": 2}),
        ("x@mailinator.com", "deliverable", {"disposable": 1}),
        ("trap1@example.com", "deliverable", {"spamtrap": 1}),
    ],
)
def test_verify_results_and_flags(bouncify: Bouncify, email: str, result: str, flags: dict[str, int]) -> None:
    body = bouncify.call("GET", "/v1/verify", {"email": email, "timeout": "5000"}).json()
    assert body["result"] == result and body["success"] is True and body["email"] == email
    assert (body["user"], body["domain"]) == tuple(email.split("@"))
    assert body["message"]
    for name, value in flags.items():
        assert body[name] == value, name
    assert bouncify.credits() == 999_999


def test_verify_accept_all_spelling_is_switchable(bouncify: Bouncify) -> None:
    for spelling in ("accept all", "accept_all"):
        bouncify.emulator.set_option("bouncify", accept_all_spelling=spelling)
        assert bouncify.call("GET", "/v1/verify", {"email": "x@catchall.test"}).json()["result"] == spelling


def test_verify_errors(bouncify: Bouncify) -> None:
    assert_fail(bouncify.call("GET", "/v1/verify"), 400, "Invalid request. Required email.")
    assert_fail(bouncify.call("GET", "/v1/verify", {"email": "not an email"}), 400, "Invalid request. Required email.")
    bouncify.emulator.set_credits(0)
    response = bouncify.call("GET", "/v1/verify", {"email": "a@example.com"})
    assert_fail(response, 402, "Insufficient verification credits", success="false")


# -- upload ------------------------------------------------------------------------------------------------
def test_upload_csv_keeps_columns_and_waits_in_ready(bouncify: Bouncify) -> None:
    content = b"email,firstname\r\ninfo@gmail.com,Ann\r\nx@catchall.test,Bo\r\nbad-address,Cy\r\n"
    response = bouncify.upload_csv(content)
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["message"] == "Bulk email verification list has been created"
    assert re.fullmatch(r"[a-z0-9]{36}", body["job_id"])
    ready = bouncify.wait(body["job_id"], "ready")
    assert ready["total"] == 3 and "verified" not in ready and "results" not in ready
    assert ready["analysis"] == {"common_isp": 1, "role_based": 1, "disposable": 0, "spamtrap": 0, "syntax_error": 1}
    assert re.fullmatch(r"\d\d/\d\d/\d{4}, \d{1,2}:\d\d:\d\d [AP]M", ready["created_at"])
    assert ready["message"] == "Job ready for verification. Please begin verification to know the result"
    assert bouncify.credits() == 1_000_000  # nothing charged before the start
    assert bouncify.emulator.stats()["jobs_created"]["bouncify"] == 1


@pytest.mark.parametrize("where", ["form", "query"])
def test_multipart_auto_verify_from_form_or_query(bouncify: Bouncify, where: str) -> None:
    kwargs: dict[str, Any] = {"data": {"auto_verify": "true"}} if where == "form" else {"params": {"auto_verify": "true"}}
    response = bouncify.upload_csv(b"a@example.com\nb@example.com\n", name="list.txt", **kwargs)
    assert response.json()["message"] == "Bulk email verification list has been created and starts verification shortly"
    bouncify.wait(response.json()["job_id"], "completed")
    assert bouncify.credits() == 999_998


@pytest.mark.parametrize("flag", ["true", True])
def test_json_upload_with_auto_verify(bouncify: Bouncify, flag: Any) -> None:
    job_id = bouncify.upload_json([{"email": "a@example.com", "firstname": "John"}], auto_verify=flag)
    done = bouncify.wait(job_id, "completed")
    assert done["results"]["deliverable"] == 1 and done["verified"] == 1 and done["pending"] == 0


def test_upload_status_code_is_switchable(bouncify: Bouncify) -> None:
    bouncify.emulator.set_option("bouncify", upload_status=200)
    response = bouncify.call("POST", "/v1/bulk", json={"emails": [{"email": "a@example.com"}]})
    assert response.status_code == 200 and response.json()["success"] is True


def test_invalid_uploads(bouncify: Bouncify) -> None:
    assert_fail(bouncify.upload_csv(b""), 400, "Invalid file data")
    assert_fail(bouncify.upload_csv(b"email\n\n"), 400, "Invalid file data")
    assert_fail(bouncify.call("POST", "/v1/bulk", files={"other": ("l.csv", b"a@b.com")}), 400, "Invalid file data")
    assert_fail(bouncify.call("POST", "/v1/bulk", json={"emails": []}), 400, "Invalid file data")
    assert_fail(bouncify.call("POST", "/v1/bulk", json={"list": [{"email": "a@b.com"}]}), 400, "Invalid file data")
    assert_fail(bouncify.call("POST", "/v1/bulk", json={"emails": [{"mail": "a@b.com"}]}), 400, "Invalid file data")
    assert_fail(bouncify.call("POST", "/v1/bulk", data="{\"emails\": [", headers={"Content-Type": "application/json"}),
                400, "Invalid file data")
    assert_fail(bouncify.call("POST", "/v1/bulk", data="a@b.com", headers={"Content-Type": "text/plain"}),
                400, "Invalid file data")
    assert bouncify.emulator.stats()["jobs_created"].get("bouncify", 0) == 0


def test_upload_limits_500000_rows_and_10_mb(bouncify: Bouncify) -> None:
    rows = b"".join(b"u%d@e.co\n" % i for i in range(500_000))
    accepted = bouncify.upload_csv(rows, name="list.txt")
    assert accepted.status_code == 201
    assert bouncify.wait(accepted.json()["job_id"], "ready")["total"] == 500_000
    assert_fail(bouncify.upload_csv(rows + b"one@more.co\n", name="list.txt"), 400, "Invalid file data")
    big = b"email,padding\n" + b"".join(b"u%d@e.co,%s\n" % (i, b"x" * 1000) for i in range(10_500))
    assert len(big) > 10 * 1024 * 1024
    assert_fail(bouncify.upload_csv(big), 400, "Invalid file data")
    assert_fail(bouncify.call("POST", "/v1/bulk", json={"emails": [{"email": "a@e.co", "pad": "x" * 11_000_000}]}),
                400, "Invalid file data")


def test_waiting_and_active_list_limits(bouncify: Bouncify) -> None:
    for _ in range(500):
        bouncify.upload_json([{"email": "a@example.com"}])
    assert_fail(bouncify.call("POST", "/v1/bulk", json={"emails": [{"email": "a@example.com"}]}),
                400, "The maximum number of lists has been reached.", field="message")
    bouncify.emulator.reset()
    bouncify.emulator.set_faults(rows_per_second=1)
    for _ in range(100):
        bouncify.upload_json([{"email": f"u{i}@example.com"} for i in range(50)], auto_verify=True)
    assert_fail(bouncify.call("POST", "/v1/bulk", json={"emails": [{"email": "a@example.com"}], "auto_verify": True}),
                400, "The maximum number of active verification lists has been reached.", field="message")
    waiting = bouncify.upload_json([{"email": "a@example.com"}])
    bouncify.wait(waiting, "ready")
    assert_fail(bouncify.start(waiting), 400, "The maximum number of active verification lists has been reached.",
                field="message")


def test_auto_verify_without_credits_creates_nothing(bouncify: Bouncify) -> None:
    bouncify.emulator.set_credits(1)
    response = bouncify.call("POST", "/v1/bulk", json={"emails": [{"email": "a@e.co"}, {"email": "b@e.co"}], "auto_verify": True})
    assert_fail(response, 402, "Insufficient verification credits. Please order a plan.")
    assert bouncify.emulator.stats()["jobs_created"].get("bouncify", 0) == 0


# -- lifecycle ---------------------------------------------------------------------------------------------
def test_lifecycle_preparing_ready_verifying_completed(bouncify: Bouncify) -> None:
    bouncify.emulator.set_option("bouncify", prepare_seconds=0.3)
    bouncify.emulator.set_faults(rows_per_second=40)
    emails = [{"email": f"u{i}@example.com"} for i in range(20)] + [{"email": "x@catchall.test"}, {"email": "y@invalid.test"}]
    job_id = bouncify.upload_json(emails)
    preparing = bouncify.status(job_id)
    assert preparing["status"] == "preparing" and set(preparing) == {"job_id", "status", "created_at", "success", "message"}
    assert_fail(bouncify.start(job_id), 400, NOT_READY)
    bouncify.wait(job_id, "ready")
    started = bouncify.call("PATCH", "/v1/bulk", {"job_id": job_id}, json={"action": "start"})
    assert started.status_code == 200 and started.json()["success"] is True and started.json()["job_id"] == job_id
    assert bouncify.credits() == 1_000_000 - 22
    verifying = bouncify.status(job_id)
    assert verifying["status"] == "verifying" and verifying["message"] == "Job is being verified"
    assert verifying["verified"] + verifying["pending"] == 22 == verifying["total"]
    assert sum(verifying["results"].values()) == verifying["verified"]
    assert_fail(bouncify.start(job_id), 400, "Verification has already started.")
    done = bouncify.wait(job_id, "completed")
    assert done["results"] == {"deliverable": 20, "undeliverable": 1, "accept_all": 1, "unknown": 0}
    assert bouncify.call("GET", f"/v1/bulk/{job_id}").json() == done
    assert_fail(bouncify.start(job_id), 400, "Verification has already started.")
    stats = bouncify.emulator.stats()["requests"]["bouncify"]
    assert stats["/v1/bulk"] >= 3 and stats["/v1/bulk/{job_id}"] >= 3


def test_start_errors(bouncify: Bouncify) -> None:
    job_id = bouncify.upload_json([{"email": "a@example.com"}, {"email": "b@example.com"}])
    bouncify.wait(job_id, "ready")
    assert_fail(bouncify.call("PATCH", f"/v1/bulk/{job_id}", json={"action": "stop"}), 400, "Invalid action")
    assert_fail(bouncify.call("PATCH", f"/v1/bulk/{job_id}"), 400, "Invalid action")
    bouncify.emulator.set_option("bouncify", restricted=True)
    assert_fail(bouncify.start(job_id), 400, "Verify restricted")
    bouncify.emulator.set_option("bouncify", restricted=False)
    bouncify.emulator.set_credits(1)
    assert_fail(bouncify.start(job_id), 402, "Insufficient verification credits. Please order a plan.")
    assert bouncify.status(job_id)["status"] == "ready"
    assert_fail(bouncify.start("short"), 400, "Job not found. Invalid jobId")
    assert_fail(bouncify.start("a" * 36), 400, "Job not found.")


def test_unknown_and_foreign_jobs_answer_400(bouncify: Bouncify) -> None:
    assert_fail(bouncify.call("GET", "/v1/bulk", {"job_id": "NOT-VALID"}), 400, "Job not found. Invalid jobId")
    assert_fail(bouncify.call("GET", "/v1/bulk"), 400, "Job not found. Invalid jobId")
    assert_fail(bouncify.call("GET", "/v1/bulk", {"job_id": "b" * 36}), 400, "Job not found")
    job_id = bouncify.upload_json([{"email": "a@example.com"}])
    bouncify.emulator.state.add_key("other")
    other = requests.get(f"{bouncify.base}/v1/bulk/{job_id}", params={"apikey": "other"}, timeout=10)
    assert_fail(other, 400, "Job not found. Invalid jobId")


def test_failed_and_cancelled_lists(bouncify: Bouncify) -> None:
    bouncify.emulator.set_faults(fail_jobs=1.0)
    job_id = bouncify.upload_json([{"email": "a@example.com"}], auto_verify=True)
    failed = bouncify.wait(job_id, "failed")
    assert failed["total"] == 0 and failed["message"] == "Unable to process your job, The uploaded list contains invalid data"
    assert bouncify.credits() == 1_000_000
    assert_fail(bouncify.start(job_id), 400, NOT_READY)
    assert_fail(bouncify.download(job_id), 400, "List cannot be downloaded, The uploaded list contains invalid data.")
    assert bouncify.call("DELETE", f"/v1/bulk/{job_id}").json()["success"] is True
    bouncify.emulator.set_option("bouncify", fail_state="cancelled")
    cancelled = bouncify.wait(bouncify.upload_json([{"email": "a@example.com"}]), "cancelled")
    assert cancelled["message"] == "Job is cancelled" and cancelled["total"] == 1


# -- download ----------------------------------------------------------------------------------------------
def test_download_refusals_by_state(bouncify: Bouncify) -> None:
    bouncify.emulator.set_option("bouncify", prepare_seconds=30)
    preparing = bouncify.upload_json([{"email": "a@example.com"}])
    assert_fail(bouncify.download(preparing), 400,
                "Job is being prepared for verification, please start verifying and then download you result.")
    bouncify.emulator.set_option("bouncify", prepare_seconds=0)
    ready = bouncify.upload_json([{"email": "a@example.com"}])
    bouncify.wait(ready, "ready")
    assert_fail(bouncify.download(ready), 400,
                "Job is ready for verification, please start verification and download your results once list verified.")
    bouncify.emulator.set_faults(rows_per_second=1)
    verifying = bouncify.upload_json([{"email": f"u{i}@example.com"} for i in range(10)], auto_verify=True)
    bouncify.wait(verifying, "verifying")
    assert_fail(bouncify.download(verifying), 400, "Job is being verified, please wait until it completes.")
    assert_fail(bouncify.download("c" * 36), 400, "Job not found.")
    assert_fail(bouncify.download("nope"), 400, "Job not found. Invalid jobId")


def test_download_csv_columns_and_filters(bouncify: Bouncify) -> None:
    emails = [
        {"email": "info@gmail.com", "firstname": "Ann"},
        {"email": "x@catchall.test", "firstname": "Bo", "extra": "dropped"},
        {"email": "y@invalid.test"},
        {"email": "z@unknown.test", "firstname": "Di"},
        {"email": "w@mailinator.com", "firstname": "Ed"},
    ]
    job_id = bouncify.upload_json(emails, auto_verify="true")
    bouncify.wait(job_id, "completed")
    response = bouncify.download(job_id)
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.startswith('"email","firstname","Verification Result"') and "\r\n" in response.text
    header, *rows = rows_of(response)
    assert header == ["email", "firstname", *RESULT_COLUMNS]
    assert [row[:3] for row in rows] == [
        ["info@gmail.com", "Ann", "deliverable"], ["x@catchall.test", "Bo", "accept-all"],
        ["y@invalid.test", "", "undeliverable"], ["z@unknown.test", "Di", "unknown"],
        ["w@mailinator.com", "Ed", "deliverable"],
    ]
    assert rows[0][3:8] == ["N", "Y", "Y", "N", "N"] and rows[4][6] == "Y"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rows[0][8])
    picked = bouncify.download(job_id, json={"filterResult": ["accept_all", "unknown"]})
    assert [row[0] for row in rows_of(picked)[1:]] == ["x@catchall.test", "z@unknown.test"]
    assert_fail(bouncify.download(job_id, json={"filterResult": ["accept-all"]}), 400,
                "Invalid filterResult. Please provide correct filterResult options")
    bouncify.emulator.set_option("bouncify", restricted=True)
    assert_fail(bouncify.download(job_id), 400, "DOWNLOAD-RESTRICTED")


def test_header_less_upload_gets_an_empty_header_cell(bouncify: Bouncify) -> None:
    response = bouncify.upload_csv(b"a@example.com\r\nsupport@example.com\r\n", name="list.txt", data={"auto_verify": "true"})
    job_id = response.json()["job_id"]
    bouncify.wait(job_id, "completed")
    header, *rows = rows_of(bouncify.download(job_id))
    assert header == ["", *RESULT_COLUMNS]
    assert [(row[0], row[1], row[4]) for row in rows] == [
        ("a@example.com", "deliverable", "N"), ("support@example.com", "deliverable", "Y"),
    ]


# -- delete ------------------------------------------------------------------------------------------------
def test_delete_rules(bouncify: Bouncify) -> None:
    bouncify.emulator.set_option("bouncify", prepare_seconds=30)
    preparing = bouncify.upload_json([{"email": "a@example.com"}])
    assert_fail(bouncify.call("DELETE", "/v1/bulk", {"job_id": preparing}), 400,
                "List is being processed, and cannot be deleted.")
    bouncify.emulator.set_option("bouncify", prepare_seconds=0)
    job_id = bouncify.upload_json([{"email": "a@example.com"}], auto_verify=True)
    bouncify.wait(job_id, "completed")
    deleted = bouncify.call("DELETE", "/v1/bulk", {"job_id": job_id})
    assert deleted.json() == {"job_id": job_id, "success": True, "message": "List will be deleted"}
    assert_fail(bouncify.call("DELETE", f"/v1/bulk/{job_id}"), 400, "List not found, may be already deleted.")
    assert_fail(bouncify.call("GET", f"/v1/bulk/{job_id}"), 400, "Job not found")
    assert_fail(bouncify.download(job_id), 400, "Job not found.")
    assert_fail(bouncify.start(job_id), 400, "Job not found.")
    ready = bouncify.upload_json([{"email": "a@example.com"}])
    bouncify.wait(ready, "ready")
    assert bouncify.call("DELETE", f"/v1/bulk/{ready}").status_code == 200


# -- faults ------------------------------------------------------------------------------------------------
def test_injected_faults(bouncify: Bouncify) -> None:
    bouncify.emulator.set_faults(throttle_rate=1.0)
    throttled = bouncify.call("GET", "/v1/verify", {"email": "a@example.com"})
    assert_fail(throttled, 429, "Too many requests")
    assert int(throttled.headers["Retry-After"]) >= 1
    bouncify.emulator.set_faults(throttle_rate=0.0, error_rate=1.0)
    assert bouncify.call("GET", "/v1/info").status_code >= 500
    bouncify.emulator.set_faults(error_rate=0.0, latency_ms=250)
    started = time.monotonic()
    assert bouncify.call("GET", "/v1/info").status_code == 200
    assert time.monotonic() - started >= 0.25
    assert bouncify.credits() == 1_000_000  # faulted calls cost nothing


def test_disconnect_mid_download(bouncify: Bouncify) -> None:
    job_id = bouncify.upload_json([{"email": f"user{i}@example.com"} for i in range(3000)], auto_verify=True)
    bouncify.wait(job_id, "completed")
    bouncify.emulator.set_faults(disconnect_rate=1.0, seed=5)
    with pytest.raises(requests.exceptions.RequestException):
        bouncify.download(job_id).content  # noqa: B018
    bouncify.emulator.set_faults(disconnect_rate=0.0)
    assert len(rows_of(bouncify.download(job_id))) == 3001


def test_a_large_list_downloads_every_row_with_its_verdict_and_when_it_was_verified(bouncify: Bouncify) -> None:
    """Thousands of rows (many spool blocks) verified 2,000 a second: each stamped at its turn."""
    bouncify.emulator.set_faults(rows_per_second=2000)
    kinds = ["u{i}@example.com", "info{i}@gmail.com", "x{i}@catchall.test", "y{i}@invalid.test", "z{i}@unknown.test",
             "w{i}@mailinator.com", "trap{i}@example.com", "support@yahoo{i}.com"]
    emails = [kinds[i % len(kinds)].format(i=i) for i in range(3000)]
    notes = ['say "hi", then\nleave', "plain", ""]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "note"])
    for i, email in enumerate(emails):
        writer.writerow([email, notes[i % 3], "extra"] if i % 7 == 0 else [email] if i % 11 == 0 else [email, notes[i % 3]])
    job_id = bouncify.upload_csv(buffer.getvalue().encode(), data={"auto_verify": "true"}).json()["job_id"]
    bouncify.wait(job_id, "completed")
    header, *rows = rows_of(bouncify.download(job_id))
    assert header == ["email", "note", *RESULT_COLUMNS]
    assert [row[:2] for row in rows] == [[e, "" if i % 11 == 0 and i % 7 else notes[i % 3]] for i, e in enumerate(emails)]
    for row in rows[: len(kinds)]:  # the result and flags are the single verification's
        single = bouncify.call("GET", "/v1/verify", {"email": row[0]}).json()
        flags = [single[name] for name in ("free_email", "role", "disposable", "spamtrap")]
        assert [row[2], row[4], row[5], row[6], row[7]] == [single["result"], *("Y" if flag else "N" for flag in flags)]
    moments = [calendar.timegm(time.strptime(row[8][:19], "%Y-%m-%dT%H:%M:%S")) + int(row[8][20:23]) / 1000 for row in rows]
    assert all(abs(moment - moments[0] - index / 2000) <= 0.0011 for index, moment in enumerate(moments))
    picked = rows_of(bouncify.download(job_id, json={"filterResult": ["undeliverable", "unknown"]}))[1:]
    assert picked == [row for row in rows if row[2] in ("undeliverable", "unknown")]
