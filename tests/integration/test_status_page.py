"""The status page through functions-framework on the real emulators: api -> incident-events -> status-update
-> Firestore -> status, with a real SMTP server (aiosmtpd) and a webhook receiver on loopback.

Events the functions publish are pulled from the Pub/Sub emulator and delivered the way Eventarc does.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

import functions.main  # noqa: F401
from local.emulators import free_port
from local.resources import create_queues
from shared.domain.incident import EventType
from shared.handlers.status_site import CACHE
from shared.messages import decode_event
from shared.topology import TOPIC_INCIDENT_EVENTS
from tests.integration.helpers import bearer, cloud_event, function_app, json_of, pull_messages, set_env
from tests.statuspage_shapes import validate_document

pytestmark = pytest.mark.integration
API = bearer("test-api-token")
DOCS = ("summary.json", "status.json", "components.json", "incidents.json", "incidents/unresolved.json",
        "scheduled-maintenances.json", "scheduled-maintenances/upcoming.json", "scheduled-maintenances/active.json")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(BytesParser(policy=default_policy).parsebytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if address in m["To"]]


class Hooks(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.append({"path": self.path, "body": json.loads(body), "type": self.headers["Content-Type"]})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return {name: function_app(name) for name in ("api", "status", "status-update")}


@pytest.fixture
def inbox(project: str, topics: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    set_env(monkeypatch, SMTP_URL=f"smtp://127.0.0.1:{port}?from=status@example.com", STATUS_CACHE_SECONDS="0")
    create_queues(project, "asia-south1")  # resolving a high incident sets its review timers
    CACHE.clear()
    yield box
    controller.stop()


@pytest.fixture
def hooks() -> Iterator[str]:
    Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def api(apps, method: str, path: str, body: Any = None, **headers: str):
    return apps["api"].test_client().open(path, method=method, json=body, headers={**API, **headers})


def report(apps, title: str, severity: str, service: str, type_: str = "system_alert") -> str:
    response = api(apps, "POST", "/incidents", {"title": title, "description": f"internal detail of {title}",
                                                "severity": severity, "service": service, "type": type_,
                                                "reporter": "priya"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return json_of(response)["incident"]["id"]


def drain(apps, project: str, rounds: int = 6) -> list[Any]:
    """Deliver every incident event to status-update (and what that publishes, in turn)."""
    delivered = []
    for _ in range(rounds):
        messages = pull_messages(project, TOPIC_INCIDENT_EVENTS, expect=0, timeout=0.5)
        if not messages:
            break
        for message in messages:
            deliver(apps, project, message)
            delivered.append(message)
    return delivered


def deliver(apps, project: str, message: Any):
    event = cloud_event(message.data, project=project, topic=TOPIC_INCIDENT_EVENTS, message_id=message.message_id)
    response = apps["status-update"].test_client().post("/", **event)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def doc(apps, name: str) -> dict[str, Any]:
    response = apps["status"].test_client().get(f"/api/v2/{name}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return json_of(response)


def component(apps, cid: str) -> dict[str, Any]:
    return next(c for c in doc(apps, "components.json")["components"] if c["id"] == cid)


def every_public_output(apps) -> str:
    client = apps["status"].test_client()
    parts = [client.get("/").get_data(as_text=True), client.get("/history.atom").get_data(as_text=True)]
    parts += [client.get(f"/api/v2/{name}").get_data(as_text=True) for name in DOCS]
    return "\n".join(parts)


def test_a_critical_incident_gets_a_neutral_default_and_moves_its_component(apps, project, inbox):
    incident_id = report(apps, "Kafka consumer lag on orders-svc pod-7", "critical", "trading")
    drain(apps, project)
    summary = doc(apps, "summary.json")
    validate_document("summary.json", summary)
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    trading = next(c for c in summary["components"] if c["id"] == "trading")
    assert trading["status"] == "major_outage" and trading["group_id"] == "investing"
    group = next(c for c in summary["components"] if c["id"] == "investing")
    assert group["group"] is True and group["status"] == "major_outage" and "trading" in group["components"]
    [incident] = summary["incidents"]
    assert incident["name"] == "A major outage of Trading"
    assert incident["impact"] == "critical" and incident["status"] == "investigating"
    [update] = incident["incident_updates"]
    assert update["body"].startswith("We are investigating a major outage of Trading.")
    assert update["affected_components"] == [{"code": "trading", "name": "Trading", "old_status": "operational",
                                              "new_status": "major_outage"}]
    assert "Kafka" not in every_public_output(apps) and incident_id not in every_public_output(apps)
    timeline = json_of(api(apps, "GET", f"/incidents/{incident_id}"))["timeline"]
    assert [e["text"] for e in timeline if e["kind"] == "status_page.updated"] == [
        f"Status page updated (investigating): {update['body']}"]


def test_duplicate_and_concurrent_events_change_the_page_once(apps, project, inbox):
    report(apps, "disk full", "high", "web")
    messages = pull_messages(project, TOPIC_INCIDENT_EVENTS, expect=1)
    with ThreadPoolExecutor(4) as pool:  # the same event three times, at once, then again later
        list(pool.map(lambda m: deliver(apps, project, m), messages * 3))
    for message in messages:
        deliver(apps, project, message)
    drain(apps, project)
    [incident] = doc(apps, "incidents.json")["incidents"]
    assert len(incident["incident_updates"]) == 1
    assert component(apps, "web-app")["status"] == "partial_outage"


def test_concurrent_people_updates_on_many_incidents_are_all_kept(apps, project, inbox):
    ids = [report(apps, f"issue {i}", "medium", "mf") for i in range(6)]
    drain(apps, project)
    assert component(apps, "mutual-funds")["status"] == "degraded_performance"
    assert doc(apps, "incidents.json")["incidents"] == []  # medium: the component moves, nothing is written

    def publish(i_id: str) -> int:
        return api(apps, "POST", f"/incidents/{i_id}/status-updates", {
            "actor": "priya", "body": f"Slow NAV pages ({i_id[-1]})", "status": "identified"}).status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(publish, ids)) == [201] * 6
    incidents = doc(apps, "incidents/unresolved.json")["incidents"]
    assert sorted(i["incident_updates"][0]["body"] for i in incidents) == sorted(
        f"Slow NAV pages ({i[-1]})" for i in ids)


def test_a_person_updates_then_the_incident_resolves(apps, project, inbox):
    incident_id = report(apps, "gateway 502s", "high", "api-gateway")
    drain(apps, project)
    response = api(apps, "POST", f"/incidents/{incident_id}/status-updates", {
        "actor": "priya", "body": "A faulty release is being rolled back.", "status": "identified",
        "name": "Errors on the partner APIs", "components": {"apis": "major_outage"}},
        **{"Idempotency-Key": "upd-0001-abc"})
    assert response.status_code == 201, response.get_data(as_text=True)
    again = api(apps, "POST", f"/incidents/{incident_id}/status-updates", {
        "actor": "priya", "body": "A faulty release is being rolled back.", "status": "identified",
        "name": "Errors on the partner APIs", "components": {"apis": "major_outage"}},
        **{"Idempotency-Key": "upd-0001-abc"})
    assert again.status_code == 201
    [incident] = doc(apps, "incidents/unresolved.json")["incidents"]
    assert incident["name"] == "Errors on the partner APIs" and incident["status"] == "identified"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    assert component(apps, "apis")["status"] == "major_outage"
    resolved = api(apps, "POST", f"/incidents/{incident_id}/resolve", {"actor": "lead", "summary": "rolled back"})
    assert resolved.status_code == 200, resolved.get_data(as_text=True)
    drain(apps, project)
    assert doc(apps, "incidents/unresolved.json")["incidents"] == []
    [incident] = doc(apps, "incidents.json")["incidents"]
    assert incident["status"] == "resolved" and incident["resolved_at"] and incident["impact"] == "critical"
    assert incident["incident_updates"][0]["body"].startswith("This incident has been resolved.")
    assert component(apps, "apis")["status"] == "operational"
    assert doc(apps, "status.json")["status"]["indicator"] == "none"
    for name in DOCS:
        validate_document(name, doc(apps, name))


def test_a_security_incident_shows_only_what_a_person_published(apps, project, inbox, hooks):
    api_sub = apps["status"].test_client().post("/subscribe", json={"webhook": hooks})
    assert api_sub.status_code == 201
    secret_words = ["Brute force from 203.0.113.7", "SSH login storm", "auth-svc-canary", "attacker"]
    incident_id = report(apps, f"{secret_words[0]} on {secret_words[2]}", "critical", "trading",
                         type_="system_security")
    drain(apps, project)
    assert doc(apps, "summary.json")["incidents"] == []
    assert component(apps, "trading")["status"] == "operational"  # nothing automatic at all
    response = api(apps, "POST", f"/incidents/{incident_id}/status-updates", {
        "actor": "cto", "body": "Some customers may be unable to log in. We are working on it.",
        "status": "investigating", "components": {"trading": "partial_outage"}})
    assert response.status_code == 201
    drain(apps, project)
    [incident] = doc(apps, "summary.json")["incidents"]
    assert incident["name"] == "A partial outage of Trading"
    assert [u["body"] for u in incident["incident_updates"]] == [
        "Some customers may be unable to log in. We are working on it."]
    api(apps, "POST", f"/incidents/{incident_id}/resolve", {"actor": "lead", "summary": secret_words[1]})
    drain(apps, project)
    [incident] = doc(apps, "incidents.json")["incidents"]
    assert incident["status"] == "resolved" and len(incident["incident_updates"]) == 1  # no automatic text
    public = every_public_output(apps) + json.dumps(Hooks.received)
    public += "".join(m.get_content() for m in inbox.messages)
    for word in [*secret_words, "internal detail", incident_id, "system_security", "security"]:
        assert word not in public, word
    assert len(Hooks.received) == 1


def test_email_double_opt_in_then_exactly_one_mail_per_update(apps, project, inbox, hooks):
    client = apps["status"].test_client()
    assert client.post("/subscribe", data={"email": "reader@example.com", "components": ["trading"]}).status_code \
        == 202
    assert client.post("/subscribe", json={"email": "reader@example.com"}).status_code == 429  # resend too soon
    assert client.post("/subscribe", json={"webhook": hooks, "components": ["web-app"]}).status_code == 201
    [confirmation] = inbox.to("reader@example.com")
    link = re.search(r"http\S+/subscribe/confirm\?token=(\S+)", confirmation.get_content())
    incident_id = report(apps, "orders stuck", "critical", "orders")
    drain(apps, project)
    assert inbox.to("reader@example.com") == [confirmation]  # not confirmed yet: nothing sent
    confirmed = client.get(f"/subscribe/confirm?token={link[1]}")
    assert confirmed.status_code == 200 and "Subscription confirmed" in confirmed.get_data(as_text=True)
    api(apps, "POST", f"/incidents/{incident_id}/status-updates", {
        "actor": "priya", "body": "Orders are queued and will be placed.", "status": "monitoring"})
    events = drain(apps, project)
    status_events = [m for m in events if decode_event(m.data).type is EventType.STATUS_PAGE_UPDATED]
    assert len(status_events) == 1  # the person's update (the default went out before the confirmation)
    for message in status_events:  # redelivered: nobody is told twice
        deliver(apps, project, message)
    mails = inbox.to("reader@example.com")[1:]
    assert len(mails) == 1, [m["Subject"] for m in mails]
    text = mails[0].get_content()
    assert "Orders are queued and will be placed." in text and "Monitoring" in text and "/unsubscribe?token=" in text
    assert Hooks.received == []  # the webhook chose web-app only
    unsubscribe = re.search(r"http\S+/unsubscribe\?token=(\S+)", text)[1]
    assert client.get(f"/unsubscribe?token={unsubscribe}").status_code == 200
    assert client.get(f"/unsubscribe?token={unsubscribe}").status_code == 200  # a second click is fine
    api(apps, "POST", f"/incidents/{incident_id}/status-updates", {
        "actor": "priya", "body": "All orders placed.", "status": "resolved"})
    drain(apps, project)
    assert len(inbox.to("reader@example.com")) == 2


def test_webhook_notifications_have_statuspage_shape(apps, project, inbox, hooks):
    client = apps["status"].test_client()
    assert client.post("/subscribe", json={"webhook": hooks, "components": ["trading"]}).status_code == 201
    report(apps, "broker down", "critical", "broking")
    drain(apps, project)
    [hook] = Hooks.received
    body = hook["body"]
    assert hook["type"] == "application/json"
    assert set(body) == {"meta", "page", "incident"}
    assert body["page"]["status_indicator"] == "critical"
    assert body["meta"]["unsubscribe"].startswith("http") and "token=" in body["meta"]["unsubscribe"]
    assert body["incident"]["incident_updates"][0]["body"].startswith("We are investigating a major outage")


def test_subscription_input_errors_are_clear_4xx(apps, project, inbox):
    client = apps["status"].test_client()
    cases = [
        ({"json": {}}, 400, "email"),
        ({"json": {"email": "not-an-address"}}, 400, "email"),
        ({"json": {"email": "a@example.com", "webhook": "https://x.example"}}, 400, None),
        ({"json": {"email": "a@example.com", "components": ["nope"]}}, 400, "components"),
        ({"json": {"webhook": "ftp://example.com/x"}}, 400, "webhook"),
        ({"json": {"email": "a@example.com", "extra": 1}}, 400, "extra"),
        ({"data": "x", "content_type": "text/plain"}, 415, None),
        ({"data": "{", "content_type": "application/json"}, 400, None),
    ]
    for kwargs, status, field in cases:
        response = client.post("/subscribe", **kwargs)
        assert response.status_code == status, (kwargs, response.get_data(as_text=True))
        if "json" in kwargs and field:
            assert json_of(response)["field"] == field
    html = client.post("/subscribe", data={"email": "nope"})
    assert html.status_code == 400 and "text/html" in html.content_type
    assert "not an email" in html.get_data(as_text=True)
    assert client.get("/subscribe/confirm?token=garbage").status_code == 400
    assert client.get("/subscribe/confirm?token=" + "a" * 24 + "." + "b" * 32).status_code == 400
    assert client.get("/subscribe").status_code == 405


def test_caching_headers_etag_and_304(apps, project, inbox):
    client = apps["status"].test_client()
    for path in ("/", "/api/v2/summary.json", "/history.atom"):
        first = client.get(path)
        assert first.status_code == 200
        assert first.headers["Cache-Control"] == "public, max-age=30"
        etag = first.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    report(apps, "down", "critical", "web")
    drain(apps, project)
    assert client.get("/api/v2/summary.json", headers={"If-None-Match": etag}).status_code == 200
    assert client.post("/api/v2/summary.json").status_code == 405
    assert client.get("/api/v2/nope.json").status_code == 404


def test_scheduled_maintenance_is_announced_and_runs(apps, project, inbox):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    later = api(apps, "POST", "/status/maintenances", {
        "actor": "ops", "name": "Database upgrade", "body": "Trading will be read-only.",
        "scheduled_for": (now + timedelta(hours=2)).isoformat(),
        "scheduled_until": (now + timedelta(hours=3)).isoformat(),
        "components": ["trading"]})
    assert later.status_code == 201, later.get_data(as_text=True)
    running = api(apps, "POST", "/status/maintenances", {
        "actor": "ops", "name": "Portal deploy", "body": "Short interruptions.",
        "scheduled_for": (now - timedelta(minutes=5)).isoformat(),
        "scheduled_until": (now + timedelta(hours=1)).isoformat(), "components": ["partner-portal"]})
    assert running.status_code == 201
    assert doc(apps, "scheduled-maintenances/upcoming.json")["scheduled_maintenances"][0]["name"] == "Database upgrade"
    [active] = doc(apps, "scheduled-maintenances/active.json")["scheduled_maintenances"]
    assert active["name"] == "Portal deploy" and active["status"] == "in_progress"
    assert component(apps, "partner-portal")["status"] == "under_maintenance"
    assert doc(apps, "status.json")["status"]["indicator"] == "maintenance"
    mid = json_of(running)["maintenance_id"]
    done = api(apps, "POST", f"/status/maintenances/{mid}/updates", {"actor": "ops", "status": "completed",
                                                                      "body": "Done."})
    assert done.status_code == 200
    assert component(apps, "partner-portal")["status"] == "operational"
    bad = api(apps, "POST", "/status/maintenances", {
        "actor": "ops", "name": "Backwards", "body": "x", "scheduled_for": now.isoformat(),
        "scheduled_until": (now - timedelta(hours=1)).isoformat(), "components": ["trading"]})
    assert bad.status_code == 400 and json_of(bad)["field"] == "scheduled_until"
    unknown = api(apps, "POST", "/incidents/INC-2026-9999/status-updates", {"actor": "a", "body": "b",
                                                                             "status": "identified"})
    assert unknown.status_code == 404


def test_a_person_publishes_from_slack_and_strangers_cannot(apps, project, inbox, monkeypatch):
    from tests.integration.test_slack_function import SECRET, slash

    set_env(monkeypatch, SLACK_SIGNING_SECRET=SECRET)
    slack = function_app("slack").test_client()
    incident_id = report(apps, "queue backlog", "medium", "mobile")
    drain(apps, project)
    answer = slash(slack, f"status-update {incident_id} identified Push notifications are delayed.",
                   user_id="U0DEVOPS01")
    assert answer.status_code == 200
    assert json_of(answer)["text"].startswith(f"Published on the status page for {incident_id} (identified)")
    [incident] = doc(apps, "incidents/unresolved.json")["incidents"]
    assert incident["incident_updates"][0]["body"] == "Push notifications are delayed."
    assert incident["status"] == "identified"
    assert slash(slack, f"status-update {incident_id} identified again", user_id="U0DEVOPS01",
                 trigger_id="13345224609.738474920.8088930838d88f008e0").status_code == 200
    assert len(doc(apps, "incidents.json")["incidents"][0]["incident_updates"]) == 1  # same trigger: once
    stranger = slash(slack, f"status-update {incident_id} We are fine", user_id="U0STRANGER",
                     trigger_id="1.2.other")
    assert "Only people listed in the incident policy" in json_of(stranger)["text"]
    short = slash(slack, f"status-update {incident_id} identified", user_id="U0DEVOPS01", trigger_id="1.2.3")
    assert "write the public text" in json_of(short)["text"]
    assert "status-update" in json_of(slash(slack, "help", user_id="U0DEVOPS01"))["text"]


def test_the_openapi_document_lists_the_status_routes(apps, project):
    doc = json_of(apps["api"].test_client().get("/openapi.json"))
    assert {"/incidents/{incident_id}/status-updates", "/status/maintenances",
            "/status/maintenances/{maintenance_id}/updates"} <= set(doc["paths"])
    schema = doc["components"]["schemas"]["StatusUpdateRequest"]
    assert set(schema["required"]) == {"actor", "body", "status"}


def test_head_requests_and_a_malformed_status_event(apps, project, inbox):
    head = apps["status"].test_client().head("/api/v2/status.json")
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"]
    from shared.domain.incident import IncidentEvent

    bad = IncidentEvent(event_id="x:status:1", type=EventType.STATUS_PAGE_UPDATED, incident_id="INC-2026-0001",
                        at="2026-12-04T10:00:00Z", data={"nonsense": True})
    response = apps["status-update"].test_client().post("/", **cloud_event(
        bad.model_dump_json().encode(), project=project, topic=TOPIC_INCIDENT_EVENTS))
    assert response.status_code == 200  # acknowledged and logged: a redelivery would fail the same way


def test_events_of_many_incidents_at_once_all_reach_the_page(apps, project, inbox):
    services = ["web", "mobile", "trading", "mf", "partner-portal", "api"]
    for service in services:
        report(apps, f"{service} broken", "critical", service)
    messages = pull_messages(project, TOPIC_INCIDENT_EVENTS, expect=len(services))
    with ThreadPoolExecutor(6) as pool:  # every OPENED event at once: one transaction each on the same page
        list(pool.map(lambda m: deliver(apps, project, m), messages))
    drain(apps, project)
    assert len(doc(apps, "incidents/unresolved.json")["incidents"]) == len(services)
    assert {c["status"] for c in doc(apps, "components.json")["components"]} == {"major_outage"}


class Refusing(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self):  # noqa: N802
        Refusing.calls += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(410)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_refusing_webhook_does_not_stop_the_others(apps, project, inbox, hooks):
    Refusing.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = apps["status"].test_client()
        assert client.post("/subscribe", json={"webhook": f"http://127.0.0.1:{server.server_port}/gone"}
                           ).status_code == 201
        assert client.post("/subscribe", json={"webhook": hooks}).status_code == 201
        report(apps, "down", "high", "trading")
        events = drain(apps, project)
        assert Refusing.calls == 1 and len(Hooks.received) == 1  # 410 is final: not retried, not blocking
        for message in events:  # redelivery: the refused one is not tried again either
            deliver(apps, project, message)
        assert Refusing.calls == 1 and len(Hooks.received) == 1
    finally:
        server.shutdown()


def test_a_pubsub_outage_loses_no_notification(apps, project, inbox, hooks, monkeypatch, emulator_hosts):
    from datetime import UTC, datetime, timedelta

    from shared import bootstrap
    from shared.handlers.escalation import STALE_AFTER
    from shared.handlers.events import flush_pending
    from tests.integration.helpers import closed_host

    assert apps["status"].test_client().post("/subscribe", json={"webhook": hooks}).status_code == 201
    incident_id = report(apps, "slow", "medium", "trading")
    drain(apps, project)
    set_env(monkeypatch, PUBSUB_EMULATOR_HOST=closed_host(), PUBLISH_TIMEOUT_SECONDS="1")
    response = api(apps, "POST", f"/incidents/{incident_id}/status-updates", {
        "actor": "priya", "body": "Charts load slowly.", "status": "identified"})
    assert response.status_code == 201  # the update stands; its event waits in the outbox
    assert doc(apps, "incidents/unresolved.json")["incidents"][0]["incident_updates"][0]["body"] == \
        "Charts load slowly."
    set_env(monkeypatch, PUBSUB_EMULATOR_HOST=emulator_hosts.pubsub, PUBLISH_TIMEOUT_SECONDS=None)
    assert drain(apps, project) == [] and Hooks.received == []
    later = datetime.now(UTC) + timedelta(minutes=2)  # the reconciler's outbox step, as it runs every few minutes
    stale = bootstrap.store().stale_outbox_incidents(later - STALE_AFTER)
    assert stale == [incident_id]
    assert sum(flush_pending(i, bootstrap.store(), bootstrap.publisher()) for i in stale) == 1
    drain(apps, project)
    assert [h["body"]["incident"]["incident_updates"][0]["body"] for h in Hooks.received] == ["Charts load slowly."]
