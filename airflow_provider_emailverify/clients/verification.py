# Licensed under the Apache License, Version 2.0.
"""
The operations every vendor client offers in neutral terms, on top of the transport of
:class:`~airflow_provider_emailverify.clients.base.BaseClient`: submit a job, follow and cancel
it, read its results, verify one address, test the connection. Job creation is paid for, so it
runs through :meth:`VerificationClient.create_job_safely` or
:meth:`VerificationClient.create_job_once`, which never let a retry pay twice;
:meth:`VerificationClient.create_job_from` adds the spooled request body uploads need.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow_provider_emailverify.clients.base import BaseClient, extra_field
from airflow_provider_emailverify.clients.streams import SpooledBody
from airflow_provider_emailverify.exceptions import (
    EmailVerificationError,
    JobCreationUncertainError,
    JobNotFoundError,
    PayloadTooLargeError,
    TransientError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import httpx

    from airflow_provider_emailverify.clients.base import ApiCall
    from airflow_provider_emailverify.jobs import JobInfo
    from airflow_provider_emailverify.results import VerificationResult

log = logging.getLogger(__name__)

T = TypeVar("T")


def job_limit_extras(rows: str, upload: str) -> dict[str, dict[str, Any]]:
    """
    The ``max_rows_per_job`` and ``max_upload_bytes`` connection extras, described by ``rows``
    and ``upload`` (defaults, vendor limits, whether they are assumed), for
    :attr:`~airflow_provider_emailverify.clients.base.BaseClient.connection_extras`.
    """
    return {
        "max_rows_per_job": extra_field("Rows per job", rows, "integer"),
        "max_upload_bytes": extra_field("Largest upload (bytes)", upload, "integer"),
    }


class VerificationClient(BaseClient):
    """
    The operations every vendor client offers, in neutral terms (what the hooks call).

    :meth:`find_job` returns ``None`` for vendors that cannot search by name
    (:attr:`can_find_jobs` is ``False``).

    Job limits: a client whose :attr:`connection_extras` list ``max_rows_per_job`` and
    ``max_upload_bytes`` (:func:`job_limit_extras`) reads them from the connection. The class
    attributes are the defaults: :attr:`max_job_size` rows, at most :attr:`vendor_max_job_size`;
    :attr:`max_upload_bytes` per uploaded file, checked by :meth:`limited_upload` record by
    record before anything is sent.
    """

    #: The vendor's own cap on rows per job, bounding ``max_rows_per_job`` (``None``: none known).
    vendor_max_job_size: ClassVar[int | None] = None
    #: Largest uploaded file in bytes (``None``: no local limit).
    max_upload_bytes: ClassVar[int | None] = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if "max_rows_per_job" in self.connection_extras and (rows := self.extras.get("max_rows_per_job")):
            rows = max(1, int(rows))
            self.max_job_size = min(rows, self.vendor_max_job_size or rows)  # type: ignore[misc]
        if "max_upload_bytes" in self.connection_extras and (size := self.extras.get("max_upload_bytes")):
            self.max_upload_bytes = max(1, int(size))  # type: ignore[misc]

    def limited_upload(self, records: Iterable[tuple[int, bytes]]) -> Iterator[bytes]:
        """
        The bytes of an upload file from ``(record number, bytes)`` pairs, refusing a file past
        :attr:`max_upload_bytes` with :class:`PayloadTooLargeError` naming the record, while the
        file is being built, before anything is sent.
        """
        limit = self.max_upload_bytes
        size = 0
        for index, data in records:
            size += len(data)
            if limit is not None and size > limit:
                raise PayloadTooLargeError(
                    f"{self.vendor}: the upload file passes the {limit}-byte limit at record {index}; "
                    f"submit fewer or shorter records per job (max_rows_per_job extra)",
                    vendor=self.vendor,
                )
            yield data

    def submit_job(self, records: Iterable[dict[str, Any]], *, name: str | None = None) -> str:
        """Create (and start) one vendor job from records with an ``email`` key; returns the job id."""
        raise NotImplementedError

    def job_status_call(self, job_id: str) -> ApiCall[JobInfo]:
        """The status endpoint as an :class:`ApiCall` (shared by :meth:`get_job` and :meth:`aget_job`)."""
        raise NotImplementedError

    def cancel_call(self, job_id: str) -> ApiCall[Any]:
        """The cancel/delete endpoint as an :class:`ApiCall` (shared by sync and async cancel)."""
        raise NotImplementedError

    def get_job(self, job_id: str) -> JobInfo:
        return self.call(self.job_status_call(job_id))

    async def aget_job(self, job_id: str, client: httpx.AsyncClient | None = None) -> JobInfo:
        return await self.acall(self.job_status_call(job_id), client)

    def cancel_job(self, job_id: str) -> None:
        try:
            self.call(self.cancel_call(job_id))
        except JobNotFoundError:
            log.info("%s job %s is already gone", self.vendor, job_id)

    async def acancel_job(self, job_id: str, client: httpx.AsyncClient | None = None) -> None:
        try:
            await self.acall(self.cancel_call(job_id), client)
        except JobNotFoundError:
            log.info("%s job %s is already gone", self.vendor, job_id)

    def iter_results(self, job_id: str) -> Iterator[VerificationResult]:
        raise NotImplementedError

    def verify_email(self, email: str) -> VerificationResult:
        raise NotImplementedError

    def find_job(self, name: str) -> str | None:
        return None

    def get_credits(self) -> int | None:
        return None

    def test_connection(self) -> tuple[bool, str]:
        """Call the vendor's cheapest authenticated endpoint."""
        raise NotImplementedError

    def credits_probe(self, connected: str, *, vendor_words: bool = False) -> tuple[bool, str]:
        """
        :meth:`test_connection` through :meth:`get_credits`, the cheapest authenticated call of
        most vendors.

        :param connected: the text when it works, ``{credits}`` standing for the balance.
        :param vendor_words: on failure, report the vendor's own message when it sent one.
        """
        try:
            credits = self.get_credits()
        except EmailVerificationError as err:
            return False, (err.vendor_message if vendor_words else None) or err.message
        return True, connected.format(credits=credits)

    def create_job_safely(self, call: ApiCall[str], *, name: str | None) -> str:
        """
        Run a job-creating ``call`` so that a retry never pays twice: when the request may have
        reached the vendor and failed, look the job up by ``name`` before trying again (vendors
        that can search). Failures that surely did not reach the vendor are retried by
        :meth:`call` itself: one that comes out of it has used up the retries, and is raised.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.call(call)
            except TransientError as err:
                if attempt >= self.retry.attempts or not getattr(err, "sent", True):
                    raise
                if not (self.can_find_jobs and name):
                    raise
                found = self.find_job(name)
                if found is not None:
                    log.info("%s job %r was created before the error: %s", self.vendor, name, found)
                    return found
                delay = self.retry.wait(attempt, err)
                log.warning("%s create job %r: %s; retry in %.1fs", self.vendor, name, err, delay)
                time.sleep(delay)

    def create_job_once(self, call: ApiCall[str], *, name: str | None) -> str:
        """
        :meth:`create_job_safely`, but a creation that may have reached the vendor without an
        answer (and cannot be looked up by name) raises :class:`JobCreationUncertainError`, which
        is not transient: no retry layer re-submits it into a second paid job.
        """
        try:
            return self.create_job_safely(call, name=name)
        except TransientError as err:
            if not getattr(err, "sent", True):
                raise
            raise JobCreationUncertainError(
                self.redact(
                    f"{self.vendor} {call.endpoint}: the request may have reached {self.vendor} but no answer "
                    f"came back ({err.message}); a job may have been created. It was not submitted again, "
                    f"to avoid paying twice: check the vendor's dashboard before retrying"
                ),
                vendor=self.vendor,
                http_status=err.http_status,
                vendor_message=err.vendor_message,
            ) from None

    def create_job_from(
        self,
        chunks: Iterable[bytes],
        call: ApiCall[T],
        *,
        name: str | None,
        limit: int | None = None,
        content: Callable[[SpooledBody], Any] | None = None,
    ) -> tuple[T, int]:
        """
        Run a job-creating ``call`` whose body is generated once from ``chunks``.

        The body is spooled first (:class:`~airflow_provider_emailverify.clients.streams.SpooledBody`:
        constant memory, refused past ``limit`` bytes before anything is sent, the same bytes on
        every retry). The call is not idempotent: it runs through :meth:`create_job_safely` when
        the vendor can find jobs by name, else through :meth:`create_job_once`.

        :param content: makes the call's content from the spool (default: the spool's replay).
        :returns: the parsed answer and the body's size in bytes.
        """
        with SpooledBody(chunks, limit=limit) as spool:
            body = spool.replay if content is None else content(spool)
            create = self.create_job_safely if self.can_find_jobs else self.create_job_once
            return create(replace(call, content=body, idempotent=False), name=name), spool.size
