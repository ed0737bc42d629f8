"""OTLP/HTTP JSON logs (ExportLogsServiceRequest): error records become alerts.

OTLP has no alert message, so errors are grouped here: one alert per service and error
(exception.type, else the log body with numbers and ids stripped) in the request. The
first record of each group is the alert; label `occurrences` counts the group's records.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain.model import Alert, AlertStatus, Severity, stable_hash
from shared.domain.sources._common import (
    MAX_ANNOTATION_VALUE_LEN,
    MAX_LABEL_VALUE_LEN,
    as_array,
    as_int,
    as_object,
    as_str,
    check_count,
    check_key,
    check_size,
    error_shape,
    first_line,
    from_unix_nanos,
    index_path,
    json_type,
    key_path,
    make_alert,
    object_list,
    opt_str,
    truncate,
)
from shared.domain.sources.errors import PayloadError

SOURCE = "otel"
TITLE_LIMIT = 200
MAX_DEPTH = 16

#: Attributes too long to be useful as labels; they go to annotations instead.
ANNOTATION_ATTRIBUTES = frozenset({"exception.stacktrace"})

_ERROR_TEXTS = {
    "ERROR": Severity.MEDIUM,
    "ERR": Severity.MEDIUM,
    "SEVERE": Severity.MEDIUM,
    "FATAL": Severity.HIGH,
    "CRITICAL": Severity.HIGH,
    "CRIT": Severity.HIGH,
    "ALERT": Severity.HIGH,
    "EMERGENCY": Severity.HIGH,
    "EMERG": Severity.HIGH,
}
_ENUM_BASE = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}
_ENUM_NAME = re.compile(r"SEVERITY_NUMBER_(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)([234]?)")


@dataclass
class _Group:
    """The first error record of one service+error, and how many records it stands for."""

    path: str
    record: dict[str, Any]
    fields: dict[str, Any]
    count: int = field(default=1)


def normalise(payload: object, now: datetime) -> list[Alert]:
    body = as_object(payload, "")
    groups: dict[str, _Group] = {}
    for rl_path, resource_logs in object_list(body.get("resourceLogs"), "resourceLogs"):
        _collect_resource(resource_logs, rl_path, now, groups)
    check_count(len(groups))
    return [_alert(fingerprint, group) for fingerprint, group in groups.items()]


def _collect_resource(
    resource_logs: dict[str, Any], path: str, now: datetime, groups: dict[str, _Group]
) -> None:
    resource_path = key_path(path, "resource")
    resource = (
        {} if resource_logs.get("resource") is None else as_object(resource_logs["resource"], resource_path)
    )
    resource_attrs = key_values(resource.get("attributes"), key_path(resource_path, "attributes"))
    for scope_path, scope_logs in object_list(resource_logs.get("scopeLogs"), key_path(path, "scopeLogs")):
        records = object_list(scope_logs.get("logRecords"), key_path(scope_path, "logRecords"))
        for record_path, record in records:
            severity = error_severity(record, record_path)
            if severity is None:
                continue
            fields = _fields(record, record_path, resource_attrs, severity, now)
            fingerprint = fields.pop("fingerprint")
            if fingerprint in groups:
                groups[fingerprint].count += 1
            else:
                groups[fingerprint] = _Group(record_path, record, fields)


def error_severity(record: dict[str, Any], path: str) -> Severity | None:
    """ERROR (17-20) -> MEDIUM, FATAL (21-24) -> HIGH; below ERROR -> None (not an alert).

    With severityNumber unset (0), severityText decides: ERROR/ERR/SEVERE -> MEDIUM,
    FATAL/CRITICAL/CRIT/ALERT/EMERGENCY/EMERG -> HIGH.
    """
    number = severity_number(record.get("severityNumber"), key_path(path, "severityNumber"))
    if number >= 21:
        return Severity.HIGH
    if number >= 17:
        return Severity.MEDIUM
    if number > 0:
        return None
    text = opt_str(record, "severityText", path).strip().upper()
    return _ERROR_TEXTS.get(text)


def severity_number(value: object, path: str) -> int:
    """The SeverityNumber enum: an integer, or its proto name ("SEVERITY_NUMBER_ERROR")."""
    if value is None:
        return 0
    if isinstance(value, str) and value.startswith("SEVERITY_NUMBER_"):
        return _enum_number(value, path)
    number = as_int(value, path)
    if not 0 <= number <= 24:
        raise PayloadError(path, f"must be between 0 and 24, got {number}")
    return number


def _enum_number(name: str, path: str) -> int:
    if name == "SEVERITY_NUMBER_UNSPECIFIED":
        return 0
    match = _ENUM_NAME.fullmatch(name)
    if match is None:
        raise PayloadError(path, f"unknown severity {name[:40]!r}")
    return _ENUM_BASE[match[1]] + (int(match[2]) - 1 if match[2] else 0)


def _fields(
    record: dict[str, Any], path: str, resource_attrs: dict[str, str], severity: Severity, now: datetime
) -> dict[str, Any]:
    """Everything of the alert but its occurrence count, plus its fingerprint."""
    attrs = key_values(record.get("attributes"), key_path(path, "attributes"))
    merged = {**resource_attrs, **attrs}
    annotations = {key: merged.pop(key) for key in ANNOTATION_ATTRIBUTES if key in merged}
    service = merged.get("service.name", "").strip() or None
    body = render_any(record.get("body"), key_path(path, "body"))
    error = merged.get("exception.type", "").strip()
    what = error or first_line(body) or merged.get("exception.message", "").strip()
    what = what or opt_str(record, "eventName", path).strip() or "error log"
    return {
        "fingerprint": _fingerprint(service, error, body, what),
        "title": truncate(f"{service}: {what}" if service else what, TITLE_LIMIT),
        "summary": body or merged.get("exception.message", ""),
        "labels": {key: truncate(value, MAX_LABEL_VALUE_LEN) for key, value in merged.items()},
        "annotations": {key: truncate(value, MAX_ANNOTATION_VALUE_LEN) for key, value in annotations.items()},
        "service": service,
        "severity": severity,
        "starts_at": _time(record, path) or now,
    }


def _fingerprint(service: str | None, error: str, body: str, what: str) -> str:
    """Service + exception.type, else service + the body's first line with numbers/ids stripped."""
    if error:
        return stable_hash(SOURCE, service or "", "exception", error)
    return stable_hash(SOURCE, service or "", "message", error_shape((first_line(body) or what)[:1000]))


def _time(record: dict[str, Any], path: str) -> datetime | None:
    return from_unix_nanos(record.get("timeUnixNano"), key_path(path, "timeUnixNano")) or from_unix_nanos(
        record.get("observedTimeUnixNano"), key_path(path, "observedTimeUnixNano")
    )


def _alert(fingerprint: str, group: _Group) -> Alert:
    labels = {**group.fields["labels"], "occurrences": str(group.count)}
    check_size(labels, key_path(group.path, "attributes"))
    return make_alert(
        group.path,
        source=SOURCE,
        fingerprint=fingerprint,
        status=AlertStatus.FIRING,
        **{**group.fields, "labels": labels},
        raw=group.record,
    )


# -- AnyValue / KeyValue -----------------------------------------------------------------------------------


def key_values(value: object, path: str) -> dict[str, str]:
    """A KeyValue list as a string map (values rendered); later duplicates win."""
    out: dict[str, str] = {}
    for item_path, item in object_list(value, path):
        key = check_key(as_str(item.get("key"), key_path(item_path, "key")), key_path(item_path, "key"))
        out[key] = render_any(item.get("value"), key_path(item_path, "value"))
    return out


def render_any(value: object, path: str) -> str:
    """Any AnyValue as text: strings as-is, scalars as JSON literals, arrays/kvlists as JSON."""
    plain = any_value(value, path, 0)
    if plain is None:
        return ""
    if isinstance(plain, str):
        return plain
    return json.dumps(plain, ensure_ascii=False)


def any_value(value: object, path: str, depth: int) -> Any:
    """An AnyValue as a plain Python value; an empty AnyValue (or unknown kind) is None."""
    if value is None:
        return None
    if depth > MAX_DEPTH:
        raise PayloadError(path, f"nested deeper than {MAX_DEPTH} levels")
    obj = as_object(value, path)
    for kind, convert in _KINDS.items():
        if obj.get(kind) is not None:
            return convert(obj[kind], key_path(path, kind), depth)
    return None


def _bool(value: object, path: str, depth: int) -> bool:
    if not isinstance(value, bool):
        raise PayloadError(path, f"must be a boolean, got {json_type(value)}")
    return value


def _double(value: object, path: str, depth: int) -> float | str:
    """A double; proto3 JSON also allows numeric strings and "NaN"/"Infinity"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 64:
        try:
            number = float(value)
        except ValueError:
            raise PayloadError(path, f"must be a number, got {value[:40]!r}") from None
    else:
        raise PayloadError(path, "must be a number")
    return number if math.isfinite(number) else str(number)


def _array(value: object, path: str, depth: int) -> list[Any]:
    values = as_object(value, path).get("values")
    values_path = key_path(path, "values")
    items = [] if values is None else as_array(values, values_path)
    return [any_value(item, index_path(values_path, i), depth + 1) for i, item in enumerate(items)]


def _kvlist(value: object, path: str, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item_path, item in object_list(as_object(value, path).get("values"), key_path(path, "values")):
        key = as_str(item.get("key"), key_path(item_path, "key"))
        out[key] = any_value(item.get("value"), key_path(item_path, "value"), depth + 1)
    return out


_KINDS = {
    "stringValue": lambda value, path, depth: as_str(value, path),
    "boolValue": _bool,
    "intValue": lambda value, path, depth: as_int(value, path),
    "doubleValue": _double,
    "bytesValue": lambda value, path, depth: as_str(value, path),
    "arrayValue": _array,
    "kvlistValue": _kvlist,
}
