"""Partner reports: Freshdesk and Freshchat payloads normalised, and the policy's intake rules applied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.model import AlertCategory, AlertStatus, Severity
from shared.domain.partners import (
    PartnerReport,
    freshchat_report,
    freshdesk_report,
    partner_group_key,
    plain_text,
    triage,
)
from shared.domain.sources.errors import PayloadError
from tests.unit.factories import T0, default_policy, policy_with

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "partners"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def report(name: str) -> PartnerReport:
    parse = freshdesk_report if name.startswith("freshdesk") else freshchat_report
    return parse(fixture(name))


# ---- Freshdesk payloads ------------------------------------------------------------------------


def test_simple_webhook_content_is_read_with_display_names_and_html_as_text():
    r = report("freshdesk_simple_ticket_created.json")
    assert (r.system, r.external_id, r.event) == ("freshdesk", "48213", "report")
    assert r.subject == "UPI collect requests failing since 10:05 IST"
    assert (r.priority, r.status, r.type, r.source) == ("urgent", "open", "Incident", "portal")
    assert r.tags == ["outage", "trading"]
    assert r.description.startswith("Hi team,\nSince 10:05 IST every UPI collect request")
    assert "<div>" not in r.description and "<br>" not in r.description
    assert (r.requester_email, r.company) == ("meera.iyer@kestrel-payments.example", "Kestrel Payments Pvt Ltd")
    assert r.url == "https://acme-support.freshdesk.com/a/tickets/48213"


def test_advanced_content_with_every_placeholder_a_string_is_cast():
    r = report("freshdesk_advanced_ticket_created.json")
    assert (r.external_id, r.priority, r.type) == ("48214", "urgent", "Incident")
    assert r.requester_email == "desk@harbourline.example"
    assert r.tags == ["outage", "trading"]


def test_form_encoded_fields_read_like_json():
    fields = dict(parse_qsl((FIXTURES / "freshdesk_form_ticket_created.txt").read_text().strip()))
    r = freshdesk_report(fields)
    assert (r.external_id, r.priority, r.tags) == ("48219", "urgent", ["outage", "trading"])


def test_numeric_status_and_priority_as_the_api_sends_them():
    r = freshdesk_report({"ticket_id": 7, "status": 4, "priority": 2, "subject": "x"})
    assert (r.status, r.priority, r.event) == ("resolved", "medium", "resolved")
    assert freshdesk_report({"ticket_id": 7, "status": "Closed"}).event == "resolved"


@pytest.mark.parametrize(("payload", "field"), [
    ([], "$"),
    ({"freshdesk_webhook": "x"}, "freshdesk_webhook"),
    ({"subject": "no id"}, "ticket_id"),
    ({"ticket_id": "abc"}, "ticket_id"),
    ({"ticket_id": 0}, "ticket_id"),
    ({"ticket_id": True}, "ticket_id"),
    ({"ticket_id": 5, "priority": "Blocker"}, "ticket_priority"),
    ({"ticket_id": 5, "priority": 9}, "ticket_priority"),
    ({"ticket_id": 5, "subject": {"a": 1}}, "ticket_subject"),
])
def test_bad_freshdesk_payloads_name_the_field(payload: Any, field: str):
    with pytest.raises(PayloadError) as caught:
        freshdesk_report(payload)
    assert caught.value.field == field


KEYS = st.sampled_from(["ticket_id", "id", "ticket_subject", "status", "ticket_priority", "tags", "ticket_tags",
                        "requester_email", "ticket_url", "description", "source"])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**20), st.text(max_size=30),
                   st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                              max_size=2))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, VALUES))
def test_any_freshdesk_payload_is_a_report_or_a_payload_error(payload: dict[str, Any]):
    try:
        r = freshdesk_report(payload)
    except PayloadError:
        return
    assert int(r.external_id) > 0


def test_html_descriptions_become_readable_text():
    assert plain_text("<p>One &amp; two</p><p>three<br>four</p>") == "One & two\nthree\nfour"
    assert plain_text("no markup &lt;here&gt;") == "no markup <here>"


# ---- Freshchat payloads ------------------------------------------------------------------------


def test_a_partner_message_is_a_report_with_its_conversation():
    r = report("freshchat_message_create_user_outage.json")
    assert (r.system, r.event, r.source) == ("freshchat", "report", "chat")
    assert r.external_id == "35e80ec8-c697-42e4-8ce9-a47a050b1d1a"
    assert r.message_id == "a834cd45-c463-4644-b254-be920924a998"
    assert r.subject.startswith("Hi, payments are failing on checkout")
    assert r.at is not None and r.at.isoformat().startswith("2026-12-04T04:44:22")


def test_agent_messages_echo_back_and_are_ignored():
    r = report("freshchat_message_create_agent.json")
    assert r.event == "ignored" and "agent" in (r.ignored_because or "")


def test_resolution_reopen_and_assignment_events():
    assert report("freshchat_conversation_resolution.json").event == "resolved"
    assert report("freshchat_conversation_reopen.json").event == "reopened"
    assert report("freshchat_conversation_assignment.json").event == "ignored"


@pytest.mark.parametrize(("payload", "field"), [
    ({"data": {}}, "action"),
    ({"action": "message_create"}, "data"),
    ({"action": "message_create", "data": {}}, "data.message"),
    ({"action": "message_create", "data": {"message": {"actor_type": "user"}}}, "data.message.conversation_id"),
    ({"action": "message_create", "data": {"message": {"conversation_id": "c", "actor_type": "user"}}},
     "data.message.message_parts"),
    ({"action": "conversation_resolution", "data": {"resolve": {}}}, "data.resolve.conversation"),
    ({"action": "message_create", "action_time": "yesterday", "data": {}}, "action_time"),
])
def test_bad_freshchat_payloads_name_the_field(payload: dict[str, Any], field: str):
    with pytest.raises(PayloadError) as caught:
        freshchat_report(payload)
    assert caught.value.field == field


# ---- intake -------------------------------------------------------------------------------------


def test_a_partner_ticket_opens_a_partner_technical_incident_with_the_partner_kept():
    item = triage(default_policy(), report("freshdesk_simple_ticket_created.json"), T0, known=False)
    assert item is not None
    assert (item.type, item.severity, item.category) == ("partner_technical", Severity.CRITICAL,
                                                          AlertCategory.AVAILABILITY)
    partner = item.alert.partner
    assert partner is not None
    assert (partner.channel, partner.account_id, partner.name) == ("freshdesk", "kestrel", "Kestrel Payments")
    assert (partner.ticket_id, partner.pst_person) == (48213, "pst-1")
    assert item.service == "trading"  # a tag naming a status page service
    assert item.group_key == "partner|freshdesk:48213"
    assert item.alert.source == "freshdesk" and item.alert.fingerprint == "48213"


def test_the_path_of_a_partner_ticket_is_wealthy_support_then_product_manager_then_cto():
    item = triage(default_policy(), report("freshdesk_simple_ticket_created.json"), T0, known=False)
    path = default_policy().incident_types[item.type].escalation
    assert [level.roles for level in path] == [["wealthy_support"], ["product_manager"], ["cto"]]


def test_a_ticket_logged_by_a_pst_member_follows_the_direct_pst_path():
    item = triage(default_policy(), report("freshdesk_simple_phone_ticket_by_pst.json"), T0, known=False)
    assert item.type == "partner_technical_pst"
    assert (item.alert.partner.channel, item.alert.partner.pst_person) == ("pst", "pst-1")
    path = default_policy().incident_types[item.type].escalation
    assert [level.roles[0] for level in path] == ["pst", "wealthy_support", "product_manager", "cto"]


def test_a_security_report_opens_a_partner_security_incident():
    item = triage(default_policy(), report("freshdesk_simple_security_report.json"), T0, known=False)
    assert (item.type, item.category, item.severity) == ("partner_security", AlertCategory.SECURITY, Severity.HIGH)
    assert default_policy().incident_types[item.type].kind == "security"


def test_security_words_without_a_tag_are_enough():
    r = freshdesk_report({"ticket_id": 9, "subject": "Suspicious login on our admin account", "priority": "Low"})
    assert triage(default_policy(), r, T0, known=False).type == "partner_security"


def test_a_question_is_not_an_incident_unless_it_already_is_one():
    r = report("freshdesk_simple_question_not_incident.json")
    assert triage(default_policy(), r, T0, known=False) is None
    known = triage(default_policy(), r, T0, known=True)
    assert known is not None and known.group_key == partner_group_key(r)


def test_severity_follows_the_ticket_priority_when_the_rule_sets_none():
    for priority, severity in (("Low", Severity.LOW), ("Medium", Severity.MEDIUM), ("High", Severity.HIGH),
                               ("Urgent", Severity.CRITICAL)):
        r = freshdesk_report({"ticket_id": 3, "subject": "x", "type": "Incident", "priority": priority})
        assert triage(default_policy(), r, T0, known=False).severity is severity


def test_a_chat_opens_an_incident_with_the_chat_severity():
    item = triage(default_policy(), report("freshchat_message_create_user_outage.json"), T0, known=False)
    assert (item.type, item.severity, item.alert.partner.channel) == ("partner_technical", Severity.HIGH, "freshchat")
    assert item.alert.partner.conversation_id == "35e80ec8-c697-42e4-8ce9-a47a050b1d1a"
    assert item.alert.partner.ticket_id is None


def test_a_resolved_ticket_resolves_its_alert():
    r = freshdesk_report({"ticket_id": 48213, "subject": "x", "status": "Resolved", "type": "Incident"})
    assert triage(default_policy(), r, T0, known=True).alert.status is AlertStatus.RESOLVED


def test_updates_of_the_same_ticket_land_in_the_same_group_whatever_their_type():
    first = triage(default_policy(), freshdesk_report({"ticket_id": 5, "subject": "down", "type": "Incident"}), T0,
                   known=False)
    later = triage(default_policy(), freshdesk_report({"ticket_id": 5, "subject": "hacked", "tags": "security"}), T0,
                   known=True)
    assert first.type != later.type and first.group_key == later.group_key


def test_without_intake_rules_nothing_opens():
    policy = policy_with(lambda data: data["partners"].pop("intake"))
    assert triage(policy, report("freshdesk_simple_ticket_created.json"), T0, known=False) is None


def test_rules_match_on_group_and_channel():
    def only_group_rule(data: dict) -> None:
        data["partners"]["intake"]["rules"] = [
            {"name": "Escalations group", "match": {"group": "^escalations$", "channel": "^freshdesk$"},
             "severity": "high"}]

    policy = policy_with(only_group_rule)
    hit = freshdesk_report({"ticket_id": 1, "subject": "x", "group": "Escalations"})
    miss = freshdesk_report({"ticket_id": 2, "subject": "x", "group": "Billing"})
    assert triage(policy, hit, T0, known=False).severity is Severity.HIGH
    assert triage(policy, miss, T0, known=False) is None


def test_a_policy_naming_an_unknown_type_or_person_is_refused():
    from shared.config.policy import cross_reference_errors

    def broken(data: dict) -> None:
        data["partners"]["intake"]["types"]["technical"] = "no_such_type"
        data["partners"]["accounts"][0]["pst"] = "nobody"

    problems = [msg for _, msg in cross_reference_errors(policy_with(broken))]
    assert "unknown incident type 'no_such_type'" in problems
    assert "unknown person 'nobody'" in problems
