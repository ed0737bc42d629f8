"""Helpers shared by the source normalisers.

Every accessor takes the JSON-path-like name of the value it checks, so a bad payload is
rejected with a `PayloadError` that names the field instead of a bare TypeError/KeyError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from shared.domain.model import Alert, AlertStatus, Link, Severity
from shared.domain.sources.errors import PayloadError

MAX_ALERTS = 1000
MAX_LABELS = 256
MAX_KEY_LEN = 256
MAX_LABEL_VALUE_LEN = 4096
MAX_ANNOTATION_VALUE_LEN = 16384
MAX_SUMMARY_LEN = 16384
MAX_TITLE_LEN = 500
MAX_FINGERPRINT_LEN = 256
MAX_URL_LEN = 4096

ROOT = "$"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# -- field paths -------------------------------------------------------------------------------------------


def key_path(path: str, key: str) -> str:
    """`labels.service`, or `labels["a.b"]` when the key would read ambiguously."""
    if _IDENT.fullmatch(key):
        return f"{path}.{key}" if path else key
    shown = key if len(key) <= 40 else key[:40] + "…"
    return f'{path}["{shown}"]'


def index_path(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _name(path: str) -> str:
    return path or ROOT


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages senders understand."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# -- typed access ------------------------------------------------------------------------------------------


def as_object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(_name(path), f"must be an object, got {json_type(value)}")
    return value


def as_array(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(_name(path), f"must be an array, got {json_type(value)}")
    return value


def as_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(_name(path), f"must be a string, got {json_type(value)}")
    return value


def as_int(value: object, path: str) -> int:
    """An integer, also from a decimal string: proto3 JSON writes 64-bit ints as strings."""
    if isinstance(value, bool):
        raise PayloadError(_name(path), "must be an integer, got boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,30}\s*", value):
        return int(value)
    raise PayloadError(_name(path), f"must be an integer, got {json_type(value)}")


def required(obj: Mapping[str, Any], key: str, path: str) -> Any:
    """The value under `key`; absent and null both count as missing."""
    value = obj.get(key)
    if value is None:
        raise PayloadError(key_path(path, key), "is required")
    return value


def opt_str(obj: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return default
    return as_str(value, key_path(path, key))


def req_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    """A required string that is not blank."""
    value = as_str(required(obj, key, path), key_path(path, key))
    if not value.strip():
        raise PayloadError(key_path(path, key), "must not be empty")
    return value


def object_list(value: object, path: str, *, limit: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(path, object) for each element of an array of objects; null means empty."""
    if value is None:
        return []
    items = as_array(value, path)
    if limit is not None:
        check_count(len(items), limit)
    return [(index_path(path, i), as_object(item, index_path(path, i))) for i, item in enumerate(items)]


def check_count(count: int, limit: int = MAX_ALERTS) -> None:
    if count > limit:
        raise PayloadError("alerts", f"too many alerts ({count} > {limit})")


# -- text --------------------------------------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def slugify(text: str) -> str:
    """`Checkout API` -> `checkout-api`: monitor names become service names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_HEX_LITERAL = re.compile(r"\b0[xX][0-9a-fA-F]+\b")
_HEX_WORD = re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
_DIGITS = re.compile(r"\d+")


def error_shape(text: str) -> str:
    """Strip the varying parts of an error message so one error groups as one alert.

    "timeout after 30000ms" and "timeout after 29000ms" both become "timeout after <n>ms";
    uuids, hex ids and 0x literals are replaced the same way.
    """
    text = _UUID.sub("<uuid>", text)
    text = _HEX_LITERAL.sub("<hex>", text)
    text = _HEX_WORD.sub("<hex>", text)
    text = _DIGITS.sub("<n>", text)
    return " ".join(text.split())


# -- maps --------------------------------------------------------------------------------------------------


def scalar_text(value: object, path: str, limit: int = MAX_LABEL_VALUE_LEN) -> str:
    """A label/annotation value: strings as-is, numbers and booleans stringified, nothing nested."""
    if isinstance(value, str):
        return truncate(value, limit)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise PayloadError(_name(path), f"must be a string, got {json_type(value)}")


def check_key(key: object, path: str) -> str:
    if not isinstance(key, str):
        raise PayloadError(_name(path), f"keys must be strings, got {json_type(key)}")
    if not key:
        raise PayloadError(_name(path), "keys must not be empty")
    if len(key) > MAX_KEY_LEN:
        raise PayloadError(key_path(path, key), f"key longer than {MAX_KEY_LEN} characters")
    return key


def check_size(mapping: Mapping[str, str], path: str) -> None:
    if len(mapping) > MAX_LABELS:
        raise PayloadError(_name(path), f"too many entries ({len(mapping)} > {MAX_LABELS})")


def string_map(value: object, path: str, limit: int = MAX_LABEL_VALUE_LEN) -> dict[str, str]:
    """A labels/annotations object: null means empty; values longer than `limit` are truncated."""
    if value is None:
        return {}
    obj = as_object(value, path)
    check_size(obj, path)
    out: dict[str, str] = {}
    for key, item in obj.items():
        name = check_key(key, path)
        out[name] = scalar_text(item, key_path(path, name), limit)
    return out


def first_value(mapping: Mapping[str, str], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = mapping.get(key, "").strip()
        if value:
            return value
    return None


def severity_from(labels: Mapping[str, str]) -> Severity | None:
    """The sender's own severity, from a `severity` or else a `priority` label."""
    for key in ("severity", "priority"):
        parsed = Severity.parse(labels.get(key))
        if parsed is not None:
            return parsed
    return None


def service_from(labels: Mapping[str, str]) -> str | None:
    return first_value(labels, ("service", "service_name", "job"))


# -- status and times --------------------------------------------------------------------------------------


def parse_status(value: object, path: str) -> AlertStatus:
    text = as_str(value, path).strip().lower()
    try:
        return AlertStatus(text)
    except ValueError:
        raise PayloadError(path, f"must be 'firing' or 'resolved', got {text[:40]!r}") from None


_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})?"
)


def parse_time(value: object, path: str, *, assume_utc: bool = False) -> datetime | None:
    """An RFC3339 time (nanoseconds allowed, truncated to µs) as aware UTC.

    Absent, empty and Go's zero time `0001-01-01T00:00:00Z` all mean "no time" (None): Go
    senders write the zero time for an unset endsAt. `assume_utc` accepts times without an
    offset, as Uptime Kuma sends them.
    """
    if value is None or value == "":
        return None
    text = as_str(value, path).strip()
    match = _TIME.fullmatch(text)
    if match is None or (match[8] is None and not assume_utc):
        raise PayloadError(path, f"must be an RFC3339 time, got {text[:40]!r}")
    parts = [int(group) for group in match.groups()[:6]]
    micros = int((match[7] or "0")[:6].ljust(6, "0"))
    if parts == [1, 1, 1, 0, 0, 0] and micros == 0:
        return None
    try:
        stamp = datetime(*parts, micros, tzinfo=_offset(match[8]))
        return stamp.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise PayloadError(path, f"invalid time {text[:40]!r}: {exc}") from None


def _offset(suffix: str | None) -> timezone:
    if suffix is None or suffix in ("Z", "z"):
        return UTC
    sign = -1 if suffix[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(suffix[1:3]), minutes=int(suffix[4:6])))


def required_time(obj: Mapping[str, Any], key: str, path: str) -> datetime:
    stamp = parse_time(obj.get(key), key_path(path, key))
    if stamp is None:
        raise PayloadError(key_path(path, key), "is required")
    return stamp


def from_unix_nanos(value: object, path: str) -> datetime | None:
    """An OTLP fixed64 nanosecond timestamp; absent and 0 mean unset."""
    if value is None:
        return None
    nanos = as_int(value, path)
    if nanos == 0:
        return None
    if nanos < 0:
        raise PayloadError(path, "must not be negative")
    try:
        return EPOCH + timedelta(microseconds=nanos // 1000)
    except OverflowError:
        raise PayloadError(path, "is out of range") from None


def as_utc(now: datetime) -> datetime:
    """Callers should pass an aware `now`; a naive one is taken to be UTC."""
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


# -- links and alerts --------------------------------------------------------------------------------------


def make_link(title: str, url: str) -> Link | None:
    """A link, or None unless the URL is absolute http(s): Uptime Kuma sends "https://" placeholders."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LEN:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return Link(title=title, url=url)


def link_from(obj: Mapping[str, Any], key: str, path: str, title: str) -> Link | None:
    return make_link(title, opt_str(obj, key, path))


def runbook_link(annotations: Mapping[str, str]) -> Link | None:
    """The conventional `runbook_url` annotation as a "Runbook" link."""
    return make_link("Runbook", annotations.get("runbook_url", ""))


def unique_links(links: Iterable[Link | None]) -> list[Link]:
    seen: set[str] = set()
    out: list[Link] = []
    for link in links:
        if link is not None and link.url not in seen:
            seen.add(link.url)
            out.append(link)
    return out


def check_fingerprint(value: object, path: str) -> str | None:
    """The sender's own fingerprint, or None when it sent none (or an empty one)."""
    if value is None:
        return None
    text = as_str(value, path).strip()
    if len(text) > MAX_FINGERPRINT_LEN:
        raise PayloadError(path, f"longer than {MAX_FINGERPRINT_LEN} characters")
    return text or None


def make_alert(path: str, **fields: Any) -> Alert:
    """Build the Alert, capping free text; a model rejection still surfaces as a PayloadError."""
    fields["title"] = truncate(fields["title"], MAX_TITLE_LEN)
    fields["summary"] = truncate(fields.get("summary", ""), MAX_SUMMARY_LEN)
    try:
        return Alert(**fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise PayloadError(_name(path), f"{where}: {error['msg']}") from None
