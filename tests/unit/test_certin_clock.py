"""The CERT-In clock with a controllable clock: detection at any time of day, late reports by people,
reclassification in and out of reportable, duplicate and lost callbacks; and a simulation of 1,000 incidents."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain import certin
from shared.domain.actions import Refused, cert_in_assess, cert_in_due, cert_in_submit, start_cert_in
from shared.domain.commands import Actor
from shared.domain.incident import Incident
from shared.domain.model import AlertCategory, Severity

POLICY = load_policy(DEFAULT_POLICY_PATH)
H = timedelta(hours=1)
SRE = Actor(kind="slack", id="U0SRE00001")


def security_incident(detected: datetime, now: datetime | None = None, severity=Severity.HIGH) -> Incident:
    base = Incident(id="INC-2026-0007", number=7, title="Brute force login attempts on partner portal",
                    summary="1,200 failed logins from 3 IPs", severity=severity, category=AlertCategory.SECURITY,
                    type="system_security", group_key="g", source="grafana", detected_at=detected,
                    created_at=now or detected, updated_at=now or detected)
    return apply(base, start_cert_in(POLICY, base, now or detected))


def apply(incident: Incident, change) -> Incident:
    return Incident(**(incident.model_dump() | change.updates)) if change else incident


def kinds(change) -> list[str]:
    return [t.kind for t in change.timeline] if change else []


@pytest.mark.parametrize("hour", [0, 3, 9, 18, 23])
def test_deadlines_follow_detection_at_any_time_of_day(hour):
    detected = datetime(2026, 12, 4, hour, 17, tzinfo=UTC)
    state = security_incident(detected).cert_in
    at = {d.key: d.at - detected for d in state.deadlines}
    assert at == {"assessment_reminder-1800": timedelta(hours=1, minutes=30), "assessment_due": 2 * H,
                  "report_reminder-14400": 4 * H, "report_reminder-19800": timedelta(hours=5, minutes=30),
                  "report_due": 6 * H}
    assert state.suggested_type == 3  # unauthorised access (brute force)
    assert certin.next_due_at(state) == detected + timedelta(hours=1, minutes=30)


def test_each_deadline_fires_once_in_order_and_the_breach_alerts_the_cto_and_broking_head():
    detected = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    incident = security_incident(detected)
    fired = []
    for offset in (timedelta(minutes=90), 2 * H, 4 * H, timedelta(hours=5, minutes=30), 6 * H):
        change = cert_in_due(POLICY, incident, detected + offset)
        fired += kinds(change)
        assert cert_in_due(POLICY, apply(incident, change), detected + offset) is None  # a duplicate callback
        incident = apply(incident, change)
        if offset == 6 * H:
            assert {p.recipient.person_id for p in change.pages} == {"cto", "broking-head"}
    assert fired == ["cert_in.assessment_reminder", "cert_in.assessment_due", "cert_in.report_reminder",
                     "cert_in.report_reminder", "cert_in.report_due"]
    assert incident.cert_in.breached_at == detected + 6 * H and incident.cert_in_next_due_at is None


def test_a_late_callback_catches_up_on_every_deadline_it_missed():
    detected = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    change = cert_in_due(POLICY, security_incident(detected), detected + 7 * H)
    assert kinds(change)[-1] == "cert_in.report_due" and len(kinds(change)) == 5


def test_an_incident_reported_late_by_a_person_runs_from_detection_not_from_the_report():
    detected = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    reported = detected + timedelta(hours=5)
    incident = security_incident(detected, now=reported)
    assert certin.next_due_at(incident.cert_in) == detected + timedelta(minutes=90)  # already past
    change = cert_in_due(POLICY, incident, reported)
    assert "cert_in.assessment_due" in kinds(change) and "cert_in.report_due" not in kinds(change)


def test_critical_security_incidents_notify_the_cto_and_broking_head_at_once():
    change = start_cert_in(POLICY, security_incident(datetime(2026, 12, 4, tzinfo=UTC)), datetime(2026, 12, 4,
                                                                                                    tzinfo=UTC))
    assert change.pages == []
    critical = security_incident(datetime(2026, 12, 4, tzinfo=UTC), severity=Severity.CRITICAL)
    pages = start_cert_in(POLICY, critical, datetime(2026, 12, 4, tzinfo=UTC)).pages
    assert {p.recipient.person_id for p in pages} == {"cto", "broking-head"}


def test_assessed_not_reportable_stops_the_report_clock_and_reclassifying_rearms_it():
    detected = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    incident = security_incident(detected)
    no = apply(incident, cert_in_assess(POLICY, incident, SRE, False, None, "internal scan by our own team",
                                        detected + H))
    assert no.cert_in_next_due_at is None
    assert cert_in_due(POLICY, no, detected + 7 * H) is None
    yes = apply(no, cert_in_assess(POLICY, no, SRE, True, 3, "logs show a successful login", detected + 7 * H))
    change = cert_in_due(POLICY, yes, detected + 7 * H)  # past 6 h already: the breach alert fires at once
    assert "cert_in.report_due" in kinds(change)
    assert "cert_in.assessment_due" not in kinds(change)  # someone did assess


def test_a_submitted_report_stops_the_clock():
    detected = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    incident = security_incident(detected)
    incident = apply(incident, cert_in_assess(POLICY, incident, SRE, True, 3, "confirmed", detected + H))
    submission = certin.Submission(at=detected + 3 * H, method="email", reference="CERTIn-2026-12345", by="SRE",
                                   recorded_at=detected + 3 * H)
    incident = apply(incident, cert_in_submit(incident, submission, detected + 3 * H))
    assert cert_in_due(POLICY, incident, detected + 8 * H) is None
    assert incident.cert_in_next_due_at is None


def test_only_assessors_assess_and_a_reportable_decision_needs_a_type():
    incident = security_incident(datetime(2026, 12, 4, tzinfo=UTC))
    with pytest.raises(Refused):
        cert_in_assess(POLICY, incident, Actor(kind="slack", id="U0SUPPORT1"), True, 3, "x", datetime.now(UTC))
    untyped = incident.model_copy(update={"cert_in": incident.cert_in.model_copy(update={"suggested_type": None})})
    with pytest.raises(Refused) as missing:
        cert_in_assess(POLICY, untyped, SRE, True, None, "confirmed", datetime.now(UTC))
    assert missing.value.reason == "missing_type"


@pytest.mark.parametrize(("text", "expected"), [
    ("Ransomware detected on file server", 5), ("DDoS on api gateway", 8), ("Phishing emails to staff", 7),
    ("Website defaced", 4), ("Customer data exfiltration", 11), ("Port scan from 1.2.3.4", 1),
    ("UPI payment gateway attack", 14), ("CPU high on node", None),
])
def test_signals_map_to_annexure_i_types(text, expected):
    assert certin.suggest_type(text) == expected


def test_simulation_of_1000_incidents_with_lost_and_duplicate_callbacks_never_misses_a_deadline():
    """Timers fire late, twice, three times or never; the reconciler runs every 5 minutes; people act at random.

    The rule checked: every incident that is reportable or undecided and unsubmitted at its report deadline
    gets the breach alert within one reconciler period, exactly once.
    """
    rng = random.Random(20261204)
    reconcile_every = timedelta(minutes=5)
    unnoticed = breaches = duplicates = 0
    worst = timedelta(0)
    for n in range(1000):
        detected = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        incident = security_incident(detected, now=detected + timedelta(minutes=rng.choice([0, 0, 0, 30, 200])))
        actions: list[tuple[datetime, str]] = []
        for deadline in incident.cert_in.deadlines:  # the named Cloud Task of each deadline
            for _ in range(rng.choice([0, 1, 1, 2, 3])):  # lost, once, duplicated
                actions.append((deadline.at + timedelta(seconds=rng.randrange(0, 900)), "timer"))
        start = detected + timedelta(seconds=rng.randrange(0, int(reconcile_every.total_seconds())))
        t = start
        while t < detected + 8 * H:
            actions.append((t, "reconcile"))
            t += reconcile_every
        decision = rng.random()
        if decision < 0.5:
            actions.append((detected + timedelta(minutes=rng.randrange(10, 300)), "assess-yes"))
        elif decision < 0.7:
            actions.append((detected + timedelta(minutes=rng.randrange(10, 300)), "assess-no"))
        if rng.random() < 0.1:
            actions.append((detected + timedelta(minutes=rng.randrange(200, 420)), "assess-yes"))  # reclassified
        if rng.random() < 0.4:
            actions.append((detected + timedelta(minutes=rng.randrange(60, 420)), "submit"))
        due_at = detected + 6 * H
        actions.append((due_at, "check"))
        breach_fired: list[datetime] = []
        live_since: datetime | None = None  # when it first was past due, unsubmitted and not ruled out
        for at, what in sorted(actions, key=lambda a: (a[0], a[1] == "check")):  # a report at the deadline is in time
            if what in ("timer", "reconcile"):
                if what == "reconcile" and (incident.cert_in_next_due_at is None or incident.cert_in_next_due_at > at):
                    continue
                change = cert_in_due(POLICY, incident, at)
                if change and "cert_in.report_due" in kinds(change):
                    breach_fired.append(at)
                incident = apply(incident, change)
            elif what.startswith("assess"):
                incident = apply(incident, cert_in_assess(POLICY, incident, SRE, what == "assess-yes", 3, "sim", at))
            elif what == "submit" and incident.cert_in.submission is None:
                submission = certin.Submission(at=at, method="email", reference=f"R{n}", by="sim", recorded_at=at)
                incident = apply(incident, cert_in_submit(incident, submission, at))
            state = incident.cert_in
            live = state.submission is None and state.reportable is not False and state.possibly_reportable
            if at >= due_at and live and live_since is None:
                live_since = at
        duplicates += max(0, len(breach_fired) - 1)
        if breach_fired:
            breaches += 1
            assert breach_fired[0] >= due_at
        if live_since is not None:
            if not breach_fired:
                unnoticed += 1
            else:
                worst = max(worst, breach_fired[0] - live_since)
    print(f"\nsimulation: 1000 incidents, {breaches} breach alerts, {unnoticed} unnoticed, {duplicates} duplicate "
          f"alerts, worst lateness {worst}")
    assert unnoticed == 0 and duplicates == 0
    assert worst <= reconcile_every
    assert 100 < breaches < 900  # the random mix really exercises both outcomes
