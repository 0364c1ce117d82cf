# Licensed under the Apache License, Version 2.0.
"""
Bouncify wire formats: verification, job status, upload, account and result-file answers into
the neutral model, and the table of error texts. Pure functions, no I/O; the client is
:mod:`~airflow_provider_emailverify.clients.bouncify`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.clients.streams import cells_getter, header_index, int_or_none
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    EmailVerificationError,
    InsufficientCreditsError,
    JobNotFoundError,
    JobNotReadyError,
)
from airflow_provider_emailverify.jobs import JobInfo, JobState
from airflow_provider_emailverify.results import (
    VerdictFacts,
    VerificationResult,
    neutral_status,
    parse_bool,
    parse_text_flag,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

VENDOR = "bouncify"

_JOB_STATES = {
    "preparing": JobState.QUEUED,
    "ready": JobState.QUEUED,
    "verifying": JobState.RUNNING,
    "completed": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}
ACCEPT_ALL = frozenset({"accept_all", "accept-all", "accept all"})
#: Verification columns Bouncify appends to the uploaded file's own columns.
RESULT_COLUMNS = ("verification result", "syntax error", "isp", "role", "disposable", "trap", "verified at", "accept-all")


# -- parsers ---------------------------------------------------------------------------------------
def _error(message: str) -> EmailVerificationError:
    """
    The error for an answer of an unexpected shape.

    :param message: what was wrong with it.
    """
    return EmailVerificationError(f"bouncify: {message}", vendor=VENDOR)


def _catchall(result: str, flag: Any = None) -> bool | None:
    """
    Catch-all from the verdict (accept-all) or the integer ``accept_all`` flag (2: undetermined).

    :param result: the verdict.
    :param flag: the ``accept_all`` flag or column, when given.
    """
    verdict = result.strip().lower()
    if verdict in ACCEPT_ALL:
        return True
    if flag is not None and str(flag).strip() != "":
        return None if str(flag).strip() == "2" else parse_bool(flag)
    return False if verdict in ("deliverable", "undeliverable") else None


def parse_verify(body: Any) -> VerificationResult:
    """
    A single-verification answer (``GET /v1/verify``) as a neutral row.

    :param body: the decoded answer.
    """
    if not isinstance(body, dict) or "result" not in body or "email" not in body:
        raise _error(f"unexpected verification answer {str(body)[:200]!r}")
    result = str(body["result"])
    return VerificationResult.from_vendor(
        vendor=VENDOR,
        email=str(body["email"]),
        vendor_status=result,
        is_disposable=parse_bool(body.get("disposable")),
        is_role=parse_bool(body.get("role")),
        is_free=parse_bool(body.get("free_email")),
        is_catchall=_catchall(result, body.get("accept_all")),
        # a malformed address is refused with HTTP 400, so an answer means the syntax passed
        is_syntax_error=False,
    )


def parse_status(body: Any) -> JobInfo:
    """
    A job status answer (``GET /v1/bulk``) as :class:`JobInfo`.

    :param body: the decoded answer.
    """
    if not isinstance(body, dict) or "job_id" not in body or "status" not in body:
        raise _error(f"unexpected job status answer {str(body)[:200]!r}")
    vendor_status = str(body["status"])
    state = _JOB_STATES.get(vendor_status.lower(), JobState.RUNNING)
    total = int_or_none(body.get("total"))
    verified = int_or_none(body.get("verified")) or 0
    results = body.get("results") if isinstance(body.get("results"), dict) else {}
    counts: dict[str, int] = {}
    for key, value in results.items():
        status = neutral_status(VENDOR, key)
        counts[status] = counts.get(status, 0) + (int_or_none(value) or 0)
    if state is JobState.COMPLETED:
        progress, verified = 1.0, verified or (total or 0)
    else:
        progress = min(1.0, verified / total) if total else 0.0
    return JobInfo(
        job_id=str(body["job_id"]),
        state=state,
        progress=progress,
        total=total,
        processed=verified,
        counts=counts,
        vendor_status=vendor_status,
        message=str(body.get("message")) if state in (JobState.FAILED, JobState.CANCELLED) else None,
    )


def parse_job_id(body: Any) -> str:
    """
    The ``job_id`` of an upload answer.

    :param body: the decoded answer.
    """
    if not isinstance(body, dict) or not body.get("job_id"):
        raise _error(f"unexpected upload answer {str(body)[:200]!r}")
    return str(body["job_id"])


def parse_credits(body: Any) -> int:
    """
    The credits remaining, from an account answer (``GET /v1/info``).

    :param body: the decoded answer.
    """
    info = body.get("credits_info") if isinstance(body, dict) else None
    if not isinstance(info, dict) or int_or_none(info.get("credits_remaining")) is None:
        raise _error(f"unexpected account answer {str(body)[:200]!r}")
    return int(info["credits_remaining"])


def _facts(
    result: str | None, disposable: str | None, role: str | None, isp: str | None, syntax: str | None,
    accept_all: str | None,
) -> tuple[str, str, str, bool | None, bool | None, bool | None, bool | None, bool | None]:
    """
    What a result row's verdict columns (``None`` where absent) give a neutral row: the neutral
    status, the verdict, the reason (none), the disposable, role, free, catch-all and syntax flags.

    :param result: the ``Verification Result`` column.
    :param disposable: the ``Disposable`` column.
    :param role: the ``Role`` column.
    :param isp: the ``ISP`` column (a free mail provider).
    :param syntax: the ``Syntax Error`` column.
    :param accept_all: the accept-all column.
    """
    verdict = result or ""
    is_disposable = parse_text_flag(disposable)
    return (
        neutral_status(VENDOR, verdict, is_disposable=is_disposable),
        verdict,
        "",
        is_disposable,
        parse_text_flag(role),
        parse_text_flag(isp),
        _catchall(verdict, accept_all),
        parse_text_flag(syntax),
    )


_FACTS = VerdictFacts(_facts)


def csv_row_parser(header: Sequence[str], *, job_id: str | None) -> Callable[[Sequence[str]], VerificationResult]:
    """
    A function turning one row of the result CSV into a neutral row. Columns are found by name:
    the email is the ``Email`` column, else the first; the uploaded file's other columns are
    passed through in ``extra``. Cells are read by position and each combination of verdict
    columns is mapped once (:class:`~airflow_provider_emailverify.results.VerdictFacts`).

    :param header: the result file's header row.
    :param job_id: the list the rows came from.
    """
    result_at = header_index(header, "Verification Result")
    if result_at is None:
        raise _error(f"the result file has no 'Verification Result' column (header {list(header)[:20]!r})")
    email_at = header_index(header, "Email")
    email_at = 0 if email_at is None else email_at
    verdict_cells = cells_getter(
        [
            result_at,
            header_index(header, "Disposable"),
            header_index(header, "Role"),
            header_index(header, "ISP"),
            header_index(header, "Syntax Error"),
            header_index(header, "Accept-all", "Accept All", "accept_all"),
        ]
    )
    passthrough = [
        (i, name)
        for i, name in enumerate(header)
        if i != email_at and name.strip() and name.strip().lower() not in RESULT_COLUMNS
    ]
    facts = _FACTS

    def parse(row: Sequence[str]) -> VerificationResult:
        return VerificationResult(
            (row[email_at] if email_at < len(row) else None) or "",
            *facts[verdict_cells(row)],
            None,
            VENDOR,
            job_id,
            {name: row[i] for i, name in passthrough if i < len(row)} if passthrough else {},
        )

    return parse


def answer_ok(body: Any) -> bool:
    """
    Bouncify's ``success`` flag (boolean or the strings ``"true"``/``"false"``); absent counts as ok.

    :param body: the decoded answer.
    """
    if not isinstance(body, dict) or "success" not in body:
        return True
    return parse_bool(body["success"]) is not False


#: Vendor error text (lower-cased) -> exception, first match wins.
ERRORS: tuple[tuple[str, type[EmailVerificationError]], ...] = (
    ("not found", JobNotFoundError),
    ("invalid api key", AuthenticationError),
    ("insufficient", InsufficientCreditsError),
    ("already started", JobNotReadyError),
    ("not ready", JobNotReadyError),
    ("being verified", JobNotReadyError),
    ("being prepared", JobNotReadyError),
    ("ready for verification", JobNotReadyError),
    ("being processed", JobNotReadyError),
    ("cannot be downloaded", JobNotReadyError),
    ("restricted", EmailVerificationError),
)
