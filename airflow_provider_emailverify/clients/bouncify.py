# Licensed under the Apache License, Version 2.0.
"""
Bouncify (bouncify.io) API v1 client.

The API key travels as the ``apikey`` query parameter on every request (redacted from every log
line and error). A bulk job is a CSV file uploaded as ``multipart/form-data`` (streamed from a
spool, so a retry sends the same bytes), prepared by Bouncify (``preparing`` → ``ready``),
started with ``PATCH {"action": "start"}`` (the paid step, safe to repeat), verified, and
downloaded as CSV with ``POST /v1/download?jobId=``. Errors are ``success: false`` bodies whose
text is in ``result`` (or ``message``); an unknown job is HTTP 400, not 404.

Bouncify cannot find lists by name, so once a list is uploaded a failure is settled against the
list itself: started, its id is returned; provably unstarted, it is deleted and submitting again
is safe; else :class:`~airflow_provider_emailverify.exceptions.JobCreationUncertainError` names it.
The answers are read by :mod:`~airflow_provider_emailverify.clients.bouncify_formats`.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_emailverify.clients.base import ApiCall, extra_field, no_result, with_params
from airflow_provider_emailverify.clients.bouncify_formats import (
    ACCEPT_ALL,
    ERRORS,
    RESULT_COLUMNS,
    VENDOR,
    answer_ok,
    csv_row_parser,
    parse_credits,
    parse_job_id,
    parse_status,
    parse_verify,
)
from airflow_provider_emailverify.clients.streams import blocks, checked_records, has_content, multipart_body
from airflow_provider_emailverify.clients.verification import VerificationClient, job_limit_extras
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    EmailVerificationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobCreationUncertainError,
    JobNotFoundError,
    JobNotReadyError,
)
from airflow_provider_emailverify.jobs import JobInfo, JobState
from airflow_provider_emailverify.results import Status, VerificationResult, parse_bool

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    import httpx

    from airflow_provider_emailverify.clients.base import RawResponse

#: The client, and the wire formats of :mod:`bouncify_formats` kept importable from here.
__all__ = [
    "ACCEPT_ALL",
    "RESULT_COLUMNS",
    "BouncifyClient",
    "csv_row_parser",
    "parse_status",
    "parse_verify",
]

log = logging.getLogger(__name__)

#: Bouncify's limits for one uploaded file: 500,000 addresses and 10 MB.
VENDOR_MAX_ROWS = 500_000
DEFAULT_MAX_UPLOAD_BYTES = 10_000_000
#: Rows per job by default: 200,000 rows stay under 10 MB while a CSV row averages <= 50 bytes
#: (an address plus pass-through columns). Raise it with the ``max_rows_per_job`` extra.
DEFAULT_MAX_ROWS = 200_000

FILTER_VALUES = ("deliverable", "undeliverable", "accept_all", "unknown")
#: List states that show a start request took effect (or that the list ended on its own).
_PAST_READY = frozenset({"verifying", "completed", "failed", "cancelled"})


class BouncifyClient(VerificationClient):
    """
    Bouncify API v1.

    Extras: ``job_id_in_path`` (``true``: ``/v1/bulk/{job_id}`` as the vendor's code samples and
    clients do; ``false``: the ``job_id`` query parameter of the parameter tables);
    ``max_rows_per_job`` (default 200,000, at most 500,000); ``max_upload_bytes`` (default
    10,000,000); ``verify_timeout_ms`` (30,000-180,000; Bouncify's default 180,000 when unset);
    ``prepare_timeout`` (seconds to wait for an uploaded list to become ready, default 900).

    See :class:`~airflow_provider_emailverify.clients.base.BaseClient` for the other parameters.
    """

    vendor: ClassVar[str] = VENDOR
    default_base_url: ClassVar[str] = "https://api.bouncify.io"
    max_job_size: ClassVar[int] = DEFAULT_MAX_ROWS
    vendor_max_job_size: ClassVar[int | None] = VENDOR_MAX_ROWS
    max_upload_bytes: ClassVar[int | None] = DEFAULT_MAX_UPLOAD_BYTES
    can_find_jobs: ClassVar[bool] = False
    connection_extras: ClassVar[dict[str, dict[str, Any]]] = {
        "job_id_in_path": {
            "label": "Job id in the URL path",
            "description": "true (default): /v1/bulk/{job_id} as the vendor's samples; false: ?job_id= query",
            "schema": {"type": ["boolean", "null"]},
        },
        **job_limit_extras(
            "default 200,000, at most 500,000",
            "default 10,000,000 ([ASSUMED] oversize answer: 400 Invalid file data)",
        ),
        "verify_timeout_ms": extra_field("Single verify timeout (ms)", "30,000-180,000; vendor default 180,000", "integer"),
        "prepare_timeout": extra_field("Wait for list preparation (s)", "default 900", "number"),
    }
    #: The job counters count a deliverable but disposable address as deliverable (neutral: risky).
    exact_job_counts: ClassVar[bool] = False
    unprocessed_statuses: ClassVar[frozenset[int]] = frozenset({503})
    #: Seconds between status checks while a list is being prepared (and before a cancel).
    poll_interval: ClassVar[float] = 2.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        extras = self.extras
        self.job_id_in_path = parse_bool(extras.get("job_id_in_path", True)) is not False
        timeout_ms = extras.get("verify_timeout_ms")
        self.verify_timeout_ms = min(180_000, max(30_000, int(timeout_ms))) if timeout_ms not in (None, "") else None
        self.prepare_timeout = float(extras.get("prepare_timeout") or 900)

    # -- transport hooks ---------------------------------------------------------------------
    def authenticate(self, call: ApiCall[Any]) -> ApiCall[Any]:
        return with_params(call, apikey=self.api_key)

    def message_of(self, response: RawResponse) -> str | None:
        body = response.body
        if isinstance(body, dict):
            for name in ("result", "message"):
                if isinstance(body.get(name), str) and body[name]:
                    return self.redact(body[name])
        return super().message_of(response)

    def check(self, call: ApiCall[Any], response: RawResponse) -> None:
        super().check(call, response)  # 429, 5xx
        status = response.status
        if 200 <= status < 300 and answer_ok(response.body):
            return
        if status == 401:
            self.raise_error(AuthenticationError, call, response)
        if status == 402:
            self.raise_error(InsufficientCreditsError, call, response)
        message = (self.message_of(response) or "").lower()
        for needle, cls in ERRORS:
            if needle in message:
                self.raise_error(cls, call, response)
        self.raise_error(InvalidRequestError if status < 500 else EmailVerificationError, call, response)

    def _bulk(self, method: str, job_id: str, endpoint: str, **kwargs: Any) -> ApiCall[Any]:
        """A ``/v1/bulk`` call naming ``job_id`` in the path or the query, per ``job_id_in_path``."""
        if self.job_id_in_path:
            return ApiCall(method, f"/v1/bulk/{job_id}", endpoint, **kwargs)
        return ApiCall(method, "/v1/bulk", endpoint, params={"job_id": job_id}, **kwargs)

    # -- jobs ----------------------------------------------------------------------------------
    def submit_job(self, records: Iterable[dict[str, Any]], *, name: str | None = None) -> str:
        """
        Upload ``records`` as one list, wait until Bouncify has prepared it, and start it.

        The CSV (``email`` plus the other keys of the first record, passed through to the results)
        is spooled first: its size is checked against the upload limit before anything is sent,
        and a retried upload sends the same bytes. Uploads are retried only when they provably
        did not reach Bouncify; the start, the paid step, is safe to repeat. Once the upload
        returned a list id, a failure never leads to a second paid list (:meth:`_start_uploaded`).

        :param records: dicts with an ``email`` key (at most :attr:`max_job_size`).
        :param name: becomes the uploaded file's name (Bouncify shows it in its dashboard).
        :raises JobCreationUncertainError: the start failed and the list may be verifying (and
            paid for); the message and ``job_id`` name the list to wait on.
        """
        counter = [0]
        filename = (re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:100] if name else "emails") + ".csv"
        content_type, generate = multipart_body(
            {}, file_field="local_file", filename=filename, content_type="text/csv",
            chunks=lambda: blocks(self.limited_upload(self._csv_lines(records, counter))),
        )
        call = ApiCall("POST", "/v1/bulk", "bulk upload", parse=parse_job_id, headers={"Content-Type": content_type})
        job_id, _ = self.create_job_from(generate(), call, name=name)
        log.info("bouncify list %s uploaded with %d addresses (%s)", job_id, counter[0], filename)
        self._start_uploaded(job_id)
        return job_id

    def _start_uploaded(self, job_id: str) -> None:
        """
        Start a list :meth:`submit_job` just uploaded, settling any failure against the list.

        Bouncify cannot find lists by name, so an error that lets the caller upload again must
        mean that this list will never be paid for. While the list is prepared the start has not
        been sent: a failure there leaves an unstarted list (deleted where Bouncify allows), and
        the error says that submitting again is safe. A failed start is checked against the
        list's status: past ``ready`` (verifying, completed, ...) the start took effect and the
        list is used; still ``ready``, it is deleted (which also stops a late start) and the
        error says so; otherwise :class:`JobCreationUncertainError` names the list.
        """
        try:
            self._wait_prepared(job_id)
        except EmailVerificationError as err:
            deleted = self._delete_quietly(job_id)
            raise self._not_started(job_id, err, deleted=deleted) from err
        try:
            self.start_job(job_id, wait_ready=False)
        except InsufficientCreditsError:
            raise  # refused before starting; the unstarted list is already deleted
        except EmailVerificationError as err:
            self._settle_failed_start(job_id, err)

    def _settle_failed_start(self, job_id: str, err: EmailVerificationError) -> None:
        """Return when the failed start took effect after all; else raise what the list's state allows."""
        try:
            status = self.get_job(job_id).vendor_status.lower()
        except EmailVerificationError as check:
            raise self._start_uncertain(job_id, err, f"its status could not be read ({check.message})") from err
        if status in _PAST_READY:
            log.warning("bouncify list %s: the start reported %s, but the list is %s: it started", job_id, err, status)
            return
        if status != "ready":
            raise self._start_uncertain(job_id, err, f"the list is {status!r}") from err
        try:
            self.delete_job(job_id)
        except JobNotReadyError:  # "being processed": a ready list only leaves that state by starting
            log.warning("bouncify list %s: the start reported %s, but the list has started since", job_id, err)
            return
        except EmailVerificationError as gone:
            raise self._start_uncertain(
                job_id, err, f"the list was not started when checked, but deleting it failed ({gone.message})"
            ) from err
        log.info("bouncify list %s was not started and has been deleted", job_id)
        raise self._not_started(job_id, err, deleted=True) from err

    def _not_started(self, job_id: str, err: EmailVerificationError, *, deleted: bool) -> EmailVerificationError:
        """``err`` (same class, so as retryable as before) restated for a list that was never started."""
        where = "it has been deleted" if deleted else "it stays in the Bouncify dashboard, unstarted"
        return type(err)(
            self.redact(
                f"bouncify list {job_id} was uploaded but never started ({err.message}); {where}. "
                f"An unstarted list costs nothing, so submitting the list again is safe"
            ),
            vendor=VENDOR, http_status=err.http_status, vendor_message=err.vendor_message,
        )

    def _start_uncertain(self, job_id: str, err: EmailVerificationError, why: str) -> JobCreationUncertainError:
        """The final error for a list whose start failed and may still have taken effect (and been paid for)."""
        return JobCreationUncertainError(
            self.redact(
                f"bouncify list {job_id} was uploaded, but starting it (the paid step) failed ({err.message}) and "
                f"{why}: it may be verifying and paid for. It was not submitted again, to avoid paying twice: "
                f"check list {job_id} in the Bouncify dashboard, or wait on it with "
                f"EmailVerificationJobSensor(job_ids=[{job_id!r}])"
            ),
            vendor=VENDOR, http_status=err.http_status, vendor_message=err.vendor_message, job_id=job_id,
        )

    def _csv_lines(self, records: Iterable[Any], counter: list[int]) -> Iterator[tuple[int, bytes]]:
        """
        The upload CSV record by record, as ``(record number, bytes)`` (the header goes with the
        first record) for :meth:`limited_upload`. Values are quoted as RFC 4180 asks, so commas,
        quotes and line breaks in an address or a pass-through column reach Bouncify intact (a
        record may span lines).
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        columns: list[str] | None = None
        for index, record, email in checked_records(records, vendor=VENDOR, max_rows=self.max_job_size):
            record = record if isinstance(record, dict) else {"email": email}
            if columns is None:
                columns = [key for key in record if key != "email"]
                writer.writerow(["email", *columns])
            writer.writerow([email, *("" if record.get(c) is None else str(record[c]) for c in columns)])
            line = buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            counter[0] = index
            yield index, line

    def start_job(self, job_id: str, *, wait_ready: bool = True) -> None:
        """
        Start verifying an uploaded list (the paid step; refused with 402 when credits are short,
        in which case the unstarted list is deleted). A list that already started is left as is.

        :param wait_ready: first wait (up to ``prepare_timeout``) while Bouncify prepares the list.
        """
        if wait_ready:
            self._wait_prepared(job_id)
        call = ApiCall("PATCH", f"/v1/bulk/{job_id}", "bulk start", parse=no_result, json={"action": "start"})
        try:
            self.call(call)
        except JobNotReadyError as err:
            if "already started" not in str(err).lower():
                raise
            log.info("bouncify list %s was already started", job_id)
        except InsufficientCreditsError:
            self._delete_quietly(job_id)
            raise
        log.info("bouncify list %s started", job_id)

    def _wait_prepared(self, job_id: str) -> JobInfo:
        deadline = time.monotonic() + self.prepare_timeout
        while True:
            info = self.get_job(job_id)
            if info.state is JobState.FAILED or info.state is JobState.CANCELLED:
                raise EmailVerificationError(
                    f"bouncify list {job_id} is {info.vendor_status}: {info.message}", vendor=VENDOR,
                    vendor_message=info.message,
                )
            if info.vendor_status.lower() != "preparing":
                return info
            if time.monotonic() >= deadline:
                raise JobNotReadyError(
                    f"bouncify list {job_id} is still being prepared after {self.prepare_timeout:.0f}s",
                    vendor=VENDOR,
                )
            time.sleep(self.poll_interval)

    def _delete_quietly(self, job_id: str) -> bool:
        """Delete an unstarted list, logging (not raising) a failure; whether it was deleted."""
        try:
            self.delete_job(job_id)
        except EmailVerificationError as err:
            log.warning("bouncify list %s could not be deleted: %s", job_id, err)
            return False
        return True

    def job_status_call(self, job_id: str) -> ApiCall[JobInfo]:
        return self._bulk("GET", job_id, "bulk status", parse=parse_status)

    def cancel_call(self, job_id: str) -> ApiCall[Any]:
        """Delete the list (Bouncify lists cannot be stopped once verifying)."""
        return self._bulk("DELETE", job_id, "bulk delete", parse=no_result)

    def delete_job(self, job_id: str) -> None:
        """Delete a list that is ready, completed or failed (permanent)."""
        self.call(self.cancel_call(job_id))

    def cancel_job(self, job_id: str) -> None:
        """
        Make sure an unstarted list never costs anything: a list that is preparing or ready is
        deleted. Bouncify cannot stop a list that is verifying: that raises
        :class:`InvalidRequestError` saying it keeps running; a finished list is left alone
        (:meth:`delete_job` removes it).
        """
        try:
            info = self.get_job(job_id)
            while info.vendor_status.lower() == "preparing":
                time.sleep(self.poll_interval)
                info = self.get_job(job_id)
        except JobNotFoundError:
            log.info("bouncify list %s is already gone", job_id)
            return
        if self._should_delete(job_id, info):
            super().cancel_job(job_id)

    async def acancel_job(self, job_id: str, client: httpx.AsyncClient | None = None) -> None:
        """Async :meth:`cancel_job`."""
        import asyncio

        try:
            info = await self.aget_job(job_id, client)
            while info.vendor_status.lower() == "preparing":
                await asyncio.sleep(self.poll_interval)
                info = await self.aget_job(job_id, client)
        except JobNotFoundError:
            log.info("bouncify list %s is already gone", job_id)
            return
        if self._should_delete(job_id, info):
            await super().acancel_job(job_id, client)

    def _should_delete(self, job_id: str, info: JobInfo) -> bool:
        if info.vendor_status.lower() == "ready":
            return True
        if info.state is JobState.RUNNING:
            # Raised, not logged: a caller must not take the list for cancelled (and submit anew).
            raise InvalidRequestError(
                f"bouncify list {job_id} is verifying: Bouncify cannot stop a started list, it keeps running",
                vendor=VENDOR,
            )
        else:
            log.info("bouncify list %s is %s; nothing to cancel", job_id, info.vendor_status)
        return False

    def iter_results(self, job_id: str, *, filter_result: Sequence[str] | None = None) -> Iterator[VerificationResult]:
        """
        Stream the list's results (a broken download restarts without repeating a row).

        :param job_id: the list id.
        :param filter_result: subset of ``deliverable``, ``undeliverable``, ``accept_all``, ``unknown``.
        """
        body = None
        if filter_result is not None:
            wanted = [str(v).strip().lower().replace("-", "_").replace(" ", "_") for v in filter_result]
            bad = [v for v in wanted if v not in FILTER_VALUES]
            if bad or not wanted:
                raise InvalidRequestError(f"bouncify filter_result must be among {FILTER_VALUES}, got {bad}", vendor=VENDOR)
            body = {"filterResult": wanted}
        call = ApiCall(
            "POST", "/v1/download", "download", params={"jobId": job_id}, json=body,
            headers={"Accept": "text/csv, text/plain"},
        )

        def open_rows() -> Iterator[VerificationResult]:
            reader = self.stream_csv(call)
            header = next(reader, None)
            if header is None:
                return
            yield from map(csv_row_parser(header, job_id=job_id), filter(has_content, reader))

        return self.iter_restartable(open_rows, what=f"list {job_id} download")

    # -- single address, account -----------------------------------------------------------------
    def verify_email(self, email: str) -> VerificationResult:
        """
        Single verification. Bouncify answers a malformed address with HTTP 400
        ``Invalid request. Required email.``: that becomes an undeliverable syntax-error row.
        """
        params: dict[str, Any] = {"email": email}
        if self.verify_timeout_ms is not None:
            params["timeout"] = self.verify_timeout_ms
        wait = (self.verify_timeout_ms or 180_000) / 1000 + 15
        call = ApiCall("GET", "/v1/verify", "verify", parse=parse_verify, params=params,
                       read_timeout=max(self.read_timeout, wait))
        try:
            return self.call(call)
        except InvalidRequestError as err:
            if not email.strip() or "email" not in str(err.vendor_message or "").lower():
                raise
            return VerificationResult(
                email=email, status=Status.UNDELIVERABLE.value, vendor_status=err.vendor_message or "",
                is_syntax_error=True, vendor=VENDOR,
            )

    def get_credits(self) -> int:
        return self.call(ApiCall("GET", "/v1/info", "info", parse=parse_credits))

    def test_connection(self) -> tuple[bool, str]:
        return self.credits_probe("Connected to Bouncify: {credits} credits remaining")
