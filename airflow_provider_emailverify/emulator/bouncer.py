# Licensed under the Apache License, Version 2.0.
"""bouncer emulator (placeholder; being written)."""

from __future__ import annotations

from airflow_provider_emailverify.emulator.core import VendorEmulator


class BouncerEmulator(VendorEmulator):
    vendor = "bouncer"
    prefix = "/bouncer"

    def routes(self):
        return []
