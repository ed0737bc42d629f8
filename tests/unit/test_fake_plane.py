"""Tests for the Plane API v1 fake, driven with ``requests`` over loopback.

Why: the Plane adapter's tests trust this fake to answer like Plane's DRF views (status and body) and to
record every violation, so its contract is pinned here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fakes.plane_api import FakePlane, html_is_valid, work_items_url

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plane() -> Iterator[FakePlane]:
    with FakePlane() as fake:
        yield fake


@pytest.fixture
def api(plane: FakePlane) -> requests.Session:
    session = requests.Session()
    session.headers["X-API-Key"] = plane.api_key
    return session


def body(plane: FakePlane, **overrides: object) -> dict:
    return {
        "name": "INC-2026-0001 follow-up: add circuit breaker to payment-gateway client",
        "description_html": "<p>Postmortem action item from <b>INC-2026-0001</b>.</p>",
        "priority": "high",
        "state": plane.state_ids["Todo"],
        "labels": [plane.label_ids["postmortem"]],
        "assignees": [plane.member_ids["alice"]],
        "start_date": "2026-12-05",
        "target_date": "2026-12-21",
        "external_source": "incident-bot",
        "external_id": "INC-2026-0001-AI-1",
        **overrides,
    }


def test_create_work_item_answers_201_with_a_realistic_item(plane: FakePlane, api: requests.Session) -> None:
    response = api.post(work_items_url(plane), json=body(plane), timeout=5)

    assert response.status_code == 201, response.text
    item = response.json()
    assert item["name"].startswith("INC-2026-0001 follow-up")
    assert item["state"] == plane.state_ids["Todo"] and item["priority"] == "high"
    assert item["labels"] == [plane.label_ids["postmortem"]] and item["assignees"] == [plane.member_ids["alice"]]
    assert item["sequence_id"] == 1 and item["project"] == plane.project_id
    assert item["workspace"] == plane.workspace_id and item["completed_at"] is None
    assert (item["external_source"], item["external_id"]) == ("incident-bot", "INC-2026-0001-AI-1")
    for key in ("created_at", "updated_at", "target_date", "sort_order", "parent", "archived_at"):
        assert key in item
    got = api.get(work_items_url(plane, item["id"]), timeout=5)
    assert got.status_code == 200 and got.json() == item
    assert plane.items[item["id"]]["name"] == item["name"]
    assert plane.problems == []


def test_deprecated_issues_alias_and_defaults(plane: FakePlane, api: requests.Session) -> None:
    alias = f"{plane.base_url}/api/v1/workspaces/{plane.workspace}/projects/{plane.project_id}/issues/"

    response = api.post(alias, json={"name": "Minimal"}, timeout=5)

    assert response.status_code == 201
    item = response.json()
    assert item["state"] == plane.default_state_id and item["priority"] == "none"
    assert item["labels"] == [] and item["description_html"] == "<p></p>"
    assert plane.problems == []


def test_duplicate_external_pair_answers_409_with_the_existing_id(plane: FakePlane, api: requests.Session) -> None:
    first = api.post(work_items_url(plane), json=body(plane), timeout=5).json()

    again = api.post(work_items_url(plane), json=body(plane, name="retry"), timeout=5)
    other_source = api.post(work_items_url(plane), json=body(plane, external_source="other"), timeout=5)
    lookup = api.get(work_items_url(plane, external_id="INC-2026-0001-AI-1", external_source="incident-bot"),
                     timeout=5)

    assert again.status_code == 409
    assert again.json() == {
        "error": "Issue with the same external id and external source already exists",
        "id": first["id"],
    }
    assert other_source.status_code == 201
    assert lookup.status_code == 200 and lookup.json()["id"] == first["id"]
    assert len(plane.items) == 2
    assert plane.problems == []  # a 409 is the idempotency contract, not a violation


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"name": None}, {"name": ["This field is required."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"name": "x" * 256}, {"name": ["Ensure this field has no more than 255 characters."]}),
        ({"priority": "critical"}, {"priority": ['"critical" is not a valid choice.']}),
        ({"state": "not-a-uuid"}, {"state": ["“not-a-uuid” is not a valid UUID."]}),
        ({"state": "00000000-0000-4000-8000-000000000000"},
         {"state": ['Invalid pk "00000000-0000-4000-8000-000000000000" - object does not exist.']}),
        ({"target_date": "21/12/2026"},
         {"target_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
        ({"start_date": "2026-12-22"}, {"non_field_errors": ["Start date cannot exceed target date"]}),
        ({"description_html": "<p>latency < 5ms</p>"}, {"non_field_errors": ["Invalid HTML passed"]}),
        ({"labels": ["nope"]}, {"labels": ["“nope” is not a valid UUID."]}),
    ],
)
def test_invalid_bodies_answer_400_like_plane(
    plane: FakePlane, api: requests.Session, overrides: dict, expected: dict
) -> None:
    payload = {k: v for k, v in body(plane, **overrides).items() if v is not None}

    response = api.post(work_items_url(plane), json=payload, timeout=5)

    assert response.status_code == 400
    assert response.json() == expected
    assert plane.items == {} and len(plane.problems) == 1


def test_labels_and_assignees_outside_the_project_are_dropped_and_reported(
    plane: FakePlane, api: requests.Session
) -> None:
    stranger = "11111111-1111-4111-8111-111111111111"
    response = api.post(
        work_items_url(plane),
        json=body(plane, labels=[plane.label_ids["incident"], stranger], assignees=[plane.outsider_id]),
        timeout=5,
    )

    assert response.status_code == 201
    assert response.json()["labels"] == [plane.label_ids["incident"]] and response.json()["assignees"] == []
    assert len(plane.problems) == 2 and "silently dropped" in plane.problems[0]


def test_unknown_body_fields_are_ignored_but_reported(plane: FakePlane, api: requests.Session) -> None:
    response = api.post(work_items_url(plane), json=body(plane, state_id=plane.state_ids["Done"]), timeout=5)

    assert response.status_code == 201 and response.json()["state"] == plane.state_ids["Todo"]
    assert plane.problems == [f"POST {work_items_url(plane)[len(plane.base_url):]}: field 'state_id' is not a "
                              "Plane v1 work-item field and is ignored"]


def test_auth_workspace_project_and_slash_failures(plane: FakePlane, api: requests.Session) -> None:
    missing = requests.post(work_items_url(plane), json=body(plane), timeout=5)
    wrong = requests.post(work_items_url(plane), json=body(plane), headers={"x-api-key": "plane_api_other"}, timeout=5)
    lower = requests.get(f"{plane.base_url}/api/v1/workspaces/{plane.workspace}/projects/{plane.project_id}/states/",
                         headers={"x-api-key": plane.api_key}, timeout=5)
    other_ws = api.post(work_items_url(plane).replace("/acme/", "/globex/"), json=body(plane), timeout=5)
    no_slash = api.post(work_items_url(plane).rstrip("/"), json=body(plane), timeout=5)
    unknown_item = api.get(work_items_url(plane, "6f1c2e0a-0000-4000-8000-000000000000"), timeout=5)
    form = api.post(work_items_url(plane), data={"name": "x"}, timeout=5)

    assert (missing.status_code, missing.json()) == (403, {"detail": "Authentication credentials were not provided."})
    assert (wrong.status_code, wrong.json()) == (403, {"detail": "Given API token is not valid"})
    assert lower.status_code == 200
    assert other_ws.status_code == 403
    assert other_ws.json() == {"detail": "You do not have permission to perform this action."}
    assert no_slash.status_code == 404 and no_slash.headers["Content-Type"].startswith("text/html")
    assert (unknown_item.status_code, unknown_item.json()) == (404, {"error": "The requested resource does not exist."})
    assert form.status_code == 415
    assert plane.items == {} and len(plane.problems) == 6


def test_states_list_is_paginated_like_plane_v1(plane: FakePlane, api: requests.Session) -> None:
    url = f"{plane.base_url}/api/v1/workspaces/{plane.workspace}/projects/{plane.project_id}/states/"

    page = api.get(url, timeout=5).json()

    assert page["total_count"] == 5 and page["next_page_results"] is False and "next_cursor" in page
    states = {s["name"]: s for s in page["results"]}
    assert list(states) == ["Backlog", "Todo", "In Progress", "Done", "Cancelled"]
    assert states["Backlog"]["default"] is True and states["Done"]["group"] == "completed"
    assert {s["id"] for s in page["results"]} == set(plane.state_ids.values())
    small = api.get(url, params={"per_page": 2, "cursor": "2:1:0"}, timeout=5).json()
    assert [s["name"] for s in small["results"]] == ["In Progress", "Done"] and small["next_page_results"] is True


def test_patch_and_move_update_state_and_completed_at(plane: FakePlane, api: requests.Session) -> None:
    item = api.post(work_items_url(plane), json=body(plane), timeout=5).json()

    patched = api.patch(work_items_url(plane, item["id"]), json={"priority": "urgent",
                                                                 "state": plane.state_ids["Done"]}, timeout=5)
    assert patched.status_code == 200
    assert patched.json()["priority"] == "urgent" and patched.json()["completed_at"] is not None
    bad = api.patch(work_items_url(plane, item["id"]), json={"target_date": "2026-12-01"}, timeout=5)
    assert bad.status_code == 400  # before start_date 2026-12-05

    moved = plane.move(item["id"], "In Progress")
    assert moved["state"] == plane.state_ids["In Progress"] and moved["completed_at"] is None
    assert api.get(work_items_url(plane, item["id"]), timeout=5).json()["state"] == plane.state_ids["In Progress"]

    other = api.post(work_items_url(plane), json=body(plane, external_id="INC-2026-0001-AI-2"), timeout=5).json()
    clash = api.patch(work_items_url(plane, other["id"]), json={"external_id": "INC-2026-0001-AI-1"}, timeout=5)
    assert clash.status_code == 409


def test_fault_injection_and_control_endpoints(plane: FakePlane, api: requests.Session) -> None:
    plane.rate_limit_next(1, retry_after=3)
    limited = api.post(work_items_url(plane), json=body(plane), timeout=5)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert limited.json() == {"detail": "Request was throttled. Expected available in 3 seconds."}

    plane.fail_next(1, status=500)
    assert api.post(work_items_url(plane), json=body(plane), timeout=5).status_code == 500
    plane.outage(True)
    assert api.post(work_items_url(plane), json=body(plane), timeout=5).status_code == 503
    plane.outage(False)
    created = api.post(work_items_url(plane), json=body(plane), timeout=5)
    assert created.status_code == 201
    assert [r.status for r in plane.requests] == [429, 500, 503, 201]
    assert plane.wait_for(lambda r: r.status == 201, timeout=1)[0].json["name"].startswith("INC-2026-0001")

    base = plane.base_url
    assert requests.post(f"{base}/_fault", json={"kind": "rate_limit", "retry_after": 2}, timeout=5).ok
    assert api.get(work_items_url(plane, created.json()["id"]), timeout=5).status_code == 429
    info = requests.get(f"{base}/_project", timeout=5).json()
    assert info["state_ids"]["Done"] == plane.state_ids["Done"]
    moved = requests.post(f"{base}/_move", json={"item_id": created.json()["id"], "state": "Done"}, timeout=5)
    assert moved.json()["state"] == plane.state_ids["Done"]
    assert created.json()["id"] in requests.get(f"{base}/_items", timeout=5).json()
    assert requests.get(f"{base}/_problems", timeout=5).json() == []
    assert requests.post(f"{base}/_reset", timeout=5).ok
    assert plane.items == {} and plane.requests == []


def test_per_minute_limit() -> None:
    with FakePlane(limit_per_minute=1) as plane:
        headers = {"X-API-Key": plane.api_key}
        url = f"{plane.base_url}/api/v1/workspaces/{plane.workspace}/projects/{plane.project_id}/states/"
        assert [requests.get(url, headers=headers, timeout=5).status_code for _ in range(2)] == [200, 429]


def test_out_of_process_mode_prints_the_base_url() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.plane_api", "--port", "0"],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        info = requests.get(f"{base}/_project", timeout=5).json()
        url = f"{base}/api/v1/workspaces/{info['workspace']}/projects/{info['project_id']}/work-items/"
        response = requests.post(url, headers={"X-API-Key": info["api_key"]}, json={"name": "x"}, timeout=5)
        assert response.status_code == 201
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_html_check() -> None:
    assert html_is_valid("<p>a <b>b</b> &lt; c<br/></p><!-- note -->")
    assert not html_is_valid("<p>a < b</p>")
    assert not html_is_valid("<p>unclosed <b")
