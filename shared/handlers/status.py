"""Keeping the public status page in step with incidents, people's updates, maintenance and subscribers.

Idempotency keys: the incident event's `event_id` (remembered on the page) and the page's own state
for incident changes; the person's `update_id` for their updates; `status-note:<update>:<subscriber>`
claims for notifications, so each subscriber hears of each update exactly once, however often the
STATUS_PAGE_UPDATED event is delivered.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.config.policy import Policy
from shared.documents.status import (
    TemplateTexts,
    confirm_email,
    notification_record,
    update_email,
    webhook_body,
)
from shared.domain import subscribers as subs
from shared.domain.incident import EventType, Incident, IncidentEvent, IncidentStatus
from shared.domain.maintenance import MaintenanceRequest, maintenance_update, schedule_maintenance
from shared.domain.model import AlertCategory
from shared.domain.status import (
    Announcement,
    IncidentFacts,
    MaintenanceStatus,
    Outcome,
    PageState,
    PersonUpdate,
    components_for,
    person_update,
    sync_incident,
)
from shared.domain.statuspage import View
from shared.handlers.events import publish_events
from shared.log import get_logger
from shared.settings import settings

log = get_logger("status")
NOTE_LEASE = timedelta(minutes=2)
FAN_OUT_THREADS = 8
SYNCED = {EventType.OPENED, EventType.SEVERITY_RAISED, EventType.SEVERITY_CHANGED, EventType.RESOLVED,
          EventType.ALERTS_RESOLVED}


def page_url(policy: Policy) -> str:
    return (policy.status_page.url or settings().function_url("status")).rstrip("/")


def view_of(policy: Policy, state: PageState | None, now: datetime) -> View:
    state = state or PageState.empty(datetime.combine(now.date(), datetime.min.time(), tzinfo=now.tzinfo))
    return View(policy.status_page, state, now, page_url(policy), policy.organisation.timezone)


def facts_of(policy: Policy, incident: Incident) -> IncidentFacts:
    itype = policy.incident_types.get(incident.type)
    security = incident.category is AlertCategory.SECURITY or (itype is not None and itype.kind == "security")
    return IncidentFacts(id=incident.id, severity=incident.severity, security=security, service=incident.service,
                         resolved=incident.status is IncidentStatus.RESOLVED, detected_at=incident.detected_at)


# ---- incident events -----------------------------------------------------------------------------


def on_event(event: IncidentEvent, *, policy: Policy, status_store, publisher, mailer, webhooks,
             now: datetime) -> str:
    if event.type is EventType.STATUS_PAGE_UPDATED:
        try:
            announcement = Announcement(**event.data)
        except ValidationError as exc:  # would fail the same way on every redelivery
            log.error("status page event without a valid announcement dropped",
                      extra={"event_id": event.event_id, "error": str(exc)})
            return "dropped"
        sent = fan_out(announcement, policy=policy, status_store=status_store, mailer=mailer, webhooks=webhooks,
                       now=now)
        return f"notified {sent}"
    if event.type not in SYNCED:
        return "ignored"
    return sync(event.incident_id, event.event_id, policy=policy, status_store=status_store, publisher=publisher,
                now=now)


def sync(incident_id: str, event_id: str | None, *, policy: Policy, status_store, publisher, now: datetime) -> str:
    """Make the page follow the incident. A look without a transaction first: most events change nothing."""
    texts = TemplateTexts()
    incident = status_store.store.get_incident(incident_id)
    if incident is None:
        return "unknown incident"
    facts = facts_of(policy, incident)
    if not facts.resolved and (facts.security or not components_for(policy.status_page, facts.service)):
        return "unchanged"  # nothing automatic can follow: not even a read of the page
    state, _ = status_store.read(with_recent=False)
    preview = sync_incident(state or PageState.empty(now), policy.status_page, facts, now, texts)
    if not preview.changed:
        return "unchanged"

    def decide(state: PageState, incident: Incident | None) -> Outcome:
        return sync_incident(state, policy.status_page, facts_of(policy, incident), now, texts, event_id)

    outcome, events = status_store.change(decide, now, incident_id=incident_id)
    _announce(events, status_store, publisher)
    return "updated" if outcome.changed else "unchanged"


# ---- people --------------------------------------------------------------------------------------


def publish_update(incident_id: str, update: PersonUpdate, *, policy: Policy, status_store, publisher,
                   now: datetime) -> Outcome:
    """A person's public update (API or Slack). LookupError for an unknown incident; StatusRefused if invalid."""
    texts = TemplateTexts()

    def decide(state: PageState, incident: Incident | None) -> Outcome:
        return person_update(state, policy.status_page, facts_of(policy, incident), update, now, texts)

    outcome, events = status_store.change(decide, now, incident_id=incident_id)
    _announce(events, status_store, publisher)
    return outcome


def announce_maintenance(request: MaintenanceRequest, *, policy: Policy, status_store, publisher,
                         now: datetime) -> Outcome:
    outcome, events = status_store.change(
        lambda state, _: schedule_maintenance(state, policy.status_page, request, now), now,
        owner_id=request.maintenance_id)
    _announce(events, status_store, publisher)
    return outcome


def update_maintenance(maintenance_id: str, update_id: str, status: MaintenanceStatus, body: str, notify: bool, *,
                       status_store, publisher, now: datetime) -> Outcome:
    outcome, events = status_store.change(
        lambda state, _: maintenance_update(state, maintenance_id, update_id, status, body, notify, now), now,
        owner_id=maintenance_id)
    _announce(events, status_store, publisher)
    return outcome


def _announce(events: list[IncidentEvent], status_store, publisher) -> None:
    """Publish the page's events. They are already in the outbox (same transaction as the page), so when
    Pub/Sub fails the update still stands and the reconciler publishes them: the caller is not failed."""
    try:
        publish_events(events, status_store.store, publisher)
    except Exception as exc:
        log.warning("status page events left in the outbox for the reconciler",
                    extra={"events": [e.event_id for e in events], "error": str(exc)})


# ---- notifications -------------------------------------------------------------------------------


def fan_out(announcement: Announcement, *, policy: Policy, status_store, mailer, webhooks, now: datetime) -> int:
    """Tell every confirmed subscriber of the affected components, each once (a claim per subscriber).

    A failed email releases its claim and the whole delivery is retried (the others are already done);
    a webhook that keeps failing is given up on for this update (recorded on its claim and the subscriber).
    """
    if not announcement.notify:
        return 0
    state, _ = status_store.read(with_recent=True)
    view = view_of(policy, state, now)
    record = notification_record(view, announcement.kind, announcement.record_id)
    if record is None:
        log.warning("announcement of an unknown record", extra={"update_id": announcement.update_id})
        return 0
    targets = [s for s in status_store.confirmed_subscribers()
               if subs.wants(s.get("components") or [], announcement.components)]
    store = status_store.store

    def deliver(sub: dict[str, Any]) -> bool:
        key = f"status-note:{announcement.update_id}:{sub['id']}"
        if not store.claim(key, now, NOTE_LEASE):
            return False
        unsubscribe = f"{view.url}/unsubscribe?token={subs.token(sub['id'], sub['secret'])}"
        try:
            if sub["kind"] == "email":
                subject, body = update_email(view, announcement.kind, record, announcement.update_id, unsubscribe)
                result = {"message_id": mailer.send([sub["address"]], subject, body)}
            else:
                result = {"status": webhooks.post(sub["address"], webhook_body(
                    view, announcement.kind, record, announcement.update_id, unsubscribe))}
        except Exception as exc:
            if sub["kind"] == "webhook" and not getattr(exc, "retryable", True):
                store.complete_claim(key, {"failed": str(exc)})
                status_store.put_subscriber(sub["id"], {"last_failure": str(exc), "last_failure_at": now})
                log.warning("webhook refused the notification", extra={"subscriber": sub["id"], "error": str(exc)})
                return False
            store.release_claim(key)
            raise
        store.complete_claim(key, result)
        return True

    with ThreadPoolExecutor(max_workers=FAN_OUT_THREADS) as pool:
        results = list(pool.map(_captured(deliver), targets))
    failures = [r for r in results if isinstance(r, Exception)]
    if failures:
        log.error("some notifications failed; the delivery will be retried",
                  extra={"update_id": announcement.update_id, "failed": len(failures), "error": str(failures[0])})
        raise failures[0]
    return sum(1 for r in results if r is True)


def _captured(fn):
    def run(arg):
        try:
            return fn(arg)
        except Exception as exc:  # collected, then raised once every subscriber had its turn
            return exc

    return run


# ---- subscribing ---------------------------------------------------------------------------------


class TooSoon(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"a confirmation was sent less than a minute ago; retry in {retry_after} s")
        self.retry_after = retry_after


def subscribe(request: subs.Request, *, policy: Policy, status_store, mailer, now: datetime) -> dict[str, Any]:
    """Email: (re)send the confirmation link; webhook: active at once. Never reveals who is subscribed."""
    sub_id = subs.subscriber_id(request.kind, request.address)
    existing = status_store.subscriber(sub_id)
    url = page_url(policy)
    if request.kind == "webhook":
        secret = existing["secret"] if existing else secrets.token_urlsafe(24)
        status_store.put_subscriber(sub_id, {"kind": "webhook", "address": request.address, "secret": secret,
                                             "components": request.components, "confirmed": True,
                                             "created_at": existing["created_at"] if existing else now,
                                             "confirmed_at": now})
        return {"result": "subscribed", "unsubscribe_url": f"{url}/unsubscribe?token={subs.token(sub_id, secret)}"}
    if existing and existing.get("confirmed"):
        return {"result": "confirmation_sent"}  # the same answer: nobody learns who subscribed
    last = existing.get("confirm_sent_at") if existing else None
    if not subs.may_resend(last, now):
        raise TooSoon(max(1, int((subs.RESEND_AFTER - (now - last)).total_seconds())))
    secret = existing["secret"] if existing else secrets.token_urlsafe(24)
    status_store.put_subscriber(sub_id, {"kind": "email", "address": request.address, "secret": secret,
                                         "components": request.components, "confirmed": False,
                                         "created_at": existing["created_at"] if existing else now,
                                         "confirm_sent_at": now})
    names = [c.name for c in policy.status_page.components if not request.components or c.id in request.components]
    subject, body = confirm_email(policy.status_page.title, names,
                                  f"{url}/subscribe/confirm?token={subs.token(sub_id, secret)}")
    mailer.send([request.address], subject, body)
    return {"result": "confirmation_sent"}


def confirm(token_value: str | None, *, status_store, now: datetime) -> dict[str, Any]:
    sub_id, secret = subs.parse_token(token_value)
    sub = status_store.subscriber(sub_id)
    if sub is None or not subs.secret_matches(sub.get("secret"), secret):
        raise subs.Invalid("this link is not valid any more (the subscription does not exist)", "token")
    if not sub.get("confirmed"):
        status_store.put_subscriber(sub_id, {"confirmed": True, "confirmed_at": now})
    return sub


def unsubscribe(token_value: str | None, *, status_store) -> bool:
    """True when a subscription was removed; a second click finds nothing and still succeeds."""
    sub_id, secret = subs.parse_token(token_value)
    sub = status_store.subscriber(sub_id)
    if sub is None:
        return False
    if not subs.secret_matches(sub.get("secret"), secret):
        raise subs.Invalid("this link is not valid", "token")
    status_store.delete_subscriber(sub_id)
    return True
