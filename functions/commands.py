"""`commands` (Pub/Sub on commands): acknowledge, assign, change severity, resolve, escalate, from Slack."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework

from shared import bootstrap
from shared.config.loader import current_policy
from shared.domain.actions import Refused
from shared.domain.commands import Command
from shared.handlers.escalation import apply
from shared.log import get_logger
from shared.messages import decode_or_drop

log = get_logger("commands")


@functions_framework.cloud_event
def commands(cloud_event) -> None:
    command = decode_or_drop(cloud_event, Command.model_validate_json, log)
    if command is None:
        return
    try:
        apply(command, policy=current_policy(), store=bootstrap.store(), publisher=bootstrap.publisher(),
              chat=bootstrap.chat(), scheduler=bootstrap.scheduler(), now=datetime.now(UTC))
    except Refused as exc:  # acknowledged: retrying would be refused again
        log.warning("command refused", extra={"incident_id": command.incident_id, "action": command.action,
                                              "actor": command.actor.id, "reason": exc.reason, "detail": str(exc)})
    except LookupError:
        log.warning("command for an unknown incident", extra={"incident_id": command.incident_id})
