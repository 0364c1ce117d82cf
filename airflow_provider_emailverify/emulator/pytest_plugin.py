# Licensed under the Apache License, Version 2.0.
"""
Pytest fixtures for testing DAGs and code against the emulator.

Put ``from airflow_provider_emailverify.emulator.pytest_plugin import emulator, emulator_server``
in a ``conftest.py`` (or ``pytest_plugins = ["airflow_provider_emailverify.emulator.pytest_plugin"]``).
``emulator`` yields an :class:`EmulatorHandle` reset before every test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_emailverify.emulator.core import DEFAULT_API_KEY
from airflow_provider_emailverify.emulator.server import EmulatorServer

if TYPE_CHECKING:
    from collections.abc import Iterator


class EmulatorHandle:
    """
    A running emulator as a test sees it.

    :param server: the running :class:`EmulatorServer`.
    """

    api_key = DEFAULT_API_KEY

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.state = server.state

    @property
    def url(self) -> str:
        return self.server.url

    def base_url(self, vendor: str) -> str:
        """Base URL for ``vendor`` (``neverbounce``, ``neverbounce_v3``, ``bouncer``, ``bouncify``, ``emailverifierapp``)."""
        return self.server.base_url(vendor)

    def set_faults(self, **config: Any) -> dict[str, Any]:
        """Change fault injection or speed, e.g. ``set_faults(error_rate=0.2, seed=1)``."""
        return self.state.configure(config)

    def set_option(self, vendor: str, **switches: Any) -> None:
        """Flip [ASSUMED] behaviour switches of one vendor module."""
        self.state.configure({"options": {vendor: switches}})

    def set_credits(self, credits: int, api_key: str = DEFAULT_API_KEY) -> None:
        self.state.set_credits(api_key, credits)

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def reset(self) -> None:
        self.state.reset()

    def connection_json(self, conn_type: str, *, password: str = DEFAULT_API_KEY, login: str | None = None) -> str:
        """An ``AIRFLOW_CONN_*`` value (JSON) pointing a connection of ``conn_type`` at this emulator."""
        import json

        conn: dict[str, Any] = {"conn_type": conn_type, "host": self.base_url(conn_type), "password": password}
        if login is not None:
            conn["login"] = login
        return json.dumps(conn)


_shared: EmulatorServer | None = None


def _shared_server() -> EmulatorServer:
    """One emulator per test process, started on first use and stopped at exit."""
    global _shared
    if _shared is None:
        import atexit

        _shared = EmulatorServer().start()
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture(scope="session")
def emulator_server() -> EmulatorServer:
    """The emulator shared by the whole session (started on a free loopback port)."""
    return _shared_server()


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """
    The session's emulator, reset before each test. Importing this fixture alone into a
    ``conftest.py`` is enough: it needs no other fixture.
    """
    server = _shared_server()
    server.state.reset()
    yield EmulatorHandle(server)
