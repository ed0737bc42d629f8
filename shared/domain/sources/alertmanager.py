"""Alertmanager payloads: the v4 webhook object and the API v2 alert array.

The webhook body (also the shape Grafana's webhook extends) carries an explicit status and
the sender's fingerprint. The API v2 array (what vmalert and Prometheus POST to
/api/v2/alerts) carries neither: status follows from endsAt, the fingerprint from labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.model import Alert, AlertStatus, Link, fingerprint_of
from shared.domain.sources._common import (
    MAX_ANNOTATION_VALUE_LEN,
    as_array,
    as_object,
    check_count,
    check_fingerprint,
    first_value,
    index_path,
    key_path,
    link_from,
    make_alert,
    parse_status,
    parse_time,
    required,
    required_time,
    runbook_link,
    service_from,
    severity_from,
    string_map,
    unique_links,
)
from shared.domain.sources.errors import PayloadError

SOURCE = "alertmanager"


@dataclass(frozen=True)
class WebhookStyle:
    """What differs between Alertmanager-shaped webhooks (Alertmanager itself, Grafana)."""

    source: str
    external_title: str
    link_keys: tuple[tuple[str, str], ...] = (("generatorURL", "Source"),)


ALERTMANAGER_WEBHOOK = WebhookStyle(source=SOURCE, external_title="Alertmanager")


def normalise_webhook(payload: object, now: datetime) -> list[Alert]:
    """Alertmanager `webhook_config` body (version "4")."""
    return webhook_alerts(payload, now, ALERTMANAGER_WEBHOOK)


def webhook_alerts(payload: object, now: datetime, style: WebhookStyle) -> list[Alert]:
    """One Alert per element of `alerts`; group-level fields only supply defaults and links."""
    body = as_object(payload, "")
    alerts = as_array(required(body, "alerts", ""), "alerts")
    check_count(len(alerts))
    group_status = _optional_status(body.get("status"), "status")
    external = link_from(body, "externalURL", "", style.external_title)
    return [
        _webhook_alert(
            as_object(item, index_path("alerts", i)),
            index_path("alerts", i),
            now,
            style,
            group_status,
            external,
        )
        for i, item in enumerate(alerts)
    ]


def _optional_status(value: object, path: str) -> AlertStatus | None:
    return None if value is None else parse_status(value, path)


def _webhook_alert(
    element: dict[str, Any],
    path: str,
    now: datetime,
    style: WebhookStyle,
    group_status: AlertStatus | None,
    external: Link | None,
) -> Alert:
    labels = string_map(element.get("labels"), key_path(path, "labels"))
    annotations = string_map(
        element.get("annotations"), key_path(path, "annotations"), MAX_ANNOTATION_VALUE_LEN
    )
    status = _optional_status(element.get("status"), key_path(path, "status")) or group_status
    if status is None:
        raise PayloadError(key_path(path, "status"), "is required")
    starts_at = required_time(element, "startsAt", path)
    fingerprint = check_fingerprint(element.get("fingerprint"), key_path(path, "fingerprint"))
    links = [link_from(element, key, path, title) for key, title in style.link_keys]
    return make_alert(
        path,
        source=style.source,
        fingerprint=fingerprint or fingerprint_of(labels),
        status=status,
        starts_at=starts_at,
        ends_at=_webhook_ends_at(element, path, status, now),
        **describe(labels, annotations, style.external_title),
        links=unique_links([*links, runbook_link(annotations), external]),
        raw=element,
    )


def _webhook_ends_at(
    element: dict[str, Any], path: str, status: AlertStatus, now: datetime
) -> datetime | None:
    """Resolved alerts always get an end (the sender's, else now); firing ones never do.

    A webhook is not re-sent at the endsAt cadence, so a future endsAt on a firing webhook
    alert is not an auto-resolve deadline and is dropped.
    """
    ends_at = parse_time(element.get("endsAt"), key_path(path, "endsAt"))
    if status is AlertStatus.FIRING:
        return None
    return ends_at or now


def describe(labels: dict[str, str], annotations: dict[str, str], kind: str) -> dict[str, Any]:
    """Title, summary, service, severity and maps for a Prometheus-style labelled alert."""
    summary = first_value(annotations, ("summary", "description")) or ""
    title = first_value(labels, ("alertname",)) or summary or f"{kind} alert"
    return {
        "title": title,
        "summary": summary,
        "labels": labels,
        "annotations": annotations,
        "service": service_from(labels),
        "severity": severity_from(labels),
    }


def normalise_api_v2(payload: object, now: datetime) -> list[Alert]:
    """The PostableAlert array of POST /api/v2/alerts (vmalert, Prometheus)."""
    items = as_array(payload, "")
    check_count(len(items))
    return [
        _api_alert(as_object(item, index_path("", i)), index_path("", i), now) for i, item in enumerate(items)
    ]


def _api_alert(element: dict[str, Any], path: str, now: datetime) -> Alert:
    """Resolved iff endsAt has passed; a future endsAt stays as the auto-resolve deadline."""
    labels = string_map(required(element, "labels", path), key_path(path, "labels"))
    if not labels:
        raise PayloadError(key_path(path, "labels"), "must not be empty")
    annotations = string_map(
        element.get("annotations"), key_path(path, "annotations"), MAX_ANNOTATION_VALUE_LEN
    )
    starts_at = parse_time(element.get("startsAt"), key_path(path, "startsAt")) or now
    ends_at = parse_time(element.get("endsAt"), key_path(path, "endsAt"))
    resolved = ends_at is not None and ends_at <= now
    return make_alert(
        path,
        source=SOURCE,
        fingerprint=fingerprint_of(labels),
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        starts_at=starts_at,
        ends_at=ends_at,
        **describe(labels, annotations, "Alertmanager"),
        links=unique_links([link_from(element, "generatorURL", path, "Source"), runbook_link(annotations)]),
        raw=element,
    )
