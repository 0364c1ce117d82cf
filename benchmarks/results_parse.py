# Licensed under the Apache License, Version 2.0.
"""
Results parsing benchmark: a 1,000,000-row NeverBounce ``jobs/download`` CSV read into neutral rows, no HTTP.

The download's bytes (generated like the emulator's, or a saved download given with ``--file``)
are fed in 256 KiB chunks through ``NeverBounceClient.iter_results``, with only the HTTP exchange
replaced, so the same chain of functions runs as against the vendor: line splitting, CSV records,
neutral rows, the restartable wrapper. Measured in the same run on the same bytes:

1. baseline: ``csv.reader`` over the decoded text (its non-empty records, no neutral rows);
2. measured: ``iter_results`` of this checkout;
3. with ``--against DIR``: ``iter_results`` of another checkout (e.g. ``git worktree add
   /tmp/before HEAD~3``), run in a subprocess of this script, alternating with 2.

It prints rows/s of each (the best of ``--repeat`` passes), the ratio of 2 to 1, and with
``--against`` the ratio of 2 to 3. Not part of the test suite's pass/fail.

Run: ``.venv/bin/python benchmarks/results_parse.py [--rows N] [--columns email|id,email]
[--line-feed LF|CRLF|CR|LFCR] [--file download.csv] [--against DIR] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHUNK = 256 * 1024
DOMAINS = ("example.com", "gmail.com", "catchall.test", "mailinator.com", "invalid.test", "unknown.test")
VERDICTS = ("valid", "valid", "catchall", "disposable", "invalid", "unknown")
LINE_FEEDS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r", "LFCR": "\n\r"}


def download(rows: int, columns: str, line_feed: str) -> bytes:
    """A ``jobs/download`` CSV as the emulator writes it: bare addresses (no header) or ``id,email`` with one."""
    end = LINE_FEEDS[line_feed]
    lines = [] if columns == "email" else [f"id,email,bad_syntax,free_email_host,role_account,email_status{end}"]
    for i in range(rows):
        domain = i % len(DOMAINS)
        flags = f"0,{int(domain == 1)},{int(i % 50 == 0)}"
        email = f'"user{i}@{DOMAINS[domain]}"'
        key = "" if columns == "email" else f"{i},"
        lines.append(f"{key}{email},{flags},{VERDICTS[domain]}{end}")
    return "".join(lines).encode()


def client_over(data: bytes):
    """A NeverBounce client of the checkout on ``sys.path`` whose downloads are ``data``, in chunks."""
    from airflow_provider_emailverify.clients.neverbounce import NeverBounceClient

    client = NeverBounceClient(api_key="benchmark-key", base_url="http://127.0.0.1:9")
    client._stream = lambda *args, **kwargs: (data[i:i + CHUNK] for i in range(0, len(data), CHUNK))
    return client


def rate(rows, expected: int | None = None) -> float:
    """Rows/s of consuming ``rows`` (which must give ``expected`` rows, when given)."""
    started = time.perf_counter()
    count = 0
    for _ in rows:
        count += 1
    elapsed = time.perf_counter() - started
    if expected is not None and count != expected:
        raise RuntimeError(f"{count} rows, expected {expected}")
    return count / elapsed


def measure(data: bytes, rows: int) -> dict[str, float]:
    """One pass of the csv.reader baseline and of ``iter_results`` over ``data``."""
    baseline = rate(filter(None, csv.reader(io.StringIO(data.decode("utf-8"), newline=""))))
    parsed = rate(client_over(data).iter_results("1"), rows)
    return {"csv_reader": baseline, "iter_results": parsed}


def child(args: argparse.Namespace) -> None:
    """Measure one pass with the checkout in ``--code``; print the rates as JSON."""
    sys.path.insert(0, args.code)
    import airflow_provider_emailverify

    assert Path(airflow_provider_emailverify.__file__).is_relative_to(Path(args.code)), "wrong checkout imported"
    print(json.dumps(measure(Path(args.file).read_bytes(), args.rows)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", choices=("email", "id,email"), default="email")
    parser.add_argument("--line-feed", choices=tuple(LINE_FEEDS), default="LF")
    parser.add_argument("--file", help="a saved jobs/download CSV (then --rows must be its row count)")
    parser.add_argument("--against", help="another checkout to measure in the same run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.code:
        child(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.file) if args.file else Path(tmp) / "download.csv"
        if not args.file:
            path.write_bytes(download(args.rows, args.columns, args.line_feed))
        print(f"{args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB, columns {args.columns}, line feed {args.line_feed}")
        checkouts = {"this checkout": str(REPO)}
        if args.against:
            checkouts["--against"] = str(Path(args.against).resolve())
        best: dict[str, dict[str, float]] = {name: {} for name in checkouts}
        for _ in range(args.repeat):
            for name, code in checkouts.items():  # alternating, each pass in a fresh process
                command = [sys.executable, __file__, "--code", code, "--file", str(path), "--rows", str(args.rows)]
                result = subprocess.run(command, check=True, capture_output=True, text=True)
                for key, value in json.loads(result.stdout).items():
                    best[name][key] = max(best[name].get(key, 0.0), value)
    for name, rates in best.items():
        print(
            f"{name}: csv.reader {rates['csv_reader']:,.0f} rows/s, iter_results {rates['iter_results']:,.0f} rows/s "
            f"({rates['iter_results'] / rates['csv_reader']:.2f}x of csv.reader)"
        )
    if args.against:
        mine, other = best["this checkout"]["iter_results"], best["--against"]["iter_results"]
        print(f"iter_results, this checkout / --against: {mine / other:.2f}x")


if __name__ == "__main__":
    main()
