"""`slack` as functions-framework serves it: signed Slack requests in, Commands on the real Pub/Sub emulator,
modals opened on FakeSlack (a real HTTP fake of the Web API), incidents in the Firestore emulator."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import functions_framework
import pytest

import functions.main
from shared import bootstrap
from shared.domain.commands import Action, Command
from shared.messages import decode_event
from shared.topology import TOPIC_COMMANDS
from tests.fakes.slack_api import FakeSlack
from tests.integration.helpers import FUNCTIONS_SOURCE, ROOT, closed_host, json_of, pull_messages, set_env

pytestmark = pytest.mark.integration

SECRET = "test-slack-signing-secret"
TOPIC = TOPIC_COMMANDS
USER = "U024BE7LH"
TRIGGER = "7212345678901.24.abcd1234ef"


@pytest.fixture(scope="module")
def app():
    """From functions/main.py once it exports `slack`; until then straight from functions/slack.py."""
    exported = "slack" in getattr(functions.main, "__all__", ())
    source = FUNCTIONS_SOURCE if exported else ROOT / "functions" / "slack.py"
    shadowed = sys.modules.get("slack")  # functions-framework registers the source as a module of its file name
    app = functions_framework.create_app(target="slack", source=str(source), signature_type="http")
    if not exported:
        if shadowed is None:
            sys.modules.pop("slack", None)
        else:
            sys.modules["slack"] = shadowed
    return app


@pytest.fixture
def commands_topic(project: str, topics: list[str]) -> str:
    """The `commands` topic with its `commands-test` pull subscription (made by `topics` when topology lists it)."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(name=publisher.topic_path(project, TOPIC))
    with contextlib.suppress(AlreadyExists):
        subscriber.create_subscription(name=subscriber.subscription_path(project, f"{TOPIC}-test"),
                                       topic=publisher.topic_path(project, TOPIC))
    subscriber.close()
    return TOPIC


@pytest.fixture
def slack_api() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(app, project, commands_topic, slack_api, monkeypatch):
    set_env(monkeypatch, SLACK_SIGNING_SECRET=SECRET, SLACK_BOT_TOKEN=slack_api.token,
            SLACK_API_URL=slack_api.base_url)
    return app.test_client()


# ---- building Slack's requests ----------------------------------------------------------------


def signed(body: bytes, *, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def post(client, path: str, body: bytes, headers: dict[str, str] | None = None,
         content_type: str = "application/x-www-form-urlencoded"):
    return client.post(path, data=body, headers=signed(body) if headers is None else headers,
                       content_type=content_type)


def interact(client, payload: dict[str, Any], **kwargs: Any):
    return post(client, "/interactions", urlencode({"payload": json.dumps(payload)}).encode(), **kwargs)


def slash(client, text: str, **fields: str):
    form = {"token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": "T024BE7LD", "team_domain": "acme",
            "channel_id": "C024BE91L", "channel_name": "ops", "user_id": USER, "user_name": "priya",
            "command": "/incident", "text": text, "api_app_id": "A05INCIDENT", "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T024BE7LD/1234/abcd",
            "trigger_id": "13345224609.738474920.8088930838d88f008e0", **fields}
    return post(client, "/commands", urlencode(form).encode())


def block_actions(action_id: str, incident_id: str, **action: Any) -> dict[str, Any]:
    return {
        "type": "block_actions", "user": {"id": USER, "username": "priya", "name": "priya", "team_id": "T024BE7LD"},
        "api_app_id": "A05INCIDENT", "token": "verification_token",
        "container": {"type": "message", "message_ts": "1718000123.000200", "channel_id": "C07INC0142"},
        "trigger_id": TRIGGER, "team": {"id": "T024BE7LD", "domain": "acme"},
        "channel": {"id": "C07INC0142", "name": "inc-0142-checkout-5xx"},
        "response_url": "https://hooks.slack.com/actions/T024BE7LD/7212345678901/XyZ",
        "actions": [{"action_id": action_id, "block_id": f"incident_actions:{incident_id}", "type": "button",
                     "value": incident_id, "action_ts": "1718000130.481254", **action}],
    }


def view_submission(callback_id: str, values: dict[str, Any], *, metadata: str = "",
                    view_id: str = "V07ABCDEF12") -> dict[str, Any]:
    return {"type": "view_submission", "user": {"id": USER, "username": "priya", "name": "priya"},
            "api_app_id": "A05INCIDENT", "trigger_id": TRIGGER,
            "view": {"id": view_id, "type": "modal", "callback_id": callback_id, "private_metadata": metadata,
                     "hash": "1718000200.abc", "state": {"values": values}}}


def summary_values(text: str | None) -> dict[str, Any]:
    return {"resolution": {"summary": {"type": "plain_text_input", "value": text}}}


def declare_values(title: str = "Checkout 5xx for some users", severity: str | None = "high") -> dict[str, Any]:
    def text(value: str | None) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value}}

    def choice(value: str | None) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
        return {"value": {"type": "static_select", "selected_option": option}}

    return {"title": text(title), "description": text("5xx on /api/checkout since 14:02"),
            "severity": choice(severity), "type": choice("system_alert"), "service": text("checkout")}


def commands(project: str, expect: int = 1) -> list[Any]:
    return pull_messages(project, TOPIC, expect=expect, timeout=3 if expect else 1)


def declared(client, project: str, view_id: str = "V07ABCDEF12") -> str:
    response = interact(client, view_submission("incident_declare", declare_values(), view_id=view_id))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert json_of(response) == {"response_action": "clear"}
    incidents = bootstrap.store().list_incidents(status="open", limit=10).incidents
    assert len(incidents) == 1
    return incidents[0].id


# ---- signatures -------------------------------------------------------------------------------


def test_a_signed_acknowledge_click_puts_one_command_on_the_commands_topic(client, project):
    response = interact(client, block_actions("incident_ack", "INC-2026-0142"))
    assert response.status_code == 200 and response.get_data() == b""
    messages = commands(project)
    assert len(messages) == 1
    command = Command.model_validate_json(messages[0].data)
    assert command.action is Action.ACKNOWLEDGE and command.incident_id == "INC-2026-0142"
    assert command.actor.kind == "slack" and command.actor.id == USER
    assert command.command_id == f"slack:1718000130.481254:{USER}"
    assert dict(messages[0].attributes) == {"action": "acknowledge", "incident_id": "INC-2026-0142",
                                            "source": "slack"}


def test_assign_severity_and_escalate_become_commands(client, project):
    inc = "INC-2026-0142"
    assign = block_actions("incident_assign", inc, type="users_select", value=None, selected_user="U0TEAMLEAD",
                           action_ts="1718000131.000001")
    severity = block_actions("incident_severity", inc, type="static_select", value=None,
                             selected_option={"text": {"type": "plain_text", "text": "Critical"},
                                              "value": "critical"}, action_ts="1718000132.000001")
    escalate = block_actions("incident_escalate", inc, action_ts="1718000133.000001")
    for payload in (assign, severity, escalate):
        response = interact(client, payload)
        assert response.status_code == 200, response.get_data(as_text=True)
    got = sorted((Command.model_validate_json(m.data) for m in commands(project, 3)), key=lambda c: c.at)
    assert [(c.action, c.owner, c.severity) for c in got] == [
        (Action.ASSIGN, "U0TEAMLEAD", None), (Action.SEVERITY, None, "critical"), (Action.ESCALATE, None, None)]


@pytest.mark.parametrize("headers", [
    pytest.param(lambda body: signed(body, secret="not-the-secret"), id="wrong-secret"),
    pytest.param(lambda body: signed(body + b"&x=1"), id="signature-of-another-body"),
    pytest.param(lambda body: {}, id="unsigned"),
    pytest.param(lambda body: {**signed(body), "X-Slack-Signature": "v0=deadbeef"}, id="bad-digest"),
    pytest.param(lambda body: signed(body, ts=int(time.time()) - 301), id="replayed-5-minutes-later"),
    pytest.param(lambda body: signed(body, ts=int(time.time()) - 3600), id="replayed-an-hour-later"),
])
def test_requests_not_signed_by_slack_get_401_and_nothing_is_published(client, project, headers, caplog):
    body = urlencode({"payload": json.dumps(block_actions("incident_ack", "INC-2026-0142"))}).encode()
    with caplog.at_level(logging.WARNING):
        response = post(client, "/interactions", body, headers=headers(body))
    assert response.status_code == 401
    assert json_of(response)["error"] == "invalid_signature"
    assert any(r.getMessage() == "request rejected" and getattr(r, "http_status", None) == 401
               for r in caplog.records)
    assert commands(project, expect=0) == []


def test_without_a_signing_secret_every_request_gets_401(client, project, monkeypatch):
    set_env(monkeypatch, SLACK_SIGNING_SECRET=None)
    response = interact(client, block_actions("incident_ack", "INC-2026-0142"))
    assert response.status_code == 401 and "not configured" in json_of(response)["detail"]
    assert slash(client, "help").status_code == 401
    assert commands(project, expect=0) == []


def test_signature_is_checked_before_routing(client):
    assert client.get("/interactions").status_code == 401
    assert client.post("/nowhere", data=b"x=1").status_code == 401
    assert post(client, "/nowhere", b"x=1").status_code == 404
    assert client.get("/interactions", headers=signed(b"")).status_code == 405


def test_a_body_over_the_limit_gets_413(client, monkeypatch):
    set_env(monkeypatch, MAX_BODY_BYTES="1024")
    body = urlencode({"payload": "x" * 2000}).encode()
    assert post(client, "/interactions", body).status_code == 413


def test_when_pubsub_is_down_the_click_gets_503_so_slack_shows_an_error(client, project, monkeypatch):
    set_env(monkeypatch, PUBSUB_EMULATOR_HOST=closed_host(), PUBLISH_TIMEOUT_SECONDS="2")
    response = interact(client, block_actions("incident_ack", "INC-2026-0142"))
    assert response.status_code == 503 and json_of(response)["error"] == "publish_failed"
    assert int(response.headers["Retry-After"]) > 0


# ---- resolve ----------------------------------------------------------------------------------


def test_resolve_button_opens_the_resolve_modal(client, project, slack_api):
    response = interact(client, block_actions("incident_resolve", "INC-2026-0142"))
    assert response.status_code == 200, response.get_data(as_text=True)
    call = slack_api.wait_for("views.open")[0]
    assert call.params["trigger_id"] == TRIGGER
    view = call.params["view"]
    assert view["callback_id"] == "incident_resolve" and view["private_metadata"] == "INC-2026-0142"
    assert any(b.get("block_id") == "resolution" for b in view["blocks"])
    assert slack_api.problems == []
    assert commands(project, expect=0) == []


def test_resolve_button_when_slack_refuses_the_modal_is_an_error_not_a_silent_200(client, slack_api):
    payload = block_actions("incident_resolve", "INC-2026-0142")
    payload["trigger_id"] = "expired"
    response = interact(client, payload)
    assert response.status_code == 502 and "invalid_trigger_id" in json_of(response)["detail"]


def test_resolve_submission_puts_a_resolve_command_with_the_summary(client, project):
    payload = view_submission("incident_resolve", summary_values("Rolled back the 14:02 deploy"),
                              metadata="INC-2026-0142")
    response = interact(client, payload)
    assert response.status_code == 200 and response.get_data() == b""
    [message] = commands(project)
    command = Command.model_validate_json(message.data)
    assert (command.action, command.incident_id, command.summary) == (
        Action.RESOLVE, "INC-2026-0142", "Rolled back the 14:02 deploy")
    assert command.command_id == "slack:V07ABCDEF12" and command.actor.id == USER


@pytest.mark.parametrize("summary", ["", "   ", None])
def test_resolve_submission_without_a_summary_answers_errors_and_publishes_nothing(client, project, summary):
    response = interact(client, view_submission("incident_resolve", summary_values(summary),
                                                metadata="INC-2026-0142"))
    assert response.status_code == 200
    body = json_of(response)
    assert body["response_action"] == "errors" and set(body["errors"]) == {"resolution"}
    assert commands(project, expect=0) == []


# ---- declare ----------------------------------------------------------------------------------


def test_slash_declare_opens_the_declare_modal(client, slack_api):
    response = slash(client, "declare")
    assert response.status_code == 200 and response.get_data() == b""
    call = slack_api.wait_for("views.open")[0]
    view = call.params["view"]
    assert call.params["trigger_id"] == "13345224609.738474920.8088930838d88f008e0"
    assert view["callback_id"] == "incident_declare"
    assert [b.get("block_id") for b in view["blocks"] if b["type"] == "input"] == [
        "title", "description", "severity", "type", "service"]
    assert slack_api.problems == []


def test_slash_declare_without_a_bot_token_says_so(client, monkeypatch):
    set_env(monkeypatch, SLACK_BOT_TOKEN=None)
    response = slash(client, "declare")
    assert response.status_code == 200
    assert json_of(response)["response_type"] == "ephemeral" and "SLACK_BOT_TOKEN" in json_of(response)["text"]


def test_declare_submission_creates_the_incident_once(client, project):
    incident_id = declared(client, project)
    incident = bootstrap.store().get_incident(incident_id)
    assert incident is not None
    assert (incident.title, incident.severity.value, incident.type, incident.service) == (
        "Checkout 5xx for some users", "high", "system_alert", "checkout")
    assert USER in (incident.reporter, incident.labels.get("reporter"))
    events = [decode_event(m.data) for m in pull_messages(project, "incident-events", expect=1, timeout=3)]
    assert [e.incident_id for e in events] == [incident_id]
    # Slack resends the submission when the answer is late: same view id, still one incident.
    assert declared(client, project) == incident_id


def test_declare_submission_with_a_short_title_answers_errors(client, project):
    response = interact(client, view_submission("incident_declare", declare_values(title="ab")))
    assert response.status_code == 200
    body = json_of(response)
    assert body["response_action"] == "errors" and "title" in body["errors"]
    assert bootstrap.store().list_incidents(limit=5).incidents == []


# ---- slash commands ---------------------------------------------------------------------------


def test_slash_status_shows_the_incident(client, project):
    incident_id = declared(client, project)
    started = time.monotonic()
    response = slash(client, f"status {incident_id.lower()}")
    assert time.monotonic() - started < 3  # Slack's deadline
    assert response.status_code == 200
    body = json_of(response)
    assert body["response_type"] == "ephemeral"
    assert incident_id in body["text"] and "High" in body["text"] and "Open" in body["text"]
    assert "Checkout 5xx for some users" in body["text"] and "1 firing of 1" in body["text"]


def test_slash_status_of_an_unknown_incident_is_an_ephemeral_error(client):
    response = slash(client, "status INC-2026-9999")
    assert response.status_code == 200
    assert json_of(response) == {"response_type": "ephemeral", "text": "No incident INC-2026-9999."}


def test_slash_list_shows_open_incidents(client, project):
    assert "No open" in json_of(slash(client, "list"))["text"]
    incident_id = declared(client, project)
    text = json_of(slash(client, "list"))["text"]
    assert "*Open* (1)" in text and incident_id in text


def test_slash_ack_and_resolve_publish_commands(client, project):
    incident_id = declared(client, project)
    ack = json_of(slash(client, f"ack {incident_id}"))
    assert ack["response_type"] == "ephemeral" and ack["text"].startswith(f"Acknowledging {incident_id}")
    resolve = json_of(slash(client, f"resolve {incident_id} rolled back the deploy",
                            trigger_id="13345224609.738474920.aaaa"))
    assert resolve["text"].startswith(f"Resolving {incident_id}")
    got = [Command.model_validate_json(m.data) for m in commands(project, 2)]
    assert sorted((c.action.value, c.summary) for c in got) == [
        ("acknowledge", None), ("resolve", "rolled back the deploy")]
    assert all(c.incident_id == incident_id and c.actor.id == USER for c in got)


def test_slash_ack_of_an_unknown_incident_publishes_nothing(client, project):
    body = json_of(slash(client, "ack INC-2026-9999"))
    assert body["text"] == "No incident INC-2026-9999."
    assert commands(project, expect=0) == []


@pytest.mark.parametrize("text", ["help", "", "frobnicate", "status", "resolve INC-2026-0001"])
def test_slash_help_and_mistakes_answer_with_the_usage(client, text):
    response = slash(client, text)
    assert response.status_code == 200
    body = json_of(response)
    assert body["response_type"] == "ephemeral" and "/incident declare" in body["text"]


# ---- garbage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "content_type", "status"), [
    ("/interactions", b"", "application/x-www-form-urlencoded", 400),
    ("/interactions", b"garbage", "application/x-www-form-urlencoded", 400),
    ("/interactions", b"payload=", "application/x-www-form-urlencoded", 400),
    ("/interactions", b"payload=%7Bnot+json", "application/x-www-form-urlencoded", 400),
    ("/interactions", b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded", 400),
    ("/interactions", b"payload=%ff%fe", "application/x-www-form-urlencoded", 400),
    ("/interactions", b"payload=a&payload=b", "application/x-www-form-urlencoded", 400),
    ("/interactions", urlencode({"payload": "[" * 50_000}).encode(), "application/x-www-form-urlencoded", 400),
    ("/interactions", urlencode({"payload": json.dumps({"type": "block_actions"})}).encode(),
     "application/x-www-form-urlencoded", 400),
    ("/interactions", urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": USER},
                                                        "view": {"id": "V1", "callback_id": "other"}})}).encode(),
     "application/x-www-form-urlencoded", 400),
    ("/interactions", b'{"type": "block_actions"}', "application/json", 415),
    ("/interactions", b"\xff\xfe\x00", "application/x-www-form-urlencoded", 401),
    ("/commands", b"", "application/x-www-form-urlencoded", 400),
    ("/commands", b"text=help", "application/x-www-form-urlencoded", 400),
    ("/commands", b"user_id=U024BE7LH&text=%ff", "application/x-www-form-urlencoded", 400),
    ("/commands", b"user_id=U024BE7LH&text=declare", "application/x-www-form-urlencoded", 400),
])
def test_garbage_gets_a_4xx_not_a_500(client, project, path, body, content_type, status):
    response = post(client, path, body, content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)
    assert json_of(response)["error"]
    assert commands(project, expect=0) == []


def test_interactions_we_do_not_handle_are_acknowledged(client, project):
    closed = {"type": "view_closed", "user": {"id": USER}, "view": {"id": "V1", "callback_id": "incident_declare"}}
    assert interact(client, closed).status_code == 200
    other = block_actions("open_runbook", "INC-2026-0142")
    assert interact(client, other).status_code == 200
    assert commands(project, expect=0) == []
