# Licensed under the Apache License, Version 2.0.
"""
NeverBounce wire formats (specs/neverbounce.md): answers and downloads into the neutral model,
records into the supplied-job body, and the error-message patterns. Shared by the v4.2 and v3
clients; pure functions, no I/O.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.clients.streams import checked_records, iter_csv
from airflow_provider_emailverify.exceptions import EmailVerificationError, InvalidRequestError
from airflow_provider_emailverify.jobs import JobInfo, JobState
from airflow_provider_emailverify.results import VerificationResult, neutral_status, parse_text_flag

if TYPE_CHECKING:
    from airflow_provider_emailverify.clients.base import RawResponse

log = logging.getLogger(__name__)

VENDOR = "neverbounce"

#: The 9 documented ``job_status`` values (spec section 6.1) in neutral terms.
JOB_STATES: dict[str, JobState] = {
    "uploading": JobState.QUEUED,
    "parsing": JobState.QUEUED,
    "waiting": JobState.QUEUED,
    "waiting_analyzed": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "running": JobState.RUNNING,
    "under_review": JobState.RUNNING,
    "complete": JobState.COMPLETED,
    "failed": JobState.FAILED,
}

#: Append columns asked of ``jobs/download``, in the spec's table order; together with the
#: verdict they give every neutral flag NeverBounce's CSV can carry.
DOWNLOAD_APPENDS = ("bad_syntax", "free_email_host", "role_account", "email_status")

#: Largest supplied ``jobs/create`` body; the vendor answers HTTP 413 beyond 25 MB.
MAX_PAYLOAD_BYTES = 25_000_000

_NOT_FOUND = re.compile(
    r"not\s+(be\s+)?found|does\s*n[o']t\s+exist|no\s+longer\s+exists|unknown\s+job|no\s+such\s+job|been\s+deleted",
    re.IGNORECASE,
)
_NOT_READY = re.compile(
    r"not\s+in\s+a\s+state|not\s+(yet\s+)?(complete|completed|finished|ready|available)"
    r"|still\s+(running|processing|parsing)|is\s+(running|processing|parsing)",
    re.IGNORECASE,
)
_NO_CREDITS = re.compile(
    r"insufficient\s+credit|credit\s+balance|not\s+enough\s+credits|payment\s+method|usage\s+limit", re.IGNORECASE
)


def _int(value: Any) -> int | None:
    """An integer from a vendor counter that may be a number, a numeric string or null."""
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def job_name(name: str | None) -> str:
    """The ``filename`` a job is created with: ``name``, else a unique one (a retry finds the job by it)."""
    return name or f"emailverify-{uuid.uuid4().hex}"


def created_job_id(body: Mapping[str, Any]) -> str:
    """The ``job_id`` of a job-creation answer."""
    return str(body["job_id"])


def neutral_counts(totals: Mapping[str, Any]) -> dict[str, int]:
    """
    Neutral status counts from a job's verdict counters (``valid``, ``invalid``, ``disposable``,
    ``catchall``, ``unknown``; numbers or numeric strings); empty when none is reported.
    """
    verdicts = {name: _int(totals.get(name)) for name in ("valid", "invalid", "disposable", "catchall", "unknown")}
    if all(value is None for value in verdicts.values()):
        return {}
    return {
        "deliverable": verdicts["valid"] or 0,
        "risky": (verdicts["disposable"] or 0) + (verdicts["catchall"] or 0),
        "undeliverable": verdicts["invalid"] or 0,
        "unknown": verdicts["unknown"] or 0,
    }


def credits_from_account(body: Mapping[str, Any]) -> int | None:
    """
    Credits the account can spend now, from an ``account/info`` answer: paid plus free credits
    remaining (the monthly shape reports free credits only).

    :param body: the decoded ``account/info`` answer.
    """
    info = body.get("credits_info") or {}
    parts = [_int(info.get(name)) for name in ("paid_credits_remaining", "free_credits_remaining")]
    if all(part is None for part in parts):
        return _int(body.get("credits"))  # pre-release flat shape
    return sum(part or 0 for part in parts)


def result_from_verification(
    email: str, verification: Mapping[str, Any], *, job_id: str | None = None, extra: dict[str, Any] | None = None
) -> VerificationResult:
    """
    A neutral row from a ``single/check`` answer or a ``jobs/results`` item's ``verification``.

    :param email: the address as submitted.
    :param verification: ``result``, ``flags``, ``suggested_correction`` (unknown flags ignored).
    :param job_id: the job the row belongs to (``None`` for single checks).
    :param extra: pass-through columns of the submitted record.
    """
    verdict = str(verification.get("result") or "")
    flags = {str(flag) for flag in verification.get("flags") or ()}
    return VerificationResult.from_vendor(
        vendor=VENDOR,
        email=email,
        vendor_status=verdict,
        job_id=job_id,
        is_disposable=verdict == "disposable" or "disposable_email" in flags,
        is_role="role_account" in flags,
        is_free="free_email_host" in flags,
        is_catchall=verdict == "catchall" or "accepts_all" in flags,
        is_syntax_error="bad_syntax" in flags,
        suggestion=verification.get("suggested_correction") or None,
        extra=dict(extra or {}),
    )


def job_info_from_status(body: Mapping[str, Any], *, header_row_counted: bool = False) -> JobInfo:
    """
    Neutral :class:`JobInfo` from a ``jobs/status`` answer (or a ``jobs/search`` item).
    Every counter may be null (spec 4.6); ``failure_reason`` becomes the message.

    :param body: the decoded status object.
    :param header_row_counted: the vendor counted the header line of object input as an
        invalid, bad-syntax record (recorded 2017 behaviour, spec 4.3): take it out of the counts.
    """
    vendor_status = str(body.get("job_status") or body.get("status") or "")
    state = JOB_STATES.get(vendor_status)
    if state is None:
        log.warning("NeverBounce job %s has an undocumented job_status %r", body.get("id"), vendor_status)
        state = JobState.RUNNING
    total = dict(body.get("total") or {})
    if header_row_counted and (_int(total.get("bad_syntax")) or 0) >= 1 and (_int(total.get("invalid")) or 0) >= 1:
        for name in ("records", "processed", "invalid", "bad_syntax"):
            if _int(total.get(name)):
                total[name] = _int(total[name]) - 1
    records = _int(total.get("records"))
    if not records and vendor_status in ("uploading", "parsing"):
        records = None  # not counted yet
    processed = _int(total.get("processed")) or 0
    counts = neutral_counts(total)
    percent = body.get("percent_complete")
    if state == JobState.COMPLETED:
        progress = 1.0
    elif isinstance(percent, (int, float)) or (isinstance(percent, str) and percent.strip()):
        progress = float(percent) / 100.0
    else:
        progress = processed / records if records else 0.0
    reason = body.get("failure_reason")
    return JobInfo(
        job_id=str(body.get("id") or body.get("job_id") or ""),
        state=state,
        progress=max(0.0, min(1.0, progress)),
        total=records,
        processed=processed,
        counts=counts,
        vendor_status=vendor_status,
        message=str(reason) if reason not in (None, "") else None,
    )


def rows_from_download(lines: Iterable[str], *, job_id: str) -> Iterator[VerificationResult]:
    """
    Neutral rows from a ``jobs/download`` CSV asked with :data:`DOWNLOAD_APPENDS`, one at a time.

    The first line is the header (submitted object keys, then the appended column names);
    without one, the email is taken as the first column. Columns other than ``email`` become
    ``extra``. A data line repeating the header (the vendor's recorded header artefact) is skipped.
    Flags may come in any ``binary_operators_type`` spelling (``1``/``0``, ``Y``/``N``,
    ``yes``/``no``, ``true``/``false``, ...).

    :param lines: the CSV's lines, keeping their line breaks so that a quoted value spanning lines
        comes back whole (any line feed type, the documented ``\\n\\r`` included; see
        :func:`~airflow_provider_emailverify.clients.streams.iter_csv`).
    :param job_id: the job the rows belong to.
    """
    yield from rows_from_records(iter_csv(lines), job_id=job_id)


def rows_from_records(records: Iterable[list[str]], *, job_id: str) -> Iterator[VerificationResult]:
    """
    :func:`rows_from_download` from the download's CSV records, as
    :meth:`~airflow_provider_emailverify.clients.downloads.DownloadStreams.stream_csv` reads them.

    :param records: the CSV's records, the header first.
    :param job_id: the job the rows belong to.
    """
    appended = len(DOWNLOAD_APPENDS)
    row = VerificationResult
    flag = parse_text_flag
    # verdict -> (neutral status, disposable, catch-all): a download has a handful of verdicts.
    verdicts: dict[str, tuple[str, bool, bool]] = {}
    names: list[str] | None = None
    for values in records:
        if not values:
            continue
        if names is None:
            header = len(values) >= appended and set(values[-appended:]) == set(DOWNLOAD_APPENDS)
            if header:
                names, appends = values[:-appended], values[-appended:]
            else:
                names = ["email"] + [str(i) for i in range(1, max(1, len(values) - appended))]
                appends = list(DOWNLOAD_APPENDS)
            width = len(names) + appended
            status_at, role_at, free_at, syntax_at = (
                len(names) + appends.index(name)
                for name in ("email_status", "role_account", "free_email_host", "bad_syntax")
            )
            email_only = names == ["email"]  # the usual list of bare addresses: no extra columns
            if header:
                continue
        if len(values) < width:
            raise EmailVerificationError(
                f"neverbounce jobs/download of job {job_id}: a row has {len(values)} columns, expected {width}",
                vendor=VENDOR,
            )
        if email_only:
            email = values[0]
            if email == "email":
                continue  # the header repeated as a data line
            record: dict[str, str] = {}
        else:
            columns = values[: len(names)]
            if columns == names:
                continue
            record = dict(zip(names, columns))
            email = record.pop("email", columns[0] if columns else "")
        verdict = values[status_at]
        known = verdicts.get(verdict)
        if known is None:
            disposable = verdict == "disposable"
            known = (neutral_status(VENDOR, verdict, is_disposable=disposable), disposable, verdict == "catchall")
            if len(verdicts) < 64:
                verdicts[verdict] = known
        status, disposable, catchall = known
        yield row(  # by position, in the order of the fields
            email,
            status,
            verdict,
            "",  # reason
            disposable,
            flag(values[role_at]),
            flag(values[free_at]),
            catchall,
            flag(values[syntax_at]),
            None,  # suggestion: the CSV has no did-you-mean column (use results_source="results")
            VENDOR,
            job_id,
            record,
        )


def supplied_rows(records: Iterable[Mapping[str, Any] | str]) -> Iterator[bytes]:
    """
    The ``input`` array of a supplied job as JSON bytes, one object per record, without holding
    the list: ``{"email": ..., <other columns>}``. The first record fixes the columns (``email``
    first); later records may omit columns (sent empty) but not add new ones.

    :param records: dicts with an ``email`` key (or bare address strings).
    :raises InvalidRequestError: naming the row (from 1), for a record without an email or with new columns.
    """
    columns: list[str] | None = None
    yield b"["
    for index, record, _ in checked_records(records, vendor=VENDOR, max_rows=None):
        if isinstance(record, str):
            record = {"email": record}
        if columns is None:
            columns = ["email"] + [str(name) for name in record if name != "email"]
        else:
            unknown = [name for name in record if name not in columns]
            if unknown:
                raise InvalidRequestError(
                    f"{VENDOR}: record {index} has columns {unknown!r} that the first record lacks; "
                    f"give every record the same keys ({columns!r})",
                    vendor=VENDOR,
                )
        row = {name: _cell(record.get(name)) for name in columns}
        yield (b"," if index > 1 else b"") + json.dumps(row, ensure_ascii=False).encode("utf-8")
    yield b"]"


def _unexpected(response: RawResponse) -> str:
    """Describes an answer that is not the vendor's envelope, without quoting it (it may hold a secret)."""
    kind = response.headers.get("content-type") or "no content type"
    return f"unexpected answer ({kind}, {len(response.text)} characters)"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
