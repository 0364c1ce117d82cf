# Licensed under the Apache License, Version 2.0.
"""
Benchmark: peak memory of submitting 100,000 vs 1,200,000 addresses from a file.

Starts the emulator as a separate process (``python -m airflow_provider_emailverify.emulator
--port 0 --rows-per-second 1e9``), writes two gzipped list files, then for each size runs a
fresh Python process that submits the file exactly as ``EmailVerificationOperator`` does:
``sources.iter_records(source=...)`` split by ``sources.batched(..., hook.max_job_size)``, each
part streamed into one vendor job with ``hook.submit_job``. Each process reports its peak resident
memory (``VmHWM`` from ``/proc/self/status``), the memory after its imports (the baseline), the
jobs created and the time taken.

The 100,000-address run is the baseline: submitting 12x as many addresses should not need more
memory (the goal is a flat line). Not part of the test suite's pass/fail.

Run: ``.venv/bin/python benchmarks/submit_large.py [--vendor neverbounce] [--sizes 100000 1200000]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _procs import start_emulator, stop

KEY = "emulator-key"
FLAT_MB = 20.0
VENDORS = ("neverbounce", "neverbounce_v3", "bouncer", "bouncify", "emailverifierapp")


def vm_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(args: argparse.Namespace) -> None:
    """One size, in a fresh process: submit the file as the operator does and report memory."""
    from airflow_provider_emailverify.hooks.base import hook_for_connection
    from airflow_provider_emailverify.sources import batched, iter_records

    hook = hook_for_connection(f"{args.vendor}_default")
    _ = hook.client  # build the client (and its HTTP session) before taking the baseline
    baseline_kb = vm_kb("VmRSS")
    started = time.perf_counter()
    job_ids = []
    with iter_records(source=args.file) as records:
        for index, part in enumerate(batched(records, hook.max_job_size)):
            job_ids.append(hook.submit_job(part, name=f"bench-{args.size}-{index}"))
            for _ in part:  # the client must have consumed its part; count leftovers as the operator does
                raise SystemExit("client left records unsent")
        read = records.read
    print(
        json.dumps(
            {
                "size": args.size,
                "read": read,
                "jobs": len(job_ids),
                "seconds": time.perf_counter() - started,
                "baseline_mb": baseline_kb / 1024,
                "peak_mb": vm_kb("VmHWM") / 1024,
            }
        )
    )


def write_list(path: Path, size: int) -> None:
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write("email,crm_id\n")
        for start in range(0, size, 50_000):
            out.write("".join(f"user{i}@example.com,{i}\n" for i in range(start, min(size, start + 50_000))))


def connection_env(vendor: str, url: str, home: str) -> dict[str, str]:
    prefix = "neverbounce" if vendor == "neverbounce_v3" else vendor
    conn = {"conn_type": vendor, "host": f"{url}/{prefix}", "password": KEY}
    if vendor == "neverbounce_v3":
        conn["login"] = "emulator-user"
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT": json.dumps(conn),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")])),
        }
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vendor", choices=VENDORS, default="neverbounce")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_200_000])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    work = Path(tempfile.mkdtemp(prefix="emailverify-submit-"))
    files = {}
    for size in args.sizes:
        files[size] = work / f"list-{size}.csv.gz"
        write_list(files[size], size)
    emulator, url = start_emulator(credits=4 * sum(args.sizes), api_key=KEY)
    print(f"emulator listening on {url} (separate process); vendor {args.vendor}")
    env = connection_env(args.vendor, url, str(work / "airflow"))
    rows = []
    try:
        for size in args.sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--vendor", args.vendor, "--size", str(size),
                 "--file", str(files[size])],
                env=env, capture_output=True, text=True, check=False,
            )
            if out.returncode != 0:
                raise SystemExit(f"submitting {size:,} addresses failed:\n{out.stderr[-4000:]}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        stop(emulator)

    print(f"\n{'addresses':>10}{'jobs':>6}{'seconds':>9}{'rows/s':>10}{'after imports':>15}{'peak RSS':>10}{'growth':>9}")
    for r in rows:
        growth = r["peak_mb"] - r["baseline_mb"]
        print(
            f"{r['read']:>10,}{r['jobs']:>6}{r['seconds']:>9.1f}{r['read'] / r['seconds']:>10,.0f}"
            f"{r['baseline_mb']:>13.1f}MB{r['peak_mb']:>8.1f}MB{growth:>7.1f}MB"
        )
    first, last = rows[0], rows[-1]
    diff = last["peak_mb"] - first["peak_mb"]
    ratio = last["peak_mb"] / first["peak_mb"]
    print(
        f"\npeak RSS {last['read']:,} vs {first['read']:,} addresses: {diff:+.1f} MB (x{ratio:.2f}) "
        f"-> {'flat' if abs(diff) <= FLAT_MB else 'NOT flat'} (tolerance {FLAT_MB:.0f} MB)"
    )


if __name__ == "__main__":
    main()
