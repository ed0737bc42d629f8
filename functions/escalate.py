"""`escalate` (Pub/Sub on incident-events): deliver an incident's pending pages and keep its next timer set."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework

from shared import bootstrap
from shared.handlers.escalation import follow_up
from shared.log import get_logger
from shared.messages import decode_event, decode_or_drop

log = get_logger("escalate")


@functions_framework.cloud_event
def escalate(cloud_event) -> None:
    event = decode_or_drop(cloud_event, decode_event, log)
    if event is None:
        return
    follow_up(event.incident_id, store=bootstrap.store(), chat=bootstrap.chat(), scheduler=bootstrap.scheduler(),
              now=datetime.now(UTC))
