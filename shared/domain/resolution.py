"""What resolution work changes on an incident: the review clock, emergency changes, notes, mitigation. Pure.

Each function returns a `Change` that FirestoreStore.change_incident writes in one transaction with
its timeline entries and pages (pages are claimed per deadline and person, so a duplicate timer or
reconciler run never messages twice).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shared.config.policy import Policy
from shared.domain import review
from shared.domain.actions import Change, Refused
from shared.domain.escalation import Page, Recipient, people_of
from shared.domain.incident import Incident, IncidentStatus, TimelineEntry

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def review_fields(state: review.ReviewState) -> dict[str, Any]:
    return {"review": state.model_dump(mode="json"), "review_next_due_at": review.next_due_at(state)}


def needs_review(policy: Policy, incident: Incident) -> bool:
    level = policy.severities.get(incident.severity)
    return bool(level and level.requires_rca)


def schedule_review(policy: Policy, incident: Incident, now: datetime) -> Change:
    """Part of the resolution of a critical or high incident: RCA draft now, review due in 48 hours."""
    if not needs_review(policy, incident) or (incident.review and incident.review.required):
        return Change()
    state = review.schedule(policy.review, incident.review, incident.id, now)
    return Change(updates=review_fields(state), timeline=[TimelineEntry(
        at=now, kind="review.scheduled", source="review",
        text=f"Post-incident review due by {state.due_at:%Y-%m-%d %H:%M} UTC; RCA {state.rca_id} opened as a draft",
        data={"due_at": state.due_at.isoformat(), "rca_id": state.rca_id})])


def review_due(policy: Policy, incident: Incident, now: datetime) -> Change | None:
    """The deadlines whose time has come: remind the owner and the team lead, tell the CTO when missed."""
    state = incident.review
    if state is None:
        return None
    deadlines = review.due(state, now)
    if not deadlines:
        return None
    change = Change(updates=review_fields(review.fire(state, deadlines, now)))
    for deadline in deadlines:
        if deadline.kind == "draft":
            change.timeline.append(TimelineEntry(at=now, kind="rca.drafted", source="review", text=(
                f"RCA draft {state.rca_id} pre-filled from the timeline"), data={"rca_id": state.rca_id}))
            continue
        if deadline.kind == "change_review":
            item = review.change_of(state, deadline)
            recipients = _unique([*people_of(policy, policy.emergency.parallel_roles), *_owner(policy, incident)])
            text = f"Stakeholder review of emergency change {item.id} is due: {item.text}"
            reason = "change_review"
        elif deadline.kind == "reminder":
            recipients = _unique([*_owner(policy, incident), *people_of(policy, policy.review.owners)])
            text = f"Post-incident review due by {state.due_at:%Y-%m-%d %H:%M} UTC (RCA {state.rca_id})"
            reason = "review_reminder"
        else:
            recipients = _unique(people_of(policy, policy.review.escalate_to))
            text = f"The post-incident review was missed: not held within {_hours(policy)} of resolution"
            reason = "review_missed"
        change.timeline.append(TimelineEntry(at=now, kind=f"review.{deadline.kind}", source="review", text=text,
                                             data={"deadline": deadline.key, "due": deadline.at.isoformat()}))
        change.pages += [Page(step=0, level=0, reason=reason, recipient=r, topic=f"review-{deadline.key}")
                         for r in recipients]
    return change


def hold_review(incident: Incident, who: str, how: review.HeldHow, now: datetime, notes: str = "") -> Change:
    state = incident.review
    if state is None or not state.required:
        raise Refused(409, "no_review", f"{incident.id} has no post-incident review (only critical and high "
                      "incidents get one, at resolution)")
    if state.held_at is not None:
        return Change(result="already held")
    text = {"marked": f"{who} marked the post-incident review held",
            "rca_in_review": f"Post-incident review held: RCA {state.rca_id} moved to in review by {who}"}[how]
    if notes:
        text += f": {notes}"
    late = " (after the deadline)" if state.due_at and now > state.due_at else ""
    return Change(updates=review_fields(review.hold(state, who, how, now)), timeline=[TimelineEntry(
        at=now, kind="review.held", actor=who, source="review", text=text + late, data={"how": how})])


def emergency_change(policy: Policy, incident: Incident, who: str, source: str, text: str, now: datetime) -> Change:
    text = text.strip()
    if len(text) < 3:
        raise Refused(400, "missing_text", "describe the emergency change")
    state, item = review.record_change(incident.review, who, text, now, policy.emergency.change_review_after)
    return Change(updates=review_fields(state) | {"updated_at": now}, timeline=[TimelineEntry(
        at=now, kind="change.recorded", actor=who, source=source,
        text=f"Emergency change {item.id}: {text} (stakeholder review due {item.review_at:%Y-%m-%d %H:%M} UTC)",
        data={"change_id": item.id, "review_at": item.review_at.isoformat()})])


def change_reviewed(incident: Incident, change_id: str, who: str, now: datetime) -> Change:
    if incident.review is None:
        raise Refused(404, "not_found", f"{incident.id} has no emergency change {change_id}")
    try:
        state = review.review_change(incident.review, change_id, who, now)
    except KeyError:
        raise Refused(404, "not_found", f"{incident.id} has no emergency change {change_id}") from None
    return Change(updates=review_fields(state), timeline=[TimelineEntry(
        at=now, kind="change.reviewed", actor=who, source="review",
        text=f"Stakeholders reviewed emergency change {change_id}", data={"change_id": change_id})])


def note(incident: Incident, who: str, source: str, text: str, now: datetime, data: dict[str, Any] | None = None
         ) -> Change:
    """A message added to the timeline by a person (API, `/incident note`, or the Slack message shortcut)."""
    text = text.strip()
    if not text:
        raise Refused(400, "missing_text", "the note is empty")
    return Change(timeline=[TimelineEntry(at=now, kind="note", actor=who, source=source, text=text[:5000],
                                          data=data or {})])


def mitigated(incident: Incident, who: str, now: datetime, note_text: str = "") -> Change:
    """Impact stopped (a workaround, a rollback), before the incident is resolved: the clock for MTTM."""
    if incident.mitigated_at is not None:
        return Change(result="already mitigated")
    if incident.status is IncidentStatus.RESOLVED:
        raise Refused(409, "resolved", f"{incident.id} is already resolved")
    text = f"{who} marked the impact mitigated" + (f": {note_text}" if note_text else "")
    return Change(updates={"mitigated_at": now, "updated_at": now}, timeline=[TimelineEntry(
        at=now, kind="incident.mitigated", actor=who, source="api", text=text)])


def _owner(policy: Policy, incident: Incident) -> list[Recipient]:
    owner = incident.owner
    if not owner:
        return []
    person = next((p for p in policy.people if owner in (p.id, p.slack_user_id)), None)
    if person is not None:
        return [Recipient(person_id=person.id, name=person.name, slack_user_id=person.slack_user_id)]
    return [Recipient(person_id=owner, name=owner, slack_user_id=owner if _SLACK_USER.match(owner) else None)]


def _unique(recipients: list[Recipient]) -> list[Recipient]:
    seen: dict[str, Recipient] = {}
    for r in recipients:
        seen.setdefault(r.person_id, r)
    return list(seen.values())


def _hours(policy: Policy) -> str:
    seconds = int(policy.review.post_incident_review_within.total_seconds())
    return f"{seconds // 3600} hours" if seconds % 3600 == 0 else f"{seconds} s"
