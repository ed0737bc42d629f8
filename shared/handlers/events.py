"""Publishing incident events from the outbox: at least once, then marked published."""

from __future__ import annotations

from shared.domain.incident import IncidentEvent
from shared.domain.ports import IncidentStore, Publisher
from shared.messages import encode
from shared.topology import TOPIC_INCIDENT_EVENTS


def publish_events(events: list[IncidentEvent], store: IncidentStore, publisher: Publisher) -> None:
    """Raises if any event is not confirmed, so the triggering message is redelivered.

    The events were written to the outbox in the same transaction as the change, so a crash
    here loses nothing: the redelivery (or the reconciler) publishes what is still pending.
    """
    if not events:
        return
    publisher.publish(TOPIC_INCIDENT_EVENTS, [encode(e) for e in events],
                      {"incident_id": events[0].incident_id})
    store.mark_published([e.event_id for e in events])


def flush_pending(incident_id: str, store: IncidentStore, publisher: Publisher) -> int:
    pending = store.pending_events(incident_id)
    publish_events(pending, store, publisher)
    return len(pending)
