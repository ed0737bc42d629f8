"""Uptime Kuma webhook notification (`{heartbeat, monitor, msg}`, JSON content type).

Heartbeat status mapping:

* 0 DOWN        -> firing
* 1 UP          -> resolved
* 2 PENDING     -> firing, severity LOW unless a `severity`/`priority` tag says otherwise:
  the monitor is failing but still inside its retries, so it should be seen, not page.
* 3 MAINTENANCE -> resolved, with label `maintenance=true`: nobody should be paged for a
  monitor that is down on purpose, and an open alert should close.

Notifications without a heartbeat ("Testing" notifications, certificate-expiry reminders)
produce no alerts: there is nothing to resolve them later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.domain.model import Alert, AlertStatus, Severity, stable_hash
from shared.domain.sources._common import (
    as_array,
    as_int,
    as_object,
    check_key,
    check_size,
    first_value,
    index_path,
    key_path,
    link_from,
    make_alert,
    opt_str,
    parse_time,
    req_str,
    scalar_text,
    severity_from,
    slugify,
    unique_links,
)
from shared.domain.sources.errors import PayloadError

SOURCE = "uptime-kuma"

_STATES: dict[int, tuple[str, AlertStatus, str]] = {
    0: ("down", AlertStatus.FIRING, "is down"),
    1: ("up", AlertStatus.RESOLVED, "is up"),
    2: ("pending", AlertStatus.FIRING, "is pending"),
    3: ("maintenance", AlertStatus.RESOLVED, "is under maintenance"),
}


def normalise(payload: object, now: datetime) -> list[Alert]:
    """At most one Alert: the monitor's state change this heartbeat reports."""
    body = as_object(payload, "")
    if body.get("heartbeat") is None:
        return []
    heartbeat = as_object(body["heartbeat"], "heartbeat")
    monitor = {} if body.get("monitor") is None else as_object(body["monitor"], "monitor")
    return [_alert(body, heartbeat, monitor)]


def _alert(body: dict[str, Any], heartbeat: dict[str, Any], monitor: dict[str, Any]) -> Alert:
    state, status, verb = _state(heartbeat)
    monitor_id = _monitor_id(heartbeat, monitor)
    name = opt_str(monitor, "name", "monitor").strip()
    if monitor_id is None and not name:
        raise PayloadError("monitor.id", "is required (or monitor.name)")
    labels = _labels(monitor, monitor_id, state)
    at = parse_time(heartbeat.get("time"), "heartbeat.time", assume_utc=True)
    if at is None:
        raise PayloadError("heartbeat.time", "is required")
    return make_alert(
        "",
        source=SOURCE,
        fingerprint=_fingerprint(monitor_id, name),
        status=status,
        title=f"{name or f'Monitor {monitor_id}'} {verb}",
        summary=_summary(body, heartbeat),
        labels=labels,
        service=first_value(labels, ("service",)) or slugify(name) or None,
        severity=_severity(labels, state),
        starts_at=_starts_at(heartbeat, at) if status is AlertStatus.RESOLVED else at,
        ends_at=at if status is AlertStatus.RESOLVED else None,
        links=unique_links([link_from(monitor, "url", "monitor", "Monitor")]),
        raw=body,
    )


def _state(heartbeat: dict[str, Any]) -> tuple[str, AlertStatus, str]:
    if heartbeat.get("status") is None:
        raise PayloadError("heartbeat.status", "is required")
    code = as_int(heartbeat["status"], "heartbeat.status")
    if code not in _STATES:
        raise PayloadError("heartbeat.status", f"must be 0, 1, 2 or 3, got {code}")
    return _STATES[code]


def _monitor_id(heartbeat: dict[str, Any], monitor: dict[str, Any]) -> int | None:
    if monitor.get("id") is not None:
        return as_int(monitor["id"], "monitor.id")
    if heartbeat.get("monitorID") is not None:
        return as_int(heartbeat["monitorID"], "heartbeat.monitorID")
    return None


def _fingerprint(monitor_id: int | None, name: str) -> str:
    """The monitor is the alert: its id, or its name for senders that omit the id."""
    if monitor_id is not None:
        return stable_hash(SOURCE, "id", str(monitor_id))
    return stable_hash(SOURCE, "name", name)


def _labels(monitor: dict[str, Any], monitor_id: int | None, state: str) -> dict[str, str]:
    """Tags, then the monitor's identity (`monitor_id`, `monitor_type`, `monitor_status`)."""
    labels = _tag_labels(monitor.get("tags"), "monitor.tags")
    if monitor_id is not None:
        labels["monitor_id"] = str(monitor_id)
    monitor_type = opt_str(monitor, "type", "monitor").strip()
    if monitor_type:
        labels["monitor_type"] = monitor_type
    labels["monitor_status"] = state
    if state == "maintenance":
        labels["maintenance"] = "true"
    check_size(labels, "monitor.tags")
    return labels


def _tag_labels(value: object, path: str) -> dict[str, str]:
    """Tags as labels; a tag without a value is a flag ("true"), repeated tags join with ","."""
    if value is None:
        return {}
    merged: dict[str, list[str]] = {}
    for i, item in enumerate(as_array(value, path)):
        tag_path = index_path(path, i)
        tag = as_object(item, tag_path)
        name = check_key(req_str(tag, "name", tag_path).strip(), key_path(tag_path, "name"))
        raw_value = tag.get("value")
        text = "" if raw_value is None else scalar_text(raw_value, key_path(tag_path, "value")).strip()
        values = merged.setdefault(name, [])
        if (text or "true") not in values:
            values.append(text or "true")
    return {name: ",".join(values) for name, values in merged.items()}


def _severity(labels: dict[str, str], state: str) -> Severity | None:
    own = severity_from(labels)
    if own is None and state == "pending":
        return Severity.LOW
    return own


def _summary(body: dict[str, Any], heartbeat: dict[str, Any]) -> str:
    message = opt_str(heartbeat, "msg", "heartbeat").strip()
    if message and message != "N/A":
        return message
    return opt_str(body, "msg", "").strip()


def _starts_at(heartbeat: dict[str, Any], at: datetime) -> datetime:
    """When a recovered monitor went down: `lastDownTime` (newer builds) if readable, else the UP beat.

    The field's format is not documented, so an unreadable value falls back instead of failing.
    """
    try:
        return parse_time(heartbeat.get("lastDownTime"), "heartbeat.lastDownTime", assume_utc=True) or at
    except PayloadError:
        return at
