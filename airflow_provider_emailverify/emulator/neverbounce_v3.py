# Licensed under the Apache License, Version 2.0.
"""
The deprecated NeverBounce v3 API (spec §2.2, §5): OAuth2 client-credentials tokens, form-encoded
POST only, ``success`` envelopes, integer result codes, numbers as strings, float-second
``execution_time``. Jobs live in the same table as v4 jobs (one account, two APIs); requests and
jobs are counted under ``neverbounce_v3``.

Choices where the spec is [ASSUMED], (inferred) or (unverified); switches go under
``{"options": {"neverbounce_v3": {...}}}``:

- ``/v3/access_token`` takes any API username with a secret that is an emulator API key. Checks
  run in the order of the PHP OAuth2 server whose wording the docs quote: no ``grant_type`` ->
  ``invalid_request`` "The grant type was not specified in the request"; another grant ->
  ``unsupported_grant_type``; missing or wrong Basic credentials -> ``invalid_client``; no
  ``scope`` -> ``invalid_request``; a scope beyond ``basic user`` (``web`` allowed, the v3 PHP SDK
  sends it) -> ``invalid_scope``. OAuth errors use HTTP 400 (``oauth_error_status``).
- Tokens live ``token_ttl`` seconds (3600); then, like unknown or missing tokens, they get HTTP 200
  ``{"success": false, "msg": "Authentication failed"}``.
- Only form-encoded bodies are read: the query string and JSON bodies are ignored.
- Errors: a missing parameter is ``msg`` "Missing required parameter '<name>'"; a bad value is
  ``error_code`` 2; an unknown job or a job in the wrong state ``error_code`` 3; missing credits
  ``error_code`` 4 with the v4 wording.
- ``/bulk`` answers ``application/json`` (``bulk_content_type``: e.g. ``text/html``, as one recorded
  response had); supplied ``input`` is raw CSV/list text; verification starts after indexing
  unless ``run_sample=1``; a job without credits for its run fails (status 5).
- ``/download``: the result column is text (``valid``) unless ``textcodes=0`` (integer codes); once
  any of ``valids invalids catchall disposable unknowns duplicates`` is given the others count as
  0 (``unknown``, the v3 PHP SDK's spelling, is not a filter); without filters repeats are
  included. Original columns are quoted only where needed, a header line gains ``result``, and
  lines end with ``\\n``.
- Rate-limit faults use the emulator's generic HTTP 429; 5xx faults are as for v4.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import time
import zlib
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import classify
from airflow_provider_emailverify.emulator.downloads import csv_cell
from airflow_provider_emailverify.emulator.neverbounce_data import (
    MAX_PAYLOAD_BYTES,
    RESULT_CODES,
    fmt_time,
    insufficient_credits_message,
    nb_result,
    read_params,
    too_large,
)
from airflow_provider_emailverify.emulator.neverbounce_engine import InsufficientCredits
from airflow_provider_emailverify.emulator.neverbounce_download import LineFormat, iter_download
from airflow_provider_emailverify.emulator.streams import UploadLimitError, as_bool, basic_auth, ingest_csv

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from airflow_provider_emailverify.emulator.core import EmulatorState
    from airflow_provider_emailverify.emulator.neverbounce_engine import JobBook
    from airflow_provider_emailverify.emulator.neverbounce_jobs import Job
    from airflow_provider_emailverify.emulator.verdict_codes import CodedVerdict

#: job phase -> v3 status code (spec §5.5)
V3_STATUS = {
    "uploading": -1, "unparsed": 0, "queued": 0, "parsing": 1, "waiting": 2, "waiting_analyzed": 2,
    "running": 3, "under_review": 3, "complete": 4, "failed": 5,
}
_FILTERS = {"valids": "valid", "invalids": "invalid", "catchall": "catchall", "disposable": "disposable", "unknowns": "unknown"}
_SCOPES = frozenset({"basic", "user", "web"})


class V3Error(Exception):
    """A v3 failure: ``{"success": false, "msg"}``, or with ``error_code``/``error_msg`` when ``code`` is set."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class V3Call:
    """One v3 request: form parameters, the token's key and the clock for ``execution_time``."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.key = ""
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 14)

    def ok(self, *, media_type: str = "application/json", **fields: Any) -> Response:
        from starlette.responses import Response

        body = json.dumps({"success": True, **fields, "execution_time": self.seconds()}, separators=(",", ":"))
        return Response(body, media_type=media_type)

    def fail(self, err: V3Error) -> Response:
        from starlette.responses import JSONResponse

        if err.code is None:
            return JSONResponse({"success": False, "msg": err.message})
        return JSONResponse({"success": False, "error_code": err.code, "error_msg": err.message, "execution_time": self.seconds()})

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if value is None or value == "":
            raise V3Error(f"Missing required parameter '{name}'")
        return str(value)

    def flag(self, name: str, default: bool) -> bool:
        try:
            return as_bool(self.params.get(name), default)
        except ValueError:
            raise V3Error(f"Invalid value for parameter '{name}'", 2) from None


class NeverBounceV3Mixin:
    """The v3 routes of :class:`~.neverbounce.NeverBounceEmulator` (which provides ``book`` and ``tokens``)."""

    state: EmulatorState
    book: JobBook
    tokens: dict[str, tuple[str, float]]
    endpoint: Callable[..., BaseRoute]

    def v3_option(self, name: str, default: Any) -> Any:
        return self.state.option("neverbounce_v3", name, default)

    def v3_routes(self) -> list[BaseRoute]:
        handlers: dict[str, Callable[[V3Call], Awaitable[Response]]] = {
            "account": self._v3_account,
            "single": self._v3_single,
            "bulk": self._v3_bulk,
            "status": self._v3_status,
            "start_job": self._v3_start_job,
            "download": self._v3_download,
            "delete_user_job": self._v3_delete,
            "list_user_jobs": self._v3_list,
        }
        routes = [self.endpoint("/v3/access_token", self._v3_access_token, ["POST"])]
        routes += [self.endpoint(f"/v3/{name}", self._v3(handler), ["POST"]) for name, handler in handlers.items()]
        return routes

    def _v3(self, handler: Callable[[V3Call], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            call = V3Call()
            try:
                call.params = await read_params(request, MAX_PAYLOAD_BYTES, query=False, json_body=False)
            except UploadLimitError:
                return too_large()
            key = self._token_key(call.params.get("access_token"))
            if key is None:
                return call.fail(V3Error("Authentication failed"))
            call.key = key
            self.book.advance()
            try:
                return await handler(call)
            except V3Error as err:
                return call.fail(err)
            finally:
                self.book.ensure_ticker()

        return run

    def _token_key(self, token: Any) -> str | None:
        entry = self.tokens.get(str(token or ""))
        if entry is None or time.monotonic() >= entry[1] or not self.state.is_valid_key(entry[0]):
            return None
        return entry[0]

    async def _v3_access_token(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        try:
            params = await read_params(request, MAX_PAYLOAD_BYTES, query=False, json_body=False)
        except UploadLimitError:
            return too_large()

        def oauth_error(error: str, description: str) -> Response:
            status = int(self.v3_option("oauth_error_status", 400))
            return JSONResponse({"error": error, "error_description": description}, status_code=status)

        grant, scope = params.get("grant_type"), str(params.get("scope") or "")
        if not grant:
            return oauth_error("invalid_request", "The grant type was not specified in the request")
        if grant != "client_credentials":
            return oauth_error("unsupported_grant_type", f'Grant type "{grant}" not supported')
        credentials = basic_auth(request)
        if credentials is None:
            return oauth_error("invalid_client", "Client credentials were not found in the headers or body")
        if not self.state.is_valid_key(credentials[1]):
            return oauth_error("invalid_client", "The client credentials are invalid")
        if not scope.strip():
            return oauth_error("invalid_request", "The scope was not specified in the request")
        scopes = set(scope.split())
        if not scopes <= _SCOPES or not {"basic", "user"} <= scopes:
            return oauth_error("invalid_scope", "An unsupported scope was requested")
        ttl = float(self.v3_option("token_ttl", 3600))
        token = secrets.token_hex(20)
        self.tokens[token] = (credentials[1], time.monotonic() + ttl)
        expires = int(ttl) if ttl.is_integer() else ttl
        return JSONResponse({"access_token": token, "expires_in": expires, "token_type": "Bearer", "scope": scope})

    # -- helpers ---------------------------------------------------------------------------------------
    def _v3_job(self, call: V3Call) -> Job:
        raw = call.require("job_id")
        job = self.book.get(call.key, int(raw)) if raw.strip().isdigit() else None
        if job is None:
            raise V3Error("The job could not be found", 3)
        return job

    def _v3_view(self, job: Job, *, listing: bool = False) -> dict[str, Any]:
        summary = job.summary
        processed = job.processed()
        counts = summary.counts(processed) if summary is not None and job.run_kind == "full" else {}
        stats: dict[str, Any] = {
            "total": summary.records if summary else 0,
            "processed": processed,
            **{name: counts.get(name, 0) for name in ("valid", "invalid", "catchall", "disposable", "unknown")},
            "duplicates": summary.duplicates if summary else 0,
            "bad_syntax": summary.bad_syntax if summary else 0,
        }
        run_time = int((job.finished or time.time()) - job.run_started) if job.run_started else 0
        if listing:
            percent = 100 if job.phase == "complete" else int(100 * processed / max(stats["total"], 1))
            letters = {"t": stats["total"], "p": processed, "g": stats["valid"], "b": stats["invalid"],
                       "c": stats["catchall"], "d": stats["disposable"], "u": stats["unknown"]}
            stats.update(percent_complete=percent, billable=summary.billable if summary else 0, **letters)
            stats.update(job_time=run_time, avg_recs_per_sec=int(processed / run_time) if run_time else 0)
        else:
            stats.update(billable=summary.billable if summary else 0, job_time=run_time)
        file_details = {
            "error": job.phase == "failed",
            "email_col_i": job.email_col,
            "tot_cols": len(job.header) if job.header else job.email_col + 1,
            "delimiter": "",
            "has_header": job.header is not None,
            "linefeed_type": "LINEFEED_0A",
            "quote_type": "QUOTE_DOUBLE",
            "delimiter_type": "DELIM_COMMA",
            "binary_options_type": "BIN_1_0",
            "size": job.size,
            "tot_records": summary.records if summary else 0,
            "tot_emails": summary.records - summary.bad_syntax if summary else 0,
        }
        view: dict[str, Any] = {"id": str(job.id)}
        if listing:
            view.update(user_id=str(zlib.crc32(job.api_key.encode()) % 100_000), purchased="1" if job.credits_charged else "0")
        view.update(
            status=str(V3_STATUS[job.phase]),
            type="1",
            input_location="0" if job.input_location == "remote_url" else "1",
        )
        if listing:
            view["orig_resource"] = job.job_file or job.filename
        view.update(
            orig_name=job.filename or job.job_file,
            stats=stats,
            created=fmt_time(job.created),
            started=fmt_time(job.run_started),
            finished=fmt_time(job.finished),
            analysis_started=fmt_time(job.sample_started),
            analysis_finished=fmt_time(job.sample_finished),
            indexing_started=fmt_time(job.parse_started),
            indexing_finished=fmt_time(job.parse_finished),
            last_touched=fmt_time(job.touched),
        )
        if listing:
            view.update(
                result_db_details=json.dumps({"version": 4, "results_db_handle": "emulator"}),
                file_details=json.dumps(file_details),
                callback_details=json.dumps({"callback_url": "", "callback_params": ""}),
                job_details=json.dumps({"internal_s3_handle": "default", "job_process": None,
                                        "indexing_progress": int(job.summary is not None), "dedup_progress": int(job.summary is not None)}),
                active_runners=None,
            )
        else:
            view["file_details"] = json.dumps(file_details)
        return view

    def _sample_details(self, job: Job) -> list[Any] | dict[str, Any]:
        if job.sample_started is None or job.summary is None:
            return []
        done = job.sample_finished is not None
        return {
            "sample_status": 3 if done else 2,
            "sample_details": {
                "sample_size": job.sample_size,
                "sample_stats": job.summary.counts(job.sample_size) if done else {},
                "bounce_estimate": max(job.bounce_estimate, 0),
            },
        }

    # -- endpoints --------------------------------------------------------------------------------------
    async def _v3_account(self, call: V3Call) -> Response:
        jobs = self.book.jobs(call.key)
        completed = sum(1 for job in jobs if job.phase == "complete")
        processing = sum(1 for job in jobs if job.phase in ("uploading", "parsing", "queued", "running", "under_review"))
        return call.ok(credits=str(self.state.balance(call.key)), jobs_completed=str(completed), jobs_processing=str(processing))

    async def _v3_single(self, call: V3Call) -> Response:
        email = call.require("email")
        if not self.state.spend(call.key, 1):
            raise V3Error(insufficient_credits_message(1, self.state.balance(call.key)), 4)
        self.book.used[call.key] += 1
        verdict = classify(email)
        return call.ok(result=RESULT_CODES[nb_result(verdict)], result_details=int(verdict.syntax_error))

    async def _v3_bulk(self, call: V3Call) -> Response:
        location = call.require("input_location")
        if location not in ("0", "1"):
            raise V3Error("Invalid value for parameter 'input_location'", 2)
        text = call.require("input")
        run_sample = call.flag("run_sample", False)
        now = time.time()
        user = zlib.crc32(call.key.encode()) % 100_000
        job_file = f"{time.strftime('%Y-%m-%d', time.gmtime(now))}.api_job.{user}.{int(now):08x}{int(now % 1 * 1e6):05x}.csv"
        spool = self.state.new_spool()
        fields = {"filename": str(call.params.get("filename") or ""), "job_file": job_file, "run_sample": run_sample, "auto_start": not run_sample}
        if location == "1":
            data = text.encode("utf-8")
            try:
                upload = await asyncio.to_thread(ingest_csv, io.BytesIO(data), spool)
            except ValueError as err:
                spool.discard()
                raise V3Error(f"Unable to read the supplied data: {err}", 2) from None
            spool.close()
            job = self.book.create(
                api_key=call.key, api="v3", version="v3", spool=spool, input_location="supplied",
                header=upload.header, email_col=upload.email_index, size=len(data), **fields,
            )
        else:
            job = self.book.create(api_key=call.key, api="v3", version="v3", spool=spool, input_location="remote_url", **fields)
            self.book.upload(job, text)
        self.book.parse(job)
        media = str(self.v3_option("bulk_content_type", "application/json"))
        return call.ok(media_type=media, job_id=job.id, job_status=0, job_file=job_file)

    async def _v3_status(self, call: V3Call) -> Response:
        job = self._v3_job(call)
        view = self._v3_view(job)
        if str(call.params.get("version") or "") == "3.1":
            view["job_details"] = self._sample_details(job)
        return call.ok(**view)

    async def _v3_start_job(self, call: V3Call) -> Response:
        job = self._v3_job(call)
        if job.phase not in ("waiting", "waiting_analyzed"):
            raise V3Error("This job is not in a state which can be started", 3)
        try:
            self.book.start(job, sample=False)
        except InsufficientCredits as err:
            raise V3Error(err.message, 4) from None
        return call.ok()

    async def _v3_download(self, call: V3Call) -> Response:
        from starlette.responses import StreamingResponse

        job = self._v3_job(call)
        given = {name: call.flag(name, False) for name in (*_FILTERS, "duplicates") if name in call.params}
        textcodes = call.flag("textcodes", True)
        if job.phase != "complete":
            raise V3Error("This job is not in a state which can be downloaded", 3)
        results = {result for name, result in _FILTERS.items() if given.get(name, not given)}
        repeats = given.get("duplicates", not given)

        def keep(verdict: CodedVerdict, duplicated: bool, repeat: bool) -> bool:
            return (repeats or not repeat) and nb_result(verdict) in results

        def appended(verdict: CodedVerdict) -> list[str]:
            result = nb_result(verdict)
            return [result if textcodes else str(RESULT_CODES[result])]

        header = ",".join([csv_cell(name, quote=False) for name in job.header] + ["result"]) if job.header else None
        lines = LineFormat(quote_all=False, width=0, appended=appended, line_end="\n")
        body = iter_download(job, keep=keep, lines=lines, header=header)
        return StreamingResponse(body, media_type="application/octet-stream")

    async def _v3_delete(self, call: V3Call) -> Response:
        job = self._v3_job(call)
        if not self.book.delete(job):
            raise V3Error("A job cannot be deleted during indexing, processing or a sample run", 3)
        return call.ok(job_id=job.id)

    async def _v3_list(self, call: V3Call) -> Response:
        return call.ok(jobs=[self._v3_view(job, listing=True) for job in self.book.jobs(call.key)])
