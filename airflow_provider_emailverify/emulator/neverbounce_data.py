# Licensed under the Apache License, Version 2.0.
"""
NeverBounce wire details shared by the v4 and v3 emulators: reading parameters the way the PHP
service does (query string, form or JSON body, bracket notation), and rendering the emulator's
:class:`~airflow_provider_emailverify.emulator.core.Verdict` as NeverBounce results, flags,
``address_info`` and download columns (spec §3.1, §4.2, §4.8, §7).
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_emailverify.emulator.core import classify, is_spamtrap
from airflow_provider_emailverify.emulator.streams import UploadLimitError, as_bool

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from starlette.requests import Request
    from starlette.responses import Response

    from airflow_provider_emailverify.emulator.core import Verdict
    from airflow_provider_emailverify.emulator.verdict_codes import CodedVerdict

#: supplied payloads over this many bytes get HTTP 413 (spec §4.3; MiB assumed)
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024

#: v4 result strings in v3/``email_status_int`` code order (spec §7.1)
RESULTS = ("valid", "invalid", "disposable", "catchall", "unknown")
RESULT_CODES = {name: code for code, name in enumerate(RESULTS)}

#: jobs/download and jobs/results segmentation parameter -> result (spec §4.8)
SEGMENTS = {"valids": "valid", "invalids": "invalid", "disposables": "disposable", "catchalls": "catchall", "unknowns": "unknown"}
#: jobs/download append parameters, in the (assumed) column order of the spec's table
APPENDS = (
    "bad_syntax", "free_email_host", "role_account", "addr", "alias", "host", "subdomain", "domain", "tld",
    "fqdn", "network", "has_dns_info", "has_mail_server", "mail_server_reachable", "email_status_int", "email_status",
)
BINARY_TYPES = {
    "BIN_1_0": ("1", "0"),
    "BIN_Y_N": ("Y", "N"),
    "BIN_y_n": ("y", "n"),
    "BIN_yes_no": ("yes", "no"),
    "BIN_Yes_No": ("Yes", "No"),
    "BIN_true_false": ("true", "false"),
}
LINE_FEED_TYPES = {"LINEFEED_0A0D": "\n\r", "LINEFEED_0D0A": "\r\n", "LINEFEED_0A": "\n", "LINEFEED_0D": "\r"}

#: (has DNS, has MX, mail server reachable) per verdict kind
_DNS = {
    "valid": (True, True, True),
    "syntax": (False, False, False),
    "invalid_domain": (False, False, False),
    "rejected": (True, True, True),
    "catchall": (True, True, True),
    "disposable": (True, True, True),
    "unknown": (True, True, False),
}
_TWO_LEVEL_SUFFIXES = frozenset(
    {"co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "com.br", "co.in", "co.za"}
)
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
NGINX_PAGE = (
    "<html>\r\n<head><title>{code}</title></head>\r\n<body>\r\n"
    "<center><h1>{code}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
ADDRESS_FIELDS = ("original_email", "normalized_email", "addr", "alias", "host", "fqdn", "domain", "subdomain", "tld")
#: the address-dependent ``address_info`` parts, as :func:`address_values` returns them
ADDRESS_VALUE_FIELDS = ("addr", "alias", "host", "fqdn", "domain", "subdomain", "tld")


class NBError(Exception):
    """
    An application error answered as HTTP 200 with a v4 ``status`` and ``message``.

    :param status: ``general_failure``, ``auth_failure``, ``temp_unavail``, ...
    :param message: the human message.
    """

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def fmt_time(timestamp: float | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` in UTC (the vendor does not say which zone), ``None`` stays ``None``."""
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def too_large() -> Response:
    """HTTP 413 as the vendor's nginx front answers it."""
    from starlette.responses import HTMLResponse

    return HTMLResponse(NGINX_PAGE.format(code="413 Request Entity Too Large"), status_code=413)


def missing(name: str) -> NBError:
    return NBError("general_failure", f"Missing required parameter '{name}'")


def invalid(name: str) -> NBError:
    return NBError("general_failure", f"Invalid value for parameter '{name}'")


def insufficient_credits_message(needed: int, balance: int) -> str:
    """The vendor's wording (spec §3.2, quoted from a real response)."""
    return (
        f"Insufficient credit balance. This transaction requires {needed} credits. "
        f"The current available credit balance is {balance}."
    )


# -- parameters --------------------------------------------------------------------------------------


def split_key(key: str) -> list[str]:
    """``input[0][email]`` -> ``["input", "0", "email"]`` (PHP bracket notation); other keys as is."""
    head, bracket, _ = key.partition("[")
    if not bracket or not head:
        return [key]
    parts, pos = [head], len(head)
    for match in _BRACKET.finditer(key, pos):
        if match.start() != pos:
            return [key]
        parts.append(match.group(1))
        pos = match.end()
    return parts if pos == len(key) else [key]


def nest(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Build nested dicts from bracket-notation pairs; ``a[]`` appends the next index."""
    out: dict[str, Any] = {}
    for key, value in items:
        path = split_key(key)
        node = out
        for part in path[:-1]:
            part = part or str(len(node))
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1] or str(len(node))] = value
    return out


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """
    The whole request body, up to ``limit`` bytes.

    :raises UploadLimitError: when larger (the rest is read and dropped first, so the client
        gets the answer instead of a reset connection).
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise UploadLimitError("bytes", limit)
    return b"".join(chunks)


def json_members(data: dict[str, Any]) -> dict[str, Any]:
    """Top-level JSON members, with bracket keys (``"request_meta_data[x]": 0``, Java SDK) nested."""
    plain = {key: value for key, value in data.items() if "[" not in key}
    plain.update(nest((key, value) for key, value in data.items() if "[" in key))
    return plain


async def read_params(request: Request, limit: int, *, query: bool = True, json_body: bool = True) -> dict[str, Any]:
    """
    Request parameters: the query string merged with a form or JSON body (the body wins).

    A body whose encoding does not match its Content-Type is not seen at all (spec §3.1).

    :param query: read the query string (v3 reads the form body only).
    :param json_body: accept ``application/json`` bodies (v3 does not).
    """
    from urllib.parse import parse_qsl

    body = await read_body(request, limit)
    params = nest(request.query_params.multi_items()) if query else {}
    kind = media_type(request)
    if body.strip():
        if kind == "application/json" and json_body:
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, dict):
                params.update(json_members(data))
        elif kind == "application/x-www-form-urlencoded":
            params.update(nest(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
    return params


def flag_value(params: dict[str, Any], name: str, default: bool | None) -> bool | None:
    """A boolean parameter in any of the spellings the spec lists (``1``, ``"true"``, ...)."""
    value = params.get(name)
    if value is None:
        return default
    try:
        return as_bool(value, bool(default))
    except ValueError:
        raise invalid(name) from None


def int_value(params: dict[str, Any], name: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
    """An integer parameter (JSON number or numeric string)."""
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or (minimum is not None and number < minimum):
        raise invalid(name)
    return number


def text_value(params: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or (required and value == ""):
        if required:
            raise missing(name)
        return None
    if isinstance(value, (dict, list)):
        raise invalid(name)
    return str(value)


def meta_flag(params: dict[str, Any], name: str, default: bool) -> bool:
    """``request_meta_data[name]`` (nested by bracket notation or a JSON object)."""
    meta = params.get("request_meta_data")
    if meta is None:
        return default
    if not isinstance(meta, dict):
        raise invalid("request_meta_data")
    return bool(flag_value(meta, name, default))


# -- verdicts as NeverBounce results -------------------------------------------------------------------


def nb_result(verdict: Verdict | CodedVerdict) -> str:
    """The v4 result string for an emulator verdict."""
    if verdict.category == "deliverable":
        return "valid"
    if verdict.category == "undeliverable":
        return "invalid"
    if verdict.category == "unknown":
        return "unknown"
    return "disposable" if verdict.disposable else "catchall"


def dns_facts(verdict: Verdict | CodedVerdict) -> tuple[bool, bool, bool]:
    """(host has DNS records, host has MX records, mail server reachable)."""
    return _DNS[verdict.kind]


@functools.lru_cache(maxsize=4096)
def host_parts(host: str) -> tuple[str, str, str, str]:
    """``fqdn``, ``domain``, ``subdomain`` and ``tld`` of an address's host (memoized: lists repeat hosts)."""
    labels = host.lower().split(".")
    suffix_len = 2 if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_LEVEL_SUFFIXES else 1
    tld = ".".join(labels[-suffix_len:])
    domain = labels[-suffix_len - 1] if len(labels) > suffix_len else ""
    fqdn = f"{domain}.{tld}" if domain else host.lower()
    return fqdn, domain, ".".join(labels[: -suffix_len - 1]), tld


def address_values(email: str) -> tuple[str, ...]:
    """The ``address_info`` parts of a syntactically valid address, in :data:`ADDRESS_VALUE_FIELDS` order."""
    local, _, host = email.strip().rpartition("@")
    addr, _, alias = local.partition("+")
    return (addr, alias, host, *host_parts(host))


def address_parts(email: str, verdict: Verdict | None = None) -> dict[str, str]:
    """
    ``address_info`` (spec §4.2): all strings, only ``original_email`` for unparseable input.
    """
    verdict = verdict or classify(email)
    info = dict.fromkeys(ADDRESS_FIELDS, "")
    info["original_email"] = email
    if verdict.syntax_error:
        return info
    values = address_values(email)
    info.update(zip(ADDRESS_VALUE_FIELDS, values))
    info["normalized_email"] = f"{values[0]}@{values[2]}".lower()
    return info


def nb_flags(verdict: Verdict, *, version: str = "v4.2", historical: bool = False) -> list[str]:
    """The §7.2 flags for a verdict (``acedemic_host`` before v4.2; ``historical_response`` on request)."""
    if verdict.syntax_error:
        return ["bad_syntax"]
    has_dns, has_mx, reachable = dns_facts(verdict)
    tld = verdict.domain.rsplit(".", 1)[-1]
    checks = (
        ("has_dns", has_dns),
        ("has_dns_mx", has_mx),
        ("free_email_host", verdict.free),
        ("role_account", verdict.role),
        ("disposable_email", verdict.disposable),
        ("government_host", tld == "gov"),
        ("academic_host" if version == "v4.2" else "acedemic_host", tld == "edu"),
        ("military_host", tld == "mil"),
        ("spelling_mistake", verdict.suggestion is not None),
        ("bad_dns", not has_dns),
        ("connect_fails", verdict.kind == "unknown"),
        ("accepts_all", verdict.catchall),
        ("contains_alias", "+" in verdict.local),
        ("contains_subdomain", bool(address_parts(verdict.email, verdict)["subdomain"])),
        ("smtp_connectable", reachable),
        ("spamtrap_network", is_spamtrap(verdict)),
        ("historical_response", historical and version != "v4"),
    )
    return [name for name, present in checks if present]


def verification(email: str, *, version: str, historical: bool = False) -> dict[str, Any]:
    """The ``verification`` object of a jobs/results row."""
    verdict = classify(email)
    return {
        "result": nb_result(verdict),
        "flags": nb_flags(verdict, version=version, historical=historical),
        "suggested_correction": verdict.suggestion or "",
        "address_info": address_parts(email, verdict),
    }


# -- downloads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadOptions:
    """What a jobs/download request asked for (spec §4.8)."""

    results: frozenset[str]
    include_duplicates: bool = False
    only_duplicates: bool = False
    only_bad_syntax: bool = False
    appends: tuple[str, ...] = ("email_status",)
    yes_no: tuple[str, str] = BINARY_TYPES["BIN_1_0"]
    line_end: str = "\n\r"


def download_options(params: dict[str, Any], option: Callable[[str, Any], Any]) -> DownloadOptions:
    """
    Parse jobs/download parameters.

    Once any result segment is given, the omitted ones count as 0 (switch ``omitted_segments_off``);
    ``email_status`` is appended unless explicitly 0 (switch ``email_status_default``: ``always``,
    or ``bare`` for only when no append is given).
    """
    given = {name: flag_value(params, name, None) for name in SEGMENTS}
    any_given = any(value is not None for value in given.values())
    fallback = not (any_given and option("omitted_segments_off", True))
    results = frozenset(SEGMENTS[name] for name, value in given.items() if (fallback if value is None else value))
    appends_given = {name: flag_value(params, name, None) for name in APPENDS}
    if appends_given["email_status"] is None:
        bare = not any(appends_given.values())
        appends_given["email_status"] = bare or option("email_status_default", "always") == "always"
    binary = text_value(params, "binary_operators_type") or "BIN_1_0"
    line_feed = text_value(params, "line_feed_type") or option("default_line_feed_type", "LINEFEED_0A0D")
    if binary not in BINARY_TYPES:
        raise invalid("binary_operators_type")
    if line_feed not in LINE_FEED_TYPES:
        raise invalid("line_feed_type")
    return DownloadOptions(
        results=results,
        include_duplicates=bool(flag_value(params, "include_duplicates", False)),
        only_duplicates=bool(flag_value(params, "only_duplicates", False)),
        only_bad_syntax=bool(flag_value(params, "only_bad_syntax", False)),
        appends=tuple(name for name in APPENDS if appends_given[name]),
        yes_no=BINARY_TYPES[binary],
        line_end=LINE_FEED_TYPES[line_feed],
    )
