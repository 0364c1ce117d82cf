# Licensed under the Apache License, Version 2.0.
"""Fixtures shared by the vendor emulator tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle
    from tests.emulator.neverbounce_helpers import NB
    from tests.emulator.polling import VendorClient

#: jobs finish almost at once; tests that watch a job progress slow it down themselves
FAST_ROWS_PER_SECOND = 1_000_000


@pytest.fixture
def fast_emulator(emulator: EmulatorHandle) -> EmulatorHandle:
    """The session's emulator, reset, verifying :data:`FAST_ROWS_PER_SECOND` rows a second."""
    emulator.set_faults(rows_per_second=FAST_ROWS_PER_SECOND)
    return emulator


@pytest.fixture
def nb(fast_emulator: EmulatorHandle) -> NB:
    """The NeverBounce v4.2 API of the fast emulator, spoken with plain ``requests``."""
    from tests.emulator.neverbounce_helpers import NB

    return NB(fast_emulator)


@pytest.fixture
def vendor_client(fast_emulator: EmulatorHandle) -> Iterator[Callable[..., Any]]:
    """
    Make a thin vendor test client on the fast emulator: ``vendor_client(Bouncer, queue_seconds=0.0)``.

    The keyword arguments are the client's vendor switches (set first); each client's HTTP
    session is closed after the test.
    """
    clients: list[VendorClient] = []

    def make(cls: type[VendorClient], **switches: Any) -> Any:
        fast_emulator.set_option(cls.vendor, **switches)
        client = cls(fast_emulator)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.session.close()
