"""`notify` (Pub/Sub on incident-events): the incident's first page in Slack, then updates."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from pydantic import ValidationError

from shared import bootstrap
from shared.config.loader import current_policy
from shared.handlers.notify import notify_incident
from shared.log import get_logger
from shared.messages import decode_event, message_id, pubsub_data

log = get_logger("notify")


@functions_framework.cloud_event
def notify(cloud_event) -> None:
    try:
        event = decode_event(pubsub_data(cloud_event))
    except (ValidationError, ValueError) as exc:
        log.error("undecodable incident event dropped",
                  extra={"message_id": message_id(cloud_event), "error": str(exc)})
        return
    notify_incident(event, policy=current_policy(), store=bootstrap.store(), chat=bootstrap.chat(),
                    now=datetime.now(UTC))
