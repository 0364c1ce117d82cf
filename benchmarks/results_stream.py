# Licensed under the Apache License, Version 2.0.
"""
Results streaming benchmark: 1,000,000 NeverBounce results through ``iter_results`` in constant memory.

Starts the emulator as a subprocess, serves a 1,000,000-address list from a tiny local HTTP
server that generates the rows on the fly, creates a NeverBounce ``remote_url`` job from it,
then:

1. baseline: reads the same ``jobs/download`` CSV as raw lines (``stream_lines``, no parsing);
2. measured: iterates ``NeverBounceClient.iter_results`` (CSV parsing + neutral rows).

It prints rows/s of both and their ratio, and this process's peak RSS (VmHWM, reset before each
pass where the kernel allows it) at 100,000 and 1,000,000 rows, with whether the growth over the
pass's starting point stays within 50 MB. Not part of the test suite's pass/fail.

Run: ``.venv/bin/python benchmarks/results_stream.py [--rows N]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _procs import start_emulator, stop  # noqa: E402
from airflow_provider_emailverify.clients.base import RetryPolicy  # noqa: E402
from airflow_provider_emailverify.clients.neverbounce import NeverBounceClient  # noqa: E402

MB = 1024 * 1024
CHECKPOINTS = (100_000, 1_000_000)
DOMAINS = ("example.com", "gmail.com", "catchall.test", "mailinator.com", "invalid.test", "unknown.test")


def peak_rss() -> int:
    """This process's peak resident set size in bytes (VmHWM; getrusage as a fallback)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def serve_rows(rows: int) -> tuple[ThreadingHTTPServer, str]:
    """An HTTP server whose one file is ``rows`` addresses, generated while it is sent."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            batch = []
            for i in range(rows):
                batch.append(f"user{i}@{DOMAINS[i % len(DOMAINS)]}\n")
                if len(batch) == 10_000 or i == rows - 1:
                    data = "".join(batch).encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    batch = []
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/list.csv"


def measure(label: str, rows, total: int) -> tuple[float, dict[int, int], int]:
    """Consume ``rows``; return rows/s, peak RSS at each checkpoint, and the starting RSS."""
    reset = reset_peak_rss()
    start_rss = peak_rss()
    peaks: dict[int, int] = {}
    started = time.perf_counter()
    count = 0
    for _ in rows:
        count += 1
        if count in CHECKPOINTS:
            peaks[count] = peak_rss()
    elapsed = time.perf_counter() - started
    if count != total:
        raise RuntimeError(f"{label}: {count} rows, expected {total}")
    rate = count / elapsed
    print(f"{label}: {count:,} rows in {elapsed:.1f}s = {rate:,.0f} rows/s (peak RSS reset: {reset})")
    for checkpoint, peak in sorted(peaks.items()):
        growth = peak - start_rss
        verdict = "within" if growth <= 50 * MB else "OVER"
        print(
            f"  at {checkpoint:>9,} rows: peak RSS {peak / MB:6.1f} MB "
            f"(+{growth / MB:5.1f} MB over the pass's start: {verdict} 50 MB)"
        )
    return rate, peaks, start_rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    proc, url = start_emulator()
    server, list_url = serve_rows(args.rows)
    try:
        client = NeverBounceClient(
            api_key="emulator-key", base_url=url + "/neverbounce", retry=RetryPolicy(attempts=5, initial=0.1)
        )
        started = time.perf_counter()
        job_id = client.create_remote_job(list_url, name="benchmark-results-stream")
        while not (info := client.get_job(job_id)).is_terminal:
            time.sleep(0.5)
        print(
            f"job {job_id}: {info.vendor_status}, {info.total:,} addresses, "
            f"created and verified in {time.perf_counter() - started:.1f}s"
        )
        print(f"process peak RSS before streaming: {peak_rss() / MB:.1f} MB")

        call = client.download_call(job_id)
        baseline, _, _ = measure("baseline (raw CSV lines)", _data_lines(client.stream_lines(call)), args.rows)
        rate, peaks, start = measure("iter_results (neutral rows)", client.iter_results(job_id), args.rows)
        print(f"iter_results / raw lines: {rate / baseline:.2f}x")
        last = peaks.get(max(peaks)) if peaks else peak_rss()
        print(
            f"result: {args.rows:,} rows at {rate:,.0f} rows/s; peak RSS {last / MB:.1f} MB, "
            f"growth {(last - start) / MB:.1f} MB ({'within' if last - start <= 50 * MB else 'OVER'} 50 MB)"
        )
    finally:
        server.shutdown()
        stop(proc)


def _data_lines(lines):
    """The download's lines without its header line (a plain list has none)."""
    for index, line in enumerate(lines):
        if index == 0 and "email_status" in line:
            continue
        yield line


if __name__ == "__main__":
    main()
