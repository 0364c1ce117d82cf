# Licensed under the Apache License, Version 2.0.
"""The emulator fixture as a user's own test suite gets it: one import in a conftest.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_fixture_alone_in_a_users_conftest_runs_a_test(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "from airflow_provider_emailverify.emulator.pytest_plugin import emulator  # noqa: F401\n"
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import requests

            def test_single_check(emulator):
                emulator.set_faults(latency_ms=1)
                answer = requests.get(
                    emulator.base_url("neverbounce") + "/v4.2/single/check",
                    params={"key": emulator.api_key, "email": "alice@invalid.test"},
                    timeout=10,
                ).json()
                assert answer["status"] == "success" and answer["result"] == "invalid"
                assert emulator.stats()["requests"]["neverbounce"]["/v4.2/single/check"] == 1

            def test_reset_between_tests(emulator):
                assert emulator.stats()["requests"] == {}
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
