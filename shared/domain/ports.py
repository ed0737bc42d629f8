"""The small interfaces the handlers depend on. Adapters implement them; tests may too."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel

from shared.config.policy import Policy
from shared.domain.classification import Classified
from shared.domain.grouping import AlertRecord
from shared.domain.incident import Incident, IncidentEvent, TimelineEntry


class GroupOutcome(BaseModel):
    """What a batch of one group did: the incident it landed in and the events to publish."""

    incident_id: str | None
    created: bool = False
    events: list[IncidentEvent] = []
    maybe_all_resolved: bool = False
    writes: int = 0


class IncidentPage(BaseModel):
    incidents: list[Incident]
    next_cursor: str | None = None


class IncidentStore(Protocol):
    def record_alerts(self, batch: list[Classified], now: datetime, policy: Policy | None = None) -> GroupOutcome: ...

    def settle_alerts_resolved(self, incident_id: str, policy: Policy, now: datetime) -> list[IncidentEvent]: ...

    def get_incident(self, incident_id: str) -> Incident | None: ...

    def list_incidents(self, *, status: str | None, severity: str | None, type: str | None,
                       limit: int, cursor: str | None) -> IncidentPage: ...

    def alerts_of(self, incident_id: str, limit: int) -> list[AlertRecord]: ...

    def timeline_of(self, incident_id: str, limit: int) -> list[TimelineEntry]: ...

    def alert_counts(self, incident_id: str) -> tuple[int, int]: ...

    def pending_events(self, incident_id: str) -> list[IncidentEvent]: ...

    def mark_published(self, event_ids: list[str]) -> None: ...

    def claim(self, key: str, now: datetime, lease: timedelta) -> bool: ...

    def complete_claim(self, key: str, result: dict[str, Any]) -> None: ...

    def set_slack_message(self, incident_id: str, channel: str, ts: str) -> None: ...


class Publisher(Protocol):
    def publish(self, topic: str, payloads: list[bytes], attributes: dict[str, str] | None = None) -> list[str]:
        """Publishes every payload and returns only once each is confirmed by the server."""
        ...


class Scheduler(Protocol):
    def schedule(self, queue: str, task_id: str, url: str, body: dict[str, Any], at: datetime) -> bool:
        """Creates a named HTTP task. Returns False when the name already exists (a duplicate)."""
        ...


class Chat(Protocol):
    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
             ) -> tuple[str, str]:
        """Posts a message (in a thread when thread_ts is given) and returns (channel, ts)."""
        ...

    def create_channel(self, name: str) -> str: ...

    def invite(self, channel: str, user_ids: list[str]) -> None: ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None: ...

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message by its ts (None when it cannot be read)."""
        ...
