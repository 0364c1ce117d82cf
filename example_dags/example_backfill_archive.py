# Licensed under the Apache License, Version 2.0.
"""
### Backfill: verify every archived list file, one mapped task per file

Lists the files of an archive folder (``data/archive`` next to this file by default; any
``s3://`` prefix works the same way) and verifies each one in its own mapped task
(dynamic task mapping), so files are retried, cleared and inspected independently and run in
parallel. Files may be CSV with a header (``email`` column) or one address per line, gzipped or
not. A last task adds the per-file summaries up.

Each mapped task names its vendor job after the DAG, run, task and map index, so a retried file
reattaches to its job instead of paying for it twice.

**Connection** ``neverbounce_default`` (type ``neverbounce``), as in ``example_neverbounce``;
change ``CONN_ID`` to move the backfill to another vendor. Against the offline emulator::

    python -m airflow_provider_emailverify.emulator --port 8099
    export AIRFLOW_CONN_NEVERBOUNCE_DEFAULT='{"conn_type": "neverbounce",
        "host": "http://127.0.0.1:8099/neverbounce", "password": "emulator-key"}'
    airflow dags test example_backfill_archive

``EMAILVERIFY_EXAMPLE_POLL_SECONDS`` shortens the status polling interval (default 30 s).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Param, task

from airflow_provider_emailverify.operators.verify import EmailVerificationOperator

CONN_ID = "neverbounce_default"
POLL_SECONDS = float(os.environ.get("EMAILVERIFY_EXAMPLE_POLL_SECONDS", "30"))
ARCHIVE = Path(__file__).parent / "data" / "archive"
LIST_SUFFIXES = (".csv", ".txt", ".csv.gz", ".txt.gz")

with DAG(
    dag_id="example_backfill_archive",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    doc_md=__doc__,
    params={"folder": Param(str(ARCHIVE), type="string", description="local folder or s3:// prefix")},
    max_active_tasks=4,
    tags=["example", "emailverify", "backfill"],
):

    @task
    def list_files(params: dict | None = None) -> list[str]:
        """The list files of the archive folder, in name order (one mapped verification each)."""
        folder = (params or {}).get("folder") or str(ARCHIVE)
        if "://" in folder:
            from airflow.sdk import ObjectStoragePath

            entries = [(str(path), path.name) for path in ObjectStoragePath(folder).iterdir() if path.is_file()]
        else:
            entries = [(str(path), path.name) for path in Path(folder).iterdir() if path.is_file()]
        files = sorted(location for location, name in entries if name.lower().endswith(LIST_SUFFIXES))
        if not files:
            raise ValueError(f"no list files ({', '.join(LIST_SUFFIXES)}) in {folder}")
        print(f"{len(files)} file(s) to verify: {files}")
        return files

    verify = EmailVerificationOperator.partial(
        task_id="verify",
        conn_id=CONN_ID,
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=12 * 3600,
    ).expand(source=list_files())

    @task
    def total(summaries: list[dict]) -> dict:
        """Add the per-file verdict counts up."""
        counts: dict[str, int] = {}
        for summary in summaries:
            for status, count in summary["counts"].items():
                counts[status] = counts.get(status, 0) + count
        jobs = [job_id for summary in summaries for job_id in summary["job_ids"]]
        print(f"{len(summaries)} file(s), {len(jobs)} job(s): {counts}")
        return {"files": len(summaries), "job_ids": jobs, "counts": counts}

    total(verify.output)
