"""Slack for the partner side: the PST's "update the partner" modal and its submission.

The PST reminder (a direct message) carries a button ``partner_update_open`` whose value is the incident
id; it opens a modal with ``callback_id = "partner_update"``, ``private_metadata = <incident id>`` and one
input block ``partner_update`` / action ``text``. The text goes to the partner's ticket as a public reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import InputBlock, MarkdownTextObject, PlainTextInputElement, SectionBlock
from slack_sdk.models.views import View

from shared.adapters.slack_requests import (
    INCIDENT_ID,
    SlackRequestError,
    ViewErrors,
    actor_of,
    state_value,
    submitted_view,
)
from shared.domain.commands import Actor
from shared.domain.incident import Incident
from shared.domain.partner_updates import UPDATE_MAX

OPEN_ACTION = "partner_update_open"
CALLBACK = "partner_update"
BLOCK = "partner_update"
ACTION = "text"


@dataclass(frozen=True)
class PartnerUpdateSubmitted:
    incident_id: str
    actor: Actor
    text: str


def modal(incident: Incident) -> View:
    partner = incident.partner.name if incident.partner else "the partner"
    ticket = f" (Freshdesk ticket #{incident.ticket.id})" if incident.ticket else ""
    return View(
        type="modal", callback_id=CALLBACK, private_metadata=incident.id, title="Update the partner",
        submit="Send", close="Cancel",
        blocks=[
            SectionBlock(text=MarkdownTextObject(
                text=f"*{incident.id}*: {incident.title[:200]}\nThis goes to *{partner}*{ticket} as a reply they "
                     "can read. Say what is affected, what is being done, and when they will hear next.")),
            InputBlock(block_id=BLOCK, label="Update for the partner",
                       element=PlainTextInputElement(action_id=ACTION, multiline=True, min_length=3,
                                                     max_length=UPDATE_MAX,
                                                     placeholder="We have found the cause and are rolling out a fix; "
                                                                 "next update by 15:00 IST.")),
        ])


def opened_for(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(trigger_id, incident id) when the action is our "Update the partner" button; None otherwise."""
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    if action.get("action_id") != OPEN_ACTION:
        return None
    incident_id, trigger_id = action.get("value"), payload.get("trigger_id")
    if not isinstance(incident_id, str) or not INCIDENT_ID.match(incident_id):
        raise SlackRequestError("the button's value is not an incident id", "actions.0.value")
    if not isinstance(trigger_id, str) or not trigger_id:
        raise SlackRequestError("opening the update form needs a trigger_id", "trigger_id")
    return trigger_id, incident_id


def submission(payload: Mapping[str, Any]) -> PartnerUpdateSubmitted | ViewErrors:
    actor = actor_of(payload)
    view = submitted_view(payload)
    incident_id = view.get("private_metadata")
    if not isinstance(incident_id, str) or not INCIDENT_ID.match(incident_id):
        raise SlackRequestError("the update modal's private_metadata is not an incident id", "private_metadata")
    text = (state_value(view, BLOCK, ACTION) or "").strip()
    if len(text) < 3:
        return ViewErrors({BLOCK: "Write the update the partner will read."})
    if len(text) > UPDATE_MAX:
        return ViewErrors({BLOCK: f"Keep it under {UPDATE_MAX} characters."})
    return PartnerUpdateSubmitted(incident_id, actor, text)
