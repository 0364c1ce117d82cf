# Licensed under the Apache License, Version 2.0.
"""
What the benchmarks share about processes: the emulator of a source tree started in its own
process (so it does not share the measured interpreter), stopping it, and what ``/proc`` says of
a process (CPU seconds, peak RSS).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

#: the checkout these benchmarks belong to
REPO = Path(__file__).resolve().parent.parent


def start_emulator(
    root: str | Path = REPO, *, credits: int | None = None, api_key: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    """
    The emulator of the source tree at ``root`` in its own process, jobs completing at once, and
    its root URL (vendor prefixes such as ``/neverbounce`` go after it).

    :param root: the checkout whose emulator runs (another one for a baseline).
    :param credits: credits per API key (the emulator's default when ``None``).
    :param api_key: the API key it accepts (the emulator's default when ``None``).
    """
    command = [
        sys.executable, "-m", "airflow_provider_emailverify.emulator",
        "--host", "127.0.0.1", "--port", "0", "--rows-per-second", "1e9",
    ]
    if credits is not None:
        command += ["--credits", str(credits)]
    if api_key is not None:
        command += ["--api-key", api_key]
    process = subprocess.Popen(
        command,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    line = process.stdout.readline() if process.stdout else ""
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        stop(process)
        raise RuntimeError(f"emulator did not start: {line!r}")
    # Keep reading what it prints, so that it never blocks on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()  # type: ignore[union-attr]
    return process, match.group(1)


def stop(process: subprocess.Popen) -> None:
    """Terminate a process started here (kill it if it does not exit)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """
    User plus system CPU seconds of a process, all its threads (with ``children``: of its exited,
    reaped children instead); 0 when it is gone.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    first = 13 if children else 11  # utime, stime / cutime, cstime (fields 14-17 of proc(5))
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size (``VmHWM``) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmHWM not found")
