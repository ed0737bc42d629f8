"""Follow-up actions of an incident (larger system changes, prevention measures) and their Plane work items."""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.config.policy import Policy
from shared.domain.actions import Change, Refused
from shared.domain.incident import EventType, FollowUp, Incident, TimelineEntry, WorkItemLink
from shared.domain.model import Severity

FollowUpKind = Literal["prevention", "system_change", "remediation", "other"]
PLANE_PRIORITY = {Severity.CRITICAL: "urgent", Severity.HIGH: "high", Severity.MEDIUM: "medium",
                  Severity.LOW: "low"}
EXTERNAL_SOURCE = "incident-management"
MAX_FOLLOW_UPS = 50


class FollowUpRequest(BaseModel):
    title: str = Field(min_length=3, max_length=200)
    kind: FollowUpKind = "prevention"
    description: str = Field(default="", max_length=5000)
    owner: str | None = Field(default=None, description="person id from the policy")
    due_date: date | None = None


def add(policy: Policy, incident: Incident, who: str, request: FollowUpRequest, now: datetime) -> Change:
    if request.owner is not None and request.owner not in {p.id for p in policy.people}:
        raise Refused(400, "invalid_field", f"owner {request.owner!r} is not a person in the policy")
    if len(incident.follow_ups) >= MAX_FOLLOW_UPS:
        raise Refused(409, "too_many_follow_ups", f"{incident.id} already has {MAX_FOLLOW_UPS} follow-up actions")
    item = FollowUp(id=f"F{len(incident.follow_ups) + 1}", title=request.title.strip(), kind=request.kind,
                    description=request.description.strip(), owner=request.owner, due_date=request.due_date,
                    created_at=now, created_by=who)
    return Change(
        updates={"follow_ups": [f.model_dump(mode="json") for f in [*incident.follow_ups, item]],
                 "follow_up_sync_due_at": now, "updated_at": now},
        events=[EventType.FOLLOW_UP_ADDED],
        timeline=[TimelineEntry(at=now, kind="follow_up.added", actor=who, source="plane",
                                text=f"Follow-up {item.id} ({item.kind.replace('_', ' ')}): {item.title}",
                                data={"follow_up": item.id})])


def linked(incident: Incident, follow_up_id: str, link: WorkItemLink, now: datetime) -> Change | None:
    """Record the work item on the follow-up (once; a second link of the same item changes nothing)."""
    items = [f.model_copy(deep=True) for f in incident.follow_ups]
    item = next((f for f in items if f.id == follow_up_id), None)
    if item is None or (item.work_item is not None and item.work_item.id == link.id
                        and item.work_item.state_id == link.state_id):
        return None
    first_link = item.work_item is None
    item.work_item, item.sync_error = link, None
    timeline = [TimelineEntry(at=now, kind="follow_up.linked", source="plane",
                              text=f"Follow-up {item.id} tracked in Plane as {link.url or link.id}",
                              data={"follow_up": item.id, "work_item": link.id})] if first_link else []
    return Change(updates={"follow_ups": [f.model_dump(mode="json") for f in items]}, timeline=timeline)


def unsynced(incident: Incident) -> list[FollowUp]:
    return [f for f in incident.follow_ups if f.work_item is None]


def work_item_body(policy: Policy, incident: Incident, item: FollowUp, incident_url: str | None) -> dict[str, Any]:
    """POST …/work-items/ body as Plane's API v1 documents it; external id and source make it idempotent."""
    plane = policy.partners.plane
    lines = [f"<p>Follow-up action ({html.escape(item.kind.replace('_', ' '))}) from incident "
             f"<strong>{html.escape(incident.id)}</strong> ({incident.severity.value}): "
             f"{html.escape(incident.title)}</p>"]
    if item.description:
        lines.append(f"<p>{html.escape(item.description)}</p>")
    if incident_url:
        lines.append(f'<p><a href="{html.escape(incident_url)}">Incident record</a></p>')
    body: dict[str, Any] = {
        "name": f"{incident.id} {item.id}: {item.title}"[:255],
        "description_html": "".join(lines),
        "priority": PLANE_PRIORITY[incident.severity],
        "external_source": EXTERNAL_SOURCE,
        "external_id": f"{incident.id}:{item.id}",
    }
    if item.due_date:
        body["target_date"] = item.due_date.isoformat()
    assignee = plane.assignees.get(item.owner) if plane and item.owner else None
    if assignee:
        body["assignees"] = [assignee]
    return body
