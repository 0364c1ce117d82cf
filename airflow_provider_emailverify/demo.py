# Licensed under the Apache License, Version 2.0.
"""
``make demo`` / ``python -m airflow_provider_emailverify.demo``: the provider end to end, offline.

1. starts the vendor emulator on a free loopback port;
2. gives Airflow a home of its own in ``.demo/airflow`` (SQLite metadata database, migrated);
3. points ``AIRFLOW_CONN_*`` connections at the emulator, and ``crm_db`` at ``.demo/results.sqlite``;
4. runs the ``example_crm_sync`` DAG with ``airflow dags test`` (a real subprocess; the
   verification task defers to the triggerer and resumes), which seeds a ``contacts`` table,
   verifies it, writes the neutral results to ``email_verification`` and syncs the statuses back;
5. prints the per-status summary read from ``.demo/results.sqlite``.

Re-runnable: every run adds one DAG run and refreshes the results. ``make clean`` removes ``.demo``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

DEMO_DAG = "example_crm_sync"
#: Emulated verification speed: a few seconds for the demo list, so the deferral is real.
EMULATOR_ROWS_PER_SECOND = 4.0
VENDORS = ("neverbounce", "neverbounce_v3", "bouncer", "bouncify", "emailverifierapp")


def project_root() -> Path:
    """The checkout holding ``example_dags`` (the package's parent), else the current directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "example_dags").is_dir() else Path.cwd()


def demo_environment(root: Path, emulator_url: str, vendor: str) -> dict[str, str]:
    """The environment of the Airflow subprocesses: own home, SQLite metadata DB, emulator connections."""
    import json

    demo = root / ".demo"
    home = demo / "airflow"
    env = dict(os.environ)
    for name in [key for key in env if key.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))]:
        del env[name]  # a demo must not pick up the caller's Airflow settings or connections
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "EMAILVERIFY_EXAMPLE_POLL_SECONDS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")])),
            "AIRFLOW_CONN_CRM_DB": json.dumps({"conn_type": "sqlite", "host": str(demo / "results.sqlite")}),
        }
    )
    for conn_type in VENDORS:
        prefix = "neverbounce" if conn_type == "neverbounce_v3" else conn_type
        conn = {"conn_type": conn_type, "host": f"{emulator_url}/{prefix}", "password": "emulator-key"}
        if conn_type == "neverbounce_v3":
            conn["login"] = "emulator-user"
        env[f"AIRFLOW_CONN_{conn_type.upper()}_DEFAULT"] = json.dumps(conn)
    return env


def run_airflow(args: list[str], env: dict[str, str], log: Path, what: str) -> float:
    """Run ``airflow ARGS`` with its output in ``log``; on failure show the log's tail and exit."""
    started = time.monotonic()
    with open(log, "ab") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n".encode())
        out.flush()
        code = subprocess.call(
            [sys.executable, "-m", "airflow", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    elapsed = time.monotonic() - started
    if code != 0:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        sys.exit(f"{what} failed (exit {code}); the last lines of {log}:\n" + "\n".join(tail))
    return elapsed


def airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow-core")


def last_run_state(metadata_db: Path, dag_id: str) -> str | None:
    with sqlite3.connect(metadata_db) as conn:
        row = conn.execute(
            "SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    return row[0] if row else None


def summary_table(results_db: Path) -> str:
    """Per-status counts of the results table, as text."""
    from airflow_provider_emailverify.results import STATUSES

    with sqlite3.connect(results_db) as conn:
        counts = dict(conn.execute("SELECT status, COUNT(*) FROM email_verification GROUP BY status"))
        vendors = [row[0] for row in conn.execute("SELECT DISTINCT vendor FROM email_verification")]
    total = sum(counts.values())
    lines = [f"{'status':<15}{'addresses':>10}{'share':>9}", "-" * 34]
    for status in [*STATUSES, *sorted(set(counts) - set(STATUSES))]:
        count = counts.get(status, 0)
        lines.append(f"{status:<15}{count:>10}{(100 * count / total if total else 0):>8.1f}%")
    lines += ["-" * 34, f"{'total':<15}{total:>10}{100.0 if total else 0:>8.1f}%"]
    return f"vendor: {', '.join(vendors) or '-'}\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_emailverify.demo", description=__doc__)
    parser.add_argument(
        "--vendor", choices=VENDORS, default="neverbounce",
        help="the vendor (emulated) the CRM sync runs against (default neverbounce)",
    )
    args = parser.parse_args(argv)

    from airflow_provider_emailverify.emulator.core import EmulatorState
    from airflow_provider_emailverify.emulator.server import EmulatorServer

    root = project_root()
    demo = root / ".demo"
    (demo / "airflow").mkdir(parents=True, exist_ok=True)
    log = demo / "airflow-output.log"
    log.write_text("")
    started = time.monotonic()
    # Slow enough that the job is still running when the operator first looks, so the task defers.
    state = EmulatorState(rows_per_second=EMULATOR_ROWS_PER_SECOND)
    with EmulatorServer(state=state) as emulator:
        print(f"emulator listening on {emulator.url}")
        env = demo_environment(root, emulator.url, args.vendor)
        print(f"AIRFLOW_HOME={env['AIRFLOW_HOME']} (SQLite metadata database)")
        marker = demo / "airflow" / ".migrated"
        version = airflow_version()
        if not (demo / "airflow" / "airflow.db").exists() or not marker.exists() or marker.read_text() != version:
            seconds = run_airflow(["db", "migrate"], env, log, "airflow db migrate")
            marker.write_text(version)
            print(f"metadata database migrated ({seconds:.1f}s)")
        else:
            print(f"metadata database already migrated (Airflow {version})")
        print(f"running `airflow dags test {DEMO_DAG}` against the emulated {args.vendor} (log: {log}) ...")
        conf = '{"vendor_conn_id": "%s_default"}' % args.vendor
        seconds = run_airflow(["dags", "test", DEMO_DAG, "--conf", conf], env, log, f"airflow dags test {DEMO_DAG}")
        run_state = last_run_state(demo / "airflow" / "airflow.db", DEMO_DAG)
        stats = emulator.state.stats()
    output = log.read_text(errors="replace")
    if run_state != "success":
        sys.exit(f"{DEMO_DAG} ended {run_state}; the last lines of {log}:\n" + "\n".join(output.splitlines()[-40:]))
    jobs = sum(stats.get("jobs_created", {}).values())
    deferrals = output.count("running trigger in line")
    print(
        f"DAG run succeeded in {seconds:.1f}s: {jobs} vendor job(s) created on the emulator; "
        f"the verification task deferred {deferrals} time(s) and resumed from the trigger's event"
    )
    results_db = demo / "results.sqlite"
    print(f"\nresults in {results_db} (table email_verification, statuses synced into contacts):\n")
    print(summary_table(results_db))
    print(f"\ndone in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
