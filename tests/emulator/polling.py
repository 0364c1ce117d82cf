# Licensed under the Apache License, Version 2.0.
"""Polling for the vendor emulator tests (jobs progress in real time)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def wait_for(check: Callable[[], Any], timeout: float = 20) -> Any:
    """Poll ``check`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")
