"""Incidents reported by a person go through the same classification and grouping as alerts."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.api_models import ManualReport
from shared.config.policy import Policy
from shared.domain.classification import classify
from shared.domain.model import Alert, AlertStatus
from shared.domain.ports import IncidentStore, Publisher
from shared.handlers.events import flush_pending, publish_events


class UnknownType(ValueError):
    pass


class NotAnnounced(RuntimeError):
    """The incident is stored but its events are not yet published (they wait in the outbox)."""

    def __init__(self, incident_id: str):
        super().__init__(incident_id)
        self.incident_id = incident_id


def report_incident(report: ManualReport, *, idempotency_key: str | None, policy: Policy,
                    store: IncidentStore, publisher: Publisher, now: datetime) -> str:
    """Idempotency key: the Idempotency-Key header (a retried POST returns the same incident)."""
    if report.type and report.type not in policy.incident_types:
        raise UnknownType(f"unknown incident type {report.type!r}; known: {', '.join(policy.incident_types)}")
    fingerprint = idempotency_key or uuid.uuid4().hex
    labels = {"reporter": report.reporter}
    if report.service:
        labels["service"] = report.service
    alert = Alert(source="manual", fingerprint=fingerprint, status=AlertStatus.FIRING, title=report.title,
                  summary=report.description, labels=labels, service=report.service, severity=report.severity,
                  starts_at=now)
    item = classify(policy, alert)
    itype = report.type or item.type
    item = item.model_copy(update={"type": itype, "group_key": f"{itype}|manual={fingerprint}"})
    outcome = store.record_alerts([item], now, policy)
    try:
        if outcome.events:
            publish_events(outcome.events, store, publisher)
        else:
            flush_pending(outcome.incident_id, store, publisher)  # a retry after a failed publish
    except Exception as exc:
        raise NotAnnounced(outcome.incident_id) from exc
    return outcome.incident_id
