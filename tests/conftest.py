# Licensed under the Apache License, Version 2.0.
from __future__ import annotations

pytest_plugins = ["airflow_provider_emailverify.emulator.pytest_plugin"]
