# Licensed under the Apache License, Version 2.0.
"""
Bouncer's wire vocabulary for the emulator: ``EmailRecord`` rendering (sandbox table, then
:func:`~.core.classify`), the flattened CSV row, the JSON error envelope and API-key extraction.

Kept apart from :mod:`.bouncer` (the endpoints and job lifecycles) so each stays readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import TYPO_SUGGESTIONS, classify, is_spamtrap
from airflow_provider_emailverify.emulator.streams import basic_auth

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from airflow_provider_emailverify.emulator.core import Verdict
    from airflow_provider_emailverify.emulator.verdict_codes import CodedVerdict

SANDBOX_DOMAIN = "sandbox.usebouncer.com"
STATUSES = ("deliverable", "risky", "undeliverable", "unknown")
CSV_COLUMNS = (
    "email", "name", "status", "reason", "domain", "acceptAll", "disposable", "free", "role", "disabled",
    "fullMailbox", "dnsType", "dnsRecord", "provider", "score", "toxic", "toxicity", "didYouMean", "retryAfter",
)
_HTTP_REASONS = {
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 404: "Not Found",
    405: "Method Not Allowed", 429: "Too Many Requests", 503: "Service Unavailable",
}
#: sandbox local part -> (status, reason, domain/account overrides)
_SANDBOX: dict[str, tuple[str, str, dict[str, str]]] = {
    "deliverable": ("deliverable", "accepted_email", {}),
    "free": ("deliverable", "accepted_email", {"free": "yes"}),
    "disposable": ("risky", "low_quality", {"disposable": "yes"}),
    "accept-all": ("risky", "low_deliverability", {"acceptAll": "yes"}),
    "undeliverable": ("undeliverable", "rejected_email", {}),
    "unknown": ("unknown", "unknown", {}),
    "other": ("risky", "low_deliverability", {"role": "yes"}),
}
#: classify() kind -> (status, reason)
_KINDS = {
    "valid": ("deliverable", "accepted_email"),
    "invalid_domain": ("undeliverable", "invalid_domain"),
    "rejected": ("undeliverable", "rejected_email"),
    "catchall": ("risky", "low_deliverability"),
    "disposable": ("risky", "low_quality"),
    "unknown": ("unknown", "unknown"),
}
_SCORES = {"deliverable": 100, "risky": 50, "undeliverable": 0}


def yes_no(flag: bool) -> str:
    """Bouncer's tri-state flags are strings: ``"yes"``/``"no"`` (or ``"unknown"``)."""
    return "yes" if flag else "no"


def sandbox_kind(email: str) -> str | None:
    """The sandbox table entry for a documented sandbox address (``+tag`` allowed), else ``None``."""
    local, _, domain = email.strip().rpartition("@")
    if domain.lower() != SANDBOX_DOMAIN:
        return None
    base = local.lower().split("+", 1)[0]
    return base if base in _SANDBOX else None


def is_toxic(verdict: Verdict) -> bool:
    """Whether the address has the top toxicity score (a local part starting ``toxic``)."""
    return verdict.local.lower().startswith("toxic")


def toxicity_of(verdict: Verdict) -> int:
    """The emulator's deterministic 0..5 toxicity score."""
    return toxicity_score(verdict, is_toxic(verdict))


def toxicity_score(verdict: Verdict | CodedVerdict, toxic: bool) -> int:
    """:func:`toxicity_of`, the toxic local part given (a coded verdict has no address)."""
    if toxic:
        return 5
    if is_spamtrap(verdict):
        return 4
    if verdict.disposable:
        return 3
    if verdict.category == "undeliverable":
        return 2
    return 1 if verdict.role else 0


def _build(email: str, status: str, reason: str, domain: dict[str, str], account: dict[str, str],
           *, dns: bool, toxicity: int, suggestion: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"email": email, "status": status, "reason": reason, "domain": domain, "account": account}
    if dns:
        record["dns"] = {"type": "MX", "record": f"mx.{domain['name']}."}
        record["provider"] = domain["name"]
    if status != "unknown":
        record["score"] = _SCORES[status]
        record["toxic"] = yes_no(toxicity >= 4)
    record["toxicity"] = toxicity
    if suggestion:
        record["didYouMean"] = suggestion
    return record


def status_of(email: str) -> str:
    """Just the ``status`` of :func:`email_record` (cheaper, for counting rows as they arrive)."""
    kind = sandbox_kind(email)
    if kind is not None:
        return _SANDBOX[kind][0]
    verdict_kind = classify(email).kind
    return "undeliverable" if verdict_kind == "syntax" else _KINDS[verdict_kind][0]


def email_record(email: str) -> dict[str, Any]:
    """Bouncer's ``EmailRecord`` for an address (sandbox table first, then :func:`classify`)."""
    kind = sandbox_kind(email)
    if kind is not None:
        status, reason, overrides = _SANDBOX[kind]
        vague = "unknown" if status == "unknown" else "no"
        domain = {"name": SANDBOX_DOMAIN, "acceptAll": vague, "disposable": "no", "free": "no"}
        account = {"role": "no", "disabled": vague, "fullMailbox": vague}
        for name, value in overrides.items():
            (account if name == "role" else domain)[name] = value
        return _build(email, status, reason, domain, account, dns=True, toxicity=0, suggestion=None)
    verdict = classify(email)
    if verdict.kind == "syntax":
        record = {"email": email, "status": "undeliverable", "reason": "invalid_email"}
        typo = verdict.domain.strip(". ")
        if typo in TYPO_SUGGESTIONS:
            record["didYouMean"] = "".join(verdict.local.split()) + "@" + TYPO_SUGGESTIONS[typo]
        return record
    return classified_record(verdict, email=email, domain=verdict.domain, toxic=is_toxic(verdict),
                             suggestion=verdict.suggestion)


def classified_record(verdict: Verdict | CodedVerdict, *, email: str, domain: str, toxic: bool,
                      suggestion: str | None) -> dict[str, Any]:
    """
    The ``EmailRecord`` of an address :func:`classify` judged (bad syntax aside), from its verdict
    and the facts that need the address: a coded verdict with stand-ins for those gives a
    download's template.

    :param email: the address as submitted.
    :param domain: its domain, lower-cased.
    :param toxic: whether its local part makes it toxic (:func:`is_toxic`).
    :param suggestion: the did-you-mean correction, if any.
    """
    status, reason = _KINDS[verdict.kind]
    vague = "unknown" if status == "unknown" else "no"
    domain_facts = {
        "name": domain,
        "acceptAll": "yes" if verdict.catchall else vague,
        "disposable": yes_no(verdict.disposable),
        "free": yes_no(verdict.free),
    }
    account = {"role": yes_no(verdict.role), "disabled": vague, "fullMailbox": vague}
    return _build(email, status, reason, domain_facts, account, dns=verdict.kind != "invalid_domain",
                  toxicity=toxicity_score(verdict, toxic), suggestion=suggestion)


def with_name(record: dict[str, Any], name: str | None) -> dict[str, Any]:
    """The record with the batch item's ``name`` echoed right after ``email``."""
    if name is None:
        return record
    return {"email": record["email"], "name": name, **{k: v for k, v in record.items() if k != "email"}}


def csv_row(record: dict[str, Any]) -> list[Any]:
    """A record flattened to :data:`CSV_COLUMNS`."""
    domain, account, dns = record.get("domain", {}), record.get("account", {}), record.get("dns", {})
    return [
        record["email"], record.get("name", ""), record["status"], record["reason"], domain.get("name", ""),
        domain.get("acceptAll", ""), domain.get("disposable", ""), domain.get("free", ""), account.get("role", ""),
        account.get("disabled", ""), account.get("fullMailbox", ""), dns.get("type", ""), dns.get("record", ""),
        record.get("provider", ""), record.get("score", ""), record.get("toxic", ""), record.get("toxicity", ""),
        record.get("didYouMean", ""), record.get("retryAfter", ""),
    ]


def error(status: int, message: str) -> Response:
    """Bouncer's error envelope ``{"status": <int>, "error": <reason phrase>, "message": ...}``."""
    from starlette.responses import JSONResponse

    return JSONResponse({"status": status, "error": _HTTP_REASONS[status], "message": message}, status_code=status)


def api_key_of(request: Request) -> str | None:
    """The key from ``x-api-key`` or HTTP Basic (empty user, key as password)."""
    key = request.headers.get("x-api-key")
    if key:
        return key
    credentials = basic_auth(request)
    return (credentials[1] or None) if credentials is not None else None
