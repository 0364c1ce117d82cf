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


def parse_list_text(text: str, *, field: str) -> Any:
    """
    What the rendered text of a templated list field stands for. Text that starts like a list,
    tuple or dict is read as JSON, else as a Python literal (``str()`` of a list, which is what
    ``{{ ti.xcom_pull(...) }}`` renders); any other text is split on commas into its stripped,
    unquoted parts (one part when there is no comma; blank parts are kept for the caller to judge).

    :param text: the rendered text.
    :param field: the field's name, for the error message.
    """
    text = text.strip()
    if text[:1] in ("[", "(", "{"):
        for loader in (json.loads, ast.literal_eval):
            try:
                return loader(text)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
        raise ValueError(f"{field} {text[:80]!r} is neither a JSON nor a Python list")
    return [part.strip().strip("'\"") for part in text.split(",")]


def parse_job_ids(value: Any, *, allow_empty: bool = False) -> list[str]:
    """
    Job ids from what a template renders: a list/tuple, a JSON or Python literal string of one,
    a comma-separated string, a single id, or the verification operator's summary dict.

    :param value: the rendered ``job_ids`` field.
    :param allow_empty: accept an explicit empty list (``[]``, or text such as ``"[]"``), which
        the verification operator reports when its input held no address, and return ``[]``.
        ``None`` (also rendered as the text ``None`` or ``null``), blank text and lists of blank
        ids are refused either way.
    """
    if value is None:
        raise _empty_job_ids("None", allow_empty)
    if isinstance(value, dict):
        if "job_ids" not in value:
            raise ValueError("job_ids dict has no 'job_ids' key")
        return parse_job_ids(value["job_ids"], allow_empty=allow_empty)
    if isinstance(value, (list, tuple)):
        items: Any = value
    elif isinstance(value, int):
        items = [value]
    else:
        text = str(value).strip()
        if not text:
            raise _empty_job_ids("blank", allow_empty)
        if text in ("None", "null"):  # a missing XCom, rendered as text
            raise _empty_job_ids("None", allow_empty)
        # a literal's value (list, dict, ...) or the comma-separated parts, judged as above
        return parse_job_ids(parse_list_text(text, field="job_ids"), allow_empty=allow_empty)
    if not items and allow_empty:
        return []
    ids = list(_flat_ids(items))
    if not ids:
        raise _empty_job_ids("empty", allow_empty)
    return ids


def _flat_ids(items: Any) -> Any:
    """
    The ids of a list, flattened: what a mapped task's XComs render is a list per map index
    (``[["1"], ["2"]]``) or a summary dict per map index (``[{"job_ids": [...]}, ...]``).
    """
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flat_ids(item)
        elif isinstance(item, dict):
            if "job_ids" not in item:
                raise ValueError(f"job_ids holds a dict without a 'job_ids' key: {str(item)[:100]}")
            yield from _flat_ids(item["job_ids"] or [])
        elif item is not None and (text := str(item).strip()):
            yield text


def _empty_job_ids(what: str, allow_empty: bool) -> ValueError:
    hint = ", or [] when there are none" if allow_empty else ""
    return ValueError(f"job_ids is {what}: pass a job id or a list of job ids{hint}")


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
