"""Partners end to end through functions-framework: Freshdesk/Freshchat webhooks in, the ticket kept in step,
the PST's reminders and updates, Plane work items; Freshdesk and Plane outages and rate limits.

State lives in the real Firestore emulator, events go through the real Pub/Sub emulator (pulled and
delivered as Eventarc does, three times each to prove idempotency), timers go to the Cloud Tasks emulator,
and Freshdesk, Plane and Slack are fakes on loopback that check every request as the APIs document them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local.resources import create_queues
from shared import bootstrap
from shared.config.loader import current_policy
from shared.domain.classification import classify
from shared.domain.commands import Action, Actor, Command
from shared.domain.incident import IncidentStatus
from shared.domain.model import Alert, AlertStatus, Severity
from shared.handlers import followups, partner_updates, ticket_sync
from shared.handlers.escalation import apply, run_due_step
from shared.topology import TOPIC_INCIDENT_EVENTS
from tests.fakes.freshchat import TEST_PUBLIC_KEY_PEM, freshchat_headers
from tests.fakes.freshdesk_api import FakeFreshdesk
from tests.fakes.plane_api import FakePlane
from tests.fakes.slack_api import FakeSlack
from tests.integration.helpers import bearer, cloud_event, function_app, json_of, pull_messages, set_env

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "partners"
SECRET = "fd-webhook-secret"
FD_AUTH = {"X-Webhook-Token": SECRET}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return {name: function_app(name) for name in ("partners", "freshdesk-sync", "api")}


@pytest.fixture
def env(project: str, topics: list[str], monkeypatch: pytest.MonkeyPatch, apps) -> Iterator[SimpleNamespace]:
    with FakeFreshdesk() as fd, FakePlane(workspace="wealthy") as plane, FakeSlack() as slack:
        set_env(monkeypatch, FRESHDESK_DOMAIN=fd.base_url, FRESHDESK_API_KEY=fd.api_key,
                FRESHDESK_WEBHOOK_SECRET=SECRET, FRESHCHAT_PUBLIC_KEY=TEST_PUBLIC_KEY_PEM,
                PLANE_API_URL=plane.base_url, PLANE_API_KEY=plane.api_key, SLACK_BOT_TOKEN=slack.token,
                SLACK_API_URL=slack.base_url)
        create_queues(project, "asia-south1")
        yield SimpleNamespace(fd=fd, plane=plane, slack=slack, project=project, apps=apps)
        assert fd.problems == [] and plane.problems == [] and slack.problems == []


def partner_ticket(env, name: str = "freshdesk_simple_ticket_created.json", **fields) -> dict[str, Any]:
    """The partner creates the ticket in Freshdesk; the automation rule sends the webhook for it."""
    ticket = env.fd.create_ticket_as_partner(subject="UPI collect requests failing since 10:05 IST",
                                             description="<p>Every UPI collect request fails</p>",
                                             email="meera.iyer@kestrel-payments.example", **fields)
    payload = copy.deepcopy(fixture(name))
    payload["freshdesk_webhook"]["ticket_id"] = ticket["id"]
    payload["freshdesk_webhook"]["ticket_url"] = f"{env.fd.base_url}/a/tickets/{ticket['id']}"
    return payload


def post_freshdesk(env, payload: Any, headers: dict[str, str] | None = FD_AUTH, **kwargs):
    return env.apps["partners"].test_client().post("/freshdesk", json=payload, headers=headers, **kwargs)


def drain(env, copies: int = 3) -> int:
    """Deliver every incident event published so far to freshdesk-sync, `copies` times each (redelivery)."""
    delivered = 0
    while messages := pull_messages(env.project, TOPIC_INCIDENT_EVENTS, expect=0, timeout=0.5):
        for message in messages:
            for _ in range(copies):
                event = cloud_event(message.data, project=env.project, topic=TOPIC_INCIDENT_EVENTS,
                                    message_id=message.message_id)
                response = env.apps["freshdesk-sync"].test_client().post("/", **event)
                assert response.status_code == 200, response.get_data(as_text=True)
            delivered += 1
    return delivered


def command(incident_id: str, action: Action, **fields) -> None:
    apply(Command(command_id=f"test:{action}:{datetime.now(UTC).timestamp()}", incident_id=incident_id,
                  action=action, actor=Actor(kind="api", id="team-lead", name="Team Lead"), at=datetime.now(UTC),
                  **fields), policy=current_policy(), store=bootstrap.store(), publisher=bootstrap.publisher(),
          chat=bootstrap.chat(), scheduler=bootstrap.scheduler(), now=datetime.now(UTC))


def note_bodies(env, ticket_id: int) -> list[str]:
    return [n["body_text"] for n in env.fd.notes(ticket_id)]


# ---- the webhook ---------------------------------------------------------------------------------


def test_a_partner_ticket_opens_one_incident_however_often_it_is_delivered(env):
    payload = partner_ticket(env)
    ticket_id = payload["freshdesk_webhook"]["ticket_id"]
    first = post_freshdesk(env, payload)
    assert first.status_code == 200, first.get_data(as_text=True)
    answer = json_of(first)
    assert answer["outcome"] == "opened"
    for _ in range(3):
        again = json_of(post_freshdesk(env, payload))
        assert again == {"outcome": "unchanged", "incident_id": answer["incident_id"]}
    incident = bootstrap.store().get_incident(answer["incident_id"])
    assert (incident.type, incident.severity) == ("partner_technical", Severity.CRITICAL)
    assert incident.partner.name == "Kestrel Payments" and incident.partner.ticket_id == ticket_id
    assert [level.roles for level in incident.escalation.plan] == [["wealthy_support"], ["product_manager"], ["cto"]]
    assert bootstrap.store().list_incidents(limit=10).incidents == [incident]


def test_the_webhook_secret_is_required_and_compared(env):
    payload = partner_ticket(env)
    assert post_freshdesk(env, payload, headers=None).status_code == 401
    wrong = post_freshdesk(env, payload, headers={"X-Webhook-Token": "guess"})
    assert wrong.status_code == 401 and json_of(wrong)["error"] == "unauthenticated"
    basic = post_freshdesk(env, payload, headers={"Authorization": "Basic " + __import__("base64").b64encode(
        f"freshdesk:{SECRET}".encode()).decode()})
    assert basic.status_code == 200
    assert bootstrap.store().list_incidents(limit=10).incidents and len(
        bootstrap.store().list_incidents(limit=10).incidents) == 1


@pytest.mark.parametrize(("body", "content_type", "field"), [
    (b"{not json", "application/json", None),
    (b'{"freshdesk_webhook": {"ticket_subject": "no id"}}', "application/json", "ticket_id"),
    (b'{"ticket_id": "12", "priority": "Blocker"}', "application/json", "ticket_priority"),
])
def test_bad_webhooks_get_a_400_naming_the_problem(env, body: bytes, content_type: str, field: str | None):
    response = env.apps["partners"].test_client().post("/freshdesk", data=body, headers=FD_AUTH,
                                                       content_type=content_type)
    assert response.status_code == 400
    if field:
        assert json_of(response)["field"] == field


def test_a_question_is_answered_but_opens_nothing(env):
    response = post_freshdesk(env, fixture("freshdesk_simple_question_not_incident.json"))
    assert response.status_code == 200 and json_of(response)["outcome"] == "ignored"
    assert bootstrap.store().list_incidents(limit=5).incidents == []


def test_form_encoded_webhooks_work_too(env):
    body = (FIXTURES / "freshdesk_form_ticket_created.txt").read_text().strip()
    response = env.apps["partners"].test_client().post(
        "/freshdesk", data=body, headers=FD_AUTH, content_type="application/x-www-form-urlencoded")
    assert json_of(response)["outcome"] == "opened"


def test_a_raised_priority_raises_the_incident_and_a_resolved_incident_is_not_reopened(env):
    payload = partner_ticket(env, priority=3)
    payload["freshdesk_webhook"]["ticket_priority"] = "High"
    incident_id = json_of(post_freshdesk(env, payload))["incident_id"]
    assert bootstrap.store().get_incident(incident_id).severity is Severity.HIGH
    payload["freshdesk_webhook"]["ticket_priority"] = "Urgent"
    assert json_of(post_freshdesk(env, payload))["outcome"] == "updated"
    assert bootstrap.store().get_incident(incident_id).severity is Severity.CRITICAL
    command(incident_id, Action.RESOLVE, summary="Restarted the UPI gateway")
    after = json_of(post_freshdesk(env, payload))  # e.g. the partner's "thanks" reopens the ticket
    assert after["outcome"] == "ignored" and incident_id in after["reason"]
    assert len(bootstrap.store().list_incidents(limit=10).incidents) == 1


def test_a_pst_logged_phone_ticket_follows_the_pst_path(env):
    payload = partner_ticket(env, "freshdesk_simple_phone_ticket_by_pst.json", source=3,
                             created_by_agent="pst1@example.com")
    incident = bootstrap.store().get_incident(json_of(post_freshdesk(env, payload))["incident_id"])
    assert incident.type == "partner_technical_pst" and incident.partner.channel == "pst"
    assert incident.escalation.plan[0].roles == ["pst"]


# ---- the ticket kept in step ---------------------------------------------------------------------


def test_the_partners_ticket_carries_the_incidents_notes_and_resolution_resolves_it(env):
    payload = partner_ticket(env)
    ticket_id = payload["freshdesk_webhook"]["ticket_id"]
    incident_id = json_of(post_freshdesk(env, payload))["incident_id"]
    drain(env)
    incident = bootstrap.store().get_incident(incident_id)
    assert incident.ticket.id == ticket_id and incident.ticket.reused
    assert env.fd.ticket(ticket_id)["priority"] == 4  # critical
    command(incident_id, Action.ACKNOWLEDGE)
    command(incident_id, Action.RESOLVE, summary="Rolled back the UPI gateway to v2.14.0")
    drain(env)
    notes = note_bodies(env, ticket_id)
    assert any("Incident opened" in n for n in notes)
    assert any("acknowledged" in n.lower() for n in notes)
    assert any("Rolled back the UPI gateway to v2.14.0" in n for n in notes)
    assert all(env.fd.notes(ticket_id)[i]["private"] for i in range(len(notes)))
    assert len(notes) == len(set(notes)), "every event was delivered three times; no note twice"
    assert env.fd.ticket(ticket_id)["status"] == 4  # resolved
    assert env.fd.replies(ticket_id) == [], "nothing public unless a person writes it"
    assert env.fd.requests_to("/api/v2/tickets", method="POST") == [], "the partner's own ticket is reused"


def system_incident(title: str) -> str:
    policy = current_policy()
    alert = Alert(source="alertmanager", fingerprint=title, status=AlertStatus.FIRING, title=title,
                  labels={"alertname": title, "service": "db", "severity": "high"}, severity=Severity.HIGH,
                  starts_at=datetime.now(UTC))
    return bootstrap.store().record_alerts([classify(policy, alert)], datetime.now(UTC), policy).incident_id


def escalate_past_level_one(incident_id: str) -> None:
    """The level's hour passed without an acknowledgement: the timer callback escalates to level 2."""
    store = bootstrap.store()
    incident = store.get_incident(incident_id)
    run_due_step(incident_id, incident.escalation.step, store=store, publisher=bootstrap.publisher(),
                 chat=bootstrap.chat(), scheduler=bootstrap.scheduler(),
                 now=incident.created_at + timedelta(hours=1, seconds=1))


def test_a_system_incident_gets_a_ticket_once_it_escalates_past_the_first_level(env):
    store = bootstrap.store()
    incident_id = system_incident("Disk full on db-1")
    drain(env)
    assert env.fd.tickets == {}, "level 1 (DevOps) is not yet a tracked escalation"
    escalate_past_level_one(incident_id)
    drain(env)
    [ticket] = env.fd.tickets.values()
    assert incident_id in ticket["tags"] and ticket["priority"] == 3 and ticket["subject"].startswith(
        f"[{incident_id}]")
    assert any("Escalated" in n or "escalated" in n for n in note_bodies(env, ticket["id"]))
    assert store.get_incident(incident_id).ticket.id == ticket["id"]


def test_a_ticket_created_by_a_crashed_sync_is_found_not_created_again(env):
    store = bootstrap.store()
    incident_id = system_incident("CPU saturated")
    escalate_past_level_one(incident_id)
    # An earlier holder took the claim, created the ticket and died before recording it.
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    assert store.claim(f"freshdesk-ticket:{incident_id}", long_ago, timedelta(minutes=2))
    env.fd.create_ticket_as_partner(subject=f"[{incident_id}] CPU saturated", description="<p>x</p>",
                                    email="incidents@example.com", tags=["incident", incident_id])
    drain(env, copies=1)
    assert len(env.fd.tickets) == 1
    assert store.get_incident(incident_id).ticket is not None


def test_a_freshdesk_outage_during_a_critical_incident_delays_the_ticket_but_nothing_else(env):
    payload = partner_ticket(env)
    ticket_id = payload["freshdesk_webhook"]["ticket_id"]
    env.fd.outage(True)
    incident_id = json_of(post_freshdesk(env, payload))["incident_id"]
    command(incident_id, Action.ACKNOWLEDGE)
    drain(env)
    store = bootstrap.store()
    incident = store.get_incident(incident_id)
    assert incident.status is IncidentStatus.ACKNOWLEDGED, "the incident goes on"
    assert incident.ticket_sync_due_at is not None and "freshdesk" in (incident.ticket_error or "")
    assert env.fd.notes(ticket_id) == []
    env.fd.outage(False)
    later = datetime.now(UTC) + timedelta(minutes=5)
    for _ in range(3):  # the reconciler, three runs in a row: nothing doubled
        ticket_sync.reconcile(policy=current_policy(), store=store, client=bootstrap.ticketing(), now=later)
    notes = note_bodies(env, ticket_id)
    assert any("Incident opened" in n for n in notes) and any("acknowledged" in n.lower() for n in notes)
    assert len(notes) == len(set(notes))
    assert store.get_incident(incident_id).ticket_sync_due_at is None


def test_rate_limits_are_waited_out_and_retried_without_doubles(env):
    payload = partner_ticket(env)
    ticket_id = payload["freshdesk_webhook"]["ticket_id"]
    incident_id = json_of(post_freshdesk(env, payload))["incident_id"]
    env.fd.rate_limit_next(2, retry_after=1)
    drain(env, copies=1)
    assert bootstrap.store().get_incident(incident_id).ticket.id == ticket_id
    assert len([r for r in env.fd.requests if r.status == 429]) == 2
    assert len(note_bodies(env, ticket_id)) == len(set(note_bodies(env, ticket_id))) >= 1


def test_a_long_retry_after_defers_to_the_reconciler(env):
    payload = partner_ticket(env)
    incident_id = json_of(post_freshdesk(env, payload))["incident_id"]
    env.fd.rate_limit_next(1, retry_after=120)
    drain(env, copies=1)
    incident = bootstrap.store().get_incident(incident_id)
    assert incident.ticket_sync_due_at is not None
    assert incident.ticket_sync_due_at >= datetime.now(UTC) + timedelta(seconds=100)


# ---- Freshchat -----------------------------------------------------------------------------------


def post_freshchat(env, payload: Any, signed: bool = True):
    body = json.dumps(payload).encode()
    headers = freshchat_headers(body) if signed else {}
    return env.apps["partners"].test_client().post("/freshchat", data=body, headers=headers,
                                                   content_type="application/json")


def test_freshchat_events_are_verified_by_their_rsa_signature(env):
    payload = fixture("freshchat_message_create_user_outage.json")
    assert post_freshchat(env, payload, signed=False).status_code == 401
    body = json.dumps(payload).encode()
    tampered = env.apps["partners"].test_client().post(
        "/freshchat", data=body.replace(b"outage", b"outrage"), headers=freshchat_headers(body),
        content_type="application/json")
    assert tampered.status_code == 401 and json_of(tampered)["error"] == "invalid_signature"
    assert bootstrap.store().list_incidents(limit=5).incidents == []


def test_a_partner_chat_opens_an_incident_and_later_messages_join_its_timeline_once(env):
    first = fixture("freshchat_message_create_user_outage.json")
    incident_id = json_of(post_freshchat(env, first))["incident_id"]
    assert json_of(post_freshchat(env, fixture("freshchat_message_create_agent.json")))["outcome"] == "ignored"
    later = copy.deepcopy(first)
    later["data"]["message"]["id"] = "b1c2d3"
    later["data"]["message"]["message_parts"] = [{"text": {"content": "Still failing, 60% of payments now"}}]
    for _ in range(3):
        assert json_of(post_freshchat(env, later))["incident_id"] == incident_id
    timeline = bootstrap.store().timeline_of(incident_id, 100)
    assert [e.text for e in timeline if e.kind == "partner.message"] == [
        "Partner wrote: Still failing, 60% of payments now"]
    drain(env)
    [ticket] = env.fd.tickets.values()  # a chat has no ticket of its own: one is opened for it
    assert incident_id in ticket["tags"]
    resolution = fixture("freshchat_conversation_resolution.json")
    resolution["data"]["resolve"]["conversation"]["conversation_id"] = first["data"]["message"]["conversation_id"]
    assert json_of(post_freshchat(env, resolution))["outcome"] == "updated"


# ---- PST reminders and updates -------------------------------------------------------------------


def test_the_pst_contact_is_reminded_once_per_interval_and_their_update_reaches_the_partner(env):
    payload = partner_ticket(env)
    ticket_id = payload["freshdesk_webhook"]["ticket_id"]
    incident_id = json_of(post_freshdesk(env, payload))["incident_id"]
    drain(env)
    store = bootstrap.store()
    state = store.get_incident(incident_id).partner_updates
    assert state.round == 1 and state.interval == timedelta(minutes=30)  # critical
    due = state.next_due_at + timedelta(seconds=1)
    deps = {"policy": current_policy(), "store": store, "publisher": bootstrap.publisher(), "chat": bootstrap.chat(),
            "scheduler": bootstrap.scheduler()}
    results = [partner_updates.run_due_reminder(incident_id, 1, now=due, **deps) for _ in range(3)]
    assert results == ["reminded", "not_due", "not_due"]
    reminders = [c for c in env.slack.calls_to("chat.postMessage") if c.params.get("channel") == "U0PST00001"]
    assert len(reminders) == 1 and "time to update Kestrel Payments" in reminders[0].params["text"]
    assert "partner_update_open" in json.dumps(reminders[0].params.get("blocks"))
    response = env.apps["api"].test_client().post(
        f"/incidents/{incident_id}/partner-update", headers=bearer("test-api-token"),
        json={"actor": "PST One", "text": "The fix is rolling out; next update by 11:30 IST."})
    assert response.status_code == 200, response.get_data(as_text=True)
    drain(env)
    [reply] = env.fd.replies(ticket_id)
    assert "The fix is rolling out; next update by 11:30 IST." in reply["body_text"]
    assert store.get_incident(incident_id).partner_updates.round == 3  # reminder 2 is no longer the next one
    assert partner_updates.run_due_reminder(incident_id, 2, now=due + timedelta(minutes=31), **deps) == "not_due"


def test_a_partner_update_for_an_internal_incident_is_refused(env):
    policy, store = current_policy(), bootstrap.store()
    alert = Alert(source="grafana", fingerprint="x", status=AlertStatus.FIRING, title="Latency", labels={},
                  starts_at=datetime.now(UTC))
    incident_id = store.record_alerts([classify(policy, alert)], datetime.now(UTC), policy).incident_id
    response = env.apps["api"].test_client().post(f"/incidents/{incident_id}/partner-update",
                                                  headers=bearer("test-api-token"), json={"actor": "x", "text": "hi"})
    assert response.status_code == 400  # too short
    response = env.apps["api"].test_client().post(f"/incidents/{incident_id}/partner-update",
                                                  headers=bearer("test-api-token"),
                                                  json={"actor": "x", "text": "hello there"})
    assert response.status_code == 409 and json_of(response)["error"] == "not_a_partner_incident"


# ---- Plane ---------------------------------------------------------------------------------------


def test_a_prevention_measure_becomes_one_plane_work_item_with_its_state_on_the_incident(env):
    incident_id = json_of(post_freshdesk(env, partner_ticket(env)))["incident_id"]
    client = env.apps["api"].test_client()
    body = {"actor": "Team Lead", "title": "Circuit breaker on the UPI client", "kind": "prevention",
            "owner": "engineer-1", "due_date": "2026-12-31"}
    response = client.post(f"/incidents/{incident_id}/follow-ups", headers=bearer("test-api-token"), json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    [item] = json_of(response)["follow_ups"]
    assert item["id"] == "F1" and item["work_item"]["state_name"] == "Backlog"
    drain(env)  # the follow_up_added event: freshdesk-sync finds the item already linked
    [work_item] = env.plane.items.values()
    assert work_item["external_id"] == f"{incident_id}:F1" and work_item["target_date"] == "2026-12-31"
    assert work_item["priority"] == "urgent"
    env.plane.move(work_item["id"], "Done")
    refreshed = json_of(client.get(f"/incidents/{incident_id}/follow-ups?refresh=true",
                                   headers=bearer("test-api-token")))
    assert refreshed["follow_ups"][0]["work_item"]["state_group"] == "completed"
    assert any("Follow-up F1" in n for n in note_bodies(env, bootstrap.store().get_incident(incident_id).ticket.id))


def test_a_plane_outage_keeps_the_follow_up_and_the_reconciler_creates_it_once(env):
    incident_id = json_of(post_freshdesk(env, partner_ticket(env)))["incident_id"]
    env.plane.outage(True)
    response = env.apps["api"].test_client().post(
        f"/incidents/{incident_id}/follow-ups", headers=bearer("test-api-token"),
        json={"actor": "Team Lead", "title": "Alert on UPI debit failures"})
    assert response.status_code == 201 and json_of(response)["follow_ups"][0]["work_item"] is None
    env.plane.outage(False)
    store = bootstrap.store()
    for _ in range(3):
        followups.reconcile(policy=current_policy(), store=store, tracker=bootstrap.tracker(),
                            now=datetime.now(UTC) + timedelta(minutes=1))
    assert len(env.plane.items) == 1
    assert store.get_incident(incident_id).follow_ups[0].work_item is not None


def test_bad_follow_ups_are_refused_with_the_field(env):
    incident_id = json_of(post_freshdesk(env, partner_ticket(env)))["incident_id"]
    client = env.apps["api"].test_client()
    bad = client.post(f"/incidents/{incident_id}/follow-ups", headers=bearer("test-api-token"),
                      json={"actor": "x", "title": "ok title", "due_date": "someday"})
    assert bad.status_code == 400 and json_of(bad)["field"] == "due_date"
    nobody = client.post(f"/incidents/{incident_id}/follow-ups", headers=bearer("test-api-token"),
                         json={"actor": "x", "title": "ok title", "owner": "nobody"})
    assert nobody.status_code == 400 and "nobody" in json_of(nobody)["detail"]
    assert client.get("/incidents/INC-2026-9999/follow-ups", headers=bearer("test-api-token")).status_code == 404


def test_an_rca_prevention_measure_becomes_one_plane_work_item_linked_back(env):
    from shared.handlers.review import ensure_draft

    incident_id = json_of(post_freshdesk(env, partner_ticket(env)))["incident_id"]
    command(incident_id, Action.RESOLVE, summary="Rolled back the UPI gateway")
    incident = bootstrap.store().get_incident(incident_id)
    ensure_draft(incident, store=bootstrap.store(), rcas=bootstrap.resolution_store(), now=datetime.now(UTC))
    client, auth = env.apps["api"].test_client(), bearer("test-api-token")
    rca_id = f"RCA-{incident_id}"
    patched = client.patch(f"/rcas/{rca_id}", headers=auth, json={"actor": "Team Lead", "prevention_measures": [
        {"action": "Alert on UPI debit failure ratio above 5%", "owner": "engineer-1", "due": "2026-12-31"}]})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    for _ in range(3):  # a double click, and a retry
        response = client.post(f"/rcas/{rca_id}/measures/PM-1/plane", headers=auth, json={"actor": "Team Lead"})
        assert response.status_code == 200, response.get_data(as_text=True)
    [item] = env.plane.items.values()
    assert item["name"] == f"{incident_id} F1: Alert on UPI debit failure ratio above 5%"
    assert item["target_date"] == "2026-12-31" and item["external_id"] == f"{incident_id}:F1"
    [measure] = json_of(response)["prevention_measures"]
    assert measure["link"] and item["id"] in measure["link"]
    follow_up = bootstrap.store().get_incident(incident_id).follow_ups[0]
    assert (follow_up.owner, follow_up.kind, follow_up.work_item.id) == ("engineer-1", "prevention", item["id"])
    missing = client.post(f"/rcas/{rca_id}/measures/PM-9/plane", headers=auth, json={"actor": "x"})
    assert missing.status_code == 404 and "PM-9" in json_of(missing)["detail"]
