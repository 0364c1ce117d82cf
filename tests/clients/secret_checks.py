# Licensed under the Apache License, Version 2.0.
"""Helpers of the key-leak tests: every log record and every raised error, scanned for secrets."""

from __future__ import annotations

import logging
import traceback
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The emulator stands in for the vendor's server: its own access logs are not the client's.
SERVER_LOGGERS = ("uvicorn", "airflow_provider_emailverify.emulator")
#: A key no emulator accepts, for the "wrong key" scenarios.
BAD_KEY = "sekrit-bad-key-8c1f"


def leaks_in_logs(caplog: Any, secrets: list[str]) -> list[str]:
    """Log records (outside the emulator) whose text holds a secret."""
    found = []
    for record in caplog.records:
        if record.name.startswith(SERVER_LOGGERS):
            continue
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        if any(secret in text for secret in secrets):
            found.append(f"{record.name}: {text[:300]}")
    return found


def error_text(err: BaseException) -> str:
    """Everything an error shows: its text, repr, vendor message and the traceback Airflow would log."""
    return " | ".join(
        [str(err), repr(err), str(getattr(err, "vendor_message", "") or ""), "".join(traceback.format_exception(err))]
    )


@contextmanager
def no_secret_escapes(caplog: Any, secrets: list[str]) -> Iterator[list[BaseException]]:
    """Collect DEBUG logs of everything; afterwards assert no record and no collected error holds a secret."""
    errors: list[BaseException] = []
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "httpx", "httpcore", "airflow_provider_emailverify"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield errors
    leaks = leaks_in_logs(caplog, secrets)
    assert not leaks, f"secret in log records: {leaks}"
    for err in errors:
        text = error_text(err)
        assert not any(secret in text for secret in secrets), text[:500]
    assert caplog.records, "nothing was logged: the scenario did not exercise logging"
