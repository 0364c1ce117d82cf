# Licensed under the Apache License, Version 2.0.
"""The neutral model: verdicts mapped to statuses, rows built from vendor verdicts."""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.results import VENDOR_STATUS_MAP, VerificationResult, neutral_status


def test_the_same_verdict_maps_per_vendor_whichever_vendor_asked_first():
    # "valid" is NeverBounce's deliverable and no Bouncer verdict; "risky" is the reverse.
    asked = [("bouncer", "valid"), ("neverbounce", "valid"), ("neverbounce", "risky"), ("bouncer", "risky")]
    for order in (asked, asked[::-1]):
        assert {(vendor, verdict): neutral_status(vendor, verdict) for vendor, verdict in order} == {
            ("bouncer", "valid"): "unknown",
            ("neverbounce", "valid"): "deliverable",
            ("neverbounce", "risky"): "unknown",
            ("bouncer", "risky"): "risky",
        }


def test_verdicts_are_cleaned_and_the_disposable_rule_applies_on_every_call():
    assert [neutral_status("neverbounce", verdict) for verdict in (" Valid ", "VALID", "valid", None, "")] == [
        "deliverable",
        "deliverable",
        "deliverable",
        "unknown",
        "unknown",
    ]
    assert neutral_status("neverbounce", "Valid", is_disposable=True) == "risky"
    assert neutral_status("neverbounce", "Valid", is_disposable=False) == "deliverable"
    assert neutral_status("bouncify", "Accept All") == "risky"
    assert neutral_status("no-such-vendor", "valid") == "unknown"


def test_many_distinct_free_text_verdicts_still_map():
    verdicts = [f"free text {i}" for i in range(3000)]
    assert {neutral_status("emailverifierapp", verdict) for verdict in verdicts} == {"unknown"}
    assert neutral_status("emailverifierapp", " RISKY") == "risky"
    assert neutral_status("emailverifierapp", "valid", is_disposable=True) == "risky"


def test_rows_from_a_verdict_get_their_own_extra():
    first = VerificationResult.from_verdict("neverbounce", "a@b.com", "valid", "1")
    second = VerificationResult.from_verdict("neverbounce", "c@d.com", "valid", "1")
    first.extra["name"] = "A"
    assert second.extra == {}
    assert VerificationResult.from_vendor(vendor="bouncer", email="e@f.com", vendor_status=None).as_dict() == {
        "email": "e@f.com",
        "status": "unknown",
        "vendor_status": "",
        "reason": "",
        "is_disposable": None,
        "is_role": None,
        "is_free": None,
        "is_catchall": None,
        "is_syntax_error": None,
        "suggestion": None,
        "vendor": "bouncer",
        "job_id": None,
    }


def test_the_status_map_cannot_be_edited_at_run_time():
    # Mapped verdicts are cached, so an edit would silently apply to some rows only: it raises.
    assert neutral_status("bouncer", "risky") == "risky"
    with pytest.raises(TypeError):
        VENDOR_STATUS_MAP["bouncer"]["risky"] = "undeliverable"
    with pytest.raises(TypeError):
        VENDOR_STATUS_MAP["zerobounce"] = {"valid": "deliverable"}
    assert neutral_status("bouncer", "risky") == "risky"
    assert VENDOR_STATUS_MAP["neverbounce_v3"] == VENDOR_STATUS_MAP["neverbounce"]
