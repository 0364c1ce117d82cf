# Licensed under the Apache License, Version 2.0.
"""NeverBounce v3 and v4/v4.1/v4.2 emulator (placeholder; being written)."""

from __future__ import annotations

from airflow_provider_emailverify.emulator.core import VendorEmulator


class NeverBounceEmulator(VendorEmulator):
    vendor = "neverbounce"
    prefix = "/neverbounce"

    def routes(self):
        return []
