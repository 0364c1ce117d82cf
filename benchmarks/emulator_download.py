# Licensed under the Apache License, Version 2.0.
"""
Benchmark: a NeverBounce v4.2 job of 100,000 then 1,000,000 addresses through the emulator.

Starts ``python -m airflow_provider_emailverify.emulator`` as a subprocess (rows per second 1e9, 10M credits), serves a CSV generated on
the fly from a local HTTP server, creates each job with ``input_location=remote_url``, waits for
completion, streams ``jobs/download``, and prints rows per second and the emulator process's peak
resident memory (``VmHWM``) after each size. The memory the emulator gains from the first size to
the last must stay within 50 MB, since rows stay on disk and downloads are computed from them a
block at a time.

With ``--baseline DIR`` (another checkout, e.g. ``git worktree add /tmp/emu-baseline HEAD~1``) the
same jobs run first against an emulator started from that tree, and the download speed of this
tree is printed as a ratio of the baseline's at each size.

Run: ``.venv/bin/python benchmarks/emulator_download.py [--sizes 100000 1000000] [--baseline DIR]``
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from _procs import peak_rss_mb, start_emulator, stop

LIMIT_MB = 50.0
KEY = "emulator-key"


def csv_server() -> ThreadingHTTPServer:
    """Serves ``/<rows>.csv``: ``id,email`` rows generated while streaming (chunked)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            match = re.fullmatch(r"/(\d+)\.csv", self.path)
            if not match:
                self.send_error(404)
                return
            rows = int(match.group(1))
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(b"id,email\n")
            for start in range(0, rows, 10_000):
                lines = (
                    f"{index},{'invalid' if index % 10 == 0 else 'user'}{index}@{'catchall.test' if index % 17 == 0 else 'example.com'}\n"
                    for index in range(start, min(rows, start + 10_000))
                )
                self._chunk("".join(lines).encode())
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_job(base: str, source: str, rows: int) -> dict[str, float]:
    """Create, wait, download; returns timings and counts."""
    started = time.perf_counter()
    created = requests.post(
        base + "/v4.2/jobs/create",
        json={"key": KEY, "input_location": "remote_url", "input": source, "auto_parse": 1, "auto_start": 1, "filename": f"bench-{rows}"},
        timeout=60,
    ).json()
    assert created["status"] == "success", created
    job_id = created["job_id"]
    while True:
        status = requests.get(base + "/v4.2/jobs/status", params={"key": KEY, "job_id": job_id}, timeout=60).json()
        if status["job_status"] in ("complete", "failed"):
            break
        time.sleep(0.1)
    assert status["job_status"] == "complete", status
    assert status["total"]["records"] == rows, status["total"]
    ready = time.perf_counter()
    lines = 0
    size = 0
    with requests.get(
        base + "/v4.2/jobs/download",
        params={"key": KEY, "job_id": job_id, "line_feed_type": "LINEFEED_0A", "addr": 1, "host": 1, "email_status_int": 1},
        stream=True,
        timeout=120,
    ) as response:
        assert response.headers["content-type"] == "application/octet-stream", response.text[:200]
        for chunk in response.iter_content(256 * 1024):
            lines += chunk.count(b"\n")
            size += len(chunk)
    done = time.perf_counter()
    assert lines == rows + 1, (lines, rows)  # the header line plus one line per row
    requests.post(base + "/v4.2/jobs/delete", json={"key": KEY, "job_id": job_id}, timeout=60)
    return {"job_seconds": ready - started, "download_seconds": done - ready, "total_seconds": done - started, "bytes": size}


def measure(root: str, label: str, source: str, sizes: list[int]) -> tuple[list[float], list[float]]:
    """Run every size against the emulator of ``root``; returns (download rows/s, peak RSS MB) per size."""
    emulator, url = start_emulator(root, credits=10_000_000)
    base = url + "/neverbounce"
    try:
        requests.get(base + "/v4.2/account/info", params={"key": KEY}, timeout=10)
        print(f"{label}: emulator pid {emulator.pid} from {root}, peak RSS at start {peak_rss_mb(emulator.pid):.1f} MB")
        peaks: list[float] = []
        speeds: list[float] = []
        for rows in sizes:
            timing = run_job(base, f"{source}/{rows}.csv", rows)
            peak = peak_rss_mb(emulator.pid)
            peaks.append(peak)
            speeds.append(rows / timing["download_seconds"])
            print(
                f"  {rows:>9,} rows: create->complete {timing['job_seconds']:6.2f} s, "
                f"download {timing['download_seconds']:6.2f} s ({rows / timing['download_seconds']:,.0f} rows/s, "
                f"{timing['bytes'] / 1e6:.1f} MB), end to end {rows / timing['total_seconds']:,.0f} rows/s, "
                f"emulator peak RSS {peak:.1f} MB"
            )
        if len(peaks) >= 2:
            growth = peaks[-1] - peaks[0]
            verdict = "within" if growth <= LIMIT_MB else "OVER"
            print(
                f"  peak RSS growth {sizes[0]:,} -> {sizes[-1]:,} rows: {growth:+.1f} MB "
                f"({verdict} the {LIMIT_MB:.0f} MB budget); download speed at {sizes[-1]:,} is {speeds[-1] / speeds[0]:.2f}x that at {sizes[0]:,}"
            )
        return speeds, peaks
    finally:
        stop(emulator)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="another checkout to measure first and compare against (e.g. git worktree add /tmp/emu-baseline HEAD~1)",
    )
    args = parser.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = csv_server()
    source = f"http://127.0.0.1:{files.server_address[1]}"
    try:
        baseline = measure(os.path.abspath(args.baseline), "baseline", source, args.sizes) if args.baseline else None
        speeds, peaks = measure(root, "this tree", source, args.sizes)
    finally:
        files.shutdown()
    if baseline is not None:
        for rows, base_speed, speed in zip(args.sizes, baseline[0], speeds):
            print(f"{rows:>9,} rows: download {speed:,.0f} rows/s vs baseline {base_speed:,.0f} rows/s: {speed / base_speed:.2f}x")
    over = len(peaks) >= 2 and peaks[-1] - peaks[0] > LIMIT_MB
    return 2 if over else 0


if __name__ == "__main__":
    sys.exit(main())
