# Licensed under the Apache License, Version 2.0.
"""
Benchmark: verification results from the emulator into S3 (moto's S3 server).

Starts the emulator and moto's S3 server as separate processes, creates NeverBounce jobs of
generated addresses through the NeverBounce hook (100,000 per job), then times, in the same run
and against the same jobs:

- ``EmailVerificationResultsToS3Operator`` (CSV; also gzip CSV and JSON Lines for reference);
- the two-step baseline: download to a CSV file with the hook, then ``S3Hook.load_file``;

and the operator's peak RSS (``VmHWM``) at 100,000 and at all rows, each in a fresh process.

Usage::

    .venv/bin/python benchmarks/transfer_s3.py [--rows 1000000]

Goals: the operator within 1.3x of download-to-file + ``load_file``; peak RSS flat in the
number of rows (1,000,000 rows within 50 MB of 100,000 rows).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import stop  # noqa: E402 - after the path set-up above
from transfer_postgres import (  # noqa: E402 - after the path set-up above
    JOB_SIZE,
    NB_CONN,
    ROOT,
    Emulator,
    create_jobs,
    download_to_csv,
    iterate,
    mb,
    best_of,
    measure_rss_in_child,
    quiet,
    row,
    timed,
    vm_kb,
)

AWS_CONN = "bench_aws"
BUCKET = "emailverify-bench"


class MotoServer:
    """moto's S3 in server mode, in its own process, on a free loopback port."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        os.environ[f"AIRFLOW_CONN_{AWS_CONN.upper()}"] = json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": self.url, "region_name": "us-east-1"},
            }
        )

    def stop(self) -> None:
        stop(self.process)


def s3_client() -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=AWS_CONN).get_conn()


def run_operator(
    job_ids: list[str], key: str, compression: str | None = None, file_format: str = "csv"
) -> dict[str, Any]:
    from airflow_provider_emailverify.transfers.results_to_s3 import EmailVerificationResultsToS3Operator

    return EmailVerificationResultsToS3Operator(
        task_id="bench",
        conn_id=NB_CONN,
        job_ids=job_ids,
        s3_bucket=BUCKET,
        s3_key=key,
        aws_conn_id=AWS_CONN,
        compression=compression,
        file_format=file_format,
    ).execute({})


def load_file(path: str, key: str) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    S3Hook(aws_conn_id=AWS_CONN).load_file(path, key=key, bucket_name=BUCKET, replace=True)


def rss_child(job_ids: list[str], key: str) -> None:
    quiet()
    import airflow  # noqa: F401 - count the imports in the starting point, not in the load

    from airflow_provider_emailverify.transfers.results_to_s3 import (  # noqa: F401
        EmailVerificationResultsToS3Operator,
    )

    before = vm_kb("VmHWM")
    summary = run_operator(job_ids, key)
    print(json.dumps({"rows": summary["rows"], "hwm_before_kb": before, "hwm_after_kb": vm_kb("VmHWM")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="results to write (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=2, help="tries of each path; the best counts")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--job-ids", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(json.loads(args.job_ids), args.key)
        return

    quiet()
    import airflow  # noqa: F401 - before the provider's hooks (Airflow's config imports providers)

    n = args.rows
    emulator = Emulator()
    moto = MotoServer()
    tmp = tempfile.NamedTemporaryFile(prefix="emailverify-bench-", suffix=".csv", delete=False)
    tmp.close()
    try:
        print(f"emulator at {emulator.url}; moto S3 at {moto.url}")
        s3_client().create_bucket(Bucket=BUCKET)
        seconds, job_ids = timed(create_jobs, n)
        print(f"created {len(job_ids)} NeverBounce job(s) of up to {JOB_SIZE:,} addresses in {seconds:.1f} s")

        # Warm up every path once (imports, provider discovery, connections), on a small job.
        (warm_job,) = create_jobs(2_000)
        run_operator([warm_job], "warm/ours.csv")
        download_to_csv([warm_job], tmp.name)
        load_file(tmp.name, "warm/file.csv")

        r = max(1, args.repeat)
        t_iter, rows = best_of(r, iterate, (job_ids,))
        assert rows == n
        t_ours, ours = best_of(r, run_operator, (job_ids, "ours.csv"))
        assert ours["rows"] == n, ours
        t_download, rows = best_of(r, download_to_csv, (job_ids, tmp.name))
        assert rows == n
        file_bytes = os.path.getsize(tmp.name)
        t_upload, _ = best_of(r, load_file, (tmp.name, "file.csv"))
        t_file = t_download + t_upload
        t_gzip, gz = best_of(r, run_operator, (job_ids, "ours.csv.gz", "gzip"))
        t_jsonl, jsonl = best_of(r, run_operator, (job_ids, "ours.jsonl", None, "jsonl"))

        client = s3_client()
        for key, size in (("ours.csv", ours["bytes"]), ("file.csv", file_bytes), ("ours.csv.gz", gz["bytes"])):
            assert client.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == size, key

        script = Path(__file__).resolve()
        small = measure_rss_in_child(script, ["--job-ids", json.dumps(job_ids[:1]), "--key", "rss/small.csv"])
        large = measure_rss_in_child(script, ["--job-ids", json.dumps(job_ids), "--key", "rss/large.csv"])
    finally:
        emulator.stop()
        moto.stop()
        os.unlink(tmp.name)

    print()
    print(f"{n:,} results into S3 ({len(job_ids)} NeverBounce jobs; emulator and moto in their own processes)")
    print(f"(best of {r} tries each)")
    row("download + parse alone (iter_results, no sink)", t_iter, n)
    row("operator, CSV (multipart from the download)", t_ours, n, note=mb(ours["bytes"] // 1024))
    row("download to CSV file", t_download, note=mb(file_bytes // 1024))
    row("S3Hook.load_file of that file", t_upload)
    row("download-to-file + load_file", t_file, n)
    row("operator, gzip CSV", t_gzip, n, note=mb(gz["bytes"] // 1024))
    row("operator, JSON Lines", t_jsonl, n, note=mb(jsonl["bytes"] // 1024))
    print()
    ratio = t_ours / t_file
    print(
        f"  operator / (download-to-file + load_file)   {ratio:6.2f}x   (goal <= 1.3x)  "
        f"{'OK' if ratio <= 1.3 else 'MISSED'}"
    )
    growth = large["hwm_after_kb"] - small["hwm_after_kb"]
    print()
    print("operator peak RSS (VmHWM), a fresh process for each size:")
    for m in (small, large):
        print(
            f"  {m['rows']:>9,} rows: {mb(m['hwm_after_kb'])} (after imports {mb(m['hwm_before_kb'])}; "
            f"the load adds {mb(m['hwm_after_kb'] - m['hwm_before_kb'])})"
        )
    print(f"  difference {mb(growth)}   (goal <= 50 MB)  {'OK' if growth <= 50 * 1024 else 'MISSED'}")


if __name__ == "__main__":
    main()
