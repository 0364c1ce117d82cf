# Licensed under the Apache License, Version 2.0.
"""
EmailVerificationResultsToS3Operator end to end: jobs verified by the emulator over real HTTP
(through the vendor hooks), written to moto's S3 server through an Airflow AWS connection.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_emailverify.results import NEUTRAL_COLUMNS, STATUSES
from airflow_provider_emailverify.transfers.results_to_s3 import (
    MIN_PART_SIZE,
    EmailVerificationResultsToS3Operator,
)
from tests.transfers.conftest import results_of, submit_and_wait
from tests.transfers.test_results_to_sql import KNOWN, KNOWN_COUNTS, VENDORS, tricky_emails
from tests.transfers.test_s3_writer import object_exists, pending_uploads

if TYPE_CHECKING:
    from airflow_provider_emailverify.emulator.pytest_plugin import EmulatorHandle
    from airflow_provider_emailverify.results import VerificationResult


def to_s3(
    vendor: str, aws_conn_id: str, bucket: str, key: str, job_ids: Any, **kwargs: Any
) -> dict[str, Any]:
    op = EmailVerificationResultsToS3Operator(
        task_id="to_s3",
        conn_id=vendor,
        job_ids=job_ids,
        s3_bucket=bucket,
        s3_key=key,
        aws_conn_id=aws_conn_id,
        **kwargs,
    )
    return op.execute({})


def fetch(s3_client: Any, bucket: str, key: str) -> bytes:
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


def csv_records(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def csv_expected(result: VerificationResult) -> dict[str, str]:
    text = {True: "true", False: "false", None: ""}
    return {k: v if isinstance(v, str) else text[v] for k, v in result.as_dict().items()}


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_csv_round_trips_tricky_addresses_exactly(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any
):
    emails = tricky_emails(vendor)
    job_id = submit_and_wait(vendor, emails)
    expected = results_of(vendor, job_id)

    summary = to_s3(vendor, aws_conn_id, s3_bucket, "out/results.csv", [job_id])

    data = fetch(s3_client, s3_bucket, "out/results.csv")
    assert data.split(b"\n", 1)[0].decode() == ",".join(NEUTRAL_COLUMNS)
    records = csv_records(data)
    assert [r["email"] for r in records] == [r.email for r in expected]
    assert sorted(r["email"] for r in records) == sorted(emails)
    assert records == [csv_expected(r) for r in expected]
    assert summary["uri"] == f"s3://{s3_bucket}/out/results.csv"
    assert summary["rows"] == len(emails)
    assert summary["counts"] == {s: sum(r.status == s for r in expected) for s in STATUSES}
    head = s3_client.head_object(Bucket=s3_bucket, Key="out/results.csv")
    assert head["ContentType"].startswith("text/csv")


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_gzip_jsonl_round_trips_tricky_addresses_exactly(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any
):
    emails = tricky_emails(vendor)
    job_id = submit_and_wait(vendor, emails)
    expected = results_of(vendor, job_id)

    summary = to_s3(
        vendor,
        aws_conn_id,
        s3_bucket,
        "out/results.jsonl.gz",
        job_id,
        file_format="jsonl",
        compression="gzip",
    )

    packed = fetch(s3_client, s3_bucket, "out/results.jsonl.gz")
    lines = gzip.decompress(packed).decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [r.as_dict() for r in expected]
    assert sorted(json.loads(line)["email"] for line in lines) == sorted(emails)
    assert summary["bytes"] == len(packed)
    assert (
        s3_client.head_object(Bucket=s3_bucket, Key="out/results.jsonl.gz")["ContentType"]
        == "application/gzip"
    )


def test_gzip_csv_of_several_jobs_from_a_rendered_xcom(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any
):
    first = submit_and_wait(vendor, KNOWN)
    second = submit_and_wait(vendor, ["zoe@example.com"])
    summary = to_s3(vendor, aws_conn_id, s3_bucket, "r.csv.gz", str([first, second]), compression="gzip")
    records = csv_records(gzip.decompress(fetch(s3_client, s3_bucket, "r.csv.gz")))
    assert [r["job_id"] for r in records] == [first] * len(KNOWN) + [second]
    assert summary["counts"] == {**KNOWN_COUNTS, "deliverable": 3}


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_status_filter(vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any, file_format: str):
    job_id = submit_and_wait(vendor, KNOWN)
    summary = to_s3(
        vendor,
        aws_conn_id,
        s3_bucket,
        "bad",
        job_id,
        file_format=file_format,
        statuses=["undeliverable", "unknown"],
    )
    data = fetch(s3_client, s3_bucket, "bad")
    if file_format == "csv":
        statuses = [r["status"] for r in csv_records(data)]
    else:
        statuses = [json.loads(line)["status"] for line in data.decode().splitlines()]
    assert sorted(statuses) == ["undeliverable", "undeliverable", "unknown"]
    assert summary["rows"] == 3
    assert summary["counts"] == {"deliverable": 0, "risky": 0, "undeliverable": 2, "unknown": 1}


def test_big_output_goes_up_in_parts(vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any):
    emails = [f"person{i:06d}.somewhat.long.address@example.com" for i in range(60_000)]
    job_id = submit_and_wait(vendor, emails)
    summary = to_s3(vendor, aws_conn_id, s3_bucket, "big.csv", job_id, part_size=MIN_PART_SIZE)
    assert summary["bytes"] > MIN_PART_SIZE  # so it was a multipart upload
    records = csv_records(fetch(s3_client, s3_bucket, "big.csv"))
    assert [r["email"] for r in records] == emails
    assert pending_uploads(s3_client, s3_bucket) == []


def test_failure_after_parts_were_uploaded_leaves_no_object(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any
):
    """The first job fills more than a part; the second does not exist: the upload is aborted."""
    emails = [f"person{i:06d}.somewhat.long.address@example.com" for i in range(60_000)]
    job_id = submit_and_wait(vendor, emails)
    s3_client.put_object(Bucket=s3_bucket, Key="big.csv", Body=b"yesterday's results")
    with pytest.raises(Exception):  # noqa: B017 - the vendor's "no such job" error
        to_s3(vendor, aws_conn_id, s3_bucket, "big.csv", [job_id, "999999999"], part_size=MIN_PART_SIZE)
    assert fetch(s3_client, s3_bucket, "big.csv") == b"yesterday's results"
    assert pending_uploads(s3_client, s3_bucket) == []


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_download_failing_beyond_retries_leaves_no_object(
    vendor: str, aws_conn_id: str, s3_bucket: str, s3_client: Any, emulator: EmulatorHandle, compression: Any
):
    job_id = submit_and_wait(vendor, [f"p{i:05d}.padding.padding.padding@example.com" for i in range(4000)])
    emulator.set_faults(disconnect_rate=1.0, seed=5)
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises once retries are spent
        to_s3(vendor, aws_conn_id, s3_bucket, "never.csv", job_id, compression=compression)
    assert emulator.stats()["faults"]["disconnect"] >= 2
    assert not object_exists(s3_client, s3_bucket, "never.csv")
    assert pending_uploads(s3_client, s3_bucket) == []


def test_outlet_is_the_object_or_an_alias_when_templated():
    from airflow.providers.common.compat.sdk import Asset, AssetAlias

    common = {"task_id": "to_s3", "conn_id": "c", "job_ids": "1", "s3_bucket": "bucket"}
    static = EmailVerificationResultsToS3Operator(s3_key="lists/out.csv", **common)
    assert static.outlets == [Asset(uri="s3://bucket/lists/out.csv")]
    templated = EmailVerificationResultsToS3Operator(s3_key="lists/{{ ds }}.csv", **common)
    assert len(templated.outlets) == 1 and isinstance(templated.outlets[0], AssetAlias)


def test_bad_arguments_fail_at_parse_time():
    common = {"task_id": "t", "conn_id": "c", "job_ids": "1", "s3_bucket": "b", "s3_key": "k"}
    with pytest.raises(ValueError, match="file_format"):
        EmailVerificationResultsToS3Operator(file_format="parquet", **common)
    with pytest.raises(ValueError, match="compression"):
        EmailVerificationResultsToS3Operator(compression="zip", **common)
    with pytest.raises(ValueError, match="part_size"):
        EmailVerificationResultsToS3Operator(part_size=1024, **common)
