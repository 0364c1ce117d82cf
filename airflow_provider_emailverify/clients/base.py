# Licensed under the Apache License, Version 2.0.
"""
The mechanism every vendor client shares.

A vendor client describes each endpoint once, as an :class:`ApiCall` (the HTTP request plus the
function that turns the decoded answer into a value). :meth:`BaseClient.call` runs it with
``requests`` and tenacity; :meth:`BaseClient.acall` runs the same description with
``httpx.AsyncClient`` for triggers. Both share the retry policy, the error mapping, the timeouts
and the redaction of secrets. The neutral operations the hooks call are
:class:`~airflow_provider_emailverify.clients.verification.VerificationClient`, built on
:class:`BaseClient`; result downloads are streamed by the
:class:`~airflow_provider_emailverify.clients.downloads.DownloadStreams` it inherits, and request
bodies and download formats are in :mod:`~airflow_provider_emailverify.clients.streams`. Nothing
here imports Airflow.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

from airflow_provider_emailverify.clients.downloads import DownloadStreams
from airflow_provider_emailverify.exceptions import EmailVerificationError, ThrottledError, TransientError

if TYPE_CHECKING:
    import httpx
    import requests

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Query/form parameter names whose values are secrets, whatever the vendor.
SECRET_PARAMS = ("key", "apikey", "api_key", "access_token", "user_API_token", "token", "secret")
_SECRET_PARAM_RE = re.compile(r"(?i)\b(" + "|".join(map(re.escape, SECRET_PARAMS)) + r")=([^&\s'\"]+)")


def redact_url(url: str) -> str:
    """``url`` with the values of secret query parameters replaced by ``***``."""
    return _SECRET_PARAM_RE.sub(lambda m: m.group(1) + "=***", url)


#: Connection extras every vendor client reads (timeouts and retries).
COMMON_EXTRAS: dict[str, dict[str, Any]] = {
    "connect_timeout": {"label": "Connect timeout (s)", "schema": {"type": ["number", "null"]}},
    "read_timeout": {"label": "Read timeout (s)", "schema": {"type": ["number", "null"]}},
    "max_retries": {"label": "Tries per call", "schema": {"type": ["integer", "null"]}},
    "backoff_max": {"label": "Longest backoff (s)", "schema": {"type": ["number", "null"]}},
}


def extra_field(label: str, description: str = "", kind: str = "string") -> dict[str, Any]:
    """One connection extra for :attr:`BaseClient.connection_extras` (``kind``: JSON schema type)."""
    return {"label": label, "description": description, "schema": {"type": [kind, "null"]}}


@dataclass
class RetryPolicy:
    """
    How calls are retried.

    :param attempts: total tries per call (1 = no retry).
    :param initial: first backoff in seconds.
    :param maximum: backoff cap in seconds (Retry-After is honoured up to ``max_retry_after``).
    :param max_retry_after: longest Retry-After the client is willing to sleep.
    """

    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    max_retry_after: float = 120.0

    def wait(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to sleep before try ``attempt + 1``: Retry-After when given, else capped full-jitter backoff."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after)
        cap = min(self.maximum, self.initial * (2 ** (attempt - 1)))
        return random.uniform(cap / 2, cap)


@dataclass
class ApiCall(Generic[T]):
    """
    One vendor endpoint call, runnable sync or async.

    :param method: HTTP verb.
    :param path: path below the base URL (``/v4.2/jobs/status``).
    :param endpoint: a short name for logs and errors (never contains a secret).
    :param parse: turns the decoded body (JSON value, or text for non-JSON) into the result.
    :param params: query parameters.
    :param data: form fields.
    :param json: JSON body.
    :param content: raw body bytes, or a zero-argument callable returning an iterable of byte
        chunks (streamed upload; called again for each retry).
    :param headers: extra headers.
    :param idempotent: ``False`` for calls that create something billable: they are retried only
        when the request surely did not reach the vendor (connection refused, throttled).
    :param read_timeout: overrides the client's read timeout for this call.
    """

    method: str
    path: str
    endpoint: str
    parse: Callable[[Any], T] = lambda body: body  # noqa: E731
    params: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    json: Any = None
    content: bytes | Callable[[], Iterable[bytes]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotent: bool = True
    read_timeout: float | None = None

    def body(self) -> bytes | Iterable[bytes] | None:
        return self.content() if callable(self.content) else self.content


@dataclass
class RawResponse:
    """What the vendor answered, decoded enough to check for errors."""

    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON, or text when the answer is not JSON
    text: str


class BaseClient(DownloadStreams):
    """
    A vendor API client: retries, timeouts, error mapping, redaction, sync and async transport.

    Subclasses set :attr:`vendor`, :attr:`default_base_url`, :attr:`max_job_size` and implement
    :meth:`authenticate` (put the credentials into a call) and :meth:`check` (raise the mapped
    exception for a vendor error answer), then build :class:`ApiCall` objects for their endpoints.
    Result downloads are read with the methods of
    :class:`~airflow_provider_emailverify.clients.downloads.DownloadStreams`.

    :param api_key: the vendor API key (or secret); never logged.
    :param base_url: override of the vendor's base URL (without the API version).
    :param connect_timeout: seconds to establish a connection.
    :param read_timeout: seconds to wait for an answer.
    :param retry: retry policy.
    :param extras: vendor settings from the connection's extras.
    """

    vendor: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    #: Largest number of addresses one vendor job accepts; callers split bigger lists. Clients
    #: listing the ``max_rows_per_job`` extra take it from the connection (see
    #: :class:`~airflow_provider_emailverify.clients.verification.VerificationClient`).
    max_job_size: ClassVar[int] = 100_000
    #: Whether :meth:`find_job` can find a job by name (makes job creation safe to retry).
    can_find_jobs: ClassVar[bool] = False
    #: Whether :meth:`cancel_job` ends a job *completed* with what was verified so far (Bouncer's
    #: "finish"), rather than cancelled: a later reader of the job cannot tell its results are
    #: partial, so a killed task leaves such jobs running (see the verification operator).
    cancel_keeps_partial_results: ClassVar[bool] = False
    #: Connection form: the extras this client reads (name -> {label, description, schema}) and
    #: the labels of the password and login fields (``login_label`` ``None``: no login). Plain
    #: data, so provider info can describe the form without importing Airflow.
    connection_extras: ClassVar[dict[str, dict[str, Any]]] = {}
    password_label: ClassVar[str] = "API key"
    login_label: ClassVar[str | None] = None
    #: Whether ``JobInfo.counts`` follow the neutral rules exactly. ``False`` where the vendor's
    #: job counters cannot (e.g. they count a deliverable but disposable address as deliverable,
    #: which the neutral model calls risky): callers then count the results themselves.
    exact_job_counts: ClassVar[bool] = True
    #: 5xx statuses that say the vendor did not act on the request (e.g. 503 Service Unavailable):
    #: their :class:`TransientError` is marked not sent, so even job creation may be retried.
    unprocessed_statuses: ClassVar[frozenset[int]] = frozenset()

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        extras: dict[str, Any] | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retry = retry or RetryPolicy()
        self.extras = dict(extras or {})
        self._session: requests.Session | None = None
        install_log_redaction()

    # -- what subclasses provide ---------------------------------------------------------------
    def authenticate(self, call: ApiCall[T]) -> ApiCall[T]:
        """
        Return ``call`` with the credentials added (header, query parameter or form field).

        It runs inside every attempt of ``call``: credentials that need a request of their own
        (an OAuth token) are fetched with :meth:`call_once`, so the retry loop of ``call`` is the
        only one. An error raised here is marked not sent (``call`` never left), so even a job
        creation is retried.
        """
        raise NotImplementedError

    async def aauthenticate(self, call: ApiCall[T], client: httpx.AsyncClient) -> ApiCall[T]:
        """
        Async variant of :meth:`authenticate` (override when credentials need a request, made
        with :meth:`acall_once` over ``client``).
        """
        return self.authenticate(call)

    def check(self, call: ApiCall[Any], response: RawResponse) -> None:
        """Raise the mapped exception when ``response`` is a vendor error. The base maps 5xx and 429."""
        if response.status == 429:
            raise ThrottledError(
                self.error_text(call, response, self.message_of(response) or "rate limited"),
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                **self._error_kwargs(response),
            )
        if response.status >= 500:
            error = TransientError(
                self.error_text(call, response, f"server error {response.status}"), **self._error_kwargs(response)
            )
            if response.status in self.unprocessed_statuses:
                error.sent = False  # type: ignore[attr-defined]
            raise error

    def message_of(self, response: RawResponse) -> str | None:
        """The vendor's own error text in ``response`` (override per vendor envelope)."""
        body = response.body
        if isinstance(body, dict):
            for name in ("message", "msg", "error_msg", "result", "error_description", "error"):
                value = body.get(name)
                if isinstance(value, str) and value:
                    return self.redact(value)
        return None

    # -- secrets -------------------------------------------------------------------------------
    def secrets(self) -> list[str]:
        """Every secret this client holds (keys, tokens); scrubbed from logs and errors."""
        return [s for s in (self.api_key,) if s]

    def redact(self, text: str) -> str:
        text = redact_url(text)
        for secret in self.secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def error_text(self, call: ApiCall[Any], response: RawResponse | None, message: str) -> str:
        status = f" (HTTP {response.status})" if response is not None else ""
        return self.redact(f"{self.vendor} {call.endpoint} failed{status}: {message}")

    def _error_kwargs(self, response: RawResponse | None) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "http_status": response.status if response is not None else None,
            "vendor_message": self.message_of(response) if response is not None else None,
        }

    def raise_error(self, cls: type[EmailVerificationError], call: ApiCall[Any], response: RawResponse, **kw: Any):
        """Raise ``cls`` carrying the vendor's message (a helper for :meth:`check`)."""
        message = self.message_of(response) or f"HTTP {response.status}"
        raise cls(self.error_text(call, response, message), **self._error_kwargs(response), **kw)

    # -- URLs and bodies -----------------------------------------------------------------------
    def url(self, call: ApiCall[Any]) -> str:
        return self.base_url + call.path

    @staticmethod
    def decode(status: int, headers: dict[str, str], raw: bytes) -> RawResponse:
        text = raw.decode("utf-8", errors="replace")
        body: Any = text
        if text[:1] in ("{", "["):
            try:
                body = json.loads(text)
            except ValueError:
                body = text
        return RawResponse(status=status, headers={k.lower(): v for k, v in headers.items()}, body=body, text=text)

    def _is_retryable(self, call: ApiCall[Any], error: BaseException, *, sent: bool) -> bool:
        """Whether ``error`` may be retried for ``call`` (``sent``: the request may have reached the vendor)."""
        if isinstance(error, ThrottledError):
            return True  # the vendor refused the request before doing anything
        if isinstance(error, TransientError):
            return call.idempotent or not sent
        return False

    # -- sync transport ------------------------------------------------------------------------
    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "airflow-provider-emailverify"
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _authenticated(self, call: ApiCall[T]) -> ApiCall[T]:
        """:meth:`authenticate`, its errors marked as not sent (``call`` never left)."""
        try:
            return self.authenticate(call)
        except EmailVerificationError as err:
            err.sent = False  # type: ignore[attr-defined]
            raise

    async def _aauthenticated(self, call: ApiCall[T], client: httpx.AsyncClient) -> ApiCall[T]:
        """:meth:`aauthenticate`, its errors marked as not sent (``call`` never left)."""
        try:
            return await self.aauthenticate(call, client)
        except EmailVerificationError as err:
            err.sent = False  # type: ignore[attr-defined]
            raise

    def _send(self, call: ApiCall[Any], *, stream: bool = False) -> requests.Response:
        """One HTTP exchange; connection problems become :class:`TransientError` (``sent`` marked)."""
        import requests

        authed = self._authenticated(call)
        try:
            return self.session.request(
                authed.method,
                self.url(authed),
                params=authed.params,
                data=authed.data if authed.content is None else authed.body(),
                json=authed.json,
                headers=authed.headers or None,
                timeout=(self.connect_timeout, authed.read_timeout or self.read_timeout),
                stream=stream,
            )
        except requests.ConnectionError as err:
            sent = not isinstance(err, requests.exceptions.ConnectTimeout) and "Connection refused" not in str(err)
            raise _transient(self, call, err, sent=sent) from None
        except (requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
            # A timeout or a body cut short: the vendor may have acted on the request.
            raise _transient(self, call, err, sent=True) from None

    def _run_with_retries(self, call: ApiCall[Any], attempt_once: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return attempt_once()
            except EmailVerificationError as err:
                sent = getattr(err, "sent", True)
                if attempt >= self.retry.attempts or not self._is_retryable(call, err, sent=sent):
                    raise
                delay = self.retry.wait(attempt, err)
                log.warning(
                    "%s %s: %s; retry %d/%d in %.1fs",
                    self.vendor, call.endpoint, err, attempt, self.retry.attempts - 1, delay,
                )
                time.sleep(delay)

    def fetch(self, call: ApiCall[Any]) -> RawResponse:
        """Send ``call`` once and decode the answer, raising mapped errors (no retry)."""
        import requests

        response = self._send(call)
        try:
            raw = self.decode(response.status_code, dict(response.headers), response.content)
        except requests.RequestException as err:
            raise _transient(self, call, err, sent=True) from None
        self.check(call, raw)
        return raw

    def call(self, call: ApiCall[T]) -> T:
        """Run ``call`` with retries and return its parsed result."""
        return self._run_with_retries(call, lambda: call.parse(self.fetch(call).body))

    def call_once(self, call: ApiCall[T]) -> T:
        """
        Run ``call`` once, without retries, and return its parsed result: for a request made
        inside an attempt of another call (credentials), whose retry loop retries it.
        """
        return call.parse(self.fetch(call).body)

    # -- async transport -----------------------------------------------------------------------
    def async_client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` with this client's timeouts; the caller keeps and closes it."""
        import httpx

        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.read_timeout, connect=self.connect_timeout),
            headers={"User-Agent": "airflow-provider-emailverify"},
        )

    async def afetch(self, call: ApiCall[Any], client: httpx.AsyncClient) -> RawResponse:
        """Async :meth:`fetch` over ``client``: send ``call`` once, decode and check the answer (no retry)."""
        import httpx

        authed = await self._aauthenticated(call, client)
        try:
            body = authed.body()
            response = await client.request(
                authed.method,
                self.url(authed),
                params=authed.params,
                data=authed.data,
                json=authed.json,
                content=body if body is None or isinstance(body, bytes) else b"".join(body),
                headers=authed.headers or None,
                timeout=httpx.Timeout(authed.read_timeout or self.read_timeout, connect=self.connect_timeout),
            )
        except httpx.ConnectError as err:
            raise _transient(self, call, err, sent=False) from None
        except httpx.HTTPError as err:
            raise _transient(self, call, err, sent=True) from None
        raw = self.decode(response.status_code, dict(response.headers), response.content)
        self.check(call, raw)
        return raw

    async def acall_once(self, call: ApiCall[T], client: httpx.AsyncClient) -> T:
        """Async :meth:`call_once` over ``client``: one try, for a request inside another call's attempt."""
        return call.parse((await self.afetch(call, client)).body)

    async def acall(self, call: ApiCall[T], client: httpx.AsyncClient | None = None) -> T:
        """Async :meth:`call` over ``client`` (a new one for this call when omitted)."""
        import asyncio

        own = client is None
        client = client or self.async_client()
        try:
            attempt = 0
            while True:
                attempt += 1
                try:
                    return await self.acall_once(call, client)
                except EmailVerificationError as err:
                    sent = getattr(err, "sent", True)
                    if attempt >= self.retry.attempts or not self._is_retryable(call, err, sent=sent):
                        raise
                    delay = self.retry.wait(attempt, err)
                    log.warning("%s %s: %s; retry in %.1fs", self.vendor, call.endpoint, err, delay)
                    await asyncio.sleep(delay)
        finally:
            if own:
                await client.aclose()


def _transient(client: BaseClient, call: ApiCall[Any], err: BaseException, *, sent: bool) -> TransientError:
    """A :class:`TransientError` for a network failure, its text scrubbed of URLs with secrets."""
    error = TransientError(
        client.error_text(call, None, f"{type(err).__name__}: {err}"), vendor=client.vendor
    )
    error.sent = sent  # type: ignore[attr-defined]
    return error


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), else ``None``."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def host_of(url: str) -> str:
    """The host part of ``url`` (for dashboards and logs)."""
    return urlsplit(url).netloc


def with_params(call: ApiCall[T], **params: Any) -> ApiCall[T]:
    """``call`` with extra query parameters (for authentication in the query string)."""
    return replace(call, params={**(call.params or {}), **params})


def with_headers(call: ApiCall[T], **headers: str) -> ApiCall[T]:
    return replace(call, headers={**call.headers, **headers})


def with_form(call: ApiCall[T], **fields: Any) -> ApiCall[T]:
    return replace(call, data={**(call.data or {}), **fields})


def no_result(body: Any) -> None:
    """An :attr:`ApiCall.parse` for calls whose answer carries nothing the caller needs."""
    return None


# -- logs of the HTTP libraries ------------------------------------------------------------------
class RedactingFilter(logging.Filter):
    """Replaces the values of secret query parameters (``key=...``) in a log record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        redacted = redact_url(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


#: Loggers that print request URLs: urllib3 at DEBUG (requests), httpx at INFO.
HTTP_LIBRARY_LOGGERS = ("urllib3.connectionpool", "httpx")


def install_log_redaction(loggers: Iterable[str] = HTTP_LIBRARY_LOGGERS) -> None:
    """Attach :class:`RedactingFilter` to the HTTP libraries' loggers (idempotent)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
