"""Running the post-incident review clock: open the RCA draft, remind, escalate, keep the next timer set.

Idempotency keys: the RCA id (`rcas/RCA-<incident>` is created only if absent), each deadline's key in
the review state's `fired` list (acted on once, in the same transaction that writes its pages), and
each page `<incident>:review-<deadline>:<person>` claimed before it is sent. A duplicate task, the
reconciler and the resolution's own follow-up can all run together: one draft, one message each.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.config.policy import Policy
from shared.domain import rca as rca_domain
from shared.domain import review
from shared.domain.incident import Incident
from shared.domain.model import stable_hash
from shared.domain.names import task_id
from shared.domain.ports import Chat, Publisher, Scheduler
from shared.domain.resolution import hold_review, review_due
from shared.handlers.escalation import deliver_pages
from shared.handlers.events import publish_events
from shared.log import get_logger
from shared.settings import settings
from shared.topology import QUEUE_TIMERS

log = get_logger("review")
ANNOUNCE_LEASE = timedelta(minutes=2)


def run_review(incident_id: str, *, policy: Policy, store, rcas, publisher: Publisher, chat: Chat,
               scheduler: Scheduler, now: datetime) -> str:
    """The task callback, the reconciler and the resolution's follow-up: act on what is due, once."""
    incident = store.get_incident(incident_id)
    if incident is None:
        raise LookupError(incident_id)
    if incident.review is None:
        return "no_review"
    due = review.due(incident.review, now)
    if any(d.kind == "draft" for d in due):
        ensure_draft(incident, store=store, rcas=rcas, now=now)  # before the deadline is marked fired
        announce_draft(incident, store=store, chat=chat, now=now)
    if any(d.kind in ("reminder", "missed") for d in due):
        held_by_rca(incident, rcas=rcas, store=store, now=now)  # before anyone is reminded of a held review
    change, events = store.change_incident(incident_id, lambda current: review_due(policy, current, now), now)
    publish_events(events, store, publisher)
    incident = store.get_incident(incident_id)
    deliver_pages(incident, store=store, chat=chat, now=now)
    schedule_next(incident, scheduler)
    return "not_due" if change is None else "fired"


def ensure_draft(incident: Incident, *, store, rcas, now: datetime) -> bool:
    """Create the RCA draft from the incident and its timeline, unless it exists (True when created)."""
    rca_id = incident.review.rca_id or review.rca_id_for(incident.id)
    if rcas.get_rca(rca_id) is not None:
        return False
    timeline = store.timeline_of(incident.id, rca_domain.MAX_TIMELINE * 2)
    _, total = store.alert_counts(incident.id)
    sent = sum(1 for p in store.pages_of(incident.id) if p.get("status") == "sent")
    created = rcas.create_rca(rca_domain.draft(incident, timeline, rca_id=rca_id, alerts_total=total,
                                               pages_sent=sent, now=now))
    if created:
        log.info("rca drafted", extra={"incident_id": incident.id, "rca_id": rca_id})
    return created


def announce_draft(incident: Incident, *, store, chat: Chat, now: datetime) -> None:
    """Say in the incident's thread that the RCA is open and when the review is due. Claim `rca-announce:<id>`."""
    if not incident.slack_channel or not incident.slack_ts:
        return
    key = f"rca-announce:{incident.id}"
    if not store.claim(key, now, ANNOUNCE_LEASE):
        return
    state = incident.review
    text = (f":memo: RCA draft {state.rca_id} is open, pre-filled from the timeline. Post-incident review due by "
            f"{state.due_at:%Y-%m-%d %H:%M} UTC. Edit it with `/incident rca {incident.id}`.")
    try:
        chat.post(incident.slack_channel, text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
                  thread_ts=incident.slack_ts)
    except Exception as exc:  # informational: a Slack outage must not fail the resolution or hold up the clock
        store.release_claim(key)
        log.warning("rca draft not announced", extra={"incident_id": incident.id, "error": str(exc)})
        return
    store.complete_claim(key, {"posted": True})


def held_by_rca(incident: Incident, *, rcas, store, now: datetime) -> None:
    """An RCA already in review (or published) means the review was held, even if marking it was lost."""
    rca = rcas.get_rca(incident.review.rca_id or review.rca_id_for(incident.id))
    if rca is None or rca.status is rca_domain.RcaStatus.DRAFT:
        return
    who = next((h.by for h in reversed(rca.history) if h.what == "moved to in_review"), "system")
    store.change_incident(incident.id, lambda current: hold_review(current, who, "rca_in_review", now), now)


def schedule_next(incident: Incident, scheduler: Scheduler) -> None:
    """One named task per deadline time: a duplicate create is a no-op; a lost one is the reconciler's."""
    at = review.next_due_at(incident.review) if incident.review else None
    if at is None:
        return
    name = task_id(f"review-{stable_hash(incident.id, length=8)}", incident.id, str(int(at.timestamp())))
    scheduler.schedule(QUEUE_TIMERS, name, f"{settings().function_url('tasks')}/review",
                       {"incident_id": incident.id}, at)


def reconcile(*, policy: Policy, store, rcas, publisher: Publisher, chat: Chat, scheduler: Scheduler,
              now: datetime) -> int:
    """Review deadlines whose timer was lost: fire them now."""
    fired = 0
    for incident_id in store.incidents_due("review_next_due_at", now):
        try:
            fired += run_review(incident_id, policy=policy, store=store, rcas=rcas, publisher=publisher, chat=chat,
                                scheduler=scheduler, now=now) == "fired"
        except LookupError:
            continue
    if fired:
        log.warning("reconciler fired overdue review deadlines", extra={"count": fired})
    return fired


def change(incident_id: str, decide, *, policy: Policy, store, rcas, publisher: Publisher, chat: Chat,
           scheduler: Scheduler, now: datetime):
    """A person's step (emergency change, review held, note, mitigation), then the clock it may set."""
    result, events = store.change_incident(incident_id, decide, now)
    publish_events(events, store, publisher)
    incident = store.get_incident(incident_id)
    if incident is not None and incident.review is not None:
        run_review(incident_id, policy=policy, store=store, rcas=rcas, publisher=publisher, chat=chat,
                   scheduler=scheduler, now=now)
    return result
