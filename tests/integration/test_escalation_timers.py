"""Escalation on the real Cloud Tasks emulator: callbacks fire at second-scale targets from a test policy."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from local.resources import create_queues
from local.server import build_app
from shared import bootstrap
from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain.classification import classify
from shared.domain.commands import Action, Actor, Command
from shared.domain.model import Alert, AlertStatus, Severity
from shared.handlers.escalation import apply, deliver_pages, follow_up, reconcile
from tests.fakes.slack_api import FakeSlack
from tests.integration.helpers import set_env

pytestmark = pytest.mark.integration


def fast_policy(tmp_path: Path) -> Path:
    """The default policy with a 3-second high target and no repeats inside it."""
    text = DEFAULT_POLICY_PATH.read_text()
    text = text.replace("response_target: 1h", "response_target: 3s").replace("repeat_page_every: 15m",
                                                                             "repeat_page_every: 1h")
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def stack(project, topics, tmp_path, monkeypatch) -> Iterator[dict]:
    """The functions on a real HTTP port, so the emulator's task callbacks reach them, plus a fake Slack."""
    with FakeSlack() as slack:
        app = build_app(lambda: {})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        policy_path = fast_policy(tmp_path)
        set_env(monkeypatch, PUBLIC_BASE_URL=base, INCIDENT_CONFIG=str(policy_path), SLACK_BOT_TOKEN=slack.token,
                SLACK_API_URL=slack.base_url)
        create_queues(project, "asia-south1")
        try:
            yield {"base": base, "slack": slack, "policy": load_policy(policy_path)}
        finally:
            server.shutdown()


def open_incident(policy, name: str) -> str:
    alert = Alert(source="alertmanager", fingerprint=name, status=AlertStatus.FIRING, title=name,
                  labels={"alertname": name, "service": "checkout", "severity": "high"}, severity=Severity.HIGH,
                  starts_at=datetime.now(UTC))
    return bootstrap.store().record_alerts([classify(policy, alert)], datetime.now(UTC), policy).incident_id


def dms(slack: FakeSlack, incident_id: str) -> list:
    return [c for c in slack.calls_to("chat.postMessage")
            if incident_id in str(c.params.get("text")) and str(c.params.get("channel")).startswith("U")]


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out; last: {check()!r}")


def deps():
    return {"store": bootstrap.store(), "chat": bootstrap.chat(), "scheduler": bootstrap.scheduler()}


def test_the_emulator_fires_each_step_on_time_and_pages_each_level_once(stack):
    slack, policy = stack["slack"], stack["policy"]
    incident_id = open_incident(policy, "Checkout errors")
    opened = bootstrap.store().get_incident(incident_id).created_at.timestamp()
    follow_up(incident_id, now=datetime.now(UTC), **deps())
    assert sorted(c.params["channel"] for c in dms(slack, incident_id)) == ["U0DEVOPS01", "U0DEVOPS02"]
    cto = wait_for(lambda: [c for c in dms(slack, incident_id) if c.params["channel"] == "U0CTO00001"])[0]
    pm = wait_for(lambda: [c for c in dms(slack, incident_id) if c.params["channel"] == "U0PRODMGR1"])[0]
    assert cto.received_at - opened >= 2.9 and pm.received_at - cto.received_at >= 2.9
    # The same callback delivered three more times: the step is no longer active, nobody is paged again.
    for _ in range(3):
        response = requests.post(f"{stack['base']}/tasks/escalate", json={"incident_id": incident_id, "step": 2},
                                 headers={"X-CloudTasks-QueueName": "incident-timers"}, timeout=10)
        assert response.json()["result"] == "not_due"
    pages = bootstrap.store().pages_of(incident_id)
    assert len({(p["step"], p["recipient"]["person_id"]) for p in pages}) == len(pages)
    assert sorted(c.params["channel"] for c in dms(slack, incident_id)).count("U0CTO00001") == 1
    assert slack.problems == []


def test_acknowledgement_stops_the_timers(stack):
    slack, policy = stack["slack"], stack["policy"]
    incident_id = open_incident(policy, "Orders slow")
    follow_up(incident_id, now=datetime.now(UTC), **deps())
    ack = Command(command_id="ack-1", incident_id=incident_id, action=Action.ACKNOWLEDGE,
                  actor=Actor(kind="slack", id="U0DEVOPS01"), at=datetime.now(UTC))
    apply(ack, policy=policy, publisher=bootstrap.publisher(), now=datetime.now(UTC), **deps())
    time.sleep(4.5)  # the step-1 task fires in this time and must find nothing to do
    assert sorted(c.params["channel"] for c in dms(slack, incident_id)) == ["U0DEVOPS01", "U0DEVOPS02"]
    incident = bootstrap.store().get_incident(incident_id)
    assert incident.status == "acknowledged" and incident.owner == "devops-1"


def test_the_reconciler_advances_an_escalation_whose_task_was_lost(stack):
    slack, policy = stack["slack"], stack["policy"]
    incident_id = open_incident(policy, "Lost timer")
    store = bootstrap.store()
    deliver_pages(store.get_incident(incident_id), store=store, chat=bootstrap.chat(), now=datetime.now(UTC))
    # No task was ever created for step 1 (as if it vanished). After the target passes, nothing happens...
    time.sleep(3.2)
    assert not [c for c in dms(slack, incident_id) if c.params["channel"] == "U0CTO00001"]
    # ...until the reconciler finds the overdue step.
    result = reconcile(publisher=bootstrap.publisher(), now=datetime.now(UTC), **deps())
    assert result["advanced"] == 1
    assert [c.params["channel"] for c in dms(slack, incident_id)].count("U0CTO00001") == 1
    assert reconcile(publisher=bootstrap.publisher(), now=datetime.now(UTC), **deps())["advanced"] == 0
    assert store.get_incident(incident_id).escalation.level == 1
    assert store.get_incident(incident_id).next_escalation_at > datetime.now(UTC) - timedelta(seconds=1)


def test_task_callbacks_are_refused_without_cloud_tasks_identity(stack):
    """Invariant 7: only Cloud Tasks (locally: its queue header; in production: its OIDC token) may call back."""
    incident_id = open_incident(stack["policy"], "Forged callback")
    response = requests.post(f"{stack['base']}/tasks/escalate", json={"incident_id": incident_id, "step": 1},
                             timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"
    bad = requests.post(f"{stack['base']}/tasks/escalate", json={"incident_id": incident_id, "step": "one"},
                        headers={"X-CloudTasks-QueueName": "incident-timers"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["field"] == "step"
    unknown = requests.post(f"{stack['base']}/tasks/nothing", json={}, timeout=10,
                            headers={"X-CloudTasks-QueueName": "incident-timers"})
    assert unknown.status_code == 404


def test_in_production_a_callback_without_an_oidc_token_is_refused(stack, monkeypatch):
    set_env(monkeypatch, INCIDENT_ENV="production", TASKS_SERVICE_ACCOUNT="tasks@acme.iam.gserviceaccount.com")
    forged = requests.post(f"{stack['base']}/tasks/escalate", json={"incident_id": "INC-2026-0001", "step": 1},
                           headers={"X-CloudTasks-QueueName": "incident-timers"}, timeout=10)
    assert forged.status_code == 401
    garbage = requests.post(f"{stack['base']}/tasks/escalate", json={"incident_id": "INC-2026-0001", "step": 1},
                            headers={"Authorization": "Bearer not-a-jwt"}, timeout=10)
    assert garbage.status_code == 401 and "invalid OIDC token" in garbage.json()["detail"]


def test_behind_cloud_run_a_verified_token_is_checked_for_audience_and_identity(stack, monkeypatch):
    """Cloud Run verifies the OIDC token of a private function and removes its signature before the code sees it."""
    import base64 as b64
    import json as js

    set_env(monkeypatch, INCIDENT_ENV="production", TASKS_SERVICE_ACCOUNT="tasks@acme.iam.gserviceaccount.com",
            TASKS_URL="https://tasks-123.a.run.app")

    def token(claims: dict) -> str:
        part = lambda d: b64.urlsafe_b64encode(js.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
        return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.SIGNATURE_REMOVED_BY_GOOGLE"

    good = {"aud": "https://tasks-123.a.run.app/escalate", "email": "tasks@acme.iam.gserviceaccount.com",
            "email_verified": True}
    body = {"incident_id": "INC-2099-0001", "step": 1}
    ok = requests.post(f"{stack['base']}/tasks/escalate", json=body, timeout=10,
                       headers={"Authorization": f"Bearer {token(good)}"})
    assert ok.status_code == 200 and ok.json()["result"] == "unknown_incident"
    stranger = requests.post(f"{stack['base']}/tasks/escalate", json=body, timeout=10, headers={
        "Authorization": f"Bearer {token(good | {'email': 'someone@else.com'})}"})
    assert stranger.status_code == 403
    elsewhere = requests.post(f"{stack['base']}/tasks/escalate", json=body, timeout=10, headers={
        "Authorization": f"Bearer {token(good | {'aud': 'https://other.example'})}"})
    assert elsewhere.status_code == 401
