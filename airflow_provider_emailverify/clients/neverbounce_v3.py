# Licensed under the Apache License, Version 2.0.
"""
NeverBounce v3 client (deprecated API, still served; specs/neverbounce.md sections 2.2 and 5).

Every call is a form-encoded ``POST`` carrying an OAuth ``access_token``, obtained from
``/v3/access_token`` with HTTP Basic auth (API username : API secret) and cached until shortly
before it expires. The token is fetched inside an attempt of the call that needs it, with one
request: the call's own retries cover it, so an outage costs no more requests than for any other
call. A call answered ``{"success": false, "msg": "Authentication failed"}`` gets one new token
and is replayed once (what the vendor's own v3 clients do).
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote_plus, urlencode

from airflow_provider_emailverify.clients.base import ApiCall, extra_field, with_form
from airflow_provider_emailverify.clients.neverbounce_formats import (
    _NO_CREDITS,
    _NOT_FOUND,
    _NOT_READY,
    MAX_PAYLOAD_BYTES,
    _cell,
    _int,
    _unexpected,
    created_job_id,
    job_name,
    neutral_counts,
)
from airflow_provider_emailverify.clients.streams import checked_records, iter_csv
from airflow_provider_emailverify.clients.verification import VerificationClient
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    EmailVerificationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    TransientError,
)
from airflow_provider_emailverify.jobs import JobInfo, JobState
from airflow_provider_emailverify.results import VerificationResult

if TYPE_CHECKING:
    import httpx

    from airflow_provider_emailverify.clients.base import RawResponse
    from airflow_provider_emailverify.clients.streams import SpooledBody

log = logging.getLogger(__name__)

VENDOR = "neverbounce_v3"

#: v3 integer result codes (spec 7.1) -> the names v4 uses; ``vendor_status`` is always the name.
RESULT_NAMES = {0: "valid", 1: "invalid", 2: "disposable", 3: "catchall", 4: "unknown"}

#: v3 job ``status`` codes (spec 5.5) in neutral terms; jobs start by themselves once parsed.
JOB_STATES: dict[int, JobState] = {
    -1: JobState.QUEUED,
    0: JobState.QUEUED,
    1: JobState.QUEUED,
    2: JobState.QUEUED,
    3: JobState.RUNNING,
    4: JobState.COMPLETED,
    5: JobState.FAILED,
}

#: ``error_code`` meanings (official v3 PHP SDK).
ERROR_CODES: dict[int, type[EmailVerificationError]] = {
    0: TransientError,
    1: AuthenticationError,
    2: InvalidRequestError,
    3: JobNotFoundError,
    4: InsufficientCreditsError,
}

TOKEN_REJECTED = "Authentication failed"


class _TokenRejected(AuthenticationError):
    """The access token expired or was revoked: fetch a new one and replay the call once."""


def result_name(value: Any) -> str:
    """A v3 result code (``0``, ``"0"``) as its name (``valid``); names pass through."""
    code = _int(value)
    if code is not None and code in RESULT_NAMES:
        return RESULT_NAMES[code]
    return "" if value is None else str(value).strip().lower()


def result_from_single(email: str, body: Mapping[str, Any]) -> VerificationResult:
    """
    A neutral row from a ``/v3/single`` answer: the result code becomes its name; v3 reports
    no role/free flags (null) and bad syntax only through the deprecated ``result_details``.

    :param email: the address as submitted.
    :param body: the decoded answer.
    """
    verdict = result_name(body.get("result"))
    details = _int(body.get("result_details"))
    return VerificationResult.from_vendor(
        vendor=VENDOR,
        email=email,
        vendor_status=verdict,
        is_disposable=verdict == "disposable",
        is_catchall=verdict == "catchall",
        is_syntax_error=None if details is None else details == 1,
    )


def job_info_from_status(body: Mapping[str, Any]) -> JobInfo:
    """
    Neutral :class:`JobInfo` from a ``/v3/status`` answer or a ``list_user_jobs`` item (numbers
    may come as strings; ``file_details`` is JSON text).

    :param body: the decoded job object.
    """
    code = _int(body.get("status"))
    state = JOB_STATES.get(code) if code is not None else None
    if state is None:
        log.warning("NeverBounce v3 job %s has an undocumented status %r", body.get("id"), body.get("status"))
        state = JobState.RUNNING
    stats = body.get("stats") or {}
    total = _int(stats.get("total"))
    processed = _int(stats.get("processed")) or 0
    counts = neutral_counts(stats)
    if state == JobState.COMPLETED:
        progress = 1.0
    elif stats.get("percent_complete") not in (None, ""):
        progress = float(stats["percent_complete"]) / 100.0
    else:
        progress = processed / total if total else 0.0
    message = None
    if state == JobState.FAILED:
        details = _json_text(body.get("file_details"))
        error = details.get("error") if isinstance(details, dict) else None
        message = str(error) if error not in (None, False, "") else "job failed (typically bad CSV data)"
    return JobInfo(
        job_id=str(body.get("id") or body.get("job_id") or ""),
        state=state,
        progress=max(0.0, min(1.0, progress)),
        total=total if total or state != JobState.QUEUED else None,
        processed=processed,
        counts=counts,
        vendor_status="" if body.get("status") is None else str(body.get("status")),
        message=message,
    )


def _json_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def rows_from_download(lines: Iterable[str], *, job_id: str) -> Iterator[VerificationResult]:
    """
    Neutral rows from a ``/v3/download`` CSV: the submitted columns plus the result (a name or a
    code) as the last column. A first line whose first value is ``email`` is our header; without
    one, the email is the first column.

    :param lines: the CSV's lines, keeping their line breaks so that a quoted value spanning lines
        comes back whole (see :func:`~airflow_provider_emailverify.clients.streams.iter_csv`).
    :param job_id: the job the rows belong to.
    """
    yield from rows_from_records(iter_csv(lines), job_id=job_id)


def rows_from_records(records: Iterable[list[str]], *, job_id: str) -> Iterator[VerificationResult]:
    """
    :func:`rows_from_download` from the download's CSV records, as
    :meth:`~airflow_provider_emailverify.clients.downloads.DownloadStreams.stream_csv` reads them.

    :param records: the CSV's records, the first one perhaps our header.
    :param job_id: the job the rows belong to.
    """
    build = VerificationResult.from_verdict
    names: list[str] | None = None
    verdicts: dict[str, str] = {}  # result column -> name, read once per value (a handful per download)
    for values in records:
        if not values:
            continue
        if names is None:
            if values[0].strip().lower() == "email":
                names = values
                continue
            names = ["email"]
        if names == ["email"]:  # the usual list of bare addresses: no extra columns
            email = values[0]
            if email == "email" and len(values) <= 2:
                continue  # the header counted as a record
            record: dict[str, str] = {}
        else:
            columns = values[:-1] if len(values) > 1 else values
            if names[: len(columns)] == columns:
                continue  # the header counted as a record
            record = dict(zip(names, columns))
            email = record.pop("email", columns[0])
        verdict = ""
        if len(values) > 1:
            verdict = verdicts.get(values[-1]) or result_name(values[-1])
            if len(verdicts) < 64:
                verdicts[values[-1]] = verdict
        yield build(
            VENDOR,
            email,
            verdict,
            job_id,
            is_disposable=verdict == "disposable",
            is_catchall=verdict == "catchall",
            extra=record,
        )


def csv_rows(records: Iterable[Mapping[str, Any] | str]) -> Iterator[str]:
    """
    The supplied ``input`` of ``/v3/bulk`` as CSV lines: a bare list of addresses when records
    carry only ``email``; otherwise a header line (``email`` first) and one line per record.
    Values are quoted as RFC 4180 asks, so one holding commas, quotes or line breaks (a record
    then spans lines) reaches the vendor intact.

    :param records: dicts with an ``email`` key (or bare address strings).
    :raises InvalidRequestError: naming the row (from 1), for a record without an email or with new columns.
    """
    import io

    buffer = io.StringIO()
    minimal = csv.writer(buffer, lineterminator="\n")
    # With "\n" line ends the csv module leaves a lone "\r" unquoted, which CSV readers take for
    # a line end: such rows are written fully quoted.
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def write(cells: list[Any]) -> None:
        has_cr = any(isinstance(cell, str) and "\r" in cell for cell in cells)
        (quoted if has_cr else minimal).writerow(cells)

    columns: list[str] | None = None
    for index, record, _ in checked_records(records, vendor=VENDOR, max_rows=None):
        if isinstance(record, str):
            record = {"email": record}
        if columns is None:
            columns = ["email"] + [str(name) for name in record if name != "email"]
            if len(columns) > 1:
                write(columns)
        elif any(name not in columns for name in record):
            raise InvalidRequestError(
                f"{VENDOR}: record {index} has columns the first record lacks; "
                f"give every record the same keys ({columns!r})",
                vendor=VENDOR,
            )
        write([_cell(record.get(name)) for name in columns])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


class _FormBody:
    """A streamed form body to which the access token is prepended on each send."""

    def __init__(self, spool: SpooledBody, prefix: bytes = b"") -> None:
        self.spool, self.prefix = spool, prefix

    def with_token(self, token: str) -> _FormBody:
        return _FormBody(self.spool, f"access_token={quote_plus(token)}&".encode())

    def __call__(self):
        return self.spool.replay(prefix=self.prefix)


class NeverBounceV3Client(VerificationClient):
    """
    NeverBounce v3 (``https://api.neverbounce.com/v3/...``), OAuth client credentials.

    Connection extras read here: ``scope`` (``basic user``), ``max_payload_bytes`` (25,000,000;
    v3 documents no limit, the v4 one is assumed), ``token_margin`` (seconds before expiry a
    token is renewed; 10% of its lifetime, at most 60, by default).

    :param username: the v3 API username (the connection's login).
    :param kwargs: see :class:`~airflow_provider_emailverify.clients.base.BaseClient`;
        ``api_key`` is the v3 API secret.
    """

    vendor = VENDOR
    default_base_url = "https://api.neverbounce.com"
    max_job_size = 100_000
    #: ``list_user_jobs`` shows each job's ``orig_name``, which is the ``filename`` given to ``/bulk``.
    can_find_jobs = True
    connection_extras: ClassVar[dict[str, dict[str, Any]]] = {
        "scope": extra_field("OAuth scope", "basic user (default)"),
        "token_margin": {"label": "Renew tokens this early (s)", "schema": {"type": ["number", "null"]}},
        "max_payload_bytes": {"label": "Largest job upload (bytes)", "schema": {"type": ["integer", "null"]}},
    }
    password_label: ClassVar[str] = "API secret"
    login_label: ClassVar[str | None] = "API username"

    def __init__(self, *, username: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.username = username
        self._token: str | None = None
        self._token_expires = 0.0
        self._issued: list[str] = []
        self._lock = threading.RLock()

    # -- secrets and tokens -------------------------------------------------------------------------
    def _basic(self) -> str:
        return base64.b64encode(f"{self.username}:{self.api_key}".encode()).decode()

    def secrets(self) -> list[str]:
        return [s for s in (self.api_key, self._basic() if self.api_key else "", *self._issued) if s]

    def token_call(self) -> ApiCall[tuple[str, float]]:
        """``/v3/access_token``: HTTP Basic with username and secret, client-credentials grant."""

        def parse(body: Any) -> tuple[str, float]:
            if not isinstance(body, dict) or not body.get("access_token"):
                raise AuthenticationError(f"{VENDOR} access_token: no token in the answer", vendor=VENDOR)
            return str(body["access_token"]), float(body.get("expires_in") or 3600)

        return ApiCall(
            method="POST",
            path="/v3/access_token",
            endpoint="access_token",
            parse=parse,
            data={"grant_type": "client_credentials", "scope": str(self.extras.get("scope") or "basic user")},
            headers={"Authorization": "Basic " + self._basic()},
        )

    def _store_token(self, token: str, expires_in: float) -> str:
        margin = self.extras.get("token_margin")
        margin = float(margin) if margin not in (None, "") else min(60.0, expires_in * 0.1)
        self._token, self._token_expires = token, time.monotonic() + max(0.0, expires_in - margin)
        if token not in self._issued:
            self._issued.append(token)
            del self._issued[:-8]
        log.debug("NeverBounce v3 token renewed, valid for %.0fs", expires_in)
        return token

    def _fresh_token(self) -> str | None:
        return self._token if self._token and time.monotonic() < self._token_expires else None

    def token(self) -> str:
        """
        A valid access token, fetched when none is cached or the cached one is about to expire.

        One request, not retried here: this runs inside an attempt of the call the token is for
        (:meth:`authenticate`), whose retry loop retries it.
        """
        with self._lock:
            return self._fresh_token() or self._store_token(*self.call_once(self.token_call()))

    def invalidate_token(self) -> None:
        self._token, self._token_expires = None, 0.0

    def authenticate(self, call: ApiCall[Any]) -> ApiCall[Any]:
        if call.endpoint == "access_token":
            return call
        return self._with_token(call, self.token())

    @staticmethod
    def _with_token(call: ApiCall[Any], token: str) -> ApiCall[Any]:
        if isinstance(call.content, _FormBody):
            return replace(call, content=call.content.with_token(token))
        return with_form(call, access_token=token)

    async def aauthenticate(self, call: ApiCall[Any], client: httpx.AsyncClient) -> ApiCall[Any]:
        if call.endpoint == "access_token":
            return call
        token = self._fresh_token()
        if token is None:  # one request, retried by the loop of ``call`` (see :meth:`token`)
            token = self._store_token(*await self.acall_once(self.token_call(), client))
        return self._with_token(call, token)

    # -- one replay after a rejected token ------------------------------------------------------------
    def fetch(self, call: ApiCall[Any]) -> RawResponse:
        try:
            return super().fetch(call)
        except _TokenRejected:
            log.info("NeverBounce v3 %s: token rejected, renewing it once", call.endpoint)
            self.invalidate_token()
            return super().fetch(call)

    async def afetch(self, call: ApiCall[Any], client: httpx.AsyncClient) -> RawResponse:
        try:
            return await super().afetch(call, client)
        except _TokenRejected:
            log.info("NeverBounce v3 %s: token rejected, renewing it once", call.endpoint)
            self.invalidate_token()
            return await super().afetch(call, client)

    def stream_lines(self, call: ApiCall[Any], *, chunk_size: int = 256 * 1024) -> Iterator[str]:
        lines = super().stream_lines(call, chunk_size=chunk_size)
        try:
            first = next(lines)
        except StopIteration:
            return
        except _TokenRejected:
            self.invalidate_token()
            lines = super().stream_lines(call, chunk_size=chunk_size)
            first = next(lines, None)
            if first is None:
                return
        yield first
        yield from lines

    # -- errors ---------------------------------------------------------------------------------------
    def check(self, call: ApiCall[Any], response: RawResponse) -> None:
        super().check(call, response)
        body = response.body
        if isinstance(body, dict) and "error" in body and "success" not in body:
            # OAuth errors of /access_token: invalid_client, invalid_request, invalid_scope, ...
            cls = AuthenticationError if body.get("error") == "invalid_client" else InvalidRequestError
            self.raise_error(cls, call, response)
        if response.status in (401, 403):
            self.raise_error(AuthenticationError, call, response)
        if response.status >= 400:
            self.raise_error(InvalidRequestError, call, response)
        if call.endpoint == "access_token" and isinstance(body, dict) and body.get("access_token"):
            return
        if not isinstance(body, dict) or "success" not in body:
            raise TransientError(
                self.error_text(call, response, _unexpected(response)),
                **self._error_kwargs(response),
            )
        if body.get("success") in (True, 1, "true", "1"):
            return
        if body.get("msg") == TOKEN_REJECTED:
            self.raise_error(_TokenRejected, call, response)
        message = self.message_of(response) or ""
        code = _int(body.get("error_code"))
        if _NOT_READY.search(message) and call.endpoint in ("download", "start_job", "delete_user_job"):
            self.raise_error(JobNotReadyError, call, response)
        if code in ERROR_CODES:
            self.raise_error(ERROR_CODES[code], call, response)
        if _NO_CREDITS.search(message):
            self.raise_error(InsufficientCreditsError, call, response)
        if _NOT_FOUND.search(message):
            self.raise_error(JobNotFoundError, call, response)
        self.raise_error(InvalidRequestError, call, response)

    # -- endpoints ------------------------------------------------------------------------------------
    def endpoint_call(self, endpoint: str, parse: Any = lambda body: body, **fields: Any) -> ApiCall[Any]:
        """A form-encoded ``POST /v3/<endpoint>``."""
        return ApiCall(
            method="POST",
            path=f"/v3/{endpoint}",
            endpoint=endpoint,
            parse=parse,
            data={name: value for name, value in fields.items() if value is not None},
        )

    def account(self) -> dict[str, Any]:
        """The ``/v3/account`` answer (``credits``, ``jobs_completed``, ``jobs_processing`` as strings)."""
        return self.call(self.endpoint_call("account"))

    def get_credits(self) -> int | None:
        return _int(self.account().get("credits"))

    def test_connection(self) -> tuple[bool, str]:
        return self.credits_probe("Connected to NeverBounce v3: {credits} credits available", vendor_words=True)

    def verify_email(self, email: str) -> VerificationResult:
        """``/v3/single`` (1 credit)."""
        return self.call(self.endpoint_call("single", lambda body: result_from_single(email, body), email=email))

    def submit_job(self, records: Iterable[Mapping[str, Any] | str], *, name: str | None = None) -> str:
        """
        ``/v3/bulk`` with supplied data (``input_location=1``): the records as CSV text in a
        streamed form body, spooled once so retries resend the same bytes; verification starts
        by itself after indexing. A retry after a request that may have arrived looks the job
        up by ``name`` first.

        :param records: mappings with an ``email`` key (other keys are passed through), or strings.
        :param name: the job's filename; a unique one is generated when omitted.
        """
        name = job_name(name)
        head = urlencode({"input_location": 1, "filename": name}).encode() + b"&input="
        limit = int(self.extras.get("max_payload_bytes") or MAX_PAYLOAD_BYTES)

        def chunks() -> Iterator[bytes]:
            yield head
            for text in csv_rows(records):
                yield quote_plus(text).encode()

        call = ApiCall(
            method="POST",
            path="/v3/bulk",
            endpoint="bulk",
            parse=created_job_id,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        job_id, size = self.create_job_from(chunks(), call, name=name, limit=limit, content=_FormBody)
        log.info("NeverBounce v3 job %s created (%s, %d bytes)", job_id, name, size)
        return job_id

    def create_remote_job(self, url: str, *, name: str | None = None, run_sample: bool = False) -> str:
        """``/v3/bulk`` from a remote file (``input_location=0``)."""
        name = job_name(name)
        call = self.endpoint_call(
            "bulk",
            created_job_id,
            input_location=0,
            input=url,
            filename=name,
            run_sample=1 if run_sample else None,
        )
        return self.create_job_safely(replace(call, idempotent=False), name=name)

    def start_job(self, job_id: str) -> None:
        """``/v3/start_job``: the full run of a job created with ``run_sample``."""
        self.call(self.endpoint_call("start_job", job_id=str(job_id)))

    def job_status_call(self, job_id: str) -> ApiCall[JobInfo]:
        return self.endpoint_call("status", job_info_from_status, job_id=str(job_id))

    def cancel_call(self, job_id: str) -> ApiCall[Any]:
        """``/v3/delete_user_job`` (refused while indexing, processing or sampling)."""
        return self.endpoint_call("delete_user_job", job_id=str(job_id))

    def list_jobs(self) -> list[dict[str, Any]]:
        """``/v3/list_user_jobs``: every job of the account, dashboard uploads included."""
        return list(self.call(self.endpoint_call("list_user_jobs")).get("jobs") or [])

    def find_job(self, name: str) -> str | None:
        """The newest job whose ``orig_name`` is ``name``."""
        matches = [job for job in self.list_jobs() if job.get("orig_name") == name]
        if not matches:
            return None
        return str(max(matches, key=lambda job: _int(job.get("id")) or 0).get("id"))

    def iter_results(self, job_id: str) -> Iterator[VerificationResult]:
        """``/v3/download`` streamed line by line (restarted without repeating a row after a break)."""
        job_id = str(job_id)
        call = self.endpoint_call("download", job_id=job_id)
        return self.iter_restartable(
            lambda: rows_from_records(self.stream_csv(call), job_id=job_id), what=f"job {job_id} download"
        )
