# Licensed under the Apache License, Version 2.0.
"""
NeverBounce emulator: the v4 API under ``/v4/``, ``/v4.1/`` and ``/v4.2/`` and the legacy v3 API
under ``/v3/`` (see :mod:`.neverbounce_v3`), below the ``/neverbounce`` prefix.

Wire behaviour follows ``specs/neverbounce.md``: GET and POST alike, parameters merged from the
query string and a form or JSON body (a body whose Content-Type does not match is not seen), PHP
bracket notation, every boolean spelling, application errors as HTTP 200 with ``status`` and
``message``, HTTP 413 over 25 MB, exact ``application/json`` / ``application/octet-stream``,
integer-millisecond ``execution_time``. Verdicts come from :func:`~.core.classify`.

Choices where the spec is [ASSUMED], (inferred) or (unverified); switches are set with
``{"options": {"neverbounce": {...}}}`` on ``POST /_emulator/config`` (v3 ones under
``neverbounce_v3``, listed in :mod:`.neverbounce_v3`):

- Body wins over the query string on conflicts. Unknown parameters are ignored.
- Messages: missing parameter ``Missing required parameter '<name>'``; bad value
  ``Invalid value for parameter '<name>'``; unknown job ``The job (<id>) could not be found``;
  wrong state ``This job is not in a state which can be parsed|started|deleted|downloaded`` and
  ``... which can return results``; bad key ``The key provided is invalid``
  (``auth_failure_echo_key``: ``Invalid API key '<key>'``).
- The 25 MB limit is 25 MiB of request body on any v4 endpoint (``max_payload_bytes``).
- A job created without ``auto_parse`` reports ``waiting`` (``unparsed_job_status``) but only
  jobs/parse is accepted; jobs/parse during ``uploading`` parses once the file is in. A second
  jobs/parse is refused. ``run_sample=1`` at create runs the free sample right after parsing.
- Parsing runs ``parse_speedup`` (10) times faster than verification (``rows_per_second``).
  At most ``max_concurrent_jobs`` (10) jobs of an API key run at once; other started jobs wait
  ``queued``, first started first run. A sample verifies the first ``sample_fraction`` (0.1) of
  the rows. ``config.fail_jobs`` makes that share of jobs fail at the end of parsing.
- Credits: 1 per single/check (bad syntax included); a full run costs ``total.billable`` =
  syntactically valid rows minus repeats (``bill_duplicates``: charge repeats too); samples are
  free. jobs/start without enough credits answers the general_failure "Insufficient credit
  balance..." (``insufficient_credits``: ``fail_job`` fails the job instead); an auto-started
  job without credits fails with that message as ``failure_reason``. Deleting a queued job refunds it.
- ``credits_info`` has the paid shape (``credits_info_shape``: ``monthly``); ``paid_credits_used``
  counts what NeverBounce calls spent since the last reset.
- Duplicates are case-insensitive repeats of a syntactically valid address; ``total.duplicates``
  counts the repeats (not the first instance). ``only_duplicates`` returns every instance of a
  repeated address (``only_duplicates``: ``repeats`` for the repeats only).
- Object input: the header (object keys) is not a record (``object_header_row``: count it as a
  bad-syntax record, the recorded 2017 behaviour). A first array row with no ``@`` is a header.
  ``data`` of header-less rows is keyed ``"0"``, ``"1"``, ...
- Downloads: once a segment flag is given, omitted segments are 0 (``omitted_segments_off``);
  ``email_status`` is appended unless explicitly 0 (``email_status_default``: ``bare`` appends it
  only when no append is asked for); default line feed ``LINEFEED_0A0D`` = ``\\n\\r`` as documented
  (``default_line_feed_type``); unknown ``binary_operators_type``/``line_feed_type`` values are a
  general_failure. Appended columns follow the spec table's order; ``network`` is the host's FQDN.
- ``jobs/results``: segment filters default to 1, ``items_per_page`` is clamped to 1-1000, pages
  past the end are empty successes. ``jobs/search``: newest first, filters echoed in ``query``,
  legacy v4.0 boolean filters accepted, ``failure_reason`` included on v4.2;
  ``search_job_name_alias`` also reads ``job_name`` as ``filename`` (not a vendor parameter).
- ``bounce_estimate``: -1 until a sample finished (invalid share of the sample), 0 after a full
  run without sample. Counters are ``null`` until known; times are UTC.
- Manual review: v4/v4.1 jobs, and v4.2 jobs with ``allow_manual_review``, whose invalid share
  exceeds ``manual_review_threshold`` (0.5) sit ``under_review`` for ``manual_review_seconds`` (1).
- Flags: ``bad_dns`` for invalid domains, ``connect_fails`` for unknowns, ``accepts_all`` for
  catch-alls, ``government_host``/``academic_host``/``military_host`` for .gov/.edu/.mil,
  ``spamtrap_network`` for local parts starting ``trap``/``spamtrap``, ``historical_response``
  only when ``historical_flag`` is on (v4.1+).
- single/check ``timeout``: with ``single_check_seconds`` > 0 each check takes that long and
  answers ``unknown`` when ``timeout`` is shorter.
- poe/confirm: ``token_confirmed`` is true when ``confirmation_token`` equals
  :func:`poe_token` of the other three fields (``poe_accept_any_token``: any token).
- Faults: throttling is HTTP 200 ``throttle_triggered``; errors are a 502 nginx HTML page or a 503
  plain text (``error_style``: ``temp_unavail`` answers HTTP 200 ``temp_unavail`` instead).
- Remote files and callbacks are only fetched from / sent to loopback hosts; other hosts make the
  job fail (callbacks are skipped). Callbacks of a job are posted in order, without retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import VendorEmulator, classify
from airflow_provider_emailverify.emulator.neverbounce_data import (
    MAX_PAYLOAD_BYTES,
    NGINX_PAGE,
    SEGMENTS,
    NBError,
    address_parts,
    download_options,
    flag_value,
    fmt_time,
    insufficient_credits_message,
    int_value,
    invalid,
    json_members,
    media_type,
    meta_flag,
    missing,
    nb_flags,
    nb_result,
    nest,
    read_params,
    text_value,
    too_large,
    verification,
)
from airflow_provider_emailverify.emulator.neverbounce_engine import (
    InsufficientCredits,
    JobBook,
)
from airflow_provider_emailverify.emulator.neverbounce_download import v4_download
from airflow_provider_emailverify.emulator.neverbounce_jobs import (
    SuppliedRows,
    as_row_list,
    results_page,
)
from airflow_provider_emailverify.emulator.neverbounce_v3 import NeverBounceV3Mixin
from airflow_provider_emailverify.emulator.streams import JsonArrayStream, UploadLimitError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from airflow_provider_emailverify.emulator.core import EmulatorState
    from airflow_provider_emailverify.emulator.neverbounce_jobs import Job

V4_VERSIONS = ("v4", "v4.1", "v4.2")
JOB_STATUSES = frozenset(
    {"uploading", "parsing", "waiting", "waiting_analyzed", "queued", "running", "under_review", "complete", "failed"}
)
#: v4.0 boolean search filters -> job statuses
LEGACY_FILTERS = {
    "completed": {"complete"},
    "processing": {"running", "queued"},
    "indexing": {"parsing", "uploading"},
    "failed": {"failed"},
    "manual_review": {"under_review"},
    "unpurchased": {"waiting", "waiting_analyzed"},
}
TOTAL_FIELDS = ("records", "billable", "processed", "valid", "invalid", "catchall", "disposable", "unknown", "duplicates", "bad_syntax")


def poe_token(email: str, transaction_id: str, result: str) -> str:
    """The confirmation token the emulator's poe/confirm accepts: md5 of ``transaction_id:email:result``."""
    return hashlib.md5(f"{transaction_id}:{email}:{result}".encode()).hexdigest()


def queue_id() -> str:
    """``NB-PQ-`` and a PHP ``uniqid``-like 13 upper-case hex digits."""
    now = time.time()
    return f"NB-PQ-{int(now):08X}{int((now % 1) * 1_000_000):05X}"


class Call:
    """One v4 request: parameters, API version, the caller's key and the clock for ``execution_time``."""

    def __init__(self, version: str, params: dict[str, Any]) -> None:
        self.version = version
        self.params = params
        self.key = ""
        self.started = time.perf_counter()

    def ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def ok(self, **fields: Any) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "success", **fields, "execution_time": self.ms()})

    def fail(self, status: str, message: str) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": status, "message": message, "execution_time": self.ms()})

    def flag(self, name: str, default: bool | None) -> Any:
        return flag_value(self.params, name, default)

    def integer(self, name: str, default: int | None = None, *, required: bool = False, minimum: int | None = None) -> Any:
        if required and self.params.get(name) in (None, ""):
            raise missing(name)
        return int_value(self.params, name, default, minimum=minimum)

    def text(self, name: str, *, required: bool = False) -> Any:
        return text_value(self.params, name, required=required)


def state_error(action: str) -> NBError:
    return NBError("general_failure", f"This job is not in a state which can {action}")


class NeverBounceEmulator(NeverBounceV3Mixin, VendorEmulator):
    """NeverBounce v3, v4, v4.1 and v4.2 over one account model and one job table."""

    vendor = "neverbounce"
    prefix = "/neverbounce"

    def __init__(self, state: EmulatorState) -> None:
        self.book = JobBook(state)
        #: v3 access tokens -> (API key, expiry on the monotonic clock)
        self.tokens: dict[str, tuple[str, float]] = {}
        super().__init__(state)

    def reset(self) -> None:
        """Forget jobs (their rows on disk too) and v3 tokens."""
        self.book.reset()
        self.tokens.clear()

    def option(self, name: str, default: Any) -> Any:
        return self.state.option("neverbounce", name, default)

    def stats_vendor(self, path: str) -> str:
        return "neverbounce_v3" if path.startswith("/v3/") else "neverbounce"

    # -- routing ----------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        handlers: dict[str, Callable[[Call], Awaitable[Response]]] = {
            "account/info": self._account_info,
            "single/check": self._single_check,
            "jobs/create": self._jobs_create,
            "jobs/parse": self._jobs_parse,
            "jobs/start": self._jobs_start,
            "jobs/status": self._jobs_status,
            "jobs/results": self._jobs_results,
            "jobs/download": self._jobs_download,
            "jobs/search": self._jobs_search,
            "jobs/delete": self._jobs_delete,
            "poe/confirm": self._poe_confirm,
        }
        routes = [
            self.endpoint(f"/{version}/{name}", self._v4(version, name, handler), ["GET", "POST"])
            for version in V4_VERSIONS
            for name, handler in handlers.items()
        ]
        return routes + self.v3_routes()

    def _v4(self, version: str, name: str, handler: Callable[[Call], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            from starlette.responses import PlainTextResponse

            if request.method not in ("GET", "POST"):
                return PlainTextResponse("Method Not Allowed", status_code=405)
            limit = int(self.option("max_payload_bytes", MAX_PAYLOAD_BYTES))
            call = Call(version, {})
            try:
                if name == "jobs/create" and media_type(request) == "application/json":
                    call.params = await self._create_params(request, limit)
                else:
                    call.params = await read_params(request, limit)
            except UploadLimitError:
                return too_large()
            try:
                call.key = self._authenticate(call.params)
                self.book.advance()
                return await handler(call)
            except NBError as err:
                return call.fail(err.status, err.message)
            finally:
                rows = call.params.get("input")
                if isinstance(rows, SuppliedRows) and not getattr(rows, "adopted", False):
                    rows.spool.discard()
                self.book.ensure_ticker()

        return run

    async def _create_params(self, request: Request, limit: int) -> dict[str, Any]:
        """jobs/create with a JSON body: ``input`` rows go to a spool while the body streams in."""
        params = nest(request.query_params.multi_items())
        rows = SuppliedRows(self.state.new_spool(), header_is_record=bool(self.option("object_header_row", False)))
        stream = JsonArrayStream(request.stream(), key="input", max_bytes=limit)
        try:
            async for item in stream:
                rows.add(item)
        except UploadLimitError:
            rows.spool.discard()
            await stream.drain()
            raise
        except ValueError:  # not a JSON object: the parameters are not seen
            rows.spool.discard()
            await stream.drain()
            return params
        rows.close()
        params.update(json_members(stream.members))
        if stream.found:
            params["input"] = rows
        else:
            rows.spool.discard()
        return params

    def _authenticate(self, params: dict[str, Any]) -> str:
        key = params.get("key")
        if key is None or key == "":
            raise missing("key")
        key = str(key)
        if not self.state.is_valid_key(key):
            message = f"Invalid API key '{key}'" if self.option("auth_failure_echo_key", False) else "The key provided is invalid"
            raise NBError("auth_failure", message)
        return key

    # -- faults in NeverBounce's shapes -------------------------------------------------------------------
    def throttle_response(self, path: str) -> Response:
        if path.startswith("/v3/"):
            return super().throttle_response(path)
        return Call("", {}).fail("throttle_triggered", "Too many requests in a short amount of time")

    def error_response(self, path: str) -> Response:
        from starlette.responses import HTMLResponse, PlainTextResponse

        if self.option("error_style", "http") == "temp_unavail" and not path.startswith("/v3/"):
            return Call("", {}).fail("temp_unavail", "Unable to communicate with backend services")
        if self.state.randint(0, 1):
            return HTMLResponse(NGINX_PAGE.format(code="502 Bad Gateway"), status_code=502)
        return PlainTextResponse("Service Unavailable", status_code=503)

    # -- helpers ------------------------------------------------------------------------------------------
    def _job(self, call: Call) -> Job:
        job_id = call.integer("job_id", required=True)
        job = self.book.get(call.key, job_id)
        if job is None:
            raise NBError("general_failure", f"The job ({job_id}) could not be found")
        return job

    def credits_info(self, key: str) -> dict[str, int]:
        balance, used = self.state.balance(key), self.book.used[key]
        if self.option("credits_info_shape", "paid") == "monthly":
            return {"free_credits_used": used, "free_credits_remaining": balance, "monthly_api_usage": used}
        return {"paid_credits_used": used, "free_credits_used": 0, "paid_credits_remaining": balance, "free_credits_remaining": 0}

    def job_view(self, job: Job, version: str) -> dict[str, Any]:
        """The jobs/status object without ``status``/``execution_time`` (also a jobs/search item)."""
        total: dict[str, Any] = dict.fromkeys(TOTAL_FIELDS)
        summary = job.summary
        if summary is not None:
            total.update(records=summary.records, billable=summary.billable, duplicates=summary.duplicates, bad_syntax=summary.bad_syntax)
            if job.run_kind == "full" and job.phase in ("running", "complete"):
                processed = job.processed()
                total["processed"] = processed
                total.update(summary.counts(processed))
        percent = 0.0
        if job.phase == "complete":
            percent = 100.0
        elif job.phase == "running" and job.clock is not None:
            percent = 100.0 * job.clock.processed() / max(job.clock.total, 1)
        view: dict[str, Any] = {
            "id": job.id,
            "filename": job.filename,
            "created_at": fmt_time(job.created),
            "started_at": fmt_time(job.sample_started or job.run_started),
            "finished_at": fmt_time(job.finished),
        }
        if version == "v4.2":
            view["failure_reason"] = job.failure_reason
        status = job.phase if job.phase != "unparsed" else self.option("unparsed_job_status", "waiting")
        view.update(
            total=total,
            bounce_estimate=job.bounce_estimate,
            percent_complete=int(percent) if percent.is_integer() else round(percent, 2),
            job_status=status,
        )
        return view

    # -- endpoints ---------------------------------------------------------------------------------------
    async def _account_info(self, call: Call) -> Response:
        phases = Counter(job.phase for job in self.book.jobs(call.key))
        counts = {
            "completed": phases["complete"],
            "under_review": phases["under_review"],
            "queued": phases["queued"],
            "processing": phases["uploading"] + phases["parsing"] + phases["running"],
        }
        return call.ok(credits_info=self.credits_info(call.key), job_counts=counts)

    async def _single_check(self, call: Call) -> Response:
        email = call.text("email", required=True)
        want_address = call.flag("address_info", False)
        want_credits = call.flag("credits_info", False)
        historical = meta_flag(call.params, "leverage_historical_data", True)
        timeout = call.integer("timeout", None, minimum=0)
        if not self.state.spend(call.key, 1):
            raise NBError("general_failure", insufficient_credits_message(1, self.state.balance(call.key)))
        self.book.used[call.key] += 1
        verdict = classify(email)
        result = nb_result(verdict)
        delay = float(self.option("single_check_seconds", 0))
        if delay > 0:
            await asyncio.sleep(delay if timeout is None else min(delay, timeout))
            if timeout is not None and timeout < delay:
                result = "unknown"
        body: dict[str, Any] = {
            "result": result,
            "flags": nb_flags(verdict, version=call.version, historical=historical and self.option("historical_flag", False)),
            "suggested_correction": verdict.suggestion or "",
            "retry_token": "",
        }
        if want_address:
            body["address_info"] = address_parts(email, verdict)
        if want_credits:
            body["credits_info"] = self.credits_info(call.key)
        return call.ok(**body)

    async def _jobs_create(self, call: Call) -> Response:
        location = call.text("input_location", required=True)
        if location not in ("supplied", "remote_url"):
            raise invalid("input_location")
        value = call.params.get("input")
        if value is None or value == "" or value == []:
            raise missing("input")
        headers = call.params.get("callback_headers") or {}
        if not isinstance(headers, dict):
            raise invalid("callback_headers")
        fields: dict[str, Any] = {
            "filename": call.text("filename") or "",
            "input_location": location,
            "auto_start": call.flag("auto_start", False),
            "run_sample": call.flag("run_sample", False),
            "allow_manual_review": call.flag("allow_manual_review", False),
            "historical": meta_flag(call.params, "leverage_historical_data", True),
            "callback_url": call.text("callback_url") or None,
            "callback_headers": {str(name): str(text) for name, text in headers.items()},
        }
        auto_parse = call.flag("auto_parse", False)
        if location == "remote_url":
            job = self.book.create(api_key=call.key, api="v4", version=call.version, spool=self.state.new_spool(), **fields)
            self.book.upload(job, self._remote_url(value))
        else:
            rows = value if isinstance(value, SuppliedRows) else await self._ingest(value)
            rows.adopted = True  # type: ignore[attr-defined]
            job = self.book.create(
                api_key=call.key,
                api="v4",
                version=call.version,
                spool=rows.spool,
                header=rows.header,
                header_in_spool=rows.header_in_spool,
                email_col=rows.email_col or 0,
                **fields,
            )
        if auto_parse:
            self.book.parse(job)
        return call.ok(job_id=job.id)

    @staticmethod
    def _remote_url(value: Any) -> str:
        """``input`` of a remote_url job: a string (Node 5 sends a one-element array)."""
        if isinstance(value, SuppliedRows):
            value = [value.first_item] if value.items == 1 else None
            # the rows spooled for it are dropped with the request
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str) or not value.strip():
            raise invalid("input")
        return value.strip()

    async def _ingest(self, value: Any) -> SuppliedRows:
        try:
            items = as_row_list(value)
        except ValueError:
            raise invalid("input") from None
        rows = SuppliedRows(self.state.new_spool(), header_is_record=bool(self.option("object_header_row", False)))

        def fill() -> None:
            for item in items:
                rows.add(item)
            rows.close()

        await asyncio.to_thread(fill)
        return rows

    async def _jobs_parse(self, call: Call) -> Response:
        job = self._job(call)
        if job.parse_requested or job.phase not in ("unparsed", "uploading"):
            raise state_error("be parsed")
        self.book.parse(job, call.flag("auto_start", None))
        return call.ok(queue_id=queue_id())

    async def _jobs_start(self, call: Call) -> Response:
        job = self._job(call)
        sample = call.flag("run_sample", False)
        review = call.flag("allow_manual_review", None)
        if job.phase not in ("waiting", "waiting_analyzed") or (sample and job.phase == "waiting_analyzed"):
            raise state_error("be started")
        if review is not None:
            job.allow_manual_review = review
        try:
            self.book.start(job, sample=sample)
        except InsufficientCredits as err:
            if self.option("insufficient_credits", "reject") != "fail_job":
                raise NBError("general_failure", err.message) from None
            self.book.fail(job, err.message)
        return call.ok(queue_id=queue_id())

    async def _jobs_status(self, call: Call) -> Response:
        return call.ok(**self.job_view(self._job(call), call.version))

    async def _jobs_results(self, call: Call) -> Response:
        job = self._job(call)
        page = call.integer("page", 1, minimum=1)
        per_page = min(max(call.integer("items_per_page", 10), 1), 1000)
        wanted = {name: bool(call.flag(name, True)) for name in SEGMENTS}
        if job.phase != "complete" or job.summary is None:
            raise state_error("return results")
        results = frozenset(SEGMENTS[name] for name, on in wanted.items() if on)
        counts = job.summary.counts()
        total = sum(counts[result] for result in results)
        historical = job.historical and self.option("historical_flag", False)
        rows = await asyncio.to_thread(
            results_page, job, (page - 1) * per_page, per_page, None if len(results) == len(SEGMENTS) else results
        )
        items = [
            {"data": job.data_of(row), "verification": verification(job.email_of(row), version=call.version, historical=historical)}
            for row in rows
        ]
        query = {"job_id": job.id, **{name: int(on) for name, on in wanted.items()}, "page": page, "items_per_page": per_page}
        return call.ok(total_results=total, total_pages=-(-total // per_page), query=query, results=items)

    async def _jobs_download(self, call: Call) -> Response:
        from starlette.responses import StreamingResponse

        job = self._job(call)
        options = download_options(call.params, self.option)
        if job.phase != "complete":
            raise state_error("be downloaded")
        only_repeats = self.option("only_duplicates", "all") == "repeats"
        return StreamingResponse(v4_download(job, options, only_repeats=only_repeats), media_type="application/octet-stream")

    async def _jobs_search(self, call: Call) -> Response:
        page = call.integer("page", 1, minimum=1)
        per_page = min(max(call.integer("items_per_page", 10), 1), 1000)
        job_id = call.integer("job_id", None)
        filename = call.text("filename")
        if filename is None and self.option("search_job_name_alias", False):
            filename = call.text("job_name")
        status = call.text("job_status") or None
        if status is not None and status not in JOB_STATUSES:
            raise invalid("job_status")
        legacy: set[str] = set()
        for name, statuses in LEGACY_FILTERS.items():
            if call.flag(name, False):
                legacy |= statuses
        views = [
            view
            for view in (self.job_view(job, call.version) for job in self.book.jobs(call.key))
            if (job_id is None or view["id"] == job_id)
            and (filename is None or view["filename"] == filename)
            and (status is None or view["job_status"] == status)
            and (not legacy or view["job_status"] in legacy)
        ]
        query: dict[str, Any] = {"page": page, "items_per_page": per_page}
        for name, value in (("job_id", job_id), ("filename", filename), ("job_status", status)):
            if value is not None:
                query[name] = value
        start = (page - 1) * per_page
        return call.ok(
            total_results=len(views),
            total_pages=-(-len(views) // per_page),
            query=query,
            results=views[start : start + per_page],
        )

    async def _jobs_delete(self, call: Call) -> Response:
        if not self.book.delete(self._job(call)):
            raise state_error("be deleted")
        return call.ok()

    async def _poe_confirm(self, call: Call) -> Response:
        email = call.text("email", required=True)
        transaction_id = call.text("transaction_id", required=True)
        token = call.text("confirmation_token", required=True)
        result = call.text("result", required=True)
        expected = poe_token(email, transaction_id, result)
        confirmed = bool(self.option("poe_accept_any_token", False)) or hmac.compare_digest(token, expected)
        return call.ok(token_confirmed=confirmed)
