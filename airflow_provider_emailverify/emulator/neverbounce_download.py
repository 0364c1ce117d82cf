# Licensed under the Apache License, Version 2.0.
"""
NeverBounce result downloads (v4 ``jobs/download`` and v3 ``/download``) computed from a parsed
job's spool in constant memory.

Every row was classified once while the job was indexed
(:attr:`~.neverbounce_jobs.ParseSummary.codes`), so a download only reads and formats: spooled
rows are decoded a block of lines at a time (:func:`~.downloads.row_blocks`; a response
chunk is the lines of one block), which rows to keep is looked up per verdict code, and the
appended columns of each code are compiled once into a line template, leaving only the address
columns (``addr``, ``host``, ...) to fill per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING

from airflow_provider_emailverify.emulator.downloads import csv_cell, csv_cells, row_blocks
from airflow_provider_emailverify.emulator.neverbounce_data import (
    ADDRESS_VALUE_FIELDS,
    RESULT_CODES,
    address_values,
    dns_facts,
    nb_result,
)
from airflow_provider_emailverify.emulator.neverbounce_jobs import dedup_key
from airflow_provider_emailverify.emulator.verdict_codes import CODED

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from airflow_provider_emailverify.emulator.neverbounce_data import DownloadOptions
    from airflow_provider_emailverify.emulator.neverbounce_jobs import Job
    from airflow_provider_emailverify.emulator.verdict_codes import CodedVerdict

    #: a verdict code's compiled appended columns (see :attr:`LineFormat.templates`)
    _Template = tuple[str, str, Callable[[tuple[str, ...]], tuple[str, ...]] | None]


@dataclass(frozen=True)
class AddressCell:
    """An appended column filled per row from the address (one of ``ADDRESS_VALUE_FIELDS``)."""

    name: str


_FLAG_COLUMNS: dict[str, Callable[[CodedVerdict], bool]] = {
    "bad_syntax": lambda verdict: verdict.syntax_error,
    "free_email_host": lambda verdict: verdict.free,
    "role_account": lambda verdict: verdict.role,
    "has_dns_info": lambda verdict: dns_facts(verdict)[0],
    "has_mail_server": lambda verdict: dns_facts(verdict)[1],
    "mail_server_reachable": lambda verdict: dns_facts(verdict)[2],
}


class AppendColumns:
    """The v4 appended download columns, in the order asked for (spec §4.8)."""

    def __init__(self, appends: tuple[str, ...], yes_no: tuple[str, str]) -> None:
        self.appends = appends
        self.yes, self.no = yes_no

    def __call__(self, verdict: CodedVerdict) -> list[str | AddressCell]:
        """The cells for rows with ``verdict``; address columns stay :class:`AddressCell`."""
        cells: list[str | AddressCell] = []
        for name in self.appends:
            if name in _FLAG_COLUMNS:
                cells.append(self.yes if _FLAG_COLUMNS[name](verdict) else self.no)
            elif name == "email_status":
                cells.append(nb_result(verdict))
            elif name == "email_status_int":
                cells.append(str(RESULT_CODES[nb_result(verdict)]))
            elif verdict.syntax_error:  # address_info of an unparseable address is empty
                cells.append("")
            elif name == "network":
                cells.append(AddressCell("fqdn") if dns_facts(verdict)[1] else "")
            else:
                cells.append(AddressCell(name))
        return cells


class LineFormat:
    """
    How a kept row becomes a download line: its submitted cells, then the appended columns.

    The appended part of each verdict code is compiled once into a ``%`` template whose
    placeholders are the address columns. Those need no CSV quoting: an address that passed the
    syntax check has no comma, quote or line break, and a failed one gets empty columns.

    :param quote_all: quote every submitted cell (v4) or only those that need it (v3).
    :param width: pad shorter rows with empty (quoted) cells to this many.
    :param appended: the appended cells for a verdict.
    :param line_end: the line ending.
    """

    def __init__(
        self,
        *,
        quote_all: bool,
        width: int,
        appended: Callable[[CodedVerdict], Sequence[str | AddressCell]],
        line_end: str,
    ) -> None:
        self.cells = csv_cells(quote_all=quote_all, width=width)
        self.line_end = line_end
        #: per code: the template after the submitted cells, the same for a line without any, and
        #: what picks its placeholders' values from :func:`address_values` (``None``: no placeholders)
        self.templates = {verdict.code: self._compile(appended(verdict)) for verdict in CODED if verdict is not None}

    def _compile(self, cells: Sequence[str | AddressCell]) -> _Template:
        fields = [ADDRESS_VALUE_FIELDS.index(cell.name) for cell in cells if isinstance(cell, AddressCell)]
        text = ",".join("%s" if isinstance(cell, AddressCell) else cell.replace("%", "%%") for cell in cells)
        bare = text + self.line_end.replace("%", "%%")
        getter: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None
        if fields:
            pick = itemgetter(*fields)
            getter = pick if len(fields) > 1 else (lambda values: (pick(values),))
        else:
            bare = bare % ()
        return ("," + bare if cells else bare), bare, getter

    def line(self, row: list[str], email: str, code: int) -> str:
        """One line, its ending included."""
        after, bare, getter = self.templates[code]
        cells = self.cells(row)
        template = after if cells else bare
        if getter is None:
            return cells + template
        return cells + template % getter(address_values(email))


def iter_download(
    job: Job,
    *,
    keep: Callable[[CodedVerdict, bool, bool], bool],
    lines: LineFormat,
    header: str | None,
) -> Iterator[bytes]:
    """
    A completed job as CSV bytes, computed block by block from the spool (constant memory).

    :param keep: ``keep(verdict, is_duplicated_address, is_repeat)`` selects rows.
    :param lines: renders the kept rows.
    :param header: the header line without its ending, if the input had one.
    """
    summary = job.summary
    assert summary is not None
    codes = summary.codes
    dup_keys = summary.dup_keys
    email_col = job.email_col
    # keep() for every (code, duplicated, repeat), indexed code * 4 + duplicated * 2 + repeat
    kept = [
        verdict is not None and keep(verdict, duplicated, repeat)
        for verdict in CODED
        for duplicated in (False, True)
        for repeat in (False, True)
    ]
    syntax = [verdict is not None and verdict.syntax_error for verdict in CODED]
    seen: set[int] = set()
    line = lines.line
    if header is not None:
        yield (header + lines.line_end).encode("utf-8")
    start = 1 if job.header_in_spool else 0
    with open(job.spool.path, "rb") as fh:
        if start:
            fh.readline()
        for _lines, rows in row_blocks(fh):
            parts = []
            for row, code in zip(rows, codes[start : start + len(rows)]):
                email = row[email_col] if email_col < len(row) else ""
                index = code << 2
                if dup_keys and not syntax[code]:
                    key = dedup_key(email)
                    if key in dup_keys:
                        index |= 3 if key in seen else 2
                        seen.add(key)
                if kept[index]:
                    parts.append(line(row, email, code))
            start += len(rows)
            if parts:
                yield "".join(parts).encode("utf-8")


def v4_download(job: Job, options: DownloadOptions, *, only_repeats: bool) -> Iterator[bytes]:
    """
    The body of a v4 ``jobs/download``.

    :param only_repeats: ``only_duplicates`` returns the repeats only, not every instance.
    """

    def keep(verdict: CodedVerdict, duplicated: bool, repeat: bool) -> bool:
        if options.only_bad_syntax or options.only_duplicates:
            dup = repeat if only_repeats else duplicated
            return (options.only_bad_syntax and verdict.syntax_error) or (options.only_duplicates and dup)
        if repeat and not options.include_duplicates:
            return False
        return nb_result(verdict) in options.results

    header = None
    if job.header is not None:
        header = ",".join([csv_cell(name, quote=False) for name in job.header] + list(options.appends))
    lines = LineFormat(
        quote_all=True,
        width=len(job.header or ()),
        appended=AppendColumns(options.appends, options.yes_no),
        line_end=options.line_end,
    )
    return iter_download(job, keep=keep, lines=lines, header=header)
