# Licensed under the Apache License, Version 2.0.
"""
PostgreSQL ``COPY ... FROM STDIN`` text format for the SQL transfer: rows encoded in chunks, column
by column, which both drivers send as they are (psycopg 3 through ``copy.write``, psycopg2
through ``copy_expert`` reading a :class:`ChunkReader`), and the error that names a row holding a
NUL character, which PostgreSQL text cannot store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.transfers._common import CHUNK_ROWS, batched

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Sequence


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = value if isinstance(value, str) else str(value)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def nul_error(row: Sequence[Any], columns: Sequence[str] = ()) -> ValueError | None:
    """The error for a row holding a NUL character, which PostgreSQL text cannot store (else ``None``)."""
    names = list(columns) + [f"#{i + 1}" for i in range(len(columns), len(row))]
    for name, value in zip(names, row):
        if isinstance(value, str) and "\x00" in value:
            email = row[names.index("email")] if "email" in names else row[0]
            return ValueError(
                f"the row of {email!r} has a NUL character in column {name!r}, which PostgreSQL "
                "text cannot store; nothing was loaded"
            )
    return None


#: ``COPY`` text of the values a flag column holds.
_FLAG_TEXT = {True: "t", False: "f", None: "\\N"}


def _copy_column(values: Sequence[Any]) -> Sequence[str]:
    """
    One column of a batch in ``COPY`` text. Text needing no escape (nearly always) is taken as it
    is, with one pass in C; anything else goes value by value.
    """
    try:
        text = "".join(values)
    except TypeError:  # not all text: flags and nulls, or a mix
        flag = _FLAG_TEXT.get
        return [flag(v) if v is None or v.__class__ is bool else _copy_field(v) for v in values]
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return list(map(_copy_field, values))
    return values


def _copy_flags(values: Sequence[Any]) -> Sequence[str]:
    """A column of flags (``True``, ``False`` or ``None``) in ``COPY`` text, with one pass in C."""
    try:
        return list(map(_FLAG_TEXT.__getitem__, values))
    except (KeyError, TypeError):
        return _copy_column(values)


def copy_text_chunks(
    rows: Iterable[Sequence[Any]],
    *,
    columns: Sequence[str] = (),
    flags: Collection[int] = (),
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """
    Rows in PostgreSQL's ``COPY`` text format (tab-separated, ``\\N`` for null), as UTF-8 chunks
    of ``chunk_rows`` rows. Each chunk is encoded column by column.

    :param rows: rows of equal length.
    :param columns: the rows' column names, for the error naming a row with a NUL character.
    :param flags: the positions of the columns holding flags (``True``, ``False`` or ``None``),
        which are then encoded by one lookup per value.
    :param chunk_rows: rows per chunk.
    """
    encoders: list[Callable[[Sequence[Any]], Sequence[str]]] | None = None
    for batch in batched(rows, chunk_rows):
        if encoders is None:
            encoders = [_copy_flags if i in flags else _copy_column for i in range(len(batch[0]))]
        encoded = [encode(column) for encode, column in zip(encoders, zip(*batch))]
        text = "\n".join(map("\t".join, zip(*encoded))) + "\n"
        if "\x00" in text:
            for row in batch:
                error = nul_error(row, columns)
                if error is not None:
                    raise error
        yield text.encode("utf-8")


class ChunkReader:
    """A read-only file over a generator of byte chunks (what psycopg2's ``copy_expert`` reads)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        #: what the chunk source raised, if anything (the driver only reports that reading failed).
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        # copy_expert sends whatever one read returns, so a whole chunk at a time is fine;
        # an empty answer means the end, so empty chunks are skipped.
        try:
            for chunk in self._chunks:
                if chunk:
                    return chunk
        except BaseException as err:
            self.error = err
            raise
        return b""

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - not used by COPY
        return self.read(size)
