# Licensed under the Apache License, Version 2.0.
"""The Bouncer v1.1 emulator over real HTTP, against specs/bouncer.md."""

from __future__ import annotations

import base64
import csv
import io
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.emulator.polling import LocalServer, VendorClient, wait_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle

BATCH = "/v1.1/email/verify/batch"
SANDBOX = "sandbox.usebouncer.com"


class Bouncer(VendorClient):
    """A thin test client: the emulator's Bouncer base URL plus the ``x-api-key`` header."""

    vendor = "bouncer"

    def __init__(self, emulator: EmulatorHandle) -> None:
        super().__init__(emulator)
        self.headers = {"x-api-key": emulator.api_key}

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, headers={**self.headers, **kwargs.pop("headers", {})}, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, headers={**self.headers, **kwargs.pop("headers", {})}, timeout=60, **kwargs)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.base + path, headers=self.headers, timeout=30)

    def credits(self) -> int:
        return self.get("/v1.1/credits").json()["credits"]

    def create(self, emails: list[Any], **kwargs: Any) -> dict[str, Any]:
        response = self.post(BATCH, json=emails, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, batch_id: str, stats: bool = True) -> dict[str, Any]:
        response = self.get(f"{BATCH}/{batch_id}", params={"with-stats": str(stats).lower()})
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, batch_id: str, status: str = "completed", timeout: float = 20) -> dict[str, Any]:
        return wait_for(lambda: (body := self.status(batch_id))["status"] == status and body, timeout)


@pytest.fixture
def bouncer(vendor_client: Callable[..., Bouncer]) -> Bouncer:
    return vendor_client(Bouncer, queue_seconds=0.0)


def assert_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and isinstance(body["status"], int)
    assert body["message"] == message
    assert body["error"]


# -- auth and credits ----------------------------------------------------------------------------------
def test_missing_and_unknown_keys_get_401(bouncer: Bouncer) -> None:
    url = bouncer.base + "/v1.1/credits"
    missing = requests.get(url, timeout=10)
    assert_error(missing, 401, "api key is required")
    assert missing.json()["error"] == "Unauthorized"
    assert_error(requests.get(url, headers={"x-api-key": "nope"}, timeout=10), 401, "user not found")


def test_basic_auth_with_empty_user_is_accepted(bouncer: Bouncer) -> None:
    url = bouncer.base + "/v1.1/credits"
    good = requests.get(url, auth=("", bouncer.emulator.api_key), timeout=10)
    assert good.status_code == 200 and good.json() == {"credits": 1_000_000}
    token = base64.b64encode(b":wrong").decode()
    assert_error(requests.get(url, headers={"Authorization": f"Basic {token}"}, timeout=10), 401, "user not found")


def test_credits_reports_the_balance_for_free(bouncer: Bouncer) -> None:
    bouncer.emulator.set_credits(1234)
    assert bouncer.credits() == 1234
    assert bouncer.credits() == 1234
    assert bouncer.emulator.stats()["requests"]["bouncer"]["/v1.1/credits"] == 2


# -- real-time verify ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("email", "status", "reason", "check"),
    [
        (f"deliverable@{SANDBOX}", "deliverable", "accepted_email", lambda r: r["score"] == 100),
        (f"deliverable+12345@{SANDBOX}", "deliverable", "accepted_email", lambda r: r["score"] == 100),
        (f"free@{SANDBOX}", "deliverable", "accepted_email", lambda r: r["domain"]["free"] == "yes"),
        (f"disposable@{SANDBOX}", "risky", "low_quality", lambda r: r["domain"]["disposable"] == "yes"),
        (f"accept-all@{SANDBOX}", "risky", "low_deliverability", lambda r: r["domain"]["acceptAll"] == "yes"),
        (f"undeliverable@{SANDBOX}", "undeliverable", "rejected_email", lambda r: r["score"] == 0),
        (f"unknown@{SANDBOX}", "unknown", "unknown", lambda r: "score" not in r),
        (f"other@{SANDBOX}", "risky", "low_deliverability", lambda r: r["account"]["role"] == "yes"),
    ],
)
def test_sandbox_addresses_follow_the_table_and_cost_nothing(
    bouncer: Bouncer, email: str, status: str, reason: str, check: Callable[[dict[str, Any]], bool]
) -> None:
    record = bouncer.get("/v1.1/email/verify", params={"email": email}).json()
    assert (record["email"], record["status"], record["reason"]) == (email, status, reason)
    assert check(record)
    assert bouncer.credits() == 1_000_000


@pytest.mark.parametrize(
    ("email", "status", "reason"),
    [
        ("jane@example.com", "deliverable", "accepted_email"),
        ("bob@invalid.test", "undeliverable", "invalid_domain"),
        ("bounce.me@example.com", "undeliverable", "rejected_email"),
        ("x@catchall.test", "risky", "low_deliverability"),
        ("x@mailinator.com", "risky", "low_quality"),
        ("x@unknown.test", "unknown", "unknown"),
    ],
)
def test_verify_renders_classify_in_bouncer_terms(bouncer: Bouncer, email: str, status: str, reason: str) -> None:
    record = bouncer.get("/v1.1/email/verify", params={"email": email}).json()
    assert (record["status"], record["reason"]) == (status, reason)
    assert bouncer.credits() == 999_999


def test_verify_record_shape_and_flags(bouncer: Bouncer) -> None:
    record = bouncer.get("/v1.1/email/verify", params={"email": "info@gmail.com", "timeout": "99"}).json()
    assert record["domain"] == {"name": "gmail.com", "acceptAll": "no", "disposable": "no", "free": "yes"}
    assert record["account"]["role"] == "yes"
    assert record["dns"]["type"] == "MX" and record["provider"]
    assert 0 <= record["toxicity"] <= 5 and record["toxic"] in ("yes", "no")
    typo = bouncer.get("/v1.1/email/verify", params={"email": "john1234 @gnail.com."}).json()
    assert typo == {"email": "john1234 @gnail.com.", "status": "undeliverable", "reason": "invalid_email",
                    "didYouMean": "john1234@gmail.com"}


def test_unencoded_plus_arrives_as_space_and_is_invalid(bouncer: Bouncer) -> None:
    raw = requests.get(bouncer.base + "/v1.1/email/verify?email=a+b@example.com", headers=bouncer.headers, timeout=10)
    assert raw.json()["reason"] == "invalid_email"
    encoded = bouncer.get("/v1.1/email/verify", params={"email": "a+b@example.com"}).json()
    assert encoded["status"] == "deliverable"


def test_verify_with_toxicity_costs_an_extra_credit(bouncer: Bouncer) -> None:
    bouncer.get("/v1.1/email/verify", params={"email": "a@example.com", "with-toxicity": "true"})
    assert bouncer.credits() == 999_998


def test_verify_errors(bouncer: Bouncer) -> None:
    assert_error(bouncer.get("/v1.1/email/verify"), 400, "email is required")
    assert_error(bouncer.get("/v1.1/email/verify", params={"email": "a@b.com", "timeout": "soon"}), 400, "invalid timeout")
    bouncer.emulator.set_credits(0)
    response = bouncer.get("/v1.1/email/verify", params={"email": "a@example.com"})
    assert_error(response, 402, "0 credits left")
    assert response.json()["error"] == "Payment Required"
    assert bouncer.get("/v1.1/email/verify", params={"email": f"deliverable@{SANDBOX}"}).status_code == 200


# -- domain ----------------------------------------------------------------------------------------------
def test_domain_verification(bouncer: Bouncer) -> None:
    body = bouncer.get("/v1.1/domain", params={"domain": "catchall.test"}).json()
    assert body["domain"] == {"name": "catchall.test", "acceptAll": "yes", "disposable": "no", "free": "no"}
    assert body["dns"]["type"] == "MX" and body["toxic"] == "unknown"
    assert "dns" not in bouncer.get("/v1.1/domain", params={"domain": "nowhere.invalid"}).json()
    assert bouncer.credits() == 999_998
    assert_error(bouncer.get("/v1.1/domain"), 400, "domain is required")
    bouncer.emulator.set_credits(0)
    assert_error(bouncer.get("/v1.1/domain", params={"domain": "example.com"}), 402, "0 credits left")


# -- batches ---------------------------------------------------------------------------------------------
def test_batch_lifecycle_queued_processing_completed(bouncer: Bouncer) -> None:
    bouncer.emulator.set_faults(rows_per_second=40)
    bouncer.emulator.set_option("bouncer", queue_seconds=0.3)
    emails = [f"user{i}@example.com" for i in range(20)] + ["bob@invalid.test", "x@catchall.test"]
    created = bouncer.create(emails)
    assert created["status"] == "queued" and created["quantity"] == 22 and created["duplicates"] == 0
    assert len(created["batchId"]) == 24 and created["created"].endswith("Z")
    assert bouncer.credits() == 1_000_000 - 22  # reserved up front

    queued = bouncer.status(created["batchId"])
    assert queued["status"] == "queued" and "started" not in queued and queued["processed"] == 0
    processing = bouncer.wait(created["batchId"], "processing")
    assert "started" in processing and "completed" not in processing and "credits" not in processing
    assert 0 <= processing["processed"] < 22
    assert sum(processing["stats"].values()) == processing["processed"]
    done = bouncer.wait(created["batchId"])
    assert done["credits"] == 22 and done["processed"] == 22 and "completed" in done
    assert done["stats"] == {"deliverable": 20, "risky": 1, "undeliverable": 1, "unknown": 0}
    plain = bouncer.status(created["batchId"], stats=False)
    assert "stats" not in plain and "processed" not in plain
    assert bouncer.emulator.stats()["jobs_created"]["bouncer"] == 1


def test_batch_credits_for_sandbox_addresses_are_returned(bouncer: Bouncer) -> None:
    created = bouncer.create([f"deliverable+{i}@{SANDBOX}" for i in range(5)] + ["a@example.com"])
    done = bouncer.wait(created["batchId"])
    assert done["credits"] == 1
    assert bouncer.credits() == 999_999


def test_batch_text_plain_with_skip_header_names_and_duplicates(bouncer: Bouncer) -> None:
    body = "email\nA@example.com\r\nb@example.com\n\na@example.com\n"
    response = bouncer.post(BATCH, params={"skip-header": "true"}, data=body, headers={"Content-Type": "text/plain"})
    created = response.json()
    assert (created["quantity"], created["duplicates"]) == (3, 1)
    bouncer.wait(created["batchId"])
    records = bouncer.get(f"{BATCH}/{created['batchId']}/download").json()
    assert [r["email"] for r in records] == ["A@example.com", "b@example.com"]

    named = bouncer.create([{"email": "john@example.com", "name": "John Doe"}, {"email": "jenny@example.com"}])
    bouncer.wait(named["batchId"])
    records = bouncer.get(f"{BATCH}/{named['batchId']}/download").json()
    assert records[0]["name"] == "John Doe" and "name" not in records[1]


def test_batch_body_errors(bouncer: Bouncer) -> None:
    assert_error(bouncer.post(BATCH, data="[{", headers={"Content-Type": "application/json"}), 400, "invalid request body")
    assert_error(bouncer.post(BATCH, json=[{"name": "no email"}]), 400, "invalid request body")
    assert_error(bouncer.post(BATCH, json=[]), 400, "no emails provided")
    assert bouncer.emulator.stats()["jobs_created"].get("bouncer", 0) == 0


def test_batch_limit_is_100000(bouncer: Bouncer) -> None:
    too_many = "\n".join(f"u{i}@example.com" for i in range(100_001))
    response = bouncer.post(BATCH, data=too_many, headers={"Content-Type": "text/plain"})
    assert_error(response, 400, "too many emails")
    assert bouncer.credits() == 1_000_000
    # The connection stays usable after the refusal.
    assert bouncer.get("/v1.1/credits").status_code == 200

    created = bouncer.create([f"u{i}@example.com" for i in range(100_000)])
    assert created["quantity"] == 100_000
    bouncer.wait(created["batchId"])
    with bouncer.get(f"{BATCH}/{created['batchId']}/download", headers={"Accept": "text/csv"}, stream=True) as download:
        assert "content-length" not in download.headers  # streamed, not built in memory
        content = download.content
    assert content.count(b"\r\n") == 100_001 and content.rsplit(b"\r\n", 2)[-2].startswith(b"u99999@example.com,")


def test_batch_needs_credits_for_the_whole_batch(bouncer: Bouncer) -> None:
    bouncer.emulator.set_credits(1)
    response = bouncer.post(BATCH, json=["a@example.com", "b@example.com"])
    assert_error(response, 402, "1 credits left")
    assert bouncer.emulator.stats()["jobs_created"].get("bouncer", 0) == 0
    assert bouncer.credits() == 1


def test_download_formats_and_filters(bouncer: Bouncer) -> None:
    emails = ["a@example.com", "bob@invalid.test", "x@catchall.test", "y@unknown.test", f"free@{SANDBOX}"]
    batch_id = bouncer.create(emails)["batchId"]
    bouncer.wait(batch_id)
    path = f"{BATCH}/{batch_id}/download"
    everything = bouncer.get(path).json()
    assert [r["email"] for r in everything] == emails
    assert bouncer.get(path, params={"download": "all"}).json() == everything
    for status, expected in [("deliverable", 2), ("risky", 1), ("undeliverable", 1), ("unknown", 1)]:
        subset = bouncer.get(path, params={"download": status}).json()
        assert len(subset) == expected and {r["status"] for r in subset} == {status}
    as_csv = bouncer.get(path, headers={"Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert list(rows[0]) == [
        "email", "name", "status", "reason", "domain", "acceptAll", "disposable", "free", "role", "disabled",
        "fullMailbox", "dnsType", "dnsRecord", "provider", "score", "toxic", "toxicity", "didYouMean", "retryAfter",
    ]
    assert [(r["email"], r["status"]) for r in rows] == [(r["email"], r["status"]) for r in everything]
    assert rows[4]["free"] == "yes"
    assert_error(bouncer.get(path, params={"download": "good"}), 400, "invalid download parameter")


def test_download_errors(bouncer: Bouncer) -> None:
    assert_error(bouncer.get(f"{BATCH}/1l2k3k4j5h/download"), 404, "request 1l2k3k4j5h does not exist")
    assert_error(bouncer.get(f"{BATCH}/1l2k3k4j5h"), 404, "request 1l2k3k4j5h does not exist")
    bouncer.emulator.set_option("bouncer", queue_seconds=30)
    batch_id = bouncer.create(["a@example.com"])["batchId"]
    assert_error(bouncer.get(f"{BATCH}/{batch_id}/download"), 405, "batch is not completed")
    bouncer.emulator.state.add_key("other-key")
    other = requests.get(f"{bouncer.base}{BATCH}/{batch_id}", headers={"x-api-key": "other-key"}, timeout=10)
    assert_error(other, 404, f"request {batch_id} does not exist")


def test_finish_early_refunds_unverified_and_reports_them_unknown(bouncer: Bouncer) -> None:
    bouncer.emulator.set_faults(rows_per_second=10)
    emails = [f"u{i}@example.com" for i in range(200)]
    batch_id = bouncer.create(emails)["batchId"]
    running = bouncer.wait(batch_id, "processing")
    assert running["processed"] < 200
    response = bouncer.post(f"{BATCH}/{batch_id}/finish")
    assert response.status_code == 202 and response.json() == {}
    done = bouncer.status(batch_id)
    assert done["status"] == "completed" and done["processed"] == 200
    verified = done["stats"]["deliverable"]
    assert 0 <= verified < 200 and done["stats"]["unknown"] == 200 - verified
    assert done["credits"] == verified
    assert bouncer.credits() == 1_000_000 - verified
    records = bouncer.get(f"{BATCH}/{batch_id}/download").json()
    assert len(records) == 200 and records[-1] == {"email": "u199@example.com", "status": "unknown", "reason": "unknown"}
    assert_error(bouncer.post(f"{BATCH}/{batch_id}/finish"), 400, "batch has to be running to finish")


def test_finish_can_drop_unverified_and_refuses_queued(bouncer: Bouncer) -> None:
    bouncer.emulator.set_faults(rows_per_second=10)
    bouncer.emulator.set_option("bouncer", finish_unverified="drop", queue_seconds=0.2)
    batch_id = bouncer.create([f"u{i}@example.com" for i in range(200)])["batchId"]
    assert_error(bouncer.post(f"{BATCH}/{batch_id}/finish"), 400, "batch has to be running to finish")
    bouncer.wait(batch_id, "processing")
    assert bouncer.post(f"{BATCH}/{batch_id}/finish").status_code == 202
    done = bouncer.status(batch_id)
    assert done["processed"] == sum(done["stats"].values()) == len(bouncer.get(f"{BATCH}/{batch_id}/download").json())
    assert_error(bouncer.post(f"{BATCH}/unknown-id/finish"), 404, "request unknown-id does not exist")


def test_delete_only_when_completed_then_gone(bouncer: Bouncer) -> None:
    bouncer.emulator.set_option("bouncer", queue_seconds=30)
    waiting = bouncer.create(["a@example.com"])["batchId"]
    assert_error(bouncer.delete(f"{BATCH}/{waiting}"), 405, "batch cannot be deleted in current state")
    bouncer.emulator.set_option("bouncer", queue_seconds=0)
    batch_id = bouncer.create(["a@example.com"])["batchId"]
    bouncer.wait(batch_id)
    deleted = bouncer.delete(f"{BATCH}/{batch_id}")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert_error(bouncer.get(f"{BATCH}/{batch_id}"), 404, f"request {batch_id} does not exist")
    assert_error(bouncer.get(f"{BATCH}/{batch_id}/download"), 405, "email addresses and results have been removed")
    assert_error(bouncer.delete(f"{BATCH}/{batch_id}"), 404, f"request {batch_id} does not exist")
    bouncer.emulator.set_option("bouncer", deleted_download_status=404)
    assert_error(bouncer.get(f"{BATCH}/{batch_id}/download"), 404, f"request {batch_id} does not exist")


@pytest.fixture
def receiver() -> Iterator[LocalServer]:
    """A local HTTP server recording the JSON bodies POSTed to it."""
    with LocalServer() as server:
        yield server


def test_callback_fires_once_on_completion(bouncer: Bouncer, receiver: LocalServer) -> None:
    url = receiver.url + "/hook?x=1"
    bouncer.emulator.set_faults(rows_per_second=100)
    batch_id = bouncer.post(BATCH, params={"callback": url}, json=["a@example.com", "b@invalid.test"]).json()["batchId"]
    wait_for(lambda: receiver.posts, timeout=10)
    time.sleep(0.2)
    received = [body for _path, _headers, body in receiver.posts]
    assert len(received) == 1
    assert received[0]["batchId"] == batch_id and received[0]["status"] == "completed"
    assert received[0]["stats"] == {"deliverable": 1, "risky": 0, "undeliverable": 1, "unknown": 0}


# -- batch sync --------------------------------------------------------------------------------------------
def test_batch_sync_returns_records_and_caches_for_a_day(bouncer: Bouncer) -> None:
    emails = ["a@example.com", "bob@invalid.test", f"deliverable@{SANDBOX}", "A@example.com"]
    records = bouncer.post(f"{BATCH}/sync", json=emails).json()
    assert [r["status"] for r in records] == ["deliverable", "undeliverable", "deliverable"]
    assert bouncer.credits() == 999_998
    again = bouncer.post(f"{BATCH}/sync", json=["a@example.com", "c@example.com"]).json()
    assert len(again) == 2 and bouncer.credits() == 999_997
    bouncer.emulator.set_option("bouncer", sync_cache_seconds=0)
    bouncer.post(f"{BATCH}/sync", json=["a@example.com"])
    assert bouncer.credits() == 999_996


def test_batch_sync_limits_and_credits(bouncer: Bouncer) -> None:
    assert_error(bouncer.post(f"{BATCH}/sync", json=[f"u{i}@e.com" for i in range(10_001)]), 400, "too many emails")
    assert len(bouncer.post(f"{BATCH}/sync", json=[f"u{i}@e.com" for i in range(10_000)]).json()) == 10_000
    bouncer.emulator.set_credits(13)
    assert_error(bouncer.post(f"{BATCH}/sync", json=[f"v{i}@e.com" for i in range(14)]), 402, "13 credits left")


# -- toxicity lists and sampling ---------------------------------------------------------------------------
def test_toxicity_list_lifecycle(bouncer: Bouncer) -> None:
    bouncer.emulator.set_faults(rows_per_second=20)
    created = bouncer.post("/v1/toxicity/list", json=["jane@example.com", "toxic@example.com", "info@example.com"]).json()
    assert created["status"] == "processing" and len(created["id"]) == 24 and created["createdAt"].endswith("Z")
    assert bouncer.credits() == 999_997
    path = f"/v1/toxicity/list/{created['id']}"
    assert_error(bouncer.get(path + "/data"), 400, "processing is not completed yet")
    wait_for(lambda: bouncer.get(path).json()["status"] == "completed")
    assert bouncer.get(path + "/data").json() == [
        {"email": "jane@example.com", "toxicity": 0},
        {"email": "toxic@example.com", "toxicity": 5},
        {"email": "info@example.com", "toxicity": 1},
    ]
    assert bouncer.delete(path).json() == {}
    assert_error(bouncer.get(path), 404, "list not found")
    assert_error(bouncer.get(path + "/data"), 404, "list not found")
    assert_error(bouncer.delete(path), 404, "list not found")


def test_toxicity_list_credits_and_failure(bouncer: Bouncer) -> None:
    bouncer.emulator.set_credits(1)
    assert_error(bouncer.post("/v1/toxicity/list", json=["a@e.com", "b@e.com"]), 402, "not enough credits, 2 required")
    bouncer.emulator.set_credits(10)
    bouncer.emulator.set_faults(fail_jobs=1.0)
    list_id = bouncer.post("/v1/toxicity/list", json=["a@e.com", "b@e.com"]).json()["id"]
    assert wait_for(lambda: bouncer.get(f"/v1/toxicity/list/{list_id}").json()["status"] == "error")
    assert bouncer.credits() == 10  # refunded
    assert_error(bouncer.get(f"/v1/toxicity/list/{list_id}/data"), 400, "processing is not completed yet")


def test_sampling_estimates_bounces(bouncer: Bouncer) -> None:
    bouncer.emulator.set_faults(rows_per_second=50)
    emails = [{"email": "a@example.com"}, {"email": "bob@invalid.test"}, {"email": "x@catchall.test"}]
    started = bouncer.post("/v1/email/verify/batch/sample", json=emails).json()
    assert started["emails"] == 3 and started["sampled"] == 3 and set(started["toxicity"]) == {str(i) for i in range(6)}
    done = wait_for(lambda: (body := bouncer.get(f"/v1/email/verify/batch/sample/{started['id']}").json())["finished"] and body)
    assert done["analysed"]["count"] == 3 and done["analysed"]["undeliverable"] == 1 and done["analysed"]["acceptAll"] == 1
    assert done["bounceEstimate"] == 33.3
    bouncer.emulator.set_option("bouncer", sample_size=10)
    big = bouncer.post("/v1/email/verify/batch/sample", json=[f"u{i}@e.com" for i in range(500)]).json()
    assert big["emails"] == 500 and big["sampled"] == 10
    assert bouncer.credits() == 1_000_000
    assert bouncer.emulator.stats()["jobs_created"]["bouncer"] == 2
    assert bouncer.get("/v1/email/verify/batch/sample/nope").status_code == 404


# -- faults ------------------------------------------------------------------------------------------------
def test_injected_errors_and_throttling_use_bouncer_shapes(bouncer: Bouncer) -> None:
    bouncer.emulator.set_faults(error_rate=1.0)
    assert_error(bouncer.get("/v1.1/credits"), 503, "service unavailable")
    bouncer.emulator.set_faults(error_rate=0.0, throttle_rate=1.0)
    throttled = bouncer.get("/v1.1/credits")
    assert_error(throttled, 429, "too many requests")
    assert int(throttled.headers["Retry-After"]) >= 1
    assert bouncer.emulator.stats()["faults"] == {"error": 1, "throttle": 1}


def test_injected_latency_slows_answers(bouncer: Bouncer) -> None:
    bouncer.emulator.set_faults(latency_ms=300)
    started = time.monotonic()
    assert bouncer.get("/v1.1/credits").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_disconnect_mid_download(bouncer: Bouncer) -> None:
    batch_id = bouncer.create([f"user{i}@example.com" for i in range(2000)])["batchId"]
    bouncer.wait(batch_id)
    bouncer.emulator.set_faults(disconnect_rate=1.0, seed=3)
    with pytest.raises(requests.exceptions.RequestException):
        bouncer.get(f"{BATCH}/{batch_id}/download", headers={"Accept": "text/csv"}).content  # noqa: B018
    bouncer.emulator.set_faults(disconnect_rate=0.0)
    assert len(bouncer.get(f"{BATCH}/{batch_id}/download").json()) == 2000


def test_fail_jobs_does_not_fail_batches(bouncer: Bouncer) -> None:
    bouncer.emulator.set_faults(fail_jobs=1.0)
    batch_id = bouncer.create(["a@example.com"])["batchId"]
    assert bouncer.wait(batch_id)["stats"]["deliverable"] == 1


# -- large batches -------------------------------------------------------------------------------------
def _mixed_addresses(count: int) -> list[str]:
    """Unique addresses of every kind: classified ones, bad syntax, sandbox, typos, toxic and trap locals."""
    kinds = [
        "u{i}@example.com", "Info{i}@Gmail.com", "invalid{i}@example.com", "u{i}@catchall.test",
        "u{i}@mailinator.com", "unknown{i}@example.com", "u{i}@gmial.com", "toxic{i}@example.com",
        "trap{i}@yahoo.com", "u{i}@sub.invalid", "u {i}@gnail.com.", " pad{i}@example.com\t",
        "deliverable+{i}@sandbox.usebouncer.com", "other+{i}@sandbox.usebouncer.com",
    ]
    return [kinds[i % len(kinds)].format(i=i) for i in range(count)]


def _flattened(record: dict[str, Any]) -> dict[str, str]:
    """A JSON record as the spec's CSV columns lay it out (every value as text, absent ones empty)."""
    domain, account, dns = record.get("domain", {}), record.get("account", {}), record.get("dns", {})
    values = [
        record["email"], record.get("name", ""), record["status"], record["reason"], domain.get("name", ""),
        domain.get("acceptAll", ""), domain.get("disposable", ""), domain.get("free", ""), account.get("role", ""),
        account.get("disabled", ""), account.get("fullMailbox", ""), dns.get("type", ""), dns.get("record", ""),
        record.get("provider", ""), record.get("score", ""), record.get("toxic", ""), record.get("toxicity", ""),
        record.get("didYouMean", ""), record.get("retryAfter", ""),
    ]
    columns = ["email", "name", "status", "reason", "domain", "acceptAll", "disposable", "free", "role", "disabled",
               "fullMailbox", "dnsType", "dnsRecord", "provider", "score", "toxic", "toxicity", "didYouMean", "retryAfter"]
    return dict(zip(columns, map(str, values)))


def test_a_large_batch_downloads_what_batch_sync_answers_for_each_address(bouncer: Bouncer) -> None:
    """Thousands of rows (many spool blocks), names that need escaping, every kind of address."""
    emails = _mixed_addresses(4000)
    names = [None, "Ann", 'say "hi", then\nleave', "tab\there", "ünï ✓", ""]
    items = [{"email": e} if names[i % 6] is None else {"email": e, "name": names[i % 6]} for i, e in enumerate(emails)]
    batch_id = bouncer.create(items)["batchId"]
    bouncer.wait(batch_id)
    path = f"{BATCH}/{batch_id}/download"
    records = bouncer.get(path).json()
    answered = bouncer.post(f"{BATCH}/sync", json=emails).json()
    named = [rec if item.get("name") is None else {"email": rec["email"], "name": item["name"], **rec}
             for item, rec in zip(items, answered)]
    assert records == named
    assert records[6]["didYouMean"] == "u6@gmail.com" and records[7]["toxicity"] == 5
    as_csv = bouncer.get(path, headers={"Accept": "text/csv"})
    assert list(csv.DictReader(io.StringIO(as_csv.text, newline=""))) == [_flattened(r) for r in records]
    for status in ("deliverable", "risky", "undeliverable", "unknown"):
        subset = bouncer.get(path, params={"download": status}).json()
        assert subset == [r for r in records if r["status"] == status]
