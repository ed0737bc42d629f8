"""`cert-in` (Pub/Sub on incident-events): the security mailbox, CERT-In pages and the next deadline's timer."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework

from shared import bootstrap
from shared.config.loader import current_policy
from shared.handlers.certin import follow_up
from shared.log import get_logger
from shared.messages import decode_event, decode_or_drop

log = get_logger("cert-in")


@functions_framework.cloud_event
def cert_in(cloud_event) -> None:
    event = decode_or_drop(cloud_event, decode_event, log)
    if event is None:
        return
    follow_up(event.incident_id, policy=current_policy(), store=bootstrap.store(), chat=bootstrap.chat(),
              scheduler=bootstrap.scheduler(), mailer=bootstrap.mailer(), now=datetime.now(UTC))
