# Licensed under the Apache License, Version 2.0.
"""
Request bodies and downloads the vendor clients share: pure byte and record handling, no HTTP.

Uploads are built once from the caller's records (checked row by row with
:func:`checked_records`), grouped into :func:`blocks` or wrapped as multipart forms
(:func:`multipart_body`), and spooled by :class:`SpooledBody` so that every retry sends the same
bytes. Downloads are read in constant memory: lines with :func:`iter_lines` (each keeping its
line break), CSV records with :func:`iter_csv` (RFC 4180: a quoted field may span lines; the
faster :func:`iter_csv_split` for lines from :func:`iter_lines`), CSV columns found by name
with :func:`header_index` and read by position with :func:`cells_getter`, JSON arrays decoded
with :func:`iter_json_array` (runs of whole elements in one call).
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import uuid
from itertools import chain, islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.exceptions import InvalidRequestError, PayloadTooLargeError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence


# -- request bodies built once from a stream, replayable for retries ----------------------------
class SpooledBody:
    """
    A request body generated once from byte chunks and replayable for every retry.

    The records iterator behind an upload can be read only once, but a retried request must send
    the same bytes again: the chunks are written to a ``SpooledTemporaryFile`` (memory up to
    ``max_memory`` bytes, then an unlinked temporary file), so the body is built in constant
    memory, its size is known before sending (``Content-Length``, and local size limits), and
    :meth:`replay` gives a fresh iterable of it each time. Use as a context manager.

    :param chunks: the body's bytes, in order (consumed here).
    :param limit: largest body accepted; beyond it :class:`PayloadTooLargeError` is raised
        while building, before anything is sent.
    :param max_memory: bytes kept in memory before spilling to disk.
    """

    def __init__(self, chunks: Iterable[bytes], *, limit: int | None = None, max_memory: int = 1 << 20) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=max_memory)
        self.size = 0
        try:
            for chunk in chunks:
                self.size += len(chunk)
                if limit is not None and self.size > limit:
                    raise PayloadTooLargeError(
                        f"request body exceeds {limit} bytes: submit fewer or smaller records per job"
                    )
                self._file.write(chunk)
        except BaseException:
            self.close()
            raise

    def replay(self, *, prefix: bytes = b"", block_size: int = 64 * 1024) -> ReplayedBody:
        """A fresh iterable of ``prefix`` + the body (with ``len()``, so requests sends Content-Length)."""
        return ReplayedBody(self, prefix, block_size)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SpooledBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReplayedBody:
    """One pass over a :class:`SpooledBody`: iterable of byte blocks, ``len()`` = total size."""

    def __init__(self, body: SpooledBody, prefix: bytes, block_size: int) -> None:
        self._body, self._prefix, self._block_size = body, prefix, block_size

    def __len__(self) -> int:
        return len(self._prefix) + self._body.size

    def __iter__(self) -> Iterator[bytes]:
        if self._prefix:
            yield self._prefix
        file = self._body._file
        file.seek(0)
        while block := file.read(self._block_size):
            yield block



def multipart_body(
    fields: dict[str, str], *, file_field: str, filename: str, content_type: str, chunks: Callable[[], Iterable[bytes]]
) -> tuple[str, Callable[[], Iterator[bytes]]]:
    """
    A streamed ``multipart/form-data`` body: returns the Content-Type header and a factory of
    byte chunks (re-callable for retries), so a file upload never sits whole in memory.
    """
    boundary = "emailverify-" + uuid.uuid4().hex

    def generate() -> Iterator[bytes]:
        for name, value in fields.items():
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        yield from chunks()
        yield f"\r\n--{boundary}--\r\n".encode()

    return f"multipart/form-data; boundary={boundary}", generate


def blocks(chunks: Iterable[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Small chunks (a line each, say) regrouped into blocks of about ``size`` bytes."""
    block: list[bytes] = []
    length = 0
    for chunk in chunks:
        block.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(block)
            block, length = [], 0
    if block:
        yield b"".join(block)


# -- input records and downloads ----------------------------------------------------------------
def checked_records(
    records: Iterable[Any], *, vendor: str, max_rows: int | None, one_per_line: bool = False
) -> Iterator[tuple[int, Any, str]]:
    """
    ``(row number from 1, record, email)`` for each submitted record, failing clearly instead of
    dropping anything: a record without a usable ``email`` (or a plain string) raises
    :class:`InvalidRequestError` naming the row, more than ``max_rows`` records raise
    :class:`PayloadTooLargeError`, and no record at all raises :class:`InvalidRequestError`.

    Addresses are passed on exactly as given, line breaks included: JSON bodies and quoted CSV
    carry them. Only an upload of one bare address per line cannot (``one_per_line``).

    :param records: dicts with an ``email`` key (plain strings are taken as the address).
    :param vendor: vendor key for the errors.
    :param max_rows: the vendor's per-job limit (``None``: no limit).
    :param one_per_line: the upload file holds one bare address per line: an address with a
        line break would become two records, so it raises :class:`InvalidRequestError` naming the row.
    """
    index = 0
    for index, record in enumerate(records, start=1):
        email = record if isinstance(record, str) else record.get("email") if isinstance(record, dict) else None
        if not isinstance(email, str) or not email.strip():
            raise InvalidRequestError(
                f"{vendor}: record {index} has no email address (got {str(record)[:100]!r})", vendor=vendor
            )
        if one_per_line and ("\n" in email or "\r" in email):
            raise InvalidRequestError(
                f"{vendor}: record {index} has a line break in its email address, which the vendor's "
                f"one-address-per-line upload file cannot carry",
                vendor=vendor,
            )
        if max_rows is not None and index > max_rows:
            raise PayloadTooLargeError(
                f"{vendor}: more than {max_rows} records for one job; split the list", vendor=vendor
            )
        yield index, record, email
    if index == 0:
        raise InvalidRequestError(f"{vendor}: no records to verify", vendor=vendor)


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """
    Lines of UTF-8 text arriving as byte chunks, decoded one at a time, each **keeping** its line
    break (``\\n``, ``\\r\\n`` or ``\\r``; NeverBounce's ``\\n\\r`` gives a line and then a
    lone ``\\r``). No byte is dropped, so a quoted CSV field holding a line break survives
    :func:`iter_csv`. Line breaks are ASCII, so a split never falls inside a multi-byte character.
    """
    return chain.from_iterable(_chunk_lines(chunks))


def _chunk_lines(chunks: Iterable[bytes]) -> Iterator[Iterator[str]]:
    """The lines of each chunk for :func:`iter_lines`, decoded as they are read (no Python step per line)."""
    pending = b""
    for chunk in chunks:
        if not chunk:  # an empty read (the stream may give one anywhere) holds no line
            continue
        pending += chunk
        # The last piece is held back: it may be cut short, or a "\r" may get its "\n" next.
        *lines, pending = pending.splitlines(keepends=True)
        yield map(bytes.decode, lines)
    if pending:
        yield map(bytes.decode, (pending,))


def iter_csv(lines: Iterable[str]) -> Iterator[list[str]]:
    """
    The records of a CSV arriving as text lines, one at a time (constant memory): RFC 4180
    quoting, so a quoted field may hold commas, quotes and line breaks and span several lines.

    ``lines`` should keep their line breaks (:func:`iter_lines`); then every character of a
    quoted field is kept. Lines without them are read as whole records. Line breaks at the
    start of a line (a ``\\n\\r`` file's lone ``\\r``) are moved to the end of the line
    before, where the ``csv`` module expects them. Blank lines give no record (or ``[]`` first).
    """
    return csv.reader(_whole_lines(lines))


def iter_csv_split(lines: Iterable[str]) -> Iterator[list[str]]:
    """
    :func:`iter_csv` for lines as :func:`iter_lines` splits them (each holding at most one line
    break, at its end), without re-cutting them: the same records, read by the ``csv`` module
    alone. A line that is only a line break (a ``\\n\\r`` file's lone ``\\r``, a blank line)
    then gives an empty record where :func:`iter_csv` moves the break to the line before; those
    records are dropped, but for a first one, which :func:`iter_csv` gives too. Within a quoted
    value such a line is part of the value either way.
    """
    records = csv.reader(lines)
    return chain(islice(records, 1), filter(None, records))


def _whole_lines(lines: Iterable[str]) -> Iterator[str]:
    """``lines`` re-cut so that no line but the first starts with a line break (see :func:`iter_csv`)."""
    held = ""
    for line in lines:
        if line[:1] in ("\r", "\n"):
            text = line.lstrip("\r\n")
            held += line[: len(line) - len(text)]
            if not text:
                continue
            line = text
        if held:
            yield held
        held = line
    if held:
        yield held


def int_or_none(value: Any) -> int | None:
    """An integer field of a vendor answer (a number or a numeric string); ``None`` when absent or not one."""
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def header_index(header: Iterable[str], *names: str) -> int | None:
    """Position of the first CSV column named like one of ``names`` (case and spaces ignored)."""
    wanted = [n.strip().lower() for n in names]
    cells = [str(h).strip().lstrip("\ufeff").lower() for h in header]
    for name in wanted:
        if name in cells:
            return cells.index(name)
    return None


def cells_getter(indices: Sequence[int | None]) -> Callable[[Sequence[str]], tuple[str | None, ...]]:
    """
    The cells of a CSV record at ``indices`` (columns found by :func:`header_index`), picked in
    one call: ``None`` for a column the file lacks (index ``None``) or a record too short to have
    it. Fastest when the columns a file may lack come last.

    :param indices: the column positions.
    """
    width = max((index for index in indices if index is not None), default=-1) + 1
    given = len(indices) if None not in indices else indices.index(None)
    if any(index is not None for index in indices[given:]):  # a lacking column before a present one
        padded = itemgetter(*(width if index is None else index for index in indices))
        pad: list[None] = [None] * (width + 1)

        def padded_cells(row: Sequence[str]) -> tuple[str | None, ...]:
            return padded([*row[:width], *pad[min(len(row), width) :]])

        return padded_cells
    lacking: tuple[None, ...] = (None,) * (len(indices) - given)
    if given < 2:
        first = indices[0] if given else -1

        def few_cells(row: Sequence[str]) -> tuple[str | None, ...]:
            if first < 0:
                return lacking
            return (row[first] if first < len(row) else None, *lacking)

        return few_cells
    pick = itemgetter(*indices[:given])

    def cells(row: Sequence[str]) -> tuple[str | None, ...]:
        if len(row) < width:
            row = [*row, *([None] * (width - len(row)))]
        return pick(row) + lacking if lacking else pick(row)

    return cells


def has_content(row: Sequence[str]) -> bool:
    """Whether a CSV record holds anything but whitespace (download parsers skip those that do not)."""
    return bool(row and row[0].strip()) or any(cell.strip() for cell in row)


_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_BLANKS = frozenset(" \t\n\r")


def _last_boundary(buffer: str, start: int) -> int:
    """
    The last comma of ``buffer[start:]`` that its neighbours show to be between two elements of
    an array of objects or arrays (a closing bracket before it, an opening one after), else -1.
    Only the last 1,000 commas are looked at (elements are small; this bounds a huge one's cost).
    """
    cut = len(buffer)
    for _ in range(1000):
        cut = buffer.rfind(",", start, cut)
        if cut < 0:
            return -1
        before, after = cut - 1, cut + 1
        while before > start and buffer[before] in _JSON_BLANKS:
            before -= 1
        while after < len(buffer) and buffer[after] in _JSON_BLANKS:
            after += 1
        if buffer[before] in "}]" and after < len(buffer) and buffer[after] in "{[":
            return cut
    return -1


def iter_json_array(chunks: Iterable[bytes]) -> Iterator[Any]:
    """
    Elements of a JSON array arriving as byte chunks, decoded one at a time (constant memory in
    the array's length). Elements must be objects or arrays (a number split across chunks could
    be misread). Raises ``ValueError`` when the array is cut short or malformed.

    The whole elements a chunk completes are decoded in one call where they can be told apart
    (the last ``},{`` that decodes as a boundary); otherwise, and wherever that does not give
    objects or arrays only, element by element, so a malformed element fails as it always did.
    """
    import codecs

    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    buffer, pos, started, expect_value = "", 0, False, True
    for chunk in chunks:
        buffer = buffer[pos:] + utf8.decode(chunk)
        pos = 0
        runs = True  # whole elements may still be decoded together in this buffer
        while True:
            pos = _JSON_WS.match(buffer, pos).end()
            if pos >= len(buffer):
                break
            char = buffer[pos]
            if not started:
                if char != "[":
                    raise ValueError(f"expected a JSON array, got {buffer[pos:pos + 40]!r}")
                started, pos = True, pos + 1
            elif char == "]":
                rest = buffer[pos + 1:].strip()
                if rest:
                    raise ValueError(f"unexpected data after the JSON array: {rest[:40]!r}")
                return
            elif char == "," and not expect_value:
                expect_value, pos = True, pos + 1
            elif expect_value and char in "{[":
                if runs:
                    items = _element_run(decoder, buffer, pos)
                    if items is None:
                        runs = False
                    else:
                        yield from items[0]
                        pos = items[1]
                        continue
                try:
                    value, end = decoder.raw_decode(buffer, pos)
                except json.JSONDecodeError:
                    break  # incomplete: wait for the next chunk
                yield value
                pos, expect_value = end, False
            else:
                raise ValueError(f"malformed JSON array near {buffer[pos:pos + 40]!r}")
    raise ValueError("the JSON array was cut short")


def _element_run(decoder: json.JSONDecoder, buffer: str, start: int) -> tuple[list[Any], int] | None:
    """
    The whole elements from ``start`` (an element's first character) up to the last boundary
    :func:`_last_boundary` finds, decoded together, and the position after that boundary's
    comma; ``None`` when there is no such boundary or the run is not objects and arrays only.
    (A comma that only looked like a boundary, inside a string or a nested array, leaves a run
    that does not decode.)
    """
    cut = _last_boundary(buffer, start)
    if cut < 0:
        return None
    try:
        items = decoder.decode("[" + buffer[start:cut] + "]")
    except ValueError:
        return None
    for item in items:
        if item.__class__ is not dict and item.__class__ is not list:
            return None
    return items, cut + 1
