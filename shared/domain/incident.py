"""Incidents, their events and their timeline."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.certin import CertInState
from shared.domain.escalation import EscalationState
from shared.domain.model import AlertCategory, Link, PartnerRef, Severity
from shared.domain.review import ReviewState


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EventType(StrEnum):
    OPENED = "incident.opened"
    ALERTS_UPDATED = "incident.alerts_updated"
    SEVERITY_RAISED = "incident.severity_raised"
    ALERTS_RESOLVED = "incident.alerts_resolved"
    RESOLVED = "incident.resolved"
    ACKNOWLEDGED = "incident.acknowledged"
    ASSIGNED = "incident.assigned"
    SEVERITY_CHANGED = "incident.severity_changed"
    ESCALATED = "incident.escalated"
    RESPONSE_BREACHED = "incident.response_breached"
    CERT_IN_DEADLINE = "incident.cert_in_deadline"
    CERT_IN_CHANGED = "incident.cert_in_changed"
    PARTNER_UPDATED = "incident.partner_updated"
    FOLLOW_UP_ADDED = "incident.follow_up_added"
    STATUS_PAGE_UPDATED = "incident.status_page_updated"  # data: update_id, kind, record_id, components


class TicketLink(BaseModel):
    """The incident's Freshdesk ticket: the partner's own, or one the system opened."""

    id: int
    url: str | None = None
    reused: bool = Field(default=False, description="the partner's own ticket, not one we opened")
    status: int | None = Field(default=None, description="last status we set (2 open ... 5 closed)")
    priority: int | None = Field(default=None, description="last priority we set (1 low ... 4 urgent)")
    synced_until: str | None = Field(default=None, description="timeline entries up to this id are on the ticket")


class PartnerUpdates(BaseModel):
    """The PST's promise to update the partner at an interval until resolution."""

    interval: timedelta
    round: int = Field(default=1, description="number of the next reminder; callbacks name it")
    next_due_at: datetime | None = None
    last_update_at: datetime | None = None
    last_update_by: str | None = None


class WorkItemLink(BaseModel):
    id: str
    sequence_id: int | None = None
    url: str | None = None
    state_id: str | None = None
    state_name: str | None = None
    state_group: str | None = Field(default=None, description="backlog, unstarted, started, completed, cancelled")
    checked_at: datetime | None = None


class FollowUp(BaseModel):
    """A follow-up action (larger system change, prevention measure) tracked as a Plane work item."""

    id: str = Field(description="F1, F2, ... within the incident")
    title: str
    kind: str = "prevention"
    description: str = ""
    owner: str | None = Field(default=None, description="person id")
    due_date: date | None = None
    created_at: datetime
    created_by: str
    work_item: WorkItemLink | None = None
    sync_error: str | None = None


class Incident(BaseModel):
    """The incident document. Alert counts live in sharded counters, not here (hot document)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    number: int
    title: str
    summary: str = ""
    status: IncidentStatus = IncidentStatus.OPEN
    severity: Severity
    category: AlertCategory
    type: str
    service: str | None = None
    group_key: str
    source: str
    reporter: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    links: list[Link] = Field(default_factory=list)
    runbook_url: str | None = None
    detected_at: datetime
    created_at: datetime
    updated_at: datetime
    alerts_resolved_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution_summary: str | None = None
    slack_channel: str | None = None
    slack_ts: str | None = None
    incident_channel: str | None = Field(default=None, description="dedicated Slack channel (critical and high)")
    owner: str | None = Field(default=None, description="person id, or a Slack user id outside the policy")
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    escalation: EscalationState | None = None
    next_escalation_at: datetime | None = Field(default=None, description="copy of escalation.next_at, for queries")
    cert_in: CertInState | None = None
    cert_in_next_due_at: datetime | None = Field(default=None, description="next CERT-In deadline, for queries")
    partner: PartnerRef | None = Field(default=None, description="the partner who reported it")
    ticket: TicketLink | None = None
    ticket_sync_due_at: datetime | None = Field(default=None, description="Freshdesk sync to retry, for queries")
    ticket_error: str | None = Field(default=None, description="why the last Freshdesk sync did not finish")
    partner_updates: PartnerUpdates | None = None
    partner_update_due_at: datetime | None = Field(default=None, description="next PST reminder, for queries")
    follow_ups: list[FollowUp] = Field(default_factory=list)
    follow_up_sync_due_at: datetime | None = Field(default=None, description="Plane sync to retry, for queries")
    # resolution: mitigation time, post-incident review clock and emergency changes
    mitigated_at: datetime | None = None
    review: ReviewState | None = None
    review_next_due_at: datetime | None = Field(default=None, description="next review deadline, for queries")


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    text: str
    actor: str = "system"
    source: str = "system"
    data: dict[str, Any] = Field(default_factory=dict)


class IncidentEvent(BaseModel):
    """Published on incident-events. `event_id` is deterministic so consumers can deduplicate."""

    event_id: str
    type: EventType
    incident_id: str
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


def channel_name(incident: Incident) -> str:
    """Slack's rules: lowercase letters, digits, hyphens and underscores, at most 80 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", incident.title.lower()).strip("-")
    return f"{incident.id.lower()}-{slug}"[:80].rstrip("-")


def incident_id(year: int, number: int) -> str:
    """Readable ids, e.g. INC-2026-0042, unique per year."""
    return f"INC-{year}-{number:04d}"
