"""`escalate` (Pub/Sub on incident-events): deliver an incident's pending pages and keep its next timer set."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from pydantic import ValidationError

from shared import bootstrap
from shared.handlers.escalation import follow_up
from shared.log import get_logger
from shared.messages import decode_event, message_id, pubsub_data

log = get_logger("escalate")


@functions_framework.cloud_event
def escalate(cloud_event) -> None:
    try:
        event = decode_event(pubsub_data(cloud_event))
    except (ValidationError, ValueError) as exc:
        log.error("undecodable incident event dropped",
                  extra={"message_id": message_id(cloud_event), "error": str(exc)})
        return
    follow_up(event.incident_id, store=bootstrap.store(), chat=bootstrap.chat(), scheduler=bootstrap.scheduler(),
              now=datetime.now(UTC))
