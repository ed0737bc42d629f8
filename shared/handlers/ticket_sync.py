"""Keeping the incident's Freshdesk ticket in step: state-based, so an outage only delays it.

Every incident event asks "what should the ticket look like now?" (shared.domain.ticketing) and does
what is missing: open or link the ticket, post each timeline entry that matters as a note (or, for a
PST update, a public reply), and align status and priority. Each post is claimed per timeline entry, so
duplicate or concurrent events post nothing twice; a claim taken over after a crash first looks on the
ticket for the note. When Freshdesk is down or rate limits, the incident gets `ticket_sync_due_at` and
the reconciler comes back; the incident and its paging never wait for Freshdesk.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.adapters.json_api import Rejected, Unavailable
from shared.config.policy import Policy
from shared.domain import ticketing
from shared.domain.incident import Incident, TicketLink, TimelineEntry
from shared.log import get_logger
from shared.settings import settings

log = get_logger("freshdesk-sync")
TICKET_LEASE = timedelta(minutes=2)
NOTE_LEASE = timedelta(minutes=1)
RETRY_AFTER_OUTAGE = timedelta(seconds=30)
RETRY_AFTER_REJECTION = timedelta(minutes=15)
BUSY_RETRY = timedelta(seconds=5)
SETTLE = timedelta(seconds=30)  # entries younger than this may still gain earlier-sorting neighbours


def sync_ticket(incident: Incident | None, *, policy: Policy, store, client, now: datetime) -> str:
    """`incident` as just read by the caller (None: it does not exist)."""
    if incident is None or not ticketing.needs_ticket(policy, incident):
        return "not_needed"
    incident_id = incident.id
    if client is None:
        log.warning("Freshdesk is not configured (FRESHDESK_DOMAIN, FRESHDESK_API_KEY); ticket not kept",
                    extra={"incident_id": incident_id})
        return "not_configured"
    try:
        ticket = incident.ticket or _link_ticket(incident, policy=policy, store=store, client=client, now=now)
        if ticket is None:
            _retry_at(store, incident_id, now + BUSY_RETRY, None)
            return "busy"
        incident = incident.model_copy(update={"ticket": ticket})
        _post_entries(incident, ticket, store=store, client=client, now=now)
        _align(incident, ticket, store=store, client=client)
    except Unavailable as exc:
        wait = max(RETRY_AFTER_OUTAGE, timedelta(seconds=exc.retry_after or 0))
        log.warning("Freshdesk unavailable; will retry", extra={"incident_id": incident_id, "error": str(exc),
                                                                "retry_in_s": wait.total_seconds()})
        _retry_at(store, incident_id, now + wait, str(exc))
        return "deferred"
    except Rejected as exc:
        log.error("Freshdesk refused the ticket", extra={"incident_id": incident_id, "error": str(exc)})
        _retry_at(store, incident_id, now + RETRY_AFTER_REJECTION, str(exc))
        return "rejected"
    if incident.ticket_sync_due_at is not None or incident.ticket_error:
        store.set_fields(incident_id, {"ticket_sync_due_at": None, "ticket_error": None})
    return "synced"


def _link_ticket(incident: Incident, *, policy: Policy, store, client, now: datetime) -> TicketLink | None:
    """The partner's own ticket, or a new one; created once even if two events race or one crashed midway."""
    key = f"freshdesk-ticket:{incident.id}"
    if not store.claim(key, now, TICKET_LEASE):
        done = store.claim_result(key)
        fresh = store.get_incident(incident.id) if done else None
        return fresh.ticket if fresh else None
    try:
        reuse = ticketing.reusable_ticket(incident)
        if reuse is not None:
            url = incident.partner.ticket_url if incident.partner else None
            link = TicketLink(id=reuse, url=url or client.ticket_url(reuse), reused=True)
            text = f"Tracked on the partner's Freshdesk ticket #{reuse}"
        else:
            # A crashed holder may have created the ticket before recording it: look for the incident's tag.
            existing = client.find_by_tag(incident.id) if store.claim_attempts(key) > 1 else []
            data = existing[0] if existing else client.create_ticket(
                ticketing.new_ticket(policy, incident, f"{settings().function_url('api')}/incidents/{incident.id}"))
            link = TicketLink(id=int(data["id"]), url=client.ticket_url(int(data["id"])),
                              status=data.get("status"), priority=data.get("priority"))
            text = f"Freshdesk ticket #{link.id} opened for the incident"
    except Exception:
        store.release_claim(key)
        raise
    store.set_fields(incident.id, {"ticket": link.model_dump(mode="json")})
    store.complete_claim(key, {"ticket_id": link.id})
    store.append_timeline(incident.id, TimelineEntry(at=now, kind="freshdesk.ticket_linked", source="freshdesk",
                                                     text=text, data={"ticket_id": link.id, "url": link.url}))
    log.info("freshdesk ticket linked", extra={"incident_id": incident.id, "ticket_id": link.id,
                                               "reused": link.reused})
    return link


def _post_entries(incident: Incident, ticket: TicketLink, *, store, client, now: datetime) -> None:
    watermark, contiguous = ticket.synced_until, True
    for entry_id, entry in store.timeline_after(incident.id, ticket.synced_until):
        operation = ticketing.operation_for(entry, incident.id, entry_id)
        if operation is not None and not _post_once(incident, ticket, entry, entry_id, operation,
                                                    store=store, client=client, now=now):
            contiguous = False  # another instance is posting it right now
        if contiguous and entry.at <= now - SETTLE:
            watermark = entry_id
    if watermark != ticket.synced_until:
        store.set_fields(incident.id, {"ticket.synced_until": watermark})


def _post_once(incident: Incident, ticket: TicketLink, entry: TimelineEntry, entry_id: str,
               operation: ticketing.TicketOperation, *, store, client, now: datetime) -> bool:
    """True when the entry is on the ticket (now or before); False when someone else holds it."""
    key = f"freshdesk:{incident.id}:{entry_id}"
    if not store.claim(key, now, NOTE_LEASE):
        return store.claim_result(key) is not None
    try:
        if store.claim_attempts(key) > 1 and _already_on_ticket(client, ticket.id, entry, entry_id):
            store.complete_claim(key, {"found": True})
            return True
        posted = client.reply(ticket.id, operation.body) if operation.kind == "reply" else \
            client.add_note(ticket.id, operation.body, private=True)
    except Rejected as exc:
        log.error("Freshdesk refused a note; skipped", extra={"incident_id": incident.id, "entry": entry_id,
                                                              "error": str(exc)})
        store.complete_claim(key, {"error": str(exc)[:500]})
        return True
    except Exception:
        store.release_claim(key)
        raise
    store.complete_claim(key, {"conversation_id": posted.get("id"), "kind": operation.kind})
    return True


def _already_on_ticket(client, ticket_id: int, entry: TimelineEntry, entry_id: str) -> bool:
    marker = ticketing.note_ref(entry_id)
    reply_text = str(entry.data.get("text") or "")
    for conversation in client.conversations(ticket_id):
        text = conversation.get("body_text") or conversation.get("body") or ""
        if marker in text or (reply_text and reply_text in text and not conversation.get("private")):
            return True
    return False


def _align(incident: Incident, ticket: TicketLink, *, store, client) -> None:
    changes = ticketing.ticket_changes(incident)
    if not changes:
        return
    client.update_ticket(ticket.id, changes)
    store.set_fields(incident.id, {f"ticket.{k}": v for k, v in changes.items()})


def _retry_at(store, incident_id: str, at: datetime, error: str | None) -> None:
    fields: dict = {"ticket_sync_due_at": at}
    if error:
        fields["ticket_error"] = error[:500]
    store.set_fields(incident_id, fields)


def reconcile(*, policy: Policy, store, client, now: datetime) -> int:
    """Incidents whose ticket sync was deferred (outage, rate limit, race): try again."""
    synced = 0
    for incident_id in store.incidents_due("ticket_sync_due_at", now):
        synced += sync_ticket(store.get_incident(incident_id), policy=policy, store=store, client=client,
                              now=now) == "synced"
    return synced
