"""The incident message in Slack, built with slack_sdk's Block Kit models."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from shared.adapters.slack_views import incident_actions_block, partner_line
from shared.config.policy import Policy
from shared.domain.incident import Incident, IncidentStatus
from shared.domain.responders import Responders

SEVERITY_EMOJI = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:",
                  "low": ":white_circle:"}
STATUS_TEXT = {IncidentStatus.OPEN: "Open", IncidentStatus.ACKNOWLEDGED: "Acknowledged",
               IncidentStatus.RESOLVED: "Resolved"}


def incident_message(policy: Policy, incident: Incident, responders: Responders,
                     firing: int, total: int, now: datetime | None = None) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for the incident's one message; later events update it in place."""
    itype = policy.incident_types.get(incident.type)
    emoji = SEVERITY_EMOJI.get(incident.severity.value, "")
    status = STATUS_TEXT[incident.status]
    text = f"{emoji} [{incident.severity.value.upper()}] {incident.id}: {incident.title} ({status})"
    fields = [
        MarkdownTextObject(text=f"*Severity*\n{emoji} {incident.severity.value.capitalize()}"),
        MarkdownTextObject(text=f"*Status*\n{status}"),
        MarkdownTextObject(text=f"*Type*\n{itype.name if itype else incident.type}"),
        MarkdownTextObject(text=f"*Service*\n{incident.service or 'unknown'}"),
        MarkdownTextObject(text=f"*Alerts*\n{firing} firing of {total}"),
        MarkdownTextObject(text=f"*Category*\n{incident.category.value.replace('_', ' ')}"),
        MarkdownTextObject(text=f"*Owner*\n{_owner(policy, incident)}"),
    ]
    blocks: list[Any] = [
        HeaderBlock(text=_clip(f"{incident.id}: {incident.title}", 150)),
        SectionBlock(text=MarkdownTextObject(text=_clip(incident.summary or incident.title, 2900)), fields=fields),
    ]
    links = [f"<{link.url}|{_clip(link.title, 60)}>" for link in incident.links[:6]]
    if incident.runbook_url:
        links.insert(0, f"<{incident.runbook_url}|Runbook>")
    if links:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip("*Links*  " + "  ·  ".join(links), 2900))))
    if incident.status is not IncidentStatus.RESOLVED:
        paging = " ".join(responders.mentions) or "nobody (no one holds the first role)"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip(f"*Paging* {paging}", 2900))))
        state = incident.escalation
        if state is not None:
            level = state.plan[state.level]
            who = ", ".join(p.name for p in level.people) or "nobody"
            line = f"*Escalation* level {state.level + 1} of {len(state.plan)}: {who}"
            if state.next_at and not state.stopped:
                line += f"; next step <!date^{int(state.next_at.timestamp())}^{{time}}|{state.next_at:%H:%M} UTC>"
            elif state.stopped:
                line += f" (stopped: {state.stopped})"
            if state.response_breached_at:
                line += "  :warning: response target missed"
            blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip(line, 2900))))
        blocks.append(incident_actions_block(incident.id, incident.severity))
    elif incident.resolution_summary:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip(f"*Resolved* {incident.resolution_summary}",
                                                                      2900))))
    if incident.cert_in is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip(cert_in_line(incident, now), 2900))))
    if incident.incident_channel:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Incident channel* <#{incident.incident_channel}>")))
    partner = partner_line(incident)
    if partner:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip(partner, 2900))))
    if incident.alerts_resolved_at and incident.status is not IncidentStatus.RESOLVED:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text="*Every alert has resolved.* The owner decides when to resolve the incident.")))
    blocks.append(DividerBlock())
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"{incident.id} · detected {incident.detected_at:%Y-%m-%d %H:%M} UTC · source {incident.source}")]))
    return text, [b.to_dict() for b in blocks]


def cert_in_line(incident: Incident, now: datetime | None) -> str:
    """The CERT-In clock: each open deadline as Slack's own local time plus the time left when last updated."""
    state = incident.cert_in
    if state.submission is not None:
        sent = state.submission
        return f"*CERT-In* :white_check_mark: report submitted ({sent.method}, ref {sent.reference})"
    if state.reportable is False:
        return "*CERT-In* assessed as not reportable"
    parts = []
    for kind, label in (("assessment_due", "assessment"), ("report_due", "report")):
        deadline = next(d for d in state.deadlines if d.kind == kind)
        if kind == "assessment_due" and state.assessment is not None:
            parts.append("assessment done")
            continue
        stamp = f"<!date^{int(deadline.at.timestamp())}^{{time}}|{deadline.at:%H:%M} UTC>"
        if deadline.key in state.fired:
            parts.append(f":rotating_light: {label} deadline {stamp} PASSED")
        else:
            left = f" ({_left(deadline.at - now)} left)" if now else ""
            parts.append(f"{label} due {stamp}{left}")
    return "*CERT-In* :stopwatch: " + " · ".join(parts)


def _left(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes // 60}h {minutes % 60:02d}m"


def _owner(policy: Policy, incident: Incident) -> str:
    if not incident.owner:
        return "not assigned"
    person = next((p for p in policy.people if p.id == incident.owner), None)
    if person is None:
        return f"<@{incident.owner}>" if incident.owner.startswith(("U", "W")) else incident.owner
    return f"<@{person.slack_user_id}>" if person.slack_user_id else person.name


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
