"""Helpers for the integration tests: function apps, CloudEvents, Pub/Sub pulls and the environment."""

from __future__ import annotations

import base64
import json
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from local.emulators import free_port
from shared import bootstrap, topology
from shared.settings import reload_settings

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_SOURCE = ROOT / "functions" / "main.py"
PAYLOADS = ROOT / "tests" / "fixtures" / "payloads"
MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


def function_app(name: str):
    """The function's app exactly as functions-framework serves it in production."""
    fn = topology.function(name)
    return functions_framework.create_app(target=fn.entry_point, source=str(FUNCTIONS_SOURCE),
                                          signature_type=fn.signature_type)


def payload_bytes(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


def payload(name: str) -> Any:
    return json.loads(payload_bytes(name))


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str | None) -> None:
    """Change the environment, then forget cached settings and clients (None removes a variable)."""
    for key, value in values.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    reload_settings()
    bootstrap.reset()


def closed_host() -> str:
    """host:port on loopback where nothing listens."""
    return f"127.0.0.1:{free_port()}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def pull_messages(project: str, topic: str, *, expect: int = 0, timeout: float = 5.0) -> list[Any]:
    """Messages on the topic's `<topic>-test` pull subscription (conftest `topics`), acknowledged.

    Polls until at least `expect` arrived (or the timeout), then pulls once more so extra copies show up.
    """
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, f"{topic}-test")
    received: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        extra_pull = True
        while True:
            with warnings.catch_warnings():  # deprecated, but the emulator answers at once only with it
                warnings.simplefilter("ignore", DeprecationWarning)
                response = subscriber.pull(subscription=path, max_messages=100, return_immediately=True, timeout=5)
            if response.received_messages:
                subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in response.received_messages])
                received += [m.message for m in response.received_messages]
                continue
            if len(received) >= expect:
                if not extra_pull:
                    break
                extra_pull = False
                time.sleep(0.05)
                continue
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        subscriber.close()
    return received


def cloud_event(data: bytes, *, project: str, topic: str, message_id: str | None = None,
                attributes: dict[str, str] | None = None, structured: bool = False,
                envelope: Any = None) -> dict[str, Any]:
    """Keyword arguments for `client.post("/", **...)`: a Pub/Sub messagePublished CloudEvent as Eventarc sends it.

    Binary content mode (ce-* headers) by default, structured mode (application/cloudevents+json) on request.
    `envelope` replaces the MessagePublishedData body entirely (to send malformed ones).
    """
    message_id = message_id or str(uuid.uuid4().int)[:16]
    if envelope is None:
        envelope = {
            "message": {"data": base64.b64encode(data).decode(), "messageId": message_id,
                        "publishTime": datetime.now(UTC).isoformat(), "attributes": attributes or {}},
            "subscription": f"projects/{project}/subscriptions/{topic}-eventarc",
        }
    source = f"//pubsub.googleapis.com/projects/{project}/topics/{topic}"
    if structured:
        body = {"specversion": "1.0", "id": message_id, "source": source, "type": MESSAGE_PUBLISHED,
                "datacontenttype": "application/json", "time": datetime.now(UTC).isoformat(), "data": envelope}
        return {"data": json.dumps(body), "headers": {"Content-Type": "application/cloudevents+json"}}
    headers = {"ce-specversion": "1.0", "ce-id": message_id, "ce-source": source, "ce-type": MESSAGE_PUBLISHED,
               "ce-time": datetime.now(UTC).isoformat(), "Content-Type": "application/json"}
    return {"data": json.dumps(envelope), "headers": headers}


def json_of(response: Any) -> Any:
    return json.loads(response.get_data())


POLICY_CHANNELS = {"C0INCIDENTS", "C0CRITICAL1", "C0SECURITY1", "C0PARTNERS1", "C0ENGINEER1"}


def incident_posts(slack) -> list[Any]:
    """The incident messages themselves: top-level posts in the policy's channels (not threads, DMs or the
    dedicated channel's introduction)."""
    return [c for c in slack.calls_to("chat.postMessage")
            if c.params.get("channel") in POLICY_CHANNELS and not c.params.get("thread_ts")]
