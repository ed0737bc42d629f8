"""Running the CERT-In clock: tell the security mailbox, keep the next deadline's timer set, act on deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.config.policy import Policy
from shared.domain import certin
from shared.domain.actions import cert_in_due
from shared.domain.incident import Incident
from shared.domain.model import stable_hash
from shared.domain.names import task_id
from shared.domain.ports import Chat, Publisher, Scheduler
from shared.handlers.escalation import deliver_pages
from shared.handlers.events import publish_events
from shared.log import get_logger
from shared.settings import settings
from shared.topology import QUEUE_TIMERS

log = get_logger("cert-in")
MAIL_LEASE = timedelta(minutes=2)


def follow_up(incident_id: str, *, policy: Policy, store, chat: Chat, scheduler: Scheduler, mailer,
              now: datetime) -> None:
    """Idempotent: the mailbox is told once (claim `cert-in-mail:<id>`), pages go once, the timer is set."""
    incident = store.get_incident(incident_id)
    if incident is None or incident.cert_in is None:
        return
    tell_mailbox(incident, policy=policy, store=store, mailer=mailer, now=now, key="started")
    if incident.cert_in.breached_at is not None:
        tell_mailbox(incident, policy=policy, store=store, mailer=mailer, now=now, key="breach")
    deliver_pages(incident, store=store, chat=chat, now=now)
    schedule_next_deadline(incident, scheduler)


def run_deadlines(incident_id: str, *, policy: Policy, store, publisher: Publisher, chat: Chat, scheduler: Scheduler,
                  mailer, now: datetime) -> str:
    """The task callback (or the reconciler): act on every deadline that is due and still applies."""
    change, events = store.change_incident(incident_id, lambda incident: cert_in_due(policy, incident, now), now)
    if change is None:
        incident = store.get_incident(incident_id)
        if incident is not None:
            schedule_next_deadline(incident, scheduler)  # early or duplicate: keep the right timer set
        return "not_due"
    publish_events(events, store, publisher)
    follow_up(incident_id, policy=policy, store=store, chat=chat, scheduler=scheduler, mailer=mailer, now=now)
    return "fired"


def schedule_next_deadline(incident: Incident, scheduler: Scheduler) -> None:
    state = incident.cert_in
    at = certin.next_due_at(state) if state else None
    if at is None:
        return
    name = task_id(f"certin-{stable_hash(incident.id, length=8)}", incident.id, str(int(at.timestamp())))
    scheduler.schedule(QUEUE_TIMERS, name, f"{settings().function_url('tasks')}/cert-in",
                       {"incident_id": incident.id}, at)


def tell_mailbox(incident: Incident, *, policy: Policy, store, mailer, now: datetime, key: str) -> None:
    claim = f"cert-in-mail:{incident.id}:{key}"
    if not store.claim(claim, now, MAIL_LEASE):
        return
    subject, body = mailbox_message(policy, incident, key)
    try:
        message_id = mailer.send([policy.organisation.security_mailbox], subject, body)
    except Exception:
        store.release_claim(claim)
        raise
    store.complete_claim(claim, {"message_id": message_id})
    log.info("security mailbox told", extra={"incident_id": incident.id, "what": key})


def mailbox_message(policy: Policy, incident: Incident, key: str) -> tuple[str, str]:
    state = incident.cert_in
    tz = ZoneInfo(policy.organisation.timezone)
    report_due = next(d.at for d in state.deadlines if d.kind == "report_due")
    assess_due = next(d.at for d in state.deadlines if d.kind == "assessment_due")
    kind = certin.CERT_IN_TYPES.get(state.suggested_type or 0, "not yet known")

    def both(at: datetime) -> str:
        return f"{at:%Y-%m-%d %H:%M} UTC ({at.astimezone(tz):%Y-%m-%d %H:%M} IST)"

    if key == "breach":
        subject = f"[CERT-In BREACH] {incident.id} {incident.title}: 6-hour reporting deadline passed"
    else:
        subject = f"[SECURITY] {incident.id} {incident.title}: CERT-In report due {report_due.astimezone(tz):%H:%M} IST"
    body = "\n".join([
        f"Incident: {incident.id} ({incident.severity.value}) {incident.title}",
        f"Service: {incident.service or 'unknown'}",
        f"Detected: {both(state.detected_at)}",
        f"Reportability assessment due: {both(assess_due)}",
        f"CERT-In report due: {both(report_due)}",
        f"Possible CERT-In type: {state.suggested_type or '-'} {kind}",
        "",
        incident.summary or incident.title,
        "",
        "Record the assessment and the submission through Slack or the API "
        f"(POST /api/incidents/{incident.id}/cert-in/assessment, /cert-in/submission).",
    ])
    return subject, body


def change(incident_id: str, decide, *, policy: Policy, store, publisher: Publisher, chat: Chat,
           scheduler: Scheduler, mailer, now: datetime):
    """A person's CERT-In step (flag, assessment, report, submission, follow-up), then what it sets in motion."""
    result, events = store.change_incident(incident_id, decide, now)
    publish_events(events, store, publisher)
    follow_up(incident_id, policy=policy, store=store, chat=chat, scheduler=scheduler, mailer=mailer, now=now)
    return result
