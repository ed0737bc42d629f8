"""The post-incident review clock and emergency-change reviews with a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain import review
from shared.domain.actions import Refused, apply_command, start_escalation
from shared.domain.commands import Action, Actor, Command
from shared.domain.incident import Incident
from shared.domain.model import AlertCategory, Severity
from shared.domain.resolution import emergency_change, hold_review, review_due

POLICY = load_policy(DEFAULT_POLICY_PATH)
H = timedelta(hours=1)
T0 = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


def apply(incident: Incident, change) -> Incident:
    return Incident(**(incident.model_dump() | change.updates)) if change else incident


def opened(severity: Severity, at: datetime = T0, owner: str | None = "devops-2") -> Incident:
    base = Incident(id="INC-2026-0042", number=42, title="Checkout returns 5xx", severity=severity,
                    category=AlertCategory.APPLICATION_PERFORMANCE, type="system_alert", group_key="g",
                    source="grafana", service="checkout", detected_at=at, created_at=at, updated_at=at, owner=owner)
    return apply(base, start_escalation(POLICY, base.type, severity, at))


def resolve(incident: Incident, at: datetime) -> tuple[Incident, object]:
    command = Command(command_id="c1", incident_id=incident.id, action=Action.RESOLVE, at=at,
                      actor=Actor(kind="api", id="lead", name="lead"), summary="Rolled back the deploy")
    change = apply_command(POLICY, incident, command, at)
    return apply(incident, change), change


def recipients(change) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for page in change.pages:
        out.setdefault(page.reason, set()).add(page.recipient.person_id)
    return out


@pytest.mark.parametrize("severity", [Severity.CRITICAL, Severity.HIGH])
def test_resolving_a_critical_or_high_incident_schedules_the_review(severity):
    resolved_at = T0 + 2 * H
    incident, change = resolve(opened(severity), resolved_at)
    state = incident.review
    assert state.required and state.rca_id == "RCA-INC-2026-0042"
    assert state.due_at == resolved_at + 48 * H
    assert [(d.kind, d.at - resolved_at) for d in state.deadlines] == [
        ("draft", timedelta(0)), ("reminder", 24 * H), ("reminder", 44 * H), ("missed", 48 * H)]
    assert incident.review_next_due_at == resolved_at
    assert "review.scheduled" in [t.kind for t in change.timeline]


@pytest.mark.parametrize("severity", [Severity.MEDIUM, Severity.LOW])
def test_medium_and_low_incidents_need_no_review(severity):
    incident, _ = resolve(opened(severity), T0 + H)
    assert incident.review is None and incident.review_next_due_at is None


def test_the_clock_drafts_reminds_twice_then_tells_the_cto_once():
    resolved_at = T0 + 2 * H
    incident, _ = resolve(opened(Severity.CRITICAL), resolved_at)
    fired: list[tuple[timedelta, str, dict]] = []
    now = resolved_at
    while now <= resolved_at + 50 * H:
        change = review_due(POLICY, incident, now)
        if change is not None:
            fired += [(now - resolved_at, t.kind, recipients(change)) for t in change.timeline]
            incident = apply(incident, change)
        assert review_due(POLICY, incident, now) is None  # a duplicate callback finds nothing left
        now += timedelta(minutes=30)
    assert [(at, kind) for at, kind, _ in fired] == [(timedelta(0), "rca.drafted"), (24 * H, "review.reminder"),
                                                     (44 * H, "review.reminder"), (48 * H, "review.missed")]
    assert fired[1][2] == {"review_reminder": {"devops-2", "team-lead"}}
    assert fired[3][2] == {"review_missed": {"cto"}}
    assert incident.review.missed_at == resolved_at + 48 * H
    assert incident.review_next_due_at is None


def test_a_lost_timer_fires_every_overdue_deadline_at_once_when_found():
    resolved_at = T0
    incident, _ = resolve(opened(Severity.HIGH), resolved_at)
    change = review_due(POLICY, incident, resolved_at + 49 * H)  # the reconciler, very late
    assert [t.kind for t in change.timeline] == ["rca.drafted", "review.reminder", "review.reminder",
                                                 "review.missed"]
    assert len({p.key for p in change.pages}) == len(change.pages)  # one page per deadline per person


def test_holding_the_review_stops_reminders_and_the_escalation():
    incident, _ = resolve(opened(Severity.CRITICAL), T0)
    incident = apply(incident, review_due(POLICY, incident, T0))
    incident = apply(incident, review_due(POLICY, incident, T0 + 24 * H))
    incident = apply(incident, hold_review(incident, "lead", "rca_in_review", T0 + 30 * H))
    assert incident.review.held_at == T0 + 30 * H and incident.review.held_how == "rca_in_review"
    assert incident.review_next_due_at is None
    assert review_due(POLICY, incident, T0 + 60 * H) is None
    assert hold_review(incident, "cto", "marked", T0 + 31 * H).result == "already held"
    assert not review.missed_unnoticed(incident.review, T0 + 60 * H)


def test_a_review_held_late_is_recorded_as_late():
    incident, _ = resolve(opened(Severity.CRITICAL), T0)
    incident = apply(incident, review_due(POLICY, incident, T0 + 49 * H))
    change = hold_review(incident, "lead", "marked", T0 + 50 * H)
    assert "after the deadline" in change.timeline[0].text


def test_an_incident_without_review_cannot_be_marked_reviewed():
    with pytest.raises(Refused) as refused:
        hold_review(opened(Severity.CRITICAL), "lead", "marked", T0)
    assert refused.value.status == 409


def test_an_emergency_change_gets_a_stakeholder_review_reminder_after_24_hours():
    incident = opened(Severity.CRITICAL)
    incident = apply(incident, emergency_change(POLICY, incident, "devops-2", "slack", "Scaled node pool to 12",
                                                T0 + H))
    assert incident.review.changes[0].id == "C1" and incident.review_next_due_at == T0 + 25 * H
    assert review_due(POLICY, incident, T0 + 24 * H) is None
    change = review_due(POLICY, incident, T0 + 25 * H)
    assert [t.kind for t in change.timeline] == ["review.change_review"]
    assert recipients(change) == {"change_review": {"pm", "cto", "devops-2"}}
    incident = apply(incident, change)
    assert review_due(POLICY, incident, T0 + 26 * H) is None
    # the change was recorded while open; resolution still schedules the post-incident review
    incident, _ = resolve(incident, T0 + 27 * H)
    assert incident.review.required and incident.review.changes[0].text == "Scaled node pool to 12"


def test_an_empty_emergency_change_is_refused():
    with pytest.raises(Refused) as refused:
        emergency_change(POLICY, opened(Severity.HIGH), "x", "api", "  ", T0)
    assert refused.value.status == 400


def test_the_invariant_no_missed_review_goes_unnoticed_under_random_timers():
    import random

    rng = random.Random(8)
    for _ in range(300):
        resolved_at = T0 + timedelta(minutes=rng.randrange(0, 10_000))
        incident, _ = resolve(opened(rng.choice([Severity.CRITICAL, Severity.HIGH])), resolved_at)
        now = resolved_at
        held_at = resolved_at + timedelta(hours=rng.uniform(0, 80)) if rng.random() < 0.6 else None
        while now < resolved_at + 60 * H:
            now += timedelta(minutes=rng.choice([5, 60, 240, 600]))  # timers lost, late, or on time
            if held_at is not None and now >= held_at and incident.review.held_at is None:
                incident = apply(incident, hold_review(incident, "lead", "marked", now))
            change = review_due(POLICY, incident, now)
            incident = apply(incident, change)
            assert not review.missed_unnoticed(incident.review, now)
        misses = [t for t in incident.review.fired if t == "missed"]
        assert len(misses) <= 1


def test_the_policy_encodes_the_review_and_names_a_real_digest_channel():
    from shared.config.policy import cross_reference_errors
    from tests.unit.factories import policy_with

    assert POLICY.review.post_incident_review_within == 48 * H
    assert POLICY.review.reminders_before == [24 * H, 4 * H]
    assert POLICY.review.owners == ["engineering_team_lead"] and POLICY.review.escalate_to == ["cto"]
    assert POLICY.emergency.change_review_after == 24 * H
    assert [s for s, level in POLICY.severities.items() if level.requires_rca] == [Severity.CRITICAL, Severity.HIGH]
    assert POLICY.channels[POLICY.review.digest_channel].id == "C0INCIDENTS"
    broken = policy_with(lambda data: data["review"].update(digest_channel="nowhere"))
    assert (("review", "digest_channel"), "unknown channel 'nowhere' (known: critical, engineering, incidents, "
            "partners, security)") in cross_reference_errors(broken)
