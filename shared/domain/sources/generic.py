"""Our own documented JSON alert format, for senders with no native integration.

See docs/generic-alert-format.md. The body is one alert object, {"alerts": [...]}, or a
bare array of alert objects. Unknown fields are ignored so senders can add their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.domain.model import Alert, AlertStatus, Link, Severity, fingerprint_of, stable_hash
from shared.domain.sources._common import (
    MAX_ALERTS,
    MAX_ANNOTATION_VALUE_LEN,
    as_object,
    check_fingerprint,
    key_path,
    make_alert,
    make_link,
    object_list,
    opt_str,
    parse_status,
    parse_time,
    req_str,
    runbook_link,
    service_from,
    severity_from,
    string_map,
    unique_links,
)
from shared.domain.sources.errors import PayloadError

SOURCE = "generic"


def normalise(payload: object, now: datetime) -> list[Alert]:
    return [_alert(element, path, now) for path, element in _elements(payload)]


def _elements(payload: object) -> list[tuple[str, dict[str, Any]]]:
    """(path, object) for each alert, whichever of the three body shapes was sent."""
    if isinstance(payload, list):
        return object_list(payload, "", limit=MAX_ALERTS)
    body = as_object(payload, "")
    if "alerts" in body:
        if body["alerts"] is None:
            raise PayloadError("alerts", "must be an array, got null")
        return object_list(body["alerts"], "alerts", limit=MAX_ALERTS)
    return [("", body)]


def _alert(element: dict[str, Any], path: str, now: datetime) -> Alert:
    title = req_str(element, "title", path).strip()
    labels = string_map(element.get("labels"), key_path(path, "labels"))
    annotations = string_map(
        element.get("annotations"), key_path(path, "annotations"), MAX_ANNOTATION_VALUE_LEN
    )
    service = opt_str(element, "service", path).strip() or service_from(labels)
    status, ends_at = _status_and_end(element, path, now)
    fingerprint = check_fingerprint(element.get("fingerprint"), key_path(path, "fingerprint"))
    return make_alert(
        path,
        source=SOURCE,
        fingerprint=fingerprint or stable_hash(SOURCE, title, service or "", fingerprint_of(labels)),
        status=status,
        title=title,
        summary=opt_str(element, "summary", path),
        labels=labels,
        annotations=annotations,
        service=service,
        severity=_severity(element, path) or severity_from(labels),
        starts_at=parse_time(element.get("starts_at"), key_path(path, "starts_at")) or now,
        ends_at=ends_at,
        links=unique_links(
            [*_links(element.get("links"), key_path(path, "links")), runbook_link(annotations)]
        ),
        raw=element,
    )


def _status_and_end(element: dict[str, Any], path: str, now: datetime) -> tuple[AlertStatus, datetime | None]:
    """Resolved when it says so (ending now unless ends_at is given) or once ends_at has passed.

    A future ends_at on a firing alert is kept: "resolve at this time unless re-sent", as in
    the Alertmanager API.
    """
    raw_status = element.get("status")
    status = AlertStatus.FIRING if raw_status is None else parse_status(raw_status, key_path(path, "status"))
    ends_at = parse_time(element.get("ends_at"), key_path(path, "ends_at"))
    if status is AlertStatus.RESOLVED:
        return status, ends_at or now
    if ends_at is not None and ends_at <= now:
        return AlertStatus.RESOLVED, ends_at
    return status, ends_at


def _severity(element: dict[str, Any], path: str) -> Severity | None:
    text = opt_str(element, "severity", path).strip()
    if not text:
        return None
    parsed = Severity.parse(text)
    if parsed is None:
        raise PayloadError(key_path(path, "severity"), f"unknown severity {text[:40]!r}")
    return parsed


def _links(value: object, path: str) -> list[Link]:
    links: list[Link] = []
    for link_path, item in object_list(value, path):
        url = req_str(item, "url", link_path)
        link = make_link(opt_str(item, "title", link_path).strip() or "Link", url)
        if link is None:
            raise PayloadError(key_path(link_path, "url"), "must be an absolute http(s) URL")
        links.append(link)
    return links
