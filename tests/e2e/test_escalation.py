"""Escalation on the local stack with a second-scale policy: every path and severity, end to end."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import requests

from local.harness import StackProcess
from shared.config.loader import DEFAULT_POLICY_PATH
from tests.e2e.conftest import Client, eventually, signed_slack_post
from tests.expected_policy import PATHS
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.e2e

# Seconds each level has to acknowledge, per severity, in the test policy (no repeats inside a level).
TARGETS = {"critical": 2, "high": 3, "medium": 4, "low": 5}
SLACK_IDS = {"devops-1": "U0DEVOPS01", "devops-2": "U0DEVOPS02", "team-lead": "U0TEAMLEAD", "engineer-1": "U0ENGINR01",
             "engineer-2": "U0ENGINR02", "cto": "U0CTO00001", "ceo": "U0CEO00001", "pm": "U0PRODMGR1",
             "support-1": "U0SUPPORT1", "pst-1": "U0PST00001"}
SIGNING_SECRET = "e2e-signing-secret"


def fast_policy(folder: Path) -> Path:
    text = DEFAULT_POLICY_PATH.read_text()
    for severity, old_target in (("critical", "15m"), ("high", "1h"), ("medium", "4h"), ("low", "24h")):
        text = text.replace(f"response_target: {old_target}", f"response_target: {TARGETS[severity]}s", 1)
    text = text.replace("repeat_page_every: 5m", "repeat_page_every: 1h").replace("repeat_page_every: 15m",
                                                                                 "repeat_page_every: 1h")
    path = folder / "policy.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def escalation_stack(tmp_path_factory) -> Iterator[tuple[StackProcess, FakeSlack, Client]]:
    folder = tmp_path_factory.mktemp("escalation")
    with FakeSlack() as slack:
        stack = StackProcess(extra_env={"INCIDENT_CONFIG": str(fast_policy(folder)), "SLACK_BOT_TOKEN": slack.token,
                                        "SLACK_API_URL": slack.base_url, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                        "RECONCILE_EVERY_SECONDS": "2"})
        stack.start()
        try:
            yield stack, slack, Client(stack)
        finally:
            stack.stop()


def declare(client: Client, itype: str, severity: str) -> dict:
    title = f"{itype} {severity} {uuid.uuid4().hex[:6]}"
    response = client.api("POST", "/incidents", json={"title": title, "type": itype, "severity": severity,
                                                      "reporter": "e2e"})
    assert response.status_code == 201, response.text
    return response.json()["incident"]


def direct_pages(slack: FakeSlack, incident_id: str) -> list:
    """Escalation pages to people (security incidents also get CERT-In notices, which are not escalation)."""
    return [c for c in slack.calls_to("chat.postMessage")
            if str(c.params.get("channel", "")).startswith("U") and f"{incident_id} " in str(c.params.get("text"))
            and "CERT-In" not in str(c.params.get("text"))]


def created_epoch(incident: dict) -> float:
    return datetime.fromisoformat(incident["created_at"]).timestamp()


def test_every_path_and_severity_pages_the_right_people_in_order_at_the_right_times(escalation_stack):
    stack, slack, client = escalation_stack
    cases = [(itype, severity) for itype in PATHS for severity in TARGETS]
    with ThreadPoolExecutor(8) as pool:
        incidents = dict(zip(cases, pool.map(lambda case: declare(client, *case), cases), strict=True))
    for (itype, severity), incident in incidents.items():
        levels = PATHS[itype]
        expected = sum(len(level) for level in levels)
        if severity == "critical":
            expected += len({"pm", "cto"} - set(levels[0]))
        pages = eventually(lambda inc=incident, n=expected: len(direct_pages(slack, inc["id"])) >= n
                           and direct_pages(slack, inc["id"]), timeout=40, what=f"{itype}/{severity} pages")
        start = created_epoch(incident)
        target = TARGETS[severity]
        at = {}
        for call in pages:
            person = next(p for p, sid in SLACK_IDS.items() if sid == call.params["channel"])
            at.setdefault(person, []).append(call.received_at - start)
        previous = 0.0  # when the previous level was paged: each level's clock starts then
        for k, level in enumerate(levels):
            paged = []
            for person in level:
                if k == 0:
                    assert min(at[person]) <= 10.0, (itype, severity, person, at)  # at once: delivery latency only
                    paged.append(min(at[person]))
                    continue
                # Never early (k targets after the start at the soonest), and late by load only, not by a target.
                on_time = [t for t in at[person] if t >= k * target - 0.3]
                assert on_time and on_time[0] <= previous + target + 5.0, (itype, severity, person, k, at)
                paged.append(on_time[0])
            previous = max(paged)
        # One page per step per person, as the incident's timeline records each page sent (it is written just
        # after the page reaches Slack, so the last entry may trail the page by a moment under load).
        def sent_pages(inc=incident) -> list:
            return [(t["data"]["step"], t["data"]["person"]) for t in client.detail(inc["id"])["timeline"]
                    if t["kind"] == "page.sent" and "person" in t["data"]]

        sent = eventually(lambda n=expected: len(sent_pages()) >= n and sent_pages(), timeout=10,
                          what=f"{itype}/{severity} page.sent timeline entries")
        if severity == "critical":  # parallel escalation: paged in the first step, with level 1, not after a target
            first_step = min(step for step, _ in sent if step > 0)  # step 0: CERT-In notices, not the path
            assert {(first_step, "pm"), (first_step, "cto")} <= set(sent), (itype, sent)
        assert len(sent) == len(set(sent)) and len(sent) >= expected, (itype, severity, sent)
        assert len(pages) == len({(c.params["channel"], round(c.received_at, 1)) for c in pages})
    assert slack.problems == []


def test_acknowledgement_stops_escalation_and_a_duplicate_callback_pages_nobody(escalation_stack):
    stack, slack, client = escalation_stack
    incident = declare(client, "system_alert", "high")
    eventually(lambda: len(direct_pages(slack, incident["id"])) == 2, what="level 1 pages")
    response = client.api("POST", f"/incidents/{incident['id']}/acknowledge", json={"actor": "devops-1"})
    assert response.status_code == 200 and response.json()["incident"]["status"] == "acknowledged"
    for _ in range(3):  # the step-1 callback delivered again, three times, after acknowledgement
        late = requests.post(f"{stack.base_url}/tasks/escalate", json={"incident_id": incident["id"], "step": 1},
                             headers={"X-CloudTasks-QueueName": "incident-timers"}, timeout=10)
        assert late.json()["result"] == "not_due"
    time.sleep(TARGETS["high"] * 2 + 1)
    assert sorted(c.params["channel"] for c in direct_pages(slack, incident["id"])) == ["U0DEVOPS01", "U0DEVOPS02"]
    timeline = client.detail(incident["id"])["timeline"]
    assert "incident.acknowledged" in [t["kind"] for t in timeline]


def test_a_lost_task_is_caught_by_the_reconciler(escalation_stack):
    stack, slack, client = escalation_stack
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(f"127.0.0.1:{stack.env['TASKS_PORT']}")
    tasks = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    queue = tasks.queue_path(stack.env["GOOGLE_CLOUD_PROJECT"], "asia-south1", "incident-timers")
    incident = declare(client, "system_security", "high")
    eventually(lambda: len(direct_pages(slack, incident["id"])) == 1, what="the CTO's first page")
    tasks.purge_queue(name=queue)  # every pending timer vanishes, this incident's included
    ceo = eventually(lambda: [c for c in direct_pages(slack, incident["id"]) if c.params["channel"] == "U0CEO00001"],
                     timeout=20, what="the CEO paged by the reconciler")
    assert len(ceo) == 1
    log = stack.log_path.read_text()
    assert "reconciler caught up" in log


def test_a_forged_slack_request_is_refused(escalation_stack):
    stack, _, client = escalation_stack
    incident = declare(client, "bug_report", "low")
    body = ('payload={"type":"block_actions","user":{"id":"U0DEVOPS01"},"actions":[{"action_id":"incident_ack",'
            f'"value":"{incident["id"]}","action_ts":"1.2"}}]}}').encode()
    now = int(time.time())
    forged = signed_slack_post(stack.base_url, "interactions", body, "not-the-secret", at=now)
    assert forged.status_code == 401
    stale = signed_slack_post(stack.base_url, "interactions", body, SIGNING_SECRET, at=now - 600)
    assert stale.status_code == 401
    time.sleep(1)
    assert client.detail(incident["id"])["incident"]["status"] == "open"


def test_a_signed_slack_acknowledgement_stops_the_escalation(escalation_stack):
    stack, slack, client = escalation_stack
    incident = declare(client, "system_alert", "medium")
    eventually(lambda: len(direct_pages(slack, incident["id"])) == 2)
    import json as _json
    import urllib.parse

    payload = {"type": "block_actions", "user": {"id": "U0DEVOPS02", "username": "devops2"},
               "actions": [{"action_id": "incident_ack", "block_id": f"incident_actions:{incident['id']}",
                            "type": "button", "value": incident["id"], "action_ts": f"{time.time():.6f}"}],
               "container": {"type": "message"}, "trigger_id": "1.2.abc", "team": {"id": "T1"}}
    body = ("payload=" + urllib.parse.quote(_json.dumps(payload))).encode()
    response = signed_slack_post(stack.base_url, "interactions", body, SIGNING_SECRET)
    assert response.status_code == 200
    acked = eventually(lambda: (d := client.detail(incident["id"]))["incident"]["status"] == "acknowledged" and d)
    assert acked["incident"]["owner"] == "devops-2"
    time.sleep(TARGETS["medium"] + 1)
    assert len(direct_pages(slack, incident["id"])) == 2
