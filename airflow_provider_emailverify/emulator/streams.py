# Licensed under the Apache License, Version 2.0.
"""
Request and response bodies as the vendor modules read and write them, in constant memory.

Uploads (CSV or one-address-a-line files, JSON arrays, text lines) are streamed into a job's
:class:`~airflow_provider_emailverify.emulator.core.RowSpool` under a vendor's limits; downloads
are streamed back as CSV or JSON chunks (downloads rendered from per-row verdict codes are in
:mod:`.downloads`). Also the parameter, credential and timestamp spellings the vendors share.
Like :mod:`.core`, nothing here knows one vendor's wire format.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
    from typing import BinaryIO

    from starlette.requests import Request
    from starlette.responses import Response

    from airflow_provider_emailverify.emulator.core import RowSpool

_JSON_BLANK = re.compile(r"[ \t\n\r]*")
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})


def as_bool(value: Any, default: bool = False) -> bool:
    """
    A boolean parameter as vendors send it: JSON ``true``, ``"true"``, ``"True"``, ``1``, ``"yes"``.

    :raises ValueError: on anything else.
    """
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def iso_millis(timestamp: float) -> str:
    """A wall-clock time as ISO-8601 UTC with milliseconds: ``2023-03-26T18:08:15.033Z``."""
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def basic_auth(request: Request) -> tuple[str, str] | None:
    """The ``(user, password)`` of an HTTP Basic ``Authorization`` header; ``None`` when absent or unreadable."""
    import base64
    import binascii

    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if colon else None


class UploadLimitError(Exception):
    """
    An upload is over a vendor's limit.

    :param what: ``rows`` or ``bytes``.
    :param limit: the limit that was passed.
    """

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"upload has more than {limit} {what}")
        self.what = what
        self.limit = limit


class JsonArrayStream:
    """
    The items of a JSON array, parsed incrementally from a request body's chunks.

    The body is the array itself or, with ``key``, an object one of whose members is the array
    (the object's other members end up in :attr:`members` once iteration is over). Memory holds
    one chunk and one item at a time, whatever the body's size.

    :param chunks: the body, e.g. ``request.stream()``.
    :param key: member of a top-level object holding the array.
    :param max_bytes: raise :class:`UploadLimitError` once the body is larger.
    :raises ValueError: on malformed JSON (during iteration).
    """

    def __init__(self, chunks: AsyncIterator[bytes], *, key: str | None = None, max_bytes: int | None = None) -> None:
        import codecs

        self._chunks = chunks
        self._text = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.key = key
        self.max_bytes = max_bytes
        self.bytes_read = 0
        self.members: dict[str, Any] = {}
        #: whether the array was present (always true without ``key`` once iteration starts)
        self.found = key is None

    async def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._eof = True
            self._buf += self._text.decode(b"", final=True)
            return False
        self.bytes_read += len(chunk)
        if self.max_bytes is not None and self.bytes_read > self.max_bytes:
            raise UploadLimitError("bytes", self.max_bytes)
        if self._pos > 65536:
            self._buf, self._pos = self._buf[self._pos :], 0
        self._buf += self._text.decode(chunk)
        return True

    async def _peek(self) -> str:
        while True:
            self._pos = _JSON_BLANK.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not await self._fill():
                return ""

    async def _expect(self, chars: str) -> str:
        char = await self._peek()
        if not char or char not in chars:
            raise ValueError(f"malformed JSON body: expected one of {chars!r}")
        self._pos += 1
        return char

    async def _value(self) -> Any:
        await self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError:
                if not await self._fill():
                    raise ValueError("malformed JSON body") from None
                continue
            # A number may go on in the next chunk: ``1`` of ``1.5``, ``1.5`` of ``1.5e3``.
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number and (end >= len(self._buf) or self._buf[end] in _NUMBER_CHARS) and await self._fill():
                continue
            self._pos = end
            return value

    async def _array(self) -> AsyncIterator[Any]:
        await self._expect("[")
        if await self._peek() == "]":
            self._pos += 1
            return
        while True:
            yield await self._value()
            if await self._expect(",]") == "]":
                return

    async def __aiter__(self) -> AsyncIterator[Any]:
        if self.key is None:
            async for item in self._array():
                yield item
        else:
            await self._expect("{")
            if await self._peek() == "}":
                self._pos += 1
            else:
                while True:
                    name = await self._value()
                    if not isinstance(name, str):
                        raise ValueError("malformed JSON body: object key is not a string")
                    await self._expect(":")
                    if name == self.key and await self._peek() == "[":
                        self.found = True
                        async for item in self._array():
                            yield item
                    else:
                        self.members[name] = await self._value()
                    if await self._expect(",}") == "}":
                        break
        if await self._peek():
            raise ValueError("malformed JSON body: data after the end")

    async def drain(self) -> None:
        """Read and drop the rest of the body, so an early error answer keeps the connection sane."""
        await drain(self._chunks)


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Consume what is left of a request body."""
    try:
        async for _ in chunks:
            pass
    except (RuntimeError, StopAsyncIteration):  # already consumed
        pass


async def iter_body_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines of a text body (``\\n`` or ``\\r\\n`` separated), decoded as UTF-8, read chunk by chunk."""
    import codecs

    text = codecs.getincrementaldecoder("utf-8-sig")("replace")
    pending = ""
    async for chunk in chunks:
        pending += text.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line.rstrip("\r")
    pending += text.decode(b"", final=True)
    if pending:
        yield pending.rstrip("\r")


@dataclass
class CsvUpload:
    """What :func:`ingest_csv` learnt about an uploaded list."""

    #: the file's header row, ``None`` for a header-less file
    header: list[str] | None
    #: index of the address column
    email_index: int
    #: cells in the first row
    width: int
    #: data rows spooled
    rows: int


def email_column(header: Sequence[str]) -> int:
    """The address column a header names: ``email`` (or a spelling of it), else containing ``email``, else 0."""
    names = [cell.strip().lower() for cell in header]
    for index, name in enumerate(names):
        if name in ("email", "e-mail", "email address", "email_address"):
            return index
    return next((index for index, name in enumerate(names) if "email" in name), 0)


def is_header(cells: Sequence[str]) -> bool:
    """Whether a list's first row is a header: none of its cells holds an ``@``."""
    return not any("@" in cell for cell in cells)


def address_column(cells: Sequence[str]) -> int:
    """The address column of a header-less list: the first cell of its first row holding an ``@``, else 0."""
    return next((index for index, cell in enumerate(cells) if "@" in cell), 0)


def cell_at(cells: Sequence[str], index: int) -> str:
    """A row's cell ``index`` (its address, say), ``""`` when the row is shorter."""
    return cells[index] if index < len(cells) else ""


def fit_width(cells: list[str], width: int) -> list[str]:
    """A row padded with empty cells, or cut, to ``width`` cells (the uploaded columns of a download)."""
    return (cells + [""] * (width - len(cells)))[:width]


def _csv_records(fh: BinaryIO) -> Iterator[list[str]]:
    """Non-blank CSV rows of an uploaded file, from its start."""
    import csv
    import io

    fh.seek(0)
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
    try:
        for cells in csv.reader(text):
            if cells and (cells[0].strip() or any(cell.strip() for cell in cells)):
                yield cells
    except csv.Error as err:
        raise ValueError(f"unreadable CSV: {err}") from None
    finally:
        text.detach()


def _line_records(fh: BinaryIO) -> Iterator[list[str]]:
    """Non-blank lines of an uploaded one-address-a-line file, each as a one-cell row."""
    import io

    fh.seek(0)
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline=None)
    try:
        for line in text:
            address = line.rstrip("\n")
            if address.strip():
                yield [address]
    finally:
        text.detach()


def _line_count(fh: BinaryIO) -> int:
    """Lines in a file (an upper bound of its CSV records), counted without parsing."""
    fh.seek(0)
    lines, last = 0, b"\n"
    while chunk := fh.read(1024 * 1024):
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    return lines + (last != b"\n")


def ingest_csv(
    fh: BinaryIO,
    spool: RowSpool,
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    on_email: Callable[[str], None] | None = None,
    plain_lines: bool = False,
) -> CsvUpload:
    """
    Copy an uploaded CSV or one-address-a-line TXT file into ``spool``, one list of cells a row.

    With ``plain_lines`` every non-blank line is one address, verbatim (a ``.txt`` list: commas
    and quotes are part of the address); otherwise the file is read as CSV.

    Reads the (already spooled) upload as a stream; blank lines are skipped. A first row none of
    whose cells contains ``@`` is a header, and the address column is the one named ``email``
    (else containing ``email``, else the first); in a header-less file it is the first cell of
    the first row holding an ``@``. ``on_email`` sees each row's address as it is spooled (to
    tally verdicts in the same pass). An oversized file is refused after a quick counting pass,
    before any row is spooled. Run it in a worker thread: it blocks.

    :raises UploadLimitError: past ``max_rows`` data rows or ``max_bytes`` bytes.
    :raises ValueError: when the file is not readable CSV.
    """
    if max_bytes is not None:
        fh.seek(0, os.SEEK_END)
        if fh.tell() > max_bytes:
            raise UploadLimitError("bytes", max_bytes)
    records = _line_records if plain_lines else _csv_records
    if max_rows is not None and _line_count(fh) > max_rows:
        count, header_rows = 0, 0
        for cells in records(fh):
            if not count:
                header_rows = int(is_header(cells))
            count += 1
        if count - header_rows > max_rows:
            raise UploadLimitError("rows", max_rows)
    header: list[str] | None = None
    email_index = width = rows = 0
    for cells in records(fh):
        if not width:
            width = len(cells)
            if is_header(cells):
                header = cells
                email_index = email_column(cells)
                continue
            email_index = address_column(cells)
        rows += 1
        spool.append(cells)
        if on_email is not None:
            on_email(cell_at(cells, email_index))
    return CsvUpload(header, email_index, width, rows)


def csv_chunks(
    rows: Iterable[Sequence[Any]],
    *,
    header: Sequence[str] | None = None,
    quote_all: bool = False,
    line_end: str = "\r\n",
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """CSV (RFC 4180 quoting) for a :class:`~starlette.responses.StreamingResponse`, in chunks."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator=line_end)
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buf.tell() >= chunk_size:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def json_array_chunks(items: Iterable[Any], *, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON array of ``items`` for a :class:`~starlette.responses.StreamingResponse`, in chunks."""
    parts = ["["]
    size = 1
    for index, item in enumerate(items):
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        if index:
            parts.append(",")
        parts.append(text)
        size += len(text) + 1
        if size >= chunk_size:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    parts.append("]")
    yield "".join(parts).encode("utf-8")


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON answer with ``status``."""
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status)


def json_array_response(items: Iterable[Any]) -> Response:
    """A download of ``items`` as one JSON array, streamed (:func:`json_array_chunks`)."""
    from starlette.responses import StreamingResponse

    return StreamingResponse(json_array_chunks(items), media_type="application/json")


def csv_response(rows: Iterable[Sequence[Any]], *, header: Sequence[str], quote_all: bool = False) -> Response:
    """A download of ``rows`` under ``header`` as ``text/csv``, streamed (:func:`csv_chunks`, CRLF)."""
    from starlette.responses import StreamingResponse

    return StreamingResponse(csv_chunks(rows, header=header, quote_all=quote_all), media_type="text/csv; charset=utf-8")
