"""From a batch of normalised alerts to incidents: classify, group, publish events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.config.policy import Policy
from shared.domain.classification import Classified, classify
from shared.domain.grouping import AlertRecord
from shared.domain.model import Alert, AlertStatus
from shared.domain.ports import IncidentStore, Publisher
from shared.handlers.events import flush_pending, publish_events
from shared.log import get_logger
from shared.settings import settings

log = get_logger("alerts")



def expiry_grace() -> timedelta:
    """An alert whose endsAt passed without a re-send is resolved this long after endsAt."""
    return timedelta(seconds=settings().alert_expiry_grace)


@dataclass
class BatchResult:
    incidents: set[str] = field(default_factory=set)
    created: list[str] = field(default_factory=list)
    writes: int = 0


def process_alerts(
    alerts: list[Alert],
    *,
    policy: Policy,
    store: IncidentStore,
    publisher: Publisher,
    now: datetime,
    schedule_expiry: Callable[[Alert, datetime], None] | None = None,
) -> BatchResult:
    """Idempotency key: each alert's id (source + fingerprint) and status; a redelivery changes nothing."""
    groups: dict[str, list[Classified]] = defaultdict(list)
    for alert in alerts:
        item = classify(policy, alert)
        groups[item.group_key].append(item)
    result = BatchResult()
    for batch in groups.values():
        outcome = store.record_alerts(batch, now, policy)
        result.writes += outcome.writes
        if outcome.incident_id is None:
            continue
        result.incidents.add(outcome.incident_id)
        if outcome.created:
            result.created.append(outcome.incident_id)
            log.info("incident opened", extra={"incident_id": outcome.incident_id, "group_key": batch[0].group_key})
        if outcome.events:
            publish_events(outcome.events, store, publisher)
        elif not outcome.writes:
            flush_pending(outcome.incident_id, store, publisher)  # a redelivery after a failed publish
        if outcome.maybe_all_resolved:
            publish_events(store.settle_alerts_resolved(outcome.incident_id, policy, now), store, publisher)
        if schedule_expiry is not None and outcome.writes:
            for item in batch:
                if item.alert.status is AlertStatus.FIRING and item.alert.ends_at and item.alert.ends_at > now:
                    schedule_expiry(item.alert, item.alert.ends_at + expiry_grace())
    return result


def expired_copy(record: AlertRecord, now: datetime) -> Alert | None:
    """The resolved copy of an alert whose endsAt passed without a re-send; None if it was re-sent."""
    if record.status is not AlertStatus.FIRING or record.ends_at is None or record.ends_at + expiry_grace() > now:
        return None
    return Alert(
        source=record.source, fingerprint=record.fingerprint, status=AlertStatus.RESOLVED, title=record.title,
        summary=record.summary, labels=record.labels, service=record.service, severity=record.severity,
        starts_at=record.starts_at, ends_at=record.ends_at,
    )
