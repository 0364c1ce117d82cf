# Licensed under the Apache License, Version 2.0.
"""
Benchmark: 1,000,000-row result downloads, end to end, for Bouncer, Bouncify and Email Verifier App
(NeverBounce for reference): the emulator serving in its own process, ``hook.iter_results`` reading.

For each vendor, a fresh emulator (``python -m airflow_provider_emailverify.emulator``, rows per
second 1e9, 100M credits) gets jobs of generated addresses through the vendor's hook, as many as
the vendor's job size needs (Bouncer and Email Verifier App 100,000 rows a job, Bouncify 200,000,
NeverBounce 100,000), for each of ``--sizes`` in turn (100,000 then 1,000,000 rows by default);
once they are complete, ``iter_results`` over all of their rows is timed (the best of ``--repeat``
passes). Printed per vendor and size: rows/s, the CPU seconds the emulator and the client spent
during the download (which side bounds it), and the emulator's peak resident memory (``VmHWM``),
whose growth from the first size to the last must stay within 50 MB. ``bouncer-csv`` is Bouncer
with the ``download_format: csv`` extra (the default download is JSON).

With ``--baseline DIR`` (another checkout, e.g. ``git worktree add /tmp/vd-baseline HEAD~5``) each
vendor runs first with that tree (its emulator and its client), then with this one, and the rows/s
of this tree is printed as a ratio of the baseline's. ``--check`` also reads every row once more,
untimed, and prints a digest of the neutral rows (all but ``job_id``) so two trees can be compared.

Each (tree, vendor) pair runs in a fresh interpreter of this script, with that tree first on
``sys.path``. Not part of the test suite's pass/fail.

Run: ``.venv/bin/python benchmarks/vendor_downloads.py [--vendors bouncer bouncify ...]
[--sizes 100000 1000000] [--repeat 2] [--baseline DIR] [--check]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _procs import cpu_seconds, peak_rss_mb, start_emulator, stop

REPO = Path(__file__).resolve().parents[1]
KEY = "emulator-key"
LIMIT_MB = 50.0


@dataclass(frozen=True)
class Vendor:
    """How a vendor is reached: its connection type, path below the emulator, extras and job size."""

    conn_type: str
    prefix: str
    job_size: int
    extras: dict[str, Any] = field(default_factory=dict)


VENDORS = {
    "bouncer": Vendor("bouncer", "/bouncer", 100_000),
    "bouncer-csv": Vendor("bouncer", "/bouncer", 100_000, {"download_format": "csv"}),
    "bouncify": Vendor("bouncify", "/bouncify", 200_000),
    "emailverifierapp": Vendor("emailverifierapp", "/emailverifierapp", 100_000),
    "neverbounce": Vendor("neverbounce", "/neverbounce", 100_000),
}


def address(i: int) -> str:
    """Generated addresses with the emulator's whole mix of verdicts and flags."""
    kind = i % 20
    if kind == 0:
        return f"invalid.user{i}@example.com"
    if kind == 1:
        return f"user{i}@catchall.test"
    if kind == 2:
        return f"user{i}@mailinator.com"
    if kind == 3:
        return f"unknown.user{i}@example.com"
    if kind == 4:
        return f"info{i}@gmail.com"
    if kind == 5:
        return f"trap.user{i}@example.com"
    if kind == 6:
        return f"user{i}@gmial.com"
    if kind == 7:
        return f"user{i}@yahoo.com"
    return f"first.last{i}@example.com"


# -- the child: one tree, one vendor ---------------------------------------------------------------


def create_jobs(hook: Any, vendor: Vendor, first: int, rows: int) -> list[str]:
    """Jobs holding addresses ``first`` .. ``first + rows - 1``, completed by the emulator."""
    job_ids = []
    for start in range(first, first + rows, vendor.job_size):
        stop_at = min(first + rows, start + vendor.job_size)
        job_ids.append(hook.submit_job({"email": address(i)} for i in range(start, stop_at)))
    for job_id in job_ids:
        while not hook.get_job(job_id).is_terminal:
            time.sleep(0.05)
    return job_ids


def digest(hook: Any, job_ids: list[str]) -> str:
    """A digest of every neutral row (all columns but ``job_id``, plus pass-through columns)."""
    import hashlib

    sha = hashlib.sha256()
    for job_id in job_ids:
        for result in hook.iter_results(job_id):
            row = result.as_dict(with_extra=True)
            row.pop("job_id")
            sha.update(repr(sorted(row.items())).encode())
    return sha.hexdigest()[:16]


def child(args: argparse.Namespace) -> None:
    """Measure one vendor with the tree in ``--code``; print the figures as JSON."""
    sys.path.insert(0, args.code)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="emailverify-bench-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    import logging

    import airflow_provider_emailverify

    assert Path(airflow_provider_emailverify.__file__).is_relative_to(Path(args.code)), "wrong checkout imported"
    vendor = VENDORS[args.vendor]
    process, url = start_emulator(args.code, credits=100_000_000)
    try:
        conn_id = "bench_" + args.vendor.replace("-", "_")
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
            {"conn_type": vendor.conn_type, "host": url + vendor.prefix, "password": KEY, "extra": vendor.extras}
        )
        from airflow_provider_emailverify.hooks.base import hook_for_connection

        logging.disable(logging.WARNING)
        hook = hook_for_connection(conn_id)
        figures = []
        done = 0
        for size in args.sizes:
            started = time.perf_counter()
            job_ids = create_jobs(hook, vendor, done, size)
            created = time.perf_counter() - started
            done += size
            best: dict[str, float] | None = None
            for _ in range(args.repeat):
                emulator_cpu, client_cpu, wall = cpu_seconds(process.pid), time.process_time(), time.perf_counter()
                count = sum(1 for job_id in job_ids for _ in hook.iter_results(job_id))
                wall = time.perf_counter() - wall
                if count != size:
                    raise RuntimeError(f"{args.vendor}: {count} rows downloaded, {size} submitted")
                run = {
                    "seconds": wall,
                    "emulator_cpu": cpu_seconds(process.pid) - emulator_cpu,
                    "client_cpu": time.process_time() - client_cpu,
                }
                if best is None or run["seconds"] < best["seconds"]:
                    best = run
            assert best is not None
            figure = {"rows": size, "create_seconds": created, **best, "peak_rss_mb": peak_rss_mb(process.pid)}
            if args.check:
                figure["digest"] = digest(hook, job_ids)
            figures.append(figure)
        print(json.dumps(figures))
    finally:
        stop(process)


# -- the parent ------------------------------------------------------------------------------------


def run_child(code: str, vendor: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    command = [
        sys.executable, __file__, "--child", "--code", code, "--vendor", vendor, "--repeat", str(args.repeat),
        "--sizes", *map(str, args.sizes), *(["--check"] if args.check else []),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=code).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(label: str, figures: list[dict[str, Any]]) -> None:
    for fig in figures:
        rate = fig["rows"] / fig["seconds"]
        print(
            f"  {label:<10}{fig['rows']:>10,} rows: {rate:>9,.0f} rows/s ({fig['seconds']:5.2f} s; CPU emulator "
            f"{fig['emulator_cpu']:5.2f} s, client {fig['client_cpu']:5.2f} s), emulator peak RSS "
            f"{fig['peak_rss_mb']:6.1f} MB, jobs created in {fig['create_seconds']:5.1f} s"
            + (f", rows digest {fig['digest']}" if "digest" in fig else "")
        )
    if len(figures) >= 2:
        growth = figures[-1]["peak_rss_mb"] - figures[0]["peak_rss_mb"]
        verdict = "within" if growth <= LIMIT_MB else "OVER"
        print(f"  {'':<10}emulator peak RSS growth {growth:+.1f} MB ({verdict} the {LIMIT_MB:.0f} MB budget)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vendors", nargs="+", choices=tuple(VENDORS), default=list(VENDORS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2, help="downloads of the same jobs; the fastest counts")
    parser.add_argument("--baseline", metavar="DIR", help="another checkout to measure first and compare against")
    parser.add_argument("--check", action="store_true", help="print a digest of the rows (one more, untimed pass)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--vendor", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    trees = {"this tree": str(REPO)}
    if args.baseline:
        trees = {"baseline": str(Path(args.baseline).resolve()), **trees}
    over = False
    summary = []
    for vendor in args.vendors:
        print(f"{vendor}:", flush=True)
        results = {}
        for label, code in trees.items():
            results[label] = run_child(code, vendor, args)
            report(label, results[label])
            sys.stdout.flush()
            figures = results[label]
            over = over or (len(figures) >= 2 and figures[-1]["peak_rss_mb"] - figures[0]["peak_rss_mb"] > LIMIT_MB)
        if "baseline" in results:
            for base, new in zip(results["baseline"], results["this tree"]):
                base_rate, new_rate = base["rows"] / base["seconds"], new["rows"] / new["seconds"]
                same = "" if "digest" not in new else (", same rows" if new["digest"] == base["digest"] else ", ROWS DIFFER")
                summary.append(
                    f"{vendor:<17}{new['rows']:>10,} rows: {new_rate:>9,.0f} rows/s vs baseline {base_rate:>9,.0f} "
                    f"rows/s: {new_rate / base_rate:.2f}x{same}"
                )
    if summary:
        print("\n".join(["", *summary]))
    return 2 if over else 0


if __name__ == "__main__":
    sys.exit(main())
