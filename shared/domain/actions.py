"""What a person's command, or a due escalation step, changes on an incident. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.config.policy import Policy
from shared.domain import escalation
from shared.domain.commands import Action, Actor, Command
from shared.domain.escalation import Page
from shared.domain.incident import EventType, Incident, IncidentStatus, TimelineEntry
from shared.domain.model import Severity


class Change(BaseModel):
    """Fields to set on the incident, and what else the same transaction writes."""

    updates: dict[str, Any] = Field(default_factory=dict)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    events: list[EventType] = Field(default_factory=list)
    pages: list[Page] = Field(default_factory=list)
    free_group: bool = False
    result: str = "done"


class Refused(Exception):
    """The command cannot apply: not allowed, or not in this state. `status` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status = status
        self.reason = reason


def actor_label(policy: Policy, actor: Actor) -> str:
    if actor.kind == "slack":
        person = next((p for p in policy.people if p.slack_user_id == actor.id), None)
        return person.name if person else f"<@{actor.id}>"
    return actor.name or actor.id


def holds_role(policy: Policy, actor: Actor, roles: list[str]) -> bool:
    """API callers are trusted automation (their token is the credential); Slack users need the role."""
    if actor.kind != "slack":
        return True
    person = next((p for p in policy.people if p.slack_user_id == actor.id), None)
    return person is not None and any(person.id in policy.roles[r].members for r in roles)


def apply_command(policy: Policy, incident: Incident, command: Command, now: datetime) -> Change:
    who = actor_label(policy, command.actor)
    if incident.status is IncidentStatus.RESOLVED and command.action is not Action.RESOLVE:
        raise Refused(409, "resolved", f"{incident.id} is already resolved")
    handler = {
        Action.ACKNOWLEDGE: _acknowledge,
        Action.ASSIGN: _assign,
        Action.SEVERITY: _severity,
        Action.RESOLVE: _resolve,
        Action.ESCALATE: _escalate,
    }[command.action]
    change = handler(policy, incident, command, now, who)
    for entry in change.timeline:
        entry.actor = who
        entry.source = command.actor.kind
        entry.data.setdefault("command_id", command.command_id)
    return change


def _acknowledge(policy: Policy, incident: Incident, command: Command, now: datetime, who: str) -> Change:
    if incident.status is IncidentStatus.ACKNOWLEDGED:
        return Change(result="already acknowledged")
    updates: dict[str, Any] = {"status": IncidentStatus.ACKNOWLEDGED.value, "acknowledged_at": now,
                               "acknowledged_by": who, "updated_at": now}
    if incident.owner is None:
        updates["owner"] = _person_id(policy, command.actor)
    updates |= _stopped(incident, "acknowledged")
    minutes = (now - incident.created_at).total_seconds() / 60
    return Change(updates=updates, events=[EventType.ACKNOWLEDGED], timeline=[TimelineEntry(
        at=now, kind="incident.acknowledged", text=f"Acknowledged by {who} after {minutes:.0f} min")])


def _assign(policy: Policy, incident: Incident, command: Command, now: datetime, who: str) -> Change:
    if not command.owner:
        raise Refused(400, "missing_owner", "say who the owner is")
    if not holds_role(policy, command.actor, policy.assignment):
        raise Refused(403, "forbidden", f"only {', '.join(policy.assignment)} may assign the owner")
    owner = _resolve_person(policy, command.owner)
    return Change(updates={"owner": owner, "updated_at": now}, events=[EventType.ASSIGNED], timeline=[
        TimelineEntry(at=now, kind="incident.assigned", text=f"{who} made {_name(policy, owner)} the owner")])


def _severity(policy: Policy, incident: Incident, command: Command, now: datetime, who: str) -> Change:
    new = command.severity
    if new is None:
        raise Refused(400, "missing_severity", "say which severity")
    if new is incident.severity:
        return Change(result="unchanged")
    updates: dict[str, Any] = {"severity": new.value, "updated_at": now}
    pages: list[Page] = []
    if incident.escalation is not None:
        step = escalation.replan(policy, incident.escalation, incident.type, incident.severity, new, now)
        updates |= escalation_fields(step.state)
        pages = step.pages
    note = f" ({command.note})" if command.note else ""
    return Change(updates=updates, pages=pages, events=[EventType.SEVERITY_CHANGED], timeline=[TimelineEntry(
        at=now, kind="incident.severity_changed", text=f"{who} changed severity {incident.severity} → {new}{note}",
        data={"from": incident.severity.value, "to": new.value})])


def _resolve(policy: Policy, incident: Incident, command: Command, now: datetime, who: str) -> Change:
    if incident.status is IncidentStatus.RESOLVED:
        return Change(result="already resolved")
    if not holds_role(policy, command.actor, policy.resolvers):
        raise Refused(403, "forbidden", f"only {', '.join(policy.resolvers)} may resolve")
    if not (command.summary or "").strip():
        raise Refused(400, "missing_summary", "resolving needs a resolution summary")
    updates: dict[str, Any] = {"status": IncidentStatus.RESOLVED.value, "resolved_at": now,
                               "resolution_summary": command.summary.strip(), "updated_at": now}
    updates |= _stopped(incident, "resolved")
    return Change(updates=updates, events=[EventType.RESOLVED], free_group=True, timeline=[TimelineEntry(
        at=now, kind="incident.resolved", text=f"Resolved by {who}: {command.summary.strip()}")])


def _escalate(policy: Policy, incident: Incident, command: Command, now: datetime, who: str) -> Change:
    if incident.escalation is None:
        raise Refused(409, "no_escalation", f"{incident.id} has no escalation path")
    step = escalation.escalate_now(incident.escalation, now)
    updates = escalation_fields(step.state) | {"updated_at": now, "status": IncidentStatus.OPEN.value}
    level = step.state.level + 1
    return Change(updates=updates, pages=step.pages, events=[EventType.ESCALATED], timeline=[TimelineEntry(
        at=now, kind="escalation.manual", text=f"{who} escalated to level {level} "
        f"({', '.join(step.state.plan[step.state.level].roles)})")])


def due_step(incident: Incident, step: int, now: datetime) -> Change | None:
    """A timer fired (or the reconciler found it overdue): page the next level, or the same again."""
    state = incident.escalation
    if incident.status is not IncidentStatus.OPEN or state is None or not escalation.is_due(state, step, now):
        return None
    result = escalation.advance(state, now)
    level = result.state.plan[result.state.level]
    change = Change(updates=escalation_fields(result.state) | {"updated_at": now}, pages=result.pages)
    if result.breached:
        change.events.append(EventType.RESPONSE_BREACHED)
        change.timeline.append(TimelineEntry(at=now, kind="escalation.response_breached", text=(
            f"No acknowledgement within the {incident.severity} response target")))
    if result.escalated:
        change.events.append(EventType.ESCALATED)
        change.timeline.append(TimelineEntry(at=now, kind="escalation.escalated", text=(
            f"Escalated to level {result.state.level + 1}: {', '.join(level.roles)}")))
    else:
        change.timeline.append(TimelineEntry(at=now, kind="escalation.repeated", text=(
            f"Paged level {result.state.level + 1} again: nobody acknowledged")))
    return change


def start_escalation(policy: Policy, incident_type: str, severity: Severity, now: datetime) -> Change:
    result = escalation.start(policy, incident_type, severity, now)
    return Change(updates=escalation_fields(result.state), pages=result.pages)


def escalation_fields(state: escalation.EscalationState) -> dict[str, Any]:
    """The stored form: durations as text inside the state, the next due time as a queryable timestamp."""
    return {"escalation": state.model_dump(mode="json"), "next_escalation_at": state.next_at}


def _stopped(incident: Incident, reason: str) -> dict[str, Any]:
    if incident.escalation is None:
        return {}
    return escalation_fields(escalation.stop(incident.escalation, reason))


def _person_id(policy: Policy, actor: Actor) -> str:
    if actor.kind == "slack":
        person = next((p for p in policy.people if p.slack_user_id == actor.id), None)
        return person.id if person else actor.id
    return actor.name or actor.id


def _resolve_person(policy: Policy, owner: str) -> str:
    person = next((p for p in policy.people if owner in (p.id, p.slack_user_id, p.email)), None)
    return person.id if person else owner


def _name(policy: Policy, person_id: str) -> str:
    person = next((p for p in policy.people if p.id == person_id), None)
    return person.name if person else person_id

