"""`/incident status-update INC-… [status] <text>`: a person's public status page update from Slack.

Only people of the policy may publish (their Slack user id maps to a person); the text is theirs, as
typed. Idempotency key: the slash command's trigger_id (unique per invocation).
"""

from __future__ import annotations

from datetime import datetime

from shared.config.policy import Policy
from shared.domain.commands import Actor
from shared.domain.model import stable_hash
from shared.domain.status import PersonUpdate, PublicStatus, StatusRefused
from shared.handlers import status as status_handler


def publish_from_slack(incident_id: str, status: str, text: str, actor: Actor, trigger_id: str | None, *,
                       policy: Policy, status_store, publisher, now: datetime) -> str:
    """The reply for the person (ephemeral): what was published, or why not."""
    person = next((p for p in policy.people if p.slack_user_id == actor.id), None)
    if person is None:
        return "Only people listed in the incident policy may publish on the public status page."
    update = PersonUpdate(update_id=stable_hash("slack", trigger_id or f"{incident_id}:{text}:{now.isoformat()}"),
                          body=text, status=PublicStatus(status), actor=person.name)
    try:
        status_handler.publish_update(incident_id, update, policy=policy, status_store=status_store,
                                      publisher=publisher, now=now)
    except LookupError:
        return f"No incident {incident_id}."
    except StatusRefused as exc:
        return f"Not published: {exc}."
    return f"Published on the status page for {incident_id} ({status}): {text}"
