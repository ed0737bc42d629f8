"""The API's status page routes (behind the API token): people's public updates and scheduled maintenance.

  POST /incidents/<id>/status-updates           {actor, body, status, name?, components?, notify?}
  POST /status/maintenances                     {actor, name, body, scheduled_for, scheduled_until, components}
  POST /status/maintenances/<id>/updates        {actor, status, body, notify?}

An `Idempotency-Key` header makes a retried request publish once.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import flask
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared import bootstrap
from shared.config.loader import current_policy
from shared.domain.maintenance import MaintenanceRequest
from shared.domain.model import stable_hash
from shared.domain.status import (
    ComponentStatus,
    MaintenanceStatus,
    PersonUpdate,
    PublicStatus,
    StatusRefused,
)
from shared.handlers import status as status_handler
from shared.web import HttpError, json_response, parse_json, read_body, validated

UPDATE_PATH = re.compile(r"^/incidents/(?P<id>INC-\d{4}-\d{4,})/status-updates$")
MAINTENANCE_UPDATE_PATH = re.compile(r"^/status/maintenances/(?P<id>mnt-[0-9a-f]{12})/updates$")
KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


class StatusUpdateRequest(BaseModel):
    """A public update of an incident: the person's own words; never copied from alerts."""

    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000, description="public text, shown as written")
    status: PublicStatus
    name: str | None = Field(default=None, min_length=3, max_length=200, description="public incident title")
    components: dict[str, ComponentStatus] | None = Field(
        default=None, description="component id -> status; omitted: follows the incident's severity")
    notify: bool = True


class MaintenanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=3, max_length=200)
    body: str = Field(min_length=1, max_length=5000)
    scheduled_for: AwareDatetime
    scheduled_until: AwareDatetime
    components: list[str] = Field(min_length=1)
    notify: bool = True


class MaintenanceUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=200)
    status: MaintenanceStatus
    body: str = Field(min_length=1, max_length=5000)
    notify: bool = True


def route(request: flask.Request, path: str) -> flask.Response:
    if request.method != "POST":
        raise HttpError(405, "method_not_allowed", f"use POST on {path}", headers={"Allow": "POST"})
    key = _idempotency_key(request)
    policy = current_policy()
    status_store = _status_store()
    now = datetime.now(UTC)
    publisher = bootstrap.publisher()
    try:
        match = UPDATE_PATH.match(path)
        if match:
            body = validated(StatusUpdateRequest, parse_json(read_body(request)))
            update = PersonUpdate(update_id=stable_hash("person", key) if key else uuid.uuid4().hex[:16],
                                  body=body.body.strip(), status=body.status, name=body.name,
                                  components=body.components, notify=body.notify, actor=body.actor)
            try:
                status_handler.publish_update(match["id"], update, policy=policy, status_store=status_store,
                                              publisher=publisher, now=now)
            except LookupError:
                raise HttpError(404, "not_found", f"no incident {match['id']}") from None
            return _page(policy, status_store, now, 201)
        if path == "/status/maintenances":
            body = validated(MaintenanceCreate, parse_json(read_body(request)))
            mid = "mnt-" + (stable_hash("maintenance", key, length=12) if key else uuid.uuid4().hex[:12])
            status_handler.announce_maintenance(MaintenanceRequest(
                maintenance_id=mid, name=body.name.strip(), body=body.body.strip(), scheduled_for=body.scheduled_for,
                scheduled_until=body.scheduled_until, components=body.components, notify=body.notify,
                actor=body.actor), policy=policy, status_store=status_store, publisher=publisher, now=now)
            return _page(policy, status_store, now, 201, maintenance_id=mid)
        match = MAINTENANCE_UPDATE_PATH.match(path)
        if match:
            body = validated(MaintenanceUpdateRequest, parse_json(read_body(request)))
            update_id = stable_hash("person", key) if key else uuid.uuid4().hex[:16]
            status_handler.update_maintenance(match["id"], update_id, body.status, body.body.strip(), body.notify,
                                              status_store=status_store, publisher=publisher, now=now)
            return _page(policy, status_store, now, 200, maintenance_id=match["id"])
    except StatusRefused as exc:
        raise HttpError(exc.status, "invalid_field" if exc.status == 400 else "refused", str(exc),
                        field=exc.field) from None
    raise HttpError(404, "not_found", f"no route {request.method} {path}")


def _status_store():
    from shared.adapters.status_store import StatusStore

    return StatusStore(bootstrap.store())


def _page(policy, status_store, now: datetime, status: int, maintenance_id: str | None = None) -> flask.Response:
    """The public summary as readers now see it (Statuspage shape), and the maintenance's id if one was made."""
    state, _ = status_store.read(with_recent=False)
    summary = status_handler.view_of(policy, state, now).document("summary.json")
    return json_response({**({"maintenance_id": maintenance_id} if maintenance_id else {}), "summary": summary},
                         status)


def _idempotency_key(request: flask.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not KEY.match(key):
        raise HttpError(400, "invalid_header", "Idempotency-Key must be 8-128 of [A-Za-z0-9_.:-]",
                        field="Idempotency-Key")
    return key



def with_status_paths(document: dict) -> dict:
    """The API's OpenAPI document with the status page routes and their request shapes added."""
    from pydantic.json_schema import models_json_schema

    _, schemas = models_json_schema([(m, "validation") for m in (StatusUpdateRequest, MaintenanceCreate,
                                                                 MaintenanceUpdateRequest)],
                                    ref_template="#/components/schemas/{model}")
    document.setdefault("components", {}).setdefault("schemas", {}).update(schemas.get("$defs", {}))

    def post(summary: str, model: str, ok: str, path_params: tuple[str, ...] = ()) -> dict:
        return {"post": {
            "summary": summary,
            "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                           for p in path_params] + [{"name": "Idempotency-Key", "in": "header", "required": False,
                                                     "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{model}"}}}},
            "responses": {ok: {"description": "the public summary (Statuspage v2 shape) after the change"},
                          "400": {"description": "invalid request"}, "401": {"description": "no or bad token"},
                          "404": {"description": "no such incident or maintenance"}}}}

    document.setdefault("paths", {}).update({
        "/incidents/{incident_id}/status-updates": post(
            "Publish a person's update on the public status page", "StatusUpdateRequest", "201", ("incident_id",)),
        "/status/maintenances": post("Announce scheduled maintenance", "MaintenanceCreate", "201"),
        "/status/maintenances/{maintenance_id}/updates": post(
            "Update a scheduled maintenance (in progress, verifying, completed)", "MaintenanceUpdateRequest", "200",
            ("maintenance_id",)),
    })
    return document
