"""`status-update` (Pub/Sub on incident-events): the public page follows incidents; subscribers hear of updates."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework

from shared import bootstrap
from shared.config.loader import current_policy
from shared.handlers.status import on_event
from shared.log import get_logger
from shared.messages import decode_event, decode_or_drop

log = get_logger("status-update")


@functions_framework.cloud_event
def status_update(cloud_event) -> None:
    from shared.adapters.status_store import StatusStore

    event = decode_or_drop(cloud_event, decode_event, log)
    if event is None:
        return
    result = on_event(event, policy=current_policy(), status_store=StatusStore(bootstrap.store()),
                      publisher=bootstrap.publisher(), mailer=bootstrap.mailer(), webhooks=bootstrap.webhooks(),
                      now=datetime.now(UTC))
    log.info("status page event", extra={"incident_id": event.incident_id, "event": event.type.value,
                                         "result": result})
