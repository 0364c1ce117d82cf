# Licensed under the Apache License, Version 2.0.
"""The NeverBounce v4 emulator over real HTTP, checked against specs/neverbounce.md."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.emulator.neverbounce_helpers import ROWS


# -- transport, encodings, envelope -------------------------------------------------------------------


def test_account_info_paid_shape_exact_content_type(nb):
    response = nb.get("account/info")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "success" and isinstance(body["execution_time"], int)
    assert body["credits_info"] == {
        "paid_credits_used": 0,
        "free_credits_used": 0,
        "paid_credits_remaining": 1_000_000,
        "free_credits_remaining": 0,
    }
    assert body["job_counts"] == {"completed": 0, "under_review": 0, "queued": 0, "processing": 0}


def test_account_info_monthly_shape_switch(nb, emulator):
    emulator.set_option("neverbounce", credits_info_shape="monthly")
    nb.ok("single/check", email="a@example.com")
    assert nb.ok("account/info")["credits_info"] == {
        "free_credits_used": 1,
        "free_credits_remaining": 999_999,
        "monthly_api_usage": 1,
    }


@pytest.mark.parametrize("version", ["v4", "v4.1", "v4.2"])
def test_every_version_served(nb, version):
    assert nb.ok("account/info", version)["status"] == "success"


def test_missing_key_is_general_failure(nb):
    response = requests.get(nb.url("account/info"), timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "general_failure"
    assert response.json()["message"] == "Missing required parameter 'key'"


def test_bad_key_is_auth_failure(nb, emulator):
    body = requests.get(nb.url("single/check"), params={"key": "secret_wrong", "email": "a@b.com"}, timeout=10).json()
    assert body["status"] == "auth_failure"
    assert body["message"] == "The key provided is invalid"
    emulator.set_option("neverbounce", auth_failure_echo_key=True)
    body = requests.get(nb.url("account/info"), params={"key": "adsfad"}, timeout=10).json()
    assert body == {"status": "auth_failure", "message": "Invalid API key 'adsfad'", "execution_time": body["execution_time"]}


def test_get_post_query_form_json_are_interchangeable(nb):
    email = "info@gmail.com"
    url = nb.url("single/check")
    answers = [
        requests.get(url, params={"key": nb.key, "email": email}, timeout=10),
        requests.post(url, data={"key": nb.key, "email": email}, timeout=10),
        requests.post(url, json={"key": nb.key, "email": email}, timeout=10),
        requests.get(url, json={"key": nb.key, "email": email}, timeout=10),  # GET with a JSON body
        requests.post(url, params={"key": nb.key}, json={"email": email}, timeout=10),  # Python SDK style
        requests.post(url, params={"key": nb.key, "email": "x@y.com"}, data={"email": email}, timeout=10),  # body wins
    ]
    results = [response.json() for response in answers]
    assert all(body["status"] == "success" for body in results), results
    assert {body["result"] for body in results} == {"valid"}
    assert all({"free_email_host", "role_account"} <= set(body["flags"]) for body in results)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"key": "emulator-key", "email": "a@b.com"}', "application/x-www-form-urlencoded"),
        ('{"key": "emulator-key", "email": "a@b.com"}', None),
        ("key=emulator-key&email=a%40b.com", "application/json"),
    ],
)
def test_body_not_matching_content_type_is_not_seen(nb, data, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(nb.url("single/check"), data=data, headers=headers, timeout=10)
    assert response.json()["status"] == "general_failure"
    assert response.json()["message"] == "Missing required parameter 'key'"


@pytest.mark.parametrize("spelling", [1, "1", True, "true", "TRUE"])
def test_true_spellings(nb, spelling):
    body = nb.ok("single/check", email="a@example.com", address_info=spelling)
    assert body["address_info"]["host"] == "example.com"


@pytest.mark.parametrize("spelling", [0, "0", False, "false"])
def test_false_spellings(nb, spelling):
    assert "address_info" not in nb.ok("single/check", email="a@example.com", address_info=spelling)


def test_form_booleans_and_bad_boolean(nb):
    response = requests.post(nb.url("single/check"), data={"key": nb.key, "email": "a@b.com", "credits_info": "true"}, timeout=10)
    assert "credits_info" in response.json()
    body = nb.error("single/check", email="a@b.com", address_info="maybe")
    assert body == {"status": "general_failure", "message": "Invalid value for parameter 'address_info'", "execution_time": body["execution_time"]}


def test_bracket_notation_meta_data_and_flags(nb, emulator):
    emulator.set_option("neverbounce", historical_flag=True)
    url = nb.url("single/check", "v4.1")
    on = requests.get(url, params={"key": nb.key, "email": "a@example.com"}, timeout=10).json()
    off = requests.get(
        url, params={"key": nb.key, "email": "a@example.com", "request_meta_data[leverage_historical_data]": "0"}, timeout=10
    ).json()
    java = requests.post(url, json={"key": nb.key, "email": "a@example.com", "request_meta_data[leverage_historical_data]": 0}, timeout=10).json()
    nested = requests.post(url, json={"key": nb.key, "email": "a@example.com", "request_meta_data": {"leverage_historical_data": 0}}, timeout=10).json()
    assert "historical_response" in on["flags"]
    assert all("historical_response" not in body["flags"] for body in (off, java, nested))
    v40 = nb.ok("single/check", "v4", email="a@example.com")
    assert "historical_response" not in v40["flags"]


def test_unsupported_verbs(nb):
    assert requests.put(nb.url("account/info"), params={"key": nb.key}, timeout=10).status_code == 405
    assert requests.delete(nb.url("jobs/delete"), params={"key": nb.key}, timeout=10).status_code == 405
    assert requests.head(nb.url("account/info"), params={"key": nb.key}, timeout=10).status_code == 405


def test_unknown_path_is_404(nb):
    assert requests.get(nb.url("jobs/nothing"), params={"key": nb.key}, timeout=10).status_code == 404


def test_payload_over_25_mb_is_413(nb):
    filler = "x" * 1000
    rows = [[f"user{index}@example.com", filler] for index in range(26_500)]
    response = requests.post(nb.url("jobs/create"), json={"key": nb.key, "input_location": "supplied", "input": rows}, timeout=60)
    assert response.status_code == 413
    assert "413 Request Entity Too Large" in response.text
    form = requests.post(nb.url("jobs/create"), data={"key": nb.key, "input_location": "supplied", "input[0][0]": "a" * (26 * 1024 * 1024)}, timeout=60)
    assert form.status_code == 413
    assert nb.ok("jobs/search")["total_results"] == 0


def test_payload_limit_switch(nb, emulator):
    emulator.set_option("neverbounce", max_payload_bytes=1000)
    rows = [[f"user{index}@example.com"] for index in range(100)]
    assert nb.post("jobs/create", input_location="supplied", input=rows).status_code == 413
    assert nb.post("jobs/create", input_location="supplied", input=rows[:5]).status_code == 200


# -- single/check ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "result", "present", "absent"),
    [
        ("someone@example.com", "valid", {"has_dns", "has_dns_mx", "smtp_connectable"}, {"bad_syntax", "free_email_host"}),
        ("a@nowhere.invalid", "invalid", {"bad_dns"}, {"has_dns", "smtp_connectable"}),
        ("bounce.me@example.com", "invalid", {"has_dns", "has_dns_mx"}, {"bad_dns"}),
        ("x@catchall.test", "catchall", {"accepts_all", "smtp_connectable"}, set()),
        ("x@mailinator.com", "disposable", {"disposable_email"}, {"accepts_all"}),
        ("x@unknown.test", "unknown", {"connect_fails", "has_dns"}, {"smtp_connectable"}),
        ("not an email", "invalid", {"bad_syntax"}, {"has_dns"}),
        ("friend@yahoo.com", "valid", {"free_email_host"}, {"role_account"}),
        ("admin@example.com", "valid", {"role_account"}, {"free_email_host"}),
        ("a+tag@mail.example.com", "valid", {"contains_alias", "contains_subdomain"}, set()),
        ("dean@school.edu", "valid", {"academic_host"}, {"acedemic_host"}),
        ("spamtrap1@example.com", "valid", {"spamtrap_network"}, set()),
    ],
)
def test_single_check_verdicts_and_flags(nb, email, result, present, absent):
    body = nb.ok("single/check", email=email)
    assert body["result"] == result
    assert present <= set(body["flags"]), body["flags"]
    assert not absent & set(body["flags"]), body["flags"]
    assert body["suggested_correction"] == "" and body["retry_token"] == ""
    assert set(body) == {"status", "result", "flags", "suggested_correction", "retry_token", "execution_time"}


def test_single_check_suggestion_and_address_info(nb):
    body = nb.ok("single/check", email="Fortunadze+1@gmial.com", address_info=1)
    assert body["suggested_correction"] == "Fortunadze+1@gmail.com"
    assert "spelling_mistake" in body["flags"]
    assert body["address_info"] == {
        "original_email": "Fortunadze+1@gmial.com",
        "normalized_email": "fortunadze@gmial.com",
        "addr": "Fortunadze",
        "alias": "1",
        "host": "gmial.com",
        "fqdn": "gmial.com",
        "domain": "gmial",
        "subdomain": "",
        "tld": "com",
    }
    parts = nb.ok("single/check", email="a@zone-1.site.example.co.uk", address_info=1)["address_info"]
    assert (parts["fqdn"], parts["domain"], parts["subdomain"], parts["tld"]) == ("example.co.uk", "example", "zone-1.site", "co.uk")
    bad = nb.ok("single/check", email="email", address_info=1)["address_info"]
    assert bad["original_email"] == "email" and all(bad[key] == "" for key in bad if key != "original_email")


def test_acedemic_flag_before_v42(nb):
    assert "acedemic_host" in nb.ok("single/check", "v4.1", email="dean@school.edu")["flags"]


def test_single_check_charges_one_credit_even_for_bad_syntax(nb, emulator):
    body = nb.ok("single/check", email="nope", credits_info=1)
    assert body["credits_info"]["paid_credits_used"] == 1
    assert body["credits_info"]["paid_credits_remaining"] == 999_999
    nb.ok("single/check", email="a@example.com")
    assert emulator.stats()["credits_spent"][emulator.api_key] == 2


def test_single_check_without_credits(nb, emulator):
    emulator.set_credits(0)
    body = nb.error("single/check", email="a@example.com")
    assert body["status"] == "general_failure"
    assert body["message"] == (
        "Insufficient credit balance. This transaction requires 1 credits. The current available credit balance is 0."
    )


def test_single_check_missing_email(nb):
    assert nb.error("single/check")["message"] == "Missing required parameter 'email'"


def test_single_check_timeout_budget(nb, emulator):
    emulator.set_option("neverbounce", single_check_seconds=0.3)
    started = time.monotonic()
    assert nb.ok("single/check", email="a@example.com", timeout=0)["result"] == "unknown"
    assert nb.ok("single/check", email="a@example.com", timeout=5)["result"] == "valid"
    assert time.monotonic() - started >= 0.3


# -- faults and stats ----------------------------------------------------------------------------------------


def test_error_faults_are_non_json_5xx(nb, emulator):
    emulator.set_faults(error_rate=1.0, seed=3)
    answers = [nb.get("account/info") for _ in range(12)]
    assert {response.status_code for response in answers} == {502, 503}
    for response in answers:
        assert response.headers["content-type"] != "application/json"
        with pytest.raises(ValueError):
            json.loads(response.text)
    assert emulator.stats()["faults"]["error"] == 12
    emulator.set_faults(error_rate=0.0)
    emulator.set_option("neverbounce", error_style="temp_unavail")
    emulator.set_faults(error_rate=1.0)
    body = nb.get("account/info").json()
    assert body["status"] == "temp_unavail" and body["message"] == "Unable to communicate with backend services"


def test_throttle_fault_is_http_200_throttle_triggered(nb, emulator):
    emulator.set_faults(throttle_rate=1.0)
    response = nb.get("single/check", email="a@example.com")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "throttle_triggered"
    assert body["message"] == "Too many requests in a short amount of time"
    assert "retry-after" not in response.headers
    assert emulator.stats()["credits_spent"] == {}  # throttled calls are not billed


def test_disconnect_mid_download(nb, emulator):
    job_id = nb.create([[f"user{index}@example.com", "padding" * 10] for index in range(20_000)])
    nb.wait(job_id)
    emulator.set_faults(disconnect_rate=1.0, seed=11)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        nb.download(job_id).content  # noqa: B018
    emulator.set_faults(disconnect_rate=0.0)
    assert len(nb.csv_lines(job_id)) == 20_000
    assert emulator.stats()["faults"]["disconnect"] == 1


def test_latency(nb, emulator):
    emulator.set_faults(latency_ms=250)
    started = time.monotonic()
    nb.ok("account/info")
    assert time.monotonic() - started >= 0.25


def test_seed_makes_faults_repeatable(nb, emulator):
    def pattern():
        return [nb.get("account/info").status_code for _ in range(30)]

    emulator.set_faults(error_rate=0.5, seed=42)
    first = pattern()
    emulator.set_faults(seed=42)
    second = pattern()
    assert first == second
    assert 200 in first and any(code >= 500 for code in first)


def test_stats_count_requests_and_jobs(nb, emulator):
    nb.ok("account/info", "v4")
    nb.get("account/info", "v4.2")
    nb.wait(nb.create(ROWS))
    stats = emulator.stats()
    assert stats["requests"]["neverbounce"]["/v4/account/info"] == 1
    assert stats["requests"]["neverbounce"]["/v4.2/account/info"] == 1
    assert stats["requests"]["neverbounce"]["/v4.2/jobs/create"] == 1
    assert stats["jobs_created"] == {"neverbounce": 1}
    assert stats["credits_spent"] == {emulator.api_key: 5}
    assert nb.ok("account/info")["credits_info"]["paid_credits_used"] == 5
    assert nb.ok("account/info")["job_counts"]["completed"] == 1
