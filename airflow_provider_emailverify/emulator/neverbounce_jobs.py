# Licensed under the Apache License, Version 2.0.
"""
NeverBounce bulk jobs as the emulator keeps them: the job record, how submitted rows reach the
job's on-disk :class:`~airflow_provider_emailverify.emulator.core.RowSpool` (supplied arrays or
objects, remote files fetched over HTTP), the indexing pass ("parsing": counters, duplicates,
a seek index, each row's verdict code), and reading rows back for jobs/results, all in constant
memory. Downloads are in :mod:`.neverbounce_download`.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import VerdictTally, classify
from airflow_provider_emailverify.emulator.downloads import row_blocks
from airflow_provider_emailverify.emulator.neverbounce_data import nb_result
from airflow_provider_emailverify.emulator.streams import (
    UploadLimitError,
    address_column,
    cell_at,
    email_column,
    ingest_csv,
    is_header,
)
from airflow_provider_emailverify.emulator.verdict_codes import verdict_code

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_emailverify.emulator.core import JobClock, RowSpool

log = logging.getLogger(__name__)

#: a seek offset is kept for every INDEX_STEP-th spooled row
INDEX_STEP = 1024
_BUCKETS = 64
_HASH = struct.Struct("<q")
_decode = json.JSONDecoder().decode


def _row(line: bytes) -> list[str]:
    """One spooled row (a JSON line)."""
    return _decode(line.decode("utf-8"))


def cell_text(value: Any) -> str:
    """A submitted value as the string NeverBounce echoes back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def dedup_key(email: str) -> int:
    """Hash identifying repeats of one address (case-insensitive)."""
    return hash(email.strip().lower())


@dataclass
class ParseSummary:
    """What indexing learnt about a job's rows."""

    records: int
    billable: int
    bad_syntax: int
    duplicates: int
    #: per-row category and flags, for exact counters among the first N processed rows
    tally: VerdictTally
    #: dedup keys of addresses that occur more than once
    dup_keys: frozenset[int]
    #: byte offset of every INDEX_STEP-th row in the spool
    offsets: list[int]
    #: every spooled row's verdict, classified once here (:func:`~.verdict_codes.verdict_code`)
    codes: bytearray

    def counts(self, upto: int | None = None) -> dict[str, int]:
        """Rows per v4 result among the first ``upto`` rows."""
        tally = self.tally.counts(upto)
        return {
            "valid": tally["deliverable"],
            "invalid": tally["undeliverable"],
            "disposable": tally["disposable"],
            "catchall": tally["risky"] - tally["disposable"],
            "unknown": tally["unknown"],
        }


@dataclass(eq=False)
class Job:
    """One NeverBounce job. ``phase`` is the v4 ``job_status``, plus ``unparsed`` before indexing."""

    id: int
    api_key: str
    api: str
    version: str
    filename: str
    input_location: str
    spool: RowSpool
    job_file: str = ""
    created: float = field(default_factory=time.time)
    header: list[str] | None = None
    header_in_spool: bool = False
    email_col: int = 0
    size: int = 0
    phase: str = "unparsed"
    auto_start: bool = False
    run_sample: bool = False
    allow_manual_review: bool = False
    historical: bool = True
    callback_url: str | None = None
    callback_headers: dict[str, str] = field(default_factory=dict)
    parse_requested: bool = False
    summary: ParseSummary | None = None
    run_kind: str | None = None
    clock: JobClock | None = None
    queued_seq: int = 0
    parse_started: float | None = None
    parse_finished: float | None = None
    sample_started: float | None = None
    sample_finished: float | None = None
    sample_size: int = 0
    run_started: float | None = None
    finished: float | None = None
    failure_reason: str | None = None
    bounce_estimate: float = -1
    credits_charged: int = 0
    reviewed: bool = False
    review_until: float = 0.0
    last_stats_event: float = 0.0
    callback_task: Any = None
    touched: float = field(default_factory=time.time)

    def email_of(self, row: list[str]) -> str:
        return cell_at(row, self.email_col)

    def data_of(self, row: list[str]) -> dict[str, str]:
        """A row as jobs/results ``data``: keyed by header names, else by column index."""
        if self.header is None:
            return {str(index): value for index, value in enumerate(row)}
        return {name: (row[index] if index < len(row) else "") for index, name in enumerate(self.header)}

    def processed(self) -> int:
        """Rows verified by the full run so far."""
        if self.phase == "complete" and self.summary is not None:
            return self.summary.records
        if self.run_kind == "full" and self.clock is not None and self.phase == "running":
            return self.clock.processed()
        return 0


class SuppliedRows:
    """
    Writes ``input_location=supplied`` rows to a spool as lists of strings.

    Rows are arrays (or index-keyed objects, as the Go SDK sends) of cells, or objects whose keys
    become the header. A first array row with no ``@`` in any cell is a header, like a file's.

    :param header_is_record: also keep the header as a row (NeverBounce's recorded 2017 behaviour
        for object input: the header line counts as a bad-syntax record).
    """

    def __init__(self, spool: RowSpool, *, header_is_record: bool = False) -> None:
        self.spool = spool
        self.header_is_record = header_is_record
        self.header: list[str] | None = None
        self.header_in_spool = False
        self.email_col: int | None = None
        self.items = 0
        self.first_item: Any = None

    def add(self, item: Any) -> None:
        if self.items == 0:
            self.first_item = item
        self.items += 1
        if isinstance(item, dict) and item and not all(str(key).isdigit() for key in item):
            self._add_object(item)
        elif isinstance(item, dict):
            self._add_cells([cell_text(item[key]) for key in sorted(item, key=int)])
        elif isinstance(item, list):
            self._add_cells([cell_text(value) for value in item])
        else:
            self._add_cells([cell_text(item)])

    def _set_header(self, header: list[str]) -> None:
        self.header = header
        self.email_col = email_column(header)
        if self.header_is_record:
            self.spool.append(list(header))
            self.header_in_spool = True

    def _add_object(self, obj: dict[str, Any]) -> None:
        if self.header is None:
            self._set_header([str(key) for key in obj])
        assert self.header is not None
        self.header.extend(str(key) for key in obj if str(key) not in self.header)
        values = {str(key): value for key, value in obj.items()}
        self.spool.append([cell_text(values.get(name)) for name in self.header])

    def _add_cells(self, cells: list[str]) -> None:
        if self.items == 1 and cells and is_header(cells) and any(c.strip() for c in cells):
            self._set_header(cells)
            return
        if self.email_col is None:
            self.email_col = address_column(cells)
        self.spool.append(cells)

    def close(self) -> None:
        self.spool.close()


def as_row_list(value: Any) -> list[Any]:
    """``input`` as a list of rows: an array, or an object keyed by row index (Go SDK, bracket form)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(str(key).isdigit() for key in value):
        return [value[key] for key in sorted(value, key=int)]
    raise ValueError("input is not a list of rows")


class FetchError(Exception):
    """A remote input file could not be fetched; the job fails with this message."""


def loopback_url(url: str) -> bool:
    """Whether ``url`` is http(s) on a loopback host (the only hosts the emulator contacts)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def fetch_remote(url: str, spool: RowSpool, workdir: str) -> tuple[list[str] | None, int, int]:
    """
    Stream a remote CSV or address list into ``spool``; returns (header, email column, bytes).

    The body goes to a temporary file chunk by chunk, then is split into rows in a worker thread,
    so a file of any size passes in constant memory. Redirects are not followed.

    :raises FetchError: for non-loopback hosts, transport errors and non-200 answers.
    """
    import asyncio

    import httpx

    if not loopback_url(url):
        raise FetchError("Unable to retrieve the remote file: the emulator only fetches http(s) URLs on loopback hosts")
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
            with tempfile.TemporaryFile(dir=workdir) as fh:
                async with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise FetchError(f"Unable to retrieve the remote file: HTTP {response.status_code}")
                    async for chunk in response.aiter_bytes(256 * 1024):
                        fh.write(chunk)
                size = fh.tell()
                upload = await asyncio.to_thread(ingest_csv, fh, spool)
    except httpx.HTTPError as err:
        raise FetchError(f"Unable to retrieve the remote file: {type(err).__name__}") from None
    except (UploadLimitError, ValueError) as err:
        raise FetchError(f"Unable to read the remote file: {err}") from None
    finally:
        spool.close()
    return upload.header, upload.email_index, size


def parse_spool(path: str, email_col: int, workdir: str, *, bill_duplicates: bool = False) -> ParseSummary:
    """
    Index a job's rows (the "parsing" phase). Blocking: run it in a worker thread.

    Counts results, bad syntax and duplicates; duplicates are found by spilling row hashes into
    bucket files and counting one bucket at a time, so memory stays flat for any job size.
    """
    tally = VerdictTally(("deliverable", "undeliverable", "risky", "unknown"), ("disposable", "bad_syntax"))
    offsets: list[int] = []
    codes = bytearray()
    records = bad_syntax = 0
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        buckets = [open(os.path.join(tmp, str(index)), "wb") for index in range(_BUCKETS)]  # noqa: SIM115
        try:
            with open(path, "rb") as fh:
                offset = 0
                for lines, rows in row_blocks(fh):
                    for line, row in zip(lines, rows):
                        if records % INDEX_STEP == 0:
                            offsets.append(offset)
                        offset += len(line)
                        records += 1
                        email = cell_at(row, email_col)
                        verdict = classify(email)
                        codes.append(verdict_code(verdict))
                        flags = ("disposable",) if verdict.disposable else ()
                        if verdict.syntax_error:
                            bad_syntax += 1
                            tally.add(verdict.category, ("bad_syntax",))
                            continue
                        tally.add(verdict.category, flags)
                        key = dedup_key(email)
                        buckets[key % _BUCKETS].write(_HASH.pack(key))
        finally:
            for bucket in buckets:
                bucket.close()
        dup_keys: set[int] = set()
        duplicates = 0
        for index in range(_BUCKETS):
            with open(os.path.join(tmp, str(index)), "rb") as fh:
                counter = Counter(value for (value,) in _HASH.iter_unpack(fh.read()))
            for key, count in counter.items():
                if count > 1:
                    dup_keys.add(key)
                    duplicates += count - 1
    billable = records - bad_syntax - (0 if bill_duplicates else duplicates)
    return ParseSummary(records, billable, bad_syntax, duplicates, tally, frozenset(dup_keys), offsets, codes)


def iter_rows(job: Job, start: int = 0) -> Iterator[list[str]]:
    """A parsed job's rows from index ``start``, seeking by the index built while parsing."""
    summary = job.summary
    if summary is None or start >= summary.records:
        return
    block = start // INDEX_STEP
    skip = start - block * INDEX_STEP
    with open(job.spool.path, "rb") as fh:
        fh.seek(summary.offsets[block])
        for line in fh:
            if skip:
                skip -= 1
                continue
            yield _row(line)


def results_page(job: Job, start: int, count: int, results: frozenset[str] | None) -> list[list[str]]:
    """Rows ``start``..``start+count`` among those whose result is in ``results`` (all when ``None``)."""
    if results is None:
        rows = iter_rows(job, start)
    else:
        rows = (row for row in iter_rows(job) if nb_result(classify(job.email_of(row))) in results)
        for _ in range(start):
            if next(rows, None) is None:
                return []
    page = []
    for row in rows:
        page.append(row)
        if len(page) >= count:
            break
    return page
