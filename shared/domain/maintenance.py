"""Scheduled maintenance on the status page: announced in advance by a person, then updated. Pure."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shared.config.policy import StatusPage
from shared.domain.model import stable_hash
from shared.domain.status import (
    MAX_UPDATES,
    AffectedComponent,
    Announcement,
    ComponentStatus,
    Maintenance,
    MaintenanceStatus,
    Outcome,
    PageState,
    PublicUpdate,
    StatusRefused,
)


class MaintenanceRequest(BaseModel):
    maintenance_id: str
    name: str
    body: str
    scheduled_for: datetime
    scheduled_until: datetime
    components: list[str]
    notify: bool = True
    actor: str


def schedule_maintenance(state: PageState, page: StatusPage, request: MaintenanceRequest, now: datetime) -> Outcome:
    """Announce maintenance in advance. Idempotency key: `request.maintenance_id`."""
    new = state.model_copy(deep=True)
    out = Outcome(state=new)
    if request.maintenance_id in new.maintenances:
        return out
    known = {c.id for c in page.components}
    unknown = sorted(set(request.components) - known)
    if unknown:
        raise StatusRefused(f"unknown component {unknown[0]!r}; known: {', '.join(sorted(known))}", "components")
    if not request.components:
        raise StatusRefused("name at least one component", "components")
    if request.scheduled_until <= request.scheduled_for:
        raise StatusRefused("scheduled_until must be after scheduled_for", "scheduled_until")
    if request.scheduled_until <= now:
        raise StatusRefused("the maintenance window has already ended", "scheduled_until")
    names = {c.id: c.name for c in page.components}
    status = ComponentStatus.UNDER_MAINTENANCE
    update = PublicUpdate(id=stable_hash(request.maintenance_id, "scheduled"), status="scheduled", body=request.body,
                          created_at=now, deliver_notifications=request.notify, by_person=True,
                          affected_components=[AffectedComponent(
                              code=c, name=names[c], old_status=ComponentStatus.OPERATIONAL, new_status=status)
                              for c in request.components])
    new.maintenances[request.maintenance_id] = Maintenance(
        id=request.maintenance_id, name=request.name, scheduled_for=request.scheduled_for,
        scheduled_until=request.scheduled_until, components=list(dict.fromkeys(request.components)),
        created_at=now, updated_at=now, updates=[update])
    out.announcements.append(Announcement(update_id=update.id, kind="maintenance", record_id=request.maintenance_id,
                                          components=request.components, notify=request.notify))
    new.updated_at = now
    out.changed = True
    return out


def maintenance_update(state: PageState, maintenance_id: str, update_id: str, status: MaintenanceStatus, body: str,
                       notify: bool, now: datetime) -> Outcome:
    """A person's update to a maintenance (started, verifying, completed early). Idempotency key: `update_id`."""
    new = state.model_copy(deep=True)
    out = Outcome(state=new)
    item = new.maintenances.get(maintenance_id)
    if item is None:
        raise StatusRefused(f"no maintenance {maintenance_id}", "maintenance_id", status=404)
    if any(u.id == update_id for u in item.updates):
        return out
    if item.status_at(now) is MaintenanceStatus.COMPLETED:
        raise StatusRefused(f"maintenance {maintenance_id} is already completed", "status", status=409)
    if status is not MaintenanceStatus.SCHEDULED:
        item.set_status = status
    if status is MaintenanceStatus.COMPLETED:
        item.completed_at = now
    item.updates = [PublicUpdate(id=update_id, status=status.value, body=body, created_at=now,
                                 deliver_notifications=notify, by_person=True), *item.updates][:MAX_UPDATES]
    item.updated_at = now
    out.announcements.append(Announcement(update_id=update_id, kind="maintenance", record_id=maintenance_id,
                                          components=item.components, notify=notify))
    new.updated_at = now
    out.changed = True
    return out
