"""Partners on the local stack: a Freshdesk ticket escalates on the policy's timers, its ticket carries the
incident's notes, the PST is reminded and updates the partner from Slack, resolution resolves the ticket,
a prevention measure becomes a Plane work item, and a Freshdesk outage holds up nothing but the ticket.

The stack runs as `make run` starts it (emulators, every function, the Cloud Tasks emulator firing timers)
with a second-scale test policy; Freshdesk, Plane and Slack are fakes on loopback.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from local.harness import StackProcess
from shared.config.loader import DEFAULT_POLICY_PATH
from tests.e2e.conftest import Client, eventually, signed_slack_post
from tests.fakes.freshdesk_api import FakeFreshdesk
from tests.fakes.plane_api import FakePlane
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.e2e

SECRET = "e2e-freshdesk-secret"
SIGNING_SECRET = "e2e-signing-secret"
TARGET_HIGH = 3  # seconds each level has to acknowledge a high incident in the test policy
SUPPORT, PM, CTO, PST = "U0SUPPORT1", "U0PRODMGR1", "U0CTO00001", "U0PST00001"


def fast_policy(folder: Path) -> Path:
    text = DEFAULT_POLICY_PATH.read_text()
    text = text.replace("response_target: 1h", f"response_target: {TARGET_HIGH}s", 1)
    text = text.replace("repeat_page_every: 15m", "repeat_page_every: 1h")
    text = text.replace("update_interval: { critical: 30m, high: 1h, medium: 4h, low: 1d }",
                        "update_interval: { critical: 1h, high: 4s, medium: 4h, low: 1d }")
    assert "high: 4s" in text
    path = folder / "policy.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def partner_stack(tmp_path_factory) -> Iterator[SimpleNamespace]:
    folder = tmp_path_factory.mktemp("partners")
    with FakeSlack() as slack, FakeFreshdesk() as fd, FakePlane(workspace="wealthy") as plane:
        stack = StackProcess(extra_env={
            "INCIDENT_CONFIG": str(fast_policy(folder)), "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.base_url, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "RECONCILE_EVERY_SECONDS": "2",
            "FRESHDESK_DOMAIN": fd.base_url, "FRESHDESK_API_KEY": fd.api_key, "FRESHDESK_WEBHOOK_SECRET": SECRET,
            "PLANE_API_URL": plane.base_url, "PLANE_API_KEY": plane.api_key})
        stack.start()
        try:
            yield SimpleNamespace(stack=stack, slack=slack, fd=fd, plane=plane, client=Client(stack))
            assert fd.problems == [] and plane.problems == [] and slack.problems == []
        finally:
            stack.stop()


def raise_ticket(env, subject: str, priority: str = "High") -> tuple[int, str]:
    """A partner opens a ticket in Freshdesk; its automation rule calls our webhook (simple content)."""
    ticket = env.fd.create_ticket_as_partner(subject=subject, email="meera.iyer@kestrel-payments.example",
                                             priority={"High": 3, "Urgent": 4}[priority])
    payload = {"freshdesk_webhook": {
        "ticket_id": ticket["id"], "ticket_subject": subject, "ticket_description": "<div>All UPI payments fail</div>",
        "ticket_status": "Open", "ticket_priority": priority, "ticket_type": "Incident", "ticket_tags": "outage",
        "ticket_source": "Portal", "ticket_url": f"{env.fd.base_url}/a/tickets/{ticket['id']}",
        "ticket_company_name": "Kestrel Payments Pvt Ltd", "requester_email": "meera.iyer@kestrel-payments.example",
        "requester_name": "Meera Iyer", "triggered_event": "{ticket_action:created}"}}
    response = requests.post(f"{env.stack.base_url}/partners/freshdesk", json=payload,
                             headers={"X-Webhook-Token": SECRET}, timeout=15)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "opened"
    return ticket["id"], response.json()["incident_id"]


def dms_to(slack: FakeSlack, user: str, incident_id: str) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage")
            if c.params.get("channel") == user and incident_id in str(c.params.get("text"))]


def notes(env, ticket_id: int) -> list[str]:
    return [n["body_text"] for n in env.fd.notes(ticket_id)]


def slack_post(env, path: str, form: dict[str, str]) -> requests.Response:
    return signed_slack_post(env.stack.base_url, path, urllib.parse.urlencode(form).encode(), SIGNING_SECRET)


def test_a_partner_ticket_runs_its_whole_course(partner_stack):
    env = partner_stack
    ticket_id, incident_id = raise_ticket(env, "UPI collect requests failing")

    # Escalation on the policy's timers: Wealthy Support, then the Product Manager, then the CTO.
    support = eventually(lambda: dms_to(env.slack, SUPPORT, incident_id), what="Wealthy Support paged")[0]
    pm = eventually(lambda: dms_to(env.slack, PM, incident_id), timeout=30, what="Product Manager paged")[0]
    cto = eventually(lambda: dms_to(env.slack, CTO, incident_id), timeout=30, what="CTO paged")[0]
    opened = datetime.fromisoformat(env.client.detail(incident_id)["incident"]["created_at"]).timestamp()
    assert support.received_at < pm.received_at < cto.received_at
    assert pm.received_at - opened >= TARGET_HIGH - 0.2  # each level has the whole target to acknowledge
    assert cto.received_at - pm.received_at >= TARGET_HIGH - 0.2

    # The partner's own ticket carries the story as private notes.
    eventually(lambda: any("Incident opened" in n for n in notes(env, ticket_id)), what="opening note")
    eventually(lambda: sum("scalated" in n for n in notes(env, ticket_id)) >= 2, timeout=30, what="escalation notes")

    # The PST contact is reminded in Slack and sends the partner an update from the reminder's button.
    reminder = eventually(lambda: [c for c in dms_to(env.slack, PST, incident_id)
                                   if "time to update" in c.params["text"]], timeout=30, what="PST reminder")[0]
    assert "partner_update_open" in json.dumps(reminder.params["blocks"])
    click = {"type": "block_actions", "user": {"id": PST}, "trigger_id": "123.456.abcdef",
             "actions": [{"action_id": "partner_update_open", "value": incident_id, "type": "button",
                          "action_ts": f"{time.time():.6f}"}]}
    assert slack_post(env, "interactions", {"payload": json.dumps(click)}).status_code == 200
    view = eventually(lambda: env.slack.calls_to("views.open"), what="update form opened")[-1]
    assert view.params["view"]["private_metadata"] == incident_id
    words = "We found the cause and are deploying a fix; next update 11:30 IST."
    submission = {"type": "view_submission", "user": {"id": PST}, "view": {
        "id": "V0UPDATE1", "callback_id": "partner_update", "private_metadata": incident_id,
        "state": {"values": {"partner_update": {"text": {"type": "plain_text_input", "value": words}}}}}}
    assert slack_post(env, "interactions", {"payload": json.dumps(submission)}).status_code == 200
    reply = eventually(lambda: env.fd.replies(ticket_id), what="public reply on the ticket")
    assert "deploying a fix" in reply[0]["body_text"]

    # A prevention measure becomes a Plane work item, linked back on the incident.
    response = env.client.api("POST", f"/incidents/{incident_id}/follow-ups", json={
        "actor": "Team Lead", "title": "Circuit breaker on the UPI client", "owner": "engineer-1"})
    assert response.status_code == 201, response.text
    [item] = env.plane.items.values()
    assert item["external_id"] == f"{incident_id}:F1"
    assert response.json()["follow_ups"][0]["work_item"]["id"] == item["id"]

    # Resolution resolves the ticket, with the summary as its last note.
    response = env.client.api("POST", f"/incidents/{incident_id}/resolve",
                              json={"actor": "Team Lead", "summary": "Rolled back the UPI gateway to v2.14.0"})
    assert response.status_code == 200, response.text
    eventually(lambda: env.fd.ticket(ticket_id)["status"] == 4, what="ticket resolved")
    eventually(lambda: any("Rolled back the UPI gateway" in n for n in notes(env, ticket_id)), what="summary note")
    final = notes(env, ticket_id)
    assert len(final) == len(set(final)), "no note twice"
    assert len(env.fd.replies(ticket_id)) == 1, "only the PST's words went to the partner"
    timeline = [e["kind"] for e in env.client.detail(incident_id)["timeline"]]
    assert {"freshdesk.ticket_linked", "partner.update_reminder", "partner.update", "follow_up.linked"} <= set(
        timeline)


def test_a_freshdesk_outage_during_a_critical_incident_holds_up_only_the_ticket(partner_stack):
    env = partner_stack
    env.fd.outage(True)
    try:
        ticket_id, incident_id = raise_ticket(env, "Trading orders rejected", priority="Urgent")
        # Paging goes on: critical pages Wealthy Support and, in parallel, the Product Manager and the CTO.
        for user in (SUPPORT, PM, CTO):
            eventually(lambda u=user: dms_to(env.slack, u, incident_id), what=f"{user} paged during the outage")
        eventually(lambda: env.client.detail(incident_id)["incident"]["ticket_sync_due_at"], what="sync deferred")
        assert env.fd.notes(ticket_id) == []
    finally:
        env.fd.outage(False)
    response = env.client.api("POST", f"/incidents/{incident_id}/acknowledge", json={"actor": "Team Lead"})
    assert response.status_code == 200
    eventually(lambda: any("acknowledged" in n.lower() for n in notes(env, ticket_id)), timeout=30,
               what="notes caught up after the outage")
    assert any("Incident opened" in n for n in notes(env, ticket_id)), "nothing lost"
    time.sleep(3)  # a reconciler run or two
    caught_up = notes(env, ticket_id)
    assert len(caught_up) == len(set(caught_up)), "nothing doubled"
    assert env.fd.ticket(ticket_id)["priority"] == 4
