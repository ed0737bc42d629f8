"""Running the PST's update rhythm: start it once, remind on time (named Cloud Tasks), record updates."""

from __future__ import annotations

from datetime import datetime

from shared.config.policy import Policy
from shared.domain import partner_updates
from shared.domain.incident import Incident, IncidentStatus
from shared.domain.model import stable_hash
from shared.domain.names import task_id
from shared.domain.ports import Chat, Publisher, Scheduler
from shared.handlers.escalation import deliver_pages
from shared.handlers.events import publish_events
from shared.handlers.timers import callback_url
from shared.log import get_logger
from shared.topology import QUEUE_TIMERS

log = get_logger("partner-updates")


def follow_up(incident: Incident, *, policy: Policy, store, chat: Chat, scheduler: Scheduler,
              now: datetime) -> Incident:
    """On any event of a partner incident. Idempotent: starts once, pages once, sets the same named timer.

    Returns the incident as it stands afterwards (re-read only when the rhythm was just started).
    """
    if incident.partner is None:
        return incident
    if incident.partner_updates is None and incident.status is not IncidentStatus.RESOLVED:
        change, _ = store.change_incident(incident.id, lambda inc: partner_updates.start(policy, inc, now), now)
        if change is not None:
            incident = store.get_incident(incident.id) or incident
    deliver_pages(incident, store=store, chat=chat, now=now)
    schedule_reminder(incident, scheduler)
    return incident


def schedule_reminder(incident: Incident, scheduler: Scheduler) -> None:
    state = incident.partner_updates
    if state is None or state.next_due_at is None or incident.status is IncidentStatus.RESOLVED:
        return
    name = task_id(f"pst-{stable_hash(incident.id, length=8)}", incident.id, str(state.round))
    scheduler.schedule(QUEUE_TIMERS, name, callback_url("pst-reminder"),
                       {"incident_id": incident.id, "round": state.round}, state.next_due_at)


def run_due_reminder(incident_id: str, round_no: int, *, policy: Policy, store, publisher: Publisher, chat: Chat,
                     scheduler: Scheduler, now: datetime) -> str:
    """The timer callback: acts only if this reminder is still the next one and due."""
    change, events = store.change_incident(
        incident_id, lambda inc: partner_updates.due_reminder(policy, inc, round_no, now), now)
    if change is None:
        incident = store.get_incident(incident_id)
        if incident is not None:
            schedule_reminder(incident, scheduler)  # early or stale: keep the right timer set
        return "not_due"
    publish_events(events, store, publisher)
    incident = store.get_incident(incident_id)
    if incident is not None:
        deliver_pages(incident, store=store, chat=chat, now=now)
        schedule_reminder(incident, scheduler)
    return "reminded" if change.pages else "stopped"


def post_update(incident_id: str, who: str, text: str, *, policy: Policy, store, publisher: Publisher,
                scheduler: Scheduler, now: datetime) -> None:
    """Recorded in one transaction; the freshdesk-sync function sends it to the ticket as a public reply."""
    _, events = store.change_incident(
        incident_id, lambda inc: partner_updates.record_update(policy, inc, who, text, now), now)
    publish_events(events, store, publisher)
    incident = store.get_incident(incident_id)
    if incident is not None:
        schedule_reminder(incident, scheduler)


def reconcile(*, policy: Policy, store, publisher: Publisher, chat: Chat, scheduler: Scheduler,
              now: datetime) -> int:
    """Reminders whose timer was lost."""
    reminded = 0
    for incident_id in store.incidents_due("partner_update_due_at", now):
        incident = store.get_incident(incident_id)
        if incident is None or incident.partner_updates is None:
            continue
        result = run_due_reminder(incident_id, incident.partner_updates.round, policy=policy, store=store,
                                  publisher=publisher, chat=chat, scheduler=scheduler, now=now)
        reminded += result == "reminded"
    return reminded
