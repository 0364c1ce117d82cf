# Licensed under the Apache License, Version 2.0.
"""
What both transfer operators share: reading the results of one or more jobs through the
vendor-neutral hook, filtering them by neutral status while counting, picking the columns to
write, and encoding rows as CSV or JSON Lines in bounded chunks.

Everything here streams: generators in, generators out, never a list of all rows.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from itertools import islice
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.results import FLAG_COLUMNS, NEUTRAL_COLUMNS, STATUSES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from logging import Logger

    from airflow_provider_emailverify.results import VerificationResult

#: Rows per encoded chunk: large enough to amortise per-call overhead, small enough to stay flat.
CHUNK_ROWS = 2_000


def validate_statuses(statuses: str | Iterable[str] | None) -> frozenset[str] | None:
    """
    The neutral statuses to keep (``None``: keep every row).

    :param statuses: a status, a list of them, or a comma-separated string of them.
    """
    if statuses is None:
        return None
    if isinstance(statuses, str):
        statuses = [part for part in statuses.split(",")]
    wanted = frozenset(str(s).strip().lower() for s in statuses if str(s).strip())
    unknown = sorted(wanted - set(STATUSES))
    if unknown:
        raise ValueError(f"statuses {unknown} are not neutral statuses; use some of {list(STATUSES)}")
    if not wanted:
        raise ValueError(f"statuses is empty; pass None to keep every row or some of {list(STATUSES)}")
    return wanted


def iter_job_results(conn_id: str, job_ids: Sequence[str], *, log: Logger) -> Iterator[VerificationResult]:
    """
    The neutral rows of every job in ``job_ids``, in order, through the hook the connection's
    type picks (so the transfers never import a vendor module).
    """
    from airflow_provider_emailverify.hooks.base import hook_for_connection

    hook = hook_for_connection(conn_id)
    for number, job_id in enumerate(job_ids, start=1):
        log.info(
            "Reading results of %s job %s (%d of %d)", hook.vendor or "vendor", job_id, number, len(job_ids)
        )
        yield from hook.iter_results(job_id)


def select_results(
    results: Iterable[VerificationResult],
    statuses: frozenset[str] | None,
    counts: Counter[str],
) -> Iterator[VerificationResult]:
    """
    Rows whose neutral status is in ``statuses`` (all when ``None``), counting what passes into
    ``counts`` (status -> rows) and what is left out under the key ``"skipped"``.
    """
    if statuses is None:
        for result in results:
            counts[result.status] += 1
            yield result
        return
    for result in results:
        if result.status in statuses:
            counts[result.status] += 1
            yield result
        else:
            counts["skipped"] += 1


def status_counts(counts: Counter[str]) -> dict[str, int]:
    """Rows written per neutral status (every status present, zero when none)."""
    return {status: counts.get(status, 0) for status in STATUSES}


def batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most ``size`` items from ``rows`` (``itertools.batched`` is Python 3.12+)."""
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


class ResultColumns:
    """
    Which result fields are written, under which names, in which order.

    :param column_map: ``{source: target}``; a source is a neutral column (``email``,
        ``status``, ...) or, for anything else, a pass-through field of the submitted record
        (``VerificationResult.extra``). Only mapped sources are written. ``None`` writes every
        neutral column under its own name. A list of sources writes those under their own names.
    """

    def __init__(self, column_map: Mapping[str, str] | Sequence[str] | None = None) -> None:
        if column_map is None:
            pairs = [(name, name) for name in NEUTRAL_COLUMNS]
        elif isinstance(column_map, str):
            raise TypeError(
                "column_map must be a mapping {neutral column: table column} or a list of columns"
            )
        elif hasattr(column_map, "items"):
            pairs = [(str(source), str(target)) for source, target in column_map.items()]
        else:
            pairs = [(str(source), str(source)) for source in column_map]
        if not pairs:
            raise ValueError("column_map selects no column")
        targets = [target for _, target in pairs]
        duplicates = sorted({t for t in targets if targets.count(t) > 1})
        if duplicates:
            raise ValueError(f"column_map writes more than one field into column(s) {duplicates}")
        for source, target in pairs:
            if not source or not target:
                raise ValueError(f"column_map has an empty column name in {source!r}: {target!r}")
        self.sources: tuple[str, ...] = tuple(source for source, _ in pairs)
        self.targets: tuple[str, ...] = tuple(targets)
        self.flag_positions: tuple[int, ...] = tuple(
            i for i, s in enumerate(self.sources) if s in FLAG_COLUMNS
        )

    def __len__(self) -> int:
        return len(self.sources)

    def target_of(self, name: str) -> str:
        """A key column given by its neutral name or its table name -> the table column name."""
        if name in self.sources:
            return self.targets[self.sources.index(name)]
        if name in self.targets:
            return name
        raise ValueError(f"key column {name!r} is not among the written columns {list(self.targets)}")

    def source_of(self, target: str) -> str:
        return self.sources[self.targets.index(target)]

    def row_getter(self) -> Callable[[VerificationResult], tuple[Any, ...]]:
        """A fast function turning one result into a tuple of the selected values, in order."""
        if all(source in NEUTRAL_COLUMNS for source in self.sources):
            getter = attrgetter(*self.sources)
            if len(self.sources) == 1:
                return lambda result: (getter(result),)
            return getter
        neutral = set(NEUTRAL_COLUMNS)
        parts = [
            attrgetter(source) if source in neutral else _extra_getter(source) for source in self.sources
        ]
        return lambda result: tuple(part(result) for part in parts)


def _extra_getter(name: str) -> Callable[[VerificationResult], Any]:
    def get(result: VerificationResult) -> Any:
        value = result.extra.get(name) if result.extra else None
        return value if value is None or isinstance(value, (str, bool)) else str(value)

    return get


# -- file formats ---------------------------------------------------------------------------------

_CSV_BOOL = {True: "true", False: "false", None: ""}
_JSON_LITERALS = {True: "true", False: "false", None: "null"}


def csv_chunks(
    results: Iterable[VerificationResult], columns: ResultColumns, *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """
    UTF-8 CSV with a header row, as byte chunks of ``chunk_rows`` rows. Flags are
    ``true``/``false``/empty; fields with quotes, commas or line breaks are quoted (RFC 4180
    quoting, ``\\n`` line ends).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # csv quotes a field holding the line end ("\n") but not a lone "\r", which readers take
    # for a line break: rows holding one are written fully quoted.
    quote_all = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(columns.targets)
    getter = columns.row_getter()
    flags = columns.flag_positions
    text_of = _CSV_BOOL.get

    def row(result: VerificationResult) -> Any:
        values = getter(result)
        if not flags:
            return values
        values = list(values)
        for i in flags:
            values[i] = text_of(values[i], values[i])
        return values

    for batch in batched(results, chunk_rows):
        start = buffer.tell()
        rows = list(map(row, batch))
        writer.writerows(rows)
        if "\r" in buffer.getvalue()[start:]:  # rare: one scan per chunk, then redo this chunk
            buffer.seek(start)
            buffer.truncate()
            for values in rows:
                carries_cr = any(isinstance(v, str) and "\r" in v for v in values)
                (quote_all if carries_cr else writer).writerow(values)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def jsonl_chunks(
    results: Iterable[VerificationResult], columns: ResultColumns, *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """JSON Lines (one object per row, keys in column order, UTF-8, not ASCII-escaped)."""
    from json import dumps
    from json.encoder import encode_basestring

    keys = [encode_basestring(target) + ":" for target in columns.targets]
    getter = columns.row_getter()
    literal = _JSON_LITERALS.get

    def value(v: Any) -> str:
        if v.__class__ is str:
            return encode_basestring(v)
        text = literal(v) if v is None or v.__class__ is bool else None
        return text if text is not None else dumps(v, ensure_ascii=False)

    def line(result: VerificationResult) -> str:
        return "{" + ",".join([k + value(v) for k, v in zip(keys, getter(result))]) + "}\n"

    for batch in batched(results, chunk_rows):
        yield "".join(map(line, batch)).encode("utf-8")


def gzip_chunks(chunks: Iterable[bytes], *, level: int = 6) -> Iterator[bytes]:
    """Gzip-compress a stream of byte chunks (one gzip member, readable by any gunzip)."""
    import zlib

    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()
