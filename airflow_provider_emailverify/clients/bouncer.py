# Licensed under the Apache License, Version 2.0.
"""
Bouncer (usebouncer.com) API v1.1 client.

Authentication is the ``x-api-key`` header. A batch is created from a JSON array of
``{"email", "name"}`` objects (streamed from a spool, so a retry sends the same bytes), moves
``queued`` → ``processing`` → ``completed``, and its results download as JSON (documented) or CSV
(columns undocumented, located by header name). Bouncer cannot list or search batches, so batch
creation is retried only when the request provably did not reach the vendor. Bouncer merges
repeated addresses of a batch (its ``duplicates`` count): the results hold one row per distinct
address, which the client logs as a warning at submission and reports in ``JobInfo.message``.
The answers are read by :mod:`~airflow_provider_emailverify.clients.bouncer_formats`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_emailverify.clients.base import ApiCall, extra_field, no_result, with_headers
from airflow_provider_emailverify.clients.bouncer_formats import (
    CSV_COLUMNS,
    REASONS,
    VENDOR,
    as_array,
    as_object,
    csv_record_reader,
    csv_row_parser,
    embedded_error_status,
    merged_note,
    parse_batch,
    parse_created,
    parse_credits,
    parse_duplicates,
    parse_record,
)
from airflow_provider_emailverify.clients.streams import checked_records, iter_json_array
from airflow_provider_emailverify.clients.verification import VerificationClient
from airflow_provider_emailverify.exceptions import (
    AuthenticationError,
    EmailVerificationError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobNotFoundError,
    JobNotReadyError,
    PayloadTooLargeError,
    TransientError,
)
from airflow_provider_emailverify.jobs import JobInfo
from airflow_provider_emailverify.results import STATUSES, VerificationResult

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    import httpx

    from airflow_provider_emailverify.clients.base import RawResponse

#: The client, and the wire formats of :mod:`bouncer_formats` kept importable from here.
__all__ = [
    "CSV_COLUMNS",
    "REASONS",
    "BouncerClient",
    "csv_record_reader",
    "csv_row_parser",
    "parse_batch",
    "parse_record",
]

log = logging.getLogger(__name__)

BATCH = "/v1.1/email/verify/batch"
#: Largest batch (``POST /v1.1/email/verify/batch``) and synchronous batch Bouncer accepts.
MAX_BATCH = 100_000
MAX_SYNC_BATCH = 10_000

_CREDITS_LEFT_RE = re.compile(r"(\d+)\s+credits?\s+left")


class BouncerClient(VerificationClient):
    """
    Bouncer API v1.1.

    Extras (``extras``): ``download_format`` (``json``, the documented default, or ``csv``, whose
    columns are undocumented); ``verify_timeout`` (seconds Bouncer may spend on one real-time
    verification, 1-30, default 10); ``sync_timeout`` (read timeout of a synchronous batch,
    default 600 s); ``callback_url`` (Bouncer POSTs there when a batch completes); ``cancel_wait``
    (seconds to wait for a queued batch to start so it can be finished, default 60).

    See :class:`~airflow_provider_emailverify.clients.base.BaseClient` for the other parameters.
    """

    vendor: ClassVar[str] = VENDOR
    default_base_url: ClassVar[str] = "https://api.usebouncer.com"
    max_job_size: ClassVar[int] = MAX_BATCH
    can_find_jobs: ClassVar[bool] = False
    cancel_keeps_partial_results: ClassVar[bool] = True
    connection_extras: ClassVar[dict[str, dict[str, Any]]] = {
        "download_format": extra_field(
            "Results download format",
            "json (default, documented) or csv ([ASSUMED] columns: located by header name)",
        ),
        "verify_timeout": extra_field("Real-time verify timeout (s)", "1-30, default 10", "integer"),
        "sync_timeout": extra_field("Batch sync read timeout (s)", "default 600", "number"),
        "callback_url": extra_field("Batch callback URL", "Bouncer POSTs here when a batch completes"),
        "cancel_wait": extra_field("Cancel: wait for a queued batch (s)", "default 60", "number"),
    }
    unprocessed_statuses: ClassVar[frozenset[int]] = frozenset({503})
    #: Seconds between status checks while waiting for a queued batch to start (cancel).
    poll_interval: ClassVar[float] = 1.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        fmt = str(self.extras.get("download_format") or "json").strip().lower()
        if fmt not in ("json", "csv"):
            raise ValueError(f"bouncer download_format must be 'json' or 'csv', not {fmt!r}")
        self.download_format = fmt
        self.verify_timeout = min(30, max(1, int(float(self.extras.get("verify_timeout") or 10))))
        self.sync_timeout = float(self.extras.get("sync_timeout") or 600)
        self.callback_url = self.extras.get("callback_url") or None
        self.cancel_wait = float(self.extras.get("cancel_wait") or 60)

    # -- transport hooks ---------------------------------------------------------------------
    def authenticate(self, call: ApiCall[Any]) -> ApiCall[Any]:
        return with_headers(call, **{"x-api-key": self.api_key})

    def check(self, call: ApiCall[Any], response: RawResponse) -> None:
        if 200 <= response.status < 300:
            embedded = embedded_error_status(response.body)
            if embedded is None:
                return
            response = replace(response, status=embedded)
        super().check(call, response)  # 429, 5xx
        status = response.status
        message = (self.message_of(response) or "").lower()
        if status in (401, 403):
            self.raise_error(AuthenticationError, call, response)
        if status == 402:
            # "<n> credits left" (or "not enough credits, <n> required" for toxicity lists)
            found = _CREDITS_LEFT_RE.search(message)
            error = InsufficientCreditsError(
                self.error_text(call, response, self.message_of(response) or "Payment Required"),
                **self._error_kwargs(response),
            )
            error.credits_left = int(found.group(1)) if found else None  # type: ignore[attr-defined]
            raise error
        if status == 404:
            self.raise_error(JobNotFoundError, call, response)
        if status == 405:
            # "email addresses and results have been removed": the results are gone for good.
            cls = JobNotFoundError if "removed" in message else JobNotReadyError
            self.raise_error(cls, call, response)
        if status == 400:
            if "too many" in message:
                self.raise_error(PayloadTooLargeError, call, response)
            if "running" in message or "not completed" in message:
                self.raise_error(JobNotReadyError, call, response)
            self.raise_error(InvalidRequestError, call, response)
        if status >= 400:
            self.raise_error(EmailVerificationError, call, response)

    # -- batches -------------------------------------------------------------------------------
    def submit_job(self, records: Iterable[dict[str, Any]], *, name: str | None = None) -> str:
        """
        Create one batch from ``records`` (dicts with ``email`` and optionally ``name``).

        The JSON body is written to a spool first (constant memory), so its size is known and a
        retry sends the same bytes. Bouncer cannot find batches by name, so the request is
        retried only when it provably did not reach Bouncer (refused connection, 429, 503);
        otherwise :class:`~airflow_provider_emailverify.exceptions.JobCreationUncertainError` is
        raised instead of risking a second paid batch. When Bouncer reports repeated addresses
        (``duplicates``), a warning says how many were merged: the results hold one row per
        distinct address, not one per submitted record.

        :param records: the addresses (at most :attr:`max_job_size`).
        :param name: a label for logs (Bouncer batches carry no name).
        """
        counter = [0]
        call = ApiCall(
            "POST",
            BATCH,
            "batch create",
            parse=lambda body: (parse_created(body), parse_duplicates(body)),
            params={"callback": self.callback_url} if self.callback_url else None,
            headers={"Content-Type": "application/json"},
        )
        (job_id, duplicates), _ = self.create_job_from(self._json_array(records, counter), call, name=name)
        log.info("bouncer batch %s created for %d addresses (%s)", job_id, counter[0], name or "unnamed")
        if duplicates > 0:
            log.warning("bouncer batch %s: %s", job_id, merged_note(duplicates))
        return job_id

    def _json_array(self, records: Iterable[Any], counter: list[int]) -> Iterator[bytes]:
        """The batch body, ``[{"email": ..., "name": ...}, ...]``, in blocks (``counter[0]``: rows so far)."""

        def items() -> Iterator[str]:
            for index, record, email in checked_records(records, vendor=VENDOR, max_rows=self.max_job_size):
                item = {"email": email}
                if isinstance(record, dict) and record.get("name") not in (None, ""):
                    item["name"] = str(record["name"])
                counter[0] = index
                yield json.dumps(item, ensure_ascii=False)

        return _join_array(items())

    def job_status_call(self, job_id: str) -> ApiCall[JobInfo]:
        return ApiCall("GET", f"{BATCH}/{job_id}", "batch status", parse=parse_batch, params={"with-stats": "true"})

    def cancel_call(self, job_id: str) -> ApiCall[Any]:
        """Finish the batch early: unverified addresses are refunded (only while ``processing``)."""
        return ApiCall("POST", f"{BATCH}/{job_id}/finish", "batch finish", parse=no_result)

    def finish_job(self, job_id: str) -> None:
        """Stop a processing batch now; it completes with what was verified and refunds the rest."""
        self.call(self.cancel_call(job_id))

    def cancel_job(self, job_id: str) -> None:
        """
        Stop the batch so it costs nothing more: finish it when processing; when still queued,
        wait up to ``cancel_wait`` seconds for it to start, then finish it. A completed batch is
        left alone (its results are paid for; :meth:`delete_job` removes them).
        """
        deadline = time.monotonic() + self.cancel_wait
        while True:
            try:
                self.call(self.cancel_call(job_id))
                log.info("bouncer batch %s finished early", job_id)
                return
            except JobNotFoundError:
                log.info("bouncer batch %s is already gone", job_id)
                return
            except JobNotReadyError:
                info = self.get_job(job_id)
            if self._cancel_settled(job_id, info, deadline):
                return
            time.sleep(self.poll_interval)

    async def acancel_job(self, job_id: str, client: httpx.AsyncClient | None = None) -> None:
        """Async :meth:`cancel_job`."""
        import asyncio

        deadline = time.monotonic() + self.cancel_wait
        while True:
            try:
                await self.acall(self.cancel_call(job_id), client)
                log.info("bouncer batch %s finished early", job_id)
                return
            except JobNotFoundError:
                log.info("bouncer batch %s is already gone", job_id)
                return
            except JobNotReadyError:
                info = await self.aget_job(job_id, client)
            if self._cancel_settled(job_id, info, deadline):
                return
            await asyncio.sleep(self.poll_interval)

    def _cancel_settled(self, job_id: str, info: JobInfo, deadline: float) -> bool:
        """After a refused finish: ``True`` when nothing is left to stop; raise when waiting is over."""
        if info.is_terminal:
            log.info("bouncer batch %s is already %s; nothing to cancel", job_id, info.vendor_status)
            return True
        if time.monotonic() >= deadline:
            raise JobNotReadyError(
                f"bouncer batch {job_id} is still {info.vendor_status or 'queued'} after "
                f"{self.cancel_wait:.0f}s; Bouncer can only finish a running batch",
                vendor=VENDOR,
            )
        return False

    def delete_job(self, job_id: str) -> None:
        """Delete a completed batch's addresses and results (irreversible)."""
        self.call(ApiCall("DELETE", f"{BATCH}/{job_id}", "batch delete", parse=no_result))

    def iter_results(self, job_id: str, *, download: str = "all") -> Iterator[VerificationResult]:
        """
        Stream the batch's results (restarting a broken download without repeating a row).

        :param job_id: the batch id.
        :param download: ``all`` or one status (``deliverable``, ``risky``, ``undeliverable``, ``unknown``).
        """
        if download not in ("all", *STATUSES):
            raise InvalidRequestError(f"bouncer download filter must be 'all' or one of {STATUSES}", vendor=VENDOR)
        call = ApiCall(
            "GET",
            f"{BATCH}/{job_id}/download",
            "batch download",
            params={"download": download},
            headers={"Accept": "text/csv" if self.download_format == "csv" else "application/json"},
        )

        def open_rows() -> Iterator[VerificationResult]:
            if self.download_format == "csv":
                reader = self.stream_csv(call)
                header = next(reader, None)
                if header is None:
                    return
                yield from map(csv_row_parser(header, job_id=job_id), filter(None, reader))
                return
            try:
                for record in iter_json_array(self.stream_chunks(call, json_body=True)):
                    yield parse_record(record, job_id=job_id)
            except ValueError as err:  # cut short without a transport error: fetch it again
                raise TransientError(f"bouncer batch download: {err}", vendor=VENDOR) from None

        return self.iter_restartable(open_rows, what=f"batch {job_id} download")

    # -- single address, account -----------------------------------------------------------------
    def verify_email(self, email: str) -> VerificationResult:
        """Real-time verification (Bouncer spends up to ``verify_timeout`` seconds on it)."""
        return self.call(
            ApiCall(
                "GET",
                "/v1.1/email/verify",
                "verify",
                parse=parse_record,
                params={"email": email, "timeout": self.verify_timeout},
                read_timeout=max(self.read_timeout, self.verify_timeout + 15),
            )
        )

    def get_credits(self) -> int:
        return self.call(ApiCall("GET", "/v1.1/credits", "credits", parse=parse_credits))

    def test_connection(self) -> tuple[bool, str]:
        return self.credits_probe("Connected to Bouncer: {credits} credits available")

    # -- vendor-only endpoints -------------------------------------------------------------------
    def verify_batch_sync(self, emails: Sequence[str]) -> list[VerificationResult]:
        """
        ``POST /v1.1/email/verify/batch/sync``: up to 10,000 addresses answered in one (slow)
        response. Bouncer caches results for 24 h, so a retry is not charged again.
        """
        emails = [str(e) for e in emails]
        if not emails:
            raise InvalidRequestError("bouncer batch sync: no addresses given", vendor=VENDOR)
        if len(emails) > MAX_SYNC_BATCH:
            raise PayloadTooLargeError(
                f"bouncer batch sync takes at most {MAX_SYNC_BATCH} addresses, got {len(emails)}", vendor=VENDOR
            )
        return self.call(
            ApiCall(
                "POST",
                f"{BATCH}/sync",
                "batch sync",
                parse=lambda body: [parse_record(r) for r in as_array(body)],
                json=emails,
                read_timeout=self.sync_timeout,
            )
        )

    def verify_domain(self, domain: str) -> dict[str, Any]:
        """``GET /v1.1/domain``: the domain's accept-all, disposable, free flags, DNS and provider (1 credit)."""
        return self.call(ApiCall("GET", "/v1.1/domain", "domain", parse=as_object, params={"domain": domain}))

    def create_toxicity_list(self, emails: Iterable[str], *, name: str | None = None) -> str:
        """Start a toxicity check (v1 API) of ``emails``; returns the list id (1 credit per address)."""
        addresses = (json.dumps(email) for _, _, email in checked_records(emails, vendor=VENDOR, max_rows=None))
        call = ApiCall(
            "POST", "/v1/toxicity/list", "toxicity create", parse=lambda b: str(as_object(b)["id"]),
            headers={"Content-Type": "application/json"},
        )
        return self.create_job_from(_join_array(addresses), call, name=name)[0]

    def get_toxicity_list(self, list_id: str) -> dict[str, Any]:
        """Toxicity list state: ``{"id", "createdAt", "status": processing|completed|error}``."""
        return self.call(ApiCall("GET", f"/v1/toxicity/list/{list_id}", "toxicity status", parse=as_object))

    def iter_toxicity_data(self, list_id: str) -> Iterator[dict[str, Any]]:
        """Stream ``{"email", "toxicity"}`` rows of a completed toxicity list."""
        call = ApiCall("GET", f"/v1/toxicity/list/{list_id}/data", "toxicity data")

        def open_rows() -> Iterator[dict[str, Any]]:
            try:
                yield from iter_json_array(self.stream_chunks(call, json_body=True))
            except ValueError as err:
                raise TransientError(f"bouncer toxicity download: {err}", vendor=VENDOR) from None

        return self.iter_restartable(open_rows, what=f"toxicity list {list_id} download")

    def delete_toxicity_list(self, list_id: str) -> None:
        self.call(ApiCall("DELETE", f"/v1/toxicity/list/{list_id}", "toxicity delete", parse=no_result))

    def create_sample(self, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """Start a sampling estimate (v1 API) of a list; returns the sample object (``id``, ``finished``...)."""
        call = ApiCall(
            "POST", "/v1/email/verify/batch/sample", "sample create", parse=as_object,
            headers={"Content-Type": "application/json"},
        )
        return self.create_job_from(self._json_array(records, [0]), call, name=None)[0]

    def get_sample(self, sample_id: str) -> dict[str, Any]:
        """A sampling estimate: ``finished``, ``bounceEstimate`` (percent), ``analysed``, ``toxicity``."""
        return self.call(ApiCall("GET", f"/v1/email/verify/batch/sample/{sample_id}", "sample status", parse=as_object))


def _join_array(items: Iterable[str]) -> Iterator[bytes]:
    """A JSON array of already-encoded items, in blocks of 2,000 items."""
    block = ["["]
    first = True
    for item in items:
        block.append(item if first else "," + item)
        first = False
        if len(block) >= 2000:
            yield "".join(block).encode()
            block = []
    block.append("]")
    yield "".join(block).encode()
