# Licensed under the Apache License, Version 2.0.
"""emailverifierapp emulator (placeholder; being written)."""

from __future__ import annotations

from airflow_provider_emailverify.emulator.core import VendorEmulator


class EmailVerifierAppEmulator(VendorEmulator):
    vendor = "emailverifierapp"
    prefix = "/emailverifierapp"

    def routes(self):
        return []
