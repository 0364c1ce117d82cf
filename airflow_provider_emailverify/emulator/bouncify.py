# Licensed under the Apache License, Version 2.0.
"""
Bouncify (bouncify.io) API v1 emulator, served under ``/bouncify`` (specs/bouncify.md).

Endpoints, on the real paths below ``https://api.bouncify.io``: ``GET /v1/verify``,
``POST /v1/bulk`` (multipart ``local_file`` or a JSON ``{"emails": [...]}`` body),
``PATCH /v1/bulk`` with ``{"action": "start"}``, ``GET /v1/bulk``, ``DELETE /v1/bulk`` (the last
three with ``job_id`` in the query or the path, ``/v1/bulk/{job_id}``), ``POST /v1/download?jobId=``
(CSV, optional ``filterResult``) and ``GET /v1/info``. Every call carries ``apikey`` in the query.

Lists go ``preparing`` → ``ready`` → (start, or ``auto_verify``) ``verifying`` → ``completed``;
``fail_jobs`` makes lists end ``failed`` after preparation. Unknown jobs answer 400, never 404.
Verdicts come from :func:`~.core.classify`: catch-all domains are accept-all, disposable
addresses are deliverable with the ``disposable`` flag (Bouncify reports it only as a flag).

[ASSUMED] choices; those with alternatives are switches in ``options: {"bouncify": {...}}``:

- ``accept_all_spelling`` (``"accept-all"``): the accept-all result in ``/v1/verify`` and the CSV;
  ``"accept all"`` and ``"accept_all"`` are the documented alternatives. Status counters and
  ``filterResult`` always say ``accept_all``.
- ``upload_status`` (201): HTTP status of a successful upload; 200 is the documented alternative.
- ``fail_state`` (``"failed"``): where ``fail_jobs`` lists end; ``"cancelled"`` emulates
  Bouncify cancelling a list (no API call does that).
- ``restricted`` (false): the account is under review: start answers ``"Verify restricted"``,
  download ``"DOWNLOAD-RESTRICTED"``.
- ``prepare_seconds`` (0.2): time a list spends ``preparing``.
- ``auto_verify`` is read from the multipart form or the query string (``"true"``/``true``);
  an ``auto_verify`` upload the account cannot pay for answers 402 and creates nothing.
- Credits: one per row, taken when verification starts (duplicates and bad syntax included).
- More than 500,000 rows or 10 MB, or no usable rows, answers 400 ``"Invalid file data"``.
- ``/v1/verify``: a missing or syntactically invalid address answers 400; ``timeout`` is clamped
  to 30000..180000; integer ``accept_all`` is 1 for catch-all, 2 when undetermined, else 0;
  messages for non-deliverable results as in the spec; the 429 body is
  ``{"success": false, "result": "Too many requests"}``.
- The ``spamtrap`` flag (CSV ``Trap``) is raised by local parts starting ``trap``/``spamtrap``.
- Ids not matching ``[a-z0-9]{36}`` or owned by another key: ``"Job not found. Invalid jobId"``.
- ``failed``/``cancelled`` lists: start says the list is not ready, download says it has invalid
  data, delete is allowed; a failed list reports ``total`` 0. The active-list limit (100) is
  checked on start as well as on an ``auto_verify`` upload.
- CSV: every field quoted, CRLF, ``text/csv``; the uploaded columns (JSON: keys of the first
  object; header-less file: empty header cells) then ``Verification Result, Syntax Error, ISP,
  Role, Disposable, Trap, Verified At``; ``Verified At`` is when the row's turn came.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import (
    JobClock,
    JobStore,
    VendorEmulator,
    VerdictTally,
    classify,
    is_spamtrap,
)
from airflow_provider_emailverify.emulator.downloads import RowTimes, coded_chunks, csv_cell, csv_cells
from airflow_provider_emailverify.emulator.streams import (
    JsonArrayStream,
    UploadLimitError,
    as_bool,
    drain,
    ingest_csv,
    json_response,
)
from airflow_provider_emailverify.emulator.verdict_codes import CODED, verdict_code

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from airflow_provider_emailverify.emulator.core import RowSpool, Verdict
    from airflow_provider_emailverify.emulator.verdict_codes import CodedVerdict

VENDOR = "bouncify"
MAX_ROWS = 500_000
MAX_BYTES = 10 * 1024 * 1024
MAX_WAITING_LISTS = 500
MAX_ACTIVE_LISTS = 100
RESULTS = ("deliverable", "undeliverable", "accept_all", "unknown")
FLAGS = ("common_isp", "role_based", "disposable", "spamtrap", "syntax_error")
RESULT_COLUMNS = ("Verification Result", "Syntax Error", "ISP", "Role", "Disposable", "Trap", "Verified At")
_JOB_ID = re.compile(r"[a-z0-9]{36}")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_MESSAGES = {
    "deliverable": "This address can receive emails.",
    "undeliverable": "This address cannot receive emails.",
    "accept_all": "The domain accepts all addresses.",
    "unknown": "Unable to verify this address.",
}
_STATUS_MESSAGES = {
    "preparing": "Job is being prepared for verification",
    "ready": "Job ready for verification. Please begin verification to know the result",
    "verifying": "Job is being verified",
    "completed": "Verification completed successfully. Please download the result using /download endpoint",
    "failed": "Unable to process your job, The uploaded list contains invalid data",
    "cancelled": "Job is cancelled",
}
_DOWNLOAD_REFUSALS = {
    "verifying": "Job is being verified, please wait until it completes.",
    "ready": "Job is ready for verification, please start verification and download your results once list verified.",
    "preparing": "Job is being prepared for verification, please start verifying and then download you result.",
    "failed": "List cannot be downloaded, The uploaded list contains invalid data.",
    "cancelled": "List cannot be downloaded, The uploaded list contains invalid data.",
}
_NOT_FOUND = {
    "start": "Job not found.",
    "status": "Job not found",
    "download": "Job not found.",
    "delete": "List not found, may be already deleted.",
}
_NOT_READY = (
    "Job is not ready for verification, please call the /status endpoint and start verification once the status "
    "of the job turns to ready."
)
_NO_CREDITS = "Insufficient verification credits. Please order a plan."
_STARTED = "Job verification will be attempted shortly. Call /status endpoint to know the status of the Job"
#: flags in the order of the CSV's Y/N columns (Syntax Error, ISP, Role, Disposable, Trap)
_CSV_FLAGS = ("syntax_error", "common_isp", "role_based", "disposable", "spamtrap")


def result_of(verdict: Verdict | CodedVerdict) -> tuple[str, list[str]]:
    """Bouncify's result (counter spelling) and flags for a verdict."""
    if verdict.kind == "catchall":
        result = "accept_all"
    elif verdict.kind == "disposable":
        result = "deliverable"
    else:
        result = verdict.category
    flags = []
    if verdict.free:
        flags.append("common_isp")
    if verdict.role:
        flags.append("role_based")
    if verdict.disposable:
        flags.append("disposable")
    if verdict.syntax_error:
        flags.append("syntax_error")
    if is_spamtrap(verdict):
        flags.append("spamtrap")
    return result, flags


#: :func:`result_of` by verdict code, as the tally takes it
_CODED_RESULTS = tuple(result_of(verdict) if verdict is not None else None for verdict in CODED)


def fail(status: int, text: str, *, field: str = "result", success: Any = False) -> Response:
    """Bouncify's error body: ``{"result": text, "success": false}`` (or ``message``/``"false"`` variants)."""
    from starlette.responses import JSONResponse

    return JSONResponse({field: text, "success": success}, status_code=status)


def _created_at(timestamp: float) -> str:
    """``08/13/2021, 9:39:37 AM``: US style, hour not zero-padded, no time zone."""
    moment = datetime.fromtimestamp(timestamp)
    return moment.strftime("%m/%d/%Y, ") + f"{moment.hour % 12 or 12}" + moment.strftime(":%M:%S %p")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


@dataclass
class BulkList:
    """An uploaded list: rows on disk (cells of the uploaded columns), their verdict codes and tally, timing."""

    job_id: str
    api_key: str
    spool: RowSpool
    tally: VerdictTally
    #: :func:`~.verdict_codes.verdict_code` of each row's address
    codes: bytearray
    header: list[str]
    email_index: int
    created: float
    ready_at: float
    fails: str | None
    clock: JobClock | None = None
    verify_started: float = 0.0
    rows_per_second: float = 1.0

    def status(self) -> str:
        if time.monotonic() < self.ready_at:
            return "preparing"
        if self.fails:
            return self.fails
        if self.clock is None:
            return "ready"
        if not self.clock.started_yet() or not self.clock.finished():
            return "verifying"
        return "completed"

    def verified(self) -> int:
        return self.clock.processed() if self.clock is not None else 0

    def waiting(self) -> bool:
        """Uploaded and not (to be) verified: counts against the 500 waiting lists."""
        return self.clock is None and self.status() in ("preparing", "ready")

    def active(self) -> bool:
        """Verifying, or about to with ``auto_verify``: counts against the 100 active lists."""
        return self.clock is not None and not self.clock.finished()


class BouncifyEmulator(VendorEmulator):
    """Bouncify v1 under ``/bouncify``."""

    vendor = VENDOR
    prefix = "/bouncify"

    def __init__(self, state: Any) -> None:
        self.lists = JobStore()
        super().__init__(state)

    def reset(self) -> None:
        """Forget every list."""
        self.lists.clear()

    def throttle_body(self, path: str) -> Any:
        """Injected 429s carry Bouncify's error body (see :func:`fail`)."""
        return {"result": "Too many requests", "success": False}

    def routes(self) -> list[BaseRoute]:
        """Every documented endpoint with its own invalid-key body; job ids in query or path."""
        def invalid() -> Response:
            return fail(401, "Invalid API Key")

        table = [
            ("/v1/verify", self.verify, ["GET"], lambda: fail(401, "Invalid API Key", success="false")),
            ("/v1/info", self.info, ["GET"], lambda: fail(401, "Invalid API key")),
            ("/v1/bulk", self.upload, ["POST"], invalid),
            ("/v1/bulk", self.status, ["GET"], invalid),
            ("/v1/bulk", self.start, ["PATCH"], invalid),
            ("/v1/bulk", self.delete, ["DELETE"], invalid),
            ("/v1/bulk/{job_id}", self.status, ["GET"], invalid),
            ("/v1/bulk/{job_id}", self.start, ["PATCH"], invalid),
            ("/v1/bulk/{job_id}", self.delete, ["DELETE"], invalid),
            ("/v1/download", self.download, ["POST"], invalid),
        ]
        return [self.endpoint(path, self._authenticated(handler, refusal), methods)
                for path, handler, methods, refusal in table]

    def _authenticated(self, handler: Any, refusal: Callable[[], Response]) -> Any:
        async def run(request: Request) -> Response:
            key = request.query_params.get("apikey")
            if not self.state.is_valid_key(key):
                return refusal()
            return await handler(request, key)

        return run

    # -- single ------------------------------------------------------------------------------------
    async def verify(self, request: Request, key: str) -> Response:
        email = (request.query_params.get("email") or "").strip()
        verdict = classify(email)
        if not email or verdict.syntax_error:
            return fail(400, "Invalid request. Required email.")
        if not self.state.spend(key, 1):
            return fail(402, "Insufficient verification credits", success="false")
        result, flags = result_of(verdict)
        return json_response({
            "result": self._spell(result),
            "message": _MESSAGES[result],
            "email": email,
            "user": verdict.local,
            "domain": verdict.domain,
            "accept_all": 1 if result == "accept_all" else 2 if result == "unknown" else 0,
            "role": int("role_based" in flags),
            "free_email": int("common_isp" in flags),
            "disposable": int("disposable" in flags),
            "spamtrap": int("spamtrap" in flags),
            "success": True,
        })

    def _spell(self, result: str) -> str:
        return str(self.option("accept_all_spelling", "accept-all")) if result == "accept_all" else result

    async def info(self, request: Request, key: str) -> Response:
        return json_response({"success": True, "credits_info": {"credits_remaining": self.state.balance(key)}})

    # -- upload ------------------------------------------------------------------------------------
    async def upload(self, request: Request, key: str) -> Response:
        tally = VerdictTally(RESULTS, FLAGS)
        codes = bytearray()

        def count(email: str) -> None:
            code = verdict_code(classify(email))
            codes.append(code)
            tally.add(*_CODED_RESULTS[code])

        spool = self.state.new_spool()
        try:
            header, email_index, auto = await self._read_upload(request, spool, count)
            auto_verify = as_bool(auto)
        except (ValueError, UploadLimitError):
            spool.discard()
            return fail(400, "Invalid file data")
        spool.close()
        if not spool.count:
            spool.discard()
            return fail(400, "Invalid file data")
        refusal = self._limits(key, auto_verify)
        fails = (str(self.option("fail_state", "failed")) if self.state.job_should_fail() else None)
        if refusal is None and auto_verify and not fails and not self.state.spend(key, spool.count):
            refusal = fail(402, _NO_CREDITS)
        if refusal is not None:
            spool.discard()
            return refusal
        now, prepare = time.time(), float(self.option("prepare_seconds", 0.2))
        bulk = BulkList(
            job_id="".join(secrets.choice(_ID_ALPHABET) for _ in range(36)), api_key=key, spool=spool, tally=tally,
            codes=codes, header=header, email_index=email_index, created=now, ready_at=time.monotonic() + prepare,
            fails=fails,
        )
        message = "Bulk email verification list has been created"
        if auto_verify and not fails:
            self._begin(bulk, delay=prepare)
            message += " and starts verification shortly"
        self.lists.add(bulk.job_id, bulk)
        self.state.count_job(VENDOR)
        return json_response({"job_id": bulk.job_id, "success": True, "message": message}, int(self.option("upload_status", 201)))

    async def _read_upload(self, request: Request, spool: RowSpool, count: Any) -> tuple[list[str], int, Any]:
        """Spool the uploaded rows; returns the header, the address column and ``auto_verify``."""
        from starlette.concurrency import run_in_threadpool
        from starlette.datastructures import UploadFile

        ctype = request.headers.get("content-type", "").lower()
        if ctype.startswith("multipart/form-data"):
            async with request.form() as form:
                upload = form.get("local_file")
                if not isinstance(upload, UploadFile):
                    raise ValueError("local_file is missing")
                info = await run_in_threadpool(
                    ingest_csv, upload.file, spool, max_rows=MAX_ROWS, max_bytes=MAX_BYTES, on_email=count
                )
                auto = form.get("auto_verify", request.query_params.get("auto_verify"))
            return info.header or [""] * info.width, info.email_index, auto
        if not ctype.startswith("application/json"):
            await drain(request.stream())
            raise ValueError("unsupported upload")
        parser = JsonArrayStream(request.stream(), key="emails", max_bytes=MAX_BYTES)
        header: list[str] | None = None
        try:
            async for item in parser:
                if not isinstance(item, dict) or not isinstance(item.get("email"), str):
                    raise ValueError("an entry has no email")
                header = header or [str(name) for name in item]
                if spool.count >= MAX_ROWS:
                    raise UploadLimitError("rows", MAX_ROWS)
                spool.append([_cell(item.get(name)) for name in header])
                count(item["email"])
        except (ValueError, UploadLimitError):
            await parser.drain()
            raise
        if header is None:
            raise ValueError("no emails")
        return header, header.index("email"), parser.members.get("auto_verify", request.query_params.get("auto_verify"))

    def _limits(self, key: str, verifying: bool) -> Response | None:
        """The account's list limits: lists awaiting verification, and lists verifying at once."""
        lists = self.lists.jobs(key)
        if not verifying and sum(bulk.waiting() for bulk in lists) >= MAX_WAITING_LISTS:
            return fail(400, "The maximum number of lists has been reached.", field="message")
        if verifying and sum(bulk.active() for bulk in lists) >= MAX_ACTIVE_LISTS:
            return fail(400, "The maximum number of active verification lists has been reached.", field="message")
        return None

    def _begin(self, bulk: BulkList, *, delay: float = 0.0) -> None:
        bulk.clock = JobClock(self.state, bulk.spool.count, delay=delay)
        bulk.verify_started = time.time() + delay
        bulk.rows_per_second = max(self.state.config.rows_per_second, 1.0)

    # -- job operations ------------------------------------------------------------------------------
    def _find(self, request: Request, key: str, action: str, param: str = "job_id") -> BulkList | Response:
        job_id = request.path_params.get("job_id") or request.query_params.get(param) or ""
        if not _JOB_ID.fullmatch(job_id):
            return fail(400, "Job not found. Invalid jobId")
        bulk = self.lists.get(job_id)
        if bulk is None:
            return fail(400, _NOT_FOUND[action])
        if bulk.api_key != key:
            return fail(400, "Job not found. Invalid jobId")
        return bulk

    async def start(self, request: Request, key: str) -> Response:
        bulk = self._find(request, key, "start")
        if not isinstance(bulk, BulkList):
            return bulk
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("action") != "start":
            return fail(400, "Invalid action")
        if self.option("restricted", False):
            return fail(400, "Verify restricted")
        state = bulk.status()
        if state in ("verifying", "completed"):
            return fail(400, "Verification has already started.")
        if state != "ready":
            return fail(400, _NOT_READY)
        refusal = self._limits(key, True)
        if refusal is not None:
            return refusal
        if not self.state.spend(key, bulk.spool.count):
            return fail(402, _NO_CREDITS)
        self._begin(bulk)
        return json_response({"job_id": bulk.job_id, "success": True, "message": _STARTED})

    async def status(self, request: Request, key: str) -> Response:
        bulk = self._find(request, key, "status")
        if not isinstance(bulk, BulkList):
            return bulk
        state = bulk.status()
        body: dict[str, Any] = {"job_id": bulk.job_id, "status": state, "created_at": _created_at(bulk.created)}
        if state in ("failed", "cancelled"):
            body["total"] = 0 if state == "failed" else bulk.spool.count
        elif state == "ready":
            body["total"] = bulk.spool.count
            body["analysis"] = self._analysis(bulk)
        elif state != "preparing":
            verified = bulk.verified()
            results = bulk.tally.counts(verified)
            body.update(total=bulk.spool.count, verified=verified, pending=bulk.spool.count - verified)
            body["analysis"] = self._analysis(bulk)
            body["results"] = {name: results[name] for name in RESULTS}
        body.update(success=True, message=_STATUS_MESSAGES[state])
        return json_response(body)

    @staticmethod
    def _analysis(bulk: BulkList) -> dict[str, int]:
        counts = bulk.tally.counts()
        return {name: counts[name] for name in FLAGS}

    async def download(self, request: Request, key: str) -> Response:
        bulk = self._find(request, key, "download", param="jobId")
        if not isinstance(bulk, BulkList):
            return bulk
        if self.option("restricted", False):
            return fail(400, "DOWNLOAD-RESTRICTED")
        wanted = await self._filter(request)
        if wanted is None:
            return fail(400, "Invalid filterResult. Please provide correct filterResult options")
        state = bulk.status()
        if state != "completed":
            return fail(400, _DOWNLOAD_REFUSALS[state])
        from starlette.responses import StreamingResponse

        return StreamingResponse(self._result_lines(bulk, wanted), media_type="text/csv; charset=utf-8")

    @staticmethod
    async def _filter(request: Request) -> set[str] | None:
        """The ``filterResult`` values (all four when the body is empty); ``None`` when invalid."""
        import json

        raw = await request.body()
        if not raw.strip():
            return set(RESULTS)
        try:
            wanted = json.loads(raw).get("filterResult", list(RESULTS))
        except (ValueError, AttributeError):
            return None
        if not isinstance(wanted, list) or not wanted or not set(wanted) <= set(RESULTS):
            return None
        return set(wanted)

    def _result_lines(self, bulk: BulkList, wanted: set[str]) -> Iterator[bytes]:
        """
        The result CSV: the uploaded cells, then the result and flag columns compiled once per
        verdict code, then when the row was verified.
        """
        cells = csv_cells(quote_all=True, width=len(bulk.header), cut=True)
        appended: list[str | None] = []
        for verdict in CODED:
            result, flags = result_of(verdict) if verdict is not None else ("", [])
            marks = ["Y" if name in flags else "N" for name in _CSV_FLAGS]
            keep = verdict is not None and result in wanted
            columns = "".join("," + csv_cell(value, quote=True) for value in (self._spell(result), *marks))
            appended.append(columns + ',"' if keep else None)
        stamps = RowTimes(bulk.verify_started, bulk.rows_per_second, time.time(), bulk.spool.count)

        def render(row: list[str], code: int, index: int) -> str | None:
            after = appended[code]
            return None if after is None else cells(row) + after + stamps(index) + '"\r\n'

        header = csv_cells(quote_all=True, width=0)([*bulk.header, *RESULT_COLUMNS]) + "\r\n"
        keep = [after is not None for after in appended]
        return coded_chunks(bulk.spool, bulk.codes, render, keep=keep, head=header)

    async def delete(self, request: Request, key: str) -> Response:
        bulk = self._find(request, key, "delete")
        if not isinstance(bulk, BulkList):
            return bulk
        if bulk.status() in ("preparing", "verifying"):
            return fail(400, "List is being processed, and cannot be deleted.")
        self.lists.pop(bulk.job_id)
        return json_response({"job_id": bulk.job_id, "success": True, "message": "List will be deleted"})
