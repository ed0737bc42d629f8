"""Every deployed function, topic, push subscription and queue, in one place.

The local stack creates exactly these; the infra tests check that Terraform declares
exactly these. A function is added here in the same change that adds its module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Function:
    name: str  # URL name (local mount point, Cloud Functions name)
    trigger: Literal["http", "topic"]
    topic: str | None = None  # for topic-triggered functions
    public: bool = False  # reachable without Google identity (webhooks, status page)

    @property
    def entry_point(self) -> str:
        return self.name.replace("-", "_")

    @property
    def signature_type(self) -> str:
        return "http" if self.trigger == "http" else "cloudevent"


TOPIC_ALERTS = "alerts"
TOPIC_INCIDENT_EVENTS = "incident-events"
TOPIC_COMMANDS = "commands"

TOPICS: tuple[str, ...] = (TOPIC_ALERTS, TOPIC_INCIDENT_EVENTS, TOPIC_COMMANDS)

QUEUE_TIMERS = "incident-timers"
QUEUES: tuple[str, ...] = (QUEUE_TIMERS,)

FUNCTIONS: tuple[Function, ...] = (
    Function("ingest", "http", public=True),
    Function("slack", "http", public=True),
    Function("api", "http"),
    Function("tasks", "http"),
    Function("classify", "topic", topic=TOPIC_ALERTS),
    Function("notify", "topic", topic=TOPIC_INCIDENT_EVENTS),
    Function("escalate", "topic", topic=TOPIC_INCIDENT_EVENTS),
    Function("commands", "topic", topic=TOPIC_COMMANDS),
    Function("cert-in", "topic", topic=TOPIC_INCIDENT_EVENTS),
    Function("partners", "http", public=True),
    Function("freshdesk-sync", "topic", topic=TOPIC_INCIDENT_EVENTS),
    Function("status", "http", public=True),
    Function("status-update", "topic", topic=TOPIC_INCIDENT_EVENTS),
)


def function(name: str) -> Function:
    return next(f for f in FUNCTIONS if f.name == name)


def subscription_name(fn: Function) -> str:
    return f"{fn.topic}-to-{fn.name}"
