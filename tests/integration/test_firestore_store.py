"""The incident store on the real Firestore emulator: transactions, concurrency, hot documents."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain.classification import classify
from shared.domain.incident import EventType, IncidentStatus
from shared.domain.model import Alert, AlertStatus

pytestmark = pytest.mark.integration
POLICY = load_policy(DEFAULT_POLICY_PATH)
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def alert(fingerprint: str, *, name: str = "HighErrorRate", service: str = "checkout", status: str = "firing",
          severity: str | None = None) -> Alert:
    labels = {"alertname": name, "service": service}
    if severity:
        labels["severity"] = severity
    return Alert(source="alertmanager", fingerprint=fingerprint, status=AlertStatus(status), title=name,
                 labels=labels, service=service, starts_at=NOW, severity=None if severity is None else severity)


def record(store, *alerts: Alert, now: datetime = NOW):
    return store.record_alerts([classify(POLICY, a) for a in alerts], now)


def test_first_alert_opens_an_incident_with_a_readable_id_and_an_outbox_event(store):
    outcome = record(store, alert("a1"))
    assert outcome.created and outcome.incident_id == "INC-2026-0001"
    assert [e.type for e in outcome.events] == [EventType.OPENED]
    assert [e.event_id for e in store.pending_events(outcome.incident_id)] == ["INC-2026-0001:opened"]
    incident = store.get_incident("INC-2026-0001")
    assert incident.title == "HighErrorRate" and incident.status is IncidentStatus.OPEN
    assert store.alert_counts("INC-2026-0001") == (1, 1)
    assert [t.kind for t in store.timeline_of("INC-2026-0001", 10)] == ["incident.opened", "alert.firing"]


def test_redelivered_alert_changes_nothing(store):
    first = record(store, alert("a1"))
    again = record(store, alert("a1"))
    assert not again.created and again.writes == 0 and again.events == []
    assert again.incident_id == first.incident_id
    assert store.alert_counts(first.incident_id) == (1, 1)


def test_twenty_concurrent_copies_of_one_alert_open_one_incident(store):
    """Invariant 2: grouping runs in a transaction, whatever the concurrency."""
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda _: record(store, alert("same")), range(20)))
    assert sum(o.created for o in outcomes) == 1
    assert {o.incident_id for o in outcomes} == {"INC-2026-0001"}
    assert store.list_incidents(limit=50).incidents[0].id == "INC-2026-0001"
    assert len(store.list_incidents(limit=50).incidents) == 1
    assert store.alert_counts("INC-2026-0001") == (1, 1)


def test_concurrent_distinct_groups_get_distinct_sequential_ids(store):
    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(lambda i: record(store, alert(f"x{i}", name=f"Alert{i}")), range(10)))
    ids = sorted(o.incident_id for o in outcomes)
    assert ids == [f"INC-2026-{n:04d}" for n in range(1, 11)]


def test_alert_storm_never_rewrites_the_incident_document(store):
    """Invariant 8: 500 distinct alerts of one group write their own documents, not the incident's."""
    opened = record(store, alert("storm-0"))
    incident_ref = store.db.collection("incidents").document(opened.incident_id)
    created_at = incident_ref.get().update_time
    writes = 0
    for start in range(1, 500, 50):
        batch = [alert(f"storm-{i}") for i in range(start, min(start + 50, 500))]
        writes += record(store, *batch, now=NOW + timedelta(seconds=start)).writes
    assert incident_ref.get().update_time == created_at
    assert store.alert_counts(opened.incident_id) == (500, 500)
    assert writes / 499 < 1.3  # one alert document each, plus a counter shard and a few timeline entries


def test_severity_only_goes_up(store):
    opened = record(store, alert("s1", severity="medium"))
    raised = record(store, alert("s2", severity="critical"), now=NOW + timedelta(minutes=1))
    assert EventType.SEVERITY_RAISED in [e.type for e in raised.events]
    record(store, alert("s3", severity="low"), now=NOW + timedelta(minutes=2))
    assert store.get_incident(opened.incident_id).severity == "critical"


def test_all_alerts_resolved_resolves_a_medium_incident_and_frees_the_group(store):
    opened = record(store, alert("r1", severity="medium"), alert("r2", severity="medium"))
    assert record(store, alert("r1", status="resolved")).maybe_all_resolved
    assert store.settle_alerts_resolved(opened.incident_id, POLICY, NOW) == []  # r2 still firing
    record(store, alert("r2", status="resolved"))
    events = store.settle_alerts_resolved(opened.incident_id, POLICY, NOW + timedelta(minutes=5))
    assert [e.type for e in events] == [EventType.RESOLVED]
    assert store.get_incident(opened.incident_id).status is IncidentStatus.RESOLVED
    assert store.settle_alerts_resolved(opened.incident_id, POLICY, NOW + timedelta(minutes=6)) == []
    reopened = record(store, alert("r1", severity="medium"), now=NOW + timedelta(minutes=10))
    assert reopened.created and reopened.incident_id != opened.incident_id


def test_all_alerts_resolved_only_tells_the_owner_of_a_critical_incident(store):
    opened = record(store, alert("c1", severity="critical"))
    record(store, alert("c1", status="resolved"))
    events = store.settle_alerts_resolved(opened.incident_id, POLICY, NOW)
    assert [e.type for e in events] == [EventType.ALERTS_RESOLVED]
    incident = store.get_incident(opened.incident_id)
    assert incident.status is IncidentStatus.OPEN and incident.alerts_resolved_at is not None


def test_claim_has_exactly_one_winner_and_expires_with_its_lease(store):
    with ThreadPoolExecutor(10) as pool:
        wins = list(pool.map(lambda _: store.claim("first-page:INC-1", NOW, timedelta(seconds=60)), range(10)))
    assert wins.count(True) == 1
    assert not store.claim("first-page:INC-1", NOW + timedelta(seconds=30), timedelta(seconds=60))
    assert store.claim("first-page:INC-1", NOW + timedelta(seconds=61), timedelta(seconds=60))
    store.complete_claim("first-page:INC-1", {"ts": "1.2"})
    assert not store.claim("first-page:INC-1", NOW + timedelta(days=1), timedelta(seconds=60))
    assert store.claim_result("first-page:INC-1") == {"ts": "1.2"}


def test_list_incidents_filters_and_paginates_newest_first(store):
    for i in range(5):
        record(store, alert(f"l{i}", name=f"L{i}", severity="critical" if i % 2 else "low"),
               now=NOW + timedelta(minutes=i))
    page = store.list_incidents(limit=2)
    assert [i.id for i in page.incidents] == ["INC-2026-0005", "INC-2026-0004"]
    rest = store.list_incidents(limit=10, cursor=page.next_cursor)
    assert [i.id for i in rest.incidents] == ["INC-2026-0003", "INC-2026-0002", "INC-2026-0001"]
    assert rest.next_cursor is None
    critical = store.list_incidents(severity="critical", limit=10)
    assert [i.id for i in critical.incidents] == ["INC-2026-0004", "INC-2026-0002"]
