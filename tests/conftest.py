# Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import os
import tempfile

# Airflow reads its configuration at import time: give the test session its own home and
# metadata database before anything imports it.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="emailverify-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME}/airflow.db")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.join(os.path.dirname(__file__), "..", "example_dags"))

pytest_plugins = ["airflow_provider_emailverify.emulator.pytest_plugin"]
