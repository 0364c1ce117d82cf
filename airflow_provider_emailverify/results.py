# Licensed under the Apache License, Version 2.0.
"""The vendor-neutral result row: one per submitted address, the same columns for every vendor."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


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

_STATUS_MAP: dict[str, dict[str, str]] = {
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
_STATUS_MAP["neverbounce_v3"] = _STATUS_MAP["neverbounce"]

#: vendor -> {vendor verdict (lower-cased) -> neutral status}. README's mapping table mirrors this.
#: Read-only: :func:`neutral_status` caches what it maps, so an edit at run time would be ignored
#: for verdicts already seen; it raises ``TypeError`` instead.
VENDOR_STATUS_MAP: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {vendor: MappingProxyType(verdicts) for vendor, verdicts in _STATUS_MAP.items()}
)
del _STATUS_MAP


#: The statuses as plain text, for the per-row lookups (an Enum member's ``.value`` is a property).
_DELIVERABLE, _RISKY, _UNKNOWN = Status.DELIVERABLE.value, Status.RISKY.value, Status.UNKNOWN.value

#: vendor -> {vendor verdict as given -> neutral status before the disposable rule}. A download
#: repeats a handful of verdicts, so each is cleaned and mapped once; at most
#: :data:`_STATUS_CACHE_LIMIT` verdicts are kept per vendor, so free text cannot grow it.
_STATUS_CACHE: dict[str, dict[str | None, str]] = {}
_STATUS_CACHE_LIMIT = 1024


def neutral_status(vendor: str, vendor_status: str | None, *, is_disposable: bool | None = None) -> str:
    """
    Map a vendor verdict to the neutral status.

    An address a vendor calls deliverable but flags as disposable is ``risky``, so one list gives
    the same neutral statuses whichever vendor verified it. Unmapped verdicts are ``unknown``.

    :param vendor: vendor key (``neverbounce``, ``bouncer``, ...).
    :param vendor_status: the vendor's own verdict.
    :param is_disposable: the vendor's disposable flag, when it gives one.
    """
    known = _STATUS_CACHE.get(vendor)
    status = None if known is None else known.get(vendor_status)
    if status is None:
        status = VENDOR_STATUS_MAP.get(vendor, {}).get((vendor_status or "").strip().lower(), _UNKNOWN)
        known = _STATUS_CACHE.setdefault(vendor, {})
        if len(known) < _STATUS_CACHE_LIMIT:
            known[vendor_status] = status
    if status == _DELIVERABLE and is_disposable:
        return _RISKY
    return status


def verdict_text(value: Any) -> str:
    """A vendor verdict as the text kept in ``vendor_status``: ``None`` is empty, anything else ``str()``."""
    return "" if value is None else str(value)


#: :meth:`VerificationResult.from_verdict`'s default ``extra``: each row gets a new empty dict.
_NEW_DICT: Any = object()


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
        return cls.from_verdict(vendor, email, verdict_text(vendor_status), job_id, **fields)

    @classmethod
    def from_verdict(
        cls,
        vendor: str,
        email: str,
        vendor_status: str,
        job_id: str | None = None,
        reason: str = "",
        is_disposable: bool | None = None,
        is_role: bool | None = None,
        is_free: bool | None = None,
        is_catchall: bool | None = None,
        is_syntax_error: bool | None = None,
        suggestion: str | None = None,
        extra: dict[str, Any] = _NEW_DICT,
    ) -> VerificationResult:
        """
        :meth:`from_vendor` for the per-row loops of the download parsers: the verdict is already
        text and the fields may be given by position, so no keyword arguments are repacked (a row
        is built about 2.5 times faster). The parameters are the fields of the same names.
        """
        return cls(
            email,
            neutral_status(vendor, vendor_status, is_disposable=is_disposable),
            vendor_status,
            reason,
            is_disposable,
            is_role,
            is_free,
            is_catchall,
            is_syntax_error,
            suggestion,
            vendor,
            job_id,
            {} if extra is _NEW_DICT else extra,
        )

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


class VerdictFacts(dict):
    """
    What a download parser derives from a row's verdict columns (the verdict, its reason, the
    flags' spellings), remembered per combination: a download repeats a handful of them, so each
    is derived once and a row costs one lookup. At most 1024 combinations are kept, so free text
    cannot grow it.

    ``facts[key]`` is ``derive(*key)``; a key must be hashable (a tuple of the raw cells).

    :param derive: the derivation, from the key's values.
    """

    def __init__(self, derive: Callable[..., Any]) -> None:
        super().__init__()
        self.derive = derive

    def __missing__(self, key: tuple[Any, ...]) -> Any:
        value = self.derive(*key)
        if len(self) < 1024:
            self[key] = value
        return value


class _TextFlags(dict):
    """:func:`parse_bool` of text cells, remembered: at most 1024 spellings, so free text cannot grow it."""

    def __missing__(self, text: str | None) -> bool | None:
        value = parse_bool(text)
        if len(self) < 1024:
            self[text] = value
        return value


#: :func:`parse_bool` for a CSV cell (text or ``None``) by a lookup: a download repeats a few
#: spellings, each read once. For the per-row loops of the download parsers.
parse_text_flag: Callable[[str | None], bool | None] = _TextFlags().__getitem__
