"""The escalation engine's rules: a frozen plan per incident and a state machine over it.

When an incident opens, its path (from the policy, for its type and severity) is copied into
the incident: editing the policy later does not change escalations in flight. The state stores
when the next step is due (`next_at`), so a lost timer only delays work: whoever finds the step
overdue (the task callback or the reconciler) advances it with `advance`, and the same step can
never be advanced twice because each step has a number that callbacks must name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from shared.config.policy import Policy
from shared.domain.model import Severity

PageReason = Literal["initial", "parallel", "escalated", "repeat", "manual", "certin_critical",
                     "certin_assessment_reminder", "certin_assessment_due", "certin_report_reminder",
                     "certin_report_due", "pst_update_due", "review_reminder", "review_missed", "change_review"]


class Recipient(BaseModel):
    person_id: str
    name: str
    slack_user_id: str | None = None


class PlannedLevel(BaseModel):
    roles: list[str]
    people: list[Recipient]
    target: timedelta = Field(description="time to acknowledge before the next level is paged")
    note: str = ""


class Page(BaseModel):
    """One notification of one person for one step: the unit of 'never page twice'."""

    step: int
    level: int  # 1-based, as people say it
    reason: PageReason
    recipient: Recipient
    topic: str = ""  # pages outside the escalation path (the CERT-In clock) name what they are about

    @property
    def key(self) -> str:
        return f"{self.topic or self.step}:{self.recipient.person_id}"


class EscalationState(BaseModel):
    plan: list[PlannedLevel]
    parallel: list[Recipient] = []
    repeat_every: timedelta | None = None
    level: int = 0  # index into plan of the level being paged
    step: int = 0  # increases by one at every page round; task names and callbacks carry it
    level_started_at: datetime
    last_paged_at: datetime
    next_at: datetime | None = None
    stopped: str | None = None  # acknowledged, resolved, exhausted
    response_breached_at: datetime | None = None


class StepResult(BaseModel):
    state: EscalationState
    pages: list[Page] = []
    breached: bool = False  # the response target passed without acknowledgement, just now
    escalated: bool = False


def plan(policy: Policy, incident_type: str, severity: Severity) -> tuple[list[PlannedLevel], list[Recipient]]:
    """The path for this type and severity, with people resolved now (a snapshot)."""
    itype = policy.incident_types.get(incident_type) or policy.incident_types[policy.classification.default.type]
    level_cfg = policy.severity(severity)
    levels = [
        PlannedLevel(roles=list(step.roles), people=_people(policy, step.roles),
                     target=step.response_target or level_cfg.response_target, note=step.note)
        for step in itype.path_for(severity)
    ]
    parallel: list[Recipient] = []
    if severity is Severity.CRITICAL and level_cfg.parallel_escalation:
        first = {r.person_id for r in levels[0].people}
        parallel = [r for r in _people(policy, policy.emergency.parallel_roles) if r.person_id not in first]
    return levels, parallel


def start(policy: Policy, incident_type: str, severity: Severity, now: datetime) -> StepResult:
    """Step 1: page level 1 (and, for critical incidents, the emergency roles in parallel)."""
    levels, parallel = plan(policy, incident_type, severity)
    state = EscalationState(plan=levels, parallel=parallel, repeat_every=policy.severity(severity).repeat_page_every,
                            level=0, step=1, level_started_at=now, last_paged_at=now)
    state.next_at = _next_at(state)
    pages = _pages(state, "initial") + [Page(step=1, level=1, reason="parallel", recipient=r) for r in parallel]
    return StepResult(state=state, pages=pages)


def is_due(state: EscalationState, step: int, now: datetime) -> bool:
    """A callback for `step` acts only if that step is still the active one and its time has come."""
    return state.stopped is None and state.step == step and state.next_at is not None and now >= state.next_at


def advance(state: EscalationState, now: datetime) -> StepResult:
    """The due step: escalate when the level's target passed, else page the same level again."""
    new = state.model_copy(deep=True)
    breached = False
    level_deadline = state.level_started_at + state.plan[state.level].target
    escalate = now >= level_deadline
    if escalate and new.response_breached_at is None:
        new.response_breached_at = now
        breached = True
    new.step += 1
    new.last_paged_at = now
    if escalate and new.level + 1 < len(new.plan):
        new.level += 1
        new.level_started_at = now
        reason: PageReason = "escalated"
    elif escalate:
        # Past the last level: keep paging it while nobody acknowledges, but never stop silently.
        new.level_started_at = now
        reason = "repeat"
    else:
        reason = "repeat"
    new.next_at = _next_at(new)
    return StepResult(state=new, pages=_pages(new, reason), breached=breached, escalated=reason == "escalated")


def escalate_now(state: EscalationState, now: datetime) -> StepResult:
    """A person asks for the next level at once (manual escalation)."""
    new = state.model_copy(deep=True)
    new.stopped = None
    new.step += 1
    new.level = min(new.level + 1, len(new.plan) - 1)
    new.level_started_at = now
    new.last_paged_at = now
    new.next_at = _next_at(new)
    return StepResult(state=new, pages=_pages(new, "manual"), escalated=True)


def replan(policy: Policy, state: EscalationState, incident_type: str, old: Severity, new_severity: Severity,
           now: datetime) -> StepResult:
    """A severity change re-plans the path; an upgrade to critical pages the emergency roles at once."""
    levels, parallel = plan(policy, incident_type, new_severity)
    new = state.model_copy(deep=True)
    new.plan = levels
    new.parallel = parallel
    new.repeat_every = policy.severity(new_severity).repeat_page_every
    new.level = min(state.level, len(levels) - 1)
    new.level_started_at = now
    new.last_paged_at = now
    new.step += 1
    pages: list[Page] = []
    if new_severity is Severity.CRITICAL and old is not Severity.CRITICAL:
        already = {r.person_id for r in levels[new.level].people}
        pages = [Page(step=new.step, level=new.level + 1, reason="parallel", recipient=r)
                 for r in parallel if r.person_id not in already]
    if new.stopped is None:
        new.next_at = _next_at(new)
    return StepResult(state=new, pages=pages)


def stop(state: EscalationState, reason: str) -> EscalationState:
    new = state.model_copy(deep=True)
    new.stopped = reason
    new.next_at = None
    return new


def _next_at(state: EscalationState) -> datetime:
    deadline = state.level_started_at + state.plan[state.level].target
    if state.repeat_every:
        return min(deadline, state.last_paged_at + state.repeat_every)
    return deadline


def _pages(state: EscalationState, reason: PageReason) -> list[Page]:
    level = state.plan[state.level]
    return [Page(step=state.step, level=state.level + 1, reason=reason, recipient=r) for r in level.people]


def people_of(policy: Policy, roles: list[str]) -> list[Recipient]:
    return _people(policy, roles)


def _people(policy: Policy, roles: list[str]) -> list[Recipient]:
    seen: dict[str, Recipient] = {}
    for role in roles:
        for person in policy.members(role):
            seen.setdefault(person.id, Recipient(person_id=person.id, name=person.name,
                                                 slack_user_id=person.slack_user_id))
    return list(seen.values())
