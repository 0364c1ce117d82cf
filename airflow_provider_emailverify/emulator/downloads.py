# Licensed under the Apache License, Version 2.0.
"""
Downloads computed from a job's spooled rows and the verdict code kept for each row, in constant
memory: the spool is read a block of lines at a time and decoded in one call (:func:`row_blocks`,
which NeverBounce's indexing reads with too; :func:`decode_rows`), and a vendor's per-code
templates render the rows of a block (:func:`coded_chunks`), with the submitted cells quoted in
one join (:func:`csv_cells`, :func:`csv_cell`) and, where a download stamps every row, the
stamp formatted once per run of rows sharing it (:class:`RowTimes`). Like :mod:`.core`, nothing
here knows one vendor's wire format.
"""

from __future__ import annotations

import json
import math
import re
from itertools import compress
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import BLOCK_BYTES
from airflow_provider_emailverify.emulator.streams import iso_millis

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import BinaryIO

    from airflow_provider_emailverify.emulator.core import RowSpool

#: what makes the csv module quote a cell (QUOTE_MINIMAL, a comma delimiter, CRLF or LF line ends)
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')
_LINE_BREAK_OR_QUOTE = re.compile(r'["\r\n]')

_decode = json.JSONDecoder().decode


def decode_rows(lines: list[bytes]) -> list[Any]:
    """Spooled rows from their JSON lines, in one decode call."""
    return _decode("[" + b",".join(lines).decode("utf-8") + "]")


def row_blocks(fh: BinaryIO, size: int = BLOCK_BYTES) -> Iterator[tuple[list[bytes], list[Any]]]:
    """
    The rest of a spool file, about ``size`` bytes of lines at a time: (the JSON lines, their rows).

    One decode call per block instead of per line.
    """
    while True:
        lines = fh.readlines(size)
        if not lines:
            return
        yield lines, decode_rows(lines)


def csv_cell(value: str, *, quote: bool = False) -> str:
    """One CSV cell: always quoted, or only where the csv module would quote it."""
    if quote or _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_cells(*, quote_all: bool, width: int, cut: bool = False) -> Callable[[Sequence[str]], str]:
    """
    What writes the submitted cells of a row as CSV text (no line end), quoted as
    :func:`~.streams.csv_chunks` would; ``""`` for a row without any.

    The cells are joined at once, and quoted one by one only when a value needs it. Rows shorter
    than ``width`` get empty quoted cells; with ``cut`` longer rows lose their extra cells.

    :param quote_all: quote every cell, or only those that need it.
    :param width: pad shorter rows to this many cells.
    :param cut: cut longer rows to ``width`` cells.
    """
    limit = width if cut else None
    needs_quotes = _LINE_BREAK_OR_QUOTE.search

    def cells(row: Sequence[str]) -> str:
        count = len(row)
        if limit is not None and count > limit:
            row, count = row[:limit], limit
        if quote_all:
            text = '"' + '","'.join(row) + '"'
            if text.count('"') != 2 * count:
                text = ",".join([csv_cell(value, quote=True) for value in row])
        else:
            text = ",".join(row)
            if text.count(",") != count - 1 or needs_quotes(text):
                text = ",".join([csv_cell(value) for value in row])
        if count < width:
            pad = ',""' * (width - count)
            return text + pad if count else pad[1:]
        return text if count else ""

    return cells


def coded_chunks(
    spool: RowSpool,
    codes: bytes | bytearray,
    render: Callable[[Any, int, int], str | None],
    *,
    keep: Sequence[bool] | None = None,
    head: str = "",
    separator: str = "",
    tail: str = "",
    stop: int | None = None,
) -> Iterator[bytes]:
    """
    A download computed from a job's spooled rows and the verdict code kept for each, in constant
    memory: ``head``, then ``render(row, code, index)`` of every row (``None`` leaves a row out),
    between rendered rows ``separator``, then ``tail``. One chunk per spool block.

    :param spool: the job's rows.
    :param codes: a code (below 256) per row, in spool order.
    :param render: a row's text (a CSV line with its ending, a JSON array item, ...).
    :param keep: by code, whether a row may be rendered at all (``render`` must leave the others
        out too): where a block has many others, they are dropped before being decoded.
    :param stop: rows from this index on are not read.
    """
    selected = None if keep is None else bytes(int(bool(keep[code])) if code < len(keep) else 0 for code in range(256))
    if head:
        yield head.encode("utf-8")
    index = 0
    first = True
    for lines in spool.line_blocks():
        if stop is not None and index + len(lines) > stop:
            lines = lines[: max(stop - index, 0)]
        count = len(lines)
        block = codes[index : index + count]
        indices: Iterable[int] = range(index, index + count)
        if selected is not None:
            chosen = block.translate(selected)
            if 4 * chosen.count(0) > count:
                lines, block = list(compress(lines, chosen)), bytes(compress(block, chosen))
                indices = compress(indices, chosen)
        parts = [text for text in map(render, decode_rows(lines), block, indices) if text is not None] if lines else []
        index += count
        if parts:
            text = separator.join(parts)
            yield (text if first else separator + text).encode("utf-8")
            first = False
        if stop is not None and index >= stop:
            break
    if tail:
        yield tail.encode("utf-8")


class RowTimes:
    """
    :func:`iso_millis` of row ``index``'s moment ``min(cap, start + index / per_second)`` (rows
    verified evenly from ``start``), for a download that stamps every row.

    The moment never decreases with the index, so rows come in runs with one stamp: each run's
    end is found by bisection when its first row is asked for, and every row of a run gets the
    same text without formatting a time again (rows are best asked for in increasing order).

    :param start: when row 0 was verified (seconds since the epoch).
    :param per_second: rows verified a second.
    :param cap: no row is later than this.
    :param rows: how many rows there are.
    """

    def __init__(self, start: float, per_second: float, cap: float, rows: int) -> None:
        self.start = start
        self.per_second = per_second
        self.cap = cap
        self.rows = rows
        self._first = 0
        self._last = -1
        self._text = ""

    def moment(self, index: int) -> float:
        """Row ``index``'s moment."""
        return min(self.cap, self.start + index / self.per_second)

    @staticmethod
    def _millis(moment: float) -> tuple[float, int]:
        """
        What :func:`iso_millis` prints of a moment: its whole seconds, and its microseconds rounded
        as :meth:`datetime.fromtimestamp` rounds them (half to even) in milliseconds.
        """
        fraction, whole = math.modf(moment)
        return whole, round(fraction * 1e6) // 1000

    def __call__(self, index: int) -> str:
        """The stamp of row ``index``."""
        if self._first <= index <= self._last:
            return self._text
        moment = self.moment(index)
        stamp = self._millis(moment)
        step, last = 1, index
        while last + step < self.rows and self._millis(self.moment(last + step)) == stamp:
            last += step
            step *= 2
        high = min(last + step, self.rows)  # the first index past the run lies in (last, high]
        while high - last > 1:
            middle = (last + high) // 2
            if self._millis(self.moment(middle)) == stamp:
                last = middle
            else:
                high = middle
        self._first, self._last, self._text = index, last, iso_millis(moment)
        return self._text
