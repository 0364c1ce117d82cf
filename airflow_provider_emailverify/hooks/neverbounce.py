# Licensed under the Apache License, Version 2.0.
"""NeverBounce hooks: v4.2 (connection type ``neverbounce``) and the deprecated v3 (``neverbounce_v3``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_emailverify.hooks.base import EmailVerificationHook

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_emailverify.clients.neverbounce import NeverBounceClient
    from airflow_provider_emailverify.clients.neverbounce_v3 import NeverBounceV3Client
    from airflow_provider_emailverify.clients.verification import VerificationClient
    from airflow_provider_emailverify.results import VerificationResult



class NeverBounceHook(EmailVerificationHook):
    """
    NeverBounce v4.2. The connection's password is the API key (``secret_...``); the host
    optionally overrides ``https://api.neverbounce.com`` (e.g. ``http://127.0.0.1:8099/neverbounce``
    for the emulator).

    Besides the neutral operations: :meth:`create_remote_job` (the vendor fetches the list from
    a URL), :meth:`iter_json_results` (paginated JSON results, with did-you-mean suggestions),
    :meth:`confirm_poe` (JS-widget point-of-entry confirmation), :meth:`start_job`,
    :meth:`parse_job` and :meth:`search_jobs`.

    :param conn_id: the connection (``neverbounce_default`` when omitted).
    """

    conn_type = "neverbounce"
    default_conn_name = "neverbounce_default"
    hook_name = "NeverBounce"
    vendor = "neverbounce"
    #: [ASSUMED] the dashboard's list page; not documented in the API reference.
    dashboard_url_template: ClassVar[str | None] = "https://app.neverbounce.com/lists/{job_id}"

    @classmethod
    def client_class(cls) -> type[VerificationClient]:
        from airflow_provider_emailverify.clients.neverbounce import NeverBounceClient

        return NeverBounceClient

    @property
    def nb(self) -> NeverBounceClient:
        return self.client  # type: ignore[return-value]

    # -- vendor-only features -----------------------------------------------------------------------
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
        Create a job from a file NeverBounce downloads itself (no 25 MB limit).

        :param url: HTTP(S)/FTP(S)/SFTP URL of a list or CSV (credentials inside the URL).
        :param name: job name (looked up before a retry re-creates it).
        :param auto_start: start verification as soon as the file is parsed.
        :param run_sample: run the free sample analysis instead.
        :param auto_parse: index the file at once (else call :meth:`parse_job`).
        """
        return self.nb.create_remote_job(
            url, name=name, auto_start=auto_start, run_sample=run_sample, auto_parse=auto_parse
        )

    def iter_json_results(self, job_id: str, *, page_size: int | None = None) -> Iterator[VerificationResult]:
        """Results from the paginated ``jobs/results`` endpoint (carries did-you-mean suggestions)."""
        return self.nb.iter_json_results(str(job_id), page_size=page_size)

    def confirm_poe(self, *, email: str, transaction_id: str, confirmation_token: str, result: str) -> bool:
        """Confirm a JS-widget verification (``poe/confirm``) was not tampered with."""
        return self.nb.confirm_poe(
            email=email, transaction_id=transaction_id, confirmation_token=confirmation_token, result=result
        )

    def parse_job(self, job_id: str, *, auto_start: bool = False) -> str:
        return self.nb.parse_job(str(job_id), auto_start=auto_start)

    def start_job(self, job_id: str, *, run_sample: bool = False) -> str:
        return self.nb.start_job(str(job_id), run_sample=run_sample)

    def search_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """``jobs/search`` items (filters: ``job_id``, ``filename``, ``job_status``)."""
        return self.nb.search_jobs(**filters)

    def account_info(self) -> dict[str, Any]:
        return self.nb.account_info()


class NeverBounceV3Hook(EmailVerificationHook):
    """
    NeverBounce v3 (deprecated). The connection's login is the API username, its password the
    API secret; an OAuth access token is fetched and renewed by the client.

    :param conn_id: the connection (``neverbounce_v3_default`` when omitted).
    """

    conn_type = "neverbounce_v3"
    default_conn_name = "neverbounce_v3_default"
    hook_name = "NeverBounce v3 (deprecated)"
    vendor = "neverbounce_v3"
    dashboard_url_template: ClassVar[str | None] = NeverBounceHook.dashboard_url_template

    @classmethod
    def client_class(cls) -> type[VerificationClient]:
        from airflow_provider_emailverify.clients.neverbounce_v3 import NeverBounceV3Client

        return NeverBounceV3Client

    def client_kwargs(self, conn: Any) -> dict[str, Any]:
        return {**super().client_kwargs(conn), "username": conn.login or ""}

    @property
    def nb(self) -> NeverBounceV3Client:
        return self.client  # type: ignore[return-value]

    def create_remote_job(self, url: str, *, name: str | None = None, run_sample: bool = False) -> str:
        """Create a job from a remote file (``input_location=0``)."""
        return self.nb.create_remote_job(url, name=name, run_sample=run_sample)

    def start_job(self, job_id: str) -> None:
        """Start the full run of a job created with ``run_sample``."""
        self.nb.start_job(str(job_id))

    def list_jobs(self) -> list[dict[str, Any]]:
        return self.nb.list_jobs()
