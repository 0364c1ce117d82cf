# Licensed under the Apache License, Version 2.0.
"""The vendor-neutral hook: an Airflow connection turned into a vendor client."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_emailverify.clients.base import COMMON_EXTRAS, RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import httpx

    from airflow_provider_emailverify.clients.verification import VerificationClient
    from airflow_provider_emailverify.jobs import JobInfo
    from airflow_provider_emailverify.results import VerificationResult



def base_url_from(host: str | None, port: int | None = None, schema: str | None = None) -> str | None:
    """
    The API base URL a connection's host names: a full URL is taken as is
    (``http://127.0.0.1:8099/neverbounce``); a bare host becomes ``https://host[:port][/schema]``.
    """
    if not host:
        return None
    if "://" in host:
        return host.rstrip("/")
    url = f"https://{host}"
    if port:
        url += f":{port}"
    if schema:
        url += "/" + schema.strip("/")
    return url


class EmailVerificationHook(BaseHook):
    """
    Base of the vendor hooks: builds the vendor client from an Airflow connection.

    The API key (or v3 API secret) is the connection's password, the v3 API username its login;
    the host optionally overrides the vendor's base URL (how a DAG points at the emulator);
    other settings are extras.

    :param conn_id: the connection to use (``<conn_type>_default`` when omitted).
    :param timeout: read timeout in seconds (overrides the connection's ``read_timeout`` extra).
    """

    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str] = ""
    conn_type: ClassVar[str] = ""
    hook_name: ClassVar[str] = ""
    #: Vendor key used in results, XCom and statistics.
    vendor: ClassVar[str] = ""
    #: Dashboard page of a job, formatted with ``job_id`` (``None``: the vendor has none).
    dashboard_url_template: ClassVar[str | None] = None

    def __init__(self, conn_id: str | None = None, *, timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        self.timeout = timeout

    # -- connection form -------------------------------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form for Airflow < 3.2 (later versions read ``conn-fields`` from provider info)."""
        from airflow_provider_emailverify.get_provider_info import ui_field_behaviour

        return ui_field_behaviour(cls.client_class())

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from wtforms import StringField

        return {
            name: StringField(spec.get("label", name), widget=BS3TextFieldWidget())
            for name, spec in {**COMMON_EXTRAS, **cls.client_class().connection_extras}.items()
        }

    @classmethod
    def client_class(cls) -> type[VerificationClient]:
        """The vendor client class (imported lazily so DAG parsing stays fast)."""
        raise NotImplementedError

    # -- client ----------------------------------------------------------------------------------
    def client_kwargs(self, conn: Any) -> dict[str, Any]:
        """Client constructor arguments from a connection (vendor hooks add their own)."""
        extras = conn.extra_dejson or {}
        retry = RetryPolicy()
        if extras.get("max_retries") not in (None, ""):
            retry.attempts = max(1, int(extras["max_retries"]))
        if extras.get("backoff_max") not in (None, ""):
            retry.maximum = float(extras["backoff_max"])
        kwargs: dict[str, Any] = {
            "api_key": conn.password or "",
            "base_url": base_url_from(conn.host, conn.port, conn.schema),
            "retry": retry,
            "extras": extras,
        }
        if extras.get("connect_timeout") not in (None, ""):
            kwargs["connect_timeout"] = float(extras["connect_timeout"])
        if self.timeout is not None:
            kwargs["read_timeout"] = float(self.timeout)
        elif extras.get("read_timeout") not in (None, ""):
            kwargs["read_timeout"] = float(extras["read_timeout"])
        return kwargs

    @cached_property
    def client(self) -> VerificationClient:
        return self.client_class()(**self.client_kwargs(self.get_connection(self.conn_id)))

    def get_conn(self) -> VerificationClient:
        return self.client

    async def aget_client(self) -> VerificationClient:
        """The client, with the connection read asynchronously (for triggers)."""
        if "client" in self.__dict__:
            return self.client
        from airflow.providers.common.compat.connection import get_async_connection

        conn = await get_async_connection(self.conn_id, self)
        self.__dict__["client"] = client = self.client_class()(**self.client_kwargs(conn))
        return client

    @property
    def max_job_size(self) -> int:
        """
        Addresses per vendor job: the connection's ``max_rows_per_job`` extra where the vendor's
        client reads one (its limits are settings), else the vendor's fixed limit.
        """
        cls = self.client_class()
        if "max_rows_per_job" in cls.connection_extras:
            return self.client.max_job_size
        return cls.max_job_size

    @property
    def can_find_jobs(self) -> bool:
        return self.client_class().can_find_jobs

    @property
    def cancel_keeps_partial_results(self) -> bool:
        """Whether cancelling completes a job with partial results (see the client's attribute)."""
        return self.client_class().cancel_keeps_partial_results

    @property
    def exact_job_counts(self) -> bool:
        """Whether ``JobInfo.counts`` match the neutral statuses of the results exactly."""
        return getattr(self.client_class(), "exact_job_counts", True)

    def dashboard_url(self, job_id: str) -> str | None:
        if not self.dashboard_url_template:
            return None
        return self.dashboard_url_template.format(job_id=job_id)

    # -- the neutral operations (DESIGN.md) --------------------------------------------------------
    def submit_job(self, records: Iterable[dict[str, Any]], *, name: str | None = None) -> str:
        """Create and start one vendor job from records with an ``email`` key; returns the job id."""
        return self.client.submit_job(records, name=name)

    def get_job(self, job_id: str) -> JobInfo:
        return self.client.get_job(str(job_id))

    async def aget_job(self, job_id: str, client: httpx.AsyncClient | None = None) -> JobInfo:
        """Job status from the triggerer; pass one ``httpx.AsyncClient`` for a whole polling run."""
        return await (await self.aget_client()).aget_job(str(job_id), client)

    async def acancel_job(self, job_id: str, client: httpx.AsyncClient | None = None) -> None:
        await (await self.aget_client()).acancel_job(str(job_id), client)

    def iter_results(self, job_id: str) -> Iterator[VerificationResult]:
        """Stream the job's results as neutral rows, one at a time."""
        return self.client.iter_results(str(job_id))

    def verify_email(self, email: str) -> VerificationResult:
        return self.client.verify_email(email)

    def cancel_job(self, job_id: str) -> None:
        self.client.cancel_job(str(job_id))

    def find_job(self, name: str) -> str | None:
        """The id of the job named ``name``, where the vendor can search (else ``None``)."""
        return self.client.find_job(name)

    def get_credits(self) -> int | None:
        return self.client.get_credits()

    def test_connection(self) -> tuple[bool, str]:
        try:
            return self.client.test_connection()
        except Exception as err:  # the UI shows the message; it is already redacted by the client
            return False, str(err)


def get_hook_class(conn_type: str) -> type[EmailVerificationHook]:
    """The hook class registered for ``conn_type`` in this provider's info."""
    from airflow_provider_emailverify.get_provider_info import get_provider_info

    for entry in get_provider_info()["connection-types"]:
        if entry["connection-type"] == conn_type:
            module, _, name = entry["hook-class-name"].rpartition(".")
            from importlib import import_module

            return getattr(import_module(module), name)
    raise ValueError(f"connection type {conn_type!r} is not an email verification connection")


def hook_for_connection(conn_id: str, **kwargs: Any) -> EmailVerificationHook:
    """The vendor hook for ``conn_id``, picked by the connection's type (a vendor switch is a conn_id change)."""
    conn = BaseHook.get_connection(conn_id)
    hook = get_hook_class(conn.conn_type)(conn_id=conn_id, **kwargs)
    return hook
