"""Alerts in, incidents and pages out, on the local stack as a user runs it."""

from __future__ import annotations

import copy
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import eventually, pages_mentioning

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
CRITICAL_CHANNEL = "C0CRITICAL1"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def grafana_alert(name: str, status: str = "firing", severity: str = "critical") -> dict:
    payload = copy.deepcopy(fixture("grafana_firing.json"))
    alert = payload["alerts"][0]
    alert["labels"].update({"alertname": name, "severity": severity})
    alert["fingerprint"] = uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:16]
    alert["status"] = status
    payload["status"] = status
    if status == "resolved":
        alert["endsAt"] = datetime.now(UTC).isoformat()
    return payload


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def test_health_is_ok_when_everything_is_ready(client):
    body = client.http.get(f"{client.base}/healthz", timeout=5).json()
    assert body["status"] == "ok" and all(body["checks"].values())
    assert set(body["functions"]) >= {"/ingest", "/classify", "/notify", "/api", "/tasks"}


def test_grafana_alert_opens_a_critical_incident_and_pages_level_one_and_the_emergency_roles(client, slack):
    name = unique("Checkout 5xx")
    assert client.ingest("grafana", grafana_alert(name)).status_code == 200
    page = eventually(lambda: pages_mentioning(slack, name), what="the first page")[0]
    assert page.params["channel"] == CRITICAL_CHANNEL
    blocks = json.dumps(page.params["blocks"])
    assert "<!subteam^S0DEVOPS01>" in blocks and "<@U0PRODMGR1>" in blocks and "<@U0CTO00001>" in blocks
    assert "https://runbooks.example.com/checkout-5xx" in blocks
    # the message's channel is stored just after Slack accepted it: under load the read can come first
    [incident] = eventually(lambda: [i for i in client.incident_titled(name) if i["slack_channel"]],
                            what="the message stored on the incident")
    assert incident["severity"] == "critical" and incident["type"] == "system_alert"
    assert incident["slack_channel"] == CRITICAL_CHANNEL and incident["id"].startswith("INC-")
    assert slack.problems == []


def test_the_same_alert_three_times_gives_one_incident_and_one_page(client, slack):
    name = unique("Disk full")
    for _ in range(3):
        assert client.ingest("grafana", grafana_alert(name, severity="high")).status_code == 200
    eventually(lambda: pages_mentioning(slack, name))
    eventually(lambda: client.incident_titled(name))
    detail = eventually(lambda: client.detail(client.incident_titled(name)[0]["id"]))
    assert detail["alerts_total"] == 1
    assert len(client.incident_titled(name)) == 1
    assert len(pages_mentioning(slack, name)) == 1


def test_twenty_concurrent_copies_give_one_incident_and_one_page(client, slack):
    name = unique("Payments latency")
    payload = grafana_alert(name, severity="high")
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda _: client.ingest("grafana", payload).status_code, range(20)))
    assert codes == [200] * 20
    eventually(lambda: pages_mentioning(slack, name))
    eventually(lambda: client.incident_titled(name))
    assert len(client.incident_titled(name)) == 1
    assert len(pages_mentioning(slack, name)) == 1


def test_resolved_alert_marks_a_critical_incident_for_the_owner_and_updates_the_message(client, slack):
    name = unique("Trading API down")
    client.ingest("grafana", grafana_alert(name))
    page = eventually(lambda: pages_mentioning(slack, name))[0]
    assert client.ingest("grafana", grafana_alert(name, status="resolved")).status_code == 200
    incident = eventually(lambda: [i for i in client.incident_titled(name) if i["alerts_resolved_at"]])[0]
    assert incident["status"] == "open"  # critical: the owner decides (policy when_all_alerts_resolve)
    ts = page.response["ts"]
    eventually(lambda: [u for u in slack.calls_to("chat.update") if u.params.get("ts") == ts
                        and "Every alert has resolved" in json.dumps(u.params.get("blocks"))])


def test_uptime_kuma_down_then_up_resolves_a_medium_incident_by_itself(client, slack):
    monitor = unique("Docs site")
    down = fixture("uptime_kuma_down.json")
    down["monitor"].update({"name": monitor, "id": abs(hash(monitor)) % 100000})
    down["monitor"]["tags"] = [{"name": "severity", "value": "medium"}]
    down["heartbeat"]["monitorID"] = down["monitor"]["id"]
    assert client.ingest("uptime-kuma", down).status_code == 200
    [incident] = eventually(lambda: [i for i in client.incidents() if monitor in i["title"]])
    assert incident["severity"] == "medium" and incident["category"] == "availability"
    up = copy.deepcopy(down)
    up["heartbeat"]["status"] = 1
    assert client.ingest("uptime-kuma", up).status_code == 200
    eventually(lambda: client.detail(incident["id"])["incident"]["status"] == "resolved")


def test_uptime_kuma_form_data_body_is_accepted(client):
    monitor = unique("Partner portal")
    down = fixture("uptime_kuma_down.json")
    down["monitor"].update({"name": monitor, "id": abs(hash(monitor)) % 100000})
    down["heartbeat"]["monitorID"] = down["monitor"]["id"]
    response = client.http.post(f"{client.base}/ingest/uptime-kuma?token={client.ingest_token}",
                                files={"data": (None, json.dumps(down))}, timeout=10)
    assert response.status_code == 200
    eventually(lambda: [i for i in client.incidents() if monitor in i["title"]])


def test_vmalert_alert_resolves_when_its_ends_at_passes_without_a_resend(client):
    """The Alertmanager API path: a Cloud Task fires after endsAt and resolves the alert."""
    name = unique("Queue lag")
    alert = fixture("vmalert_array.json")[0]
    alert["labels"].update({"alertname": name, "severity": "low"})
    alert["startsAt"] = datetime.now(UTC).isoformat()
    alert["endsAt"] = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    assert client.ingest("alertmanager/api/v2/alerts", [alert]).status_code == 200
    [incident] = eventually(lambda: client.incident_titled(name))
    assert incident["status"] == "open"
    eventually(lambda: client.detail(incident["id"])["incident"]["status"] == "resolved", timeout=30)


def test_otel_error_logs_open_one_incident_per_service_and_error(client):
    payload = fixture("otel_logs.json")
    service = unique("svc").replace(" ", "-")
    payload["resourceLogs"][0]["resource"]["attributes"][0]["value"]["stringValue"] = service
    response = client.ingest("otel/v1/logs", payload)
    assert response.status_code == 200 and response.json() == {}
    eventually(lambda: [i for i in client.incidents() if i["service"] == service])
    assert len([i for i in client.incidents() if i["service"] == service]) == 1


def test_manual_report_through_the_api_pages_like_an_alert(client, slack):
    title = unique("Partners cannot log in")
    response = client.api("POST", "/incidents", json={"title": title, "description": "Reported by PST",
                                                      "severity": "high", "type": "partner_technical",
                                                      "service": "partner-portal", "reporter": "pst1@example.com"})
    assert response.status_code == 201, response.text
    incident = response.json()["incident"]
    assert incident["type"] == "partner_technical" and incident["severity"] == "high"
    page = eventually(lambda: pages_mentioning(slack, title))[0]
    assert page.params["channel"] == "C0PARTNERS1" and "<!subteam^S0SUPPORT1>" in json.dumps(page.params["blocks"])


def test_bad_requests_get_a_clear_4xx_and_create_nothing(client):
    before = len(client.incidents())
    assert client.http.post(f"{client.base}/ingest/grafana", json={}, timeout=5).status_code == 401
    assert client.ingest("grafana", headers={"Authorization": "Bearer wrong"}).status_code == 401
    bad = grafana_alert(unique("Bad"))
    bad["alerts"][0]["startsAt"] = "yesterday"
    response = client.ingest("grafana", bad)
    assert response.status_code == 400 and response.json()["field"] == "alerts[0].startsAt"
    response = client.http.post(f"{client.base}/ingest/generic", data=b"{not json",
                                headers={"Authorization": f"Bearer {client.ingest_token}"}, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"
    big = {"title": "x", "summary": "y" * 300_000}
    assert client.ingest("generic", big).status_code == 413
    assert client.ingest("nagios", {}).status_code == 404
    assert client.api("POST", "/incidents", json={"title": "ok title"}).json()["field"] == "reporter"
    assert client.http.get(f"{client.base}/api/incidents", timeout=5).status_code == 401
    assert len(client.incidents()) == before
