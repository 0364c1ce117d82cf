# Licensed under the Apache License, Version 2.0.
"""
Offline emulator of the NeverBounce (v3, v4, v4.1, v4.2), Bouncer, Bouncify and Email Verifier App
APIs: real HTTP, the vendors' paths, encodings, error bodies, job lifecycles and download formats,
deterministic verdicts, and a control plane for fault injection.

Run it with ``python -m airflow_provider_emailverify.emulator --host 127.0.0.1 --port 0``; use it
from pytest with ``from airflow_provider_emailverify.emulator.pytest_plugin import emulator``.
Each vendor module's docstring lists the [ASSUMED] behaviours it picked and their switches.
"""

from __future__ import annotations

from airflow_provider_emailverify.emulator.core import DEFAULT_API_KEY, EmulatorState, classify
from airflow_provider_emailverify.emulator.server import EmulatorServer, create_app

__all__ = ["DEFAULT_API_KEY", "EmulatorServer", "EmulatorState", "classify", "create_app"]
