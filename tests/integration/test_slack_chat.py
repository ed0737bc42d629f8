"""SlackChat through the real slack_sdk client against FakeSlack (a real HTTP fake of the Web API)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError

from shared.adapters.slack_chat import ConsoleChat, SlackChat, slack_client
from shared.adapters.slack_messages import incident_message
from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain.incident import Incident, IncidentStatus
from shared.domain.model import AlertCategory, Link, Severity
from shared.domain.responders import first_responders
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.integration

POLICY = load_policy(DEFAULT_POLICY_PATH)
NOW = datetime(2026, 6, 10, 6, 12, tzinfo=UTC)


def make_incident(**changes) -> Incident:
    fields = {
        "id": "INC-2026-0042", "number": 42, "title": "Checkout 5xx rate", "summary": "5xx > 5% on /api/checkout",
        "severity": Severity.CRITICAL, "category": AlertCategory.APPLICATION_PERFORMANCE, "type": "system_alert",
        "service": "checkout", "group_key": "system_alert|alertname=Checkout 5xx rate|service=checkout",
        "source": "grafana", "labels": {"service": "checkout"},
        "links": [Link(title="Source", url="https://grafana.example.com/alerting/grafana/ddlq3x0/view")],
        "runbook_url": "https://runbooks.example.com/checkout-5xx",
        "detected_at": NOW, "created_at": NOW, "updated_at": NOW,
    }
    fields.update(changes)
    return Incident(**fields)


def rendered(incident: Incident, firing: int = 1, total: int = 1):
    responders = first_responders(POLICY, incident)
    text, blocks = incident_message(POLICY, incident, responders, firing, total)
    return responders, text, blocks


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def chat(slack: FakeSlack) -> SlackChat:
    return SlackChat(slack_client(slack.token, slack.base_url))


def test_post_returns_channel_and_ts_and_the_incident_message_is_valid_block_kit(slack, chat):
    incident = make_incident()
    responders, text, blocks = rendered(incident)

    channel, ts = chat.post(responders.channel_id, text, blocks)

    assert channel == POLICY.channels["critical"].id == responders.channel_id
    assert ts
    assert slack.problems == []
    [call] = slack.calls_to("chat.postMessage")
    assert call.ok and call.params["channel"] == channel
    assert call.params["unfurl_links"] is False
    assert call.headers.get("Authorization") == f"Bearer {slack.token}"
    message = slack.messages[(channel, ts)]
    assert message["text"] == text and "INC-2026-0042" in text
    shown = json.dumps(message["blocks"])
    assert responders.mentions and all(m in shown for m in responders.mentions)
    assert "<!subteam^S0DEVOPS01>" in shown  # DevOps Engineers are paged through their user group
    assert [b["type"] for b in message["blocks"]][:2] == ["header", "section"]
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == ["incident_ack", "incident_resolve", "incident_assign",
                                                             "incident_severity", "incident_escalate"]
    assert actions["block_id"] == f"incident_actions:{incident.id}"


@pytest.mark.parametrize("changes", [
    pytest.param({"status": IncidentStatus.ACKNOWLEDGED}, id="acknowledged"),
    pytest.param({"status": IncidentStatus.RESOLVED, "resolution_summary": "Rolled back 2.14.1"}, id="resolved"),
    pytest.param({"alerts_resolved_at": NOW}, id="alerts-resolved"),
    pytest.param({"severity": Severity.LOW, "service": None, "runbook_url": None, "links": []}, id="low-bare"),
    pytest.param({"title": "T" * 400, "summary": "S" * 5000}, id="long-text"),
    pytest.param({"links": [Link(title="L" * 100, url=f"https://e.example.com/{i}") for i in range(20)]},
                 id="many-links"),
    pytest.param({"type": "system_security", "category": AlertCategory.SECURITY}, id="security"),
    pytest.param({"type": "bug_report", "severity": Severity.MEDIUM}, id="bug-report"),
])
def test_every_shape_of_the_incident_message_is_accepted_by_slack(slack, chat, changes):
    incident = make_incident(**changes)
    responders, text, blocks = rendered(incident, firing=0 if incident.alerts_resolved_at else 3, total=3)

    channel, ts = chat.post(responders.channel_id, text, blocks)

    assert slack.problems == []
    assert slack.messages[(channel, ts)]["text"] == text
    assert channel == POLICY.channels[responders.channel_key].id


def test_a_rate_limit_with_retry_after_is_retried_and_succeeds(slack, chat):
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    responders, text, blocks = rendered(make_incident())

    channel, ts = chat.post(responders.channel_id, text, blocks)

    first, second = slack.calls_to("chat.postMessage")
    assert (first.status, first.error) == (429, "ratelimited")
    assert second.ok and second.received_at - first.received_at >= 1.0  # Retry-After was honoured
    assert list(slack.messages) == [(channel, ts)]
    assert slack.problems == []


def test_a_server_error_once_is_retried(slack, chat):
    slack.fail_next("chat.postMessage", status=500)
    responders, text, blocks = rendered(make_incident())

    channel, ts = chat.post(responders.channel_id, text, blocks)

    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500, 200]
    assert list(slack.messages) == [(channel, ts)]


def test_a_slack_error_is_raised_not_swallowed(slack, chat):
    """notify relies on this to release its first-page claim so the delivery is retried."""
    slack.fail_next("chat.postMessage", error="channel_not_found")
    responders, text, blocks = rendered(make_incident())

    with pytest.raises(SlackApiError) as info:
        chat.post(responders.channel_id, text, blocks)

    assert info.value.response["error"] == "channel_not_found"
    assert len(slack.calls_to("chat.postMessage")) == 1 and slack.messages == {}


def test_update_edits_the_message_in_place(slack, chat):
    responders, text, blocks = rendered(make_incident())
    channel, ts = chat.post(responders.channel_id, text, blocks)
    before = slack.messages[(channel, ts)]

    _, new_text, new_blocks = rendered(make_incident(status=IncidentStatus.ACKNOWLEDGED))
    chat.update(channel, ts, new_text, new_blocks)

    after = slack.messages[(channel, ts)]
    assert after != before and "edited" in after
    assert after["text"] == new_text and "(Acknowledged)" in new_text and "(Open)" in before["text"]
    assert "*Status*\\nAcknowledged" in json.dumps(after["blocks"])
    assert len(slack.messages) == 1 and len(slack.calls_to("chat.postMessage")) == 1
    [update] = slack.calls_to("chat.update")
    assert update.ok and update.params["ts"] == ts
    assert slack.problems == []


def test_update_of_an_unknown_message_raises(slack, chat):
    _, text, blocks = rendered(make_incident())
    with pytest.raises(SlackApiError):
        chat.update("C0CRITICAL1", "1718000000.000100", text, blocks)


def test_console_chat_prints_a_readable_message():
    stream = io.StringIO()
    console = ConsoleChat(stream)
    incident = make_incident()
    responders, text, blocks = rendered(incident)

    first = console.post(responders.channel_id, text, blocks)
    second = console.post(responders.channel_id, text, blocks)
    console.update(first[0], first[1], text.replace("(Open)", "(Acknowledged)"), blocks)

    assert first == (responders.channel_id, "console.000001") and second[1] == "console.000002"
    out = stream.getvalue()
    assert f"[slack POST #{responders.channel_id} ts=console.000001] {text}" in out
    assert f"[slack UPDATE #{responders.channel_id} ts=console.000001]" in out and "(Acknowledged)" in out
    assert "  | INC-2026-0042: Checkout 5xx rate" in out  # the header block
    assert "  | *Severity*" in out and "  | 5xx > 5% on /api/checkout" in out
    assert all(m in out for m in responders.mentions)
    assert "{" not in out  # readable text, not JSON
