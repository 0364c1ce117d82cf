# Licensed under the Apache License, Version 2.0.
"""
The official NeverBounce Python SDK (``neverbounce-sdk``), unchanged, against the emulator.

The SDK builds every URL from the module-level ``neverbounce_sdk.utils.API_ROOT``; pointing that at
the emulator is the only change. It exercises its own encodings: GET with the key in the query
string, POST with a JSON body, exact Content-Type checks on downloads, paginated iterators that
stop at the first empty page.
"""

from __future__ import annotations

import io
import time

import neverbounce_sdk
import pytest

ROWS = [
    {"id": "12345", "email": "support@neverbounce.com", "name": "Fred McValid"},
    {"id": "12346", "email": "invalid@neverbounce.com", "name": "Bob McInvalid"},
    {"id": "12347", "email": "someone@catchall.test", "name": "Cat"},
]


@pytest.fixture
def sdk(fast_emulator, monkeypatch):
    monkeypatch.setattr(neverbounce_sdk.utils, "API_ROOT", fast_emulator.base_url("neverbounce"))
    with neverbounce_sdk.client(api_key=fast_emulator.api_key, timeout=30) as client:
        yield client


def wait_status(client, job_id, wanted, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        status = client.jobs_status(job_id)
        if status["job_status"] == wanted:
            return status
        assert status["job_status"] != "failed", status
        assert time.monotonic() < deadline, status
        time.sleep(0.02)


def test_sdk_full_flow(sdk, emulator):
    info = sdk.account_info()
    assert info["credits_info"]["paid_credits_remaining"] == 1_000_000

    check = sdk.single_check("support@neverbounce.com", address_info=True, credits_info=True)
    assert check["result"] == "valid"
    assert "role_account" in check["flags"]
    assert check["address_info"]["host"] == "neverbounce.com"
    assert check["credits_info"]["paid_credits_remaining"] == 999_999

    created = sdk.jobs_create(ROWS, filename="sdk.csv")
    job_id = created["job_id"]
    assert sdk.jobs_status(job_id)["job_status"] == "waiting"
    parsed = sdk.jobs_parse(job_id)
    assert parsed["queue_id"].startswith("NB-PQ-")
    wait_status(sdk, job_id, "waiting")
    assert sdk.jobs_start(job_id)["status"] == "success"
    status = wait_status(sdk, job_id, "complete")
    assert status["total"]["records"] == 3 and status["total"]["invalid"] == 1

    results = list(sdk.jobs_results(job_id, items_per_page=2))
    assert [item["data"]["id"] for item in results] == ["12345", "12346", "12347"]
    assert [item["verification"]["result"] for item in results] == ["valid", "invalid", "catchall"]

    out = io.BytesIO()
    sdk.jobs_download(job_id, out, segmentation=("valids", "invalids", "catchalls", "unknowns"), appends=("email_status", "role_account"))
    assert out.getvalue().decode().split("\n")[:-1] == [
        "id,email,name,role_account,email_status",
        '"12345","support@neverbounce.com","Fred McValid",1,valid',
        '"12346","invalid@neverbounce.com","Bob McInvalid",0,invalid',
        '"12347","someone@catchall.test","Cat",0,catchall',
    ]

    found = list(sdk.jobs_search(filename="sdk.csv"))
    assert [job["id"] for job in found] == [job_id]
    assert next(iter(sdk.jobs_search(job_status="complete", items_per_page=1)))["id"] == job_id

    assert sdk.jobs_delete(job_id)["status"] == "success"
    assert list(sdk.jobs_search()) == []
    stats = emulator.stats()
    assert stats["jobs_created"] == {"neverbounce": 1}
    assert stats["credits_spent"][emulator.api_key] == 4


def test_sdk_auto_start_and_remote_style_flags(sdk):
    job_id = sdk.jobs_create(ROWS, auto_parse=True, auto_start=True, historical_data=False)["job_id"]
    wait_status(sdk, job_id, "complete")
    sample = sdk.jobs_create(ROWS, auto_parse=True, as_sample=True)["job_id"]
    assert wait_status(sdk, sample, "waiting_analyzed")["bounce_estimate"] >= 0


def test_sdk_exceptions(sdk, emulator):
    with neverbounce_sdk.client(api_key="secret_wrong") as bad, pytest.raises(neverbounce_sdk.AuthFailure):
        bad.account_info()
    with pytest.raises(neverbounce_sdk.GeneralException, match="could not be found"):
        sdk.jobs_status(424242)
    job_id = sdk.jobs_create(ROWS)["job_id"]
    with pytest.raises(neverbounce_sdk.GeneralException, match="not in a state which can be downloaded"):
        sdk.jobs_download(job_id, io.BytesIO())
    emulator.set_faults(throttle_rate=1.0)
    with pytest.raises(neverbounce_sdk.ThrottleTriggered):
        sdk.single_check("a@example.com")
    emulator.set_faults(throttle_rate=0.0)
    emulator.set_credits(0)
    with pytest.raises(neverbounce_sdk.GeneralException, match="Insufficient credit balance"):
        sdk.single_check("a@example.com")
