# Licensed under the Apache License, Version 2.0.
"""The NeverBounce v3 emulator (OAuth tokens, form-encoded POST) over real HTTP."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from tests.emulator.polling import LocalServer, wait_for

SUPPLIED = "support@neverbounce.com\ninvalid@neverbounce.com\nx@catchall.test\nx@mailinator.com\nunknown@example.com\nsupport@neverbounce.com\n"


class V3:
    """The v3 API spoken with ``requests``: form bodies, one token."""

    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.base = emulator.base_url("neverbounce_v3") + "/v3/"
        self.secret = emulator.api_key
        self.token = ""

    def token_response(self, auth=("apiuser1", None), **data) -> requests.Response:
        data.setdefault("grant_type", "client_credentials")
        data.setdefault("scope", "basic user")
        user, secret = auth if auth else (None, None)
        return requests.post(self.base + "access_token", data=data, auth=(user, secret or self.secret) if auth else None, timeout=10)

    def login(self) -> str:
        response = self.token_response()
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self.token

    def post(self, endpoint: str, **data) -> requests.Response:
        data.setdefault("access_token", self.token)
        return requests.post(self.base + endpoint, data=data, timeout=30)

    def ok(self, endpoint: str, **data) -> dict:
        response = self.post(endpoint, **data)
        assert response.status_code == 200, response.text
        body = json.loads(response.text)
        assert body["success"] is True, body
        assert isinstance(body["execution_time"], float)
        return body

    def fail(self, endpoint: str, **data) -> dict:
        response = self.post(endpoint, **data)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["success"] is False, body
        return body

    def bulk(self, text: str = SUPPLIED, **data) -> int:
        body = self.ok("bulk", input_location=1, input=text, **data)
        assert body["job_status"] == 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\d\.api_job\.\d+\.[0-9a-f]{13}\.csv", body["job_file"])
        return body["job_id"]

    def wait(self, job_id: int, *codes: str, timeout: float = 15, **extra) -> dict:
        wanted = codes or ("4", "5")
        deadline = time.monotonic() + timeout
        while True:
            body = self.ok("status", job_id=job_id, **extra)
            if body["status"] in wanted:
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.02)


@pytest.fixture
def v3(fast_emulator):
    client = V3(fast_emulator)
    client.login()
    return client


# -- tokens ------------------------------------------------------------------------------------------------


def test_access_token_success_shape(v3):
    response = v3.token_response(auth=("anyname", None))
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{40}", body["access_token"])
    assert body == {"access_token": body["access_token"], "expires_in": 3600, "token_type": "Bearer", "scope": "basic user"}
    assert v3.token_response(scope="basic user web").status_code == 200  # what the v3 PHP SDK sends


@pytest.mark.parametrize(
    ("auth", "data", "error", "description"),
    [
        (("u", None), {"grant_type": ""}, "invalid_request", "The grant type was not specified in the request"),
        (("u", None), {"grant_type": "password"}, "unsupported_grant_type", 'Grant type "password" not supported'),
        (("u", "wrong-secret"), {}, "invalid_client", "The client credentials are invalid"),
        (None, {}, "invalid_client", "Client credentials were not found in the headers or body"),
        (("u", None), {"scope": ""}, "invalid_request", "The scope was not specified in the request"),
        (("u", None), {"scope": "basic admin"}, "invalid_scope", "An unsupported scope was requested"),
    ],
)
def test_access_token_oauth_errors(v3, auth, data, error, description):
    response = v3.token_response(auth=auth, **data)
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_oauth_error_status_switch(v3, emulator):
    emulator.set_option("neverbounce_v3", oauth_error_status=401)
    assert v3.token_response(auth=("u", "nope")).status_code == 401


def test_token_expires(v3, emulator):
    emulator.set_option("neverbounce_v3", token_ttl=1)
    token = v3.login()
    assert v3.token_response().json()["expires_in"] == 1
    assert v3.ok("account", access_token=token)["success"] is True
    time.sleep(1.1)
    assert v3.fail("account", access_token=token) == {"success": False, "msg": "Authentication failed"}
    v3.login()
    assert v3.ok("account")["success"] is True


def test_missing_or_unknown_token(v3):
    assert v3.fail("account", access_token="")["msg"] == "Authentication failed"
    assert v3.fail("single", access_token="0" * 40, email="a@b.com")["msg"] == "Authentication failed"


def test_only_form_bodies_are_read(v3):
    as_json = requests.post(v3.base + "account", json={"access_token": v3.token}, timeout=10).json()
    in_query = requests.post(v3.base + "account", params={"access_token": v3.token}, timeout=10).json()
    assert as_json == in_query == {"success": False, "msg": "Authentication failed"}


def test_post_only(v3):
    assert requests.get(v3.base + "account", params={"access_token": v3.token}, timeout=10).status_code == 405
    assert requests.get(v3.base + "access_token", timeout=10).status_code == 405


# -- account, single -----------------------------------------------------------------------------------------


def test_account_numbers_are_strings(v3):
    body = v3.ok("account")
    assert body["credits"] == "1000000" and body["jobs_completed"] == "0" and body["jobs_processing"] == "0"
    v3.wait(v3.bulk())
    assert v3.ok("account")["jobs_completed"] == "1"


@pytest.mark.parametrize(
    ("email", "result", "details"),
    [
        ("a@example.com", 0, 0),
        ("a@nowhere.invalid", 1, 0),
        ("x@mailinator.com", 2, 0),
        ("x@catchall.test", 3, 0),
        ("x@unknown.test", 4, 0),
        ("not an email", 1, 1),
    ],
)
def test_single_integer_codes(v3, email, result, details):
    body = v3.ok("single", email=email)
    assert (body["result"], body["result_details"]) == (result, details)
    assert set(body) == {"success", "result", "result_details", "execution_time"}


def test_single_credits_and_errors(v3, emulator):
    assert v3.fail("single") == {"success": False, "msg": "Missing required parameter 'email'"}
    v3.ok("single", email="a@example.com")
    assert emulator.stats()["credits_spent"][emulator.api_key] == 1
    emulator.set_credits(0)
    body = v3.fail("single", email="a@example.com")
    assert body["error_code"] == 4 and body["error_msg"].startswith("Insufficient credit balance.")
    assert isinstance(body["execution_time"], float)


# -- bulk jobs ----------------------------------------------------------------------------------------------


def test_bulk_supplied_status_download(v3, emulator):
    job_id = v3.bulk(filename="my list")
    done = v3.wait(job_id)
    assert done["id"] == str(job_id) and done["status"] == "4" and done["type"] == "1" and done["input_location"] == "1"
    assert done["orig_name"] == "my list"
    assert done["stats"] == {
        "total": 6, "processed": 6, "valid": 2, "invalid": 1, "catchall": 1, "disposable": 1, "unknown": 1,
        "duplicates": 1, "bad_syntax": 0, "billable": 5, "job_time": 0,
    }
    details = json.loads(done["file_details"])
    assert details["email_col_i"] == 0 and details["has_header"] is False and details["tot_records"] == 6
    assert "job_details" not in done
    assert all(done[key] for key in ("created", "started", "finished", "indexing_started", "indexing_finished"))
    assert done["analysis_started"] is None
    assert emulator.stats()["credits_spent"][emulator.api_key] == 5
    response = v3.post("download", job_id=job_id)
    assert response.status_code == 200
    assert response.text == (
        "support@neverbounce.com,valid\ninvalid@neverbounce.com,invalid\nx@catchall.test,catchall\n"
        "x@mailinator.com,disposable\nunknown@example.com,unknown\nsupport@neverbounce.com,valid\n"
    )


def test_download_filters_and_textcodes(v3):
    job_id = v3.bulk()
    v3.wait(job_id)
    assert v3.post("download", job_id=job_id, valids=1).text == "support@neverbounce.com,valid\n"
    assert v3.post("download", job_id=job_id, valids=1, duplicates=1).text.count("support@") == 2
    assert v3.post("download", job_id=job_id, catchall=1, disposable=1).text == "x@catchall.test,catchall\nx@mailinator.com,disposable\n"
    # the v3 PHP SDK's misspelling ``unknown`` is no filter: its unknowns are dropped
    assert "unknown@" not in v3.post("download", job_id=job_id, valids=1, invalids=1, unknown=1).text
    assert v3.post("download", job_id=job_id, unknown=1).text.count("\n") == 6  # as if no filter at all
    assert v3.post("download", job_id=job_id, unknowns=1, textcodes=0).text == "unknown@example.com,4\n"


def test_bulk_csv_with_header(v3):
    job_id = v3.bulk('id,email,name\n1,a@example.com,"Smith, Ann"\n2,b@nowhere.invalid,Bob\n')
    done = v3.wait(job_id)
    assert json.loads(done["file_details"])["has_header"] is True
    assert json.loads(done["file_details"])["email_col_i"] == 1
    assert v3.post("download", job_id=job_id).text == 'id,email,name,result\n1,a@example.com,"Smith, Ann",valid\n2,b@nowhere.invalid,Bob,invalid\n'


def test_bulk_sample_then_start_job(v3, emulator):
    rows = "".join(f"{'invalid' if index % 2 else 'user'}{index}@example.com\n" for index in range(40))
    job_id = v3.bulk(rows, run_sample=1)
    sampled = v3.wait(job_id, "2", version="3.1")
    assert sampled["job_details"]["sample_status"] == 3
    assert sampled["job_details"]["sample_details"]["sample_size"] == 4
    assert sampled["job_details"]["sample_details"]["bounce_estimate"] == 0.5
    assert sampled["analysis_finished"] is not None and sampled["started"] is None
    assert emulator.stats()["credits_spent"] == {}
    assert v3.ok("start_job", job_id=job_id) == {"success": True, "execution_time": pytest.approx(0, abs=1)}
    assert v3.wait(job_id)["status"] == "4"
    assert emulator.stats()["credits_spent"][emulator.api_key] == 40
    assert v3.fail("start_job", job_id=job_id)["error_code"] == 3


def test_bulk_without_credits_fails_job(v3, emulator):
    emulator.set_credits(2)
    assert v3.wait(v3.bulk())["status"] == "5"


def test_bulk_errors(v3):
    assert v3.fail("bulk", input="a@b.com") == {"success": False, "msg": "Missing required parameter 'input_location'"}
    assert v3.fail("bulk", input_location=1) == {"success": False, "msg": "Missing required parameter 'input'"}
    assert v3.fail("bulk", input_location=7, input="a@b.com")["error_code"] == 2


def test_bulk_content_type_switch(v3, emulator):
    emulator.set_option("neverbounce_v3", bulk_content_type="text/html")
    response = v3.post("bulk", input_location=1, input="a@example.com\n")
    assert response.headers["content-type"].startswith("text/html")
    assert json.loads(response.text)["success"] is True


def test_bulk_remote_url(v3):
    with LocalServer() as files:
        files.files["/list.txt"] = b"a@example.com\nb@example.com\n"
        job_id = v3.ok("bulk", input_location=0, input=files.url + "/list.txt")["job_id"]
        done = v3.wait(job_id)
    assert done["input_location"] == "0" and done["stats"]["valid"] == 2
    failed = v3.ok("bulk", input_location=0, input="http://example.org/list.csv")["job_id"]
    assert v3.wait(failed)["status"] == "5"


def test_status_and_unknown_jobs(v3):
    assert v3.fail("status") == {"success": False, "msg": "Missing required parameter 'job_id'"}
    body = v3.fail("status", job_id=424242)
    assert body["error_code"] == 3 and body["error_msg"] == "The job could not be found"
    assert v3.fail("download", job_id="abc")["error_code"] == 3


def test_progress_and_delete_rules(v3, emulator):
    emulator.set_faults(rows_per_second=1e6)
    job_id = v3.bulk("".join(f"user{index}@example.com\n" for index in range(400)), run_sample=1)
    v3.wait(job_id, "2")
    emulator.set_faults(rows_per_second=200)
    v3.ok("start_job", job_id=job_id)
    running = v3.ok("status", job_id=job_id)
    assert running["status"] == "3"
    assert v3.fail("download", job_id=job_id)["error_code"] == 3
    body = v3.fail("delete_user_job", job_id=job_id)
    assert body["error_code"] == 3 and "cannot be deleted" in body["error_msg"]
    emulator.set_faults(rows_per_second=1e6)
    v3.wait(job_id)
    assert v3.ok("delete_user_job", job_id=job_id)["job_id"] == job_id
    assert v3.fail("status", job_id=job_id)["error_code"] == 3


def test_list_user_jobs(v3):
    first = v3.bulk()
    second = v3.bulk("a@example.com\n")
    v3.wait(first)
    v3.wait(second)
    jobs = v3.ok("list_user_jobs")["jobs"]
    assert [job["id"] for job in jobs] == [str(second), str(first)]
    job = jobs[1]
    assert job["purchased"] == "1" and job["status"] == "4" and job["user_id"].isdigit()
    assert job["stats"]["percent_complete"] == 100 and job["stats"]["t"] == 6 and job["stats"]["g"] == 2
    assert json.loads(job["callback_details"]) == {"callback_url": "", "callback_params": ""}
    assert json.loads(job["file_details"])["tot_records"] == 6
    assert job["active_runners"] is None


def test_v3_and_v4_share_jobs(v3, emulator):
    job_id = v3.bulk()
    v3.wait(job_id)
    v4 = requests.get(emulator.base_url("neverbounce") + "/v4.2/jobs/status", params={"key": emulator.api_key, "job_id": job_id}, timeout=10).json()
    assert v4["job_status"] == "complete"


def test_stats_under_neverbounce_v3(v3, emulator):
    v3.wait(v3.bulk())
    stats = emulator.stats()
    assert stats["requests"]["neverbounce_v3"]["/v3/access_token"] == 1
    assert stats["requests"]["neverbounce_v3"]["/v3/bulk"] == 1
    assert stats["requests"]["neverbounce_v3"]["/v3/status"] >= 1
    assert "neverbounce" not in stats["requests"]
    assert stats["jobs_created"] == {"neverbounce_v3": 1}


def test_v3_faults(v3, emulator):
    emulator.set_faults(throttle_rate=1.0)
    throttled = v3.post("account")
    assert throttled.status_code == 429 and throttled.headers["retry-after"]
    emulator.set_faults(throttle_rate=0.0, error_rate=1.0)
    failed = v3.post("account")
    assert failed.status_code in (502, 503)
    with pytest.raises(ValueError):
        json.loads(failed.text)
    emulator.set_faults(error_rate=0.0, latency_ms=150)
    started = time.monotonic()
    v3.ok("account")
    assert time.monotonic() - started >= 0.15


def test_v3_disconnect_mid_download(v3, emulator):
    job_id = v3.bulk("".join(f"user{index}@example.com,{'x' * 40}\n" for index in range(10_000)))
    v3.wait(job_id)
    emulator.set_faults(disconnect_rate=1.0, seed=5)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        v3.post("download", job_id=job_id).content  # noqa: B018
    emulator.set_faults(disconnect_rate=0.0)
    assert v3.post("download", job_id=job_id).text.count("\n") == 10_000
    wait_for(lambda: emulator.stats()["faults"].get("disconnect") == 1)
