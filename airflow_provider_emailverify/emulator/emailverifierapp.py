# Licensed under the Apache License, Version 2.0.
"""
Email Verifier App (emailverifierapp.com) emulator, served under ``/emailverifierapp``
(specs/emailverifierapp.md).

Endpoints, on the paths below ``https://api.evasrv.com``, all form POSTs authenticated by the
``user_API_token`` field: ``/email_verification/`` (real-time; with any of ``free``,
``disposable``, ``did_you_mean``, ``role``, ``bad``, ``ev_score`` it is the Form Validation API),
``/batch_process/`` (multipart upload, one job per file part), ``/job_progress/`` and
``/get_results/``. The result files those links point at are served by the emulator itself,
without auth, at ``GET /downloads/{job_id}/{token}/{valid|invalid|unknown}.csv``.

Verdicts come from :func:`~.core.classify`: ``Valid``, ``Invalid``, ``Risky`` (catch-all) or
``Unknown``; disposable addresses are ``Valid`` with ``disposable: true`` (the vendor reports
disposable only as a flag). Jobs go ``In Queue`` → ``Processing`` → ``Completed``; the vendor
has no failed stage, so ``fail_jobs`` does not apply.

[ASSUMED] choices (almost everything here); switches in ``options: {"emailverifierapp": {...}}``:

- ``errors_as_200`` (false): errors answer with their own HTTP status: 401 ``Invalid API Token``,
  402 ``Insufficient API credit``, 400 ``Missing parameter: <name>``, 404 ``Job not found``, 400
  ``File too large`` / ``Invalid file``, all as ``{"status": "failed", "message": ...}``; true
  sends the same bodies with HTTP 200, as legacy APIs of this style do.
- ``profile`` (``"A"``): the real-time body of the documented example (``status``,
  ``free_email``, ``typo_suggest`` …); ``"B"`` gives the attribute page's body (``success``,
  ``result``, ``reason``, ``free``, ``did_you_mean`` …; disposable is ``risky``/``Low Quality``).
- ``job_id_format`` (``"list"``): batch_process returns ``job_id`` as a list of strings;
  ``"scalar"`` returns the first id as a string, ``"number"`` a list of integers.
- ``queue_seconds`` (0.2): time a job spends ``In Queue``.
- ``max_rows`` (1,000,000) and ``max_bytes`` (100 MB) per uploaded file.
- Paths ``/batch_process/``, ``/job_progress/``, ``/get_results/``; any file part is a list
  (``file`` by convention); job ids are ``"001"``, ``"002"`` …
- Credits: one per real-time or form-validation call and one per uploaded row, charged by
  batch_process (all files or none). There is no balance endpoint (use the control plane).
- Real-time ``email`` is echoed lower-cased; messages: ``User exists!``, ``User does not
  exist!``, ``Domain accepts all emails``, ``Could not verify``; ``bad_address`` for local parts
  starting ``trap``/``spamtrap``; ``typo_suggest`` is the string ``"None"`` when there is none.
- Form validation: ``Invalid`` only for bad syntax or an invalid domain, else ``Valid``; only the
  flags asked for are returned; ``ev_score`` is 100/50/25/0 for deliverable/risky/unknown/
  undeliverable.
- ``percentage`` is a two-decimal string, ``"100.00"`` only when complete; links are empty
  strings until ``Completed``.
- Result files: every field quoted, CRLF; an uploaded header's columns (header-less uploads: none)
  then ``Email, Status, Free Email, Disposable, Role Address, Bad Address, Typo Suggestion`` with
  ``True``/``False`` flags; ``Risky`` and ``Unknown`` rows go to the unknown file.
- Injected 429s answer ``{"status": "failed", "message": "Too many requests"}`` with Retry-After.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import (
    JobClock,
    JobStore,
    VendorEmulator,
    classify,
    is_spamtrap,
    suggestion_of,
)
from airflow_provider_emailverify.emulator.downloads import coded_chunks, csv_cell, csv_cells
from airflow_provider_emailverify.emulator.streams import UploadLimitError, as_bool, ingest_csv, json_response
from airflow_provider_emailverify.emulator.verdict_codes import CODED, verdict_code

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.datastructures import FormData
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from airflow_provider_emailverify.emulator.core import RowSpool, Verdict
    from airflow_provider_emailverify.emulator.verdict_codes import CodedVerdict

VENDOR = "emailverifierapp"
FORM_FLAGS = ("free", "disposable", "did_you_mean", "role", "bad", "ev_score")
FILE_COLUMNS = ("Email", "Status", "Free Email", "Disposable", "Role Address", "Bad Address", "Typo Suggestion")
FILES = {"valid": "Valid", "invalid": "Invalid", "unknown": "Unknown"}
_MESSAGES = {
    "Valid": "User exists!",
    "Invalid": "User does not exist!",
    "Risky": "Domain accepts all emails",
    "Unknown": "Could not verify",
}
#: classify() kind -> (profile B result, reason, message)
_PROFILE_B = {
    "valid": ("valid", "Accepted Email", "The mail server accepted the address."),
    "syntax": ("invalid", "Invalid Email", "The address is not formatted correctly."),
    "invalid_domain": ("invalid", "Invalid Domain", "The domain does not exist or has no mail server."),
    "rejected": ("invalid", "Rejected Email", "The mail server rejected the address."),
    "catchall": ("risky", "Low Deliverability", "The domain accepts every address."),
    "disposable": ("risky", "Low Quality", "The address belongs to a disposable email provider."),
    "unknown": ("unknown", "Timeout", "The mail server did not answer in time."),
}
_SCORES = {"deliverable": 100, "risky": 50, "unknown": 25, "undeliverable": 0}


def status_of(verdict: Verdict | CodedVerdict) -> str:
    """Email Verifier App's status: ``Valid``, ``Invalid``, ``Risky`` or ``Unknown``."""
    if verdict.kind in ("valid", "disposable"):
        return "Valid"
    if verdict.kind == "catchall":
        return "Risky"
    return "Unknown" if verdict.kind == "unknown" else "Invalid"


def file_of(status: str) -> str:
    """Which result file a status lands in: ``valid``, ``invalid`` or ``unknown``."""
    return {"Valid": "valid", "Invalid": "invalid"}.get(status, "unknown")


def _tf(flag: bool) -> str:
    return "True" if flag else "False"


@dataclass
class BatchJob:
    """One uploaded file: rows on disk and their verdict codes, its header (if any), a clock and the links' secret."""

    job_id: str
    api_key: str
    spool: RowSpool
    header: list[str] | None
    email_index: int
    clock: JobClock
    token: str
    #: :func:`~.verdict_codes.verdict_code` of each row's address
    codes: bytearray

    def stage(self) -> str:
        if not self.clock.started_yet():
            return "In Queue"
        return "Completed" if self.clock.finished() else "Processing"

    def percentage(self) -> str:
        if self.clock.finished():
            return "100.00"
        return f"{min(99.99, 100.0 * self.clock.processed() / max(self.clock.total, 1)):.2f}"


class EmailVerifierAppEmulator(VendorEmulator):
    """Email Verifier App under ``/emailverifierapp``."""

    vendor = VENDOR
    prefix = "/emailverifierapp"

    def __init__(self, state: Any) -> None:
        self.jobs = JobStore()
        self._sequence = 0
        super().__init__(state)

    def reset(self) -> None:
        """Forget every job and restart job numbering."""
        self.jobs.clear()
        self._sequence = 0

    def throttle_body(self, path: str) -> Any:
        """Injected 429s carry the failed-status body."""
        return {"status": "failed", "message": "Too many requests"}

    def failed(self, status: int, message: str) -> Response:
        """An error body, with its HTTP status unless ``errors_as_200`` is on."""
        code = 200 if self.option("errors_as_200", False) else status
        return json_response({"status": "failed", "message": message}, code)

    def routes(self) -> list[BaseRoute]:
        """The four form-POST APIs (token-authenticated) and the unauthenticated result files."""
        table = [
            ("/email_verification/", self.verify),
            ("/batch_process/", self.batch_process),
            ("/job_progress/", self.job_progress),
            ("/get_results/", self.get_results),
        ]
        routes = [self.endpoint(path, self._authenticated(handler), ["POST"]) for path, handler in table]
        routes.append(self.endpoint("/downloads/{job_id}/{token}/{name}", self.result_file, ["GET"]))
        return routes

    def _authenticated(self, handler: Any) -> Any:
        async def run(request: Request) -> Response:
            async with request.form(max_files=100) as form:
                key = form.get("user_API_token")
                if not isinstance(key, str) or not self.state.is_valid_key(key):
                    return self.failed(401, "Invalid API Token")
                return await handler(request, form, key)

        return run

    # -- real-time and form validation --------------------------------------------------------------
    async def verify(self, request: Request, form: FormData, key: str) -> Response:
        email = form.get("email")
        if not isinstance(email, str) or not email.strip():
            return self.failed(400, "Missing parameter: email")
        asked = {name for name in FORM_FLAGS if _flag(form.get(name))}
        validation = any(name in form for name in FORM_FLAGS)
        if not self.state.spend(key, 1):
            return self.failed(402, "Insufficient API credit")
        verdict = classify(email.strip())
        if validation:
            return json_response(self._validation_body(verdict, asked))
        if str(self.option("profile", "A")).upper() == "B":
            return json_response(self._profile_b(verdict))
        status = status_of(verdict)
        return json_response({
            "status": status,
            "domain": verdict.domain,
            "free_email": verdict.free,
            "disposable": verdict.disposable,
            "typo_suggest": verdict.suggestion or "None",
            "role_address": verdict.role,
            "bad_address": is_spamtrap(verdict),
            "message": _MESSAGES[status],
            "email": verdict.email.lower(),
        })

    @staticmethod
    def _profile_b(verdict: Verdict) -> dict[str, Any]:
        result, reason, message = _PROFILE_B[verdict.kind]
        return {
            "success": True, "user": verdict.local, "domain": verdict.domain, "email": verdict.email.lower(),
            "result": result, "reason": reason, "message": message, "risky": result == "risky",
            "disposable": verdict.disposable, "free": verdict.free, "bad": is_spamtrap(verdict), "role": verdict.role,
            "did_you_mean": verdict.suggestion, "ev_score": _SCORES[verdict.category],
        }

    @staticmethod
    def _validation_body(verdict: Verdict, asked: set[str]) -> dict[str, Any]:
        valid = verdict.kind not in ("syntax", "invalid_domain")
        body: dict[str, Any] = {
            "email": verdict.email.lower(), "domain": verdict.domain, "status": "Valid" if valid else "Invalid",
            "message": "Email address format and domain are valid" if valid else "Email address is not valid",
        }
        flags = {
            "free": ("free_email", verdict.free),
            "disposable": ("disposable", verdict.disposable),
            "did_you_mean": ("typo_suggest", verdict.suggestion or "None"),
            "role": ("role_address", verdict.role),
            "bad": ("bad_address", is_spamtrap(verdict)),
            "ev_score": ("ev_score", _SCORES[verdict.category]),
        }
        body.update(flags[name] for name in FORM_FLAGS if name in asked)
        return body

    # -- batch ----------------------------------------------------------------------------------------
    async def batch_process(self, request: Request, form: FormData, key: str) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.datastructures import UploadFile

        uploads = [value for _name, value in form.multi_items() if isinstance(value, UploadFile)]
        if not uploads:
            return self.failed(400, "Missing parameter: file")
        max_rows = int(self.option("max_rows", 1_000_000))
        max_bytes = int(self.option("max_bytes", 100 * 1024 * 1024))
        lists: list[tuple[RowSpool, Any, bytearray]] = []
        refusal: Response | None = None
        for upload in uploads:
            spool, codes = self.state.new_spool(), bytearray()
            lists.append((spool, None, codes))
            try:
                info = await run_in_threadpool(
                    ingest_csv, upload.file, spool, max_rows=max_rows, max_bytes=max_bytes,
                    plain_lines=(upload.filename or "").lower().endswith(".txt"),
                    on_email=lambda email, codes=codes: codes.append(verdict_code(classify(email))),
                )
            except UploadLimitError:
                refusal = self.failed(400, "File too large")
                break
            except ValueError:
                refusal = self.failed(400, "Invalid file")
                break
            spool.close()
            lists[-1] = (spool, info, codes)
            if not info.rows:
                refusal = self.failed(400, "Invalid file")
                break
        if refusal is None and not self.state.spend(key, sum(spool.count for spool, _info, _codes in lists)):
            refusal = self.failed(402, "Insufficient API credit")
        if refusal is not None:
            for spool, _info, _codes in lists:
                spool.discard()
            return refusal
        delay = float(self.option("queue_seconds", 0.2))
        ids = []
        for spool, info, codes in lists:
            with self.state.lock:
                self._sequence += 1
                job_id = f"{self._sequence:03d}"
            job = BatchJob(job_id, key, spool, info.header, info.email_index,
                           JobClock(self.state, spool.count, delay=delay), secrets.token_urlsafe(16), codes)
            self.jobs.add(job_id, job)
            self.state.count_job(VENDOR)
            ids.append(job_id)
        shape = self.option("job_id_format", "list")
        job_ids: Any = ids[0] if shape == "scalar" else [int(i) for i in ids] if shape == "number" else ids
        return json_response({"status": "success", "job_id": job_ids})

    def _job(self, form: FormData, key: str) -> BatchJob | Response:
        job_id = form.get("job_id")
        if not isinstance(job_id, str) or not job_id.strip():
            return self.failed(400, "Missing parameter: job_id")
        job = self.jobs.get(job_id.strip(), key)
        if job is None and job_id.strip().isdigit():
            job = self.jobs.get(f"{int(job_id):03d}", key)
        return job if job is not None else self.failed(404, "Job not found")

    async def job_progress(self, request: Request, form: FormData, key: str) -> Response:
        job = self._job(form, key)
        if not isinstance(job, BatchJob):
            return job
        return json_response({"status": "success", "percentage": job.percentage(), "stage": job.stage()})

    async def get_results(self, request: Request, form: FormData, key: str) -> Response:
        job = self._job(form, key)
        if not isinstance(job, BatchJob):
            return job
        stage = job.stage()
        links = dict.fromkeys(FILES, "")
        if stage == "Completed":
            base = f"{request.url.scheme}://{request.url.netloc}{self.prefix}/downloads/{job.job_id}/{job.token}"
            links = {name: f"{base}/{name}.csv" for name in FILES}
        return json_response({
            "status": "success", "percentage": job.percentage(), "stage": stage,
            "invalid_result_link": links["invalid"], "valid_result_link": links["valid"],
            "unknown_link": links["unknown"],
        })

    async def result_file(self, request: Request) -> Response:
        """A result file behind a link handed out by ``get_results`` (no auth: the link is the secret)."""
        from starlette.responses import PlainTextResponse, StreamingResponse

        params = request.path_params
        job = self.jobs.get(params["job_id"])
        name = params["name"].removesuffix(".csv")
        if (job is None or not secrets.compare_digest(job.token, params["token"]) or name not in FILES
                or not params["name"].endswith(".csv") or job.stage() != "Completed"):
            return PlainTextResponse("Not Found", status_code=404)
        return StreamingResponse(self._file_lines(job, name), media_type="text/csv; charset=utf-8")

    @staticmethod
    def _file_lines(job: BatchJob, name: str) -> Iterator[bytes]:
        """
        One result file: the uploaded cells, then the address, and the status and flag columns
        compiled once per verdict code, then the suggestion (where the code says there is one).
        """
        cells = csv_cells(quote_all=True, width=len(job.header or []), cut=True)
        email_index = job.email_index
        appended: list[tuple[str, bool] | None] = []
        for verdict in CODED:
            status = status_of(verdict) if verdict is not None else ""
            if verdict is None or file_of(status) != name:
                appended.append(None)
                continue
            flags = (verdict.free, verdict.disposable, verdict.role, is_spamtrap(verdict))
            columns = "".join("," + csv_cell(value, quote=True) for value in (status, *map(_tf, flags)))
            appended.append((columns + ',"', verdict.typo))

        def render(row: list[str], code: int, index: int) -> str | None:
            piece = appended[code]
            if piece is None:
                return None
            after, typo = piece
            email = row[email_index] if email_index < len(row) else ""
            line = csv_cell(email, quote=True) + after + (suggestion_of(email) if typo else "") + '"\r\n'
            submitted = cells(row)
            return submitted + "," + line if submitted else line

        header = csv_cells(quote_all=True, width=0)([*(job.header or []), *FILE_COLUMNS]) + "\r\n"
        keep = [piece is not None for piece in appended]
        return coded_chunks(job.spool, job.codes, render, keep=keep, head=header)


def _flag(value: Any) -> bool:
    """A form flag (``true``/``True``/``1`` …); anything unreadable counts as not asked for."""
    try:
        return as_bool(value)
    except ValueError:
        return False
