# Licensed under the Apache License, Version 2.0.
"""Stream the results of verification jobs into one S3 object (CSV or JSON Lines, optionally gzip)."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_emailverify.transfers._common import (
    ResultColumns,
    csv_chunks,
    gzip_chunks,
    gc_for_bulk_load,
    iter_job_results,
    jsonl_chunks,
    select_results,
    status_counts,
    validate_statuses,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow.providers.common.compat.sdk import Context

FILE_FORMATS = ("csv", "jsonl")
COMPRESSIONS = (None, "gzip")
#: S3 refuses parts under 5 MiB (except the last one) and more than 10,000 parts.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: parts uploaded at the same time by default (boto3's own transfers use 10)
DEFAULT_MAX_CONCURRENCY = 4

_CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


def _is_templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _check_upload_settings(part_size: int, max_concurrency: int) -> None:
    if part_size < MIN_PART_SIZE:
        raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum), got {part_size}")
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")


class S3ObjectWriter:
    """
    Writes one S3 object from a stream of byte chunks in bounded memory.

    Output that fits in one part is sent with a single ``PutObject``; anything larger goes
    through a multipart upload that only becomes visible on ``complete()``. ``abort()`` throws
    away an unfinished upload, so a reader never sees a partial object. Parts are uploaded on
    background threads while the next one fills, so the upload overlaps the download; at most
    ``max_concurrency`` parts are in flight, so memory stays at about ``max_concurrency + 1``
    parts whatever the object's size.

    :param client: a boto3 S3 client (boto3 clients may be shared between threads).
    :param bucket: the bucket.
    :param key: the object key.
    :param part_size: bytes per uploaded part (at least 5 MiB).
    :param max_concurrency: parts uploaded at the same time (at least 1).
    :param extra_args: ``CreateMultipartUpload``/``PutObject`` arguments (content type, encryption, ...).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        extra_args: dict[str, Any] | None = None,
    ) -> None:
        _check_upload_settings(part_size, max_concurrency)
        self.client = client
        self.bucket = bucket
        self.key = key
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.extra_args = dict(extra_args or {})
        self.upload_id: str | None = None
        #: parts S3 has confirmed, in order (what ``CompleteMultipartUpload`` lists).
        self.parts: list[dict[str, Any]] = []
        self.bytes_written = 0
        self._buffer = bytearray()
        #: parts sent and not yet confirmed, oldest first
        self._in_flight: deque[Future[dict[str, Any]]] = deque()
        self._uploader: ThreadPoolExecutor | None = None

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= self.part_size:
            self._upload_part(bytes(self._buffer))
            self._buffer.clear()

    def _upload_part(self, body: bytes) -> None:
        if self.upload_id is None:
            answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self.extra_args)
            self.upload_id = answer["UploadId"]
            self._uploader = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="s3-part")
        number = len(self.parts) + len(self._in_flight) + 1
        if number > MAX_PARTS:
            raise ValueError(
                f"s3://{self.bucket}/{self.key} needs more than {MAX_PARTS} parts of {self.part_size} bytes; "
                "raise part_size"
            )
        while len(self._in_flight) >= self.max_concurrency:  # a failed part surfaces here
            self.parts.append(self._in_flight.popleft().result())
        assert self._uploader is not None
        self._in_flight.append(self._uploader.submit(self._send_part, self.upload_id, number, body))

    def _send_part(self, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _wait_in_flight(self) -> None:
        """Wait for every part sent, in order; the first failure raises (the rest are dropped)."""
        while self._in_flight:
            self.parts.append(self._in_flight.popleft().result())

    def _stop_uploader(self) -> None:
        if self._uploader is not None:
            self._uploader.shutdown(wait=True)
            self._uploader = None

    def complete(self) -> None:
        """Make the object visible (the one moment it appears, complete)."""
        if self.upload_id is None:
            self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), **self.extra_args
            )
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self._wait_in_flight()
            self._stop_uploader()
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        self._buffer = bytearray()

    def abort(self) -> None:
        """Discard an unfinished multipart upload (nothing to do before the first part)."""
        self._buffer = bytearray()
        # Let the parts in flight land first, so that the abort frees them too.
        while self._in_flight:
            try:
                self.parts.append(self._in_flight.popleft().result())
            except Exception:  # noqa: BLE001, S110 - the upload is being thrown away anyway
                pass
        self._stop_uploader()
        if self.upload_id is None:
            return
        upload_id, self.upload_id = self.upload_id, None
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)

    def write_all(self, chunks: Iterable[bytes]) -> None:
        """Write every chunk and complete, aborting on any failure (task kill and timeout included)."""
        try:
            for chunk in chunks:
                self.write(chunk)
            self.complete()
        except BaseException:
            try:
                self.abort()
            except Exception as err:  # keep the original error; the bucket's lifecycle rule is the fallback
                import logging

                logging.getLogger(__name__).warning(
                    "Could not abort multipart upload of s3://%s/%s: %s", self.bucket, self.key, err
                )
            raise


class EmailVerificationResultsToS3Operator(BaseOperator):
    """
    Stream the neutral result rows of one or more verification jobs into one S3 object.

    Rows go from the vendor's download to S3 without landing on disk or in memory as a whole:
    they are encoded in chunks and uploaded in parts of ``part_size`` bytes. The object appears
    only once complete: on any failure the multipart upload is aborted, so no partial object is
    ever visible. An existing object at the key is replaced on success.

    The object is declared as an outlet asset (``s3://bucket/key``); when the bucket or key is
    templated, the asset is attached at run time through an asset alias named
    ``emailverify-results-to-s3:<dag_id>.<task_id>``.

    :param conn_id: the email verification connection (its type picks the vendor).
    :param job_ids: the job id(s) whose results to write: a list, or a JSON/Python string of one,
        e.g. ``{{ ti.xcom_pull(task_ids='verify')['job_ids'] }}``. An empty list (what the
        verification operator reports when its input held no address) writes an empty file: the
        CSV header alone, or no line of JSON Lines. ``None`` or blank text is an error. (templated)
    :param s3_bucket: the bucket. (templated)
    :param s3_key: the object key. (templated)
    :param aws_conn_id: the AWS connection used through ``S3Hook``.
    :param file_format: ``csv`` (with a header row) or ``jsonl`` (JSON Lines).
    :param compression: ``None`` or ``gzip``.
    :param column_map: ``{source: output column}``; only mapped sources are written, in the
        map's order, under their output names (the CSV header, the JSON Lines keys). A source is a
        neutral column (``email``, ``status``, ...) or, for anything else, a pass-through field of
        the submitted record (e.g. ``crm_id``; empty in CSV, null in JSON Lines where the vendor
        does not return it). A list of sources writes those under their own names. ``None``
        writes every neutral column under its own name.
    :param statuses: neutral statuses to keep (``deliverable``, ``risky``, ``undeliverable``,
        ``unknown``): a list, or text read as ``job_ids`` is (a JSON or Python list, as a template
        renders one, or comma-separated statuses); ``None`` keeps every row. (templated)
    :param part_size: bytes per multipart part (at least 5 MiB).
    :param max_concurrency: parts uploaded at the same time; memory use is about
        ``(max_concurrency + 1) * part_size`` (40 MiB by default), whatever the object's size.
    :param verify: SSL certificate verification for S3 (as in ``S3Hook``).
    :return: ``{"uri", "rows", "bytes", "counts": {status: rows}}``.
    """

    template_fields: Sequence[str] = ("conn_id", "job_ids", "s3_bucket", "s3_key", "aws_conn_id", "statuses")
    template_fields_renderers = {"job_ids": "py"}
    ui_color = "#e8f7e4"

    def __init__(
        self,
        *,
        conn_id: str,
        job_ids: str | Sequence[str],
        s3_bucket: str,
        s3_key: str,
        aws_conn_id: str | None = "aws_default",
        file_format: Literal["csv", "jsonl"] = "csv",
        compression: Literal["gzip"] | None = None,
        column_map: Mapping[str, str] | Sequence[str] | None = None,
        statuses: str | Sequence[str] | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        verify: bool | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if file_format not in FILE_FORMATS:
            raise ValueError(f"file_format must be one of {FILE_FORMATS}, got {file_format!r}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be None or 'gzip', got {compression!r}")
        _check_upload_settings(part_size, max_concurrency)
        ResultColumns(column_map)  # fail at parse time on a bad column map rather than at run time
        self.conn_id = conn_id
        self.job_ids = job_ids
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.aws_conn_id = aws_conn_id
        self.file_format = file_format
        self.compression = compression
        self.column_map = column_map
        self.statuses = statuses
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.verify = verify
        self._declare_outlet()

    # -- asset -------------------------------------------------------------------------------------
    def _declare_outlet(self) -> None:
        from airflow.providers.common.compat.sdk import Asset, AssetAlias

        if _is_templated(self.s3_bucket) or _is_templated(self.s3_key):
            dag_id = getattr(self, "dag_id", None) or "_"
            outlet: Any = AssetAlias(name=f"emailverify-results-to-s3:{dag_id}.{self.task_id}")
        else:
            outlet = Asset(uri=f"s3://{self.s3_bucket}/{self.s3_key}")
        self._result_outlet = outlet
        self.outlets = [*(self.outlets or []), outlet]

    def _record_asset_event(self, context: Context, uri: str, extra: dict[str, Any]) -> None:
        from airflow.providers.common.compat.sdk import Asset, AssetAlias

        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        outlet = self._result_outlet
        if isinstance(outlet, AssetAlias):
            events[outlet].add(Asset(uri=uri), extra=extra)
        else:
            events[outlet].extra.update(extra)

    # -- run ---------------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_provider_emailverify._utils import parse_job_ids

        job_ids = parse_job_ids(self.job_ids, allow_empty=True)
        wanted = validate_statuses(self.statuses)
        uri = f"s3://{self.s3_bucket}/{self.s3_key}"
        if not job_ids:
            self.log.info("No verification jobs (job_ids is an empty list): writing an empty file to %s", uri)
        self.log.info(
            "Writing results of %d job(s) to %s as %s%s%s",
            len(job_ids),
            uri,
            self.file_format,
            " (gzip)" if self.compression else "",
            f", statuses {sorted(wanted)}" if wanted else "",
        )

        columns = ResultColumns(self.column_map)
        counts: Counter[str] = Counter()
        results = select_results(iter_job_results(self.conn_id, job_ids, log=self.log), wanted, counts)
        encode = csv_chunks if self.file_format == "csv" else jsonl_chunks
        chunks = encode(results, columns)
        if self.compression == "gzip":
            chunks = gzip_chunks(chunks)

        s3_hook = S3Hook(aws_conn_id=self.aws_conn_id, verify=self.verify)
        extra_args = s3_hook.extra_args
        extra_args.setdefault(
            "ContentType", "application/gzip" if self.compression else _CONTENT_TYPES[self.file_format]
        )
        writer = S3ObjectWriter(
            s3_hook.get_conn(),
            self.s3_bucket,
            self.s3_key,
            part_size=self.part_size,
            max_concurrency=self.max_concurrency,
            extra_args=extra_args,
        )
        with gc_for_bulk_load():
            writer.write_all(chunks)

        rows = sum(status_counts(counts).values())
        self.log.info(
            "Wrote %d rows (%d bytes) to %s; %d row(s) left out by the status filter",
            rows,
            writer.bytes_written,
            uri,
            counts.get("skipped", 0),
        )
        result = {"uri": uri, "rows": rows, "bytes": writer.bytes_written, "counts": status_counts(counts)}
        self._record_asset_event(context, uri, {"rows": rows, "job_ids": job_ids})
        return result
