"""What travels on the topics, encoded and decoded in one place."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.domain.incident import IncidentEvent
from shared.domain.model import Alert

T = TypeVar("T")


class AlertBatch(BaseModel):
    """One message on the alerts topic: the alerts of one inbound request."""

    received_at: datetime
    alerts: list[Alert]


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def decode_alert_batch(data: bytes) -> AlertBatch:
    return AlertBatch.model_validate_json(data)


def decode_event(data: bytes) -> IncidentEvent:
    return IncidentEvent.model_validate_json(data)


def pubsub_data(cloud_event: Any) -> bytes:
    """The published bytes inside an Eventarc / push MessagePublishedData CloudEvent (ValueError if none)."""
    data = cloud_event.data
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise ValueError("the CloudEvent carries no Pub/Sub message object")
    return base64.b64decode(message.get("data") or b"")


def decode_or_drop(cloud_event: Any, decode: Callable[[bytes], T], log: logging.Logger) -> T | None:
    """The message's content, or None for one that can never parse: it is logged and acknowledged,
    because a redelivery would fail the same way forever."""
    try:
        return decode(pubsub_data(cloud_event))
    except (ValidationError, ValueError) as exc:
        log.error("undecodable message dropped", extra={"message_id": message_id(cloud_event), "error": str(exc)})
        return None


def message_id(cloud_event: Any) -> str:
    data = cloud_event.data
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        return str(cloud_event["id"])
    return str(message.get("messageId") or message.get("message_id") or cloud_event["id"])


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=str)
