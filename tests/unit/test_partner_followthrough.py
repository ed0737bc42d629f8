"""What the partner side should look like: the Freshdesk ticket, the PST's update rhythm, follow-up actions.

Pure rules with a controllable clock (times are passed in).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shared.domain import followups, partner_updates, ticketing
from shared.domain.actions import Refused, start_escalation
from shared.domain.escalation import advance
from shared.domain.incident import Incident, IncidentStatus, TicketLink, TimelineEntry, WorkItemLink
from shared.domain.model import AlertCategory, PartnerRef, Severity
from tests.unit.factories import T0, default_policy, incident

PARTNER = PartnerRef(channel="freshdesk", account_id="kestrel", name="Kestrel Payments", ticket_id=48213,
                     ticket_url="https://acme.freshdesk.com/a/tickets/48213", requester_email="ops@kestrel.example",
                     pst_person="pst-1")


def partner_incident(**changes):
    fields = {"type": "partner_technical", "severity": Severity.HIGH, "partner": PARTNER,
              "title": "UPI collect failing"}
    fields.update(changes)
    return incident(**fields)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def applied(inc: Incident, updates: dict) -> Incident:
    """The incident as the store would read it back after the change's updates."""
    return Incident.model_validate({**inc.model_dump(), **updates})


# ---- the ticket ----------------------------------------------------------------------------------


def test_a_partner_incident_is_tracked_on_the_partners_own_ticket():
    inc = partner_incident()
    assert ticketing.needs_ticket(default_policy(), inc)
    assert ticketing.reusable_ticket(inc) == 48213


def test_a_chat_incident_needs_a_new_ticket():
    chat = partner_incident(partner=PartnerRef(channel="freshchat", name="x", conversation_id="c-1"))
    assert ticketing.needs_ticket(default_policy(), chat) and ticketing.reusable_ticket(chat) is None


def test_a_system_incident_gets_a_ticket_only_once_it_escalates_past_its_first_level():
    policy = default_policy()
    start = start_escalation(policy, "system_alert", Severity.HIGH, T0)
    inc = applied(incident(severity=Severity.HIGH), start.updates)
    assert not ticketing.needs_ticket(policy, inc)
    escalated = advance(inc.escalation, T0 + timedelta(hours=1, seconds=1)).state
    assert escalated.level == 1
    assert ticketing.needs_ticket(policy, inc.model_copy(update={"escalation": escalated}))
    assert not ticketing.needs_ticket(policy, incident())  # no escalation state at all


def test_a_new_ticket_is_a_valid_freshdesk_create_body():
    inc = incident(severity=Severity.CRITICAL, title="Checkout 5xx", summary="error rate 40%")
    body = ticketing.new_ticket(default_policy(), inc, "https://api.example/incidents/INC-2026-0001")
    assert body["subject"] == "[INC-2026-0001] [CRITICAL] Checkout 5xx"
    assert (body["priority"], body["status"], body["source"], body["type"]) == (4, 2, 2, "Incident")
    assert body["email"] == "incidents@example.com"
    assert body["tags"] == ["incident", "INC-2026-0001", "sev-critical"]
    assert "error rate 40%" in body["description"]
    assert 'href="https://api.example/incidents/INC-2026-0001"' in body["description"]


def test_a_security_incidents_alert_text_stays_off_the_ticket():
    inc = incident(category=AlertCategory.SECURITY, summary="attacker IP 203.0.113.9 used key AKIA123")
    assert "203.0.113.9" not in ticketing.new_ticket(default_policy(), inc, None)["description"]


def test_ticket_text_is_escaped():
    body = ticketing.new_ticket(default_policy(), incident(title="<script>alert(1)</script>"), None)
    assert "<script>" not in body["description"] and "&lt;script&gt;" in body["description"]


@pytest.mark.parametrize(("severity", "priority"), [(Severity.LOW, 1), (Severity.MEDIUM, 2), (Severity.HIGH, 3),
                                                    (Severity.CRITICAL, 4)])
def test_status_and_priority_follow_the_incident(severity: Severity, priority: int):
    inc = partner_incident(severity=severity, ticket=TicketLink(id=1, status=2, priority=priority))
    assert ticketing.ticket_changes(inc) == {}
    resolved = inc.model_copy(update={"status": IncidentStatus.RESOLVED})
    assert ticketing.ticket_changes(resolved) == {"status": 4}
    raised = inc.model_copy(update={"severity": Severity.CRITICAL})
    assert ticketing.ticket_changes(raised) == ({} if severity is Severity.CRITICAL else {"priority": 4})


def test_the_story_becomes_private_notes_and_only_a_persons_update_is_public():
    def entry(kind: str, **data) -> TimelineEntry:
        return TimelineEntry(at=T0, kind=kind, text=f"{kind} happened", actor="Team Lead", data=data)

    note = ticketing.operation_for(entry("incident.acknowledged"), "INC-2026-0001", "0001-e")
    assert note.kind == "note" and "[INC-2026-0001] 2026-01-15 09:00 UTC" in note.body and "ref 0001-e" in note.body
    reply = ticketing.operation_for(entry("partner.update", text="Fix deployed"), "INC-2026-0001", "0002-e")
    assert reply.kind == "reply" and reply.body == "<p>Fix deployed</p>"
    for quiet in ("page.sent", "alert.firing", "cert_in.assessed", "partner.update_reminder"):
        assert ticketing.operation_for(entry(quiet), "INC-2026-0001", "x") is None


# ---- PST update rhythm ---------------------------------------------------------------------------


def test_the_rhythm_starts_at_the_severitys_interval_and_only_once():
    inc = partner_incident()
    change = partner_updates.start(default_policy(), inc, T0)
    assert change.updates["partner_update_due_at"] == T0 + timedelta(hours=1)  # high: every hour
    assert partner_updates.start(default_policy(), applied(inc, change.updates), T0) is None
    assert partner_updates.start(default_policy(), incident(), T0) is None  # not a partner incident


@pytest.mark.parametrize(("severity", "interval"), [(Severity.CRITICAL, minutes(30)), (Severity.HIGH, minutes(60)),
                                                    (Severity.MEDIUM, minutes(240)), (Severity.LOW, minutes(1440))])
def test_intervals_follow_the_policy(severity: Severity, interval: timedelta):
    change = partner_updates.start(default_policy(), partner_incident(severity=severity), T0)
    assert change.updates["partner_update_due_at"] == T0 + interval


def started(inc: Incident) -> Incident:
    return applied(inc, partner_updates.start(default_policy(), inc, T0).updates)


def apply(inc: Incident, change) -> Incident:
    return applied(inc, change.updates)


def test_a_due_reminder_pages_the_pst_contact_once_and_plans_the_next():
    inc = started(partner_incident())
    assert partner_updates.due_reminder(default_policy(), inc, 1, T0 + minutes(59)) is None  # early
    change = partner_updates.due_reminder(default_policy(), inc, 1, T0 + minutes(60))
    [page] = change.pages
    assert (page.recipient.person_id, page.reason, page.key) == ("pst-1", "pst_update_due", "pst-update-1:pst-1")
    assert change.updates["partner_update_due_at"] == T0 + minutes(120)
    after = apply(inc, change)
    assert partner_updates.due_reminder(default_policy(), after, 1, T0 + minutes(61)) is None  # a duplicate timer
    assert partner_updates.due_reminder(default_policy(), after, 2, T0 + minutes(120)).pages[0].key == \
        "pst-update-2:pst-1"


def test_an_update_from_the_pst_moves_the_next_reminder_a_full_interval_on():
    inc = started(partner_incident())
    change = partner_updates.record_update(default_policy(), inc, "PST One", "Fix is rolling out", T0 + minutes(40))
    assert change.events == ["incident.partner_updated"]
    assert change.timeline[0].kind == "partner.update" and change.timeline[0].data["text"] == "Fix is rolling out"
    after = apply(inc, change)
    assert after.partner_updates.round == 2
    assert after.partner_updates.next_due_at == T0 + minutes(100)
    assert partner_updates.due_reminder(default_policy(), after, 1, T0 + minutes(60)) is None  # the old timer


def test_reminders_stop_at_resolution():
    inc = started(partner_incident()).model_copy(update={"status": IncidentStatus.RESOLVED})
    change = partner_updates.due_reminder(default_policy(), inc, 1, T0 + minutes(60))
    assert change.pages == [] and change.updates["partner_update_due_at"] is None


def test_an_update_needs_a_partner_and_some_text():
    with pytest.raises(Refused) as caught:
        partner_updates.record_update(default_policy(), incident(), "x", "hello", T0)
    assert caught.value.status == 409
    with pytest.raises(Refused) as caught:
        partner_updates.record_update(default_policy(), partner_incident(), "x", "   ", T0)
    assert caught.value.status == 400


# ---- follow-up actions ---------------------------------------------------------------------------


def test_a_follow_up_is_numbered_recorded_and_announced():
    inc = partner_incident()
    request = followups.FollowUpRequest(title="Add a circuit breaker to the UPI client", owner="engineer-1",
                                        due_date=date(2026, 2, 1))
    change = followups.add(default_policy(), inc, "Team Lead", request, T0)
    assert change.events == ["incident.follow_up_added"]
    [item] = change.updates["follow_ups"]
    assert (item["id"], item["kind"], item["owner"], item["due_date"]) == ("F1", "prevention", "engineer-1",
                                                                          "2026-02-01")
    with_one = applied(inc, change.updates)
    assert followups.add(default_policy(), with_one, "x", request, T0).updates["follow_ups"][1]["id"] == "F2"


def test_a_follow_up_owner_must_be_a_person_of_the_policy():
    with pytest.raises(Refused):
        followups.add(default_policy(), partner_incident(), "x", followups.FollowUpRequest(title="abc", owner="zed"),
                      T0)


def test_the_work_item_body_is_idempotent_by_external_id():
    change = followups.add(default_policy(), partner_incident(severity=Severity.CRITICAL), "Team Lead",
                           followups.FollowUpRequest(title="Alert on UPI debit failures", due_date=date(2026, 2, 1)),
                           T0)
    inc = partner_incident(severity=Severity.CRITICAL, follow_ups=change.updates["follow_ups"])
    body = followups.work_item_body(default_policy(), inc, inc.follow_ups[0], None)
    assert body["name"] == "INC-2026-0001 F1: Alert on UPI debit failures"
    assert (body["priority"], body["target_date"]) == ("urgent", "2026-02-01")
    assert (body["external_source"], body["external_id"]) == ("incident-management", "INC-2026-0001:F1")


def test_linking_a_work_item_records_it_once_and_follows_its_state():
    change = followups.add(default_policy(), partner_incident(), "x", followups.FollowUpRequest(title="abc"), T0)
    inc = applied(partner_incident(), change.updates)
    link = WorkItemLink(id="w-1", state_id="s-backlog", state_name="Backlog", state_group="backlog")
    first = followups.linked(inc, "F1", link, T0)
    assert first.timeline[0].kind == "follow_up.linked"
    inc = applied(inc, first.updates)
    assert followups.linked(inc, "F1", link, T0) is None
    done = followups.linked(inc, "F1", link.model_copy(update={"state_id": "s-done", "state_group": "completed"}), T0)
    assert done.timeline == [] and done.updates["follow_ups"][0]["work_item"]["state_group"] == "completed"
    assert followups.unsynced(inc) == []
