"""Resolution end to end on the local stack: a critical incident resolved, its RCA draft and review clock
(second-scale durations from a test policy), reminders and the missed-review escalation fired by the emulated
Cloud Tasks, the RCA published and exported, metrics, the weekly digest with its chart, and incidentctl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from local.harness import StackProcess
from shared.config.loader import DEFAULT_POLICY_PATH
from tests.e2e.conftest import Client, eventually, signed_slack_post
from tests.fakes.slack_api import FakeSlack, check_blocks

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
GKE = ROOT / "config" / "rcas" / "2025-09-14-gke-auto-upgrade-failure.json"
SIGNING_SECRET = "e2e-resolution-signing-secret"
TRIGGER = "13345224609.738474920.8088930838d88f008e0"
DEVOPS_2 = {"id": "U0DEVOPS02", "username": "devops2", "name": "devops2", "team_id": "T1"}


def fast_review_policy(folder) -> str:
    text = DEFAULT_POLICY_PATH.read_text()
    for old, new in (("post_incident_review_within: 48h", "post_incident_review_within: 8s"),
                     ("reminders_before: [24h, 4h]", "reminders_before: [5s]"),
                     ("change_review_after: 24h", "change_review_after: 4s")):
        assert old in text
        text = text.replace(old, new)
    path = folder / "policy.yaml"
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def review_stack(tmp_path_factory) -> Iterator[tuple[StackProcess, FakeSlack, Client]]:
    with FakeSlack() as slack:
        stack = StackProcess(extra_env={
            "INCIDENT_CONFIG": fast_review_policy(tmp_path_factory.mktemp("review")),
            "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.base_url, "RECONCILE_EVERY_SECONDS": "3",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET})
        stack.start()
        try:
            yield stack, slack, Client(stack)
        finally:
            stack.stop()


def dms(slack: FakeSlack, user: str, incident_id: str, text: str) -> list:
    return [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == user
            and incident_id in str(c.params.get("text")) and text in str(c.params.get("text"))]


def critical_incident(client: Client, title: str) -> dict:
    payload = {"title": title, "summary": "error rate 38%", "service": "checkout", "severity": "critical",
               "labels": {"alertname": title}}
    assert client.ingest("generic", payload).status_code == 200
    return eventually(lambda: client.incident_titled(title), what="the critical incident")[0]


def cli(stack: StackProcess, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "INCIDENT_API_URL": f"{stack.base_url}/api", "API_TOKEN": stack.env["API_TOKEN"],
                   **(env or {})}
    environment.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def resolved(review_stack) -> dict:
    """A critical incident taken through acknowledgement, a note, an emergency change, mitigation, resolution."""
    stack, slack, client = review_stack
    incident = critical_incident(client, f"Checkout returns 5xx {uuid.uuid4().hex[:6]}")
    iid = incident["id"]
    base = f"/incidents/{iid}"
    assert client.api("POST", f"{base}/acknowledge", json={"actor": "devops-2"}).status_code == 200
    assert client.api("POST", f"{base}/notes", json={"actor": "devops-2", "text": "Error rate 38% on /pay"}
                      ).status_code == 201
    change = client.api("POST", f"{base}/changes", json={"actor": "devops-2", "text": "Rolled back checkout to v41"})
    assert change.status_code == 201, change.text
    assert client.api("POST", f"{base}/mitigated", json={"actor": "devops-2"}).status_code == 200
    answer = client.api("POST", f"{base}/resolve", json={"actor": "team-lead", "summary": "Rolled back v42"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_resolving_a_critical_incident_opens_the_rca_draft_and_the_review_schedule(review_stack, resolved):
    _, _, client = review_stack
    incident = resolved["incident"]
    review = incident["review"]
    assert review["required"] and review["rca_id"] == f"RCA-{incident['id']}"
    assert [d["kind"] for d in review["deadlines"]] == ["draft", "change_review", "reminder", "missed"] or \
        sorted(d["kind"] for d in review["deadlines"]) == ["change_review", "draft", "missed", "reminder"]
    rca = client.api("GET", f"/rcas/{review['rca_id']}")
    assert rca.status_code == 200, rca.text
    body = rca.json()
    assert body["status"] == "draft" and body["severity"] == "critical"
    assert body["sections"]["resolution"] == "Rolled back v42"
    texts = [e["text"] for e in body["timeline"]]
    assert "Error rate 38% on /pay" in texts and any("Emergency change C1" in t for t in texts)
    thread = [c for c in review_stack[1].calls_to("chat.postMessage") if c.params.get("thread_ts")
              and f"RCA draft {review['rca_id']}" in str(c.params.get("text"))]
    assert len(thread) == 1 and thread[0].params["thread_ts"] == incident["slack_ts"]


def test_the_reminder_change_review_and_missed_review_escalation_fire_once_each(review_stack, resolved):
    _, slack, client = review_stack
    iid = resolved["incident"]["id"]
    eventually(lambda: dms(slack, "U0PRODMGR1", iid, "emergency change"), timeout=20, what="change review")
    eventually(lambda: dms(slack, "U0TEAMLEAD", iid, "post-incident review due"), timeout=20, what="reminder")
    eventually(lambda: dms(slack, "U0DEVOPS02", iid, "post-incident review due"), timeout=5, what="owner reminder")
    eventually(lambda: dms(slack, "U0CTO00001", iid, "review was MISSED"), timeout=20, what="CTO told")
    time.sleep(7)  # duplicate timers and reconciler rounds come and go
    assert len(dms(slack, "U0TEAMLEAD", iid, "post-incident review due")) == 1
    assert len(dms(slack, "U0CTO00001", iid, "review was MISSED")) == 1
    assert len(dms(slack, "U0PRODMGR1", iid, "emergency change")) == 1
    incident = client.detail(iid)["incident"]
    assert incident["review"]["missed_at"] is not None and incident["review_next_due_at"] is None


def test_the_timeline_is_paged_with_a_cursor_and_holds_every_step(review_stack, resolved):
    _, _, client = review_stack
    iid = resolved["incident"]["id"]
    eventually(lambda: client.detail(iid)["incident"]["review"]["missed_at"], timeout=25)
    entries, cursor, pages = [], None, 0
    while True:
        page = client.api("GET", f"/incidents/{iid}/timeline", params={"limit": 3, **({"cursor": cursor} if cursor
                                                                                     else {})})
        assert page.status_code == 200, page.text
        entries += page.json()["entries"]
        pages += 1
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert pages > 2 and len({e["id"] for e in entries}) == len(entries)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    kinds = [e["kind"] for e in entries]
    for kind in ("incident.opened", "page.sent", "incident.acknowledged", "note", "change.recorded",
                 "incident.mitigated", "incident.resolved", "review.scheduled", "rca.drafted",
                 "review.change_review", "review.reminder", "review.missed"):
        assert kind in kinds, kind
    assert client.api("GET", f"/incidents/{iid}/timeline", params={"cursor": "../x"}).status_code == 400
    assert client.api("GET", "/incidents/INC-2026-9999/timeline").status_code == 404


def test_the_rca_is_completed_reviewed_published_and_exported(review_stack, resolved):
    _, _, client = review_stack
    iid = resolved["incident"]["id"]
    path = f"/rcas/RCA-{iid}"
    early = client.api("PATCH", path, json={"actor": "team-lead", "status": "published"})
    assert early.status_code == 409 and early.json()["error"] == "invalid_transition"
    incomplete = client.api("PATCH", path, json={"actor": "team-lead", "status": "in_review"})
    assert incomplete.status_code == 409 and incomplete.json()["error"] == "incomplete"
    edited = client.api("PATCH", path, json={"actor": "team-lead", "sections": {
        "primary_cause": "v42 read a config key missing from the config map",
        "lessons_learned": "Ship config with code"}, "prevention_measures": [
        {"action": "One Helm chart for config and code", "owner": "devops-1", "due": "2026-12-31"}]})
    assert edited.status_code == 200, edited.text
    assert edited.json()["prevention_measures"][0]["id"] == "PM-1"
    assert client.api("PATCH", path, json={"actor": "x", "sections": {"nope": "x"}}).status_code == 400
    in_review = client.api("PATCH", path, json={"actor": "team-lead", "status": "in_review"})
    assert in_review.status_code == 200
    review = client.detail(iid)["incident"]["review"]
    assert review["held_how"] == "rca_in_review" and review["held_by"] == "team-lead"
    published = client.api("PATCH", path, json={"actor": "cto", "status": "published"})
    assert published.status_code == 200 and published.json()["published_at"]
    again = client.api("PATCH", path, json={"actor": "cto", "status": "draft"})
    assert again.status_code == 409 and "published" in again.json()["detail"]
    kinds = [e["kind"] for e in client.api("GET", f"/incidents/{iid}/timeline", params={"limit": 500}
                                            ).json()["entries"]]
    assert "rca.in_review" in kinds and "rca.published" in kinds and "review.held" in kinds
    markdown = client.api("GET", f"{path}.md")
    assert markdown.status_code == 200 and markdown.headers["Content-Type"].startswith("text/markdown")
    assert f"incident: {iid}" in markdown.text and "| PM-1 | One Helm chart for config and code |" in markdown.text
    assert "status: published" in markdown.text and "Rolled back checkout to v41" in markdown.text


def test_the_historical_gke_rca_is_imported_once_and_listed_like_the_company_table(review_stack, resolved):
    _, _, client = review_stack
    first = client.api("POST", "/rcas/import", data=GKE.read_bytes(), headers={"Content-Type": "application/json"})
    assert first.status_code == 201, first.text
    again = client.api("POST", "/rcas/import", data=GKE.read_bytes(), headers={"Content-Type": "application/json"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] == \
        "RCA-2025-09-14-gke-auto-upgrade-failure"
    rows = client.api("GET", "/rcas", params={"severity": "critical"}).json()["rcas"]
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
    assert rows[-1]["title"] == "GKE Auto-Upgrade Failure" and rows[-1]["historical"]
    old = client.api("GET", "/rcas", params={"until": "2025-12-31"}).json()["rcas"]
    assert [r["id"] for r in old] == ["RCA-2025-09-14-gke-auto-upgrade-failure"]
    assert client.api("GET", "/rcas", params={"status": "nonsense"}).status_code == 400
    assert client.api("GET", "/rcas", params={"since": "yesterday"}).status_code == 400
    assert client.api("POST", "/rcas/import", json={"title": "x"}).status_code == 400


def test_metrics_and_the_weekly_digest_show_the_incident(review_stack, resolved):
    stack, slack, client = review_stack
    iid = resolved["incident"]["id"]
    today = datetime.now(UTC).date()
    report = client.api("GET", "/metrics", params={"since": today.isoformat(),
                                                   "until": (today + timedelta(days=1)).isoformat()})
    assert report.status_code == 200, report.text
    m = report.json()["metrics"]
    assert m["incidents"] >= 1 and m["by_severity"]["critical"] >= 1 and m["by_service"]["checkout"] >= 1
    assert m["time_to_acknowledge"]["count"] >= 1 and m["time_to_resolve"]["median_seconds"] is not None
    assert any(p["person_id"] == "devops-1" for p in m["pages_per_person"])
    assert client.api("GET", "/metrics", params={"since": "2026-12-05", "until": "2026-12-01"}).status_code == 400
    assert client.api("GET", "/metrics", params={"since": "soon"}).status_code == 400

    def scheduled() -> dict:
        return requests.post(f"{stack.base_url}/tasks/digest", json={}, timeout=30,
                             headers={"X-CloudScheduler": "true"}).json()

    first = scheduled()
    assert first["result"] == "posted" and first["incidents"] >= 1, first
    assert scheduled()["result"] == "already_posted"  # a duplicated scheduler call posts once
    post = [c for c in slack.calls_to("chat.postMessage") if "Weekly incident digest" in str(c.params.get("text"))]
    assert len(post) == 1 and post[0].params["channel"] == "C0INCIDENTS"
    assert "Incidents" in str(post[0].params.get("text"))
    upload = slack.uploads[first["file_id"]]
    assert upload.completed and upload.channel_id == "C0INCIDENTS" and upload.data.startswith(b"\x89PNG")
    assert upload.filename.endswith(".png") and upload.thread_ts == first["ts"]
    by_hand = client.api("POST", "/digest")
    assert by_hand.status_code == 200 and by_hand.json()["result"] == "posted"
    assert iid  # the incident is in the period counted above
    assert slack.problems == []


def test_incidentctl_shows_all_of_it(review_stack, resolved):
    stack, _, client = review_stack
    iid = resolved["incident"]["id"]
    listed = cli(stack, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert iid in [i["id"] for i in json.loads(listed.stdout)]
    table = cli(stack, "list", "--status", "resolved")
    assert table.returncode == 0 and iid in table.stdout and "\x1b[" not in table.stdout  # not a tty: no colour
    shown = cli(stack, "show", iid)
    assert shown.returncode == 0 and "Rolled back v42" in shown.stdout and "review.missed" in shown.stdout
    rcas = cli(stack, "rca", "list")
    assert rcas.returncode == 0 and f"RCA-{iid}" in rcas.stdout and "GKE Auto-Upgrade Failure" in rcas.stdout
    exported = cli(stack, "rca", "export", f"RCA-{iid}")
    assert exported.returncode == 0 and exported.stdout == client.api("GET", f"/rcas/RCA-{iid}.md").text
    metrics = cli(stack, "metrics", "--json")
    assert metrics.returncode == 0 and json.loads(metrics.stdout)["metrics"]["incidents"] >= 1
    assert "MTTA" in cli(stack, "metrics").stdout
    missing = cli(stack, "show", "INC-2026-9999")
    assert missing.returncode == 3 and "no incident INC-2026-9999" in missing.stderr
    wrong = cli(stack, "list", env={"API_TOKEN": "wrong"})
    assert wrong.returncode == 4 and "token" in wrong.stderr.lower()
    down = cli(stack, "list", env={"INCIDENT_API_URL": "http://127.0.0.1:9/api"})
    assert down.returncode == 5 and "cannot reach" in down.stderr.lower()


def test_incidentctl_runs_an_incident_from_declaration_to_resolution(review_stack):
    stack, _, client = review_stack
    title = f"Partner portal login slow {uuid.uuid4().hex[:6]}"
    declared = cli(stack, "declare", title, "--severity", "high", "--service", "partner-portal", "--reporter", "pm",
                   "--json")
    assert declared.returncode == 0, declared.stderr
    iid = json.loads(declared.stdout)["incident"]["id"]
    assert cli(stack, "ack", iid, "--actor", "devops-1").returncode == 0
    assigned = cli(stack, "assign", iid, "devops-2", "--actor", "team-lead")
    assert assigned.returncode == 0, assigned.stderr
    refused = cli(stack, "resolve", iid, "--actor", "team-lead")
    assert refused.returncode == 2 and "summary" in refused.stderr
    done = cli(stack, "resolve", iid, "--summary", "Cache warmed", "--actor", "team-lead", "--json")
    assert done.returncode == 0, done.stderr
    incident = json.loads(done.stdout)["incident"]
    assert incident["status"] == "resolved" and incident["owner"] == "devops-2"
    assert incident["review"]["rca_id"] == f"RCA-{iid}"
    assert client.api("GET", f"/rcas/RCA-{iid}").status_code == 200


def signed_post(stack: StackProcess, path: str, form: dict[str, str]) -> requests.Response:
    return signed_slack_post(stack.base_url, path, urllib.parse.urlencode(form).encode(), SIGNING_SECRET)


def slash(stack: StackProcess, text: str) -> requests.Response:
    return signed_post(stack, "commands", {"command": "/incident", "text": text, "user_id": "U0DEVOPS02",
                                           "user_name": "devops2", "team_id": "T1", "channel_id": "C0CRITICAL1",
                                           "trigger_id": TRIGGER})


def interact(stack: StackProcess, payload: dict) -> requests.Response:
    return signed_post(stack, "interactions", {"payload": json.dumps(payload)})


def submission(callback_id: str, metadata: str, values: dict[str, str], view_id: str) -> dict:
    return {"type": "view_submission", "user": DEVOPS_2, "trigger_id": TRIGGER,
            "view": {"id": view_id, "type": "modal", "callback_id": callback_id, "private_metadata": metadata,
                     "state": {"values": {k: {"value": {"type": "plain_text_input", "value": v}}
                                          for k, v in values.items()}}}}


def test_from_slack_notes_changes_the_message_shortcut_and_the_rca_section_modals(review_stack):
    stack, slack, client = review_stack
    incident = critical_incident(client, f"Trading orders rejected {uuid.uuid4().hex[:6]}")
    iid = incident["id"]
    noted = slash(stack, f"note {iid} Orders from the mobile app fail with 502")
    assert noted.status_code == 200 and "Added to the timeline" in noted.json()["text"], noted.text
    changed = slash(stack, f"change {iid} Raised the order gateway pool to 400")
    assert "Emergency change recorded" in changed.json()["text"]
    assert "needs an incident id" in slash(stack, "note").json()["text"]
    assert "No incident" in slash(stack, "note INC-2026-9999 hello there").json()["text"]
    entries = client.api("GET", f"/incidents/{iid}/timeline", params={"limit": 500}).json()["entries"]
    note = next(e for e in entries if e["kind"] == "note")
    assert note["actor"] == "DevOps Engineer Two" and note["source"] == "slack"
    assert any(e["kind"] == "change.recorded" and "pool to 400" in e["text"] for e in entries)

    # the message shortcut in the incident's own channel: the modal names the incident, a retry adds one note
    channel = eventually(lambda: client.detail(iid)["incident"]["incident_channel"], what="the incident channel")
    shortcut = {"type": "message_action", "callback_id": "incident_add_to_timeline", "trigger_id": TRIGGER,
                "user": DEVOPS_2, "channel": {"id": channel, "name": "x"}, "response_url": "https://hooks.slack.com/x",
                "message": {"type": "message", "ts": "1733300000.000100", "text": "Gateway pods OOM-killed at 14:05",
                            "user": "U0DEVOPS01"}}
    assert interact(stack, shortcut).status_code == 200
    view = [c for c in slack.calls_to("views.open") if c.params["view"]["callback_id"] == "timeline_add"][-1]
    assert view.params["view"]["blocks"][0]["element"]["initial_value"] == iid
    added = submission("timeline_add", view.params["view"]["private_metadata"],
                       {"incident": iid, "text": "Gateway pods OOM-killed at 14:05"}, "V0SHORTCUT1")
    for _ in range(2):  # Slack resends a submission it got no answer for in time
        answer = interact(stack, added)
        assert answer.status_code == 200 and answer.json() == {"response_action": "clear"}
    entries = client.api("GET", f"/incidents/{iid}/timeline", params={"limit": 500}).json()["entries"]
    copied = [e for e in entries if e["text"] == "Gateway pods OOM-killed at 14:05"]
    assert len(copied) == 1 and copied[0]["data"]["ts"] == "1733300000.000100"
    wrong = interact(stack, submission("timeline_add", "C1|1.2", {"incident": "nope", "text": "x"}, "V0BAD0001"))
    assert wrong.json()["response_action"] == "errors" and "incident" in wrong.json()["errors"]

    # the RCA: one modal per section
    assert client.api("POST", f"/incidents/{iid}/resolve", json={"actor": "team-lead", "summary": "Pool raised"}
                      ).status_code == 200
    editor = slash(stack, f"rca {iid}")
    assert editor.status_code == 200
    blocks = editor.json()["blocks"]
    assert check_blocks(blocks) == []
    button = next(b["accessory"] for b in blocks if b.get("accessory", {}).get("value") == f"RCA-{iid}|primary_cause")
    click = {"type": "block_actions", "user": DEVOPS_2, "trigger_id": TRIGGER, "container": {"type": "message"},
             "actions": [{"action_id": button["action_id"], "type": "button", "value": button["value"],
                          "block_id": "b1", "action_ts": "1733300001.000200"}]}
    assert interact(stack, click).status_code == 200
    modal = [c for c in slack.calls_to("views.open") if c.params["view"]["callback_id"] == "rca_section"][-1]
    assert modal.params["view"]["private_metadata"] == f"RCA-{iid}|primary_cause"
    saved = interact(stack, submission("rca_section", f"RCA-{iid}|primary_cause",
                                       {"text": "The gateway pool was sized for last year's peak"}, "V0RCASEC01"))
    assert saved.json() == {"response_action": "clear"}
    rca = client.api("GET", f"/rcas/RCA-{iid}").json()
    assert rca["sections"]["primary_cause"] == "The gateway pool was sized for last year's peak"
    assert rca["history"][-1]["by"] == "DevOps Engineer Two"
    held = slash(stack, f"review {iid} held with PM and CTO")
    assert "marked held" in held.json()["text"]
    assert client.detail(iid)["incident"]["review"]["held_how"] == "marked"
    assert slack.problems == []
