"""`notify` (Pub/Sub on incident-events): the incident's first page in Slack, then updates."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework

from shared import bootstrap
from shared.config.loader import current_policy
from shared.handlers.notify import notify_incident
from shared.log import get_logger
from shared.messages import decode_event, decode_or_drop

log = get_logger("notify")


@functions_framework.cloud_event
def notify(cloud_event) -> None:
    event = decode_or_drop(cloud_event, decode_event, log)
    if event is None:
        return
    notify_incident(event, policy=current_policy(), store=bootstrap.store(), chat=bootstrap.chat(),
                    now=datetime.now(UTC))
