"""The incident system's vocabulary: alerts, incidents and the enums they share.

Pure data. No I/O, no clock: every time is passed in by the caller.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Severity(StrEnum):
    """The company policy's four levels, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is more severe, so `max()` picks the worst."""
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, value: str | None) -> Severity | None:
        """Map the many spellings monitoring tools use (P1, sev1, crit, warning...) to a level."""
        if value is None:
            return None
        return _SEVERITY_ALIASES.get(str(value).strip().lower())


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
_SEVERITY_ALIASES: dict[str, Severity] = {
    **{s.value: s for s in Severity},
    "crit": Severity.CRITICAL, "p1": Severity.CRITICAL, "sev1": Severity.CRITICAL, "sev-1": Severity.CRITICAL,
    "emergency": Severity.CRITICAL, "fatal": Severity.CRITICAL, "page": Severity.CRITICAL,
    "p2": Severity.HIGH, "sev2": Severity.HIGH, "sev-2": Severity.HIGH, "error": Severity.HIGH,
    "major": Severity.HIGH,
    "p3": Severity.MEDIUM, "sev3": Severity.MEDIUM, "sev-3": Severity.MEDIUM, "warning": Severity.MEDIUM,
    "warn": Severity.MEDIUM, "minor": Severity.MEDIUM,
    "p4": Severity.LOW, "sev4": Severity.LOW, "sev-4": Severity.LOW, "info": Severity.LOW,
    "informational": Severity.LOW, "none": Severity.LOW, "p5": Severity.LOW,
}


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertCategory(StrEnum):
    """The alert sources named in the company policy."""

    APPLICATION_PERFORMANCE = "application_performance"
    INFRASTRUCTURE = "infrastructure"
    AVAILABILITY = "availability"
    SECURITY = "security"


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    url: str


class PartnerRef(BaseModel):
    """Who reported a partner incident and where: kept on the incident for the PST and the ticket sync."""

    model_config = ConfigDict(frozen=True)

    channel: str = Field(description="freshdesk, freshchat or pst (a ticket raised by a PST member)")
    account_id: str | None = Field(default=None, description="partner account from the policy, when recognised")
    name: str = Field(description="partner name, else the requester")
    requester_email: str | None = None
    requester_name: str | None = None
    company: str | None = None
    ticket_id: int | None = Field(default=None, description="the partner's own Freshdesk ticket")
    ticket_url: str | None = None
    conversation_id: str | None = Field(default=None, description="Freshchat conversation")
    chat_user_id: str | None = None
    pst_person: str | None = Field(default=None, description="person id of the PST member who updates them")


class Alert(BaseModel):
    """One alert from one source, normalised.

    `fingerprint` is the source's own identity for the alert where it sends one,
    otherwise a stable hash of the source's identifying fields.
    """

    model_config = ConfigDict(frozen=True)

    source: str
    fingerprint: str = Field(min_length=1, max_length=256)
    status: AlertStatus
    title: str = Field(min_length=1, max_length=500)
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    service: str | None = None
    severity: Severity | None = None
    starts_at: datetime
    ends_at: datetime | None = None
    links: list[Link] = Field(default_factory=list)
    raw: dict[str, Any] = Field(default_factory=dict)
    partner: PartnerRef | None = Field(default=None, description="set for tickets and chats from partners")

    @field_validator("title")
    @classmethod
    def _strip_title(cls, value: str) -> str:
        return value.strip() or "untitled alert"

    @property
    def alert_id(self) -> str:
        """Storage key: the same alert from the same source always maps to the same id."""
        return stable_hash(self.source, self.fingerprint)


def stable_hash(*parts: str, length: int = 16) -> str:
    """A short, stable identifier built from ordered parts (sha256, hex)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:length]


def fingerprint_of(mapping: dict[str, str]) -> str:
    """Stable fingerprint of a label set, independent of key order."""
    return stable_hash(*(f"{k}={mapping[k]}" for k in sorted(mapping)))
