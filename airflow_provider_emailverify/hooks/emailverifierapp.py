# Licensed under the Apache License, Version 2.0.
"""Email Verifier App hook (connection type ``emailverifierapp``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow_provider_emailverify.hooks.base import EmailVerificationHook

if TYPE_CHECKING:
    from airflow_provider_emailverify.clients.emailverifierapp import EmailVerifierAppClient
    from airflow_provider_emailverify.clients.verification import VerificationClient
    from airflow_provider_emailverify.results import VerificationResult



class EmailVerifierAppHook(EmailVerificationHook):
    """
    Email Verifier App. The connection's password is the ``user_API_token``; the host optionally
    overrides ``https://api.evasrv.com`` (e.g. ``http://127.0.0.1:8099/emailverifierapp`` for
    the emulator).

    The batch API's URLs and field names are not published: they are extras whose defaults are
    the spec's assumptions. So are its size limits: jobs are at most ``max_rows_per_job`` rows
    (default 100,000) and, when ``max_upload_bytes`` is set, an upload file past it is refused
    before anything is sent. The vendor has no balance endpoint (:meth:`get_credits` is ``None``)
    and no way to cancel a job. Besides the neutral operations: :meth:`validate_form_email` and
    :meth:`get_result_links`.

    :param conn_id: the connection (``emailverifierapp_default`` when omitted).
    """

    conn_type = "emailverifierapp"
    default_conn_name = "emailverifierapp_default"
    hook_name = "Email Verifier App"
    vendor = "emailverifierapp"
    dashboard_url_template: ClassVar[str | None] = None

    @classmethod
    def client_class(cls) -> type[VerificationClient]:
        from airflow_provider_emailverify.clients.emailverifierapp import EmailVerifierAppClient

        return EmailVerifierAppClient

    @property
    def eva(self) -> EmailVerifierAppClient:
        return self.client  # type: ignore[return-value]

    # -- vendor-only features -----------------------------------------------------------------------
    def validate_form_email(self, email: str, **flags: bool) -> VerificationResult:
        """
        The Form Validation API (format/domain check for sign-up forms; ``Valid``/``Invalid``).

        :param flags: ``free``, ``disposable``, ``did_you_mean``, ``role``, ``bad``, ``ev_score``.
        """
        return self.eva.validate_form_email(email, **flags)

    def get_result_links(self, job_id: str) -> dict[str, str]:
        """The three result file URLs of a finished job (``valid``, ``invalid``, ``unknown``)."""
        return self.eva.get_result_links(str(job_id))
