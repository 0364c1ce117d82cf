# Licensed under the Apache License, Version 2.0.
"""
PostgreSQL ``COPY ... FROM STDIN`` text format for the SQL transfer: rows encoded in chunks for
psycopg2's ``copy_expert`` (psycopg 3 encodes rows itself), and the error that names a row holding
a NUL character, which PostgreSQL text cannot store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.transfers._common import CHUNK_ROWS, batched

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence


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


def copy_text_chunks(
    rows: Iterable[Sequence[Any]], *, columns: Sequence[str] = (), chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """Rows in PostgreSQL's ``COPY`` text format (tab-separated, ``\\N`` for null), as UTF-8 chunks."""
    for batch in batched(rows, chunk_rows):
        text = "".join(["\t".join(map(_copy_field, row)) + "\n" for row in batch])
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
