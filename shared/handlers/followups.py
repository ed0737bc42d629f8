"""Follow-up actions as Plane work items: created once (Plane's external id), states refreshed.

A follow-up is recorded on the incident first (one transaction); the work item follows. When Plane is
down or not configured the follow-up stays with `follow_up_sync_due_at` and the reconciler retries;
while any work item is still open, its state is refreshed at that interval so the incident shows it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.adapters.json_api import Rejected, Unavailable
from shared.config.policy import Policy
from shared.domain import followups
from shared.domain.incident import FollowUp, WorkItemLink
from shared.domain.ports import Publisher
from shared.domain.rca import Rca
from shared.handlers.events import publish_events
from shared.log import get_logger
from shared.settings import settings

log = get_logger("follow-ups")
REFRESH_EVERY = timedelta(minutes=15)
RETRY_AFTER_OUTAGE = timedelta(seconds=30)
RETRY_AFTER_REJECTION = timedelta(minutes=15)
DONE_GROUPS = {"completed", "cancelled"}


def record(incident_id: str, who: str, request: followups.FollowUpRequest, *, policy: Policy, store,
           publisher: Publisher, now: datetime) -> FollowUp:
    """The follow-up on the incident, and its event out (freshdesk-sync then creates the work item)."""
    change, events = store.change_incident(
        incident_id, lambda incident: followups.add(policy, incident, who, request, now), now)
    publish_events(events, store, publisher)
    return FollowUp.model_validate(change.updates["follow_ups"][-1])


def add(incident_id: str, who: str, request: followups.FollowUpRequest, *, policy: Policy, store,
        publisher: Publisher, tracker, now: datetime) -> FollowUp:
    """Recorded, then the work item created at once (the API can wait for Plane; Slack cannot)."""
    item = record(incident_id, who, request, policy=policy, store=store, publisher=publisher, now=now)
    sync_work_items(incident_id, policy=policy, store=store, tracker=tracker, now=now)
    incident = store.get_incident(incident_id)
    return next((f for f in incident.follow_ups if f.id == item.id), item)


def sync_work_items(incident_id: str, *, policy: Policy, store, tracker, now: datetime,
                    refresh: bool = False) -> str:
    incident = store.get_incident(incident_id)
    plane = policy.partners.plane
    if incident is None or not incident.follow_ups:
        return "nothing"
    if tracker is None or plane is None:
        log.warning("Plane is not configured (PLANE_API_URL, PLANE_API_KEY, partners.plane); work items wait",
                    extra={"incident_id": incident_id})
        return "not_configured"
    due = incident.follow_up_sync_due_at
    stale = refresh or (due is not None and due <= now)
    try:
        for item in incident.follow_ups:
            if item.work_item is None:
                body = followups.work_item_body(policy, incident, item,
                                                f"{settings().function_url('api')}/incidents/{incident.id}")
                data = tracker.create_work_item(plane.workspace, plane.project_id, body)
            elif stale and item.work_item.state_group not in DONE_GROUPS:
                data = tracker.work_item(plane.workspace, plane.project_id, item.work_item.id)
            else:
                continue
            link = _link(policy, tracker, data, now)
            store.change_incident(incident_id, lambda inc, i=item.id, lk=link: followups.linked(inc, i, lk, now), now)
    except Unavailable as exc:
        wait = max(RETRY_AFTER_OUTAGE, timedelta(seconds=exc.retry_after or 0))
        log.warning("Plane unavailable; will retry", extra={"incident_id": incident_id, "error": str(exc)})
        store.set_fields(incident_id, {"follow_up_sync_due_at": now + wait})
        return "deferred"
    except Rejected as exc:
        log.error("Plane refused a work item", extra={"incident_id": incident_id, "error": str(exc)})
        store.set_fields(incident_id, {"follow_up_sync_due_at": now + RETRY_AFTER_REJECTION})
        return "rejected"
    fresh = store.get_incident(incident_id)
    still_open = any(f.work_item is None or f.work_item.state_group not in DONE_GROUPS for f in fresh.follow_ups)
    store.set_fields(incident_id, {"follow_up_sync_due_at": now + REFRESH_EVERY if still_open else None})
    return "synced"


def _link(policy: Policy, tracker, data: dict, now: datetime) -> WorkItemLink:
    plane = policy.partners.plane
    state = tracker.state(plane.workspace, plane.project_id, data.get("state")) if plane else None
    url = f"{plane.web_url.rstrip('/')}/{plane.workspace}/projects/{plane.project_id}/issues/{data['id']}" \
        if plane and plane.web_url else None
    state = state or {}
    return WorkItemLink(id=str(data["id"]), sequence_id=data.get("sequence_id"), url=url, state_id=data.get("state"),
                        state_name=state.get("name"), state_group=state.get("group"), checked_at=now)


def reconcile(*, policy: Policy, store, tracker, now: datetime) -> int:
    synced = 0
    for incident_id in store.incidents_due("follow_up_sync_due_at", now):
        synced += sync_work_items(incident_id, policy=policy, store=store, tracker=tracker, now=now) == "synced"
    return synced


class MeasureRefused(Exception):
    """The RCA's prevention measure cannot become a work item (unknown, or no incident to track it on)."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason = status, reason


MEASURE_LEASE = timedelta(minutes=2)


def track_measure(rca_id: str, measure_id: str, who: str, *, policy: Policy, store, rcas, publisher: Publisher,
                  tracker, now: datetime) -> Rca:
    """An RCA prevention measure becomes a follow-up of its incident, and so a Plane work item, once.

    The measure's `link` records the work item; a second call (or a double click) changes nothing.
    """
    rca = rcas.get_rca(rca_id)
    if rca is None:
        raise LookupError(rca_id)
    measure = next((m for m in rca.prevention_measures if m.id == measure_id), None)
    if measure is None:
        raise MeasureRefused(404, "not_found", f"{rca_id} has no prevention measure {measure_id}")
    if rca.incident_id is None:
        raise MeasureRefused(409, "no_incident", f"{rca_id} is a historical record without an incident")
    if measure.link:
        return rca
    key = f"rca-measure:{rca_id}:{measure_id}"
    if not store.claim(key, now, MEASURE_LEASE):
        return rcas.get_rca(rca_id)
    try:
        owner = measure.owner if measure.owner in {p.id for p in policy.people} else None
        item = add(rca.incident_id, who, followups.FollowUpRequest(
            title=measure.action[:200], kind="prevention", owner=owner, due_date=measure.due,
            description=f"Prevention measure {measure_id} of {rca_id} (owner: {measure.owner})."),
            policy=policy, store=store, publisher=publisher, tracker=tracker, now=now)
    except Exception:
        store.release_claim(key)
        raise
    link = (item.work_item.url or f"plane:{item.work_item.id}") if item.work_item else f"follow-up {item.id}"

    def linked(current: Rca) -> Rca:
        measures = [m.model_copy(update={"link": link}) if m.id == measure_id and not m.link else m
                    for m in current.prevention_measures]
        return current.model_copy(update={"prevention_measures": measures, "updated_at": now})

    updated = rcas.change_rca(rca_id, linked)
    store.complete_claim(key, {"follow_up": item.id, "link": link})
    return updated
