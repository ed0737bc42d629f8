"""Metrics on a seeded set of incidents, with answers computed by hand in the comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain import metrics
from shared.domain.actions import start_escalation
from shared.domain.incident import Incident
from shared.domain.metrics import PageRecord
from shared.domain.model import AlertCategory, Severity

POLICY = load_policy(DEFAULT_POLICY_PATH)
SINCE = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
UNTIL = datetime(2026, 11, 30, tzinfo=UTC)
M = timedelta(minutes=1)


def make(n: int, created: datetime, severity: Severity, *, type_="system_alert", service="checkout",
         ack=None, mitigated=None, alerts_resolved=None, resolved=None, breached=False) -> Incident:
    incident = Incident(id=f"INC-2026-{n:04d}", number=n, title=f"incident {n}", severity=severity,
                        category=AlertCategory.INFRASTRUCTURE, type=type_, group_key=f"g{n}", source="grafana",
                        service=service, detected_at=created, created_at=created, updated_at=created,
                        acknowledged_at=ack and created + ack, mitigated_at=mitigated and created + mitigated,
                        alerts_resolved_at=alerts_resolved and created + alerts_resolved,
                        resolved_at=resolved and created + resolved)
    state = start_escalation(POLICY, type_, severity, created).updates["escalation"]
    if breached:
        state["response_breached_at"] = created + 15 * M
    return Incident.model_validate(incident.model_dump() | {"escalation": state})


def seeded() -> list[Incident]:
    t = SINCE + timedelta(days=1, hours=10)
    return [
        make(1, t, Severity.CRITICAL, ack=4 * M, mitigated=20 * M, resolved=60 * M),
        make(2, t + timedelta(days=1), Severity.HIGH, ack=10 * M, alerts_resolved=30 * M, resolved=120 * M,
             breached=True),
        make(3, t + timedelta(days=2), Severity.MEDIUM, type_="bug_report", service="payments", ack=2 * M,
             resolved=20 * M),
        make(4, t + timedelta(days=3), Severity.LOW, service=None),
        make(5, SINCE - timedelta(hours=1), Severity.CRITICAL, ack=M, resolved=2 * M, breached=True),  # before
    ]


def test_metrics_of_a_week_match_the_hand_computed_answers():
    pages = [PageRecord(person_id="devops-1", name="DevOps Engineer One", at=SINCE + timedelta(days=d))
             for d in (1, 2, 3)]
    pages += [PageRecord(person_id="cto", name="CTO", at=SINCE + timedelta(days=2)),
              PageRecord(person_id="cto", name="CTO", at=SINCE - timedelta(minutes=1))]  # before the period
    m = metrics.compute(seeded(), pages, SINCE, UNTIL)
    assert m.incidents == 4 and m.open == 1 and m.resolved == 3
    assert m.by_severity == {"critical": 1, "high": 1, "medium": 1, "low": 1}
    assert m.by_type == {"bug_report": 1, "system_alert": 3}
    assert m.by_service == {"checkout": 2, "payments": 1, "unknown": 1}
    # acknowledge: 240 s, 600 s, 120 s -> median 240, mean 320 (incident 4 never acknowledged)
    assert (m.time_to_acknowledge.count, m.time_to_acknowledge.median_seconds,
            m.time_to_acknowledge.mean_seconds) == (3, 240.0, 320.0)
    # mitigate: marked 1200 s; all alerts resolved 1800 s; resolution 1200 s -> median 1200, mean 1400
    assert (m.time_to_mitigate.median_seconds, m.time_to_mitigate.mean_seconds) == (1200.0, 1400.0)
    # resolve: 3600 s, 7200 s, 1200 s -> median 3600, mean 4000
    assert (m.time_to_resolve.median_seconds, m.time_to_resolve.mean_seconds) == (3600.0, 4000.0)
    assert m.response_breaches == 1 and m.breached_incidents == ["INC-2026-0002"]
    assert [(p.person_id, p.pages) for p in m.pages_per_person] == [("devops-1", 3), ("cto", 1)]


def test_an_empty_period_has_no_durations():
    m = metrics.compute([], [], SINCE, UNTIL)
    assert m.incidents == 0 and m.time_to_resolve.median_seconds is None and m.pages_per_person == []


def test_weekly_series_groups_by_monday_weeks():
    weeks = metrics.weekly(seeded(), UNTIL + timedelta(hours=3), 3)
    assert [w.start for w in weeks] == [SINCE - timedelta(weeks=1), SINCE, UNTIL]
    # week of Nov 16: only incident 5 (created Nov 22 23:00): tta 60 s, ttr 120 s
    assert (weeks[0].incidents, weeks[0].mtta_median_seconds, weeks[0].mttr_median_seconds) == (1, 60.0, 120.0)
    assert (weeks[1].incidents, weeks[1].mtta_median_seconds, weeks[1].mttr_median_seconds) == (4, 240.0, 3600.0)
    assert (weeks[2].incidents, weeks[2].mtta_median_seconds) == (0, None)


def test_durations_read_well():
    assert [metrics.human(s) for s in (None, 45, 600, 9000)] == ["-", "45 s", "10 min", "2.5 h"]
