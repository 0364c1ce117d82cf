# Licensed under the Apache License, Version 2.0.
"""Bouncify hook (connection type ``bouncify``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow_provider_emailverify.hooks.base import EmailVerificationHook

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow_provider_emailverify.clients.bouncify import BouncifyClient
    from airflow_provider_emailverify.clients.verification import VerificationClient
    from airflow_provider_emailverify.results import VerificationResult



class BouncifyHook(EmailVerificationHook):
    """
    Bouncify API v1. The connection's password is the API key (sent as the ``apikey`` query
    parameter and redacted from logs and errors); the host optionally overrides
    ``https://api.bouncify.io`` (e.g. ``http://127.0.0.1:8099/bouncify`` for the emulator).

    Jobs are at most ``max_rows_per_job`` rows (default 200,000, so the CSV stays under the 10 MB
    upload limit; up to Bouncify's 500,000). Besides the neutral operations: :meth:`start_job`,
    :meth:`delete_job` and :meth:`iter_results_by_status`.

    :param conn_id: the connection (``bouncify_default`` when omitted).
    """

    conn_type = "bouncify"
    default_conn_name = "bouncify_default"
    hook_name = "Bouncify"
    vendor = "bouncify"
    #: Bouncify documents no per-list page in its web app.
    dashboard_url_template: ClassVar[str | None] = None

    @classmethod
    def client_class(cls) -> type[VerificationClient]:
        from airflow_provider_emailverify.clients.bouncify import BouncifyClient

        return BouncifyClient

    @property
    def bouncify(self) -> BouncifyClient:
        return self.client  # type: ignore[return-value]

    # -- vendor-only features -----------------------------------------------------------------------
    def start_job(self, job_id: str, *, wait_ready: bool = True) -> None:
        """Start verifying an uploaded list (the neutral submit already does this)."""
        self.bouncify.start_job(str(job_id), wait_ready=wait_ready)

    def delete_job(self, job_id: str) -> None:
        """Delete a list that is ready, completed or failed (permanent)."""
        self.bouncify.delete_job(str(job_id))

    def iter_results_by_status(self, job_id: str, statuses: Sequence[str]) -> Iterator[VerificationResult]:
        """Only the results with the given verdicts (``deliverable``, ``undeliverable``, ``accept_all``, ``unknown``)."""
        return self.bouncify.iter_results(str(job_id), filter_result=statuses)
