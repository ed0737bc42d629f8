"""Slack requests: signatures, forms, interaction payloads into Commands, slash command text."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from shared.adapters import slack_requests as sr
from shared.adapters import slack_views as views
from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain.commands import Action
from shared.domain.incident import Incident, IncidentStatus
from shared.domain.model import AlertCategory, Severity
from tests.fakes.slack_api import check_blocks, check_view

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_718_000_130.0
INC = "INC-2026-0142"
USER = "U024BE7LH"
POLICY = load_policy(DEFAULT_POLICY_PATH)


def sign(body: bytes, ts: str, secret: str = SECRET) -> dict[str, str]:
    """Slack's v0 scheme, written out independently of slack_sdk."""
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def action(action_id: str, **fields: Any) -> dict[str, Any]:
    base = {"action_id": action_id, "block_id": "incident_actions", "type": "button", "value": INC,
            "action_ts": "1718000130.481254"}
    base.update(fields)
    return base


def block_actions(*actions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Shaped like wire-formats 7b."""
    payload = {
        "type": "block_actions", "user": {"id": USER, "username": "priya", "name": "priya", "team_id": "T024BE7LD"},
        "api_app_id": "A05INCIDENT", "token": "verification_token",
        "container": {"type": "message", "message_ts": "1718000123.000200", "channel_id": "C07INC0142"},
        "trigger_id": "7212345678901.24.abcd1234ef", "team": {"id": "T024BE7LD", "domain": "acme"},
        "channel": {"id": "C07INC0142", "name": "inc-0142-checkout-5xx"},
        "response_url": "https://hooks.slack.com/actions/T024BE7LD/7212345678901/XyZ",
        "actions": list(actions),
    }
    payload.update(fields)
    return payload


def submission(callback_id: str, values: dict[str, dict[str, Any]], *, metadata: str = "",
               view_id: str = "V0123ABCD") -> dict[str, Any]:
    return {"type": "view_submission", "user": {"id": USER, "username": "priya", "name": "priya"},
            "trigger_id": "7212345678901.24.abcd1234ef",
            "view": {"id": view_id, "type": "modal", "callback_id": callback_id, "private_metadata": metadata,
                     "hash": "1718000200.abc", "state": {"values": values}}}


def text_input(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def select_input(value: str | None) -> dict[str, Any]:
    option = None if value is None else {"text": {"type": "plain_text", "text": value}, "value": value}
    return {"value": {"type": "static_select", "selected_option": option}}


# ---- signatures -------------------------------------------------------------------------------


BODY = b"token=x&team_id=T024BE7LD&user_id=U024BE7LH&command=%2Fincident&text=help"


def test_a_correct_signature_is_accepted():
    sr.verify_signature(SECRET, BODY, sign(BODY, str(int(NOW))), now=NOW)


def test_headers_are_matched_whatever_their_case():
    headers = {k.lower(): v for k, v in sign(BODY, str(int(NOW))).items()}
    sr.verify_signature(SECRET, BODY, headers, now=NOW)


def test_a_signature_four_minutes_old_is_still_accepted():
    ts = str(int(NOW) - 240)
    sr.verify_signature(SECRET, BODY, sign(BODY, ts), now=NOW)


@pytest.mark.parametrize(("headers", "body", "reason"), [
    (sign(BODY, str(int(NOW)), "another-secret"), BODY, "does not match"),
    (sign(BODY, str(int(NOW))), BODY + b"&text=resolve", "does not match"),
    (sign(BODY, str(int(NOW) - 301)), BODY, "replayed"),
    (sign(BODY, str(int(NOW) + 400)), BODY, "replayed"),
    ({}, BODY, "missing"),
    ({"X-Slack-Request-Timestamp": str(int(NOW))}, BODY, "missing"),
    ({"X-Slack-Signature": sign(BODY, str(int(NOW)))["X-Slack-Signature"]}, BODY, "missing"),
    ({**sign(BODY, str(int(NOW))), "X-Slack-Request-Timestamp": "yesterday"}, BODY, "Unix time"),
    ({**sign(BODY, str(int(NOW))), "X-Slack-Signature": "v0=" + "0" * 64}, BODY, "does not match"),
    ({**sign(BODY, str(int(NOW))), "X-Slack-Signature": "garbage"}, BODY, "does not match"),
], ids=["wrong-secret", "tampered-body", "older-than-5-minutes", "from-the-future", "no-headers", "no-signature",
        "no-timestamp", "timestamp-not-a-number", "wrong-digest", "malformed-signature"])
def test_bad_signatures_are_refused_with_a_reason(headers, body, reason):
    with pytest.raises(sr.SignatureError) as refused:
        sr.verify_signature(SECRET, body, headers, now=NOW)
    assert reason in refused.value.reason


def test_a_tampered_timestamp_is_refused():
    headers = sign(BODY, str(int(NOW)))
    headers["X-Slack-Request-Timestamp"] = str(int(NOW) - 1)
    with pytest.raises(sr.SignatureError, match="does not match"):
        sr.verify_signature(SECRET, BODY, headers, now=NOW)


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_without_a_signing_secret_nothing_is_accepted(secret):
    with pytest.raises(sr.SignatureError, match="not configured"):
        sr.verify_signature(secret, BODY, sign(BODY, str(int(NOW))), now=NOW)


def test_a_body_that_is_not_utf8_is_refused_not_crashed_on():
    body = b"payload=\xff\xfe"
    with pytest.raises(sr.SignatureError, match="UTF-8"):
        sr.verify_signature(SECRET, body, sign(body, str(int(NOW))), now=NOW)


def test_the_real_clock_is_used_by_default():
    ts = str(int(time.time()))
    sr.verify_signature(SECRET, BODY, sign(BODY, ts))
    with pytest.raises(sr.SignatureError):
        sr.verify_signature(SECRET, BODY, sign(BODY, str(int(time.time()) - 600)))


# ---- forms and payloads -----------------------------------------------------------------------


def test_a_form_is_parsed_with_blank_values_kept():
    assert sr.parse_form(b"a=1&b=&c=x+y%21") == {"a": "1", "b": "", "c": "x y!"}
    assert sr.parse_form(b"") == {}


@pytest.mark.parametrize("body", [b"a=1&a=2", b"no-equals-sign", b"a=%ff", b"\xff=1",
                                  "&".join(f"k{i}=v" for i in range(500)).encode()])
def test_bad_forms_are_request_errors(body):
    with pytest.raises(sr.SlackRequestError):
        sr.parse_form(body)


@pytest.mark.parametrize("form", [{}, {"payload": ""}, {"payload": "{not json"}, {"payload": "[1, 2]"},
                                  {"payload": '{"no_type": 1}'}, {"payload": "[" * 100_000}])
def test_bad_interaction_payloads_are_request_errors(form):
    with pytest.raises(sr.SlackRequestError):
        sr.interaction_payload(form)


def test_an_interaction_payload_round_trips_through_the_form():
    payload = block_actions(action("incident_ack"))
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert sr.interaction_payload(sr.parse_form(body)) == payload


# ---- block_actions ----------------------------------------------------------------------------


def test_acknowledge_button_is_an_acknowledge_command():
    outcome = sr.block_action(block_actions(action("incident_ack")))
    assert isinstance(outcome, sr.Publish)
    cmd = outcome.command
    assert cmd.action is Action.ACKNOWLEDGE and cmd.incident_id == INC
    assert cmd.actor.kind == "slack" and cmd.actor.id == USER and cmd.actor.name == "priya"
    assert cmd.command_id == f"slack:1718000130.481254:{USER}"
    assert cmd.at == datetime.fromtimestamp(1718000130.481254, UTC)
    assert cmd.owner is None and cmd.severity is None and cmd.summary is None


def test_the_same_click_delivered_twice_gives_the_same_command_id():
    payload = block_actions(action("incident_ack"))
    first, again = sr.block_action(payload), sr.block_action(json.loads(json.dumps(payload)))
    assert first == again


def test_escalate_button_is_an_escalate_command():
    outcome = sr.block_action(block_actions(action("incident_escalate", block_id=views.actions_block_id(INC))))
    assert isinstance(outcome, sr.Publish) and outcome.command.action is Action.ESCALATE
    assert outcome.command.incident_id == INC


def test_assign_select_takes_the_incident_from_the_block_id():
    act = {"action_id": "incident_assign", "block_id": f"incident_actions:{INC}", "type": "users_select",
           "selected_user": "U0TEAMLEAD", "initial_user": "U0DEVOPS01", "action_ts": "1718000131.000001"}
    outcome = sr.block_action(block_actions(act))
    assert isinstance(outcome, sr.Publish)
    assert outcome.command.action is Action.ASSIGN and outcome.command.owner == "U0TEAMLEAD"
    assert outcome.command.incident_id == INC


def test_severity_select_takes_the_level_from_the_option_value():
    act = {"action_id": "incident_severity", "block_id": f"incident_actions:{INC}", "type": "static_select",
           "selected_option": {"text": {"type": "plain_text", "text": "Critical"}, "value": "critical"},
           "action_ts": "1718000132.000001"}
    outcome = sr.block_action(block_actions(act))
    assert isinstance(outcome, sr.Publish)
    assert outcome.command.action is Action.SEVERITY and outcome.command.severity is Severity.CRITICAL


def test_resolve_button_opens_the_modal_with_the_trigger_id():
    outcome = sr.block_action(block_actions(action("incident_resolve")))
    assert outcome == sr.OpenResolveModal("7212345678901.24.abcd1234ef", INC)


def test_actions_that_are_not_ours_are_ignored():
    outcome = sr.block_action(block_actions(action("open_runbook", value=None)))
    assert isinstance(outcome, sr.Ignored)


@pytest.mark.parametrize(("payload", "field"), [
    (block_actions(action("incident_ack"), user={}), "user.id"),
    (block_actions(action("incident_ack"), user={"id": "not-a-user"}), "user.id"),
    (block_actions(), "actions"),
    (block_actions(action("incident_ack", value="INC-nope")), "block_id"),
    (block_actions(action("incident_ack", value=None)), "block_id"),
    (block_actions(action("incident_ack", block_id="incident_actions:INC-2026-0001")), "block_id"),
    (block_actions(action("incident_ack", action_ts=None)), "actions.0.action_ts"),
    (block_actions(action("incident_resolve"), trigger_id=None), "trigger_id"),
    (block_actions({"action_id": "incident_assign", "block_id": f"incident_actions:{INC}", "type": "users_select",
                    "action_ts": "1.2"}), "actions.0.selected_user"),
    (block_actions({"action_id": "incident_severity", "block_id": f"incident_actions:{INC}",
                    "type": "static_select", "selected_option": {"value": "apocalyptic"}, "action_ts": "1.2"}),
     "actions.0.selected_option"),
    (block_actions({"action_id": "incident_assign", "type": "users_select", "selected_user": "U0TEAMLEAD",
                    "action_ts": "1.2"}), "block_id"),
])
def test_malformed_block_actions_are_request_errors(payload, field):
    with pytest.raises(sr.SlackRequestError) as failure:
        sr.block_action(payload)
    assert failure.value.field == field


# ---- view_submission --------------------------------------------------------------------------

AT = datetime(2026, 6, 10, 6, 30, tzinfo=UTC)


def resolve_values(summary: str | None) -> dict[str, dict[str, Any]]:
    return {views.RESOLVE_BLOCK: {views.RESOLVE_ACTION: {"type": "plain_text_input", "value": summary}}}


def test_resolve_submission_is_a_resolve_command_with_the_summary():
    outcome = sr.resolve_submission(submission("incident_resolve", resolve_values("  Rolled back 14:02  "),
                                               metadata=INC), AT)
    assert isinstance(outcome, sr.Publish)
    cmd = outcome.command
    assert cmd.action is Action.RESOLVE and cmd.incident_id == INC and cmd.summary == "Rolled back 14:02"
    assert cmd.command_id == "slack:V0123ABCD" and cmd.at == AT and cmd.actor.id == USER


@pytest.mark.parametrize("summary", [None, "", "   \n "])
def test_resolve_without_a_summary_answers_errors_on_the_block(summary):
    outcome = sr.resolve_submission(submission("incident_resolve", resolve_values(summary), metadata=INC), AT)
    assert isinstance(outcome, sr.ViewErrors)
    assert outcome.response() == {"response_action": "errors", "errors": {"resolution": outcome.errors["resolution"]}}


def test_resolve_with_a_summary_too_long_answers_errors():
    outcome = sr.resolve_submission(submission("incident_resolve", resolve_values("x" * 5001), metadata=INC), AT)
    assert isinstance(outcome, sr.ViewErrors) and "resolution" in outcome.errors


@pytest.mark.parametrize("metadata", ["", "INC-1", "not an id"])
def test_resolve_with_no_incident_in_private_metadata_is_a_request_error(metadata):
    with pytest.raises(sr.SlackRequestError):
        sr.resolve_submission(submission("incident_resolve", resolve_values("fixed"), metadata=metadata), AT)


def declare_values(title: str | None = "Checkout 5xx for some users", description: str | None = "since 14:02",
                   severity: str | None = "high", type_: str | None = "system_alert",
                   service: str | None = "checkout") -> dict[str, dict[str, Any]]:
    return {"title": text_input(title), "description": text_input(description),
            "severity": select_input(severity), "type": select_input(type_), "service": text_input(service)}


def test_declare_submission_is_a_manual_report_from_the_slack_user():
    outcome = sr.declare_submission(submission("incident_declare", declare_values()), POLICY)
    assert isinstance(outcome, sr.Declare)
    report = outcome.report
    assert (report.title, report.description, report.severity, report.type, report.service, report.reporter) == (
        "Checkout 5xx for some users", "since 14:02", Severity.HIGH, "system_alert", "checkout", USER)
    assert outcome.idempotency_key == "slack:V0123ABCD"


def test_declare_with_only_a_title_leaves_the_rest_to_the_policy():
    values = declare_values(description=None, severity=None, type_=None, service="")
    outcome = sr.declare_submission(submission("incident_declare", values), POLICY)
    assert isinstance(outcome, sr.Declare)
    assert (outcome.report.severity, outcome.report.type, outcome.report.service) == (None, None, None)
    assert outcome.report.description == ""


@pytest.mark.parametrize(("values", "block"), [
    (declare_values(title="ab"), "title"),
    (declare_values(title="   "), "title"),
    (declare_values(title=None), "title"),
    (declare_values(title="x" * 201), "title"),
    (declare_values(type_="made_up"), "type"),
    (declare_values(severity="apocalyptic"), "severity"),
    (declare_values(service="s" * 101), "service"),
])
def test_invalid_declarations_answer_errors_on_the_block(values, block):
    outcome = sr.declare_submission(submission("incident_declare", values), POLICY)
    assert isinstance(outcome, sr.ViewErrors)
    assert block in outcome.errors and outcome.response()["response_action"] == "errors"


# ---- slash commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("", sr.Slash("help")),
    ("   ", sr.Slash("help")),
    ("help", sr.Slash("help")),
    ("declare", sr.Slash("declare")),
    ("DECLARE sev2 checkout", sr.Slash("declare")),
    ("list", sr.Slash("list")),
    (f"status {INC}", sr.Slash("status", INC)),
    ("status inc-2026-0142", sr.Slash("status", INC)),
    (f"ack {INC}", sr.Slash("ack", INC)),
    (f"acknowledge {INC}", sr.Slash("ack", INC)),
    (f"resolve {INC} rolled back the  14:02 deploy", sr.Slash("resolve", INC, "rolled back the  14:02 deploy")),
])
def test_slash_text_is_parsed(text, expected):
    assert sr.parse_slash_text(text) == expected


@pytest.mark.parametrize(("text", "verb", "words"), [
    ("frobnicate", "help", "Unknown subcommand"),
    ("status", "status", "needs an incident id"),
    ("status 42", "status", "is not an incident id"),
    ("ack", "ack", "needs an incident id"),
    (f"resolve {INC}", "resolve", "needs a summary"),
    (f"resolve {INC} {'x' * 5001}", "resolve", "under 5000"),
])
def test_slash_text_problems_are_explained(text, verb, words):
    slash = sr.parse_slash_text(text)
    assert slash.verb == verb and slash.problem and words in slash.problem


FORM = {"token": "t", "team_id": "T024BE7LD", "user_id": USER, "user_name": "priya", "command": "/incident",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0"}


def test_slash_ack_and_resolve_become_commands_keyed_by_the_trigger_id():
    ack = sr.slash_command(sr.parse_slash_text(f"ack {INC}"), FORM, AT)
    assert (ack.action, ack.incident_id, ack.actor.id, ack.summary) == (Action.ACKNOWLEDGE, INC, USER, None)
    assert ack.command_id == "slack:13345224609.738474920.8088930838d88f008e0"
    resolve = sr.slash_command(sr.parse_slash_text(f"resolve {INC} rolled back"), FORM, AT)
    assert (resolve.action, resolve.summary) == (Action.RESOLVE, "rolled back")


def test_slash_commands_without_a_trigger_id_still_get_a_stable_command_id():
    form = {k: v for k, v in FORM.items() if k != "trigger_id"}
    slash = sr.parse_slash_text(f"ack {INC}")
    assert sr.slash_command(slash, form, AT).command_id == sr.slash_command(slash, dict(form), AT).command_id


def test_slash_command_refuses_what_is_not_a_command():
    with pytest.raises(ValueError):
        sr.slash_command(sr.parse_slash_text("list"), FORM, AT)
    with pytest.raises(sr.SlackRequestError):
        sr.slash_actor({**FORM, "user_id": ""})


def test_ephemeral_answers():
    assert sr.ephemeral("hi") == {"response_type": "ephemeral", "text": "hi"}


# ---- the modals and the message actions are valid Block Kit ----------------------------------


def test_the_modals_are_valid_views():
    resolve = views.view_payload(views.resolve_modal(INC, "Checkout 5xx"))
    assert check_view(resolve) == []
    assert (resolve["callback_id"], resolve["private_metadata"]) == ("incident_resolve", INC)
    declare = views.view_payload(views.declare_modal(POLICY))
    assert check_view(declare) == []
    assert declare["callback_id"] == "incident_declare"
    type_block = next(b for b in declare["blocks"] if b.get("block_id") == "type")
    assert [o["value"] for o in type_block["element"]["options"]] == list(POLICY.incident_types)


def test_the_message_action_row_round_trips_through_the_parser():
    block = views.incident_actions_block(INC, Severity.HIGH).to_dict()
    assert check_blocks([block]) == []
    for element in block["elements"]:
        act = {"action_id": element["action_id"], "block_id": block["block_id"], "type": element["type"],
               "action_ts": "1718000130.000001"}
        if element["type"] == "button":
            act["value"] = element["value"]
        elif element["type"] == "users_select":
            act["selected_user"] = "U0TEAMLEAD"
        else:
            act["selected_option"] = element["options"][0]
        outcome = sr.block_action(block_actions(act))
        assert isinstance(outcome, sr.Publish | sr.OpenResolveModal)
        assert (outcome.command.incident_id if isinstance(outcome, sr.Publish) else outcome.incident_id) == INC


def incident(**changes: Any) -> Incident:
    at = datetime(2026, 6, 10, 6, 12, tzinfo=UTC)
    fields = {"id": INC, "number": 142, "title": "Checkout 5xx rate", "severity": Severity.HIGH,
              "category": AlertCategory.APPLICATION_PERFORMANCE, "type": "system_alert", "service": "checkout",
              "group_key": "g", "source": "manual", "detected_at": at, "created_at": at, "updated_at": at}
    return Incident(**{**fields, **changes})


@pytest.mark.parametrize(("owner", "shown"), [
    (None, "nobody yet"), ("team-lead", "<@U0TEAMLEAD>"), ("U0SOMEONE1", "<@U0SOMEONE1>"), ("stranger", "stranger")])
def test_status_text_names_severity_status_owner_and_alerts(owner, shown):
    text = views.status_text(POLICY, incident(owner=owner), 2, 3)
    assert INC in text and "Checkout 5xx rate" in text and "*Severity* High" in text and "*Status* Open" in text
    assert f"*Owner* {shown}" in text and "2 firing of 3" in text and "System alerts" in text


def test_list_text_groups_open_and_acknowledged():
    other = incident(id="INC-2026-0143", title="Disk full", status=IncidentStatus.ACKNOWLEDGED)
    text = views.list_text([incident()], [other], more=True)
    assert text.index("*Open* (1)") < text.index(INC) < text.index("*Acknowledged* (1)") < text.index("INC-2026-0143")
    assert "[HIGH]" in text and "More incidents" in text
    assert views.list_text([], []) == "No open or acknowledged incidents."
