# Licensed under the Apache License, Version 2.0.
"""Bouncer hook (connection type ``bouncer``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_emailverify.hooks.base import EmailVerificationHook

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from airflow_provider_emailverify.clients.bouncer import BouncerClient
    from airflow_provider_emailverify.clients.verification import VerificationClient
    from airflow_provider_emailverify.results import VerificationResult



class BouncerHook(EmailVerificationHook):
    """
    Bouncer API v1.1. The connection's password is the API key (sent as ``x-api-key``); the host
    optionally overrides ``https://api.usebouncer.com`` (e.g. ``http://127.0.0.1:8099/bouncer``
    for the emulator).

    Bouncer cannot look batches up by name, so a batch creation that may have reached Bouncer
    without an answer raises
    :class:`~airflow_provider_emailverify.exceptions.JobCreationUncertainError` rather than
    paying twice. Besides the neutral operations: :meth:`finish_job`, :meth:`delete_job`,
    :meth:`iter_results_by_status`, :meth:`verify_batch_sync`, :meth:`verify_domain`, the
    toxicity lists and the sampling estimate.

    :param conn_id: the connection (``bouncer_default`` when omitted).
    """

    conn_type = "bouncer"
    default_conn_name = "bouncer_default"
    hook_name = "Bouncer"
    vendor = "bouncer"
    #: Bouncer documents no per-batch page in its web app.
    dashboard_url_template: ClassVar[str | None] = None

    @classmethod
    def client_class(cls) -> type[VerificationClient]:
        from airflow_provider_emailverify.clients.bouncer import BouncerClient

        return BouncerClient

    @property
    def bouncer(self) -> BouncerClient:
        return self.client  # type: ignore[return-value]

    # -- vendor-only features -----------------------------------------------------------------------
    def finish_job(self, job_id: str) -> None:
        """Stop a processing batch now: it completes with what was verified; the rest is refunded."""
        self.bouncer.finish_job(str(job_id))

    def delete_job(self, job_id: str) -> None:
        """Delete a completed batch's addresses and results (irreversible)."""
        self.bouncer.delete_job(str(job_id))

    def iter_results_by_status(self, job_id: str, status: str) -> Iterator[VerificationResult]:
        """Only the results with one Bouncer status (``deliverable``, ``risky``, ``undeliverable``, ``unknown``)."""
        return self.bouncer.iter_results(str(job_id), download=status)

    def verify_batch_sync(self, emails: Sequence[str]) -> list[VerificationResult]:
        """Up to 10,000 addresses verified in one long request (results cached by Bouncer for 24 h)."""
        return self.bouncer.verify_batch_sync(emails)

    def verify_domain(self, domain: str) -> dict[str, Any]:
        """Domain verification: accept-all, disposable and free flags, DNS and provider."""
        return self.bouncer.verify_domain(domain)

    def create_toxicity_list(self, emails: Iterable[str], *, name: str | None = None) -> str:
        """Start a toxicity check of ``emails`` (v1 API); returns the list id."""
        return self.bouncer.create_toxicity_list(emails, name=name)

    def get_toxicity_list(self, list_id: str) -> dict[str, Any]:
        return self.bouncer.get_toxicity_list(str(list_id))

    def iter_toxicity_data(self, list_id: str) -> Iterator[dict[str, Any]]:
        """``{"email", "toxicity"}`` rows (0-5; 4-5 = suppress) of a completed toxicity list."""
        return self.bouncer.iter_toxicity_data(str(list_id))

    def delete_toxicity_list(self, list_id: str) -> None:
        self.bouncer.delete_toxicity_list(str(list_id))

    def create_sample(self, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """Start a quick bounce estimate on a sample of a list (v1 API)."""
        return self.bouncer.create_sample(records)

    def get_sample(self, sample_id: str) -> dict[str, Any]:
        return self.bouncer.get_sample(str(sample_id))
