"""ingest -> alerts -> classify -> incident-events -> notify -> Slack, and the REST API, through functions-framework.

What ingest publishes is pulled from the real Pub/Sub emulator and delivered to the CloudEvent functions the
way Eventarc does (a messagePublished CloudEvent); state lives in the real Firestore emulator; Slack is
FakeSlack over HTTP.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import functions.main  # noqa: F401  (installs the JSON log handler before caplog attaches its own)
from shared import bootstrap
from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain.incident import EventType, IncidentStatus
from shared.domain.model import Severity
from shared.domain.responders import first_responders
from shared.messages import decode_alert_batch, decode_event
from shared.topology import TOPIC_ALERTS, TOPIC_INCIDENT_EVENTS
from tests.fakes.slack_api import FakeSlack
from tests.integration.helpers import (
    POLICY_CHANNELS,
    bearer,
    closed_host,
    cloud_event,
    function_app,
    incident_posts,
    json_of,
    payload_bytes,
    pull_messages,
    set_env,
)

pytestmark = pytest.mark.integration

POLICY = load_policy(DEFAULT_POLICY_PATH)
INGEST_AUTH = bearer("test-ingest-token")
API_AUTH = bearer("test-api-token")


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return {name: function_app(name) for name in ("ingest", "classify", "notify", "api")}


@pytest.fixture
def slack(project: str, topics: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        set_env(monkeypatch, SLACK_BOT_TOKEN=fake.token, SLACK_API_URL=fake.base_url)
        yield fake


def ingest(apps, project: str, fixture: str, path: str) -> Any:
    response = apps["ingest"].test_client().post(path, data=payload_bytes(fixture), headers=INGEST_AUTH,
                                                 content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    [message] = pull_messages(project, TOPIC_ALERTS, expect=1)
    return message


def deliver(app, project: str, topic: str, message: Any, **options: Any):
    """POST the Pub/Sub message to a CloudEvent function as Eventarc does; redeliveries keep the message id."""
    event = cloud_event(message.data, project=project, topic=topic, message_id=message.message_id,
                        attributes=dict(message.attributes), **options)
    return app.test_client().post("/", **event)


def classify(apps, project: str, message: Any, **options: Any) -> list[Any]:
    """Deliver an alerts message to classify; return what it published on incident-events."""
    response = deliver(apps["classify"], project, TOPIC_ALERTS, message, **options)
    assert response.status_code == 200, response.get_data(as_text=True)
    return pull_messages(project, TOPIC_INCIDENT_EVENTS, expect=0, timeout=1)


def notify(apps, project: str, message: Any, **options: Any):
    return deliver(apps["notify"], project, TOPIC_INCIDENT_EVENTS, message, **options)


def only_incident():
    incidents = bootstrap.store().list_incidents(limit=50).incidents
    assert len(incidents) == 1, [i.id for i in incidents]
    return incidents[0]


# -- the pipeline ------------------------------------------------------------------------------------------


def test_an_alert_becomes_one_incident_and_one_page_in_the_policy_channel(apps, project, slack):
    message = ingest(apps, project, "grafana_firing", "/grafana")
    [alert] = decode_alert_batch(message.data).alerts

    events = classify(apps, project, message)

    incident = only_incident()
    assert (incident.severity, incident.type, incident.source) == (Severity.CRITICAL, "system_alert", "grafana")
    assert incident.title == alert.title and incident.status is IncidentStatus.OPEN
    assert [decode_event(e.data).type for e in events] == [EventType.OPENED]
    assert {decode_event(e.data).incident_id for e in events} == {incident.id}
    assert bootstrap.store().alert_counts(incident.id) == (1, 1)

    for event in events:
        response = notify(apps, project, event)
        assert response.status_code == 200, response.get_data(as_text=True)

    [post] = incident_posts(slack)
    assert post.ok and post.params["channel"] == POLICY.channels["critical"].id == "C0CRITICAL1"
    responders = first_responders(POLICY, incident)
    shown = json.dumps(post.params["blocks"])
    assert responders.mentions and all(mention in shown for mention in responders.mentions)
    assert {"<!subteam^S0DEVOPS01>", "<@U0PRODMGR1>", "<@U0CTO00001>"} <= set(responders.mentions)
    assert incident.id in post.params["text"]
    assert slack.problems == []
    stored = bootstrap.store().get_incident(incident.id)
    assert (stored.slack_channel, stored.slack_ts) == (post.response["channel"], post.response["ts"])
    assert "page.sent" in [t.kind for t in bootstrap.store().timeline_of(incident.id, 50)]


def test_three_deliveries_of_the_same_messages_give_one_incident_and_one_page(apps, project, slack):
    """Invariants 2 and 3: Pub/Sub delivers at least once; the effects happen once."""
    message = ingest(apps, project, "grafana_firing", "/grafana")
    events = []
    for _ in range(3):
        events += classify(apps, project, message)
    incident = only_incident()
    assert bootstrap.store().alert_counts(incident.id) == (1, 1)
    assert len({decode_event(e.data).event_id for e in events}) == len(events) == 1

    for _ in range(3):
        for event in events:
            response = notify(apps, project, event)
            assert response.status_code == 200, response.get_data(as_text=True)

    [post] = incident_posts(slack)
    updates = slack.calls_to("chat.update")
    assert len(updates) >= 2 and all(u.ok and u.params["ts"] == post.response["ts"] for u in updates)
    assert len([key for key in slack.messages if key[0] in POLICY_CHANNELS]) == 1
    assert slack.problems == []
    assert only_incident().id == incident.id


def test_concurrent_deliveries_of_the_first_event_post_once(apps, project, slack):
    """Invariant 3 under concurrency: a delivery that finds the page in progress fails (is retried), never posts."""
    events = classify(apps, project, ingest(apps, project, "grafana_firing", "/grafana"))
    [event] = events

    with ThreadPoolExecutor(3) as pool:
        statuses = [r.status_code for r in pool.map(lambda _: notify(apps, project, event), range(3))]
    assert set(statuses) <= {200, 500}, statuses
    for status in statuses:
        if status != 200:  # Pub/Sub redelivers what was not acknowledged
            assert notify(apps, project, event).status_code == 200

    assert len([key for key in slack.messages if key[0] in POLICY_CHANNELS]) == 1 and slack.problems == []
    assert len([key for key in slack.messages if key[0] in POLICY_CHANNELS]) == 1 and slack.problems == []


def test_the_resolved_alert_updates_the_same_incident_and_message(apps, project, slack):
    for event in classify(apps, project, ingest(apps, project, "grafana_firing", "/grafana")):
        assert notify(apps, project, event).status_code == 200
    incident = only_incident()

    events = classify(apps, project, ingest(apps, project, "grafana_resolved", "/grafana"))

    assert only_incident().id == incident.id
    assert bootstrap.store().alert_counts(incident.id) == (0, 1)
    assert events and {decode_event(e.data).incident_id for e in events} == {incident.id}
    for event in events:
        assert notify(apps, project, event).status_code == 200
    [post] = incident_posts(slack)
    assert slack.calls_to("chat.update")
    message = slack.messages[(post.response["channel"], post.response["ts"])]
    # critical: when every alert resolves, the owner decides (policy when_all_alerts_resolve: notify_owner)
    assert "Every alert has resolved" in json.dumps(message["blocks"])
    assert only_incident().status is IncidentStatus.OPEN
    assert slack.problems == []


def test_structured_mode_cloud_events_are_handled_too(apps, project, slack):
    events = classify(apps, project, ingest(apps, project, "alertmanager_firing", "/alertmanager"), structured=True)
    for event in events:
        assert notify(apps, project, event, structured=True).status_code == 200
    incident = only_incident()
    [post] = incident_posts(slack)
    assert post.params["channel"] == first_responders(POLICY, incident).channel_id
    assert slack.problems == []


# -- messages that can never be processed ---------------------------------------------------------------


def envelope(data: str | None = None, **message: Any) -> dict[str, Any]:
    body = {"messageId": "m-1", **message}
    if data is not None:
        body["data"] = data
    return {"message": body, "subscription": "projects/p/subscriptions/s"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


UNDECODABLE = [
    pytest.param(envelope("!!! not base64 !!!"), id="bad-base64"),
    pytest.param(envelope(b64("not json at all")), id="not-json"),
    pytest.param(envelope(b64('{"alerts": 5, "type": "incident.opened"}')), id="wrong-shape"),
    pytest.param(envelope(b64("[]")), id="json-array"),
    pytest.param(envelope(), id="no-data"),
    pytest.param({"subscription": "projects/p/subscriptions/s"}, id="no-message"),
    pytest.param({"message": "a string"}, id="message-not-object"),
    pytest.param(["not", "an", "object"], id="data-not-object"),
]


@pytest.mark.parametrize(("function", "log_message"), [
    ("classify", "undecodable message dropped"),
    ("notify", "undecodable message dropped"),
])
@pytest.mark.parametrize("body", UNDECODABLE)
def test_an_undecodable_message_is_acknowledged_and_logged(apps, project, slack, caplog, function, log_message,
                                                          body):
    with caplog.at_level(logging.INFO):
        response = apps[function].test_client().post(
            "/", **cloud_event(b"", project=project, topic="t", message_id="m-1", envelope=body))

    assert response.status_code == 200, response.get_data(as_text=True)  # acknowledged: not redelivered forever
    [record] = [r for r in caplog.records if r.getMessage() == log_message]
    assert record.levelno == logging.ERROR and record.message_id == "m-1" and record.error
    assert bootstrap.store().list_incidents(limit=5).incidents == []
    assert slack.calls == []


def test_an_event_for_an_unknown_incident_is_acknowledged_without_posting(apps, project, slack):
    event = json.dumps({"event_id": "INC-2026-9999:opened", "type": "incident.opened",
                        "incident_id": "INC-2026-9999", "at": "2026-06-10T06:12:00Z"}).encode()
    response = apps["notify"].test_client().post(
        "/", **cloud_event(event, project=project, topic=TOPIC_INCIDENT_EVENTS))
    assert response.status_code == 200
    assert slack.calls == []


# -- the REST API ---------------------------------------------------------------------------------------------


@pytest.fixture
def api(apps, project, topics):
    return apps["api"].test_client()


REPORT = {"title": "Partners cannot log in", "description": "Login returns 502 for all partners since 11:40",
          "severity": "high", "service": "partner-portal", "reporter": "alice@example.com"}


def test_a_manual_report_is_created_with_an_inc_id_and_its_detail(api, project):
    response = api.post("/incidents", json=REPORT, headers=API_AUTH)

    assert response.status_code == 201, response.get_data(as_text=True)
    detail = json_of(response)
    incident = detail["incident"]
    assert incident["id"].startswith("INC-") and incident["title"] == REPORT["title"]
    assert (incident["severity"], incident["type"], incident["source"]) == ("high", "system_alert", "manual")
    assert response.headers["Location"].endswith(f"/incidents/{incident['id']}")
    assert (detail["alerts_firing"], detail["alerts_total"]) == (1, 1)
    assert [a["source"] for a in detail["alerts"]] == ["manual"]
    assert detail["alerts"][0]["labels"]["reporter"] == "alice@example.com"
    assert "incident.opened" in [t["kind"] for t in detail["timeline"]]
    [event] = pull_messages(project, TOPIC_INCIDENT_EVENTS, expect=1)
    assert decode_event(event.data).incident_id == incident["id"]


def test_the_same_idempotency_key_twice_returns_the_same_incident(api, project):
    headers = {**API_AUTH, "Idempotency-Key": "report-2026-06-10-0001"}
    first = api.post("/incidents", json=REPORT, headers=headers)
    second = api.post("/incidents", json=REPORT, headers=headers)
    other = api.post("/incidents", json=REPORT, headers={**API_AUTH, "Idempotency-Key": "report-2026-06-10-0002"})

    assert first.status_code == second.status_code == other.status_code == 201
    assert json_of(first)["incident"]["id"] == json_of(second)["incident"]["id"] != json_of(other)["incident"]["id"]
    listed = json_of(api.get("/incidents", headers=API_AUTH))["incidents"]
    assert sorted(i["id"] for i in listed) == sorted({json_of(r)["incident"]["id"] for r in (first, other)})
    assert json_of(second)["alerts_total"] == 1


def test_a_report_made_while_pubsub_is_down_is_kept_and_announced_on_retry(api, project, emulator_hosts, monkeypatch):
    headers = {**API_AUTH, "Idempotency-Key": "report-during-outage-1"}
    set_env(monkeypatch, PUBSUB_EMULATOR_HOST=closed_host(), PUBLISH_TIMEOUT_SECONDS="1")
    down = api.post("/incidents", json=REPORT, headers=headers)
    assert down.status_code == 503 and down.headers["Retry-After"]
    assert "Idempotency-Key" in json_of(down)["detail"]
    set_env(monkeypatch, PUBSUB_EMULATOR_HOST=emulator_hosts.pubsub)
    retried = api.post("/incidents", json=REPORT, headers=headers)
    assert retried.status_code == 201
    incident_id = json_of(retried)["incident"]["id"]
    assert json_of(down)["detail"].startswith(incident_id)
    [event] = pull_messages(project, TOPIC_INCIDENT_EVENTS, expect=1)
    assert decode_event(event.data).incident_id == incident_id
    assert bootstrap.store().pending_events(incident_id) == []


def test_list_and_get_incidents(api, project):
    created = json_of(api.post("/incidents", json=REPORT, headers=API_AUTH))["incident"]

    listed = api.get("/incidents", headers=API_AUTH)
    assert listed.status_code == 200
    body = json_of(listed)
    assert [i["id"] for i in body["incidents"]] == [created["id"]] and body["next_cursor"] is None
    assert [i["id"] for i in json_of(api.get("/incidents?severity=high&status=open", headers=API_AUTH))[
        "incidents"]] == [created["id"]]
    assert json_of(api.get("/incidents?status=resolved", headers=API_AUTH))["incidents"] == []

    detail = api.get(f"/incidents/{created['id']}", headers=API_AUTH)
    assert detail.status_code == 200
    body = json_of(detail)
    assert body["incident"]["id"] == created["id"]
    assert [a["title"] for a in body["alerts"]] == [REPORT["title"]]
    assert body["timeline"] and all({"at", "kind", "text"} <= set(t) for t in body["timeline"])

    missing = api.get("/incidents/INC-2026-9999", headers=API_AUTH)
    assert missing.status_code == 404 and json_of(missing)["error"] == "not_found"


@pytest.mark.parametrize(("query", "field"), [
    ("status=closed", "status"), ("severity=urgent", "severity"), ("type=nope", "type"), ("limit=0", "limit"),
    ("limit=many", "limit"), ("limit=201", "limit"),
])
def test_bad_list_filters_are_400_naming_the_parameter(api, project, query, field):
    response = api.get(f"/incidents?{query}", headers=API_AUTH)
    assert response.status_code == 400 and json_of(response)["field"] == field


@pytest.mark.parametrize(("change", "field"), [
    pytest.param({"title": None}, "title", id="missing-title"),
    pytest.param({"title": "x"}, "title", id="short-title"),
    pytest.param({"type": "coffee_machine"}, "type", id="unknown-type"),
    pytest.param({"severity": "urgent"}, "severity", id="bad-severity"),
    pytest.param({"reporter": None}, "reporter", id="missing-reporter"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
])
def test_a_bad_report_is_400_naming_the_field(api, project, change, field):
    body = {k: v for k, v in {**REPORT, **change}.items() if v is not None}
    response = api.post("/incidents", json=body, headers=API_AUTH)

    assert response.status_code == 400, response.get_data(as_text=True)
    error = json_of(response)
    assert error["field"] == field and error["error"] == "invalid_field" and error["detail"]
    assert bootstrap.store().list_incidents(limit=5).incidents == []


@pytest.mark.parametrize(("body", "headers"), [
    pytest.param(b"{not json", {}, id="invalid-json"),
    pytest.param(b"", {}, id="empty"),
    pytest.param(b"[1, 2]", {}, id="array"),
    pytest.param(json.dumps(REPORT).encode(), {"Idempotency-Key": "short"}, id="bad-idempotency-key"),
])
def test_other_bad_posts_are_400(api, project, body, headers):
    response = api.post("/incidents", data=body, headers={**API_AUTH, **headers}, content_type="application/json")
    assert response.status_code == 400 and json_of(response)["error"]
    if "Idempotency-Key" in headers:
        assert json_of(response)["field"] == "Idempotency-Key"


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("GET", "/incidents", {}),
    ("POST", "/incidents", {}),
    ("GET", "/incidents", bearer("wrong")),
    ("GET", "/incidents?token=test-api-token", {}),  # the API takes no token in the URL
    ("GET", "/incidents/INC-2026-0001", {}),
    ("GET", "/incidents", bearer("test-ingest-token")),  # another function's token
])
def test_the_api_needs_its_bearer_token(api, project, method, path, headers):
    response = api.open(path, method=method, json=REPORT, headers=headers)
    assert response.status_code == 401 and json_of(response)["error"] == "unauthenticated"


def test_unknown_routes_and_methods(api, project):
    assert api.delete("/incidents", headers=API_AUTH).status_code == 405
    assert api.get("/nothing", headers=API_AUTH).status_code == 404
    assert api.get("/incidents/not-an-id", headers=API_AUTH).status_code == 404


def test_openapi_document(api, project):
    response = api.get("/openapi.json")  # public: no token

    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = json_of(response)
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"] and doc["info"]["version"]
    assert {"/incidents", "/incidents/{incident_id}", "/incidents/{incident_id}/{action}",
            "/incidents/{incident_id}/cert-in", "/incidents/{incident_id}/cert-in/assessment"} <= set(doc["paths"])
    assert set(doc["paths"]["/incidents"]) == {"get", "post"} and set(doc["paths"]["/incidents/{incident_id}"]) == {
        "get"}
    assert doc["servers"][0]["url"].endswith("/api")
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    schemas = doc["components"]["schemas"]
    assert {"ManualReport", "IncidentDetail", "IncidentList", "ApiError"} <= set(schemas)
    assert set(schemas["ManualReport"]["required"]) == {"title", "reporter"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], (path, method)
            assert all(code.isdigit() and "description" in r for code, r in operation["responses"].items())
    refs = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs
    unresolved = [r for r in refs if not r.startswith("#/components/schemas/")
                  or r.removeprefix("#/components/schemas/") not in schemas]
    assert unresolved == []
    assert "$defs" not in json.dumps(schemas)


def test_a_manual_report_pages_its_channel_through_notify(apps, api, project, slack):
    created = json_of(api.post("/incidents", json=REPORT, headers=API_AUTH))["incident"]
    [event] = pull_messages(project, TOPIC_INCIDENT_EVENTS, expect=1)

    assert notify(apps, project, event).status_code == 200

    [post] = incident_posts(slack)
    assert post.params["channel"] == POLICY.channels["incidents"].id  # high -> incidents
    assert created["id"] in post.params["text"] and slack.problems == []
