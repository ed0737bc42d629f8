"""Tests for the Freshdesk API fake, driven with ``requests`` over loopback, plus the Freshchat signer.

Why: the Freshdesk adapter's tests trust this fake to accept what Freshdesk accepts, reject what it rejects
with Freshdesk's status and body, and record every violation, so its contract is pinned here.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.fakes.freshchat import TEST_PUBLIC_KEY_PEM, freshchat_headers, sign_freshchat
from tests.fakes.freshdesk_api import FakeFreshdesk

REPO_ROOT = Path(__file__).resolve().parents[2]
PARTNERS = REPO_ROOT / "tests" / "fixtures" / "partners"

TICKET = {
    "subject": "[SEV2] Checkout API 5xx > 5%",
    "description": "<p>Auto-opened by incident <b>INC-2026-0001</b>.</p>",
    "email": "oncall@acme.example",
    "priority": 3,
    "status": 2,
    "source": 2,
    "type": "Incident",
    "tags": ["incident", "INC-2026-0001"],
    "custom_fields": {"cf_incident_id": "INC-2026-0001"},
}


@pytest.fixture
def fd() -> Iterator[FakeFreshdesk]:
    with FakeFreshdesk() as fake:
        yield fake


@pytest.fixture
def api(fd: FakeFreshdesk) -> requests.Session:
    session = requests.Session()
    session.auth = (fd.api_key, "X")
    return session


def url(fd: FakeFreshdesk, path: str) -> str:
    return f"{fd.base_url}/api/v2{path}"


def create(fd: FakeFreshdesk, api: requests.Session, **overrides: object) -> dict:
    response = api.post(url(fd, "/tickets"), json={**TICKET, **overrides}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_ticket_answers_201_with_a_realistic_ticket(fd: FakeFreshdesk, api: requests.Session) -> None:
    response = api.post(url(fd, "/tickets"), json=TICKET, timeout=5)

    assert response.status_code == 201
    ticket = response.json()
    assert ticket["subject"] == TICKET["subject"] and ticket["status"] == 2 and ticket["priority"] == 3
    assert ticket["description_text"] == "Auto-opened by incident INC-2026-0001."
    assert ticket["tags"] == ["incident", "INC-2026-0001"]
    assert ticket["custom_fields"] == {"cf_incident_id": "INC-2026-0001"}
    assert ticket["requester_id"] == fd.contact_id("oncall@acme.example")
    for key in ("due_by", "fr_due_by", "created_at", "updated_at", "is_escalated", "responder_id", "group_id"):
        assert key in ticket
    for header in ("X-RateLimit-Total", "X-RateLimit-Remaining", "X-RateLimit-Used-CurrentRequest"):
        assert header in response.headers
    assert fd.tickets[ticket["id"]]["subject"] == TICKET["subject"]
    got = api.get(url(fd, f"/tickets/{ticket['id']}"), timeout=5)
    assert got.status_code == 200 and got.json()["id"] == ticket["id"]
    assert fd.problems == []
    assert fd.requests[0].json == TICKET and fd.requests[0].status == 201


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"subject": None}, "subject", "missing_field"),
        ({"description": 42}, "description", "datatype_mismatch"),
        ({"priority": 5}, "priority", "invalid_value"),
        ({"priority": "4"}, "priority", "datatype_mismatch"),
        ({"status": 6}, "status", "invalid_value"),
        ({"source": 4}, "source", "invalid_value"),
        ({"type": "Outage"}, "type", "invalid_value"),
        ({"tags": "incident"}, "tags", "datatype_mismatch"),
        ({"cc_emails": ["not-an-email"]}, "cc_emails", "invalid_value"),
        ({"group_id": "7"}, "group_id", "datatype_mismatch"),
        ({"severity": "SEV2"}, "severity", "invalid_field"),
        ({"custom_fields": {"incident_id": "x"}}, "incident_id", "invalid_field"),
        ({"email": None}, "requester_id", "missing_field"),
        ({"email": None, "requester_id": 1}, "requester_id", "invalid_value"),
    ],
)
def test_create_ticket_rejects_invalid_fields_the_way_freshdesk_does(
    fd: FakeFreshdesk, api: requests.Session, change: dict, field: str, code: str
) -> None:
    body = {**TICKET, **change}
    body = {k: v for k, v in body.items() if v is not None}

    response = api.post(url(fd, "/tickets"), json=body, timeout=5)

    assert response.status_code == 400
    payload = response.json()
    assert payload["description"] == "Validation failed"
    assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]} for e in payload["errors"]]
    assert any(field in p and code in p for p in fd.problems)
    assert fd.tickets == {}


def test_custom_statuses_and_configured_custom_fields() -> None:
    with FakeFreshdesk(custom_statuses=[6], custom_fields=["cf_incident_id"]) as fd:
        auth = (fd.api_key, "X")
        ok = requests.post(url(fd, "/tickets"), auth=auth, json={**TICKET, "status": 6}, timeout=5)
        bad = requests.post(
            url(fd, "/tickets"), auth=auth, json={**TICKET, "custom_fields": {"cf_other": "x"}}, timeout=5
        )
        assert ok.status_code == 201 and bad.status_code == 400
        assert bad.json()["errors"][0]["field"] == "cf_other"


def test_auth_failures_answer_401_invalid_credentials(fd: FakeFreshdesk) -> None:
    expected = {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
    missing = requests.post(url(fd, "/tickets"), json=TICKET, timeout=5)
    wrong = requests.post(url(fd, "/tickets"), json=TICKET, auth=("other-key", "X"), timeout=5)
    bearer = requests.get(url(fd, "/tickets/1"), headers={"Authorization": f"Bearer {fd.api_key}"}, timeout=5)
    any_password = requests.post(url(fd, "/tickets"), json=TICKET, auth=(fd.api_key, "anything"), timeout=5)

    assert (missing.status_code, missing.json()) == (401, expected)
    assert (wrong.status_code, wrong.json()) == (401, expected)
    assert bearer.status_code == 401
    assert any_password.status_code == 201
    assert len(fd.problems) == 3 and all("invalid_credentials" in p for p in fd.problems)
    assert "X-RateLimit-Remaining" in missing.headers


def test_content_type_and_json_body_are_checked(fd: FakeFreshdesk, api: requests.Session) -> None:
    form = api.post(url(fd, "/tickets"), data={"subject": "x"}, timeout=5)
    broken = api.post(url(fd, "/tickets"), data=b"{not json", headers={"Content-Type": "application/json"}, timeout=5)
    array = api.post(url(fd, "/tickets"), json=[TICKET], timeout=5)

    assert form.status_code == 415 and form.json()["code"] == "invalid_content_type"
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_json"
    assert array.status_code == 400 and array.json()["code"] == "invalid_json"
    assert len(fd.problems) == 3


def test_update_ticket_is_partial_and_checked(fd: FakeFreshdesk, api: requests.Session) -> None:
    ticket = create(fd, api)

    updated = api.put(url(fd, f"/tickets/{ticket['id']}"), json={"status": 4, "tags": ["incident", "resolved"]},
                      timeout=5)
    bad = api.put(url(fd, f"/tickets/{ticket['id']}"), json={"status": 9}, timeout=5)
    missing = api.put(url(fd, "/tickets/999999"), json={"status": 4}, timeout=5)

    assert updated.status_code == 200
    assert updated.json()["status"] == 4 and updated.json()["subject"] == TICKET["subject"]
    assert fd.tickets[ticket["id"]]["tags"] == ["incident", "resolved"]
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalid_value"
    assert missing.status_code == 404 and missing.content == b""
    assert len(fd.problems) == 2


def test_notes_replies_and_conversations(fd: FakeFreshdesk, api: requests.Session) -> None:
    ticket = create(fd, api)
    tid = ticket["id"]

    note = api.post(url(fd, f"/tickets/{tid}/notes"),
                    json={"body": "<p><b>Update:</b> mitigated</p>", "notify_emails": ["lead@acme.example"]},
                    timeout=5)
    public = api.post(url(fd, f"/tickets/{tid}/notes"), json={"body": "<p>public</p>", "private": False}, timeout=5)
    reply = api.post(url(fd, f"/tickets/{tid}/reply"), json={"body": "<p>We are on it.</p>",
                                                             "cc_emails": ["cto@partner.example"]}, timeout=5)

    assert note.status_code == 201
    assert note.json()["private"] is True and note.json()["body_text"] == "Update: mitigated"
    assert note.json()["notified_to"] == ["lead@acme.example"] and note.json()["ticket_id"] == tid
    assert public.json()["private"] is False
    assert reply.status_code == 201 and reply.json()["to_emails"] == ["oncall@acme.example"]
    convs = api.get(url(fd, f"/tickets/{tid}/conversations"), timeout=5).json()
    assert [c["body_text"] for c in convs] == ["Update: mitigated", "public", "We are on it."]
    assert [c["source"] for c in convs] == [2, 2, 0]
    assert {"id", "body", "private", "incoming", "created_at", "user_id"} <= set(convs[0])
    assert len(fd.notes(tid)) == 2 and len(fd.replies(tid)) == 1
    assert len(fd.tickets[tid]["conversations"]) == 3
    assert fd.problems == []

    page = api.get(url(fd, f"/tickets/{tid}/conversations"), params={"per_page": 2}, timeout=5)
    assert len(page.json()) == 2 and 'rel="next"' in page.headers["Link"]
    nxt = page.headers["Link"].split(">")[0].lstrip("<")
    assert [c["body_text"] for c in api.get(nxt, timeout=5).json()] == ["We are on it."]


@pytest.mark.parametrize(
    ("path", "body", "field", "code"),
    [
        ("notes", {}, "body", "missing_field"),
        ("notes", {"body": "x", "private": "yes"}, "private", "datatype_mismatch"),
        ("notes", {"body": "x", "notify_emails": "a@b.example"}, "notify_emails", "datatype_mismatch"),
        ("notes", {"body": "x", "visibility": "internal"}, "visibility", "invalid_field"),
        ("reply", {"body": "x", "private": True}, "private", "invalid_field"),
        ("reply", {"body": "x", "bcc_emails": ["nope"]}, "bcc_emails", "invalid_value"),
    ],
)
def test_notes_and_replies_reject_bad_bodies(
    fd: FakeFreshdesk, api: requests.Session, path: str, body: dict, field: str, code: str
) -> None:
    tid = create(fd, api)["id"]

    response = api.post(url(fd, f"/tickets/{tid}/{path}"), json=body, timeout=5)

    assert response.status_code == 400
    assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]}
                                              for e in response.json()["errors"]]
    assert fd.conversations(tid) == [] and fd.problems


def test_search_by_tag_newest_first_and_other_clauses(fd: FakeFreshdesk, api: requests.Session) -> None:
    first = create(fd, api, tags=["INC-2026-0001"])
    other = create(fd, api, tags=["INC-2026-0002"], custom_fields={"cf_incident_id": "INC-2026-0002"})
    second = create(fd, api, tags=["inc-2026-0001", "security"], status=3)

    found = api.get(url(fd, "/search/tickets"), params={"query": "\"tag:'INC-2026-0001'\""}, timeout=5)
    assert found.status_code == 200
    assert found.json()["total"] == 2
    # Same-second creation: newest first falls back to the higher id.
    assert [t["id"] for t in found.json()["results"]] == [second["id"], first["id"]]
    assert "description" not in found.json()["results"][0]

    def ids(query: str) -> list[int]:
        response = api.get(url(fd, "/search/tickets"), params={"query": f'"{query}"'}, timeout=5)
        assert response.status_code == 200, response.text
        return sorted(t["id"] for t in response.json()["results"])

    assert ids("tag:'INC-2026-0001' AND status:3") == [second["id"]]
    assert ids("incident_id:'INC-2026-0002'") == [other["id"]]
    assert ids("custom_string:'INC-2026-0002'") == [other["id"]]
    assert ids("(tag:'security' OR tag:'INC-2026-0002') AND priority:3") == [other["id"], second["id"]]
    assert fd.problems == []


def test_search_requires_a_quoted_valid_query(fd: FakeFreshdesk, api: requests.Session) -> None:
    unquoted = api.get(url(fd, "/search/tickets"), params={"query": "tag:'x'"}, timeout=5)
    garbage = api.get(url(fd, "/search/tickets"), params={"query": '"tag:x y"'}, timeout=5)
    missing = api.get(url(fd, "/search/tickets"), timeout=5)

    for response in (unquoted, garbage, missing):
        assert response.status_code == 400
        assert response.json()["description"] == "Validation failed"
        assert response.json()["errors"][0]["field"] == "query"
    assert len(fd.problems) == 3


def test_rate_limit_failure_and_outage_injection(fd: FakeFreshdesk, api: requests.Session) -> None:
    fd.rate_limit_next(2, retry_after=7)
    limited = [api.get(url(fd, "/search/tickets"), params={"query": "\"tag:'x'\""}, timeout=5) for _ in range(2)]
    assert [r.status_code for r in limited] == [429, 429]
    assert limited[0].headers["Retry-After"] == "7" and "X-RateLimit-Total" in limited[0].headers

    fd.fail_next(1, status=502)
    assert api.post(url(fd, "/tickets"), json=TICKET, timeout=5).status_code == 502
    assert api.post(url(fd, "/tickets"), json=TICKET, timeout=5).status_code == 201

    fd.outage(True)
    assert [api.post(url(fd, "/tickets"), json=TICKET, timeout=5).status_code for _ in range(3)] == [503] * 3
    fd.outage(False)
    assert api.post(url(fd, "/tickets"), json=TICKET, timeout=5).status_code == 201
    assert [r.status for r in fd.requests] == [429, 429, 502, 201, 503, 503, 503, 201]
    assert len(fd.tickets) == 2 and fd.problems == []


def test_per_minute_limit_answers_429_with_retry_after() -> None:
    with FakeFreshdesk(limit_per_minute=2) as fd:
        auth = (fd.api_key, "X")
        codes = [requests.post(url(fd, "/tickets"), auth=auth, json=TICKET, timeout=5) for _ in range(3)]
        assert [r.status_code for r in codes] == [201, 201, 429]
        assert int(codes[2].headers["Retry-After"]) >= 1
        assert codes[1].headers["X-RateLimit-Remaining"] == "0"


def test_partner_seeding_wait_for_and_control_endpoints(fd: FakeFreshdesk, api: requests.Session) -> None:
    seeded = fd.create_ticket_as_partner(subject="UPI down", email="ops@bank.example", tags=["outage"])
    assert fd.requests == []
    assert api.get(url(fd, f"/tickets/{seeded['id']}"), timeout=5).json()["subject"] == "UPI down"
    phone = fd.create_ticket_as_partner(source=3, created_by_agent="pst1@example.com")
    assert phone["source"] == 3 and "created_by_agent_id" in phone
    fd.add_requester_reply(seeded["id"], "<p>Still failing</p>")
    assert fd.conversations(seeded["id"])[0]["incoming"] is True

    assert len(fd.wait_for(lambda r: r.method == "GET", timeout=1)) == 1
    with pytest.raises(AssertionError):
        fd.wait_for("/api/v2/tickets", timeout=0.05)

    base = fd.base_url
    assert requests.post(f"{base}/_fault", json={"kind": "fail", "status": 500}, timeout=5).status_code == 200
    assert api.get(url(fd, f"/tickets/{seeded['id']}"), timeout=5).status_code == 500
    assert requests.post(f"{base}/_fault", json={"kind": "outage", "on": True}, timeout=5).ok
    assert api.get(url(fd, f"/tickets/{seeded['id']}"), timeout=5).status_code == 503
    assert requests.post(f"{base}/_fault", json={"kind": "outage", "on": False}, timeout=5).ok
    assert str(seeded["id"]) in requests.get(f"{base}/_tickets", timeout=5).json()
    assert len(requests.get(f"{base}/_requests", timeout=5).json()) == 3
    assert requests.get(f"{base}/_problems", timeout=5).json() == []
    assert requests.post(f"{base}/_reset", timeout=5).ok
    assert fd.tickets == {} and fd.requests == []


def test_out_of_process_mode_prints_the_base_url() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.freshdesk_api", "--port", "0"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        response = requests.post(f"{base}/api/v2/tickets", auth=("test-key", "X"), json=TICKET, timeout=5)
        assert response.status_code == 201
        assert requests.get(f"{base}/_problems", timeout=5).json() == []
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_freshchat_signature_verifies_with_the_test_public_key() -> None:
    body = (PARTNERS / "freshchat_message_create_user_outage.json").read_bytes()
    headers = freshchat_headers(body)
    public_key = serialization.load_pem_public_key(TEST_PUBLIC_KEY_PEM.encode())

    public_key.verify(base64.b64decode(headers["X-Freshchat-Signature"]), body, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public_key.verify(base64.b64decode(sign_freshchat(body)), body + b" ", padding.PKCS1v15(), hashes.SHA256())


def test_partner_fixtures_are_well_formed() -> None:
    for path in PARTNERS.glob("freshdesk_simple_*.json"):
        hook = json.loads(path.read_text())["freshdesk_webhook"]
        assert {"ticket_id", "ticket_subject", "ticket_status", "ticket_priority", "requester_email",
                "triggered_event", "ticket_url"} <= set(hook), path.name
    advanced = json.loads((PARTNERS / "freshdesk_advanced_ticket_created.json").read_text())
    assert all(isinstance(v, str) for v in advanced.values())
    form = parse_qs((PARTNERS / "freshdesk_form_ticket_created.txt").read_text())
    assert form["ticket_priority"] == ["Urgent"]
    for path in PARTNERS.glob("freshchat_*.json"):
        event = json.loads(path.read_text())
        assert event["action"] in {"message_create", "conversation_assignment", "conversation_resolution",
                                   "conversation_reopen"}
        assert event["actor"]["actor_type"] in {"user", "agent", "system"}
