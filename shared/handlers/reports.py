"""Incidents reported by a person go through the same classification and grouping as alerts."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.api_models import ManualReport
from shared.config.policy import Policy
from shared.domain.classification import classify
from shared.domain.model import Alert, AlertStatus
from shared.domain.ports import IncidentStore, Publisher
from shared.handlers.events import publish_events


class UnknownType(ValueError):
    pass


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
    outcome = store.record_alerts([item], now)
    publish_events(outcome.events, store, publisher)
    return outcome.incident_id
