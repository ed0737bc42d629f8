"""Resolution queries on the real Firestore emulator: timeline pages of a storm-sized incident, RCAs, metrics."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shared.adapters.firestore_resolution import ResolutionStore
from shared.domain.grouping import TIMELINE_ALERT_SAMPLE
from shared.domain.incident import TimelineEntry
from shared.domain.model import Severity
from shared.domain.rca import Rca, RcaStatus
from tests.integration.test_firestore_store import NOW, alert, record

pytestmark = pytest.mark.integration


@pytest.fixture
def rcas(store) -> ResolutionStore:
    return ResolutionStore(store.db)


def test_a_storm_of_1000_alerts_leaves_a_short_timeline_read_a_page_at_a_time(store, rcas):
    for start in range(0, 1000, 100):
        record(store, *(alert(f"storm-{i}") for i in range(start, start + 100)), now=NOW + timedelta(seconds=start))
    incident_id = "INC-2026-0001"
    assert store.alert_counts(incident_id) == (1000, 1000)
    for k in range(250):  # people and timers add their entries
        store.append_timeline(incident_id, TimelineEntry(at=NOW + timedelta(minutes=1, seconds=k), kind="note",
                                                         text=f"note {k}"))
    entries, cursor, pages = [], None, 0
    while True:
        page, cursor = rcas.timeline_page(incident_id, 100, cursor)
        entries += page
        pages += 1
        if cursor is None:
            break
    alerts = [e for _, e in entries if e.kind.startswith("alert")]
    assert 0 < len(alerts) <= TIMELINE_ALERT_SAMPLE, "a storm is counted, not copied into the timeline"
    assert len(entries) == len({i for i, _ in entries}) and pages == (len(entries) + 99) // 100
    assert [e.at for _, e in entries] == sorted(e.at for _, e in entries)
    assert [e.text for _, e in entries if e.kind == "note"] == [f"note {k}" for k in range(250)]


def rca(rca_id: str, day: date, severity: Severity, status: RcaStatus = RcaStatus.PUBLISHED) -> Rca:
    return Rca(id=rca_id, title=rca_id, date=day, severity=severity, status=status, created_at=NOW, updated_at=NOW)


def test_the_rca_list_is_newest_first_filterable_and_paged(rcas):
    rows = [rca("RCA-2025-09-14-gke-auto-upgrade-failure", date(2025, 9, 14), Severity.CRITICAL),
            rca("RCA-INC-2026-0001", date(2026, 3, 2), Severity.HIGH, RcaStatus.DRAFT),
            rca("RCA-INC-2026-0002", date(2026, 11, 30), Severity.CRITICAL, RcaStatus.IN_REVIEW),
            rca("RCA-INC-2026-0003", date(2026, 11, 30), Severity.CRITICAL)]
    for row in rows:
        assert rcas.create_rca(row)
    assert not rcas.create_rca(rows[0])  # created once
    listed, _ = rcas.list_rcas()
    assert [r.id for r in listed] == ["RCA-INC-2026-0003", "RCA-INC-2026-0002", "RCA-INC-2026-0001",
                                      "RCA-2025-09-14-gke-auto-upgrade-failure"]
    critical, _ = rcas.list_rcas(severity="critical", status="published")
    assert [r.id for r in critical] == ["RCA-INC-2026-0003", "RCA-2025-09-14-gke-auto-upgrade-failure"]
    ranged, _ = rcas.list_rcas(since=date(2026, 1, 1), until=date(2026, 6, 30))
    assert [r.id for r in ranged] == ["RCA-INC-2026-0001"]
    first, cursor = rcas.list_rcas(limit=3)
    rest, end = rcas.list_rcas(limit=3, cursor=cursor)
    assert len(first) == 3 and [r.id for r in rest] == ["RCA-2025-09-14-gke-auto-upgrade-failure"] and end is None
    assert rcas.get_rca("RCA-INC-2026-0001").date == date(2026, 3, 2)


def test_metrics_read_only_the_period_asked_for(store, rcas):
    record(store, alert("m1", name="A"), now=NOW - timedelta(days=40))
    record(store, alert("m2", name="B"), now=NOW - timedelta(days=3))
    record(store, alert("m3", name="C"), now=NOW)
    incidents, truncated = rcas.incidents_between(NOW - timedelta(days=7), NOW + timedelta(seconds=1))
    assert [i.title for i in incidents] == ["B", "C"] and not truncated
    few, truncated = rcas.incidents_between(NOW - timedelta(days=70), NOW + timedelta(seconds=1), limit=2)
    assert len(few) == 2 and truncated
