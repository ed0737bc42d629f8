"""Atlassian Statuspage public v2 shapes, written from the reference (wire-formats.md section 9), not from our code.

Strict: every documented field must be present with its type and enum, and no other field may appear,
so a reader written for Statuspage works unchanged. `validate_document` checks one endpoint's JSON.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
ComponentStatus = Literal["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"]


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _time(value: str | None) -> str | None:
    if value is not None and not TIMESTAMP.match(value):
        raise ValueError(f"{value!r} is not an ISO 8601 UTC timestamp")
    return value


class Page(Shape):
    id: str
    name: str
    url: str
    time_zone: str
    updated_at: str
    _t = field_validator("updated_at")(_time)


class Status(Shape):
    indicator: Literal["none", "minor", "major", "critical", "maintenance"]
    description: str


class Component(Shape):
    id: str
    name: str
    status: ComponentStatus
    created_at: str
    updated_at: str
    position: int
    description: str | None
    showcase: bool
    start_date: str | None
    group_id: str | None
    page_id: str
    group: bool
    only_show_if_degraded: bool
    components: list[str] | None = None  # groups only: their children's ids
    _t = field_validator("created_at", "updated_at")(_time)


class AffectedComponent(Shape):
    code: str
    name: str
    old_status: ComponentStatus
    new_status: ComponentStatus


class IncidentUpdate(Shape):
    id: str
    status: str
    body: str
    incident_id: str
    created_at: str
    updated_at: str
    display_at: str
    affected_components: list[AffectedComponent]
    deliver_notifications: bool
    custom_tweet: str | None
    tweet_id: str | None
    _t = field_validator("created_at", "updated_at", "display_at")(_time)


class Incident(Shape):
    id: str
    name: str
    status: Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]
    impact: Literal["none", "minor", "major", "critical"]
    created_at: str
    updated_at: str
    monitoring_at: str | None
    resolved_at: str | None
    started_at: str
    shortlink: str
    page_id: str
    incident_updates: list[IncidentUpdate]
    components: list[Component]
    _t = field_validator("created_at", "updated_at", "monitoring_at", "resolved_at", "started_at")(_time)

    @field_validator("incident_updates")
    @classmethod
    def _newest_first(cls, updates: list[IncidentUpdate]) -> list[IncidentUpdate]:
        times = [u.created_at for u in updates]
        if times != sorted(times, reverse=True):
            raise ValueError("incident_updates must be newest first")
        return updates


class Maintenance(Incident):
    status: Literal["scheduled", "in_progress", "verifying", "completed"]  # type: ignore[assignment]
    impact: Literal["none", "minor", "major", "critical", "maintenance"]  # type: ignore[assignment]
    scheduled_for: str
    scheduled_until: str


class StatusDoc(Shape):
    page: Page
    status: Status


class ComponentsDoc(Shape):
    page: Page
    components: list[Component]


class IncidentsDoc(Shape):
    page: Page
    incidents: list[Incident]


class UnresolvedDoc(IncidentsDoc):
    @field_validator("incidents")
    @classmethod
    def _unresolved(cls, incidents: list[Incident]) -> list[Incident]:
        if any(i.status not in ("investigating", "identified", "monitoring") for i in incidents):
            raise ValueError("unresolved.json holds only investigating, identified and monitoring incidents")
        return incidents


class MaintenancesDoc(Shape):
    page: Page
    scheduled_maintenances: list[Maintenance]


class SummaryDoc(Shape):
    page: Page
    status: Status
    components: list[Component]
    incidents: list[Incident]
    scheduled_maintenances: list[Maintenance]


SHAPES: dict[str, type[Shape]] = {
    "summary.json": SummaryDoc, "status.json": StatusDoc, "components.json": ComponentsDoc,
    "incidents.json": IncidentsDoc, "incidents/unresolved.json": UnresolvedDoc,
    "scheduled-maintenances.json": MaintenancesDoc, "scheduled-maintenances/upcoming.json": MaintenancesDoc,
    "scheduled-maintenances/active.json": MaintenancesDoc,
}


def validate_document(name: str, data: Any) -> Shape:
    """Raises pydantic.ValidationError naming the first field that differs from Statuspage's shape."""
    return SHAPES[name].model_validate(data)
