# Licensed under the Apache License, Version 2.0.
"""
Bouncer batch downloads (``GET …/batch/{batchId}/download``, a JSON array of ``EmailRecord``
objects or, with ``Accept: text/csv``, their flattened CSV rows) computed from a batch's spool in
constant memory.

Every address was coded once when the batch was created (:func:`batch_code`: its
:mod:`~.verdict_codes` code, plus a toxic local part in the vendor bit; a sandbox address is
:data:`~.verdict_codes.UNCODED`), so a download only reads and formats: spooled rows are decoded a
block at a time (:func:`~.streams.coded_chunks`), and each code's record is compiled once, from
:func:`~.bouncer_records.classified_record` with stand-ins for the address facts, into a
``str.format`` template whose fields are those facts (the address, its domain, the did-you-mean
suggestion, the batch item's name). Rows no template describes (bad syntax, sandbox addresses) are
rendered from their address by :func:`~.bouncer_records.email_record`, as real-time answers are.
"""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.bouncer_records import (
    CSV_COLUMNS,
    classified_record,
    csv_row,
    email_record,
    is_toxic,
    sandbox_kind,
    status_of,
    with_name,
)
from airflow_provider_emailverify.emulator.core import classify, suggestion_of
from airflow_provider_emailverify.emulator.downloads import coded_chunks, csv_cell
from airflow_provider_emailverify.emulator.verdict_codes import CODED, CODE_LIMIT, UNCODED, VENDOR_FLAG, verdict_code

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_emailverify.emulator.core import RowSpool

#: the vendor bit of a code: the local part starts ``toxic`` (toxicity 5)
TOXIC = VENDOR_FLAG
#: stand-ins for the address facts, in the order of the templates' fields
_EMAIL, _DOMAIN, _SUGGESTION, _NAME = (f"\x00{name}\x00" for name in ("email", "domain", "suggestion", "name"))


def batch_code(email: str) -> tuple[int, str]:
    """
    The code kept for a batch row, and the row's status (for the batch's tally).

    :param email: the address as submitted.
    """
    if sandbox_kind(email) is not None:
        return UNCODED, status_of(email)
    verdict = classify(email)
    code = verdict_code(verdict) | (TOXIC if is_toxic(verdict) else 0)
    return code, _STATUSES[code]


def _status(code: int) -> str:
    verdict = CODED[code % CODE_LIMIT]
    if verdict is None:
        return ""
    return "undeliverable" if verdict.syntax_error else classified_record(
        verdict, email=_EMAIL, domain=_DOMAIN, toxic=False, suggestion=None
    )["status"]


#: status by code (``""`` for codes no classified address has)
_STATUSES = tuple(_status(code) for code in range(2 * CODE_LIMIT))


def render_record(record: dict[str, Any], *, as_csv: bool) -> str:
    """One record's text as the generic download writers give it: compact JSON, or a CSV line."""
    if not as_csv:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(csv_row(record))
    return buffer.getvalue()


def _compile(record: dict[str, Any], *, as_csv: bool) -> Callable[..., str]:
    """
    :func:`render_record` of a record with stand-ins, as the ``format`` method of a template whose
    fields 0 to 3 are the address, its domain, the suggestion and the name (the text ones written
    by :func:`text_writer`, the domain as it is: it passed the syntax check).
    """
    text = render_record(record, as_csv=as_csv)
    if as_csv:
        whole = {marker: marker for marker in (_EMAIL, _SUGGESTION, _NAME)}
    else:
        whole = {json.dumps(marker): marker for marker in (_EMAIL, _SUGGESTION, _NAME)}
        text = text.replace(json.dumps(_DOMAIN)[1:-1], _DOMAIN)
    text = text.replace("{", "{{").replace("}", "}}")
    for written, marker in whole.items():
        text = text.replace(written, marker)
    for index, marker in enumerate((_EMAIL, _DOMAIN, _SUGGESTION, _NAME)):
        text = text.replace(marker, "{%d}" % index)
    return text.format


def text_writer(*, as_csv: bool) -> Callable[[str], str]:
    """How a text fact (the address, the suggestion, the name) is written: a CSV cell or a JSON string."""
    return csv_cell if as_csv else encode_basestring


#: what a row's code compiles to: a reason to leave it out, a need to render it from its address
_DROP: Any = object()
_BY_ADDRESS = None
#: a code no row has: rows left unverified by a batch finished early
UNVERIFIED = 2 * CODE_LIMIT


@cache
def _templates(code: int, *, as_csv: bool) -> tuple[Callable[..., str], Callable[..., str], bool] | None:
    """
    The templates of rows with ``code``, without and with the batch item's name, and whether they
    have a suggestion field; ``None`` for rows no template describes. :data:`UNVERIFIED` is the
    code of a row left unverified by a batch finished early.
    """
    if code == UNVERIFIED:
        record: dict[str, Any] = {"email": _EMAIL, "status": "unknown", "reason": "unknown"}
        typo = False
    else:
        verdict = CODED[code % CODE_LIMIT]
        if verdict is None or verdict.syntax_error:
            return _BY_ADDRESS
        typo = verdict.typo
        record = classified_record(
            verdict, email=_EMAIL, domain=_DOMAIN, toxic=code >= CODE_LIMIT, suggestion=_SUGGESTION if typo else None
        )
    return _compile(record, as_csv=as_csv), _compile(with_name(record, _NAME), as_csv=as_csv), typo


def download(
    spool: RowSpool, codes: bytes | bytearray, *, wanted: str, verified: int, unverified: str, as_csv: bool
) -> Iterator[bytes]:
    """
    A completed batch's results, in submission order.

    :param spool: the batch's unique ``[email, name]`` rows.
    :param codes: :func:`batch_code` of each row.
    :param wanted: ``all`` or the one status to return.
    :param verified: rows verified (the rest were left when the batch was finished early).
    :param unverified: what unverified rows become: ``unknown`` records, or ``drop``ped.
    :param as_csv: CSV lines under :data:`~.bouncer_records.CSV_COLUMNS` instead of a JSON array.
    """
    text = text_writer(as_csv=as_csv)
    pieces = [
        _templates(code, as_csv=as_csv) if wanted == "all" or _STATUSES[code] in (wanted, "") else _DROP
        for code in range(2 * CODE_LIMIT)
    ]
    left = _templates(UNVERIFIED, as_csv=as_csv) if wanted in ("all", "unknown") else _DROP

    def render(row: list[Any], code: int, index: int) -> str | None:
        email, name = row
        piece = pieces[code] if index < verified else left
        if piece is _DROP:
            return None
        if piece is _BY_ADDRESS:  # a sandbox address or bad syntax
            record = email_record(email)
            if wanted != "all" and record["status"] != wanted:
                return None
            return render_record(with_name(record, name), as_csv=as_csv)
        plain, named, typo = piece
        domain = email.strip().rpartition("@")[2].lower()
        suggestion = text(suggestion_of(email)) if typo else ""
        if name is None:
            return plain(text(email), domain, suggestion)
        return named(text(email), domain, suggestion, text(name))

    stop = verified if unverified == "drop" else None
    # which rows are left out follows from their codes, unless some rows were left unverified
    keep = [piece is not _DROP for piece in pieces] if stop is not None or verified >= spool.count else None
    if as_csv:
        return coded_chunks(spool, codes, render, keep=keep, head=",".join(CSV_COLUMNS) + "\r\n", stop=stop)
    return coded_chunks(spool, codes, render, keep=keep, head="[", separator=",", tail="]", stop=stop)
