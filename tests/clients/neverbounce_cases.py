# Licensed under the Apache License, Version 2.0.
"""The emulator's deterministic verdicts (DESIGN.md) as NeverBounce's neutral rows, and test helpers."""

from __future__ import annotations

from functools import partial
from typing import Any

from airflow_provider_emailverify.clients.base import RetryPolicy
from tests.clients.vendor_cases import wait_for as poll_until_terminal

#: Small backoffs so fault tests run fast.
FAST_RETRY = RetryPolicy(attempts=10, initial=0.01, maximum=0.1)

#: address -> (status, vendor_status, is_disposable, is_role, is_free, is_catchall, is_syntax_error, suggestion)
VERDICTS: dict[str, tuple[Any, ...]] = {
    "ok@example.com": ("deliverable", "valid", False, False, False, False, False, None),
    "x@invalid.test": ("undeliverable", "invalid", False, False, False, False, False, None),
    "invalid.person@example.com": ("undeliverable", "invalid", False, False, False, False, False, None),
    "bounce7@example.com": ("undeliverable", "invalid", False, False, False, False, False, None),
    "x@catchall.test": ("risky", "catchall", False, False, False, True, False, None),
    "x@mailinator.com": ("risky", "disposable", True, False, False, False, False, None),
    "info@gmail.com": ("deliverable", "valid", False, True, True, False, False, None),
    "a@gmial.com": ("deliverable", "valid", False, False, False, False, False, "a@gmail.com"),
    "unknown1@x.com": ("unknown", "unknown", False, False, False, False, False, None),
    "y@unknown.test": ("unknown", "unknown", False, False, False, False, False, None),
    "bad syntax": ("undeliverable", "invalid", False, False, False, False, True, None),
}
FIELDS = (
    "status",
    "vendor_status",
    "is_disposable",
    "is_role",
    "is_free",
    "is_catchall",
    "is_syntax_error",
    "suggestion",
)

#: The verdicts as counts per neutral status.
COUNTS = {"deliverable": 3, "risky": 2, "undeliverable": 4, "unknown": 2}


def neutral(row: Any, *, fields: tuple[str, ...] = FIELDS) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in fields)


def expected(email: str, *, suggestion: bool = True, v3: bool = False) -> tuple[Any, ...]:
    """The expected neutral columns of ``email``; without suggestions (CSV download) or v3 flags."""
    status, vendor_status, disposable, role, free, catchall, syntax, hint = VERDICTS[email]
    if v3:
        role = free = syntax = None
    return (status, vendor_status, disposable, role, free, catchall, syntax, hint if suggestion else None)


def records() -> list[dict[str, Any]]:
    return [{"email": email, "id": str(index)} for index, email in enumerate(VERDICTS)]


#: Poll ``client.get_job`` until the job is terminal (``timeout``: 60 s unless given).
wait_for = partial(poll_until_terminal, timeout=60.0)
