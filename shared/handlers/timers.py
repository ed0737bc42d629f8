"""Timers as named Cloud Tasks that call back the `tasks` function."""

from __future__ import annotations

from datetime import datetime

from shared import bootstrap
from shared.domain.model import Alert
from shared.domain.names import task_id
from shared.settings import settings
from shared.topology import QUEUE_TIMERS


def callback_url(kind: str) -> str:
    return f"{settings().function_url('tasks')}/{kind}"


def schedule_alert_expiry(alert: Alert, at: datetime) -> None:
    """Named per alert and endsAt, so a re-send that keeps the same endsAt schedules nothing new."""
    name = task_id("alert-expiry", alert.alert_id, str(int(at.timestamp())))
    bootstrap.scheduler().schedule(QUEUE_TIMERS, name, callback_url("alert-expiry"), {"alert_id": alert.alert_id}, at)
