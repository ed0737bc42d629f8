"""What the incident's Freshdesk ticket should look like: pure rules, no HTTP.

The policy: partner incidents are tracked on the partner's own ticket; every incident that escalates
past its first level gets a ticket of its own. The ticket carries the incident's story as private notes
(one per timeline entry that matters to support), its status and priority follow the incident, and only
words a person wrote for the partner (a PST update) go out as a public reply.
"""

from __future__ import annotations

import html
from typing import Literal

from pydantic import BaseModel

from shared.config.policy import Policy
from shared.domain.incident import Incident, IncidentStatus, TimelineEntry
from shared.domain.model import Severity

OPEN, PENDING, RESOLVED, CLOSED = 2, 3, 4, 5
PRIORITY = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
SOURCE_PORTAL = 2
SOURCE_PHONE = 3

# Timeline entries that become private notes on the ticket (pages, alerts and CERT-In steps do not:
# support staff need the story, not every page, and CERT-In details stay with the security team).
NOTE_KINDS = {
    "incident.opened", "incident.acknowledged", "incident.assigned", "incident.severity_changed",
    "incident.severity_raised", "escalation.escalated", "escalation.manual", "escalation.response_breached",
    "incident.alerts_resolved", "incident.resolved", "follow_up.added", "follow_up.linked",
}
REPLY_KINDS = {"partner.update"}


class TicketOperation(BaseModel):
    kind: Literal["note", "reply"]
    body: str  # HTML


def needs_ticket(policy: Policy, incident: Incident) -> bool:
    if incident.ticket is not None or incident.partner is not None:
        return True
    freshdesk = policy.partners.freshdesk
    if freshdesk is None or not freshdesk.ticket_escalated_incidents or incident.escalation is None:
        return False
    return incident.escalation.level >= 1


def reusable_ticket(incident: Incident) -> int | None:
    """A partner's Freshdesk ticket is the incident's ticket; a chat or an escalation needs a new one."""
    partner = incident.partner
    return partner.ticket_id if partner and partner.channel in ("freshdesk", "pst") else None


def new_ticket(policy: Policy, incident: Incident, incident_url: str | None) -> dict:
    """The body of POST /api/v2/tickets, as Freshdesk's API v2 documents it."""
    freshdesk = policy.partners.freshdesk
    requester = freshdesk.requester_email if freshdesk else "incidents@example.com"
    partner = incident.partner
    lines = [f"<p><b>{html.escape(incident.id)}</b> ({incident.severity.value}): {html.escape(incident.title)}</p>"]
    if partner:
        lines.append(f"<p>Reported by {html.escape(partner.name)} via {html.escape(partner.channel)}.</p>")
    if incident.summary and incident.category.value != "security":
        lines.append(f"<p>{_paragraphs(incident.summary[:2000])}</p>")
    if incident_url:
        lines.append(f'<p><a href="{html.escape(incident_url)}">Incident record</a></p>')
    body: dict = {
        "subject": f"[{incident.id}] [{incident.severity.value.upper()}] {incident.title}"[:255],
        "description": "".join(lines),
        "email": (partner.requester_email if partner and partner.requester_email else requester),
        "priority": PRIORITY[incident.severity],
        "status": desired_status(incident),
        "source": SOURCE_PHONE if partner and partner.channel == "pst" else SOURCE_PORTAL,
        "type": freshdesk.ticket_type if freshdesk else "Incident",
        "tags": _tags(policy, incident),
    }
    if freshdesk and freshdesk.group_id is not None:
        body["group_id"] = freshdesk.group_id
    return body


def _tags(policy: Policy, incident: Incident) -> list[str]:
    base = list(policy.partners.freshdesk.tags) if policy.partners.freshdesk else ["incident"]
    return [*dict.fromkeys([*base, incident.id, f"sev-{incident.severity.value}"])]


def desired_status(incident: Incident) -> int:
    return RESOLVED if incident.status is IncidentStatus.RESOLVED else OPEN


def ticket_changes(incident: Incident) -> dict:
    """The PUT body that brings the ticket in line with the incident, or {} when it already is."""
    ticket = incident.ticket
    if ticket is None:
        return {}
    changes: dict = {}
    if ticket.status != desired_status(incident):
        changes["status"] = desired_status(incident)
    if ticket.priority != PRIORITY[incident.severity]:
        changes["priority"] = PRIORITY[incident.severity]
    return changes


def operation_for(entry: TimelineEntry, incident_id: str, entry_id: str) -> TicketOperation | None:
    if entry.kind in REPLY_KINDS:
        text = str(entry.data.get("text") or entry.text)
        return TicketOperation(kind="reply", body=f"<p>{_paragraphs(text)}</p>")
    if entry.kind not in NOTE_KINDS:
        return None
    when = entry.at.strftime("%Y-%m-%d %H:%M UTC")
    who = "" if entry.actor == "system" else f" ({html.escape(entry.actor)})"
    return TicketOperation(kind="note", body=f"<p><b>[{html.escape(incident_id)}] {when}</b>{who}: "
                                             f"{_paragraphs(entry.text)}</p><p><small>{note_ref(entry_id)}</small></p>")


def note_ref(entry_id: str) -> str:
    """A visible reference on each note, so a retried sync can tell the note is already there."""
    return f"ref {entry_id}"


def _paragraphs(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.splitlines())
