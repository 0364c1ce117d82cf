# Licensed under the Apache License, Version 2.0.
"""
Result downloads read as streams, for every vendor client.

:class:`DownloadStreams` is a mixin of :class:`~airflow_provider_emailverify.clients.base.BaseClient`:
it opens a download with the client's transport and error mapping and reads it in constant
memory, as lines (:meth:`~DownloadStreams.stream_lines`), CSV records
(:meth:`~DownloadStreams.stream_csv`) or byte chunks (:meth:`~DownloadStreams.stream_chunks`), and
restarts a broken download where it stopped (:meth:`~DownloadStreams.iter_restartable`). The
byte and record handling itself is in :mod:`~airflow_provider_emailverify.clients.streams`.
"""

from __future__ import annotations

import contextvars
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow_provider_emailverify.clients.streams import iter_csv_split, iter_lines
from airflow_provider_emailverify.exceptions import EmailVerificationError, ThrottledError, TransientError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import requests

    from airflow_provider_emailverify.clients.base import ApiCall, RawResponse, RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Set while :meth:`DownloadStreams.iter_restartable` reads a download: the stream is then opened
#: with one request, and the restart loop is the only retry loop of the whole download.
_OPEN_ONCE: contextvars.ContextVar[bool] = contextvars.ContextVar("emailverify_open_once", default=False)
#: Rows :meth:`DownloadStreams.iter_restartable` reads from the stream before it yields them.
_RESTART_BATCH = 1024


class DownloadStreams:
    """
    Streamed result downloads of a :class:`~airflow_provider_emailverify.clients.base.BaseClient`.

    It relies on what ``BaseClient`` provides: the transport (``_send``, ``_run_with_retries``),
    the error mapping (``decode``, ``check``, ``error_text``, ``message_of``) and the retry policy.
    """

    if TYPE_CHECKING:
        vendor: ClassVar[str]
        retry: RetryPolicy

        def _send(self, call: ApiCall[Any], *, stream: bool = False) -> requests.Response: ...
        def _run_with_retries(self, call: ApiCall[Any], attempt_once: Callable[[], T]) -> T: ...
        def _error_kwargs(self, response: RawResponse | None) -> dict[str, Any]: ...
        @staticmethod
        def decode(status: int, headers: dict[str, str], raw: bytes) -> RawResponse: ...
        def check(self, call: ApiCall[Any], response: RawResponse) -> None: ...
        def error_text(self, call: ApiCall[Any], response: RawResponse | None, message: str) -> str: ...
        def message_of(self, response: RawResponse) -> str | None: ...

    def stream_lines(self, call: ApiCall[Any], *, chunk_size: int = 256 * 1024) -> Iterator[str]:
        """
        Lines of a streamed text download (CSV), decoded as UTF-8, without holding the body; each
        keeps its line break (:func:`~.streams.iter_lines`), so :func:`~.streams.iter_csv` can
        read quoted fields that span lines.

        The opening request is retried (inside :meth:`iter_restartable`, it is one request, and
        the restart loop retries it); a break mid-stream raises :class:`TransientError` to the
        caller, which restarts through :meth:`iter_restartable`.

        :param call: the download request.
        :param chunk_size: bytes read from the response at a time.
        """
        return iter_lines(self._stream(call, error_status=400, json_is_error=True, chunk_size=chunk_size))

    def stream_csv(self, call: ApiCall[Any], *, chunk_size: int = 256 * 1024) -> Iterator[list[str]]:
        """
        The records of a streamed CSV download (:meth:`stream_lines` read by
        :func:`~.streams.iter_csv_split`, the records :func:`~.streams.iter_csv` gives): RFC 4180
        quoting, a quoted field may span lines, constant memory. Errors and restarts as for
        :meth:`stream_lines`.

        :param call: the download request.
        :param chunk_size: bytes read from the response at a time.
        """
        return iter_csv_split(self.stream_lines(call, chunk_size=chunk_size))

    def stream_chunks(
        self, call: ApiCall[Any], *, json_body: bool = False, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """
        Raw byte chunks of a streamed download, without holding the body (for formats that are
        not line-based, e.g. a JSON array parsed with :func:`~.streams.iter_json_array`).

        Like :meth:`stream_lines`, the opening request is retried (once per restart inside
        :meth:`iter_restartable`) and a break mid-stream raises :class:`TransientError`. An error
        status is mapped through :meth:`check`.

        :param call: the download request.
        :param json_body: the download itself is JSON (a JSON answer is then not an error).
        :param chunk_size: bytes read from the response at a time.
        """
        return self._stream(call, error_status=300, json_is_error=not json_body, chunk_size=chunk_size)

    def _stream(
        self, call: ApiCall[Any], *, error_status: int, json_is_error: bool, chunk_size: int
    ) -> Iterator[bytes]:
        """
        The body of ``call`` in chunks, never held whole. The opening request is retried, except
        inside :meth:`iter_restartable`, where it is sent once and a failure goes to the restart
        loop (one retry budget per download); an answer with a status from ``error_status`` up
        (or JSON, when ``json_is_error``) is read and mapped through :meth:`check`; a break
        mid-stream raises :class:`TransientError`.

        :param call: the download request.
        :param error_status: the lowest HTTP status read as an error answer.
        :param json_is_error: whether a JSON answer is an error answer.
        :param chunk_size: bytes read from the response at a time.
        """
        import requests

        from airflow_provider_emailverify.clients.base import _transient

        def open_stream() -> requests.Response:
            response = self._send(call, stream=True)
            ctype = response.headers.get("content-type", "")
            if response.status_code >= error_status or (json_is_error and "json" in ctype):
                try:
                    content = response.content
                except requests.RequestException as err:  # dropped while reading the error body
                    raise _transient(self, call, err, sent=True) from None
                raw = self.decode(response.status_code, dict(response.headers), content)
                self.check(call, raw)
                raise EmailVerificationError(
                    self.error_text(call, raw, self.message_of(raw) or "unexpected answer"),
                    **self._error_kwargs(raw),
                )
            return response

        response = open_stream() if _OPEN_ONCE.get() else self._run_with_retries(call, open_stream)
        try:
            yield from response.iter_content(chunk_size=chunk_size)
        except requests.RequestException as err:
            raise _transient(self, call, err, sent=True) from None
        finally:
            response.close()

    def iter_restartable(self, open_rows: Callable[[], Iterator[T]], *, what: str) -> Iterator[T]:
        """
        Yield rows from ``open_rows()``; when the stream breaks, reopen it and skip what was
        already yielded, so no row is yielded twice or lost.

        This loop is the download's only retry loop: the streams ``open_rows`` opens
        (:meth:`stream_lines`, :meth:`stream_csv`, :meth:`stream_chunks`) send their opening
        request once, and a failure to open comes here. Failures in a row that yielded no new row
        (the vendor down, throttling, a stream breaking before it gets further than the last
        one) share the retry policy's ``attempts``, so a download costs at most that many
        requests when the vendor is down; a failure after new rows (a stream breaking mid-way)
        starts the count again, so a download that keeps making progress completes. Waits are
        :meth:`~airflow_provider_emailverify.clients.base.RetryPolicy.wait` (Retry-After
        honoured); other errors are raised at once.

        :param open_rows: opens the download and returns its rows, from the first.
        :param what: what is downloaded, for the log.
        """
        yielded = 0
        failures = 0  # failures in a row without a new row
        while True:
            skip, before = yielded, yielded
            rows: Iterator[T] | None = None
            try:
                while True:
                    # Rows are read a batch at a time with the stream marked as opened once, so
                    # the mark costs little per row and is never left set while rows are yielded.
                    batch: list[T] = []
                    error: Exception | None = None
                    ended = False
                    mark = _OPEN_ONCE.set(True)
                    try:
                        if rows is None:
                            rows = open_rows()
                        for row in rows:
                            if skip:
                                skip -= 1
                                continue
                            batch.append(row)
                            if len(batch) >= _RESTART_BATCH:
                                break
                        else:
                            ended = True
                    except Exception as err:  # the rows read before it are still delivered
                        error = err
                    finally:
                        _OPEN_ONCE.reset(mark)
                    for row in batch:
                        yielded += 1
                        yield row
                    if error is not None:
                        raise error
                    if ended:
                        return
            except (TransientError, ThrottledError) as err:
                progressed = yielded > before
                failures = 0 if progressed else failures + 1
                if failures >= self.retry.attempts:
                    raise
                delay = self.retry.wait(max(failures, 1), err)
                log.warning(
                    "%s %s broke after %d rows: %s; %s in %.1fs",
                    self.vendor, what, yielded, err,
                    "restarting" if progressed else f"retry {failures}/{self.retry.attempts - 1}", delay,
                )
                time.sleep(delay)
            finally:
                close = getattr(rows, "close", None)
                if close is not None:
                    close()  # the response of a stream left part-read
