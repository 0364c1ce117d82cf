# Licensed under the Apache License, Version 2.0.
"""Small helpers shared by operators, sensors and transfers (no Airflow import at module level)."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

#: XCom keys pushed by the verification operator.
XCOM_JOB_IDS = "job_ids"
XCOM_VENDOR = "vendor"


def parse_job_ids(value: Any) -> list[str]:
    """
    Job ids from what a template renders: a list/tuple, a JSON or Python literal string of one,
    a comma-separated string, a single id, or the verification operator's summary dict.

    :param value: the rendered ``job_ids`` field.
    """
    if value is None:
        raise ValueError("job_ids is empty: pass a job id or a list of job ids")
    if isinstance(value, dict):
        if "job_ids" not in value:
            raise ValueError("job_ids dict has no 'job_ids' key")
        return parse_job_ids(value["job_ids"])
    if isinstance(value, (list, tuple)):
        ids = [str(item).strip() for item in value if str(item).strip()]
    elif isinstance(value, (int,)):
        ids = [str(value)]
    else:
        text = str(value).strip()
        parsed: Any = None
        if text[:1] in "[({":
            for loader in (json.loads, ast.literal_eval):
                try:
                    parsed = loader(text)
                    break
                except (ValueError, SyntaxError):
                    continue
            if parsed is None:
                raise ValueError(f"job_ids {text[:80]!r} is neither a JSON nor a Python list")
            return parse_job_ids(parsed)
        ids = [part.strip().strip("'\"") for part in text.split(",") if part.strip()]
    if not ids:
        raise ValueError("job_ids is empty: pass a job id or a list of job ids")
    return ids


def default_job_name(*, dag_id: str, run_id: str, task_id: str, map_index: int | None) -> str:
    """
    A deterministic vendor job name for one task instance: the same on every try, different for
    every run, task and mapped index. Kept short and to safe characters, as vendors show it.
    """
    import hashlib

    raw = f"{dag_id}|{run_id}|{task_id}|{-1 if map_index is None else map_index}"
    digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{dag_id}.{task_id}")[:60]
    suffix = "" if map_index in (None, -1) else f".{map_index}"
    return f"{readable}{suffix}-{digest}"
