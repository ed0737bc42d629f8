"""The CERT-In clock end to end on the local stack, with a real SMTP server on loopback and second-scale deadlines."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from aiosmtpd.controller import Controller

from local import emulators
from local.harness import StackProcess
from shared.config.loader import DEFAULT_POLICY_PATH
from tests.e2e.conftest import Client, eventually, signed_slack_post
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.e2e
SIGNING_SECRET = "e2e-certin-signing-secret"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append({"to": envelope.rcpt_tos, "data": envelope.content.decode(errors="replace")})
        return "250 OK"

    def about(self, text: str) -> list[dict]:
        return [m for m in self.messages if text in m["data"]]


def fast_cert_in_policy(folder) -> str:
    text = DEFAULT_POLICY_PATH.read_text()
    for old, new in (("assessment_due: 2h", "assessment_due: 4s"), ("assessment_reminders_before: [30m]",
                                                                   "assessment_reminders_before: [2s]"),
                     ("report_due: 6h", "report_due: 9s"), ("report_reminders_at: [4h, 5h30m]",
                                                            "report_reminders_at: [6s, 8s]")):
        assert old in text
        text = text.replace(old, new)
    path = folder / "policy.yaml"
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def clock_stack(tmp_path_factory) -> Iterator[tuple[StackProcess, FakeSlack, Client, Inbox]]:
    inbox = Inbox()
    port = emulators.free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    with FakeSlack() as slack:
        stack = StackProcess(extra_env={
            "INCIDENT_CONFIG": fast_cert_in_policy(tmp_path_factory.mktemp("certin")),
            "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.base_url, "RECONCILE_EVERY_SECONDS": "3",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SMTP_URL": f"smtp://127.0.0.1:{port}?from=incidents@example.com"})
        stack.start()
        try:
            yield stack, slack, Client(stack), inbox
        finally:
            stack.stop()
            smtp.stop()


def security_alert(client: Client, title: str) -> dict:
    payload = {"title": title, "summary": "1,200 failed logins from 3 IPs", "service": "partner-portal",
               "severity": "critical", "labels": {"alertname": title, "src_ip": "203.0.113.7"}}
    assert client.ingest("generic", payload).status_code == 200
    return eventually(lambda: client.incident_titled(title), what="the security incident")[0]


def dms_to(slack: FakeSlack, user: str, incident_id: str, text: str = "") -> list:
    return [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == user
            and incident_id in str(c.params.get("text")) and text in str(c.params.get("text"))]


def test_an_unreported_security_incident_runs_the_whole_clock_to_the_breach_alert(clock_stack):
    stack, slack, client, inbox = clock_stack
    title = f"Brute force authentication failures {uuid.uuid4().hex[:6]}"
    incident = security_alert(client, title)
    assert incident["type"] == "system_security" and incident["severity"] == "critical"
    mail = eventually(lambda: inbox.about(incident["id"]), what="the security mailbox email")[0]
    assert "security@wealthy.in" in mail["to"] and "CERT-In report due" in mail["data"]
    eventually(lambda: dms_to(slack, "U0BROKING1", incident["id"]), what="Broking Head told in parallel")
    eventually(lambda: dms_to(slack, "U0CTO00001", incident["id"]), what="the CTO paged")
    eventually(lambda: [u for u in slack.calls_to("chat.update") if incident["id"] in str(u.params.get("text"))
                        and "left)" in str(u.params.get("blocks"))], what="a countdown on the incident message")
    eventually(lambda: dms_to(slack, "U0SRE00001", incident["id"], "assess reportability"), timeout=20)
    eventually(lambda: dms_to(slack, "U0CTO00001", incident["id"], "assessment was MISSED"), timeout=20)
    breach = eventually(lambda: dms_to(slack, "U0BROKING1", incident["id"], "BREACH"), timeout=30)
    assert len(breach) == 1
    assert len(eventually(lambda: dms_to(slack, "U0CTO00001", incident["id"], "BREACH"))) == 1
    eventually(lambda: inbox.about("[CERT-In BREACH]"), what="the breach email")
    detail = client.detail(incident["id"])
    kinds = [t["kind"] for t in detail["timeline"]]
    for kind in ("cert_in.clock_started", "cert_in.assessment_reminder", "cert_in.assessment_due",
                 "cert_in.report_reminder", "cert_in.report_due"):
        assert kind in kinds
    assert detail["incident"]["cert_in"]["breached_at"] is not None
    evidence = client.api("GET", f"/incidents/{incident['id']}/cert-in")
    assert evidence.status_code == 200 and "IST" in evidence.text and "UTC" in evidence.text
    assert slack.problems == []


def test_an_assessed_and_submitted_incident_stops_the_clock_with_its_proof(clock_stack):
    stack, slack, client, inbox = clock_stack
    title = f"WAF blocks SQL injection then data exfiltration {uuid.uuid4().hex[:6]}"
    incident = security_alert(client, title)
    base = f"/incidents/{incident['id']}/cert-in"
    assessed = client.api("POST", f"{base}/assessment", json={"actor": "sre-1", "reportable": True, "type": 11,
                                                               "reason": "records left the network"})
    assert assessed.status_code == 200, assessed.text
    draft = client.api("GET", f"{base}/report").json()
    assert draft["email"]["to"] == "incident@cert-in.org.in" and "11" in draft["markdown"]
    completed = client.api("POST", f"{base}/report", json={"actor": "sre-1", "fields": {
        "indicators": "203.0.113.7", "actions_taken": "Blocked the IPs, rotated keys"}})
    assert completed.status_code == 200
    submitted = client.api("POST", f"{base}/submission", json={
        "actor": "sre-1", "at": datetime.now(UTC).isoformat(), "method": "email", "reference": "CERTIn-2026-0042"})
    assert submitted.status_code == 200
    update = client.api("POST", f"{base}/updates", json={"actor": "sre-1", "text": "Containment complete"})
    assert update.status_code == 200
    time.sleep(11)  # past every deadline: nothing more may fire
    assert dms_to(slack, "U0BROKING1", incident["id"], "BREACH") == []
    record = client.detail(incident["id"])["incident"]["cert_in"]
    assert record["submission"]["reference"] == "CERTIn-2026-0042" and record["breached_at"] is None
    evidence = client.api("GET", base).text
    for text in ("CERTIn-2026-0042", "records left the network", "Containment complete", "203.0.113.7"):
        assert text in evidence


def test_cert_in_steps_reject_bad_input(clock_stack):
    _, _, client, _ = clock_stack
    incident = security_alert(client, f"Phishing campaign {uuid.uuid4().hex[:6]}")
    base = f"/incidents/{incident['id']}/cert-in"
    bad = client.api("POST", f"{base}/assessment", json={"actor": "sre-1", "reportable": True, "type": 21,
                                                          "reason": "x y z"})
    assert bad.status_code == 400 and bad.json()["field"] == "type"
    assert client.api("POST", f"{base}/submission", json={"actor": "x"}).status_code == 400
    assert client.api("POST", f"{base}/nothing", json={}).status_code == 404
    assert client.api("GET", "/incidents/INC-2026-9999/cert-in").status_code == 404


def slash(stack: StackProcess, user: str, text: str) -> requests.Response:
    body = urllib.parse.urlencode({"command": "/incident", "text": text, "user_id": user, "team_id": "T1",
                                   "channel_id": "C0SECURITY1", "trigger_id": "123.456.abc"}).encode()
    return signed_slack_post(stack.base_url, "commands", body, SIGNING_SECRET)


def test_the_sre_records_the_assessment_from_slack(clock_stack):
    stack, _, client, _ = clock_stack
    incident = security_alert(client, f"Credential stuffing on login {uuid.uuid4().hex[:6]}")
    refused = slash(stack, "U0SUPPORT1", f"certin {incident['id']} reportable 3 attacker got in")
    assert refused.status_code == 200 and "Not recorded" in refused.json()["text"]
    answer = slash(stack, "U0SRE00001", f"certin {incident['id']} reportable 3 one account was taken over")
    assert answer.status_code == 200 and "Recorded" in answer.json()["text"]
    assessment = client.detail(incident["id"])["incident"]["cert_in"]["assessment"]
    assert assessment["reportable"] is True and assessment["type"] == 3
    assert assessment["by"] == "Site Reliability Engineer"
