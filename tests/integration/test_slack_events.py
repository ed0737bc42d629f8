"""Slack's Events API: a 📌 or 📝 reaction adds the message to its incident's timeline, once.

The slack function as functions-framework serves it, the real Firestore emulator, and the fake Slack's
conversations.history (where the reacted-to message is read, as Slack documents the method).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import bootstrap
from shared.config.loader import current_policy
from shared.domain.classification import classify
from shared.domain.model import Alert, AlertStatus, Severity
from tests.fakes.slack_api import FakeSlack
from tests.integration.helpers import function_app, json_of, set_env
from tests.integration.test_slack_function import SECRET, signed

pytestmark = pytest.mark.integration

INCIDENT_CHANNEL = "C0INCCHAN1"
TEAM_LEAD = "U0TEAMLEAD"


@pytest.fixture
def env(project: str, topics: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with FakeSlack() as slack:
        set_env(monkeypatch, SLACK_SIGNING_SECRET=SECRET, SLACK_BOT_TOKEN=slack.token, SLACK_API_URL=slack.base_url)
        policy = current_policy()
        alert = Alert(source="grafana", fingerprint="db", status=AlertStatus.FIRING, title="Database down",
                      labels={"alertname": "DbDown", "service": "db"}, severity=Severity.HIGH,
                      starts_at=datetime.now(UTC))
        incident_id = bootstrap.store().record_alerts([classify(policy, alert)], datetime.now(UTC),
                                                      policy).incident_id
        bootstrap.store().set_fields(incident_id, {"incident_channel": INCIDENT_CHANNEL})
        yield slack, function_app("slack").test_client(), incident_id
        assert slack.problems == []


def event(client, payload: dict[str, Any], headers: dict[str, str] | None = None):
    body = json.dumps(payload).encode()
    return client.post("/events", data=body, headers=signed(body) if headers is None else headers,
                       content_type="application/json")


def reaction(channel: str, ts: str, name: str = "pushpin") -> dict[str, Any]:
    return {"type": "event_callback", "event_id": f"Ev{ts.replace('.', '')}", "team_id": "T0FAKETEAM",
            "event": {"type": "reaction_added", "user": TEAM_LEAD, "reaction": name, "item_user": "U0ENGINR01",
                      "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": ts}}


def notes(incident_id: str) -> list[Any]:
    return [e for e in bootstrap.store().timeline_of(incident_id, 500) if e.kind == "note"]


def test_a_pushpin_reaction_adds_the_message_once_however_often_slack_retries(env):
    slack, client, incident_id = env
    ts = slack.post_as_user(INCIDENT_CHANNEL, "U0ENGINR01", "Connection pool exhausted after the 14:02 deploy")
    for _ in range(3):
        assert event(client, reaction(INCIDENT_CHANNEL, ts)).status_code == 200
    [note] = notes(incident_id)
    assert note.text == "Connection pool exhausted after the 14:02 deploy"
    assert note.source == "slack" and note.actor != "system"
    assert note.data["ts"] == ts and note.data["added_by"] == TEAM_LEAD
    assert len(slack.calls_to("conversations.history")) >= 1


def test_the_url_check_answers_its_challenge(env):
    _, client, _ = env
    answer = event(client, {"type": "url_verification", "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV"})
    assert answer.status_code == 200 and json_of(answer) == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


def test_other_reactions_and_other_channels_add_nothing(env):
    slack, client, incident_id = env
    ts = slack.post_as_user(INCIDENT_CHANNEL, "U0ENGINR01", "lunch?")
    assert "ignored" in json_of(event(client, reaction(INCIDENT_CHANNEL, ts, "thumbsup")))
    elsewhere = slack.post_as_user("C0RANDOM01", "U0ENGINR01", "unrelated")
    assert json_of(event(client, reaction("C0RANDOM01", elsewhere)))["ignored"] == "not an incident channel"
    assert notes(incident_id) == []


def test_forged_and_malformed_events_are_refused(env):
    slack, client, incident_id = env
    ts = slack.post_as_user(INCIDENT_CHANNEL, "U0ENGINR01", "secret")
    body = json.dumps(reaction(INCIDENT_CHANNEL, ts)).encode()
    forged = client.post("/events", data=body, headers=signed(body, secret="wrong"),
                         content_type="application/json")
    assert forged.status_code == 401
    bad = event(client, reaction(INCIDENT_CHANNEL, "yesterday"))
    assert bad.status_code == 400 and json_of(bad)["field"] == "event.item.ts"
    form = client.post("/events", data=b"a=b", headers=signed(b"a=b"), content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert notes(incident_id) == []
