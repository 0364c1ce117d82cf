# Licensed under the Apache License, Version 2.0.
"""
Bouncer wire formats: batch, credits and result answers (JSON records and the CSV download) into
the neutral model, and the checks of answer shapes. Pure functions, no I/O; the client is
:mod:`~airflow_provider_emailverify.clients.bouncer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.clients.streams import cells_getter, header_index, int_or_none
from airflow_provider_emailverify.exceptions import EmailVerificationError
from airflow_provider_emailverify.jobs import JobInfo, JobState
from airflow_provider_emailverify.results import (
    STATUSES,
    VerdictFacts,
    VerificationResult,
    neutral_status,
    parse_bool,
    verdict_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

VENDOR = "bouncer"

_JOB_STATES = {"queued": JobState.QUEUED, "processing": JobState.RUNNING, "completed": JobState.COMPLETED}
#: Reasons Bouncer documents; ``invalid_email`` is its syntax verdict.
REASONS = frozenset(
    {
        "accepted_email", "low_deliverability", "low_quality", "invalid_email", "invalid_domain",
        "rejected_email", "dns_error", "unavailable_smtp", "unsupported", "timeout", "unknown",
    }
)

#: CSV download columns (undocumented: the names of the JSON record, flattened) -> record path.
CSV_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # field: (path in the JSON record, accepted CSV header names)
    "email": (("email",), ("email",)),
    "name": (("name",), ("name",)),
    "status": (("status",), ("status",)),
    "reason": (("reason",), ("reason",)),
    "acceptAll": (("domain", "acceptAll"), ("acceptAll", "domain.acceptAll", "accept_all")),
    "disposable": (("domain", "disposable"), ("disposable", "domain.disposable")),
    "free": (("domain", "free"), ("free", "domain.free")),
    "role": (("account", "role"), ("role", "account.role")),
    "didYouMean": (("didYouMean",), ("didYouMean", "did_you_mean")),
}
#: the CSV columns :func:`csv_row_parser` reads, in the order it unpacks them
_CSV_FIELDS = ("email", "name", "status", "reason", "acceptAll", "disposable", "free", "role", "didYouMean")


# -- parsers (pure functions: the spec's example bodies are unit-tested against them) ------------
def _error(message: str) -> EmailVerificationError:
    """
    The error for an answer of an unexpected shape.

    :param message: what was wrong with it.
    """
    return EmailVerificationError(f"bouncer: {message}", vendor=VENDOR)


def _facts(
    status: Any, reason: Any, accept_all: Any, disposable: Any, free: Any, role: Any
) -> tuple[str, str, str, bool | None, bool | None, bool | None, bool | None, bool | None]:
    """
    What a record's verdict fields give a neutral row (each field's value, ``None`` when absent):
    the neutral status, the verdict, the reason, the disposable, role, free, catch-all and syntax
    flags.

    :param status: the ``status`` verdict.
    :param reason: the ``reason`` of the verdict.
    :param accept_all: ``domain.acceptAll``.
    :param disposable: ``domain.disposable``.
    :param free: ``domain.free``.
    :param role: ``account.role``.
    """
    vendor_status = verdict_text(status)
    reason_text = str(reason or "")
    is_disposable = parse_bool(disposable)
    return (
        neutral_status(VENDOR, vendor_status, is_disposable=is_disposable),
        vendor_status,
        reason_text,
        is_disposable,
        parse_bool(role),
        parse_bool(free),
        parse_bool(accept_all),
        (reason_text == "invalid_email") if reason_text in REASONS else None,
    )


#: :func:`_facts` remembered, for verdicts and reasons given as text (``1`` and ``True`` are one key)
_FACTS = VerdictFacts(_facts)
_NO_FIELDS: dict[str, Any] = {}


def parse_record(record: Any, *, job_id: str | None = None) -> VerificationResult:
    """
    A Bouncer ``EmailRecord`` (real-time, batch download, batch sync) as a neutral row.

    :param record: the decoded JSON object.
    :param job_id: the batch it came from (``None`` for real-time verification).
    """
    if not isinstance(record, dict) or "email" not in record:
        raise _error(f"unexpected result record {str(record)[:200]!r}")
    get = record.get
    domain = get("domain")
    if not isinstance(domain, dict):
        domain = _NO_FIELDS
    account = get("account")
    if not isinstance(account, dict):
        account = _NO_FIELDS
    status, reason = get("status"), get("reason")
    key = (status, reason, domain.get("acceptAll"), domain.get("disposable"), domain.get("free"), account.get("role"))
    if status.__class__ is str and (reason is None or reason.__class__ is str):
        try:
            facts = _FACTS[key]
        except TypeError:  # a flag that is not a plain value
            facts = _facts(*key)
    else:
        facts = _facts(*key)
    name = get("name")
    return VerificationResult(
        str(record["email"]),
        *facts,
        get("didYouMean") or None,
        VENDOR,
        job_id,
        {"name": name} if name not in (None, "") else {},
    )


def csv_record_reader(header: Sequence[str]):
    """
    A function turning one CSV download row into the JSON record shape :func:`parse_record` reads.

    :param header: the download's header row.
    """
    positions = {field: header_index(header, *names) for field, (_, names) in CSV_COLUMNS.items()}
    if positions["email"] is None or positions["status"] is None:
        raise _error(f"the CSV download has no email/status column (header {list(header)[:20]!r})")

    def to_record(row: Sequence[str]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for field, index in positions.items():
            if index is None or index >= len(row) or row[index] == "":
                continue
            path = CSV_COLUMNS[field][0]
            target = record
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = row[index]
        return record

    return to_record


def csv_row_parser(header: Sequence[str], *, job_id: str | None) -> Callable[[Sequence[str]], VerificationResult]:
    """
    A function turning one CSV download row into a neutral row: :func:`parse_record` of
    :func:`csv_record_reader`'s record, with the columns read by position and no record built.

    :param header: the download's header row.
    :param job_id: the batch the rows came from.
    """
    to_record = csv_record_reader(header)
    cells = cells_getter([header_index(header, *CSV_COLUMNS[field][1]) for field in _CSV_FIELDS])
    facts = _FACTS

    def parse(row: Sequence[str]) -> VerificationResult:
        email, name, status, reason, accept_all, disposable, free, role, suggestion = cells(row)
        if not email:  # no address: parse_record says why
            return parse_record(to_record(row), job_id=job_id)
        return VerificationResult(
            email,
            *facts[(status, reason, accept_all, disposable, free, role)],
            suggestion or None,
            VENDOR,
            job_id,
            {"name": name} if name else {},
        )

    return parse


def merged_note(duplicates: int) -> str:
    """
    What a user is told about a batch whose repeated addresses Bouncer merged.

    :param duplicates: how many submitted entries repeated an earlier one.
    """
    if duplicates == 1:
        return "1 repeated address is merged by Bouncer: results hold one row per distinct address"
    return f"{duplicates} repeated addresses are merged by Bouncer: results hold one row per distinct address"


def parse_duplicates(body: Any) -> int:
    """
    The ``duplicates`` count of a batch answer: submitted entries repeating an earlier one (0 when absent).

    :param body: the decoded batch answer.
    """
    return (int_or_none(body.get("duplicates")) or 0) if isinstance(body, dict) else 0


def parse_batch(body: Any) -> JobInfo:
    """
    A batch status (or creation) answer as :class:`JobInfo`. ``total`` is the submitted entries
    (``quantity``, repeats included); when Bouncer merged repeats, ``message`` says how many
    (:func:`merged_note`), since the results then hold fewer rows than ``total``.

    :param body: the decoded batch answer.
    """
    if not isinstance(body, dict) or "batchId" not in body:
        raise _error(f"unexpected batch answer {str(body)[:200]!r}")
    vendor_status = str(body.get("status") or "")
    # Bouncer documents queued/processing/completed only; anything else is treated as still running.
    state = _JOB_STATES.get(vendor_status.lower(), JobState.RUNNING)
    quantity = int_or_none(body.get("quantity"))
    duplicates = parse_duplicates(body)
    unique = quantity - duplicates if quantity is not None else None
    stats = body.get("stats") if isinstance(body.get("stats"), dict) else {}
    counts = {status: int_or_none(stats.get(status)) or 0 for status in STATUSES} if stats else {}
    processed = int_or_none(body.get("processed"))
    if processed is None:
        processed = sum(counts.values()) if counts else 0
    if state is JobState.COMPLETED:
        progress = 1.0
        processed = processed or (unique or 0)
    elif unique:
        progress = min(1.0, processed / unique)
    else:
        progress = 0.0
    return JobInfo(
        job_id=str(body["batchId"]),
        state=state,
        progress=progress,
        total=quantity,
        processed=processed,
        counts=counts,
        vendor_status=vendor_status,
        message=merged_note(duplicates) if duplicates > 0 else None,
    )


def parse_created(body: Any) -> str:
    """
    The ``batchId`` of a batch-creation answer.

    :param body: the decoded creation answer.
    """
    return parse_batch(body).job_id


def parse_credits(body: Any) -> int:
    """
    The credits left, from a credits answer.

    :param body: the decoded credits answer.
    """
    if not isinstance(body, dict) or int_or_none(body.get("credits")) is None:
        raise _error(f"unexpected credits answer {str(body)[:200]!r}")
    return int(body["credits"])


def embedded_error_status(body: Any) -> int | None:
    """
    The error status of an error envelope served with a 2xx code (``status`` may be ``"404"``).

    :param body: the decoded answer.
    """
    if isinstance(body, dict) and "error" in body and "message" in body:
        status = int_or_none(body.get("status"))
        if status is not None and status >= 400:
            return status
    return None


def as_object(body: Any) -> dict[str, Any]:
    """
    ``body`` when it is a JSON object, else an error.

    :param body: the decoded answer.
    """
    if not isinstance(body, dict):
        raise _error(f"unexpected answer {str(body)[:200]!r}")
    return body


def as_array(body: Any) -> list[Any]:
    """
    ``body`` when it is a JSON array, else an error.

    :param body: the decoded answer.
    """
    if not isinstance(body, list):
        raise _error(f"unexpected answer {str(body)[:200]!r}")
    return body
