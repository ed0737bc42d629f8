"""The escalation rules with a controllable clock: every path, every severity, acknowledgement at each moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain import escalation
from shared.domain.actions import Refused, apply_command, due_step, escalation_fields
from shared.domain.commands import Action, Actor, Command
from shared.domain.incident import EventType, Incident, IncidentStatus
from shared.domain.model import AlertCategory, Severity
from tests.expected_policy import PATHS

POLICY = load_policy(DEFAULT_POLICY_PATH)
T0 = datetime(2026, 12, 4, 23, 50, tzinfo=UTC)  # near midnight: nothing depends on the time of day

TARGETS = {Severity.CRITICAL: timedelta(minutes=15), Severity.HIGH: timedelta(hours=1),
           Severity.MEDIUM: timedelta(hours=4), Severity.LOW: timedelta(hours=24)}


def people(pages) -> list[str]:
    return sorted(p.recipient.person_id for p in pages)


def run_unacknowledged(itype: str, severity: Severity, until: timedelta):
    """Drive the state as the timers would: each step exactly when due."""
    result = escalation.start(POLICY, itype, severity, T0)
    rounds = [(T0, result.pages)]
    state = result.state
    while state.next_at and state.next_at <= T0 + until:
        result = escalation.advance(state, state.next_at)
        rounds.append((state.next_at, result.pages))
        state = result.state
    return rounds, state


@pytest.mark.parametrize("itype", sorted(PATHS))
@pytest.mark.parametrize("severity", list(Severity))
def test_each_path_pages_its_levels_in_order_at_the_severity_target(itype, severity):
    rounds, _ = run_unacknowledged(itype, severity, until=TARGETS[severity] * (len(PATHS[itype]) - 1))
    levels = [(at, sorted({p.recipient.person_id for p in pages if p.reason != "parallel"}))
              for at, pages in rounds if any(p.reason in ("initial", "escalated") for p in pages)]
    expected = [sorted(set(level)) for level in PATHS[itype]]
    assert [people for _, people in levels] == expected
    assert [at - T0 for at, _ in levels] == [TARGETS[severity] * i for i in range(len(expected))]


@pytest.mark.parametrize("itype", sorted(PATHS))
def test_critical_incidents_page_the_product_manager_and_the_cto_at_once(itype):
    start = escalation.start(POLICY, itype, Severity.CRITICAL, T0)
    paged_at_once = {p.recipient.person_id for p in start.pages}
    assert {"pm", "cto"} <= paged_at_once
    assert set(PATHS[itype][0]) <= paged_at_once
    assert len(start.pages) == len(paged_at_once)  # nobody twice in one step


def test_critical_system_security_goes_to_the_cto_directly():
    start = escalation.start(POLICY, "system_security", Severity.CRITICAL, T0)
    assert start.state.plan[0].roles == ["cto"]
    assert {p.recipient.person_id for p in start.pages if p.reason == "initial"} == {"cto"}


def test_high_incidents_repeat_the_page_every_15_minutes_until_the_hour_is_up():
    rounds, _ = run_unacknowledged("system_alert", Severity.HIGH, until=timedelta(hours=1))
    times = [at - T0 for at, _ in rounds]
    assert times == [timedelta(minutes=m) for m in (0, 15, 30, 45, 60)]
    assert [p.reason for p in rounds[1][1]] == ["repeat", "repeat"]
    assert people(rounds[-1][1]) == ["cto"]


def test_the_last_level_keeps_being_paged_and_escalation_never_stops_silently():
    rounds, state = run_unacknowledged("system_security", Severity.HIGH, until=timedelta(hours=5))
    assert state.stopped is None and state.next_at is not None
    assert people(rounds[-1][1]) == ["ceo"]


def test_a_step_acts_once_and_only_when_due():
    start = escalation.start(POLICY, "system_alert", Severity.CRITICAL, T0)
    state = start.state
    assert not escalation.is_due(state, 1, state.next_at - timedelta(seconds=1))
    assert escalation.is_due(state, 1, state.next_at)
    after = escalation.advance(state, state.next_at).state
    assert not escalation.is_due(after, 1, after.next_at + timedelta(hours=1))  # the old step's duplicate
    assert escalation.is_due(after, 2, after.next_at)


def incident(severity=Severity.CRITICAL, itype="system_alert", status=IncidentStatus.OPEN) -> Incident:
    start = escalation.start(POLICY, itype, severity, T0)
    return Incident(id="INC-2026-0001", number=1, title="Checkout down", severity=severity,
                    category=AlertCategory.AVAILABILITY, type=itype, group_key="g", source="grafana",
                    detected_at=T0, created_at=T0, updated_at=T0, status=status, escalation=start.state,
                    next_escalation_at=start.state.next_at)


def applied(inc: Incident, change) -> Incident:
    data = inc.model_dump() | change.updates
    return Incident(**data)


def command(action: Action, actor: str = "U0DEVOPS01", **fields) -> Command:
    return Command(command_id=f"c-{action}", incident_id="INC-2026-0001", action=action,
                   actor=Actor(kind="slack", id=actor), at=T0, **fields)


@pytest.mark.parametrize("minutes", [0, 1, 14, 15, 16, 29, 31, 44])
def test_acknowledgement_at_any_moment_stops_the_escalation(minutes):
    inc = incident()
    now = T0
    while now < T0 + timedelta(minutes=minutes):
        change = due_step(inc, inc.escalation.step, inc.escalation.next_at)
        now = inc.escalation.next_at
        if now > T0 + timedelta(minutes=minutes):
            break
        inc = applied(inc, change)
    ack = apply_command(POLICY, inc, command(Action.ACKNOWLEDGE), T0 + timedelta(minutes=minutes))
    acked = applied(inc, ack)
    assert acked.status is IncidentStatus.ACKNOWLEDGED and acked.owner == "devops-1"
    assert acked.escalation.stopped == "acknowledged" and acked.next_escalation_at is None
    assert EventType.ACKNOWLEDGED in ack.events
    assert due_step(acked, acked.escalation.step, T0 + timedelta(days=1)) is None


def test_response_target_breach_is_recorded_once_with_the_escalation():
    inc = incident(Severity.CRITICAL)
    for _ in range(4):  # 5-minute repeats, then the 15-minute escalation
        change = due_step(inc, inc.escalation.step, inc.escalation.next_at)
        inc = applied(inc, change)
    assert inc.escalation.response_breached_at == T0 + timedelta(minutes=15)
    assert inc.escalation.level == 1
    later = due_step(inc, inc.escalation.step, inc.escalation.next_at)
    assert EventType.RESPONSE_BREACHED not in later.events


def test_severity_upgrade_to_critical_mid_escalation_pages_the_emergency_roles_and_shortens_the_clock():
    inc = incident(Severity.MEDIUM)
    now = T0 + timedelta(minutes=30)
    change = apply_command(POLICY, inc, command(Action.SEVERITY, severity=Severity.CRITICAL), now)
    upgraded = applied(inc, change)
    assert {p.recipient.person_id for p in change.pages} == {"pm", "cto"}
    assert upgraded.escalation.next_at == now + timedelta(minutes=5)  # critical repeats every 5 minutes
    assert upgraded.severity is Severity.CRITICAL
    assert EventType.SEVERITY_CHANGED in change.events


def test_severity_downgrade_replans_without_paging():
    inc = incident(Severity.CRITICAL)
    change = apply_command(POLICY, inc, command(Action.SEVERITY, severity=Severity.LOW), T0 + timedelta(minutes=1))
    assert change.pages == []
    assert applied(inc, change).escalation.next_at == T0 + timedelta(minutes=1, hours=24)


def test_manual_escalation_pages_the_next_level_now():
    inc = incident(Severity.HIGH)
    change = apply_command(POLICY, inc, command(Action.ESCALATE), T0 + timedelta(minutes=2))
    assert people(change.pages) == ["cto"] and change.pages[0].reason == "manual"


def test_only_the_team_lead_assigns_and_only_resolvers_resolve():
    inc = incident()
    with pytest.raises(Refused) as refused:
        apply_command(POLICY, inc, command(Action.ASSIGN, actor="U0SUPPORT1", owner="devops-2"), T0)
    assert refused.value.status == 403
    assigned = apply_command(POLICY, inc, command(Action.ASSIGN, actor="U0TEAMLEAD", owner="U0DEVOPS02"), T0)
    assert assigned.updates["owner"] == "devops-2"
    with pytest.raises(Refused):
        apply_command(POLICY, inc, command(Action.RESOLVE, actor="U0SUPPORT1", summary="fixed"), T0)
    with pytest.raises(Refused) as empty:
        apply_command(POLICY, inc, command(Action.RESOLVE, summary="  "), T0)
    assert empty.value.reason == "missing_summary"
    resolved = apply_command(POLICY, inc, command(Action.RESOLVE, summary="Rolled back 2.14.1"), T0)
    assert resolved.free_group and resolved.updates["status"] == "resolved"
    assert resolved.updates["escalation"]["stopped"] == "resolved"


def test_a_repeated_acknowledgement_changes_nothing():
    inc = incident()
    once = applied(inc, apply_command(POLICY, inc, command(Action.ACKNOWLEDGE), T0))
    again = apply_command(POLICY, once, command(Action.ACKNOWLEDGE), T0 + timedelta(minutes=1))
    assert again.updates == {} and again.events == []


def test_nothing_applies_to_a_resolved_incident_but_a_resolve():
    inc = incident(status=IncidentStatus.RESOLVED)
    with pytest.raises(Refused) as refused:
        apply_command(POLICY, inc, command(Action.ACKNOWLEDGE), T0)
    assert refused.value.status == 409
    assert apply_command(POLICY, inc, command(Action.RESOLVE, summary="x"), T0).result == "already resolved"


def test_the_plan_is_a_snapshot_that_survives_storage():
    state = escalation.start(POLICY, "system_alert", Severity.HIGH, T0).state
    stored = escalation_fields(state)["escalation"]
    assert escalation.EscalationState(**stored) == state
