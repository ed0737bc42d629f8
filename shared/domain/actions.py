"""What a person's command, or a due escalation step, changes on an incident. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.config.policy import Policy
from shared.domain import certin, escalation
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
    from shared.domain.resolution import schedule_review  # critical and high: RCA draft and review clock

    review = schedule_review(policy, incident, now)
    return Change(updates=updates | review.updates, events=[EventType.RESOLVED], free_group=True, timeline=[
        TimelineEntry(at=now, kind="incident.resolved", text=f"Resolved by {who}: {command.summary.strip()}"),
        *review.timeline])


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



# ---- the CERT-In clock ------------------------------------------------------------------------------

_DEADLINE_TEXT = {
    "assessment_reminder": "CERT-In: assess reportability before {at} (2-hour limit)",
    "assessment_due": "CERT-In: the 2-hour reportability assessment was missed",
    "report_reminder": "CERT-In: report due at {at} (6 hours from detection)",
    "report_due": "CERT-In: the 6-hour reporting deadline has passed without a submitted report",
}


def start_cert_in(policy: Policy, incident: Incident, now: datetime, marked_by: str = "system") -> Change:
    """Starts the clock from detection; critical incidents notify the CTO and the Broking Head at once."""
    state = certin.start(policy.cert_in, incident.detected_at, f"{incident.title}\n{incident.summary}", marked_by)
    pages = []
    if incident.severity is Severity.CRITICAL:
        pages = [Page(step=0, level=0, reason="certin_critical", recipient=r, topic="certin-critical")
                 for r in escalation.people_of(policy, policy.cert_in.notify_roles_critical)]
    return Change(updates=cert_in_fields(state), pages=pages, events=[EventType.CERT_IN_CHANGED], timeline=[
        TimelineEntry(at=now, kind="cert_in.clock_started", actor=marked_by, source="cert-in", text=(
            f"CERT-In clock started from detection at {incident.detected_at:%Y-%m-%d %H:%M} UTC; possibly reportable"
            + (f" as type {state.suggested_type}" if state.suggested_type else "")))])


def cert_in_due(policy: Policy, incident: Incident, now: datetime) -> Change | None:
    """The deadlines whose time has come: remind, escalate, or raise the breach alert. Each acts once."""
    state = incident.cert_in
    if state is None:
        return None
    deadlines = certin.due(state, now)
    if not deadlines:
        return None
    new = certin.fire(state, deadlines, now)
    change = Change(updates=cert_in_fields(new), events=[EventType.CERT_IN_DEADLINE])
    for deadline in deadlines:
        roles = {
            "assessment_reminder": policy.cert_in.assessors,
            "assessment_due": [*policy.cert_in.missed_assessment_roles, *policy.cert_in.assessors],
            "report_reminder": policy.cert_in.assessors,
            "report_due": policy.cert_in.breach_roles,
        }[deadline.kind]
        text = _DEADLINE_TEXT[deadline.kind].format(at=f"{_report_due(state):%H:%M} UTC"
                                                    if deadline.kind == "report_reminder"
                                                    else f"{deadline.at:%H:%M} UTC")
        change.timeline.append(TimelineEntry(at=now, kind=f"cert_in.{deadline.kind}", source="cert-in", text=text,
                                             data={"deadline": deadline.key, "due": deadline.at.isoformat()}))
        change.pages += [Page(step=0, level=0, reason=f"certin_{deadline.kind}", recipient=r,
                              topic=f"certin-{deadline.key}") for r in escalation.people_of(policy, roles)]
    return change


def cert_in_fields(state: certin.CertInState) -> dict[str, Any]:
    return {"cert_in": state.model_dump(mode="json"), "cert_in_next_due_at": certin.next_due_at(state)}


def _report_due(state: certin.CertInState) -> datetime:
    return next(d.at for d in state.deadlines if d.kind == "report_due")


def cert_in_flag(policy: Policy, incident: Incident, who: str, type_id: int | None, now: datetime) -> Change:
    """A person marks an incident possibly reportable (starting the clock from detection if it is not running)."""
    _check_type(type_id)
    if incident.cert_in is None:
        change = start_cert_in(policy, incident, now, marked_by=who)
        if type_id:
            state = certin.CertInState(**change.updates["cert_in"])
            state.suggested_type = type_id
            change.updates = cert_in_fields(state)
        return change
    state = incident.cert_in.model_copy(deep=True)
    state.possibly_reportable = True
    state.suggested_type = type_id or state.suggested_type
    return Change(updates=cert_in_fields(state), events=[EventType.CERT_IN_CHANGED], timeline=[TimelineEntry(
        at=now, kind="cert_in.flagged", actor=who, source="cert-in", text=f"{who} marked it possibly reportable")])


def cert_in_assess(policy: Policy, incident: Incident, actor: Actor, reportable: bool, type_id: int | None,
                   reason: str, now: datetime) -> Change:
    if incident.cert_in is None:
        raise Refused(409, "no_cert_in_clock", f"{incident.id} is not a possibly reportable security incident")
    if not holds_role(policy, actor, policy.cert_in.assessors + policy.cert_in.missed_assessment_roles):
        raise Refused(403, "forbidden", f"only {', '.join(policy.cert_in.assessors)} assess reportability")
    _check_type(type_id)
    if reportable and not (type_id or incident.cert_in.suggested_type):
        raise Refused(400, "missing_type", "a reportable incident needs its CERT-In type (1-20, Annexure I)")
    who = actor_label(policy, actor)
    assessment = certin.Assessment(reportable=reportable, type=type_id or incident.cert_in.suggested_type,
                                   reason=reason, by=who, at=now)
    state = certin.assess(incident.cert_in, assessment)
    verdict = f"reportable as type {assessment.type}" if reportable else "not reportable"
    return Change(updates=cert_in_fields(state), events=[EventType.CERT_IN_CHANGED], timeline=[TimelineEntry(
        at=now, kind="cert_in.assessed", actor=who, source="cert-in", text=f"{who} assessed: {verdict}. {reason}",
        data={"reportable": reportable, "type": assessment.type})])


def cert_in_report(incident: Incident, who: str, fields: dict[str, str], now: datetime) -> Change:
    state = _clock(incident).model_copy(deep=True)
    state.report |= {k: v for k, v in fields.items() if v is not None}
    state.report_versions.append({"at": now.isoformat(), "by": who, "fields": dict(state.report)})
    return Change(updates=cert_in_fields(state), timeline=[TimelineEntry(
        at=now, kind="cert_in.report_edited", actor=who, source="cert-in",
        text=f"{who} completed the report draft ({', '.join(sorted(fields))}); version {len(state.report_versions)}")])


def cert_in_submit(incident: Incident, submission: certin.Submission, now: datetime) -> Change:
    state = _clock(incident)
    if state.submission is not None:
        return Change(result="already submitted")
    new = certin.submit(state, submission)
    late = submission.at > next(d.at for d in state.deadlines if d.kind == "report_due")
    return Change(updates=cert_in_fields(new), events=[EventType.CERT_IN_CHANGED], timeline=[TimelineEntry(
        at=now, kind="cert_in.submitted", actor=submission.by, source="cert-in",
        text=f"Report submitted to CERT-In by {submission.method} at {submission.at:%Y-%m-%d %H:%M} UTC, "
             f"reference {submission.reference}" + (" (after the 6-hour deadline)" if late else ""),
        data={"method": submission.method, "reference": submission.reference})])


def cert_in_follow_up(incident: Incident, who: str, text: str, now: datetime) -> Change:
    state = _clock(incident).model_copy(deep=True)
    state.follow_ups.append(certin.FollowUp(at=now, by=who, text=text))
    return Change(updates=cert_in_fields(state), timeline=[TimelineEntry(
        at=now, kind="cert_in.follow_up", actor=who, source="cert-in", text=f"Update to CERT-In: {text}")])


def _clock(incident: Incident) -> certin.CertInState:
    if incident.cert_in is None:
        raise Refused(409, "no_cert_in_clock", f"{incident.id} is not a possibly reportable security incident")
    return incident.cert_in


def _check_type(type_id: int | None) -> None:
    if type_id is not None and type_id not in certin.CERT_IN_TYPES:
        raise Refused(400, "invalid_type", "the CERT-In type is a number from 1 to 20 (Annexure I)")
