# Licensed under the Apache License, Version 2.0.
"""Fixtures shared by the vendor client tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def client(request, emulator):
    """
    The client of the requesting test module, from its ``make_client(emulator)``, with rows
    verified at once; closed after the test.
    """
    emulator.set_faults(rows_per_second=1_000_000)
    made = request.module.make_client(emulator)
    yield made
    made.close()
