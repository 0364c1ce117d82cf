# Licensed under the Apache License, Version 2.0.
"""
What both transfer operators share: reading the results of one or more jobs through the
vendor-neutral hook, filtering them by neutral status while counting, picking the columns to
write, and encoding rows as CSV or JSON Lines in bounded chunks.

Everything here streams: generators in, generators out, never a list of all rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from itertools import islice
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify._utils import parse_list_text
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

    :param statuses: a status, a list of them, or text read as ``job_ids`` is: a JSON or Python
        list (what a template renders from a list, e.g. ``['deliverable', 'risky']``), or
        comma-separated statuses.
    """
    if statuses is None:
        return None
    if isinstance(statuses, str):
        parsed = parse_list_text(statuses, field="statuses")
        if isinstance(parsed, str):  # a quoted Python string, e.g. "('risky')"
            parsed = [parsed]
        if not isinstance(parsed, (list, tuple, set, frozenset)):
            raise ValueError(f"statuses {statuses.strip()[:80]!r} is not a list of statuses")
        statuses = parsed
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
    ``counts`` (status -> rows) and what is left out under the key ``"skipped"``. Rows are
    filtered and counted a chunk at a time (the counting in C), so ``counts`` covers a chunk
    before its rows are written: read it once the rows are.
    """
    status_of = attrgetter("status")
    for batch in batched(results, CHUNK_ROWS):
        if statuses is not None:
            kept = [result for result in batch if result.status in statuses]
            if len(kept) < len(batch):
                counts["skipped"] += len(batch) - len(kept)
            batch = kept
        counts.update(map(status_of, batch))
        yield from batch


#: The cyclic collector's first threshold during a load (CPython's default is 700 allocations).
LOAD_GC_THRESHOLD = 10_000


_gc_lock = threading.Lock()
_gc_loads = 0  # loads running in this process
_gc_restore: Callable[[], None] | None = None


@contextmanager
def gc_for_bulk_load() -> Iterator[None]:
    """
    Tune the cyclic garbage collector for a load of millions of short-lived rows, and restore it
    after. The objects that exist when the load starts are frozen out of its scans (``gc.freeze``,
    as Airflow's own executors do before forking): a task process holds a large heap of Airflow
    objects, and the full collections the rows set off would rescan all of it. The young
    generation is collected every :data:`LOAD_GC_THRESHOLD` allocations instead of 700, as a
    chunk of rows in flight outlives several default collections. Together about a quarter of
    the load's CPU. Rows hold no reference cycles and are freed as usual.

    Loads running at once in threads share one tuning, restored when the last one ends. A heap
    frozen by someone else (a worker forked by Airflow's LocalExecutor starts so) is left as it
    is, and so is automatic collection switched off (threshold 0).
    """
    global _gc_loads, _gc_restore
    import gc

    with _gc_lock:
        if _gc_loads == 0:
            thresholds = gc.get_threshold()
            freeze = gc.get_freeze_count() == 0
            if freeze:
                gc.freeze()
            if thresholds[0]:
                gc.set_threshold(max(thresholds[0], LOAD_GC_THRESHOLD), *thresholds[1:])

            def restore() -> None:
                gc.set_threshold(*thresholds)
                if freeze:
                    gc.unfreeze()

            _gc_restore = restore
        _gc_loads += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_loads -= 1
            if _gc_loads == 0 and _gc_restore is not None:
                _gc_restore()
                _gc_restore = None


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

    :param column_map: ``{source: target}``, target being the table column or file field the
        source is written to; a source is a neutral column (``email``, ``status``, ...) or, for
        anything else, a pass-through field of the submitted record (``VerificationResult.extra``).
        Only mapped sources are written. ``None`` writes every neutral column under its own name.
        A list of sources writes those under their own names.
    """

    def __init__(self, column_map: Mapping[str, str] | Sequence[str] | None = None) -> None:
        if column_map is None:
            pairs = [(name, name) for name in NEUTRAL_COLUMNS]
        elif isinstance(column_map, str):
            raise TypeError("column_map must be a mapping {source: output column} or a list of sources")
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
        #: one reader per column: the neutral field, else the pass-through field of ``extra``
        self._getters: tuple[Callable[[VerificationResult], Any], ...] = tuple(
            attrgetter(source) if source in NEUTRAL_COLUMNS else _extra_getter(source) for source in self.sources
        )
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
        parts = self._getters
        return lambda result: tuple(part(result) for part in parts)

    def column_values(self, batch: Sequence[VerificationResult]) -> list[list[Any]]:
        """
        The selected values of a batch of results, column by column (one list per column, in
        order). Each column is read by one ``map`` over the batch, so the per-row work runs in C
        (the encoders then ``zip`` or ``format`` the columns back into rows).
        """
        return [list(map(get, batch)) for get in self._getters]


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
    ``true``/``false``/empty; fields holding a comma, a quote or a line break (``\\n`` or a
    lone ``\\r``) are quoted, quotes doubled (RFC 4180), lines end with ``\\n``.

    Each chunk is encoded column by column: a column with nothing to quote (the usual case)
    is taken as it is, and the lines are one ``str.format`` each, so the per-row work runs in C.
    """
    text_of = _CSV_BOOL.get
    width = len(columns)
    template = ",".join(["{}"] * width) + "\n"
    line = template.format
    header = [_csv_field(target, alone=width == 1) for target in columns.targets]
    yield template.format(*header).encode("utf-8")

    def encoded(column: list[Any]) -> list[str]:
        texts = list(map(text_of, column, column))  # None -> "", flags -> true/false, text kept
        try:
            joined = "\0".join(texts)
        except TypeError:  # not all text: write values as str() does
            texts = [text if text.__class__ is str else str(text) for text in texts]
            joined = "\0".join(texts)
        if any(special in joined for special in _CSV_SPECIALS) or (width == 1 and "" in texts):
            return [_csv_field(text, alone=width == 1) for text in texts]
        return texts

    for batch in batched(results, chunk_rows):
        yield "".join(map(line, *map(encoded, columns.column_values(batch)))).encode("utf-8")


#: what makes a CSV field need quoting (a lone "\r" too: readers take it for a line break)
_CSV_SPECIALS = (",", '"', "\n", "\r")


def _csv_field(text: str, *, alone: bool = False) -> str:
    """
    One CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break, or
    when it is the only field of its line and empty (else the line would read as blank).
    """
    if any(special in text for special in _CSV_SPECIALS) or (alone and not text):
        return '"' + text.replace('"', '""') + '"'
    return text


def jsonl_chunks(
    results: Iterable[VerificationResult], columns: ResultColumns, *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """JSON Lines (one object per row, keys in column order, UTF-8, not ASCII-escaped)."""
    from json import dumps
    from json.encoder import encode_basestring

    literal = _JSON_LITERALS.get

    def value(v: Any) -> str:
        if v.__class__ is str:
            return encode_basestring(v)
        text = literal(v) if v is None or v.__class__ is bool else None
        return text if text is not None else dumps(v, ensure_ascii=False)

    def encoded(column: list[Any]) -> Iterable[str]:
        """
        A column's values as JSON text: in C when the column is all text or all flags and
        nulls (values are text, flags or ``None``: pass-through fields come as text).
        """
        try:
            return list(map(encode_basestring, column))
        except TypeError:  # not all text (None, flags, numbers, ...)
            pass
        texts = list(map(literal, column))
        return map(value, column) if None in texts else texts

    # One line is one str.format of the encoded columns; braces in column names are escaped.
    fields = (encode_basestring(target).replace("{", "{{").replace("}", "}}") + ":{}" for target in columns.targets)
    template = "{{" + ",".join(fields) + "}}\n"
    line = template.format
    for batch in batched(results, chunk_rows):
        yield "".join(map(line, *map(encoded, columns.column_values(batch)))).encode("utf-8")


def gzip_chunks(chunks: Iterable[bytes], *, level: int = 6) -> Iterator[bytes]:
    """Gzip-compress a stream of byte chunks (one gzip member, readable by any gunzip)."""
    import zlib

    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()
