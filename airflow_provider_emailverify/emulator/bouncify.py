# Licensed under the Apache License, Version 2.0.
"""bouncify emulator (placeholder; being written)."""

from __future__ import annotations

from airflow_provider_emailverify.emulator.core import VendorEmulator


class BouncifyEmulator(VendorEmulator):
    vendor = "bouncify"
    prefix = "/bouncify"

    def routes(self):
        return []
