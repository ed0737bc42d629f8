"""Carrying out escalation: deliver pages once, keep the next step's timer set, apply commands, reconcile."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.config.policy import Policy
from shared.domain.actions import Change, apply_command, due_step
from shared.domain.commands import Command
from shared.domain.escalation import Page
from shared.domain.incident import Incident, IncidentStatus, TimelineEntry
from shared.domain.model import stable_hash
from shared.domain.names import task_id
from shared.domain.ports import Chat, Publisher, Scheduler
from shared.handlers.events import flush_pending, publish_events
from shared.log import get_logger
from shared.settings import settings
from shared.topology import QUEUE_TIMERS

log = get_logger("escalation")
PAGE_LEASE = timedelta(seconds=60)
STALE_AFTER = timedelta(minutes=1)


def follow_up(incident_id: str, *, store, chat: Chat, scheduler: Scheduler, now: datetime) -> int:
    """Deliver the incident's pending pages and make sure its next step has a timer. Idempotent."""
    incident = store.get_incident(incident_id)
    if incident is None:
        return 0
    sent = deliver_pages(incident, store=store, chat=chat, now=now)
    schedule_next_step(incident, scheduler)
    return sent


def deliver_pages(incident: Incident, *, store, chat: Chat, now: datetime) -> int:
    """Idempotency key: the page document `<incident>:<step>:<person>`, claimed before sending.

    A duplicate delivery finds the claim taken (or the page sent) and sends nothing; a failed send
    releases the claim and raises, so the message is redelivered and the page retried.
    """
    sent = 0
    for page_id, page in store.pending_pages(incident.id):
        if not store.claim(f"page:{page_id}", now, PAGE_LEASE):
            continue
        try:
            target = page.recipient.slack_user_id or incident.slack_channel
            if target is None:
                store.mark_page(page_id, "undeliverable", now, {"error": "no Slack user id and no incident message"})
                store.complete_claim(f"page:{page_id}", {"status": "undeliverable"})
                continue
            text, blocks = page_message(incident, page)
            channel, ts = chat.post(target, text, blocks)
        except Exception:
            store.release_claim(f"page:{page_id}")
            raise
        store.mark_page(page_id, "sent", now, {"channel": channel, "ts": ts})
        store.complete_claim(f"page:{page_id}", {"channel": channel, "ts": ts})
        store.append_timeline(incident.id, TimelineEntry(
            at=now, kind="page.sent", source="slack",
            text=f"Paged {page.recipient.name} (level {page.level}, {page.reason})",
            data={"person": page.recipient.person_id, "step": page.step, "level": page.level}))
        sent += 1
        log.info("paged", extra={"incident_id": incident.id, "person": page.recipient.person_id,
                                 "step": page.step, "level": page.level, "reason": page.reason})
    return sent


def page_message(incident: Incident, page: Page) -> tuple[str, list[dict]]:
    reason = {"initial": "you are on the first level", "parallel": "critical incident: emergency escalation",
              "escalated": f"escalated to level {page.level}", "repeat": "still not acknowledged",
              "manual": f"escalated by hand to level {page.level}",
              "certin_critical": "critical security incident: CERT-In clock running, you are notified in parallel",
              "certin_assessment_reminder": "CERT-In: assess reportability now (2-hour limit)",
              "certin_assessment_due": "CERT-In: the 2-hour reportability assessment was MISSED",
              "certin_report_reminder": "CERT-In: the report is due within the 6-hour limit",
              "certin_report_due": "CERT-In BREACH: 6 hours passed without a submitted report",
              "pst_update_due": "time to update the partner",
              "review_reminder": "post-incident review due: complete the RCA and hold the review",
              "review_missed": "the post-incident review was MISSED (not held within the policy's time)",
              "change_review": "24-hour stakeholder review of an emergency change is due"}[page.reason]
    text = f":rotating_light: {incident.id} [{incident.severity.value.upper()}] {incident.title} ({reason})"
    button = {"type": "button", "action_id": "incident_ack", "value": incident.id, "style": "primary",
              "text": {"type": "plain_text", "text": "Acknowledge"}}
    if page.reason == "pst_update_due" and incident.partner:
        text = (f":telephone_receiver: {incident.id} [{incident.severity.value.upper()}] {incident.title}: "
                f"time to update {incident.partner.name}")
        button = {"type": "button", "action_id": "partner_update_open", "value": incident.id, "style": "primary",
                  "text": {"type": "plain_text", "text": "Update the partner"}}
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
        {"type": "actions", "block_id": f"page_actions:{incident.id}", "elements": [button]},
    ]
    return text, blocks


def schedule_next_step(incident: Incident, scheduler: Scheduler) -> None:
    """One named task per step: a duplicate create is a no-op, and a lost task is the reconciler's job."""
    state = incident.escalation
    if state is None or state.stopped or state.next_at is None or incident.status is not IncidentStatus.OPEN:
        return
    name = task_id(f"esc-{stable_hash(incident.id, length=8)}", incident.id, str(state.step))
    url = f"{settings().function_url('tasks')}/escalate"
    scheduler.schedule(QUEUE_TIMERS, name, url, {"incident_id": incident.id, "step": state.step}, state.next_at)


def run_due_step(incident_id: str, step: int, *, store, publisher: Publisher, chat: Chat, scheduler: Scheduler,
                 now: datetime) -> str:
    """The task callback: act only if this step is still the active one and due; else do nothing."""
    change, events = store.change_incident(incident_id, lambda incident: due_step(incident, step, now), now)
    if change is None:
        incident = store.get_incident(incident_id)
        if incident is not None and incident.escalation and incident.escalation.step == step \
                and incident.status is IncidentStatus.OPEN and incident.escalation.next_at \
                and incident.escalation.next_at > now:
            schedule_next_step(incident, scheduler)  # fired early (clock skew): set the timer again
        return "not_due"
    publish_events(events, store, publisher)
    follow_up(incident_id, store=store, chat=chat, scheduler=scheduler, now=now)
    return "advanced"


def apply(command: Command, *, policy: Policy, store, publisher: Publisher, chat: Chat, scheduler: Scheduler,
          now: datetime) -> Change:
    """A person's command. Raises Refused when not allowed; idempotent when repeated."""
    change, events = store.change_incident(command.incident_id,
                                           lambda incident: apply_command(policy, incident, command, now), now)
    publish_events(events, store, publisher)
    if change is not None and change.pages:
        follow_up(command.incident_id, store=store, chat=chat, scheduler=scheduler, now=now)
    if change is not None and "review" in change.updates:  # resolution opened the RCA draft and review clock
        from shared import bootstrap
        from shared.handlers.review import run_review

        run_review(command.incident_id, policy=policy, store=store, rcas=bootstrap.resolution_store(),
                   publisher=publisher, chat=chat, scheduler=scheduler, now=now)
    return change


def reconcile(*, store, publisher: Publisher, chat: Chat, scheduler: Scheduler, now: datetime) -> dict[str, int]:
    """Find work whose timer or message was lost and do it: overdue steps, unpublished events, unsent pages."""
    advanced = 0
    for incident in store.overdue_escalations(now):
        if incident.escalation is None:
            continue
        result = run_due_step(incident.id, incident.escalation.step, store=store, publisher=publisher, chat=chat,
                              scheduler=scheduler, now=now)
        advanced += result == "advanced"
    published = sum(flush_pending(i, store, publisher) for i in store.stale_outbox_incidents(now - STALE_AFTER))
    delivered = 0
    for incident_id in store.stale_page_incidents(now - STALE_AFTER):
        delivered += follow_up(incident_id, store=store, chat=chat, scheduler=scheduler, now=now)
    if advanced or published or delivered:
        log.warning("reconciler caught up", extra={"advanced": advanced, "published": published,
                                                   "delivered": delivered})
    return {"advanced": advanced, "published": published, "delivered": delivered}
