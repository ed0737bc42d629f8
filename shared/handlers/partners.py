"""Partner reports in: a ticket or chat the intake rules pick out becomes an incident, recorded at once.

Recording happens inside the webhook request (like a manual report from the API), so the answer can
name the incident, and a 2xx means the incident is stored: Freshdesk retries a failed webhook, so a
5xx loses nothing. The same ticket or conversation always maps to the same alert (source and
external id), so a re-delivery changes nothing and an update (priority raised, resolved in Freshdesk,
reopened) updates the incident it already has.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from shared.config.policy import Policy
from shared.domain.incident import IncidentStatus, TimelineEntry
from shared.domain.model import stable_hash
from shared.domain.partners import PartnerReport, triage
from shared.domain.ports import Publisher
from shared.handlers.events import flush_pending, publish_events
from shared.handlers.reports import NotAnnounced
from shared.log import get_logger

log = get_logger("partners")
MESSAGE_LEASE = timedelta(minutes=1)


class IntakeResult(BaseModel):
    outcome: str  # opened, updated, unchanged, ignored
    incident_id: str | None = None
    reason: str | None = None


def receive(report: PartnerReport, *, policy: Policy, store, publisher: Publisher, now: datetime) -> IntakeResult:
    if report.event == "ignored":
        return IntakeResult(outcome="ignored", reason=report.ignored_because)
    alert_id = stable_hash(report.system, report.external_id)
    known = store.get_alert(alert_id)
    if known is not None and known.incident_id:
        earlier = store.get_incident(known.incident_id)
        if earlier is not None and earlier.status is IncidentStatus.RESOLVED:
            # A partner's "thanks" reopens a Freshdesk ticket; that must not open a second incident.
            return IntakeResult(outcome="ignored", incident_id=earlier.id,
                                reason=f"its incident {earlier.id} is resolved; declare a new one if the problem "
                                       "is back")
    classified = triage(policy, report, now, known=known is not None and known.incident_id is not None)
    if classified is None:
        reason = "partner intake is not configured" if policy.partners.intake is None else \
            "no intake rule matches (not an incident)"
        log.info("partner report not an incident", extra={"system": report.system, "external_id": report.external_id,
                                                          "reason": reason})
        return IntakeResult(outcome="ignored", reason=reason)
    if report.event == "reopened" and known is not None:
        classified = classified.model_copy(update={"alert": classified.alert.model_copy(update={
            "title": known.title, "summary": known.summary})})
    outcome = store.record_alerts([classified], now, policy)
    try:
        if outcome.events:
            publish_events(outcome.events, store, publisher)
        elif outcome.incident_id:
            flush_pending(outcome.incident_id, store, publisher)  # a redelivery after a failed publish
    except Exception as exc:
        raise NotAnnounced(outcome.incident_id or "") from exc
    incident_id = outcome.incident_id or (known.incident_id if known else None)
    if incident_id and report.message_id and not outcome.created:
        _add_partner_message(store, incident_id, report, now)
    result = "opened" if outcome.created else ("updated" if outcome.writes else "unchanged")
    log.info("partner report recorded", extra={"incident_id": incident_id, "system": report.system,
                                               "external_id": report.external_id, "outcome": result})
    return IntakeResult(outcome=result, incident_id=incident_id)


def _add_partner_message(store, incident_id: str, report: PartnerReport, now: datetime) -> None:
    """A later chat message goes on the timeline once (claimed by its Freshchat message id)."""
    incident = store.get_incident(incident_id)
    if incident is None or incident.status is IncidentStatus.RESOLVED:
        return
    key = f"partner-message:{report.system}:{report.message_id}"
    if not store.claim(key, now, MESSAGE_LEASE):
        return
    store.append_timeline(incident_id, TimelineEntry(
        at=now, kind="partner.message", source=report.system, actor=incident.partner.name if incident.partner
        else "partner", text=f"Partner wrote: {report.description[:1000]}", data={"message_id": report.message_id}))
    store.complete_claim(key, {"incident_id": incident_id})
