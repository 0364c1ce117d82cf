# Licensed under the Apache License, Version 2.0.
"""The S3 object writer on its own, against moto's S3 server over real HTTP."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_emailverify.transfers.results_to_s3 import MIN_PART_SIZE, S3ObjectWriter

if TYPE_CHECKING:
    from collections.abc import Iterator


class Boom(RuntimeError):
    pass


def chunks(total: int, size: int = 256 * 1024, *, fail_at: int | None = None) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        if fail_at is not None and sent >= fail_at:
            raise Boom("source broke")
        piece = os.urandom(min(size, total - sent))
        sent += len(piece)
        yield piece


def object_exists(client: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return False
        raise


def pending_uploads(client: Any, bucket: str) -> list[dict]:
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_small_output_is_one_put(s3_client: Any, s3_bucket: str):
    writer = S3ObjectWriter(s3_client, s3_bucket, "small.csv", extra_args={"ContentType": "text/csv"})
    writer.write_all([b"email\n", b"a@example.com\n"])
    got = s3_client.get_object(Bucket=s3_bucket, Key="small.csv")
    assert got["Body"].read() == b"email\na@example.com\n"
    assert got["ContentType"] == "text/csv"
    assert writer.upload_id is None and writer.parts == []


def test_empty_output_is_an_empty_object(s3_client: Any, s3_bucket: str):
    S3ObjectWriter(s3_client, s3_bucket, "empty.jsonl").write_all([])
    assert s3_client.get_object(Bucket=s3_bucket, Key="empty.jsonl")["Body"].read() == b""


def test_large_output_goes_up_in_parts(s3_client: Any, s3_bucket: str):
    data = list(chunks(2 * MIN_PART_SIZE + 123_457))
    writer = S3ObjectWriter(s3_client, s3_bucket, "big.bin", part_size=MIN_PART_SIZE)
    writer.write_all(iter(data))
    assert len(writer.parts) == 3
    assert s3_client.get_object(Bucket=s3_bucket, Key="big.bin")["Body"].read() == b"".join(data)
    assert writer.bytes_written == sum(map(len, data))
    assert pending_uploads(s3_client, s3_bucket) == []


class SlowParts:
    """The boto3 client, with ``upload_part`` slowed down and the parts in flight counted."""

    def __init__(self, client: Any, delay: float = 0.2) -> None:
        self.client = client
        self.delay = delay
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def upload_part(self, **kwargs: Any) -> Any:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            return self.client.upload_part(**kwargs)
        finally:
            with self.lock:
                self.active -= 1


def test_parts_go_up_side_by_side_and_are_joined_in_order(s3_client: Any, s3_bucket: str):
    data = list(chunks(6 * MIN_PART_SIZE + 99, size=MIN_PART_SIZE // 2))
    client = SlowParts(s3_client)
    writer = S3ObjectWriter(client, s3_bucket, "parallel.bin", part_size=MIN_PART_SIZE, max_concurrency=3)
    writer.write_all(iter(data))
    assert client.peak == 3  # never more parts (so never more memory) than max_concurrency
    assert [part["PartNumber"] for part in writer.parts] == [1, 2, 3, 4, 5, 6, 7]
    assert s3_client.get_object(Bucket=s3_bucket, Key="parallel.bin")["Body"].read() == b"".join(data)


def test_failure_with_parts_in_flight_aborts_the_upload(s3_client: Any, s3_bucket: str):
    writer = S3ObjectWriter(
        SlowParts(s3_client), s3_bucket, "broken-parallel.bin", part_size=MIN_PART_SIZE, max_concurrency=4
    )
    with pytest.raises(Boom):
        writer.write_all(chunks(6 * MIN_PART_SIZE, fail_at=3 * MIN_PART_SIZE + 1))
    assert len(writer.parts) == 3  # the parts in flight landed, then the upload was thrown away
    assert not object_exists(s3_client, s3_bucket, "broken-parallel.bin")
    assert pending_uploads(s3_client, s3_bucket) == []


def test_failure_after_some_parts_aborts_the_upload(s3_client: Any, s3_bucket: str):
    writer = S3ObjectWriter(s3_client, s3_bucket, "broken.bin", part_size=MIN_PART_SIZE)
    with pytest.raises(Boom):
        writer.write_all(chunks(4 * MIN_PART_SIZE, fail_at=2 * MIN_PART_SIZE + 1))
    assert len(writer.parts) == 2  # two parts were uploaded before the source broke
    assert not object_exists(s3_client, s3_bucket, "broken.bin")
    assert pending_uploads(s3_client, s3_bucket) == []


def test_failure_keeps_the_previous_object(s3_client: Any, s3_bucket: str):
    s3_client.put_object(Bucket=s3_bucket, Key="results.csv", Body=b"previous run")
    writer = S3ObjectWriter(s3_client, s3_bucket, "results.csv", part_size=MIN_PART_SIZE)
    with pytest.raises(Boom):
        writer.write_all(chunks(3 * MIN_PART_SIZE, fail_at=MIN_PART_SIZE + 10))
    assert s3_client.get_object(Bucket=s3_bucket, Key="results.csv")["Body"].read() == b"previous run"
    assert pending_uploads(s3_client, s3_bucket) == []


def test_failure_before_the_first_part_writes_nothing(s3_client: Any, s3_bucket: str):
    with pytest.raises(Boom):
        S3ObjectWriter(s3_client, s3_bucket, "none.csv").write_all(chunks(1000, size=100, fail_at=500))
    assert not object_exists(s3_client, s3_bucket, "none.csv")


def test_memory_stays_within_a_part(s3_client: Any, s3_bucket: str):
    writer = S3ObjectWriter(s3_client, s3_bucket, "bounded.bin", part_size=MIN_PART_SIZE)
    largest = 0
    for piece in chunks(3 * MIN_PART_SIZE):
        writer.write(piece)
        largest = max(largest, len(writer._buffer))
    writer.complete()
    assert largest < MIN_PART_SIZE


def test_part_size_below_s3_minimum_is_refused(s3_client: Any):
    with pytest.raises(ValueError, match="at least"):
        S3ObjectWriter(s3_client, "b", "k", part_size=1024)


def test_max_concurrency_below_one_is_refused(s3_client: Any):
    with pytest.raises(ValueError, match="max_concurrency must be at least 1"):
        S3ObjectWriter(s3_client, "b", "k", max_concurrency=0)
