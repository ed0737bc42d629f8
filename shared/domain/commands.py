"""What people ask of an incident (from Slack or the API), carried on the `commands` topic."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from shared.domain.model import Severity


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    SEVERITY = "severity"
    RESOLVE = "resolve"
    ESCALATE = "escalate"


class Actor(BaseModel):
    """Who asked. `id` is a Slack user id for Slack, the token's name for the API."""

    kind: Literal["slack", "api", "system"]
    id: str
    name: str | None = None


class Command(BaseModel):
    """Idempotency key: `command_id` (Slack: the action_ts or view id; API: a request id)."""

    command_id: str = Field(min_length=1, max_length=200)
    incident_id: str
    action: Action
    actor: Actor
    at: datetime
    owner: str | None = Field(default=None, description="ASSIGN: Slack user id or person id of the new owner")
    severity: Severity | None = Field(default=None, description="SEVERITY: the new level")
    summary: str | None = Field(default=None, max_length=5000, description="RESOLVE: resolution summary")
    note: str | None = Field(default=None, max_length=2000, description="why (severity change, escalation)")
