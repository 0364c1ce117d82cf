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

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_emailverify.clients.base import ApiCall, extra_field, with_params
from airflow_provider_emailverify.clients.neverbounce_formats import (
    _NO_CREDITS,
    _NOT_FOUND,
    _NOT_READY,
    DOWNLOAD_APPENDS,
    JOB_STATES,
    MAX_PAYLOAD_BYTES,
    VENDOR,
    _int,
    _unexpected,
    created_job_id,
    credits_from_account,
    job_info_from_status,
    job_name,
    result_from_verification,
    rows_from_download,
    rows_from_records,
    supplied_rows,
)
from airflow_provider_emailverify.clients.verification import VerificationClient
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
from airflow_provider_emailverify.results import parse_bool

if TYPE_CHECKING:
    from airflow_provider_emailverify.clients.base import RawResponse
    from airflow_provider_emailverify.clients.streams import SpooledBody
    from airflow_provider_emailverify.jobs import JobInfo
    from airflow_provider_emailverify.results import VerificationResult

__all__ = [
    "DOWNLOAD_APPENDS",
    "JOB_STATES",
    "MAX_PAYLOAD_BYTES",
    "NeverBounceClient",
    "credits_from_account",
    "job_info_from_status",
    "result_from_verification",
    "rows_from_download",
    "rows_from_records",
    "supplied_rows",
]

log = logging.getLogger(__name__)


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
    (unset: the vendor default), ``max_payload_bytes`` (25,000,000), ``results_page_size`` (1000),
    ``header_row_counted`` ([ASSUMED] false: set it if the vendor counts the header line of
    submitted records as an invalid record, as recorded in 2017; results skip that line anyway).

    ``max_job_size`` is 100,000 rows: the vendor's hard limit is a 25 MB supplied payload, which
    100,000 rows stay well under for addresses with a few short columns (about 250 bytes a row
    would be needed to reach it); bigger rows hit the byte check before anything is sent.

    :param kwargs: see :class:`~airflow_provider_emailverify.clients.base.BaseClient`.
    """

    vendor = VENDOR
    default_base_url = "https://api.neverbounce.com"
    max_job_size = 100_000
    can_find_jobs = True
    connection_extras: ClassVar[dict[str, dict[str, Any]]] = {
        "api_version": extra_field("API version path", "v4.2 (default), v4.1 or v4"),
        "key_location": extra_field("Send the key in", "body (default: JSON body) or query (URL, redacted from logs)"),
        "results_source": extra_field(
            "Results from", "download (default: streamed CSV) or results (paginated JSON, with suggestions)"
        ),
        "download_line_feed_type": extra_field("Download line feed", "LINEFEED_0A (default), LINEFEED_0D0A, ..."),
        "include_duplicates": {
            "label": "One result per submitted row (duplicates too)",
            "schema": {"type": ["boolean", "null"]},
        },
        "allow_manual_review": {"label": "Allow manual review", "schema": {"type": ["boolean", "null"]}},
        "leverage_historical_data": {
            "label": "Use historical data (v4.1+)",
            "schema": {"type": ["boolean", "null"]},
        },
        "max_payload_bytes": {"label": "Largest job upload (bytes)", "schema": {"type": ["integer", "null"]}},
        "results_page_size": {"label": "JSON results page size", "schema": {"type": ["integer", "null"]}},
        "header_row_counted": {
            "label": "Vendor counts the header row as a record [assumed]",
            "schema": {"type": ["boolean", "null"]},
        },
    }

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
        connected = f"Connected to NeverBounce {self.api_version}: {{credits}} credits available"
        return self.credits_probe(connected, vendor_words=True)

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
        name = job_name(name)
        options = self._create_options(name, auto_start=True, run_sample=False)
        head = json.dumps({"input_location": "supplied", **options})[1:-1].encode() + b',"input":'
        limit = int(self._extra("max_payload_bytes", MAX_PAYLOAD_BYTES))

        def chunks() -> Iterator[bytes]:
            yield head
            yield from supplied_rows(records)
            yield b"}"

        call = ApiCall(
            method="POST",
            path=f"/{self.api_version}/jobs/create",
            endpoint="jobs/create",
            parse=created_job_id,
            headers={"Content-Type": "application/json"},
        )
        job_id, size = self.create_job_from(chunks(), call, name=name, limit=limit, content=_JsonObjectBody)
        log.info("NeverBounce job %s created (%s, %d bytes)", job_id, name, size)
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
        name = job_name(name)
        call = self.endpoint_call(
            "jobs/create",
            created_job_id,
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
        header_row_counted = bool(parse_bool(self._extra("header_row_counted", False)))

        def parse(body: dict[str, Any]) -> JobInfo:
            return job_info_from_status(body, header_row_counted=header_row_counted)

        return self.endpoint_call("jobs/status", parse, job_id=_job_id(job_id))

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
            lambda: rows_from_records(self.stream_csv(call), job_id=job_id), what=f"job {job_id} download"
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
