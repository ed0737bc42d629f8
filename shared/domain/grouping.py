"""Grouping: which incident an alert belongs to, and what changes when it arrives.

The store reads the group's state and the alerts already known inside one transaction,
asks `decide` what to do, and writes the answer. `decide` is pure, so every case is a
millisecond unit test. Writes are kept off the incident document: a re-sent alert
changes nothing, a new alert writes its own document and a counter shard, and the
incident itself is written only when it is created or its severity rises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel

from shared.config.policy import Policy
from shared.domain.classification import Classified
from shared.domain.incident import EventType, Incident, IncidentStatus, TimelineEntry
from shared.domain.model import AlertCategory, AlertStatus, Severity

# An incident's Slack message is refreshed for new alerts at most this often during a storm.
ALERT_UPDATE_INTERVAL = timedelta(seconds=30)
# Only the first few alerts are copied into the timeline; the rest are counted.
TIMELINE_ALERT_SAMPLE = 20


class AlertRecord(BaseModel):
    """The stored state of one alert (document `alerts/<alert_id>`)."""

    alert_id: str
    incident_id: str | None
    group_key: str
    category: AlertCategory
    type: str
    source: str
    fingerprint: str
    status: AlertStatus
    title: str
    summary: str = ""
    severity: Severity
    service: str | None = None
    labels: dict[str, str] = {}
    starts_at: datetime
    ends_at: datetime | None = None
    first_seen: datetime
    last_changed: datetime
    links: list[dict[str, str]] = []


class GroupState(BaseModel):
    """Document `groups/<group_id>`: the open incident of a group key, if any."""

    group_key: str
    open_incident_id: str | None = None
    incident_severity: Severity | None = None
    last_alert_event_at: datetime | None = None
    alerts_in_timeline: int = 0


@dataclass
class Decision:
    create_incident: Incident | None = None  # id and number are filled in by the store
    raise_severity_to: Severity | None = None
    alert_writes: list[AlertRecord] = field(default_factory=list)
    firing_delta: int = 0
    added: int = 0
    timeline: list[TimelineEntry] = field(default_factory=list)
    events: list[EventType] = field(default_factory=list)
    group: GroupState | None = None  # new group state to write, None if unchanged

    @property
    def changes_anything(self) -> bool:
        return bool(self.create_incident or self.raise_severity_to or self.alert_writes or self.group)


def decide(
    group: GroupState | None,
    known: dict[str, AlertRecord],
    batch: list[Classified],
    now: datetime,
) -> Decision:
    """What one batch of alerts of a single group changes. Pure."""
    decision = Decision()
    latest = {c.alert.alert_id: c for c in batch}  # a batch may carry the same alert twice: last wins
    state = group or GroupState(group_key=batch[0].group_key)
    open_id = state.open_incident_id
    firing = [c for c in latest.values() if c.alert.status is AlertStatus.FIRING]

    if open_id is None and firing:
        decision.create_incident = _new_incident(max(firing, key=_worst_first), batch, now)
        decision.events.append(EventType.OPENED)
        decision.timeline.append(
            TimelineEntry(at=now, kind="incident.opened", text=f"Incident opened from {firing[0].alert.source}",
                          source=firing[0].alert.source, data={"group_key": state.group_key})
        )
        open_id = "__new__"

    already_sampled = 0 if decision.create_incident is not None else state.alerts_in_timeline
    timeline_budget = TIMELINE_ALERT_SAMPLE - already_sampled
    for alert_id, item in latest.items():
        prev = known.get(alert_id)
        record, delta, added = _apply(prev, item, open_id, now)
        if record is None:
            continue
        decision.alert_writes.append(record)
        decision.firing_delta += delta
        decision.added += added
        if (added or delta) and timeline_budget > 0 and record.incident_id:
            timeline_budget -= 1
            decision.timeline.append(_alert_entry(record, now))

    if state.open_incident_id and firing and state.incident_severity:
        worst = max((c.severity for c in firing), key=lambda s: s.rank)
        if worst.rank > state.incident_severity.rank:
            decision.raise_severity_to = worst
            decision.events.append(EventType.SEVERITY_RAISED)
            decision.timeline.append(
                TimelineEntry(at=now, kind="incident.severity_raised",
                              text=f"Severity raised from {state.incident_severity} to {worst} by a new alert",
                              data={"from": state.incident_severity, "to": worst})
            )

    new_state = state.model_copy()
    changed = False
    if decision.create_incident is not None:
        new_state.open_incident_id = open_id
        new_state.incident_severity = decision.create_incident.severity
        new_state.last_alert_event_at = now
        changed = True
    if decision.raise_severity_to:
        new_state.incident_severity = decision.raise_severity_to
        changed = True
    in_timeline = TIMELINE_ALERT_SAMPLE - max(timeline_budget, 0)
    if in_timeline != already_sampled or in_timeline != state.alerts_in_timeline:
        new_state.alerts_in_timeline = in_timeline
        changed = True
    alerts_moved = decision.added or decision.firing_delta
    if state.open_incident_id and alerts_moved and _due(state.last_alert_event_at, now):
        decision.events.append(EventType.ALERTS_UPDATED)
        new_state.last_alert_event_at = now
        changed = True
    decision.group = new_state if changed or group is None else None
    return decision


def _apply(
    prev: AlertRecord | None, item: Classified, open_id: str | None, now: datetime
) -> tuple[AlertRecord | None, int, int]:
    """The alert's new record (None when nothing changed), its firing delta and whether it is new."""
    alert = item.alert
    is_firing = alert.status is AlertStatus.FIRING
    belongs = prev is not None and prev.incident_id is not None and prev.incident_id == open_id
    if prev is None or not belongs:
        if not is_firing and (prev is None or prev.status is AlertStatus.RESOLVED):
            # A resolution for an alert we never saw firing (or already closed): remember it, page nobody.
            return (_record(item, None, now, prev) if prev is None else None), 0, 0
        if not is_firing:
            return _record(item, prev.incident_id, now, prev), 0, 0
        return _record(item, open_id, now, None), 1, 1
    if prev.status is not alert.status:
        return _record(item, open_id, now, prev), (1 if is_firing else -1), 0
    if prev.ends_at != alert.ends_at and is_firing:
        return _record(item, open_id, now, prev), 0, 0  # a re-send that moves the auto-resolve time
    return None, 0, 0


def _record(item: Classified, incident: str | None, now: datetime, prev: AlertRecord | None) -> AlertRecord:
    alert = item.alert
    return AlertRecord(
        alert_id=alert.alert_id,
        incident_id=incident,
        group_key=item.group_key,
        category=item.category,
        type=item.type,
        source=alert.source,
        fingerprint=alert.fingerprint,
        status=alert.status,
        title=alert.title,
        summary=alert.summary,
        severity=item.severity,
        service=item.service,
        labels=alert.labels,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        first_seen=prev.first_seen if prev and prev.incident_id == incident else now,
        last_changed=now,
        links=[link.model_dump() for link in alert.links],
    )


def _new_incident(first: Classified, batch: list[Classified], now: datetime) -> Incident:
    alert = first.alert
    runbook = alert.annotations.get("runbook_url") or alert.annotations.get("runbook")
    detected = min(c.alert.starts_at for c in batch if c.alert.status is AlertStatus.FIRING)
    return Incident(
        id="__new__",
        number=0,
        title=alert.title[:200],
        summary=alert.summary[:2000],
        severity=first.severity,
        category=first.category,
        type=first.type,
        service=first.service,
        group_key=first.group_key,
        source=alert.source,
        labels=alert.labels,
        links=alert.links,
        partner=alert.partner,
        runbook_url=runbook,
        detected_at=min(detected, now),
        created_at=now,
        updated_at=now,
    )


def _alert_entry(record: AlertRecord, now: datetime) -> TimelineEntry:
    verb = "firing" if record.status is AlertStatus.FIRING else "resolved"
    return TimelineEntry(
        at=now, kind=f"alert.{verb}", text=f"Alert {verb}: {record.title}", source=record.source,
        data={"alert_id": record.alert_id},
    )


def _worst_first(item: Classified) -> int:
    return item.severity.rank


def _due(last: datetime | None, now: datetime) -> bool:
    return last is None or now - last >= ALERT_UPDATE_INTERVAL


@dataclass
class AllResolved:
    """What to do once the last firing alert of an incident resolves."""

    resolve: bool
    timeline: TimelineEntry
    event: EventType


def on_all_alerts_resolved(policy: Policy, incident: Incident, now: datetime) -> AllResolved | None:
    """Resolve the incident or tell its owner, as the policy decides per severity."""
    if incident.status is IncidentStatus.RESOLVED or incident.alerts_resolved_at is not None:
        return None
    rule = policy.severity(incident.severity).when_all_alerts_resolve
    if rule == "resolve":
        return AllResolved(True, TimelineEntry(at=now, kind="incident.resolved",
                                               text="Resolved automatically: every alert has resolved"),
                           EventType.RESOLVED)
    return AllResolved(False, TimelineEntry(at=now, kind="incident.alerts_resolved",
                                            text="Every alert has resolved; the owner decides when to resolve"),
                       EventType.ALERTS_RESOLVED)
