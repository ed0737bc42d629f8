"""The post-incident review clock and emergency-change reviews. Pure rules, time passed in.

Policy: after every critical or high incident (severities with `requires_rca`), an RCA and a
post-incident review within 48 hours of resolution; reminders before the deadline to the owner and
the team lead, the CTO when it is missed. Emergency changes made during an incident get a
stakeholder review reminder 24 hours later.

Like the CERT-In clock, every deadline is fixed when it is created, stored on the incident with
a `fired` list, and acted on once, and only while it still applies: review reminders and the
missed-review escalation stop applying once the review is held. The review counts as held when
its RCA reaches "in review" (the review meeting reads the draft) or when a person marks it held.
The first deadline ("draft", due at resolution) opens the RCA draft, so a crash between the
resolution and the draft is caught by the timer or the reconciler like any other deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from shared.config.policy import ReviewPolicy

DeadlineKind = Literal["draft", "reminder", "missed", "change_review"]
HeldHow = Literal["rca_in_review", "marked"]


class ReviewDeadline(BaseModel):
    key: str  # unique within the incident: "draft", "reminder-86400", "missed", "change-<id>"
    kind: DeadlineKind
    at: datetime


class EmergencyChange(BaseModel):
    """A change made under emergency procedures during an incident, reviewed by stakeholders later."""

    id: str  # stable: C1, C2, ... in order of recording
    at: datetime
    by: str
    text: str
    review_at: datetime
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None


class ReviewState(BaseModel):
    """Stored on the incident (field `review`); the next pending deadline is copied to `review_next_due_at`."""

    required: bool = False  # a post-incident review is owed (critical or high incident resolved)
    resolved_at: datetime | None = None
    due_at: datetime | None = None
    rca_id: str | None = None
    deadlines: list[ReviewDeadline] = Field(default_factory=list)
    fired: list[str] = Field(default_factory=list)
    held_at: datetime | None = None
    held_by: str | None = None
    held_how: HeldHow | None = None
    missed_at: datetime | None = None
    changes: list[EmergencyChange] = Field(default_factory=list)


def rca_id_for(incident_id: str) -> str:
    return f"RCA-{incident_id}"


def schedule(policy: ReviewPolicy, state: ReviewState | None, incident_id: str, resolved_at: datetime) -> ReviewState:
    """Resolution of an incident that needs an RCA: the draft now, reminders before the due time, then missed."""
    new = (state or ReviewState()).model_copy(deep=True)
    if new.required:
        return new
    due = resolved_at + policy.post_incident_review_within
    new.required = True
    new.resolved_at = resolved_at
    new.due_at = due
    new.rca_id = rca_id_for(incident_id)
    new.deadlines.append(ReviewDeadline(key="draft", kind="draft", at=resolved_at))
    for before in sorted(policy.reminders_before, reverse=True):
        if before < policy.post_incident_review_within:
            new.deadlines.append(ReviewDeadline(key=f"reminder-{int(before.total_seconds())}", kind="reminder",
                                                at=due - before))
    new.deadlines.append(ReviewDeadline(key="missed", kind="missed", at=due))
    new.deadlines.sort(key=lambda d: d.at)
    return new


def record_change(state: ReviewState | None, by: str, text: str, at: datetime, review_after: timedelta
                  ) -> tuple[ReviewState, EmergencyChange]:
    new = (state or ReviewState()).model_copy(deep=True)
    change = EmergencyChange(id=f"C{len(new.changes) + 1}", at=at, by=by, text=text, review_at=at + review_after)
    new.changes.append(change)
    new.deadlines.append(ReviewDeadline(key=f"change-{change.id}", kind="change_review", at=change.review_at))
    new.deadlines.sort(key=lambda d: d.at)
    return new, change


def change_of(state: ReviewState, deadline: ReviewDeadline) -> EmergencyChange | None:
    if deadline.kind != "change_review":
        return None
    return next((c for c in state.changes if f"change-{c.id}" == deadline.key), None)


def applies(state: ReviewState, deadline: ReviewDeadline) -> bool:
    """Whether a deadline still matters: review reminders stop once the review is held."""
    if deadline.kind in ("reminder", "missed"):
        return state.held_at is None
    if deadline.kind == "change_review":
        change = change_of(state, deadline)
        return change is not None and change.reviewed_at is None
    return True


def due(state: ReviewState, now: datetime) -> list[ReviewDeadline]:
    return [d for d in state.deadlines if d.at <= now and d.key not in state.fired and applies(state, d)]


def next_due_at(state: ReviewState) -> datetime | None:
    pending = [d.at for d in state.deadlines if d.key not in state.fired and applies(state, d)]
    return min(pending) if pending else None


def fire(state: ReviewState, deadlines: list[ReviewDeadline], now: datetime) -> ReviewState:
    new = state.model_copy(deep=True)
    new.fired.extend(d.key for d in deadlines)
    if any(d.kind == "missed" for d in deadlines) and new.missed_at is None:
        new.missed_at = now
    return new


def hold(state: ReviewState, by: str, how: HeldHow, at: datetime) -> ReviewState:
    """The review took place. Holding it again changes nothing (the first record stands)."""
    new = state.model_copy(deep=True)
    if new.held_at is None:
        new.held_at, new.held_by, new.held_how = at, by, how
    return new


def review_change(state: ReviewState, change_id: str, by: str, at: datetime) -> ReviewState:
    new = state.model_copy(deep=True)
    change = next((c for c in new.changes if c.id == change_id), None)
    if change is None:
        raise KeyError(change_id)
    if change.reviewed_at is None:
        change.reviewed_at, change.reviewed_by = at, by
    return new


def missed_unnoticed(state: ReviewState, now: datetime) -> bool:
    """The invariant the timers keep: a review past due, not held, without the CTO told."""
    return (state.required and state.due_at is not None and now >= state.due_at and state.held_at is None
            and "missed" not in state.fired)
