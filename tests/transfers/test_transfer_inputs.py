# Licensed under the Apache License, Version 2.0.
"""
What the transfers accept as input, end to end (emulator over real HTTP, moto's S3 server, real
databases): an empty list of jobs, as the verification operator reports for an input without
addresses; the S3 transfer's ``column_map``, which brings the submitted records' pass-through
fields into the file; ``statuses`` rendered from a list.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_emailverify._utils import parse_job_ids
from airflow_provider_emailverify.results import NEUTRAL_COLUMNS, STATUSES
from airflow_provider_emailverify.transfers.results_to_s3 import EmailVerificationResultsToS3Operator
from tests.transfers.conftest import results_of, submit_and_wait
from tests.transfers.test_results_to_s3 import fetch, to_s3
from tests.transfers.test_results_to_sql import KNOWN, KNOWN_COUNTS, to_sql
from tests.transfers.test_s3_writer import object_exists

if TYPE_CHECKING:
    from tests.transfers.conftest import Database

NO_ROWS = dict.fromkeys(STATUSES, 0)


def logged(capfd: pytest.CaptureFixture[str], level: str, text: str) -> bool:
    """Whether the task log (written to the console) has a ``level`` line holding ``text``."""
    out, err = capfd.readouterr()
    return any(f"[{level}" in line and text in line for line in (out + err).splitlines())

# -- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [[], (), "[]", " [ ] ", "()", {"job_ids": []}, "{'job_ids': []}"])
def test_an_explicit_empty_list_means_no_jobs_where_allowed(given: Any):
    assert parse_job_ids(given, allow_empty=True) == []
    with pytest.raises(ValueError, match="job_ids is empty"):
        parse_job_ids(given)  # the sensor's default: nothing to wait on is an error


@pytest.mark.parametrize(
    "given",
    [
        [["1"], ["2", "3"]],
        "[['1'], ['2', '3']]",
        [{"job_ids": ["1"]}, {"job_ids": ["2", "3"]}, {"job_ids": []}],
        str([{"vendor": "bouncer", "job_ids": ["1", "2"]}, {"job_ids": ["3"]}]),
    ],
)
def test_the_job_ids_of_a_mapped_task_are_flattened(given: Any):
    assert parse_job_ids(given) == ["1", "2", "3"]


def test_a_dict_without_job_ids_inside_a_list_is_named():
    with pytest.raises(ValueError, match="job_ids holds a dict without a 'job_ids' key"):
        parse_job_ids([{"id": "1"}])


@pytest.mark.parametrize(
    ("given", "what"),
    [
        (None, "None"),
        ("None", "None"),  # a missing XCom, rendered as text
        ("", "blank"),
        ("  ", "blank"),
        ([""], "empty"),
        (",", "empty"),
        ("['']", "empty"),
    ],
)
def test_none_blank_or_blank_ids_are_refused_even_where_empty_is_allowed(given: Any, what: str):
    with pytest.raises(ValueError, match=rf"job_ids is {what}: .* or \[\] when there are none"):
        parse_job_ids(given, allow_empty=True)
    with pytest.raises(ValueError, match=f"job_ids is {what}"):
        parse_job_ids(given)


def test_job_ids_still_parse_as_before():
    assert parse_job_ids("[1, 2]", allow_empty=True) == ["1", "2"]
    assert parse_job_ids(" 7, 8 ,", allow_empty=True) == ["7", "8"]
    assert parse_job_ids({"job_ids": ["a"]}) == ["a"]
    assert parse_job_ids(42) == ["42"]
    with pytest.raises(ValueError, match="neither a JSON nor a Python list"):
        parse_job_ids("[1", allow_empty=True)


# -- S3: no jobs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("job_ids", [[], "[]"])
def test_s3_without_jobs_writes_a_header_only_csv(
    vendor: str,
    aws_conn_id: str,
    s3_bucket: str,
    s3_client: Any,
    job_ids: Any,
    capfd: pytest.CaptureFixture[str],
):
    summary = to_s3(vendor, aws_conn_id, s3_bucket, "empty/results.csv", job_ids)

    data = fetch(s3_client, s3_bucket, "empty/results.csv")
    assert data == (",".join(NEUTRAL_COLUMNS) + "\n").encode()
    uri = f"s3://{s3_bucket}/empty/results.csv"
    assert summary == {"uri": uri, "rows": 0, "bytes": len(data), "counts": NO_ROWS}
    assert logged(capfd, "info", "No verification jobs (job_ids is an empty list)")


def test_s3_without_jobs_writes_a_valid_empty_gzip_jsonl(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any
):
    # What the verification operator's summary gives when its input held no address.
    summary = to_s3(
        vendor,
        aws_conn_id,
        s3_bucket,
        "empty.jsonl.gz",
        {"vendor": "neverbounce", "job_ids": [], "state": "completed", "total": 0},
        file_format="jsonl",
        compression="gzip",
        statuses="deliverable",
    )
    packed = fetch(s3_client, s3_bucket, "empty.jsonl.gz")
    assert gzip.decompress(packed) == b""
    assert (summary["rows"], summary["bytes"], summary["counts"]) == (0, len(packed), NO_ROWS)


@pytest.mark.parametrize("job_ids", [None, "", "None"])
def test_s3_without_job_ids_still_fails_and_writes_nothing(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any, job_ids: Any
):
    with pytest.raises(ValueError, match="job_ids is (None|blank)"):
        to_s3(vendor, aws_conn_id, s3_bucket, "never.csv", job_ids)
    assert not object_exists(s3_client, s3_bucket, "never.csv")


# -- SQL: no jobs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("job_ids", [[], "[]"])
def test_sql_append_without_jobs_creates_the_table_with_no_row(
    vendor: str, any_db: Database, job_ids: Any, capfd: pytest.CaptureFixture[str]
):
    table = any_db.table()
    assert not any_db.exists(table)
    summary = to_sql(vendor, any_db, table, job_ids)

    assert any_db.exists(table)
    assert any_db.columns(table) == list(NEUTRAL_COLUMNS)
    assert any_db.rows(table, ["email"]) == []
    assert summary["rows"] == 0 and summary["counts"] == NO_ROWS and summary["mode"] == "append"
    assert logged(capfd, "info", "No verification jobs (job_ids is an empty list)")


def _prefilled(db: Database) -> str:
    table = db.table()
    q = db.quote
    db.execute(f"CREATE TABLE {q(table)} (email VARCHAR(320) PRIMARY KEY, status VARCHAR(20))")
    db.execute(f"INSERT INTO {q(table)} (email, status) VALUES ('kept@example.com', 'risky')")
    return table


def test_sql_append_and_upsert_without_jobs_leave_the_table_as_it_was(vendor: str, any_db: Database):
    table = _prefilled(any_db)
    for mode in ("append", "upsert"):
        summary = to_sql(vendor, any_db, table, "[]", mode=mode, column_map=["email", "status"])
        assert summary["rows"] == 0 and summary["counts"] == NO_ROWS
        assert any_db.rows(table, ["email", "status"]) == [("kept@example.com", "risky")], mode


def test_sql_replace_without_jobs_empties_the_table_and_warns(
    vendor: str, any_db: Database, capfd: pytest.CaptureFixture[str]
):
    table = _prefilled(any_db)
    summary = to_sql(vendor, any_db, table, [], mode="replace", column_map=["email", "status"])
    assert any_db.rows(table, ["email", "status"]) == []
    assert summary["rows"] == 0 and summary["counts"] == NO_ROWS and summary["mode"] == "replace"
    assert logged(capfd, "warning", "job_ids is empty and mode is replace")


@pytest.mark.parametrize("job_ids", [None, " ", "None"])
def test_sql_without_job_ids_still_fails_and_creates_nothing(vendor: str, sqlite_db: Database, job_ids: Any):
    table = sqlite_db.table()
    with pytest.raises(ValueError, match="job_ids is (None|blank)"):
        to_sql(vendor, sqlite_db, table, job_ids)
    assert not sqlite_db.exists(table)


# -- S3: column_map -------------------------------------------------------------------------------

#: Records with a pass-through field each vendor returns: NeverBounce returns every input column,
#: Bouncer only ``name``. The values hold what breaks naive CSV and JSON.
PASS_THROUGH = [("neverbounce", "crm_id"), ("bouncer", "name")]


def records(field: str) -> list[dict[str, str]]:
    return [
        {"email": "alice@example.com", field: "A-1"},
        {"email": "erin@mailinator.com", field: 'Erin "E", Sales\nTeam'},
        {"email": "invalid.person@example.com", field: "ünï 用户"},
    ]


@pytest.mark.parametrize(("vendor", "field"), PASS_THROUGH, indirect=["vendor"])
def test_s3_column_map_writes_a_pass_through_field_to_csv(
    vendor: str, field: str, aws_conn_id: str, s3_bucket: str, s3_client: Any
):
    submitted = records(field)
    job_id = submit_and_wait(vendor, submitted)
    column_map = {"email": "Email Address", field: "CRM, id", "status": "status", "is_disposable": "disposable"}

    summary = to_s3(vendor, aws_conn_id, s3_bucket, "mapped.csv", [job_id], column_map=column_map)

    data = fetch(s3_client, s3_bucket, "mapped.csv").decode("utf-8")
    assert data.split("\n", 1)[0] == 'Email Address,"CRM, id",status,disposable'
    rows = list(csv.reader(io.StringIO(data, newline="")))[1:]
    assert rows == [
        ["alice@example.com", "A-1", "deliverable", "false"],
        ["erin@mailinator.com", 'Erin "E", Sales\nTeam', "risky", "true"],
        ["invalid.person@example.com", "ünï 用户", "undeliverable", "false"],
    ]
    assert summary["rows"] == 3


@pytest.mark.parametrize(("vendor", "field"), PASS_THROUGH, indirect=["vendor"])
def test_s3_column_map_writes_a_pass_through_field_to_gzip_jsonl(
    vendor: str, field: str, aws_conn_id: str, s3_bucket: str, s3_client: Any
):
    submitted = records(field)
    job_id = submit_and_wait(vendor, submitted)
    expected = results_of(vendor, job_id)

    to_s3(
        vendor,
        aws_conn_id,
        s3_bucket,
        "mapped.jsonl.gz",
        str([job_id]),
        column_map=[field, "email", "suggestion", "not_submitted"],  # a list: the sources' own names
        file_format="jsonl",
        compression="gzip",
    )

    lines = gzip.decompress(fetch(s3_client, s3_bucket, "mapped.jsonl.gz")).decode("utf-8").splitlines()
    assert [list(json.loads(line)) for line in lines] == [[field, "email", "suggestion", "not_submitted"]] * 3
    assert [json.loads(line) for line in lines] == [
        {field: record[field], "email": record["email"], "suggestion": None, "not_submitted": None}
        for record in submitted
    ]
    assert [r.email for r in expected] == [r["email"] for r in submitted]


def test_s3_without_column_map_writes_the_neutral_columns_only(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any
):
    job_id = submit_and_wait(vendor, records("crm_id"))
    to_s3(vendor, aws_conn_id, s3_bucket, "plain.jsonl", job_id, file_format="jsonl")
    lines = fetch(s3_client, s3_bucket, "plain.jsonl").decode("utf-8").splitlines()
    assert [list(json.loads(line)) for line in lines] == [list(NEUTRAL_COLUMNS)] * 3


def test_s3_bad_column_map_fails_at_parse_time():
    common = {"task_id": "t", "conn_id": "c", "job_ids": "1", "s3_bucket": "b", "s3_key": "k"}
    with pytest.raises(ValueError, match="more than one field"):
        EmailVerificationResultsToS3Operator(column_map={"email": "x", "status": "x"}, **common)
    with pytest.raises(ValueError, match="no column"):
        EmailVerificationResultsToS3Operator(column_map={}, **common)
    with pytest.raises(TypeError, match="column_map"):
        EmailVerificationResultsToS3Operator(column_map="email", **common)


# -- statuses rendered from a list ----------------------------------------------------------------

#: ``statuses`` as templates render a list: JSON (``tojson``), and ``str()`` of a Python list.
RENDERED_STATUSES = ['["deliverable", "risky"]', "['deliverable', 'risky']"]
KEPT = {s: (n if s in ("deliverable", "risky") else 0) for s, n in KNOWN_COUNTS.items()}


@pytest.mark.parametrize("statuses", RENDERED_STATUSES)
def test_s3_statuses_rendered_from_a_list(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any, statuses: str
):
    job_id = submit_and_wait(vendor, KNOWN)
    summary = to_s3(vendor, aws_conn_id, s3_bucket, "kept.csv", job_id, statuses=statuses)
    rows = list(csv.DictReader(io.StringIO(fetch(s3_client, s3_bucket, "kept.csv").decode(), newline="")))
    assert sorted(r["status"] for r in rows) == ["deliverable", "deliverable", "risky", "risky"]
    assert summary["counts"] == KEPT and summary["rows"] == 4


@pytest.mark.parametrize("statuses", RENDERED_STATUSES)
def test_sql_statuses_rendered_from_a_list(vendor: str, any_db: Database, statuses: str):
    job_id = submit_and_wait(vendor, KNOWN)
    table = any_db.table()
    summary = to_sql(vendor, any_db, table, job_id, statuses=statuses)
    assert sorted(r[0] for r in any_db.rows(table, ["status"])) == ["deliverable", "deliverable", "risky", "risky"]
    assert summary["counts"] == KEPT and summary["rows"] == 4
