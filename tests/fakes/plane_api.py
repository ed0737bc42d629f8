"""A fake of Plane's REST API v1 (work items and states) served over real HTTP on loopback.

Why: the Plane adapter is written with ``requests`` against ``<PLANE_URL>/api/v1/workspaces/<slug>/...``.
Pointing it at this server runs the production code unchanged. The server checks each request the way
Plane's Django REST Framework views do and answers violations with Plane's status and body; every violation
is also collected in ``FakePlane.problems`` so tests can assert there were none.

Behaviour taken from Plane's source (makeplane/plane ``apps/api/plane/api``):

- Auth (``middleware/api_authentication.py``): header ``X-Api-Key`` (any case). The authenticator defines no
  ``authenticate_header``, so DRF answers **403** both when the header is missing
  (``{"detail": "Authentication credentials were not provided."}``) and when the key is wrong
  (``{"detail": "Given API token is not valid"}``). Treat 401 and 403 alike in the adapter.
- Unknown workspace or project: ``ProjectEntityPermission`` finds no membership, so **403**
  ``{"detail": "You do not have permission to perform this action."}``.
- Unknown work item: ``{"error": "The requested resource does not exist."}`` with 404.
- Serializer errors: 400 ``{field: [message]}`` or ``{"non_field_errors": [message]}`` (invalid HTML,
  start date after target date); duplicate ``(external_source, external_id)``: 409
  ``{"error": "Issue with the same external id and external source already exists", "id": "<uuid>"}``.
- Routes end in ``/``; without it Django answers 404 (HTML). Labels and assignees outside the project are
  silently dropped by Plane; the fake drops them too but records a problem, because the caller meant them.
  Unknown body fields are ignored by Plane; the fake records them as problems (a ``state_id`` typo would
  otherwise go unnoticed).
- 429: ``{"detail": "Request was throttled. Expected available in N seconds."}`` with ``Retry-After``.

In process::

    with FakePlane() as plane:
        url = f"{plane.base_url}/api/v1/workspaces/{plane.workspace}/projects/{plane.project_id}/work-items/"
        requests.post(url, headers={"X-API-Key": plane.api_key}, json={"name": "..."})
        assert plane.problems == []

Out of process::

    python -m tests.fakes.plane_api --port 0       # prints the base URL
    GET /_items  GET /_requests  GET /_problems  GET /_project  POST /_reset
    POST /_fault {"kind": "rate_limit"|"fail"|"outage", ...}  POST /_move {"item_id": ..., "state": "Done"}
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import uuid
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from tests.fakes.freshdesk_api import Answer, LoopbackFake, _Req, serve_main

__all__ = ["DEFAULT_API_KEY", "DEFAULT_PROJECT_ID", "FakePlane", "html_is_valid", "main", "work_items_url"]

DEFAULT_API_KEY = "plane_api_test"
DEFAULT_WORKSPACE = "acme"
DEFAULT_PROJECT_ID = "4af68566-94a4-4eb3-94aa-50dc9427067b"
PRIORITIES = ("urgent", "high", "medium", "low", "none")
STATE_GROUPS = ("backlog", "unstarted", "started", "completed", "cancelled")
# name, group, colour; the first is the project's default state.
SEEDED_STATES = (
    ("Backlog", "backlog", "#60646C"),
    ("Todo", "unstarted", "#60646C"),
    ("In Progress", "started", "#F59E0B"),
    ("Done", "completed", "#46A758"),
    ("Cancelled", "cancelled", "#9AA4BC"),
)
SEEDED_LABELS = (("incident", "#EF4444"), ("postmortem", "#3B82F6"), ("security", "#A855F7"))
SEEDED_MEMBERS = ("alice", "bob")
WRITE_FIELDS = {
    "name", "description_html", "priority", "state", "labels", "assignees", "parent", "estimate_point", "type_id",
    "start_date", "target_date", "external_id", "external_source", "sort_order", "is_draft", "archived_at",
    "point", "module", "cycle",
}

_ROUTE = re.compile(
    r"^/api/v1/workspaces/(?P<slug>[^/]+)/projects/(?P<project>[^/]+)/"
    r"(?P<kind>work-items|issues|states|labels|members)/(?:(?P<item>[^/]+)/)?$"
)
_TAG_OK = re.compile(r"<(?:/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?|!--.*?--|![A-Za-z][^<>]*)>", re.S)


def _uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-plane:{seed}"))


def _now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def html_is_valid(text: str) -> bool:
    """Reject what Plane's sanitiser refuses outright: a '<' that does not open a well-formed tag."""
    stripped = _TAG_OK.sub("", text)
    return "<" not in stripped and ">" not in stripped.replace("&gt;", "")


class FakePlane(LoopbackFake):
    """Plane API v1 fake on 127.0.0.1; see the module docstring."""

    name = "plane"

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        workspace: str = DEFAULT_WORKSPACE,
        project_id: str = DEFAULT_PROJECT_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.workspace = workspace
        self.project_id = project_id
        self.workspace_id = _uuid(f"workspace:{workspace}")
        self.user_id = _uuid("user:api-token-owner")
        self.state_ids = {name: _uuid(f"{project_id}:state:{name}") for name, _, _ in SEEDED_STATES}
        self.default_state_id = self.state_ids[SEEDED_STATES[0][0]]
        self.label_ids = {name: _uuid(f"{project_id}:label:{name}") for name, _ in SEEDED_LABELS}
        self.member_ids = {name: _uuid(f"member:{name}") for name in SEEDED_MEMBERS}
        self.outsider_id = _uuid("member:outsider")  # a real user who is not a project member
        self._reset_state()

    def _reset_state(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._next_sequence = 1

    # -- inspection and simulation --------------------------------------------------------------------

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        """Work items by id, as the API returns them."""
        with self._cond:
            return copy.deepcopy(self._items)

    @property
    def states(self) -> list[dict[str, Any]]:
        return [self._state(name, group, colour, i) for i, (name, group, colour) in enumerate(SEEDED_STATES)]

    def state_name(self, state_id: str) -> str | None:
        return next((n for n, i in self.state_ids.items() if i == state_id), None)

    def item_by_external(self, external_source: str, external_id: str) -> dict[str, Any] | None:
        with self._cond:
            found = self._find_external(external_source, external_id)
            return copy.deepcopy(found)

    def move(self, item_id: str, state_name: str) -> dict[str, Any]:
        """Someone progressed the work item in Plane's UI (e.g. to "Done")."""
        with self._cond:
            item = self._items[item_id]
            self._set_state(item, self.state_ids[state_name])
            item["updated_at"] = _now_iso(self.clock())
            return copy.deepcopy(item)

    def project_info(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace, "workspace_id": self.workspace_id, "project_id": self.project_id,
            "api_key": self.api_key, "state_ids": self.state_ids, "default_state_id": self.default_state_id,
            "label_ids": self.label_ids, "member_ids": self.member_ids, "outsider_id": self.outsider_id,
        }

    # -- internals --------------------------------------------------------------------------------------

    def _state(self, name: str, group: str, colour: str, index: int) -> dict[str, Any]:
        return {
            "id": self.state_ids[name], "name": name, "description": "", "color": colour,
            "sequence": 15000 + index * 10000, "group": group, "default": index == 0, "is_triage": False,
            "external_id": None, "external_source": None, "project": self.project_id,
            "workspace": self.workspace_id, "created_at": "2026-01-05T09:00:00.000000Z",
            "updated_at": "2026-01-05T09:00:00.000000Z", "created_by": self.user_id, "updated_by": None,
            "deleted_at": None,
        }

    def _group_of(self, state_id: str) -> str | None:
        return next((g for n, g, _ in SEEDED_STATES if self.state_ids[n] == state_id), None)

    def _set_state(self, item: dict[str, Any], state_id: str) -> None:
        item["state"] = state_id
        if self._group_of(state_id) == "completed":
            item["completed_at"] = item.get("completed_at") or _now_iso(self.clock())
        else:
            item["completed_at"] = None

    def _find_external(self, source: Any, external_id: Any) -> dict[str, Any] | None:
        for item in self._items.values():
            if item["external_source"] == source and item["external_id"] == external_id:
                return item
        return None

    def _paginate(self, req: _Req, rows: list[dict[str, Any]]) -> Answer:
        try:
            per_page = min(int(req.param("per_page") or 100), 100)
            cursor = req.param("cursor") or f"{per_page}:0:0"
            page = int(cursor.split(":")[1])
        except (ValueError, IndexError):
            return Answer(400, {"error": "Invalid cursor parameter."})
        chunk = rows[page * per_page : (page + 1) * per_page]
        total_pages = max(1, -(-len(rows) // per_page))
        return Answer(200, {
            "grouped_by": None, "sub_grouped_by": None, "total_count": len(rows),
            "next_cursor": f"{per_page}:{page + 1}:0", "prev_cursor": f"{per_page}:{max(page - 1, 0)}:0",
            "next_page_results": (page + 1) * per_page < len(rows), "prev_page_results": page > 0,
            "count": len(chunk), "total_pages": total_pages, "total_results": len(rows), "extra_stats": None,
            "results": copy.deepcopy(chunk),
        })

    # -- HTTP -------------------------------------------------------------------------------------------

    def _is_api(self, path: str) -> bool:
        return path.startswith("/api/")

    def _decorate(self, answer: Answer) -> None:
        answer.headers.setdefault("X-RateLimit-Remaining", str(max(0, (self.limit_per_minute or 60)
                                                                    - len(self._window))))
        answer.headers.setdefault("X-RateLimit-Reset", str(int(self.clock()) + 60))

    def _fault_answer(self, status: int, retry_after: int | None) -> Answer:
        if status == 429:
            wait = retry_after or 1
            unit = "second" if wait == 1 else "seconds"
            detail = f"Request was throttled. Expected available in {wait} {unit}."
            return Answer(429, {"detail": detail}, {"Retry-After": str(wait)})
        return Answer(status, {"error": "Something went wrong please try again later"})

    def _control_extra(self, method: str, path: str, body: Any) -> Answer | None:
        if path == "/_items" and method == "GET":
            return Answer(200, self.items)
        if path == "/_project" and method == "GET":
            return Answer(200, self.project_info())
        if path == "/_move" and method == "POST":
            return Answer(200, self.move(body["item_id"], body["state"]))
        return None

    def _route(self, req: _Req) -> Answer:
        if not req.path.endswith("/"):
            self._problem(req, "404: Plane routes end in '/' (Django does not match without it)")
            return Answer(404, raw=b"<h1>Not Found</h1><p>The requested resource was not found on this server.</p>",
                          content_type="text/html; charset=utf-8")
        match = _ROUTE.match(req.path)
        if match is None:
            self._problem(req, "404: no such Plane v1 route in this fake")
            return Answer(404, raw=b"<h1>Not Found</h1><p>The requested resource was not found on this server.</p>",
                          content_type="text/html; charset=utf-8")
        token = req.headers.get("x-api-key")
        if not token:
            self._problem(req, "403: no X-API-Key header")
            return Answer(403, {"detail": "Authentication credentials were not provided."})
        if token != self.api_key:
            self._problem(req, "403: X-API-Key is not the fake's api_key")
            return Answer(403, {"detail": "Given API token is not valid"})
        if match["slug"] != self.workspace or match["project"] != self.project_id:
            self._problem(req, f"403: unknown workspace {match['slug']!r} or project {match['project']!r}")
            return Answer(403, {"detail": "You do not have permission to perform this action."})
        kind, item_id = match["kind"], match["item"]
        if kind == "issues":
            kind = "work-items"
        if kind == "states" and item_id is None and req.method == "GET":
            return self._paginate(req, self.states)
        if kind == "labels" and item_id is None and req.method == "GET":
            return self._paginate(req, [self._label(n, c) for n, c in SEEDED_LABELS])
        if kind == "work-items" and item_id is None and req.method == "POST":
            return self._with_body(req, lambda body: self._create(req, body))
        if kind == "work-items" and item_id is None and req.method == "GET":
            return self._list(req)
        if kind == "work-items" and item_id is not None:
            if item_id not in self._items:
                self._problem(req, f"404: no work item {item_id}")
                return Answer(404, {"error": "The requested resource does not exist."})
            if req.method == "GET":
                return Answer(200, copy.deepcopy(self._items[item_id]))
            if req.method == "PATCH":
                return self._with_body(req, lambda body: self._patch(req, item_id, body))
        self._problem(req, f"405: {req.method} not allowed here")
        return Answer(405, {"detail": f'Method "{req.method}" not allowed.'})

    def _label(self, name: str, colour: str) -> dict[str, Any]:
        return {"id": self.label_ids[name], "name": name, "color": colour, "description": "", "parent": None,
                "sort_order": 65535.0, "project": self.project_id, "workspace": self.workspace_id,
                "external_id": None, "external_source": None}

    def _with_body(self, req: _Req, action: Any) -> Answer:
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self._problem(req, f"415: Content-Type is {ctype!r}, expected application/json")
            return Answer(415, {"detail": f'Unsupported media type "{ctype}" in request.'})
        if not req.json_ok:
            self._problem(req, "400: body is not valid JSON")
            return Answer(400, {"detail": "JSON parse error - Expecting value: line 1 column 1 (char 0)"})
        if not isinstance(req.parsed_json, dict):
            self._problem(req, "400: body is not a JSON object")
            return Answer(400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        return action(req.parsed_json)

    def _list(self, req: _Req) -> Answer:
        ext_id, ext_source = req.param("external_id"), req.param("external_source")
        if ext_id and ext_source:
            found = self._find_external(ext_source, ext_id)
            if found is None:
                return Answer(404, {"error": "The requested resource does not exist."})
            return Answer(200, copy.deepcopy(found))
        rows = sorted(self._items.values(), key=lambda i: i["created_at"], reverse=True)
        return self._paginate(req, rows)

    def _validate(self, req: _Req, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for key in body:
            if key not in WRITE_FIELDS:
                self._problem(req, f"field {key!r} is not a Plane v1 work-item field and is ignored")
        if "name" in body or current is None:
            name = body.get("name")
            if "name" not in body:
                errors["name"] = ["This field is required."]
            elif not isinstance(name, str):
                errors["name"] = ["Not a valid string."]
            elif not name.strip():
                errors["name"] = ["This field may not be blank."]
            elif len(name) > 255:
                errors["name"] = ["Ensure this field has no more than 255 characters."]
        if "description_html" in body and not isinstance(body["description_html"], str):
            errors["description_html"] = ["Not a valid string."]
        if "priority" in body and body["priority"] not in PRIORITIES:
            errors["priority"] = [f'"{body["priority"]}" is not a valid choice.']
        if "state" in body and body["state"] is not None:
            state = body["state"]
            if not _is_uuid(state):
                errors["state"] = [f"“{state}” is not a valid UUID."]
            elif state not in self.state_ids.values():
                errors["state"] = [f'Invalid pk "{state}" - object does not exist.']
        for key in ("labels", "assignees"):
            if key in body:
                value = body[key]
                if not isinstance(value, list):
                    errors[key] = [f'Expected a list of items but got type "{type(value).__name__}".']
                    continue
                bad = [f"“{v}” is not a valid UUID." for v in value if not _is_uuid(v)]
                if bad:
                    errors[key] = bad
        for key in ("start_date", "target_date"):
            value = body.get(key)
            if value is not None and not _is_date(value):
                errors[key] = ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]
        for key in ("external_id", "external_source"):
            value = body.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > 255):
                errors[key] = ["Not a valid string." if not isinstance(value, str) else
                               "Ensure this field has no more than 255 characters."]
        if errors:
            return errors
        non_field = []
        if isinstance(body.get("description_html"), str) and not html_is_valid(body["description_html"]):
            non_field.append("Invalid HTML passed")
        start = body.get("start_date", current.get("start_date") if current else None)
        target = body.get("target_date", current.get("target_date") if current else None)
        if start and target and start > target:
            non_field.append("Start date cannot exceed target date")
        return {"non_field_errors": non_field} if non_field else {}

    def _bad(self, req: _Req, errors: dict[str, Any]) -> Answer:
        self._problem(req, f"400: {errors}")
        return Answer(400, errors)

    def _filtered(self, req: _Req, key: str, values: list[str]) -> list[str]:
        allowed = set(self.label_ids.values() if key == "labels" else self.member_ids.values())
        kept = [v for v in dict.fromkeys(values) if v in allowed]
        dropped = [v for v in values if v not in allowed]
        if dropped:
            self._problem(req, f"{key} {dropped} are not in the project and were silently dropped")
        return kept

    def _create(self, req: _Req, body: dict[str, Any]) -> Answer:
        errors = self._validate(req, body, None)
        if errors:
            return self._bad(req, errors)
        ext_id, ext_source = body.get("external_id"), body.get("external_source")
        if ext_id and ext_source:
            existing = self._find_external(ext_source, ext_id)
            if existing is not None:
                message = "Issue with the same external id and external source already exists"
                return Answer(409, {"error": message, "id": existing["id"]})
        now = _now_iso(self.clock())
        item_id = str(uuid.uuid4())
        assignees = self._filtered(req, "assignees", body.get("assignees") or [])
        item = {
            "id": item_id,
            "name": body["name"],
            "description_html": body.get("description_html") or "<p></p>",
            "priority": body.get("priority") or "none",
            "state": None,
            "labels": self._filtered(req, "labels", body.get("labels") or []),
            "assignees": assignees,
            "sequence_id": self._next_sequence,
            "sort_order": 65535.0,
            "start_date": body.get("start_date"),
            "target_date": body.get("target_date"),
            "completed_at": None,
            "archived_at": None,
            "is_draft": False,
            "parent": body.get("parent"),
            "estimate_point": body.get("estimate_point"),
            "point": None,
            "type_id": body.get("type_id"),
            "external_id": ext_id,
            "external_source": ext_source,
            "project": self.project_id,
            "workspace": self.workspace_id,
            "created_by": self.user_id,
            "updated_by": self.user_id,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        self._set_state(item, body.get("state") or self.default_state_id)
        self._next_sequence += 1
        self._items[item_id] = item
        return Answer(201, copy.deepcopy(item))

    def _patch(self, req: _Req, item_id: str, body: dict[str, Any]) -> Answer:
        item = self._items[item_id]
        errors = self._validate(req, body, item)
        if errors:
            return self._bad(req, errors)
        ext_id = body.get("external_id")
        ext_source = body.get("external_source", item["external_source"])
        if ext_id and ext_id != item["external_id"]:
            existing = self._find_external(ext_source, ext_id)
            if existing is not None and existing["id"] != item_id:
                message = "Issue with the same external id and external source already exists"
                return Answer(409, {"error": message, "id": item_id})
        for key, value in body.items():
            if key == "state":
                self._set_state(item, value or self.default_state_id)
            elif key in ("labels", "assignees"):
                item[key] = self._filtered(req, key, value)
            elif key in WRITE_FIELDS and key in item:
                item[key] = copy.deepcopy(value)
        item["updated_at"] = _now_iso(self.clock())
        item["updated_by"] = self.user_id
        return Answer(200, copy.deepcopy(item))


def work_items_url(plane: FakePlane, item_id: str | None = None, **query: str) -> str:
    """Convenience for tests: the work-items collection or detail URL (with the trailing slash)."""
    url = f"{plane.base_url}/api/v1/workspaces/{plane.workspace}/projects/{plane.project_id}/work-items/"
    if item_id:
        url += f"{item_id}/"
    return f"{url}?{urlencode(query)}" if query else url


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; the first stdout line is the base URL (use it as the Plane URL)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.plane_api", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (read it from stdout)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--workspace", default=DEFAULT_WORKSPACE)
    parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--limit-per-minute", type=int, default=None)
    args = parser.parse_args(argv)
    fake = FakePlane(args.api_key, args.workspace, args.project_id, host=args.host, port=args.port,
                     latency=args.latency, limit_per_minute=args.limit_per_minute, control_endpoints=True)
    return serve_main(fake, main.__doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
