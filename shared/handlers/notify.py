"""The incident's Slack message: posted once (the first page), then updated in place."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.adapters.slack_messages import incident_message
from shared.config.policy import Policy
from shared.domain.incident import IncidentEvent, TimelineEntry
from shared.domain.ports import Chat
from shared.domain.responders import first_responders
from shared.log import get_logger

log = get_logger("notify")

POST_LEASE = timedelta(seconds=60)


class PageInProgress(RuntimeError):
    """Another delivery is posting the first page right now; retry so this update is not lost."""


def first_page_key(incident_id: str) -> str:
    return f"first-page:{incident_id}"


def notify_incident(event: IncidentEvent, *, policy: Policy, store, chat: Chat, now: datetime) -> str:
    """Idempotency key: `first-page:<incident id>` (a claim); every later event re-renders and updates.

    Returns what it did: "posted", "updated" or "skipped".
    """
    incident = store.get_incident(event.incident_id)
    if incident is None:
        log.warning("event for an unknown incident", extra={"incident_id": event.incident_id})
        return "skipped"
    responders = first_responders(policy, incident)
    firing, total = store.alert_counts(incident.id)
    text, blocks = incident_message(policy, incident, responders, firing, total)
    if incident.slack_ts and incident.slack_channel:
        chat.update(incident.slack_channel, incident.slack_ts, text, blocks)
        return "updated"
    key = first_page_key(incident.id)
    if not store.claim(key, now, POST_LEASE):
        done = store.claim_result(key)
        if done is None:
            raise PageInProgress(incident.id)
        chat.update(done["channel"], done["ts"], text, blocks)
        return "updated"
    try:
        channel, ts = chat.post(responders.channel_id, text, blocks)
    except Exception:
        store.release_claim(key)
        raise
    store.set_slack_message(incident.id, channel, ts)
    store.complete_claim(key, {"channel": channel, "ts": ts})
    store.append_timeline(incident.id, TimelineEntry(
        at=now, kind="page.sent", text=f"Paged {', '.join(responders.roles)} in #{responders.channel_key}",
        source="slack", data={"roles": list(responders.roles), "channel": channel, "ts": ts}))
    log.info("first page sent", extra={"incident_id": incident.id, "channel": channel})
    return "posted"
