# Licensed under the Apache License, Version 2.0.
"""
Benchmark: what importing the provider's operator, sensor and trigger modules adds to DAG parsing.

Each measurement runs in a fresh interpreter (nothing cached in ``sys.modules``) and times only
the import statements, not interpreter start-up:

- baseline: ``import airflow.sdk``;
- provider: ``import airflow.sdk`` then ``airflow_provider_emailverify.operators.verify``,
  ``.sensors.job`` and ``.triggers.job``; the provider imports are also timed on their own
  within that process ("in-process"), which machine load disturbs far less than comparing
  two sets of processes.

A second pair does the same on top of ``from airflow.sdk import DAG, BaseOperator,
BaseSensorOperator`` (what any DAG file using an operator pays anyway), which isolates the
provider's own share. Medians of ``--runs`` runs (default 7, interleaved) are printed with the
difference; the goal is under 50 ms added. Not part of the test suite's pass/fail.

Run: ``.venv/bin/python benchmarks/import_cost.py [--runs 7]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL_MS = 50.0
PROVIDER_MODULES = (
    "airflow_provider_emailverify.operators.verify",
    "airflow_provider_emailverify.sensors.job",
    "airflow_provider_emailverify.triggers.job",
)
HEAVY = ("boto3", "botocore", "psycopg", "psycopg2", "MySQLdb", "httpx", "requests", "tenacity", "s3fs", "pandas")

CHILD = """
import json, sys, time
t0 = time.perf_counter()
{baseline}
t1 = time.perf_counter()
for name in {modules!r}:
    __import__(name)
t2 = time.perf_counter()
print(json.dumps({{"baseline_ms": (t1 - t0) * 1000, "added_ms": (t2 - t1) * 1000,
                  "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def measure(baseline: str, modules: tuple[str, ...], env: dict[str, str]) -> dict:
    code = CHILD.format(baseline=baseline, modules=modules, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def series(baseline: str, runs: int, env: dict[str, str]) -> dict[str, float | list[str]]:
    """
    ``runs`` pairs of fresh processes, interleaved so that machine load hits both alike: one
    importing the baseline alone, one importing the baseline and then the provider modules.
    """
    alone: list[float] = []
    total: list[float] = []
    added: list[float] = []
    heavy_before: list[str] = []
    heavy_after: list[str] = []
    for _ in range(runs):
        first = measure(baseline, (), env)
        second = measure(baseline, PROVIDER_MODULES, env)
        alone.append(first["baseline_ms"])
        total.append(second["baseline_ms"] + second["added_ms"])
        added.append(second["added_ms"])
        heavy_before, heavy_after = first["heavy"], second["heavy"]
    return {
        "alone": statistics.median(alone),
        "total": statistics.median(total),
        "added": statistics.median(added),
        "new_heavy": sorted(set(heavy_after) - set(heavy_before)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per measurement (>= 5)")
    args = parser.parse_args()
    runs = max(5, args.runs)

    root = Path(__file__).resolve().parents[1]
    home = tempfile.mkdtemp(prefix="emailverify-import-")
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")])),
        }
    )
    measure("import airflow.sdk", PROVIDER_MODULES, env)  # warm the OS file cache and .pyc files

    print(f"median of {runs} fresh processes per column (import time only, interpreter start-up excluded)\n")
    print(f"{'baseline':<62}{'alone':>9}{'+provider':>11}{'difference':>12}{'in-process':>12}")
    results = []
    for baseline in ("import airflow.sdk", "from airflow.sdk import DAG, BaseOperator, BaseSensorOperator"):
        r = series(baseline, runs, env)
        results.append(r)
        print(
            f"{baseline:<62}{r['alone']:>7.1f}ms{r['total']:>9.1f}ms"
            f"{r['total'] - r['alone']:>10.1f}ms{r['added']:>10.1f}ms"
        )
        print(f"    heavy modules (boto3, psycopg, httpx, ...) newly imported: {', '.join(r['new_heavy']) or 'none'}")
    added = results[0]["added"]
    print(
        "\n'difference' compares the medians of separate processes (noisy on a busy machine);"
        "\n'in-process' times the provider imports right after the baseline, in the same process."
    )
    print(f"added by the provider: {added:.1f} ms -> goal < {GOAL_MS:.0f} ms {'met' if added < GOAL_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
