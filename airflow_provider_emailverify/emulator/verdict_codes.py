# Licensed under the Apache License, Version 2.0.
"""
A :class:`~airflow_provider_emailverify.emulator.core.Verdict` in one byte, for jobs that keep a
verdict per row.

:func:`~.core.classify` is run once per row when a job is indexed and :func:`verdict_code` keeps
what does not depend on the address text (the kind, hence the category and the disposable,
catch-all and syntax facts, plus the free-host, role-account and spam-trap flags and whether
there is a did-you-mean suggestion). Downloads then read the
byte back as a :class:`CodedVerdict` instead of classifying every row again. Like :mod:`.core`,
nothing here knows a vendor's wire format.

A code is below :data:`CODE_LIMIT`, so a vendor module may keep one fact of its own in the byte's
top bit (:data:`VENDOR_FLAG`), and the kind bits' spare value :data:`UNCODED` marks a row its
vendor kept outside the verdict rules (Bouncer's sandbox addresses): no :class:`CodedVerdict`
describes it, so it is rendered from its address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_emailverify.emulator.core import Verdict

#: :attr:`Verdict.kind` values, in code order (the low three bits of a code)
KINDS = ("valid", "syntax", "invalid_domain", "rejected", "catchall", "disposable", "unknown")
CATEGORIES = {
    "valid": "deliverable",
    "syntax": "undeliverable",
    "invalid_domain": "undeliverable",
    "rejected": "undeliverable",
    "catchall": "risky",
    "disposable": "risky",
    "unknown": "unknown",
}
_KIND_CODES = {kind: code for code, kind in enumerate(KINDS)}
_FREE = 8
_ROLE = 16
_SPAMTRAP = 32
_TYPO = 64
#: codes are below this
CODE_LIMIT = 128
#: a bit above every code, for one vendor-specific fact per row
VENDOR_FLAG = 128
#: kind bits no verdict has: a row kept outside the verdict rules
UNCODED = 7


@dataclass(frozen=True, slots=True)
class CodedVerdict:
    """
    The address-independent part of a :class:`~.core.Verdict`, as one byte keeps it.

    Has the :class:`~.core.Verdict` attributes that do not need the address (no ``email``,
    ``local``, ``domain`` or ``suggestion``, but ``typo``: whether there is a suggestion), so
    verdict-to-vendor mappings read either.
    """

    code: int
    kind: str
    category: str
    free: bool
    role: bool
    syntax_error: bool
    disposable: bool
    catchall: bool
    spamtrap: bool
    typo: bool


def verdict_code(verdict: Verdict) -> int:
    """The byte for ``verdict``."""
    return (
        _KIND_CODES[verdict.kind]
        | (_FREE if verdict.free else 0)
        | (_ROLE if verdict.role else 0)
        | (_SPAMTRAP if verdict.spamtrap else 0)
        | (_TYPO if verdict.suggestion is not None else 0)
    )


def _decode(code: int) -> CodedVerdict | None:
    kind_code = code & 7
    if kind_code >= len(KINDS) or code >= CODE_LIMIT:
        return None
    kind = KINDS[kind_code]
    return CodedVerdict(
        code=code,
        kind=kind,
        category=CATEGORIES[kind],
        free=bool(code & _FREE),
        role=bool(code & _ROLE),
        syntax_error=kind == "syntax",
        disposable=kind == "disposable",
        catchall=kind == "catchall",
        spamtrap=bool(code & _SPAMTRAP),
        typo=bool(code & _TYPO),
    )


#: :class:`CodedVerdict` by code (``None`` for bytes no verdict produces)
CODED: tuple[CodedVerdict | None, ...] = tuple(_decode(code) for code in range(CODE_LIMIT))
