"""`freshdesk-sync` (Pub/Sub on incident-events): the partner-facing side of an incident kept in step.

The incident's Freshdesk ticket (opened or reused, notes, status, priority, public replies), the PST's
update reminders for partner incidents, and the Plane work items of follow-up actions. All three are
idempotent and state-based: a duplicate event does nothing twice, a lost one is caught by the next.
"""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework

from shared import bootstrap
from shared.config.loader import current_policy
from shared.domain.incident import EventType
from shared.handlers import followups, partner_updates, ticket_sync
from shared.log import get_logger
from shared.messages import decode_event, decode_or_drop

log = get_logger("freshdesk-sync")


@functions_framework.cloud_event
def freshdesk_sync(cloud_event) -> None:
    event = decode_or_drop(cloud_event, decode_event, log)
    if event is None:
        return
    policy, store, now = current_policy(), bootstrap.store(), datetime.now(UTC)
    incident = store.get_incident(event.incident_id)  # read once for both; maintenance events name no incident
    if incident is None:
        return
    incident = partner_updates.follow_up(incident, policy=policy, store=store, chat=bootstrap.chat(),
                                         scheduler=bootstrap.scheduler(), now=now)
    ticket_sync.sync_ticket(incident, policy=policy, store=store, client=bootstrap.ticketing(), now=now)
    if event.type is EventType.FOLLOW_UP_ADDED:
        followups.sync_work_items(event.incident_id, policy=policy, store=store, tracker=bootstrap.tracker(), now=now)
