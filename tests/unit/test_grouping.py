"""`decide`: which incident an alert belongs to and what one batch changes (pure, controllable clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.classification import Classified
from shared.domain.grouping import (
    ALERT_UPDATE_INTERVAL,
    TIMELINE_ALERT_SAMPLE,
    AlertRecord,
    Decision,
    GroupState,
    decide,
    on_all_alerts_resolved,
)
from shared.domain.incident import EventType, IncidentStatus
from shared.domain.model import AlertStatus, Severity
from tests.unit.factories import DEFAULT_GROUP_KEY, T0, classified, default_policy, incident

NEW = "__new__"


def firing(fingerprint: str = "fp-1", **kwargs) -> Classified:
    return classified(fingerprint, status=AlertStatus.FIRING, **kwargs)


def resolved(fingerprint: str = "fp-1", **kwargs) -> Classified:
    return classified(fingerprint, status=AlertStatus.RESOLVED, **kwargs)


def open_group(incident_id: str = "INC-2026-0001", severity: Severity = Severity.MEDIUM, *,
               last_event: datetime = T0, in_timeline: int = 1) -> GroupState:
    return GroupState(group_key=DEFAULT_GROUP_KEY, open_incident_id=incident_id, incident_severity=severity,
                      last_alert_event_at=last_event, alerts_in_timeline=in_timeline)


def record_of(item: Classified, incident_id: str | None, at: datetime = T0) -> AlertRecord:
    """The stored record of an alert, as a previous decision would have written it."""
    decision = decide(open_group(incident_id or "INC-0") if incident_id else None, {}, [item], at)
    (record,) = decision.alert_writes
    return record.model_copy(update={"incident_id": incident_id})


class Store:
    """A tiny in-memory stand-in for FirestoreStore.record_alerts: it feeds each decision back as state."""

    def __init__(self) -> None:
        self.group: GroupState | None = None
        self.alerts: dict[str, AlertRecord] = {}
        self.decisions: list[Decision] = []
        self.incidents = 0

    def send(self, batch: list[Classified], now: datetime) -> Decision:
        known = {c.alert.alert_id: self.alerts[c.alert.alert_id] for c in batch if c.alert.alert_id in self.alerts}
        decision = decide(self.group, known, batch, now)
        incident_id = self.group.open_incident_id if self.group else None
        if decision.create_incident is not None:
            self.incidents += 1
            incident_id = f"INC-2026-{self.incidents:04d}"
        for record in decision.alert_writes:
            if record.incident_id == NEW:
                record = record.model_copy(update={"incident_id": incident_id})
            self.alerts[record.alert_id] = record
        if decision.group is not None:
            state = decision.group
            if state.open_incident_id == NEW:
                state = state.model_copy(update={"open_incident_id": incident_id})
            self.group = state
        self.decisions.append(decision)
        return decision

    def resolve_incident(self) -> None:
        """What settle_alerts_resolved writes to the group when an incident resolves."""
        assert self.group is not None
        self.group = self.group.model_copy(update={"open_incident_id": None, "incident_severity": None})

    def count(self, what: str) -> int:
        return sum(1 for d in self.decisions if getattr(d, what) is not None)


def alert_entries(decision: Decision) -> list[str]:
    return [entry.kind for entry in decision.timeline if entry.kind.startswith("alert.")]


# -- a new incident -----------------------------------------------------------------------------------


def test_first_firing_alert_opens_an_incident() -> None:
    item = firing(severity=Severity.HIGH, starts_at=T0 - timedelta(minutes=3))
    decision = decide(None, {}, [item], T0)

    created = decision.create_incident
    assert created is not None
    assert (created.severity, created.type, created.group_key) == (Severity.HIGH, "system_alert", DEFAULT_GROUP_KEY)
    assert created.title == item.alert.title
    assert created.status is IncidentStatus.OPEN
    assert created.detected_at == T0 - timedelta(minutes=3)
    assert created.created_at == T0
    assert decision.events == [EventType.OPENED]
    assert [e.kind for e in decision.timeline] == ["incident.opened", "alert.firing"]
    assert (decision.added, decision.firing_delta) == (1, 1)
    (record,) = decision.alert_writes
    assert (record.incident_id, record.status, record.first_seen) == (NEW, AlertStatus.FIRING, T0)
    assert decision.group == GroupState(group_key=DEFAULT_GROUP_KEY, open_incident_id=NEW,
                                        incident_severity=Severity.HIGH, last_alert_event_at=T0,
                                        alerts_in_timeline=1)


def test_new_incident_takes_the_worst_alert_of_the_batch() -> None:
    batch = [firing("a", severity=Severity.LOW), firing("b", severity=Severity.CRITICAL),
             firing("c", severity=Severity.HIGH)]
    decision = decide(None, {}, batch, T0)
    assert decision.create_incident is not None
    assert decision.create_incident.severity is Severity.CRITICAL
    assert decision.create_incident.title == "Alert b"
    assert (decision.added, decision.firing_delta) == (3, 3)


def test_detection_time_is_never_in_the_future() -> None:
    decision = decide(None, {}, [firing(starts_at=T0 + timedelta(hours=1))], T0)
    assert decision.create_incident is not None
    assert decision.create_incident.detected_at == T0


def test_runbook_annotation_is_copied_to_the_incident() -> None:
    item = firing()
    item = item.model_copy(update={"alert": item.alert.model_copy(
        update={"annotations": {"runbook_url": "https://runbooks.example.com/disk"}})})
    decision = decide(None, {}, [item], T0)
    assert decision.create_incident is not None
    assert decision.create_incident.runbook_url == "https://runbooks.example.com/disk"


# -- alerts in an open incident ----------------------------------------------------------------------


def test_resent_identical_alert_changes_nothing() -> None:
    item = firing()
    known = {item.alert.alert_id: record_of(item, "INC-2026-0001")}
    decision = decide(open_group(), known, [item], T0 + timedelta(minutes=5))
    assert decision.changes_anything is False
    assert decision.alert_writes == []
    assert (decision.added, decision.firing_delta) == (0, 0)
    assert decision.events == [] and decision.timeline == []
    assert decision.group is None


def test_resend_that_moves_the_end_time_updates_only_the_alert() -> None:
    item = firing()
    known = {item.alert.alert_id: record_of(item, "INC-2026-0001")}
    later = firing(ends_at=T0 + timedelta(minutes=10))
    decision = decide(open_group(), known, [later], T0 + timedelta(minutes=5))
    (record,) = decision.alert_writes
    assert record.ends_at == T0 + timedelta(minutes=10)
    assert record.first_seen == T0
    assert (decision.added, decision.firing_delta) == (0, 0)
    assert decision.events == []


def test_second_distinct_alert_joins_the_open_incident() -> None:
    first = firing("a")
    known = {first.alert.alert_id: record_of(first, "INC-2026-0001")}
    decision = decide(open_group(), known, [first, firing("b")], T0 + timedelta(minutes=1))
    assert (decision.added, decision.firing_delta) == (1, 1)
    assert decision.create_incident is None
    assert decision.raise_severity_to is None
    assert EventType.OPENED not in decision.events
    (record,) = decision.alert_writes
    assert record.incident_id == "INC-2026-0001"
    assert alert_entries(decision) == ["alert.firing"]


def test_resolution_of_a_known_firing_alert_counts_down() -> None:
    item = firing()
    known = {item.alert.alert_id: record_of(item, "INC-2026-0001")}
    decision = decide(open_group(), known, [resolved()], T0 + timedelta(minutes=2))
    assert (decision.added, decision.firing_delta) == (0, -1)
    (record,) = decision.alert_writes
    assert (record.status, record.incident_id, record.first_seen) == (AlertStatus.RESOLVED, "INC-2026-0001", T0)
    assert alert_entries(decision) == ["alert.resolved"]


def test_refiring_of_a_resolved_alert_in_the_same_incident_counts_up_but_is_not_new() -> None:
    item = resolved()
    known = {item.alert.alert_id: record_of(item, "INC-2026-0001")}
    decision = decide(open_group(), known, [firing()], T0 + timedelta(minutes=2))
    assert (decision.added, decision.firing_delta) == (0, 1)


def test_resolution_of_an_alert_never_seen_opens_nothing() -> None:
    decision = decide(None, {}, [resolved()], T0)
    assert decision.create_incident is None
    assert decision.events == []
    assert (decision.added, decision.firing_delta) == (0, 0)
    (record,) = decision.alert_writes  # remembered, so a later firing is known
    assert (record.incident_id, record.status) == (None, AlertStatus.RESOLVED)
    assert decision.group is not None and decision.group.open_incident_id is None


def test_repeated_resolution_of_an_unowned_alert_writes_nothing() -> None:
    item = resolved()
    known = {item.alert.alert_id: record_of(item, None)}
    decision = decide(GroupState(group_key=DEFAULT_GROUP_KEY), known, [item], T0)
    assert decision.changes_anything is False


def test_alert_of_an_older_incident_refires_into_the_open_incident() -> None:
    item = firing()
    known = {item.alert.alert_id: record_of(item, "INC-2026-0001")}
    decision = decide(open_group("INC-2026-0002"), known, [item], T0 + timedelta(hours=3))
    (record,) = decision.alert_writes
    assert record.incident_id == "INC-2026-0002"
    assert record.first_seen == T0 + timedelta(hours=3)
    assert (decision.added, decision.firing_delta) == (1, 1)
    assert decision.create_incident is None


def test_alert_of_a_resolved_incident_opens_a_new_one_when_none_is_open() -> None:
    item = firing()
    known = {item.alert.alert_id: record_of(item, "INC-2026-0001")}
    group = GroupState(group_key=DEFAULT_GROUP_KEY, last_alert_event_at=T0)
    decision = decide(group, known, [item], T0 + timedelta(hours=3))
    assert decision.create_incident is not None
    assert decision.events == [EventType.OPENED]
    (record,) = decision.alert_writes
    assert record.incident_id == NEW
    assert (decision.added, decision.firing_delta) == (1, 1)


def test_resolution_of_an_alert_of_an_older_incident_does_not_count_in_the_open_one() -> None:
    item = firing()
    known = {item.alert.alert_id: record_of(item, "INC-2026-0001")}
    decision = decide(open_group("INC-2026-0002"), known, [resolved()], T0 + timedelta(hours=3))
    (record,) = decision.alert_writes
    assert record.incident_id == "INC-2026-0001"
    assert (decision.added, decision.firing_delta) == (0, 0)


def test_same_alert_twice_in_one_batch_is_processed_once() -> None:
    decision = decide(None, {}, [firing(), firing()], T0)
    assert len(decision.alert_writes) == 1
    assert (decision.added, decision.firing_delta) == (1, 1)
    assert alert_entries(decision) == ["alert.firing"]


def test_same_alert_twice_in_one_batch_last_status_wins() -> None:
    item = firing()
    known = {item.alert.alert_id: record_of(item, "INC-2026-0001")}
    decision = decide(open_group(), known, [resolved(), firing(), resolved()], T0 + timedelta(minutes=1))
    (record,) = decision.alert_writes
    assert record.status is AlertStatus.RESOLVED
    assert decision.firing_delta == -1


# -- severity -----------------------------------------------------------------------------------------


def test_higher_severity_alert_raises_the_incident_severity() -> None:
    decision = decide(open_group(severity=Severity.MEDIUM), {}, [firing("b", severity=Severity.CRITICAL)],
                      T0 + timedelta(minutes=1))
    assert decision.raise_severity_to is Severity.CRITICAL
    assert EventType.SEVERITY_RAISED in decision.events
    assert "incident.severity_raised" in [e.kind for e in decision.timeline]
    assert decision.group is not None and decision.group.incident_severity is Severity.CRITICAL


@pytest.mark.parametrize("lower", [Severity.HIGH, Severity.MEDIUM, Severity.LOW])
def test_lower_or_equal_severity_alert_never_lowers_it(lower: Severity) -> None:
    decision = decide(open_group(severity=Severity.HIGH), {}, [firing("b", severity=lower)], T0)
    assert decision.raise_severity_to is None
    assert EventType.SEVERITY_RAISED not in decision.events
    assert decision.group is None or decision.group.incident_severity is Severity.HIGH


def test_resolved_alert_of_higher_severity_does_not_raise() -> None:
    decision = decide(open_group(severity=Severity.LOW), {}, [resolved("b", severity=Severity.CRITICAL)], T0)
    assert decision.raise_severity_to is None


def test_worst_alert_of_a_mixed_batch_raises_the_severity() -> None:
    batch = [firing("b", severity=Severity.CRITICAL), firing("c", severity=Severity.LOW)]
    decision = decide(open_group(severity=Severity.MEDIUM), {}, batch, T0)
    assert decision.raise_severity_to is Severity.CRITICAL


# -- throttling and timeline --------------------------------------------------------------------------


def test_alerts_updated_at_most_once_per_interval() -> None:
    store = Store()
    store.send([firing("a0")], T0)
    assert store.decisions[-1].events == [EventType.OPENED]  # no update event for the opening batch

    step = timedelta(seconds=5)
    updates: list[datetime] = []
    for i in range(1, 25):  # one new alert every 5 seconds for 2 minutes
        now = T0 + i * step
        if EventType.ALERTS_UPDATED in store.send([firing(f"a{i}")], now).events:
            updates.append(now)
    assert updates == [T0 + timedelta(seconds=30), T0 + timedelta(seconds=60), T0 + timedelta(seconds=90),
                       T0 + timedelta(seconds=120)]
    assert all(b - a >= ALERT_UPDATE_INTERVAL for a, b in zip(updates, updates[1:], strict=False))


def test_alerts_updated_when_the_interval_has_passed() -> None:
    group = open_group(last_event=T0)
    assert EventType.ALERTS_UPDATED not in decide(group, {}, [firing("b")], T0 + ALERT_UPDATE_INTERVAL / 2).events
    decision = decide(group, {}, [firing("b")], T0 + ALERT_UPDATE_INTERVAL)
    assert EventType.ALERTS_UPDATED in decision.events
    assert decision.group is not None and decision.group.last_alert_event_at == T0 + ALERT_UPDATE_INTERVAL


def test_timeline_copies_only_a_sample_of_alerts() -> None:
    store = Store()
    for i in range(TIMELINE_ALERT_SAMPLE + 15):
        store.send([firing(f"a{i}")], T0 + timedelta(seconds=i))
    entries = [kind for d in store.decisions for kind in alert_entries(d)]
    assert len(entries) == TIMELINE_ALERT_SAMPLE
    assert store.group is not None and store.group.alerts_in_timeline == TIMELINE_ALERT_SAMPLE
    # once the sample is full, a new alert writes its own record and nothing on the group
    last = store.send([firing("one-more")], T0 + timedelta(seconds=40))
    assert alert_entries(last) == []
    assert last.added == 1


def test_a_storm_of_1000_alerts_writes_the_incident_document_once() -> None:
    store = Store()
    severities = [Severity.HIGH, Severity.MEDIUM, Severity.LOW]
    batch_size = 25
    for b in range(1000 // batch_size):
        batch = [firing(f"storm-{b}-{i}", severity=severities[(b + i) % 3] if (b, i) != (0, 0) else Severity.HIGH)
                 for i in range(batch_size)]
        store.send(batch, T0 + timedelta(seconds=b))

    assert store.count("create_incident") == 1
    assert store.count("raise_severity_to") == 0
    assert sum(d.added for d in store.decisions) == 1000
    assert sum(d.firing_delta for d in store.decisions) == 1000
    assert sum(len(alert_entries(d)) for d in store.decisions) == TIMELINE_ALERT_SAMPLE
    assert {r.incident_id for r in store.alerts.values()} == {"INC-2026-0001"}
    opened = [e for d in store.decisions for e in d.events if e is EventType.OPENED]
    updated = [e for d in store.decisions for e in d.events if e is EventType.ALERTS_UPDATED]
    assert len(opened) == 1
    assert len(updated) == 1  # 40 seconds of storm, one refresh at +30s

    # the storm re-sent in full changes nothing at all
    for b in range(1000 // batch_size):
        batch = [firing(f"storm-{b}-{i}", severity=severities[(b + i) % 3] if (b, i) != (0, 0) else Severity.HIGH)
                 for i in range(batch_size)]
        assert store.send(batch, T0 + timedelta(minutes=5, seconds=b)).changes_anything is False


def test_next_incident_of_a_group_gets_its_own_timeline_sample() -> None:
    store = Store()
    for i in range(TIMELINE_ALERT_SAMPLE):
        store.send([firing(f"a{i}")], T0 + timedelta(seconds=i))
    for i in range(TIMELINE_ALERT_SAMPLE):
        store.send([resolved(f"a{i}")], T0 + timedelta(minutes=1, seconds=i))
    store.resolve_incident()

    decision = store.send([firing("b")], T0 + timedelta(hours=1))
    assert decision.create_incident is not None
    assert alert_entries(decision) == ["alert.firing"]


# -- all alerts resolved -----------------------------------------------------------------------------


@pytest.mark.parametrize("severity", [Severity.MEDIUM, Severity.LOW])
def test_all_alerts_resolved_resolves_medium_and_low_incidents(severity: Severity) -> None:
    outcome = on_all_alerts_resolved(default_policy(), incident(severity=severity), T0)
    assert outcome is not None
    assert outcome.resolve is True
    assert outcome.event is EventType.RESOLVED
    assert (outcome.timeline.kind, outcome.timeline.at) == ("incident.resolved", T0)


@pytest.mark.parametrize("severity", [Severity.CRITICAL, Severity.HIGH])
def test_all_alerts_resolved_only_tells_the_owner_for_critical_and_high(severity: Severity) -> None:
    outcome = on_all_alerts_resolved(default_policy(), incident(severity=severity), T0)
    assert outcome is not None
    assert outcome.resolve is False
    assert outcome.event is EventType.ALERTS_RESOLVED
    assert outcome.timeline.kind == "incident.alerts_resolved"


def test_all_alerts_resolved_does_nothing_for_a_resolved_incident() -> None:
    done = incident(status=IncidentStatus.RESOLVED, resolved_at=T0)
    assert on_all_alerts_resolved(default_policy(), done, T0 + timedelta(minutes=1)) is None


def test_all_alerts_resolved_is_said_only_once() -> None:
    told = incident(severity=Severity.CRITICAL, alerts_resolved_at=T0)
    assert on_all_alerts_resolved(default_policy(), told, T0 + timedelta(minutes=1)) is None


# -- property: the firing counter matches the alerts' latest status ----------------------------------

FINGERPRINTS = ["a", "b", "c", "d"]
notification = st.tuples(
    st.sampled_from(FINGERPRINTS),
    st.sampled_from([AlertStatus.FIRING, AlertStatus.RESOLVED]),
    st.sampled_from([None, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]),  # firing re-sends move ends_at
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(notification, min_size=1, max_size=3), min_size=1, max_size=12))
def test_running_firing_delta_equals_alerts_currently_firing(batches: list[list[tuple]]) -> None:
    store = Store()
    latest: dict[str, AlertStatus] = {}
    ever_fired: set[str] = set()
    for n, batch in enumerate(batches):
        items = [classified(fp, status=status, ends_at=ends_at) for fp, status, ends_at in batch]
        store.send(items, T0 + timedelta(seconds=10 * n))
        for fp, status, _ in batch:
            latest[fp] = status
        if store.group is not None and store.group.open_incident_id is not None:
            ever_fired |= {fp for fp, status in latest.items() if status is AlertStatus.FIRING}
            assert sum(d.firing_delta for d in store.decisions) == sum(
                1 for status in latest.values() if status is AlertStatus.FIRING)
            assert sum(d.added for d in store.decisions) == len(ever_fired)
        else:
            assert all(status is AlertStatus.RESOLVED for status in latest.values())
            assert sum(d.firing_delta for d in store.decisions) == 0
    assert store.count("create_incident") <= 1
