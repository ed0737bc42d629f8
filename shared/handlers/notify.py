"""The incident's Slack message: posted once (the first page), then updated in place."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.adapters.slack_messages import incident_message
from shared.config.policy import Policy
from shared.domain.incident import EventType, IncidentEvent, IncidentStatus, TimelineEntry, channel_name
from shared.domain.ports import Chat
from shared.domain.responders import first_responders
from shared.log import get_logger

log = get_logger("notify")

POST_LEASE = timedelta(seconds=60)


class PageInProgress(RuntimeError):
    """Another delivery is posting the first page right now; retry so this update is not lost."""


def first_page_key(incident_id: str) -> str:
    return f"first-page:{incident_id}"


ANNOUNCED = {
    EventType.ACKNOWLEDGED: ":white_check_mark: Acknowledged",
    EventType.ASSIGNED: ":bust_in_silhouette: Owner assigned",
    EventType.SEVERITY_CHANGED: ":arrows_counterclockwise: Severity changed",
    EventType.SEVERITY_RAISED: ":arrow_up: Severity raised by a new alert",
    EventType.ESCALATED: ":rotating_light: Escalated",
    EventType.RESPONSE_BREACHED: ":warning: Response target missed: nobody acknowledged in time",
    EventType.ALERTS_RESOLVED: ":large_green_circle: Every alert has resolved",
    EventType.RESOLVED: ":large_green_circle: Resolved",
}


def notify_incident(event: IncidentEvent, *, policy: Policy, store, chat: Chat, now: datetime) -> str:
    """Idempotency keys: `first-page:<incident>`, `channel:<incident>` and `announce:<event id>` (claims).

    The first event posts the incident's message, every later one re-renders it in place; changes
    people must notice are also announced in its thread; critical and high incidents get a channel.
    Returns what it did to the message: "posted", "updated" or "skipped".
    """
    incident = store.get_incident(event.incident_id)
    if incident is None:
        log.warning("event for an unknown incident", extra={"incident_id": event.incident_id})
        return "skipped"
    done = render_message(incident, policy=policy, store=store, chat=chat, now=now)
    incident = store.get_incident(incident.id)
    wants_channel = (policy.severity(incident.severity).dedicated_channel
                     and incident.status is not IncidentStatus.RESOLVED)
    if wants_channel and ensure_incident_channel(incident, store=store, chat=chat, now=now):
        render_message(store.get_incident(incident.id), policy=policy, store=store, chat=chat, now=now)
    if event.type in ANNOUNCED and incident.slack_ts:
        announce(incident, event, store=store, chat=chat, now=now)
    return done


def render_message(incident, *, policy: Policy, store, chat: Chat, now: datetime) -> str:
    responders = first_responders(policy, incident)
    firing, total = store.alert_counts(incident.id)
    text, blocks = incident_message(policy, incident, responders, firing, total, now=now)
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


def ensure_incident_channel(incident, *, store, chat: Chat, now: datetime) -> bool:
    """A channel of its own for a critical or high incident, with the responders invited. True if created now."""
    if incident.incident_channel:
        return False
    key = f"channel:{incident.id}"
    if not store.claim(key, now, POST_LEASE):
        return False
    try:
        channel = chat.create_channel(channel_name(incident))
        chat.invite(channel, responders_to_invite(incident))
        intro = (f"*{incident.id}* [{incident.severity.value.upper()}] {incident.title}\n"
                 f"Coordinate the response here; the incident message is in <#{incident.slack_channel}>.")
        chat.post(channel, f"{incident.id}: {incident.title}", [{"type": "section", "text": {
            "type": "mrkdwn", "text": intro}}])
    except Exception:
        store.release_claim(key)
        raise
    store.set_fields(incident.id, {"incident_channel": channel})
    store.complete_claim(key, {"channel": channel})
    store.append_timeline(incident.id, TimelineEntry(at=now, kind="slack.channel_created", source="slack",
                                                     text=f"Channel #{channel_name(incident)} created"))
    return True


def responders_to_invite(incident) -> list[str]:
    """Level 1 and the people paged in parallel: the ones who must be in the room first."""
    state = incident.escalation
    if state is None:
        return []
    people = [*state.plan[state.level].people, *state.parallel]
    return sorted({p.slack_user_id for p in people if p.slack_user_id})


def announce(incident, event: IncidentEvent, *, store, chat: Chat, now: datetime) -> None:
    key = f"announce:{event.event_id}"
    if not store.claim(key, now, POST_LEASE):
        return
    text = ANNOUNCED[event.type]
    if event.type is EventType.ESCALATED and incident.escalation:
        level = incident.escalation.plan[incident.escalation.level]
        text += f" to level {incident.escalation.level + 1}: {', '.join(p.name for p in level.people)}"
    if event.type is EventType.ACKNOWLEDGED and incident.acknowledged_by:
        text += f" by {incident.acknowledged_by}"
    try:
        chat.post(incident.slack_channel, text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
                  thread_ts=incident.slack_ts)
    except Exception:
        store.release_claim(key)
        raise
    store.complete_claim(key, {"posted": True})
