# Licensed under the Apache License, Version 2.0.
"""The vendor-neutral result row: one per submitted address, the same columns for every vendor."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    """Neutral deliverability status."""

    DELIVERABLE = "deliverable"
    RISKY = "risky"
    UNDELIVERABLE = "undeliverable"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)

#: Column order of the neutral model, used by every writer (CSV, JSON Lines, SQL).
NEUTRAL_COLUMNS: tuple[str, ...] = (
    "email",
    "status",
    "vendor_status",
    "reason",
    "is_disposable",
    "is_role",
    "is_free",
    "is_catchall",
    "is_syntax_error",
    "suggestion",
    "vendor",
    "job_id",
)
FLAG_COLUMNS: tuple[str, ...] = ("is_disposable", "is_role", "is_free", "is_catchall", "is_syntax_error")

#: vendor -> {vendor verdict (lower-cased) -> neutral status}. README's mapping table mirrors this.
VENDOR_STATUS_MAP: dict[str, dict[str, str]] = {
    "neverbounce": {
        "valid": "deliverable",
        "invalid": "undeliverable",
        "disposable": "risky",
        "catchall": "risky",
        "unknown": "unknown",
    },
    "bouncer": {
        "deliverable": "deliverable",
        "risky": "risky",
        "undeliverable": "undeliverable",
        "unknown": "unknown",
    },
    "bouncify": {
        "deliverable": "deliverable",
        "undeliverable": "undeliverable",
        "accept_all": "risky",
        "accept-all": "risky",
        "accept all": "risky",
        "unknown": "unknown",
    },
    "emailverifierapp": {
        "valid": "deliverable",
        "invalid": "undeliverable",
        "risky": "risky",
        "unknown": "unknown",
    },
}
# NeverBounce v3 speaks the same verdicts as v4.
VENDOR_STATUS_MAP["neverbounce_v3"] = VENDOR_STATUS_MAP["neverbounce"]


def neutral_status(vendor: str, vendor_status: str | None, *, is_disposable: bool | None = None) -> str:
    """
    Map a vendor verdict to the neutral status.

    An address a vendor calls deliverable but flags as disposable is ``risky``, so one list gives
    the same neutral statuses whichever vendor verified it. Unmapped verdicts are ``unknown``.

    :param vendor: vendor key (``neverbounce``, ``bouncer``, ...).
    :param vendor_status: the vendor's own verdict.
    :param is_disposable: the vendor's disposable flag, when it gives one.
    """
    mapping = VENDOR_STATUS_MAP.get(vendor, {})
    status = mapping.get((vendor_status or "").strip().lower(), Status.UNKNOWN.value)
    if status == Status.DELIVERABLE.value and is_disposable:
        return Status.RISKY.value
    return status


@dataclass(slots=True)
class VerificationResult:
    """
    One verified address in the neutral model.

    :param email: the address as submitted.
    :param status: neutral status (``deliverable``, ``risky``, ``undeliverable``, ``unknown``).
    :param vendor_status: the vendor's own verdict, verbatim (always text).
    :param reason: the vendor's reason code, else empty.
    :param is_disposable: flag, ``None`` when the vendor does not say.
    :param is_role: flag, ``None`` when the vendor does not say.
    :param is_free: flag, ``None`` when the vendor does not say.
    :param is_catchall: flag, ``None`` when the vendor does not say.
    :param is_syntax_error: flag, ``None`` when the vendor does not say.
    :param suggestion: the vendor's did-you-mean correction, else ``None``.
    :param vendor: vendor key the row came from.
    :param job_id: vendor job id, ``None`` for single verifications.
    :param extra: pass-through columns of the submitted record, where the vendor returns them.
    """

    email: str
    status: str
    vendor_status: str
    reason: str = ""
    is_disposable: bool | None = None
    is_role: bool | None = None
    is_free: bool | None = None
    is_catchall: bool | None = None
    is_syntax_error: bool | None = None
    suggestion: str | None = None
    vendor: str = ""
    job_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_vendor(
        cls,
        *,
        vendor: str,
        email: str,
        vendor_status: Any,
        job_id: str | None = None,
        **fields: Any,
    ) -> VerificationResult:
        """Build a row from a vendor verdict, deriving the neutral status (disposable rule included)."""
        text = "" if vendor_status is None else str(vendor_status)
        status = neutral_status(vendor, text, is_disposable=fields.get("is_disposable"))
        return cls(email=email, status=status, vendor_status=text, vendor=vendor, job_id=job_id, **fields)

    def as_dict(self, *, with_extra: bool = False) -> dict[str, Any]:
        """The neutral columns as a dict (in :data:`NEUTRAL_COLUMNS` order), plus ``extra`` if asked."""
        row = {name: getattr(self, name) for name in NEUTRAL_COLUMNS}
        if with_extra and self.extra:
            for key, value in self.extra.items():
                row.setdefault(key, value)
        return row


def parse_bool(value: Any) -> bool | None:
    """Read a vendor flag (``true``/``1``/``yes``/``false``/``0``/``no``/empty) as a tri-state bool."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "t"):
        return True
    if text in ("false", "0", "no", "n", "f"):
        return False
    return None
