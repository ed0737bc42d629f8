"""Slack for the partner side: the update modal and its submission, the slash verbs, the partner line."""

from __future__ import annotations

from datetime import date

from shared.adapters import slack_partner
from shared.adapters import slack_requests as sr
from shared.adapters.slack_views import partner_line, status_text, view_payload
from shared.domain.incident import FollowUp, TicketLink, WorkItemLink
from shared.domain.model import PartnerRef
from tests.fakes.slack_api import check_view
from tests.unit.factories import T0, default_policy, incident

PARTNER = PartnerRef(channel="freshdesk", name="Kestrel Payments", ticket_id=48213, pst_person="pst-1")


def submission(text: str, metadata: str = "INC-2026-0001") -> dict:
    return {"type": "view_submission", "user": {"id": "U0PST00001"}, "view": {
        "id": "V1", "callback_id": slack_partner.CALLBACK, "private_metadata": metadata,
        "state": {"values": {slack_partner.BLOCK: {slack_partner.ACTION: {"type": "plain_text_input",
                                                                          "value": text}}}}}}


def test_the_update_modal_is_a_valid_slack_view_naming_the_partner_and_ticket():
    inc = incident(partner=PARTNER, ticket=TicketLink(id=48213))
    view = view_payload(slack_partner.modal(inc))
    assert check_view(view) == []
    assert view["private_metadata"] == "INC-2026-0001" and view["callback_id"] == "partner_update"
    assert "Kestrel Payments" in str(view) and "#48213" in str(view)


def test_the_update_button_opens_the_modal_for_its_incident():
    payload = {"trigger_id": "1.2.abc", "actions": [{"action_id": "partner_update_open", "value": "INC-2026-0007"}]}
    assert slack_partner.opened_for(payload) == ("1.2.abc", "INC-2026-0007")
    assert slack_partner.opened_for({"actions": [{"action_id": "incident_ack"}]}) is None


def test_a_submission_is_checked_and_read():
    ok = slack_partner.submission(submission("  Fix deployed at 11:00 IST  "))
    assert (ok.incident_id, ok.text, ok.actor.id) == ("INC-2026-0001", "Fix deployed at 11:00 IST", "U0PST00001")
    empty = slack_partner.submission(submission(" "))
    assert isinstance(empty, sr.ViewErrors) and slack_partner.BLOCK in empty.response()["errors"]


def test_update_and_followup_are_slash_verbs_that_need_text():
    assert sr.parse_slash_text("update INC-2026-0001 fix is live") == sr.Slash("update", "INC-2026-0001",
                                                                                 "fix is live")
    assert sr.parse_slash_text("followup inc-2026-0001 add an alert").verb == "followup"
    assert sr.parse_slash_text("update INC-2026-0001").problem
    assert "/incident update" in sr.USAGE and "/incident followup" in sr.USAGE


def test_the_partner_line_shows_partner_ticket_and_work_items():
    item = FollowUp(id="F1", title="Circuit breaker", created_at=T0, created_by="x", due_date=date(2026, 2, 1),
                    work_item=WorkItemLink(id="w", url="https://plane.example/w", state_name="In Progress"))
    inc = incident(partner=PARTNER, ticket=TicketLink(id=48213, url="https://fd.example/a/tickets/48213"),
                   follow_ups=[item])
    line = partner_line(inc)
    assert "*Partner* Kestrel Payments (via freshdesk)" in line
    assert "<https://fd.example/a/tickets/48213|#48213>" in line
    assert "*F1* <https://plane.example/w|Circuit breaker> (In Progress)" in line
    assert line in status_text(default_policy(), inc, 1, 1)
    assert partner_line(incident()) == ""
