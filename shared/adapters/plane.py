"""Plane's public API v1: work items in a project. Header X-API-Key; the trailing slash is required."""

from __future__ import annotations

from typing import Any

from shared.adapters.json_api import JsonApi, Rejected


class PlaneClient(JsonApi):
    service = "plane"

    def __init__(self, api_url: str, api_key: str, **kwargs: Any):
        super().__init__(f"{api_url.rstrip('/')}/api/v1", {"X-API-Key": api_key}, **kwargs)
        self._states: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def create_work_item(self, workspace: str, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Created, or the existing item when one with the same external id and source exists (409)."""
        path = f"/workspaces/{workspace}/projects/{project_id}/work-items/"
        response = self.request("POST", path, body, ok=(201, 409))
        if response.status_code == 201:
            return response.json()
        existing = response.json().get("id") if response.headers.get("Content-Type", "").startswith(
            "application/json") else None
        if not existing:
            raise Rejected(self.service, f"POST {path}: 409 without the existing item's id", 409, response.text)
        return self.work_item(workspace, project_id, existing)

    def work_item(self, workspace: str, project_id: str, item_id: str) -> dict[str, Any]:
        return self.request("GET", f"/workspaces/{workspace}/projects/{project_id}/work-items/{item_id}/").json()

    def state(self, workspace: str, project_id: str, state_id: str | None) -> dict[str, Any] | None:
        """Name and group of a state, from the project's state list (fetched again when an id is new)."""
        if state_id is None:
            return None
        key = (workspace, project_id)
        if state_id not in self._states.get(key, {}):
            answer = self.request("GET", f"/workspaces/{workspace}/projects/{project_id}/states/").json()
            items = answer.get("results", answer) if isinstance(answer, dict) else answer
            self._states[key] = {s["id"]: s for s in items if isinstance(s, dict) and "id" in s}
        return self._states[key].get(state_id)
