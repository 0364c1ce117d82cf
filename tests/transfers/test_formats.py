# Licensed under the Apache License, Version 2.0.
"""The shared row handling of the transfers: columns, status filters, CSV / JSON Lines / gzip encoding."""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
from collections import Counter

import pytest

from airflow_provider_emailverify.results import NEUTRAL_COLUMNS, VerificationResult
from airflow_provider_emailverify.transfers._common import (
    CHUNK_ROWS,
    LOAD_GC_THRESHOLD,
    ResultColumns,
    batched,
    csv_chunks,
    gc_for_bulk_load,
    gzip_chunks,
    jsonl_chunks,
    select_results,
    status_counts,
    validate_statuses,
)
from airflow_provider_emailverify.transfers._pg_copy import ChunkReader, copy_text_chunks
from tests.transfers.conftest import TRICKY_EMAILS, sample_results


def _csv_text(value):
    return {True: "true", False: "false", None: ""}.get(value, value) if not isinstance(value, str) else value


def test_csv_round_trips_every_field_exactly():
    results = sample_results()
    data = b"".join(csv_chunks(iter(results), ResultColumns(), chunk_rows=3))
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header, *rows = list(reader)
    assert tuple(header) == NEUTRAL_COLUMNS
    assert [row[0] for row in rows] == TRICKY_EMAILS
    for row, result in zip(rows, results):
        assert row == [_csv_text(v) for v in result.as_dict().values()]


def test_csv_with_no_rows_is_just_the_header():
    assert b"".join(csv_chunks(iter([]), ResultColumns(["email", "status"]))) == b"email,status\n"


def test_csv_of_one_column_keeps_empty_values_as_rows():
    results = sample_results(["a@example.com", "b@example.com", "c@example.com", "d@example.com"])
    data = b"".join(csv_chunks(iter(results), ResultColumns({"reason": "why, if any"}), chunk_rows=2))
    # An empty value alone on its line is quoted: a blank line would read as no row at all.
    assert data == b'"why, if any"\n"reason, with ""quotes""\nand\tcontrol"\n""\n""\n"reason, with ""quotes""\nand\tcontrol"\n'
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows == [["why, if any"], [results[0].reason], [""], [""], [results[3].reason]]


def test_csv_quotes_only_the_fields_that_need_it():
    result = sample_results(["lone\rcarriage@example.com"])[0]
    columns = ResultColumns({"email": "email", "status": "status", "is_role": "role"})
    data = b"".join(csv_chunks(iter([result]), columns)).decode("utf-8")
    assert data == f'email,status,role\n"lone\rcarriage@example.com",deliverable,{_csv_text(result.is_role)}\n'


def test_jsonl_round_trips_every_field_exactly():
    results = sample_results()
    data = b"".join(jsonl_chunks(iter(results), ResultColumns(), chunk_rows=4))
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == ""
    parsed = [json.loads(line) for line in lines[:-1]]
    assert parsed == [r.as_dict() for r in results]
    assert list(parsed[0]) == list(NEUTRAL_COLUMNS)
    # Not ASCII-escaped: a human reading the file sees the address as submitted.
    assert "ünïcødé@exämple.com" in data.decode("utf-8")


def test_jsonl_of_extra_columns_uses_their_json_type():
    result = sample_results(["a@example.com"])[0]
    result.extra = {"crm_id": 42, "name": 'Zoë "Z"'}
    columns = ResultColumns({"email": "email", "crm_id": "crm_id", "name": "name"})
    (line,) = b"".join(jsonl_chunks(iter([result]), columns)).decode().splitlines()
    # Pass-through values are written as text (what a vendor gives back is text).
    assert json.loads(line) == {"email": "a@example.com", "crm_id": "42", "name": 'Zoë "Z"'}


def test_jsonl_keys_keep_braces_and_quotes_of_column_names():
    results = sample_results(["a@example.com", "b@example.com"])
    columns = ResultColumns({"email": "{email}", "suggestion": 'did "you" mean', "is_free": "free}{"})
    lines = b"".join(jsonl_chunks(iter(results), columns)).decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"{email}": r.email, 'did "you" mean': r.suggestion, "free}{": r.is_free} for r in results
    ]


def test_gzip_output_is_one_readable_member():
    results = sample_results() * 500
    plain = b"".join(csv_chunks(iter(results), ResultColumns()))
    packed = b"".join(gzip_chunks(csv_chunks(iter(results), ResultColumns())))
    assert gzip.decompress(packed) == plain
    assert len(packed) < len(plain) / 5


def test_column_map_selects_renames_and_orders():
    columns = ResultColumns({"status": "Verification Status", "email": "e-mail", "is_role": "role?"})
    assert columns.targets == ("Verification Status", "e-mail", "role?")
    result = sample_results(["x@example.com"])[0]
    assert columns.row_getter()(result) == (result.status, result.email, result.is_role)
    assert columns.target_of("email") == "e-mail"
    assert columns.target_of("e-mail") == "e-mail"
    with pytest.raises(ValueError, match="not among the written columns"):
        columns.target_of("job_id")


def test_single_column_getter_still_gives_tuples():
    result = sample_results(["x@example.com"])[0]
    assert ResultColumns(["email"]).row_getter()(result) == ("x@example.com",)


def test_column_map_rejects_two_fields_in_one_column():
    with pytest.raises(ValueError, match="more than one field"):
        ResultColumns({"email": "value", "status": "value"})
    with pytest.raises(ValueError, match="no column"):
        ResultColumns({})
    with pytest.raises(TypeError):
        ResultColumns("email")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("deliverable", {"deliverable"}),
        ("Deliverable, risky", {"deliverable", "risky"}),
        (["unknown", "undeliverable"], {"unknown", "undeliverable"}),
        # rendered from a list, as job_ids are: JSON, then a Python literal
        ('["deliverable"]', {"deliverable"}),
        ("['deliverable', 'Risky']", {"deliverable", "risky"}),
        (" ('unknown',) ", {"unknown"}),
        ('"risky"', {"risky"}),
    ],
)
def test_validate_statuses(given, expected):
    assert validate_statuses(given) == (None if expected is None else frozenset(expected))


def test_validate_statuses_names_what_is_wrong():
    with pytest.raises(ValueError, match="valid"):
        validate_statuses(["deliverable", "valid"])
    with pytest.raises(ValueError, match="empty"):
        validate_statuses([])
    with pytest.raises(ValueError, match="empty"):
        validate_statuses("[]")
    with pytest.raises(ValueError, match="valid"):
        validate_statuses('["deliverable", "valid"]')
    with pytest.raises(ValueError, match="neither a JSON nor a Python list"):
        validate_statuses("['deliverable'")
    with pytest.raises(ValueError, match="not a list of statuses"):
        validate_statuses("{'status': 'risky'}")


def test_select_results_filters_and_counts_lazily():
    counts: Counter[str] = Counter()
    consumed = []
    rounds = 3 * CHUNK_ROWS // len(TRICKY_EMAILS) + 1

    def source():
        for _ in range(rounds):
            for r in sample_results():
                consumed.append(r.email)
                yield r

    selected = select_results(source(), frozenset({"risky", "unknown"}), counts)
    first = next(selected)
    assert first.status == "risky"
    assert len(consumed) <= CHUNK_ROWS  # reads ahead one chunk at most
    rest = list(selected)
    assert len(consumed) == rounds * len(TRICKY_EMAILS)
    assert {r.status for r in [first, *rest]} == {"risky", "unknown"}
    assert len(rest) + 1 == 7 * rounds
    assert status_counts(counts) == {"deliverable": 0, "risky": 4 * rounds, "undeliverable": 0, "unknown": 3 * rounds}
    assert counts["skipped"] == (len(TRICKY_EMAILS) - 7) * rounds


def test_batched_never_holds_more_than_a_batch():
    assert [len(b) for b in batched(iter(range(10)), 4)] == [4, 4, 2]
    assert list(batched(iter([]), 4)) == []


def test_copy_text_format_escapes_what_copy_reads_specially():
    rows = [("a\tb", "c\\d", "e\nf\rg", None, True, False, "")]
    assert b"".join(copy_text_chunks(rows)) == b"a\\tb\tc\\\\d\te\\nf\\rg\t\\N\tt\tf\t\n"


def test_copy_text_encodes_each_column_by_what_it_holds_in_every_chunk():
    rows = [
        ("plain@example.com", True, None, 0, "x"),
        ("tab\there@example.com", None, "note", 1, None),
        ("ñandú@example.com", False, "back\\slash", 2.5, "y"),
        ("last@example.com", False, None, 1, "z"),
    ]
    expected = (
        "plain@example.com\tt\t\\N\t0\tx\n"
        "tab\\there@example.com\t\\N\tnote\t1\t\\N\n"
        "ñandú@example.com\tf\tback\\\\slash\t2.5\ty\n"
        "last@example.com\tf\t\\N\t1\tz\n"
    ).encode()
    for chunk_rows in (1, 2, 3, 4):  # a column clean in one chunk may need escapes in the next
        for flags in ((), {1}):  # flag columns named or not: the same text
            assert b"".join(copy_text_chunks(rows, flags=flags, chunk_rows=chunk_rows)) == expected
    # a column named as flags that holds something else still comes out right
    assert b"".join(copy_text_chunks([("a", "yes"), ("b", None)], flags={1})) == b"a\tyes\nb\t\\N\n"


def test_copy_text_names_the_row_holding_a_nul_character():
    rows = [("a@example.com", "ok"), ("b@example.com", "bad\x00")]
    with pytest.raises(ValueError, match=r"'b@example\.com' has a NUL character in column 'note'"):
        list(copy_text_chunks(rows, columns=("email", "note")))


def test_gc_is_tuned_during_a_load_and_restored_after():
    # Airflow may have frozen the heap already; frozen objects still die, so only "frozen or not" is compared.
    before = (gc.get_threshold(), gc.get_freeze_count() > 0)
    with gc_for_bulk_load():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= LOAD_GC_THRESHOLD
        with gc_for_bulk_load():  # a second load at once shares the tuning
            pass
        assert gc.get_threshold()[0] >= LOAD_GC_THRESHOLD and gc.get_freeze_count() > 0
    assert (gc.get_threshold(), gc.get_freeze_count() > 0) == before
    with pytest.raises(RuntimeError), gc_for_bulk_load():  # restored when the load fails too
        raise RuntimeError("load failed")
    assert (gc.get_threshold(), gc.get_freeze_count() > 0) == before


def test_gc_left_as_the_process_set_it():
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    try:
        gc.set_threshold(0)  # automatic collection off: stays off
        with gc_for_bulk_load():
            assert gc.get_threshold()[0] == 0
        gc.set_threshold(*before)
        gc.freeze()  # a heap frozen by someone else stays frozen
        with gc_for_bulk_load():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        if not frozen_before:
            gc.unfreeze()
        gc.set_threshold(*before)


def test_chunk_reader_skips_empty_chunks_until_the_end():
    reader = ChunkReader(iter([b"ab", b"", b"cd"]))
    assert [reader.read(8192), reader.read(8192), reader.read(8192)] == [b"ab", b"cd", b""]


def test_extra_fields_default_to_null():
    result = VerificationResult(email="a@example.com", status="unknown", vendor_status="unknown")
    assert ResultColumns(["email", "first_name"]).row_getter()(result) == ("a@example.com", None)
