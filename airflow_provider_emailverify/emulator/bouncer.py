# Licensed under the Apache License, Version 2.0.
"""
Bouncer (usebouncer.com) API v1.1 emulator, served under ``/bouncer`` (specs/bouncer.md).

Endpoints, on the real paths below ``https://api.usebouncer.com``: ``GET /v1.1/email/verify``,
``GET /v1.1/credits``, ``POST /v1.1/email/verify/batch`` (JSON array or ``text/plain``),
``GET|DELETE /v1.1/email/verify/batch/{batchId}``, ``GET …/{batchId}/download`` (JSON, or CSV with
``Accept: text/csv``), ``POST …/{batchId}/finish``, ``POST /v1.1/email/verify/batch/sync``,
``GET /v1.1/domain``, the v1 toxicity lists ``/v1/toxicity/list[/{id}[/data]]`` and sampling
``/v1/email/verify/batch/sample[/{id}]``. Auth: ``x-api-key`` or HTTP Basic with an empty user.

Verdicts come from :func:`~.core.classify`, except the documented sandbox addresses
(``deliverable@sandbox.usebouncer.com`` …, any ``+tag``), which follow the spec's table and cost
nothing. Batch credits are reserved at creation and the unused part returned on completion.

[ASSUMED] choices; those with alternatives are switches in ``options: {"bouncer": {...}}``:

- ``queue_seconds`` (0.2): how long a batch stays ``queued`` before ``processing``.
- ``finish_unverified`` (``"unknown"``): after ``/finish``, unverified addresses are reported
  ``unknown``/``unknown``; ``"drop"`` leaves them out of results and stats.
- ``deleted_download_status`` (405): downloading a deleted batch answers 405 ``"email addresses
  and results have been removed"``; 404 answers ``"request <id> does not exist"``.
- ``sync_cache_seconds`` (86400): how long batch-sync results are reused without a charge
  (cache keyed by the lower-cased address, per API key).
- ``sample_size`` (1000): addresses analysed by the sampling endpoint (a deterministic sample).
- ``quantity`` counts every submitted entry, duplicates included; results collapse duplicates
  (case-insensitive) and keep submission order; credits are reserved per unique address.
- ``skip-header=true`` drops the first line of a ``text/plain`` body; default false.
- ``timeout`` is clamped to 1..30; a non-integer answers 400 ``"invalid timeout"``; a missing
  ``email``/``domain`` answers 400 ``"email is required"``/``"domain is required"``; an empty
  batch 400 ``"no emails provided"``; malformed bodies 400 ``"invalid request body"``.
- ``finish`` only while ``processing``; ``DELETE`` only once ``completed``; no ``failed`` state
  (``fail_jobs`` turns toxicity lists to ``error`` and refunds them).
- The callback is a JSON POST of the status-with-stats body, fired once on completion.
- CSV columns: ``email,name,status,reason,domain,acceptAll,disposable,free,role,disabled,
  fullMailbox,dnsType,dnsRecord,provider,score,toxic,toxicity,didYouMean,retryAfter``.
- Toxicity scores: local part starting ``toxic`` 5, spam trap 4, disposable 3, undeliverable 2,
  role 1, else 0; ``toxic`` is ``"yes"`` from 4 up. Toxicity lists cost 1 credit per address;
  sampling is free; unknown list/sample ids answer 404 ``"list not found"``/``"sample <id> does
  not exist"``. Injected 5xx are 503 with the JSON error envelope.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.bouncer_download import batch_code, download
from airflow_provider_emailverify.emulator.bouncer_records import (
    STATUSES,
    api_key_of,
    email_record,
    error,
    sandbox_kind,
    toxicity_of,
    yes_no,
)
from airflow_provider_emailverify.emulator.core import (
    BackgroundTasks,
    JobClock,
    JobStore,
    VendorEmulator,
    VerdictTally,
    classify,
)
from airflow_provider_emailverify.emulator.streams import (
    JsonArrayStream,
    as_bool,
    drain,
    iso_millis,
    iter_body_lines,
    json_array_response,
    json_response,
)
from airflow_provider_emailverify.emulator.verdict_codes import UNCODED

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from airflow_provider_emailverify.emulator.core import RowSpool

log = logging.getLogger(__name__)

VENDOR = "bouncer"
BATCH_LIMIT = 100_000
SYNC_LIMIT = 10_000


class BodyError(ValueError):
    """A batch body Bouncer refuses with 400 (the message is the vendor's)."""


@dataclass
class Batch:
    """One batch: unique ``[email, name]`` rows on disk, their codes and a tally of their statuses, a clock."""

    batch_id: str
    api_key: str
    spool: RowSpool
    tally: VerdictTally
    #: :func:`~.bouncer_download.batch_code` of each row
    codes: bytearray
    clock: JobClock
    created: float
    started: float
    quantity: int
    duplicates: int
    reserved: int
    callback: str | None = None
    #: rows verified when finished early
    stopped_at: int | None = None
    completed: float | None = None
    credits: int | None = None

    def done(self) -> bool:
        return self.stopped_at is not None or self.clock.finished()

    def verified(self) -> int:
        return self.stopped_at if self.stopped_at is not None else self.clock.processed()

    def phase(self) -> str:
        if self.done():
            return "completed"
        return "processing" if self.clock.started_yet() else "queued"


@dataclass
class ToxicityList:
    """A v1 toxicity list; ``failed`` lists end in ``error``."""

    list_id: str
    api_key: str
    spool: RowSpool
    clock: JobClock
    created: float
    cost: int
    failed: bool
    refunded: bool = False


@dataclass
class Sample:
    """A v1 sampling run over a bounded, deterministic sample of the submitted list."""

    sample_id: str
    api_key: str
    emails: int
    sample: list[str]
    clock: JobClock


class BouncerEmulator(VendorEmulator):
    """Bouncer v1.1 (and the v1 toxicity and sampling endpoints) under ``/bouncer``."""

    vendor = VENDOR
    prefix = "/bouncer"

    def __init__(self, state: Any) -> None:
        self.batches = JobStore()
        self.lists = JobStore()
        self.samples = JobStore()
        self.deleted: set[str] = set()
        self.sync_cache: dict[str, dict[str, float]] = {}
        self.tasks = BackgroundTasks()
        super().__init__(state)

    def reset(self) -> None:
        """Forget batches, toxicity lists, samples, deletions and the batch-sync cache."""
        for store in (self.batches, self.lists, self.samples):
            store.clear()
        self.deleted = set()
        self.sync_cache = {}

    def error_response(self, path: str) -> Response:
        """Injected 5xx: 503 in Bouncer's JSON error envelope."""
        return error(503, "service unavailable")

    def routes(self) -> list[BaseRoute]:
        """Every documented endpoint, authenticated, counted under its path template."""
        batch = "/v1.1/email/verify/batch"
        table = [
            ("/v1.1/email/verify", self.verify, ["GET"]),
            ("/v1.1/credits", self.credits, ["GET"]),
            ("/v1.1/domain", self.domain, ["GET"]),
            (batch + "/sync", self.batch_sync, ["POST"]),
            (batch, self.create_batch, ["POST"]),
            (batch + "/{batchId}", self.batch_status, ["GET"]),
            (batch + "/{batchId}", self.delete_batch, ["DELETE"]),
            (batch + "/{batchId}/download", self.download, ["GET"]),
            (batch + "/{batchId}/finish", self.finish, ["POST"]),
            ("/v1/toxicity/list", self.create_list, ["POST"]),
            ("/v1/toxicity/list/{id}", self.list_status, ["GET"]),
            ("/v1/toxicity/list/{id}", self.delete_list, ["DELETE"]),
            ("/v1/toxicity/list/{id}/data", self.list_data, ["GET"]),
            ("/v1/email/verify/batch/sample", self.create_sample, ["POST"]),
            ("/v1/email/verify/batch/sample/{id}", self.sample_status, ["GET"]),
        ]
        return [self.endpoint(path, self._authenticated(handler), methods) for path, handler, methods in table]

    def _authenticated(self, handler: Any) -> Any:
        async def run(request: Request) -> Response:
            key = api_key_of(request)
            if not key:
                return error(401, "api key is required")
            if not self.state.is_valid_key(key):
                return error(401, "user not found")
            for batch in self.batches.jobs(key):
                self._settle(batch)
            return await handler(request, key)

        return run

    def _charge(self, key: str, amount: int) -> Response | None:
        """Spend credits, or the 402 answer when the account cannot pay."""
        if self.state.spend(key, amount):
            return None
        return error(402, f"{self.state.balance(key)} credits left")

    # -- real-time --------------------------------------------------------------------------------
    async def verify(self, request: Request, key: str) -> Response:
        email = request.query_params.get("email")
        if not email:
            return error(400, "email is required")
        try:
            int(request.query_params.get("timeout", "10"))  # clamped to 1..30; answers come at once
        except ValueError:
            return error(400, "invalid timeout")
        try:
            toxicity = as_bool(request.query_params.get("with-toxicity"))
        except ValueError:
            return error(400, "invalid with-toxicity parameter")
        cost = 0 if sandbox_kind(email) else 1 + int(toxicity)
        refused = self._charge(key, cost)
        return refused or json_response(email_record(email))

    async def credits(self, request: Request, key: str) -> Response:
        return json_response({"credits": self.state.balance(key)})

    async def domain(self, request: Request, key: str) -> Response:
        name = (request.query_params.get("domain") or "").strip().lower()
        if not name:
            return error(400, "domain is required")
        refused = self._charge(key, 1)
        if refused:
            return refused
        verdict = classify("domain-check@" + name)
        body: dict[str, Any] = {
            "domain": {"name": name, "acceptAll": yes_no(verdict.catchall),
                       "disposable": yes_no(verdict.disposable), "free": yes_no(verdict.free)},
        }
        if verdict.kind not in ("syntax", "invalid_domain"):
            body["dns"] = {"type": "MX", "record": f"mx.{name}."}
            body["provider"] = name
        body["toxic"] = "unknown"
        return json_response(body)

    # -- batch bodies -------------------------------------------------------------------------------
    async def _entries(self, request: Request) -> AsyncIterator[tuple[str, str | None]]:
        """``(email, name)`` pairs of a JSON (objects or strings) or ``text/plain`` body, streamed."""
        if request.headers.get("content-type", "").lower().startswith("text/plain"):
            skip = as_bool(request.query_params.get("skip-header"))
            async for line in iter_body_lines(request.stream()):
                if skip:
                    skip = False
                elif line.strip():
                    yield line.strip(), None
            return
        async for item in JsonArrayStream(request.stream()):
            if isinstance(item, str):
                yield item, None
            elif isinstance(item, dict) and isinstance(item.get("email"), str):
                name = item.get("name")
                yield item["email"], None if name is None else str(name)
            else:
                raise BodyError("invalid request body")

    async def _read_limited(self, request: Request, limit: int) -> AsyncIterator[tuple[str, str | None]]:
        """:meth:`_entries`, raising ``BodyError("too many emails")`` past ``limit`` (body drained)."""
        count = 0
        entries = self._entries(request)
        try:
            async for entry in entries:
                count += 1
                if count > limit:
                    raise BodyError("too many emails")
                yield entry
        except BodyError:
            await entries.aclose()
            await drain(request.stream())
            raise
        except ValueError:
            await drain(request.stream())
            raise BodyError("invalid request body") from None

    # -- batches ------------------------------------------------------------------------------------
    async def create_batch(self, request: Request, key: str) -> Response:
        spool = self.state.new_spool()
        tally = VerdictTally(STATUSES, ["billable"])
        codes = bytearray()
        seen: set[str] = set()
        quantity = 0
        try:
            async for email, name in self._read_limited(request, BATCH_LIMIT):
                quantity += 1
                folded = email.lower()
                if folded in seen:
                    continue
                seen.add(folded)
                spool.append([email, name])
                code, status = batch_code(email)
                codes.append(code)
                tally.add(status, ["billable"] if code != UNCODED else [])
        except BodyError as err:
            spool.discard()
            return error(400, str(err))
        spool.close()
        if not quantity:
            spool.discard()
            return error(400, "no emails provided")
        refused = self._charge(key, spool.count)
        if refused:
            spool.discard()
            return refused
        delay = float(self.option("queue_seconds", 0.2))
        now = time.time()
        batch = Batch(
            batch_id=secrets.token_hex(12), api_key=key, spool=spool, tally=tally, codes=codes,
            clock=JobClock(self.state, spool.count, delay=delay), created=now, started=now + delay,
            quantity=quantity, duplicates=quantity - spool.count, reserved=spool.count,
            callback=request.query_params.get("callback") or None,
        )
        self.batches.add(batch.batch_id, batch)
        self.state.count_job(VENDOR)
        log.debug("bouncer batch %s created with %s addresses", batch.batch_id, quantity)
        if batch.callback:
            self.tasks.spawn(self._call_back(batch))
        return json_response({"batchId": batch.batch_id, "created": iso_millis(now), "status": "queued",
                              "quantity": quantity, "duplicates": batch.duplicates})

    def _settle(self, batch: Batch) -> None:
        """On completion: record the credits used and return the rest of the reservation (once)."""
        with self.state.lock:
            if batch.completed is not None or not batch.done():
                return
            verified = batch.verified()
            batch.credits = batch.tally.counts(verified)["billable"]
            self.state.refund(batch.api_key, batch.reserved - batch.credits)
            rps = max(self.state.config.rows_per_second, 1.0)
            batch.completed = min(time.time(), batch.started + verified / rps)

    def _stats(self, batch: Batch) -> tuple[int, dict[str, int]]:
        """``processed`` and per-status counts, counting unverified rows of a finished batch as unknown."""
        verified = batch.verified()
        counts = batch.tally.counts(verified)
        stats = {status: counts[status] for status in STATUSES}
        if batch.stopped_at is not None and self.option("finish_unverified", "unknown") == "unknown":
            stats["unknown"] += batch.spool.count - verified
            verified = batch.spool.count
        return verified, stats

    def _status_body(self, batch: Batch, with_stats: bool) -> dict[str, Any]:
        phase = batch.phase()
        body: dict[str, Any] = {"batchId": batch.batch_id, "created": iso_millis(batch.created)}
        if phase != "queued":
            body["started"] = iso_millis(batch.started)
        if batch.completed is not None:
            body["completed"] = iso_millis(batch.completed)
        body.update(status=phase, quantity=batch.quantity, duplicates=batch.duplicates)
        if batch.credits is not None:
            body["credits"] = batch.credits
        if with_stats:
            body["processed"], body["stats"] = self._stats(batch)
        return body

    def _batch(self, request: Request, key: str) -> Batch | Response:
        batch_id = request.path_params["batchId"]
        batch = self.batches.get(batch_id, key)
        return batch if batch is not None else error(404, f"request {batch_id} does not exist")

    async def batch_status(self, request: Request, key: str) -> Response:
        batch = self._batch(request, key)
        if not isinstance(batch, Batch):
            return batch
        try:
            with_stats = as_bool(request.query_params.get("with-stats"))
        except ValueError:
            return error(400, "invalid with-stats parameter")
        return json_response(self._status_body(batch, with_stats))

    async def download(self, request: Request, key: str) -> Response:
        batch_id = request.path_params["batchId"]
        if batch_id in self.deleted and self.batches.get(batch_id) is None:
            if int(self.option("deleted_download_status", 405)) == 405:
                return error(405, "email addresses and results have been removed")
        batch = self._batch(request, key)
        if not isinstance(batch, Batch):
            return batch
        wanted = request.query_params.get("download", "all")
        if wanted not in ("all", *STATUSES):
            return error(400, "invalid download parameter")
        if batch.phase() != "completed":
            return error(405, "batch is not completed")
        from starlette.responses import StreamingResponse

        as_csv = "text/csv" in request.headers.get("accept", "").lower()
        body = download(batch.spool, batch.codes, wanted=wanted, verified=batch.verified(),
                        unverified=self.option("finish_unverified", "unknown"), as_csv=as_csv)
        if as_csv:
            return StreamingResponse(body, media_type="text/csv; charset=utf-8")
        return StreamingResponse(body, media_type="application/json")

    async def finish(self, request: Request, key: str) -> Response:
        batch = self._batch(request, key)
        if not isinstance(batch, Batch):
            return batch
        if batch.phase() != "processing":
            return error(400, "batch has to be running to finish")
        batch.stopped_at = batch.clock.finish_now()
        self._settle(batch)
        return json_response({}, 202)

    async def delete_batch(self, request: Request, key: str) -> Response:
        batch = self._batch(request, key)
        if not isinstance(batch, Batch):
            return batch
        if batch.phase() != "completed":
            return error(405, "batch cannot be deleted in current state")
        self.batches.pop(batch.batch_id)
        self.deleted.add(batch.batch_id)
        return json_response({})

    async def _call_back(self, batch: Batch) -> None:
        """POST the status-with-stats body to the batch's callback URL once it completes."""
        import httpx

        while not batch.done():
            if self.batches.get(batch.batch_id) is not batch:
                return
            await asyncio.sleep(0.05)
        self._settle(batch)
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(batch.callback or "", json=self._status_body(batch, True))
        except httpx.HTTPError as err:
            log.info("bouncer callback for batch %s failed: %s", batch.batch_id, err)

    async def batch_sync(self, request: Request, key: str) -> Response:
        unique: dict[str, str] = {}
        try:
            async for email, _name in self._read_limited(request, SYNC_LIMIT):
                unique.setdefault(email.lower(), email)
        except BodyError as err:
            return error(400, str(err))
        if not unique:
            return error(400, "no emails provided")
        now = time.time()
        cache = self.sync_cache.setdefault(key, {})
        fresh = float(self.option("sync_cache_seconds", 86400))
        charged = [f for f, e in unique.items() if sandbox_kind(e) is None and now - cache.get(f, -1e18) > fresh]
        refused = self._charge(key, len(charged))
        if refused:
            return refused
        for folded in charged:
            cache[folded] = now
        await asyncio.sleep(min(len(unique) / max(self.state.config.rows_per_second, 1.0), 600.0))
        return json_response([email_record(email) for email in unique.values()])

    # -- v1 toxicity lists ----------------------------------------------------------------------------
    async def create_list(self, request: Request, key: str) -> Response:
        spool = self.state.new_spool()
        try:
            async for email, _name in self._read_limited(request, BATCH_LIMIT):
                spool.append(email)
        except BodyError as err:
            spool.discard()
            return error(400, str(err))
        spool.close()
        if not spool.count:
            spool.discard()
            return error(400, "no emails provided")
        if not self.state.spend(key, spool.count):
            spool.discard()
            return error(402, f"not enough credits, {spool.count} required")
        now = time.time()
        toxicity = ToxicityList(secrets.token_hex(12), key, spool, JobClock(self.state, spool.count), now,
                                spool.count, self.state.job_should_fail())
        self.lists.add(toxicity.list_id, toxicity)
        self.state.count_job(VENDOR)
        return json_response(self._list_body(toxicity))

    def _list_body(self, toxicity: ToxicityList) -> dict[str, Any]:
        status = "processing"
        if toxicity.clock.finished():
            status = "error" if toxicity.failed else "completed"
            with self.state.lock:
                if toxicity.failed and not toxicity.refunded:
                    toxicity.refunded = True
                    self.state.refund(toxicity.api_key, toxicity.cost)
        return {"id": toxicity.list_id, "createdAt": iso_millis(toxicity.created), "status": status}

    def _list(self, request: Request, key: str) -> ToxicityList | Response:
        toxicity = self.lists.get(request.path_params["id"], key)
        return toxicity if toxicity is not None else error(404, "list not found")

    async def list_status(self, request: Request, key: str) -> Response:
        toxicity = self._list(request, key)
        return toxicity if not isinstance(toxicity, ToxicityList) else json_response(self._list_body(toxicity))

    async def list_data(self, request: Request, key: str) -> Response:
        toxicity = self._list(request, key)
        if not isinstance(toxicity, ToxicityList):
            return toxicity
        if self._list_body(toxicity)["status"] != "completed":
            return error(400, "processing is not completed yet")
        rows = ({"email": email, "toxicity": toxicity_of(classify(email))} for email in toxicity.spool)
        return json_array_response(rows)

    async def delete_list(self, request: Request, key: str) -> Response:
        toxicity = self._list(request, key)
        if not isinstance(toxicity, ToxicityList):
            return toxicity
        self.lists.pop(toxicity.list_id)
        return json_response({})

    # -- v1 sampling ----------------------------------------------------------------------------------
    async def create_sample(self, request: Request, key: str) -> Response:
        size = int(self.option("sample_size", 1000))
        picker = random.Random(0)
        sample: list[str] = []
        emails = 0
        try:
            async for email, _name in self._read_limited(request, BATCH_LIMIT):
                emails += 1
                if len(sample) < size:
                    sample.append(email)
                elif (slot := picker.randrange(emails)) < size:
                    sample[slot] = email
        except BodyError as err:
            return error(400, str(err))
        if not emails:
            return error(400, "no emails provided")
        run = Sample(secrets.token_hex(12), key, emails, sample, JobClock(self.state, len(sample)))
        self.samples.add(run.sample_id, run)
        self.state.count_job(VENDOR)
        return json_response(self._sample_body(run))

    def _sample_body(self, run: Sample) -> dict[str, Any]:
        analysed = dict.fromkeys(("count", "undeliverable", "unknown", "disposable", "acceptAll", "role", "toxic"), 0)
        histogram = {str(score): 0 for score in range(6)}
        for email in run.sample[: run.clock.processed()]:
            record = email_record(email)
            domain, account = record.get("domain", {}), record.get("account", {})
            analysed["count"] += 1
            analysed["undeliverable"] += record["status"] == "undeliverable"
            analysed["unknown"] += record["status"] == "unknown"
            analysed["disposable"] += domain.get("disposable") == "yes"
            analysed["acceptAll"] += domain.get("acceptAll") == "yes"
            analysed["role"] += account.get("role") == "yes"
            analysed["toxic"] += record.get("toxic") == "yes"
            histogram[str(record.get("toxicity", 0))] += 1
        estimate = round(100.0 * analysed["undeliverable"] / analysed["count"], 1) if analysed["count"] else 0.0
        return {"id": run.sample_id, "finished": run.clock.finished(), "emails": run.emails,
                "sampled": len(run.sample), "analysed": analysed, "bounceEstimate": estimate, "toxicity": histogram}

    async def sample_status(self, request: Request, key: str) -> Response:
        run = self.samples.get(request.path_params["id"], key)
        if run is None:
            return error(404, f"sample {request.path_params['id']} does not exist")
        return json_response(self._sample_body(run))
