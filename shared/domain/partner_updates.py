"""The PST's update rhythm: remind the partner's PST contact at the policy's interval until resolution.

State lives on the incident (`partner_updates`, with `partner_update_due_at` for the reconciler's query);
each reminder has a round number that its timer names, so a duplicate or late timer finds nothing to do,
and an update sent by the PST moves the next reminder a full interval on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.config.policy import Policy
from shared.domain.actions import Change, Refused
from shared.domain.escalation import Page, Recipient
from shared.domain.incident import EventType, Incident, IncidentStatus, PartnerUpdates, TimelineEntry

UPDATE_MAX = 3000


def interval_for(policy: Policy, incident: Incident) -> timedelta | None:
    return policy.partners.update_interval.get(incident.severity)


def start(policy: Policy, incident: Incident, now: datetime) -> Change | None:
    """Set the first reminder of a partner incident (once; later calls change nothing)."""
    if incident.partner is None or incident.partner_updates is not None or incident.status is IncidentStatus.RESOLVED:
        return None
    interval = interval_for(policy, incident)
    if interval is None:
        return None
    state = PartnerUpdates(interval=interval, round=1, next_due_at=incident.created_at + interval)
    who = _pst(policy, incident)
    return Change(updates=fields(state), timeline=[TimelineEntry(
        at=now, kind="partner.updates_planned", source="partners",
        text=f"{who.name if who else 'The PST'} will be reminded to update {incident.partner.name} "
             f"every {_human(interval)} until resolution")])


def due_reminder(policy: Policy, incident: Incident, round_no: int, now: datetime) -> Change | None:
    """The timer of reminder `round_no` fired: page the PST contact once, plan the next one."""
    state = incident.partner_updates
    if state is None or state.round != round_no or state.next_due_at is None or state.next_due_at > now:
        return None
    if incident.status is IncidentStatus.RESOLVED:
        return Change(updates=fields(state.model_copy(update={"next_due_at": None})))
    interval = interval_for(policy, incident) or state.interval
    following = state.model_copy(update={"round": round_no + 1, "next_due_at": now + interval,
                                         "interval": interval})
    who = _pst(policy, incident)
    pages = [Page(step=0, level=0, reason="pst_update_due", topic=f"pst-update-{round_no}", recipient=who)] \
        if who else []
    since = state.last_update_at or incident.created_at
    return Change(updates=fields(following), pages=pages, timeline=[TimelineEntry(
        at=now, kind="partner.update_reminder", source="partners",
        text=f"Reminded {who.name if who else 'nobody (no PST member in the policy)'} to update "
             f"{incident.partner.name if incident.partner else 'the partner'}; last update "
             f"{_human(now - since)} ago", data={"round": round_no})])


def record_update(policy: Policy, incident: Incident, who: str, text: str, now: datetime) -> Change:
    """A person's update for the partner: goes to the ticket as a public reply, and resets the rhythm."""
    if incident.partner is None:
        raise Refused(409, "not_a_partner_incident", f"{incident.id} was not reported by a partner")
    text = text.strip()
    if not text:
        raise Refused(400, "invalid_field", "the update needs text for the partner")
    if len(text) > UPDATE_MAX:
        raise Refused(400, "invalid_field", f"keep the update under {UPDATE_MAX} characters")
    updates: dict[str, Any] = {"updated_at": now}
    state = incident.partner_updates
    if state is not None and incident.status is not IncidentStatus.RESOLVED:
        interval = interval_for(policy, incident) or state.interval
        updates |= fields(state.model_copy(update={"round": state.round + 1, "next_due_at": now + interval,
                                                   "last_update_at": now, "last_update_by": who,
                                                   "interval": interval}))
    return Change(updates=updates, events=[EventType.PARTNER_UPDATED], timeline=[TimelineEntry(
        at=now, kind="partner.update", actor=who, source="partners",
        text=f"Update to {incident.partner.name}: {text}", data={"text": text})])


def fields(state: PartnerUpdates) -> dict[str, Any]:
    return {"partner_updates": state.model_dump(mode="json"), "partner_update_due_at": state.next_due_at}


def _pst(policy: Policy, incident: Incident) -> Recipient | None:
    person_id = incident.partner.pst_person if incident.partner else None
    if person_id is None or person_id not in {p.id for p in policy.people}:
        return None
    person = policy.person(person_id)
    return Recipient(person_id=person.id, name=person.name, slack_user_id=person.slack_user_id)


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return f"{int(delta.total_seconds())} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} days"
