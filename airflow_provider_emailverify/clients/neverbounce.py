# Licensed under the Apache License, Version 2.0.
"""
NeverBounce v4.2 client (specs/neverbounce.md, sections 1-4 and 6-8).

Every endpoint is sent as ``POST`` with a JSON body (the API treats GET and POST alike and
merges query and body parameters). The API key goes into the JSON body by default, so it never
appears in a URL; the ``key_location`` extra ``"query"`` sends it in the query string instead
(as the vendor's Python SDK does), where the base redacts it from errors and library logs.

NeverBounce answers application errors with HTTP 200 and ``status`` != ``success``;
:meth:`NeverBounceClient.check` maps them to this package's exceptions.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.clients.base import (
    ApiCall,
    SpooledBody,
    VerificationClient,
    checked_records,
    with_params,
)
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    EmailVerificationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    PayloadTooLargeError,
    ThrottledError,
    TransientError,
)
from airflow_provider_emailverify.jobs import JobInfo, JobState
from airflow_provider_emailverify.results import VerificationResult, parse_bool

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


def job_info_from_status(body: Mapping[str, Any]) -> JobInfo:
    """
    Neutral :class:`JobInfo` from a ``jobs/status`` answer (or a ``jobs/search`` item).
    Every counter may be null (spec 4.6); ``failure_reason`` becomes the message.

    :param body: the decoded status object.
    """
    vendor_status = str(body.get("job_status") or body.get("status") or "")
    state = JOB_STATES.get(vendor_status)
    if state is None:
        log.warning("NeverBounce job %s has an undocumented job_status %r", body.get("id"), vendor_status)
        state = JobState.RUNNING
    total = body.get("total") or {}
    records = _int(total.get("records"))
    if not records and vendor_status in ("uploading", "parsing"):
        records = None  # not counted yet
    processed = _int(total.get("processed")) or 0
    verdicts = {name: _int(total.get(name)) for name in ("valid", "invalid", "disposable", "catchall", "unknown")}
    counts: dict[str, int] = {}
    if any(value is not None for value in verdicts.values()):
        counts = {
            "deliverable": verdicts["valid"] or 0,
            "risky": (verdicts["disposable"] or 0) + (verdicts["catchall"] or 0),
            "undeliverable": verdicts["invalid"] or 0,
            "unknown": verdicts["unknown"] or 0,
        }
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


#: ``binary_operators_type`` spellings (BIN_1_0, BIN_Y_N, BIN_y_n, BIN_yes_no, BIN_Yes_No, BIN_true_false).
_FLAG_VALUES = {
    text: value
    for value, spellings in ((True, ("1", "Y", "y", "yes", "Yes", "true")), (False, ("0", "N", "n", "no", "No", "false")))
    for text in spellings
}


def _flag(lookup: Any, text: str) -> bool | None:
    value = lookup(text, _FLAG_VALUES)  # the dict itself marks "not a known spelling"
    return parse_bool(text) if value is _FLAG_VALUES else value


def rows_from_download(lines: Iterable[str], *, job_id: str) -> Iterator[VerificationResult]:
    """
    Neutral rows from a ``jobs/download`` CSV asked with :data:`DOWNLOAD_APPENDS`, one at a time.

    The first line is the header (submitted object keys, then the appended column names);
    without one, the email is taken as the first column. Columns other than ``email`` become
    ``extra``. A data line repeating the header (the vendor's recorded header artefact) is skipped.

    :param lines: the CSV's lines (any line ending; a ``\\n\\r`` feed leaves stray ``\\r`` we drop).
    :param job_id: the job the rows belong to.
    """
    appended = len(DOWNLOAD_APPENDS)
    flag = _FLAG_VALUES.get
    reader = csv.reader(line.lstrip("\r") + "\n" for line in lines if line.strip("\r"))
    names: list[str] | None = None
    positions: dict[str, int] = {}
    for values in reader:
        if names is None:
            if len(values) >= appended and set(values[-appended:]) == set(DOWNLOAD_APPENDS):
                names = values[:-appended]
                positions = {name: len(names) + i for i, name in enumerate(values[-appended:])}
                continue
            names = ["email"] + [str(i) for i in range(1, max(1, len(values) - appended))]
            positions = {name: len(names) + i for i, name in enumerate(DOWNLOAD_APPENDS)}
        if len(values) < len(names) + appended:
            raise EmailVerificationError(
                f"neverbounce jobs/download of job {job_id}: a row has {len(values)} columns, "
                f"expected {len(names) + appended}",
                vendor=VENDOR,
            )
        columns = values[: len(names)]
        if columns == names:
            continue
        record = dict(zip(names, columns))
        email = record.pop("email", columns[0] if columns else "")
        verdict = values[positions["email_status"]]
        yield VerificationResult.from_vendor(
            vendor=VENDOR,
            email=email,
            vendor_status=verdict,
            job_id=job_id,
            is_disposable=verdict == "disposable",
            is_role=_flag(flag, values[positions["role_account"]]),
            is_free=_flag(flag, values[positions["free_email_host"]]),
            is_catchall=verdict == "catchall",
            is_syntax_error=_flag(flag, values[positions["bad_syntax"]]),
            suggestion=None,  # the CSV has no did-you-mean column (use results_source="results")
            extra=record,
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


class _JsonObjectBody:
    """
    A streamed JSON object body (``{...}``) to which :meth:`NeverBounceClient.authenticate` can
    add the key as a first member: the spooled bytes are the members without the opening brace.
    """

    def __init__(self, spool: SpooledBody, first_members: bytes = b"") -> None:
        self.spool, self.first_members = spool, first_members

    def with_members(self, **members: Any) -> _JsonObjectBody:
        extra = b"".join(json.dumps(k).encode() + b":" + json.dumps(v).encode() + b"," for k, v in members.items())
        return _JsonObjectBody(self.spool, self.first_members + extra)

    def __call__(self):
        return self.spool.replay(prefix=b"{" + self.first_members)


class NeverBounceClient(VerificationClient):
    """
    NeverBounce v4.2 (``https://api.neverbounce.com/v4.2/...``).

    Connection extras read here (all optional):
    ``api_version`` (``v4.2``; ``v4``/``v4.1`` also served), ``key_location`` (``body`` or
    ``query``), ``results_source`` (``download``: streamed CSV, the default; ``results``: the
    paginated JSON endpoint, which also carries did-you-mean suggestions),
    ``download_line_feed_type`` (``LINEFEED_0A``), ``include_duplicates`` (true: one result row
    per submitted row), ``allow_manual_review`` (false), ``leverage_historical_data``
    (unset: the vendor default), ``max_payload_bytes`` (25,000,000), ``results_page_size`` (1000).

    ``max_job_size`` is 100,000 rows: the vendor's hard limit is a 25 MB supplied payload, which
    100,000 rows stay well under for addresses with a few short columns (about 250 bytes a row
    would be needed to reach it); bigger rows hit the byte check before anything is sent.

    :param kwargs: see :class:`~airflow_provider_emailverify.clients.base.BaseClient`.
    """

    vendor = VENDOR
    default_base_url = "https://api.neverbounce.com"
    max_job_size = 100_000
    can_find_jobs = True

    # -- settings ---------------------------------------------------------------------------------
    def _extra(self, name: str, default: Any) -> Any:
        value = self.extras.get(name)
        return default if value in (None, "") else value

    @property
    def api_version(self) -> str:
        return str(self._extra("api_version", "v4.2")).strip("/")

    # -- wire ---------------------------------------------------------------------------------------
    def authenticate(self, call: ApiCall[Any]) -> ApiCall[Any]:
        if self._extra("key_location", "body") == "query":
            return with_params(call, key=self.api_key)
        if isinstance(call.content, _JsonObjectBody):
            return replace(call, content=call.content.with_members(key=self.api_key))
        return replace(call, json={**(call.json or {}), "key": self.api_key})

    def endpoint_call(self, endpoint: str, parse: Any = lambda body: body, **params: Any) -> ApiCall[Any]:
        """An ``ApiCall`` for ``/<version>/<endpoint>`` with ``params`` as the JSON body."""
        return ApiCall(
            method="POST",
            path=f"/{self.api_version}/{endpoint}",
            endpoint=endpoint,
            parse=parse,
            json={name: value for name, value in params.items() if value is not None},
        )

    def check(self, call: ApiCall[Any], response: RawResponse) -> None:
        super().check(call, response)
        if response.status == 413:
            self.raise_error(PayloadTooLargeError, call, response)
        if response.status in (401, 403):
            self.raise_error(AuthenticationError, call, response)
        if response.status >= 400:
            self.raise_error(InvalidRequestError, call, response)
        body = response.body
        if not isinstance(body, dict) or "status" not in body:
            # A proxy page or a truncated answer instead of the JSON envelope.
            raise TransientError(
                self.error_text(call, response, _unexpected(response)),
                **self._error_kwargs(response),
            )
        status = body.get("status")
        if status == "success":
            return
        message = self.message_of(response) or str(status)
        if status == "auth_failure" or status == "bad_referrer":
            self.raise_error(AuthenticationError, call, response)
        if status == "throttle_triggered":
            self.raise_error(ThrottledError, call, response)
        if status == "temp_unavail":
            self.raise_error(TransientError, call, response)
        if status == "general_failure":
            if _NO_CREDITS.search(message):
                self.raise_error(InsufficientCreditsError, call, response)
            if _NOT_FOUND.search(message):
                self.raise_error(JobNotFoundError, call, response)
            if _NOT_READY.search(message) and call.endpoint.startswith("jobs/"):
                self.raise_error(JobNotReadyError, call, response)
            self.raise_error(InvalidRequestError, call, response)
        self.raise_error(EmailVerificationError, call, response)

    # -- account and single checks ------------------------------------------------------------------
    def account_info(self) -> dict[str, Any]:
        """The ``account/info`` answer (credits and job counts)."""
        return self.call(self.endpoint_call("account/info"))

    def get_credits(self) -> int | None:
        return credits_from_account(self.account_info())

    def test_connection(self) -> tuple[bool, str]:
        try:
            credits = credits_from_account(self.account_info())
        except EmailVerificationError as err:
            return False, err.vendor_message or str(err)
        return True, f"Connected to NeverBounce {self.api_version}: {credits} credits available"

    def verify_email(self, email: str, *, timeout: int | None = None) -> VerificationResult:
        """
        ``single/check`` (1 credit, billed again on every retry the vendor received).

        :param email: the address.
        :param timeout: the vendor's own verification budget in seconds (answers ``unknown`` past it).
        """

        def parse(body: dict[str, Any]) -> VerificationResult:
            return result_from_verification(email, body)

        call = self.endpoint_call(
            "single/check",
            parse,
            email=email,
            timeout=timeout,
            request_meta_data=self._meta_data(),
        )
        return self.call(call)

    def _meta_data(self) -> dict[str, int] | None:
        historical = self.extras.get("leverage_historical_data")
        if historical in (None, ""):
            return None
        return {"leverage_historical_data": 1 if parse_bool(historical) else 0}

    # -- jobs ---------------------------------------------------------------------------------------
    def _create_options(
        self, name: str, *, auto_start: bool, run_sample: bool, auto_parse: bool = True
    ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "filename": name,
            "auto_parse": 1 if auto_parse else 0,
            "auto_start": 1 if auto_start else 0,
            "run_sample": 1 if run_sample else 0,
            "allow_manual_review": 1 if parse_bool(self._extra("allow_manual_review", False)) else 0,
        }
        meta = self._meta_data()
        if meta is not None:
            options["request_meta_data"] = meta
        return options

    def submit_job(self, records: Iterable[Mapping[str, Any] | str], *, name: str | None = None) -> str:
        """
        Create and start a job from supplied records (``jobs/create`` with ``auto_parse=1`` and
        ``auto_start=1``). The JSON body is generated from ``records`` in constant memory and
        spooled once, so a retry resends the same bytes; a retry after a request that may have
        reached the vendor first looks the job up by ``name`` (``jobs/search``).

        :param records: mappings with an ``email`` key (other keys are passed through), or strings.
        :param name: the job's filename; a unique one is generated when omitted.
        :raises PayloadTooLargeError: when the body would exceed ``max_payload_bytes`` (25 MB).
        """
        name = name or f"emailverify-{uuid.uuid4().hex}"
        options = self._create_options(name, auto_start=True, run_sample=False)
        head = json.dumps({"input_location": "supplied", **options})[1:-1].encode() + b',"input":'
        limit = int(self._extra("max_payload_bytes", MAX_PAYLOAD_BYTES))

        def chunks() -> Iterator[bytes]:
            yield head
            yield from supplied_rows(records)
            yield b"}"

        with SpooledBody(chunks(), limit=limit) as spool:
            call = ApiCall(
                method="POST",
                path=f"/{self.api_version}/jobs/create",
                endpoint="jobs/create",
                parse=lambda body: str(body["job_id"]),
                content=_JsonObjectBody(spool),
                headers={"Content-Type": "application/json"},
                idempotent=False,
            )
            job_id = self.create_job_safely(call, name=name)
        log.info("NeverBounce job %s created (%s, %d bytes)", job_id, name, spool.size)
        return job_id

    def create_remote_job(
        self,
        url: str,
        *,
        name: str | None = None,
        auto_start: bool = True,
        run_sample: bool = False,
        auto_parse: bool = True,
    ) -> str:
        """
        Create a job from a file the vendor downloads (``input_location=remote_url``): a plain
        list of addresses or a CSV, over HTTP(S)/FTP(S)/SFTP; no size limit is documented.

        :param url: the file's URL (credentials, if any, inside it; never logged).
        :param name: the job's filename; a unique one is generated when omitted.
        :param auto_start: start verification once parsed (else call :meth:`start_job`).
        :param run_sample: run the free sample analysis instead of the full run.
        :param auto_parse: index the file at once (else call :meth:`parse_job`).
        """
        name = name or f"emailverify-{uuid.uuid4().hex}"
        call = self.endpoint_call(
            "jobs/create",
            lambda body: str(body["job_id"]),
            input_location="remote_url",
            input=url,
            **self._create_options(name, auto_start=auto_start, run_sample=run_sample, auto_parse=auto_parse),
        )
        return self.create_job_safely(replace(call, idempotent=False), name=name)

    def parse_job(self, job_id: str, *, auto_start: bool = False) -> str:
        """``jobs/parse`` for a job created without ``auto_parse``; returns the queue id."""
        call = self.endpoint_call(
            "jobs/parse",
            lambda body: str(body.get("queue_id", "")),
            job_id=_job_id(job_id),
            auto_start=1 if auto_start else 0,
        )
        return self.call(call)

    def start_job(self, job_id: str, *, run_sample: bool = False) -> str:
        """``jobs/start`` for a parsed job (``waiting`` / ``waiting_analyzed``); returns the queue id."""
        call = self.endpoint_call(
            "jobs/start",
            lambda body: str(body.get("queue_id", "")),
            job_id=_job_id(job_id),
            run_sample=1 if run_sample else 0,
            allow_manual_review=1 if parse_bool(self._extra("allow_manual_review", False)) else 0,
        )
        return self.call(call)

    def job_status_call(self, job_id: str) -> ApiCall[JobInfo]:
        return self.endpoint_call("jobs/status", job_info_from_status, job_id=_job_id(job_id))

    def cancel_call(self, job_id: str) -> ApiCall[Any]:
        """``jobs/delete``: NeverBounce cannot stop a run; deletion is refused while it runs."""
        return self.endpoint_call("jobs/delete", job_id=_job_id(job_id))

    def search_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """
        ``jobs/search`` items, page by page (newest first).

        :param filters: ``job_id``, ``filename``, ``job_status``; ``items_per_page`` (default 100).
        """
        per_page = int(filters.pop("items_per_page", 100))
        page = 1
        while True:
            body = self.call(self.endpoint_call("jobs/search", page=page, items_per_page=per_page, **filters))
            results = body.get("results") or []
            yield from results
            if not results or page >= (_int(body.get("total_pages")) or page):
                return
            page += 1

    def find_job(self, name: str, *, max_pages: int = 10) -> str | None:
        """The newest job whose filename is exactly ``name`` (``jobs/search`` with ``filename``)."""
        for index, item in enumerate(self.search_jobs(filename=name)):
            if item.get("filename") == name:
                return str(item.get("id"))
            if index >= max_pages * 100:
                break
        return None

    def confirm_poe(self, *, email: str, transaction_id: str, confirmation_token: str, result: str) -> bool:
        """``poe/confirm``: whether a JS-widget verification of ``email`` is genuine."""
        call = self.endpoint_call(
            "poe/confirm",
            lambda body: bool(body.get("token_confirmed")),
            email=email,
            transaction_id=transaction_id,
            confirmation_token=confirmation_token,
            result=result,
        )
        return self.call(call)

    # -- results ------------------------------------------------------------------------------------
    def download_call(self, job_id: str) -> ApiCall[Any]:
        """``jobs/download`` of every row with the append columns :func:`rows_from_download` reads."""
        params: dict[str, Any] = dict.fromkeys(("valids", "invalids", "catchalls", "unknowns", "disposables"), 1)
        params["include_duplicates"] = 1 if parse_bool(self._extra("include_duplicates", True)) else 0
        params.update(dict.fromkeys(DOWNLOAD_APPENDS, 1))
        params["binary_operators_type"] = "BIN_1_0"
        params["line_feed_type"] = str(self._extra("download_line_feed_type", "LINEFEED_0A"))
        return self.endpoint_call("jobs/download", job_id=_job_id(job_id), **params)

    def iter_results(self, job_id: str) -> Iterator[VerificationResult]:
        """
        The job's results as neutral rows, streamed: the ``jobs/download`` CSV read line by line
        (restarted without repeating a row when the connection breaks), or the paginated JSON
        ``jobs/results`` when the ``results_source`` extra says ``results``.
        """
        if self._extra("results_source", "download") == "results":
            return self.iter_json_results(job_id)
        job_id = str(job_id)
        call = self.download_call(job_id)
        return self.iter_restartable(
            lambda: rows_from_download(self.stream_lines(call), job_id=job_id), what=f"job {job_id} download"
        )

    def iter_json_results(self, job_id: str, *, page_size: int | None = None) -> Iterator[VerificationResult]:
        """
        The job's results from ``jobs/results`` pages (up to 1000 rows each), with flags and
        did-you-mean suggestions; the vendor's header-row artefact is skipped.

        :param job_id: the job.
        :param page_size: rows per page (1-1000; the ``results_page_size`` extra, else 1000).
        """
        job_id = str(job_id)
        size = max(1, min(1000, int(page_size or self._extra("results_page_size", 1000))))
        page = 1
        while True:
            body = self.call(self.endpoint_call("jobs/results", job_id=_job_id(job_id), page=page, items_per_page=size))
            items = body.get("results") or []
            for item in items:
                data = {str(k): v for k, v in (item.get("data") or {}).items()}
                if data and all(str(value) == name for name, value in data.items()):
                    continue  # the header line counted as a record (spec 4.3)
                verification = item.get("verification") or {}
                email = data.pop("email", None)
                if email is None:
                    email = (verification.get("address_info") or {}).get("original_email") or data.pop("0", "")
                yield result_from_verification(str(email), verification, job_id=job_id, extra=data)
            if not items or page >= (_int(body.get("total_pages")) or page):
                return
            page += 1


def _job_id(job_id: str | int) -> int | str:
    """Job ids are integers on the wire (a numeric string is accepted too)."""
    text = str(job_id).strip()
    return int(text) if text.isdigit() else text
