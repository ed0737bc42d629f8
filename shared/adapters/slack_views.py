"""Slack modals (and the incident message's action row), built with slack_sdk's Block Kit models.

The identifiers below are the contract between what we send to Slack and what comes back in
interaction payloads (shared/adapters/slack_requests.py reads them):

* Incident message actions live in one actions block whose ``block_id`` is
  ``incident_actions:<incident id>``. Buttons (``incident_ack``, ``incident_resolve``,
  ``incident_escalate``) also carry ``value = <incident id>``; the selects (``incident_assign``, a
  users_select, and ``incident_severity``, a static_select whose option values are severity levels)
  have no value of their own, so for them the block_id is where the incident id comes from.
* The resolve modal: ``callback_id = "incident_resolve"``, ``private_metadata = <incident id>``,
  input block ``resolution`` / action ``summary``.
* The declare modal: ``callback_id = "incident_declare"``, input blocks ``title``, ``description``,
  ``severity``, ``type``, ``service``, each with ``action_id = "value"``.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from shared.config.policy import Policy
from shared.domain.incident import Incident
from shared.domain.model import Severity

# incident message actions
ACTIONS_BLOCK_PREFIX = "incident_actions:"
ACTION_ACK = "incident_ack"
ACTION_RESOLVE = "incident_resolve"
ACTION_ASSIGN = "incident_assign"
ACTION_SEVERITY = "incident_severity"
ACTION_ESCALATE = "incident_escalate"

# modals
RESOLVE_CALLBACK = "incident_resolve"
RESOLVE_BLOCK = "resolution"
RESOLVE_ACTION = "summary"
SUMMARY_MAX = 5000

DECLARE_CALLBACK = "incident_declare"
DECLARE_VALUE_ACTION = "value"
DECLARE_BLOCKS = ("title", "description", "severity", "type", "service")
TITLE_MIN, TITLE_MAX = 3, 200
DESCRIPTION_MAX = 3000  # Slack's limit for a plain_text_input (ManualReport allows more)
SERVICE_MAX = 100

SEVERITY_LABEL = {Severity.CRITICAL: "Critical", Severity.HIGH: "High", Severity.MEDIUM: "Medium",
                  Severity.LOW: "Low"}


def actions_block_id(incident_id: str) -> str:
    return f"{ACTIONS_BLOCK_PREFIX}{incident_id}"


def incident_actions_block(incident_id: str, severity: Severity | None = None) -> ActionsBlock:
    """The action row of the incident message (ack, resolve, assign, severity, escalate)."""
    options = severity_options()
    initial = next((o for o in options if severity is not None and o.value == severity.value), None)
    return ActionsBlock(block_id=actions_block_id(incident_id), elements=[
        ButtonElement(text="Acknowledge", action_id=ACTION_ACK, value=incident_id, style="primary"),
        ButtonElement(text="Resolve", action_id=ACTION_RESOLVE, value=incident_id, style="danger"),
        UserSelectElement(action_id=ACTION_ASSIGN, placeholder="Assign owner"),
        StaticSelectElement(action_id=ACTION_SEVERITY, placeholder="Severity", options=options,
                            initial_option=initial),
        ButtonElement(text="Escalate", action_id=ACTION_ESCALATE, value=incident_id),
    ])


def severity_options(policy: Policy | None = None) -> list[Option]:
    """One option per level, most severe first; with a policy, its description as the option's."""
    out = []
    for level in Severity:
        description = None
        if policy is not None and level in policy.severities:
            description = _clip(policy.severities[level].description, 75)
        out.append(Option(value=level.value, text=SEVERITY_LABEL[level], description=description))
    return out


def resolve_modal(incident_id: str, title: str | None = None) -> View:
    """Asks for the resolution summary; private_metadata carries the incident id back."""
    about = f"*{incident_id}*" + (f": {_clip(title, 2800)}" if title else "")
    return View(
        type="modal",
        callback_id=RESOLVE_CALLBACK,
        private_metadata=incident_id,
        title=_clip(f"Resolve {incident_id}", 24),
        submit="Resolve",
        close="Cancel",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=about)),
            InputBlock(
                block_id=RESOLVE_BLOCK,
                label="Resolution summary",
                hint="What was wrong and what fixed it. It goes on the timeline and into the review.",
                element=PlainTextInputElement(action_id=RESOLVE_ACTION, multiline=True, min_length=1,
                                              max_length=SUMMARY_MAX,
                                              placeholder="Rolled back the 14:02 deploy of checkout"),
            ),
        ],
    )


def declare_modal(policy: Policy, private_metadata: str = "") -> View:
    """Declare an incident by hand: title, description, severity, type (policy's types), service."""
    types = [Option(value=type_id, text=_clip(itype.name, 75)) for type_id, itype in policy.incident_types.items()]
    return View(
        type="modal",
        callback_id=DECLARE_CALLBACK,
        private_metadata=private_metadata or None,
        title="Declare an incident",
        submit="Declare",
        close="Cancel",
        blocks=[
            InputBlock(block_id="title", label="Title",
                       element=PlainTextInputElement(action_id=DECLARE_VALUE_ACTION, min_length=TITLE_MIN,
                                                     max_length=TITLE_MAX,
                                                     placeholder="Checkout returns 5xx for some users")),
            InputBlock(block_id="description", label="What is happening", optional=True,
                       element=PlainTextInputElement(action_id=DECLARE_VALUE_ACTION, multiline=True,
                                                     max_length=DESCRIPTION_MAX)),
            InputBlock(block_id="severity", label="Severity", optional=True,
                       hint="Left empty, the policy's classification rules decide.",
                       element=StaticSelectElement(action_id=DECLARE_VALUE_ACTION, placeholder="Choose a level",
                                                   options=severity_options(policy))),
            InputBlock(block_id="type", label="Incident type", optional=True,
                       hint="Left empty, the policy's classification rules decide.",
                       element=StaticSelectElement(action_id=DECLARE_VALUE_ACTION, placeholder="Choose a type",
                                                   options=types[:100])),
            InputBlock(block_id="service", label="Affected service", optional=True,
                       element=PlainTextInputElement(action_id=DECLARE_VALUE_ACTION, max_length=SERVICE_MAX,
                                                     placeholder="checkout")),
            ContextBlock(elements=[MarkdownTextObject(
                text="Declaring pages the first responders for the type and severity, as for an alert.")]),
        ],
    )


def status_text(policy: Policy, incident: Incident, firing: int, total: int) -> str:
    """`/incident status`: title, severity, status, owner and alert counts (mrkdwn)."""
    itype = policy.incident_types.get(incident.type)
    owner = incident.owner
    lines = [
        f"*{incident.id}*: {_clip(incident.title, 200)}",
        f"*Severity* {SEVERITY_LABEL[incident.severity]} · *Status* {incident.status.value.capitalize()}"
        f" · *Owner* {_person(policy, owner) if owner else 'nobody yet'}",
        f"*Alerts* {firing} firing of {total} · *Type* {itype.name if itype else incident.type}"
        f" · *Service* {incident.service or 'unknown'}",
        f"Detected {incident.detected_at:%Y-%m-%d %H:%M} UTC",
    ]
    if incident.resolution_summary:
        lines.append(f"*Resolved* {_clip(incident.resolution_summary, 500)}")
    partner = partner_line(incident)
    if partner:
        lines.append(partner)
    return "\n".join(lines)


def list_text(open_incidents: list[Incident], acknowledged: list[Incident], *, more: bool = False) -> str:
    """`/incident list`: open incidents, then acknowledged ones, newest first."""
    if not open_incidents and not acknowledged:
        return "No open or acknowledged incidents."
    lines: list[str] = []
    for heading, incidents in (("Open", open_incidents), ("Acknowledged", acknowledged)):
        if incidents:
            lines.append(f"*{heading}* ({len(incidents)})")
            lines += [f"• *{i.id}* [{i.severity.value.upper()}] {_clip(i.title, 100)}" for i in incidents]
    if more:
        lines.append("_More incidents than shown; see the API for the full list._")
    return "\n".join(lines)


def _person(policy: Policy, who: str) -> str:
    """A Slack mention for a Slack user id or a policy person with one; the name otherwise."""
    if re.match(r"^[UW][A-Z0-9]{2,}$", who):
        return f"<@{who}>"
    person = next((p for p in policy.people if p.id == who), None)
    if person is None:
        return who
    return f"<@{person.slack_user_id}>" if person.slack_user_id else person.name


def view_payload(view: View) -> dict[str, Any]:
    """The JSON views.open takes (validated by slack_sdk's models on the way)."""
    return view.to_dict()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def partner_line(incident: Incident) -> str:
    """Who reported it, its Freshdesk ticket and its follow-up work items, in one line ('' if none)."""
    parts = []
    if incident.partner:
        parts.append(f"*Partner* {incident.partner.name} (via {incident.partner.channel})")
    if incident.ticket:
        ticket = f"#{incident.ticket.id}"
        parts.append(f"*Freshdesk* <{incident.ticket.url}|{ticket}>" if incident.ticket.url else
                     f"*Freshdesk* {ticket}")
    if incident.ticket_sync_due_at:
        parts.append(":hourglass: ticket sync waiting for Freshdesk")
    for item in incident.follow_ups[:5]:
        state = item.work_item.state_name if item.work_item and item.work_item.state_name else (
            "in Plane" if item.work_item else "waiting for Plane")
        title = f"<{item.work_item.url}|{_clip(item.title, 60)}>" if item.work_item and item.work_item.url else \
            _clip(item.title, 60)
        parts.append(f"*{item.id}* {title} ({state})")
    return "  ·  ".join(parts)
