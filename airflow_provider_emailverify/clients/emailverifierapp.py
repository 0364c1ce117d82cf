# Licensed under the Apache License, Version 2.0.
"""
Email Verifier App (emailverifierapp.com) client.

Every call is a form POST to ``https://api.evasrv.com`` carrying the ``user_API_token`` field.
Only the real-time endpoint (``/email_verification/``) is confirmed by public code; the batch
trio (batch_process → Job Progress → Get Results) has documented names and answers but
unpublished URLs and request fields, so those are connection extras with the spec's defaults.
A finished batch is three CSV files behind links (valid, invalid, unknown), each streamed.
Errors may come as HTTP errors or as ``{"status": "failed", "message": ...}`` in a 200 answer.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin

from airflow_provider_emailverify.clients.base import ApiCall, extra_field, with_form, with_params
from airflow_provider_emailverify.clients.streams import (
    blocks,
    cells_getter,
    checked_records,
    has_content,
    header_index,
    multipart_body,
)
from airflow_provider_emailverify.clients.verification import VerificationClient, job_limit_extras
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    EmailVerificationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    PayloadTooLargeError,
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
    from collections.abc import Callable, Iterable, Iterator, Sequence

    import httpx

    from airflow_provider_emailverify.clients.base import RawResponse

log = logging.getLogger(__name__)

VENDOR = "emailverifierapp"
VERIFY_PATH = "/email_verification/"
#: [ASSUMED] settings of the batch API (connection extras of the same names).
BATCH_DEFAULTS: dict[str, str] = {
    "batch_path": "/batch_process/",
    "progress_path": "/job_progress/",
    "results_path": "/get_results/",
    "batch_file_field": "file",
    "job_id_field": "job_id",
}
#: Get Results link fields -> the verdict of the file behind them (documented names).
RESULT_FILES: tuple[tuple[str, str], ...] = (
    ("valid_result_link", "Valid"),
    ("invalid_result_link", "Invalid"),
    ("unknown_link", "Unknown"),
)
_STAGES = {"in queue": JobState.QUEUED, "queued": JobState.QUEUED, "processing": JobState.RUNNING}
_VENDOR_COLUMNS = ("status", "free email", "disposable", "role address", "bad address", "typo suggestion")


# -- parsers ---------------------------------------------------------------------------------------
def _error(message: str) -> EmailVerificationError:
    return EmailVerificationError(f"emailverifierapp: {message}", vendor=VENDOR)


def _first(body: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in body:
            return body[name]
    return None


def _suggestion(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return None if text.lower() in ("", "none", "null", "false") else text


#: the catch-all flag a verdict gives (:func:`_catchall`)
_CATCHALL_BY_VERDICT = {"risky": True, "valid": False, "invalid": False}


def _catchall(verdict: str, reason: str = "") -> bool | None:
    """
    EVA's Risky means "the domain accepts everything"; a definite verdict means it does not. The
    attribute-page body also calls disposable addresses risky, with the reason ``Low Quality``.
    """
    verdict = verdict.strip().lower()
    if verdict == "risky" and reason:
        return reason.strip().lower() == "low deliverability"
    return _CATCHALL_BY_VERDICT.get(verdict)


def parse_verify(body: Any, *, email: str | None = None) -> VerificationResult:
    """
    A real-time (or form validation) answer as a neutral row. Both documented body shapes are
    read: ``status: Valid`` with ``free_email``/``role_address``/``typo_suggest``, and the
    attribute page's ``result: valid`` with ``reason``, ``free``/``role``/``did_you_mean``.

    :param body: the decoded answer.
    :param email: the submitted address (used when the answer leaves ``email`` empty).
    """
    if not isinstance(body, dict):
        raise _error(f"unexpected verification answer {str(body)[:200]!r}")
    verdict = _first(body, "result", "status")
    if verdict is None or str(verdict).lower() in ("success", "failed", ""):
        raise _error(f"the verification answer has no verdict: {str(body)[:200]!r}")
    verdict = str(verdict)
    reason = str(body.get("reason") or "")
    return VerificationResult.from_vendor(
        vendor=VENDOR,
        email=str(body.get("email") or email or ""),
        vendor_status=verdict,
        reason=reason,
        is_disposable=parse_bool(body.get("disposable")),
        is_role=parse_bool(_first(body, "role_address", "role")),
        is_free=parse_bool(_first(body, "free_email", "free")),
        is_catchall=_catchall(verdict, reason),
        is_syntax_error=(reason.lower() == "invalid email") if reason else None,
        suggestion=_suggestion(_first(body, "typo_suggest", "did_you_mean")),
    )


def parse_percentage(value: Any) -> float:
    try:
        return float(str(value).strip().rstrip("%"))
    except (TypeError, ValueError):
        return 0.0


def parse_progress(body: Any, *, job_id: str) -> JobInfo:
    """A Job Progress (or Get Results) answer as :class:`JobInfo`."""
    if not isinstance(body, dict) or ("stage" not in body and "percentage" not in body):
        raise _error(f"unexpected job progress answer {str(body)[:200]!r}")
    stage = str(body.get("stage") or "")
    percentage = parse_percentage(body.get("percentage"))
    if stage.strip().lower() == "completed" and percentage >= 100:
        state = JobState.COMPLETED
    else:
        state = _STAGES.get(stage.strip().lower(), JobState.RUNNING)
    return JobInfo(
        job_id=job_id,
        state=state,
        progress=1.0 if state is JobState.COMPLETED else max(0.0, min(1.0, percentage / 100)),
        vendor_status=stage,
    )


def parse_job_ids(body: Any) -> list[str]:
    """The job id(s) of a batch_process answer (a list, a scalar, or numbers)."""
    value = _first(body, "job_id", "job_ids", "jobId") if isinstance(body, dict) else None
    values = value if isinstance(value, list) else [value] if value not in (None, "") else []
    ids = [str(v) for v in values if v not in (None, "")]
    if not ids:
        raise _error(f"unexpected batch_process answer {str(body)[:200]!r}")
    return ids


def _has_header(row: Sequence[str]) -> bool:
    cells = [c.strip().lower() for c in row]
    return not any("@" in c for c in cells) and any("email" in c or c == "status" for c in cells)


def _file_facts(
    verdict: str, column: str | None, disposable: str | None, role: str | None, free: str | None
) -> tuple[str, str, str, bool | None, bool | None, bool | None, bool | None, None]:
    """
    What a result file's verdict (which file the row is in) and a row's verdict columns (``None``
    where absent) give a neutral row: the neutral status, the verdict, the reason (none), the
    disposable, role, free and catch-all flags, and the syntax flag (not given).
    """
    status_column = (column or "").strip()
    is_disposable = parse_text_flag(disposable)
    status = neutral_status(VENDOR, verdict, is_disposable=is_disposable)
    if verdict == "Unknown" and status_column.lower() == "risky":
        status = neutral_status(VENDOR, status_column, is_disposable=is_disposable)
    return (
        status,
        status_column or verdict,
        "",
        is_disposable,
        parse_text_flag(role),
        parse_text_flag(free),
        _catchall(status_column or verdict),
        None,
    )


_FILE_FACTS = VerdictFacts(_file_facts)


def file_row_parser(
    header: Sequence[str] | None, *, verdict: str, job_id: str | None
) -> Callable[[Sequence[str]], VerificationResult]:
    """
    A function turning one row of a result file into a neutral row. The file's verdict decides
    the status (valid → deliverable, invalid → undeliverable, unknown → unknown; deliverable and
    disposable → risky); a ``Status`` column of ``Risky`` in the unknown file makes it risky.
    Cells are read by position and each combination of verdict columns is mapped once
    (:class:`~airflow_provider_emailverify.results.VerdictFacts`).

    :param header: the file's header row, ``None`` when the file has none (email first).
    :param verdict: ``Valid``, ``Invalid`` or ``Unknown`` (which file the row is in).
    """
    header = list(header or [])
    email_at = header_index(header, "email", "email address")
    if email_at is None:
        email_at = next(
            (i for i, h in enumerate(header) if "email" in h.lower() and "free" not in h.lower()), 0
        )
    suggestion_at = header_index(header, "Typo Suggestion", "typo_suggest", "did_you_mean")
    verdict_cells = cells_getter(
        [
            header_index(header, "Status"),
            header_index(header, "Disposable"),
            header_index(header, "Role Address", "role_address", "role"),
            header_index(header, "Free Email", "free_email", "free"),
        ]
    )
    facts = _FILE_FACTS

    def parse(row: Sequence[str]) -> VerificationResult:
        count = len(row)
        suggestion = row[suggestion_at] if suggestion_at is not None and suggestion_at < count else None
        return VerificationResult(
            row[email_at] if email_at < count else "",
            *facts[(verdict, *verdict_cells(row))],
            _suggestion(suggestion) if suggestion else None,
            VENDOR,
            job_id,
            {},
        )

    return parse


def _is_absolute(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def _assumed(label: str, default: str) -> dict[str, Any]:
    """A connection extra for a batch API point the spec could not confirm."""
    return extra_field(label, f"[ASSUMED, unconfirmed against the live service] default {default}")


class EmailVerifierAppClient(VerificationClient):
    """
    Email Verifier App API.

    Extras ([ASSUMED] points of the spec, with its defaults): ``batch_path``
    (``/batch_process/``), ``progress_path`` (``/job_progress/``), ``results_path``
    (``/get_results/``), ``batch_file_field`` (``file``), ``job_id_field`` (``job_id``),
    ``result_links_need_token`` (``false``: result files are fetched with a plain GET). The
    vendor publishes no size limits, so ``max_rows_per_job`` (default 100,000) and
    ``max_upload_bytes`` (default: no limit) are settings too.

    See :class:`~airflow_provider_emailverify.clients.base.BaseClient` for the other parameters.
    """

    vendor: ClassVar[str] = VENDOR
    default_base_url: ClassVar[str] = "https://api.evasrv.com"
    #: No limits are published: rows per job and upload bytes are the extras' assumed defaults.
    max_job_size: ClassVar[int] = 100_000
    can_find_jobs: ClassVar[bool] = False
    connection_extras: ClassVar[dict[str, dict[str, Any]]] = {
        **job_limit_extras(
            "[ASSUMED, no limit is published] default 100,000",
            "[ASSUMED, no limit is published] default: none (the file is sent whatever its size)",
        ),
        "batch_path": _assumed("batch_process path", "/batch_process/"),
        "progress_path": _assumed("Job Progress path", "/job_progress/"),
        "results_path": _assumed("Get Results path", "/get_results/"),
        "batch_file_field": _assumed("batch_process file field", "file"),
        "job_id_field": _assumed("Job id field", "job_id"),
        "result_links_need_token": {
            "label": "Send the token to result links",
            "description": "[ASSUMED] default false: result files are fetched with a plain GET",
            "schema": {"type": ["boolean", "null"]},
        },
    }
    password_label: ClassVar[str] = "API token (user_API_token)"
    unprocessed_statuses: ClassVar[frozenset[int]] = frozenset({503})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = {name: str(self.extras.get(name) or default) for name, default in BATCH_DEFAULTS.items()}
        self.link_token = parse_bool(self.extras.get("result_links_need_token")) is True

    # -- transport hooks ---------------------------------------------------------------------
    def url(self, call: ApiCall[Any]) -> str:
        return call.path if _is_absolute(call.path) else super().url(call)

    def authenticate(self, call: ApiCall[Any]) -> ApiCall[Any]:
        if _is_absolute(call.path):  # a result file link: never send the token to another host unasked
            return with_params(call, user_API_token=self.api_key) if self.link_token else call
        if call.content is not None:  # multipart: the token is one of its parts (see submit_job)
            return call
        return with_form(call, user_API_token=self.api_key)

    def check(self, call: ApiCall[Any], response: RawResponse) -> None:
        super().check(call, response)  # 429, 5xx
        status, body = response.status, response.body
        failed = status >= 300 or (
            isinstance(body, dict)
            and (str(body.get("status", "")).lower() == "failed" or parse_bool(body.get("success")) is False)
        )
        if not failed:
            return
        message = (self.message_of(response) or "").lower()
        if status == 401 or "token" in message or "auth" in message:
            self.raise_error(AuthenticationError, call, response)
        if status == 402 or "credit" in message:
            self.raise_error(InsufficientCreditsError, call, response)
        if "too large" in message:
            self.raise_error(PayloadTooLargeError, call, response)
        if "not found" in message or (status == 404 and isinstance(body, dict)):
            self.raise_error(JobNotFoundError, call, response)
        if status == 404:  # not a vendor answer: the path itself is wrong
            raise InvalidRequestError(
                self.error_text(call, response, "no such endpoint (check the batch path extras)"),
                **self._error_kwargs(response),
            )
        if status < 500:
            self.raise_error(InvalidRequestError, call, response)
        self.raise_error(EmailVerificationError, call, response)

    def _form(self, setting: str, endpoint: str, parse: Any, **fields: Any) -> ApiCall[Any]:
        return ApiCall("POST", self.settings[setting], endpoint, parse=parse, data=fields,
                       headers={"Cache-Control": "no-cache"})

    # -- batches -------------------------------------------------------------------------------
    def submit_job(self, records: Iterable[dict[str, Any]], *, name: str | None = None) -> str:
        """
        Upload ``records`` as one file (one address per line) to batch_process; returns the job id.
        An address with a line break cannot be written to such a file: it is refused before
        anything is sent (:class:`InvalidRequestError` naming the record), and so is a file past
        ``max_upload_bytes`` (:class:`PayloadTooLargeError` naming the record).

        The file is spooled first (a retry sends the same bytes) and the token part is prepended
        at send time, so it never lands in the spool. Retried only when the upload provably did
        not reach the vendor.

        :param records: dicts with an ``email`` key (at most :attr:`max_job_size`).
        :param name: a label for logs.
        """
        counter = [0]

        def lines() -> Iterator[tuple[int, bytes]]:
            rows = checked_records(records, vendor=VENDOR, max_rows=self.max_job_size, one_per_line=True)
            for index, _, email in rows:
                counter[0] = index
                yield index, email.encode("utf-8") + b"\r\n"

        content_type, generate = multipart_body(
            {}, file_field=self.settings["batch_file_field"], filename="emails.txt", content_type="text/plain",
            chunks=lambda: self.limited_upload(lines()),
        )
        boundary = content_type.split("boundary=", 1)[1]
        token_part = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="user_API_token"\r\n\r\n{self.api_key}\r\n'
        ).encode()
        call = ApiCall(
            "POST", self.settings["batch_path"], "batch_process", parse=parse_job_ids,
            headers={"Content-Type": content_type},
        )
        ids, _ = self.create_job_from(
            blocks(generate()), call, name=name, content=lambda spool: partial(spool.replay, prefix=token_part)
        )
        if len(ids) > 1:
            log.warning("emailverifierapp batch_process returned %d job ids for one file: %s", len(ids), ids)
        log.info("emailverifierapp job %s created for %d addresses (%s)", ids[0], counter[0], name or "unnamed")
        return ids[0]

    def job_status_call(self, job_id: str) -> ApiCall[JobInfo]:
        return self._form(
            "progress_path", "job progress", lambda body: parse_progress(body, job_id=job_id),
            **{self.settings["job_id_field"]: job_id},
        )

    def results_call(self, job_id: str) -> ApiCall[dict[str, Any]]:
        """Get Results: progress, stage and the three file links."""

        def parse(body: Any) -> dict[str, Any]:
            parse_progress(body, job_id=job_id)  # validates the shape
            return body

        return self._form("results_path", "get results", parse, **{self.settings["job_id_field"]: job_id})

    def get_result_links(self, job_id: str) -> dict[str, str]:
        """The result file URLs of a finished job: ``{"valid": url, "invalid": url, "unknown": url}``."""
        body = self.call(self.results_call(job_id))
        info = parse_progress(body, job_id=job_id)
        if info.state is not JobState.COMPLETED:
            raise JobNotReadyError(
                f"emailverifierapp job {job_id} is not finished ({info.vendor_status}, {info.progress:.0%})",
                vendor=VENDOR,
            )
        return {
            verdict.lower(): urljoin(self.base_url + "/", str(body[field]))
            for field, verdict in RESULT_FILES
            if body.get(field)
        }

    def cancel_call(self, job_id: str) -> ApiCall[Any]:
        raise InvalidRequestError("Email Verifier App has no endpoint to cancel or delete a job", vendor=VENDOR)

    def cancel_job(self, job_id: str) -> None:
        """
        Email Verifier App cannot cancel or delete a job: nothing is sent, and the error says the
        job keeps running (and is paid for), so no caller takes it for cancelled.
        """
        raise InvalidRequestError(
            f"emailverifierapp job {job_id} cannot be cancelled (the API has no such endpoint): it keeps running",
            vendor=VENDOR,
        )

    async def acancel_job(self, job_id: str, client: httpx.AsyncClient | None = None) -> None:
        self.cancel_job(job_id)

    def iter_results(self, job_id: str) -> Iterator[VerificationResult]:
        """Stream the three result files (valid, invalid, unknown), each restartable on its own."""
        links = self.get_result_links(job_id)
        for _, verdict in RESULT_FILES:
            link = links.get(verdict.lower())
            if not link:
                log.info("emailverifierapp job %s has no %s file", job_id, verdict.lower())
                continue
            yield from self.iter_restartable(
                lambda link=link, verdict=verdict: self._file_rows(link, verdict, job_id),
                what=f"job {job_id} {verdict.lower()} file",
            )

    def _file_rows(self, link: str, verdict: str, job_id: str) -> Iterator[VerificationResult]:
        call = ApiCall("GET", link, f"{verdict.lower()} results file", headers={"Accept": "text/csv, text/plain"})
        reader = self.stream_csv(call)
        first = next(reader, None)
        if first is None:
            return
        header = first if _has_header(first) else None
        parse = file_row_parser(header, verdict=verdict, job_id=job_id)
        if header is None:
            yield parse(first)
        yield from map(parse, filter(has_content, reader))

    # -- single address, account -----------------------------------------------------------------
    def verify_email(self, email: str) -> VerificationResult:
        """Real-time verification (1 API credit)."""
        return self.call(
            ApiCall("POST", VERIFY_PATH, "email_verification", data={"email": email},
                    parse=lambda body: parse_verify(body, email=email), headers={"Cache-Control": "no-cache"})
        )

    def validate_form_email(
        self,
        email: str,
        *,
        free: bool = True,
        disposable: bool = True,
        did_you_mean: bool = True,
        role: bool = True,
        bad: bool = True,
        ev_score: bool = False,
    ) -> VerificationResult:
        """
        The Form Validation API: a lighter, format/domain-level check for sign-up forms
        (``Valid``/``Invalid`` only), with the requested flags.
        """
        flags = {"free": free, "disposable": disposable, "did_you_mean": did_you_mean, "role": role,
                 "bad": bad, "ev_score": ev_score}
        fields = {"email": email, **{k: "true" for k, v in flags.items() if v}}
        return self.call(
            ApiCall("POST", VERIFY_PATH, "form validation", data=fields,
                    parse=lambda body: parse_verify(body, email=email), headers={"Cache-Control": "no-cache"})
        )

    def get_credits(self) -> None:
        """Email Verifier App publishes no balance endpoint: always ``None``."""

    def test_connection(self) -> tuple[bool, str]:
        """
        Ask Job Progress about a job that does not exist (free): "not found" proves the token was
        accepted, an authentication failure that it was not.
        """
        try:
            self.get_job("connection-test")
        except JobNotFoundError:
            return True, "Connected to Email Verifier App: the API token was accepted"
        except EmailVerificationError as err:
            return False, err.message
        return True, "Connected to Email Verifier App"
