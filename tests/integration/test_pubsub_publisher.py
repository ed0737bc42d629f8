"""The Pub/Sub publisher on the real emulator: confirmed ids, attributes, and failure when unconfirmed."""

from __future__ import annotations

import time

import pytest

from shared import bootstrap
from shared.adapters.pubsub_publisher import PublishError
from shared.topology import TOPIC_ALERTS, TOPIC_INCIDENT_EVENTS
from tests.integration.helpers import closed_host, pull_messages, set_env

pytestmark = pytest.mark.integration


def test_publish_returns_server_message_ids_and_the_messages_arrive_with_attributes(project, topics):
    ids = bootstrap.publisher().publish(TOPIC_ALERTS, [b"first", b"second", b"third"], {"source": "grafana"})

    assert len(ids) == 3 and len(set(ids)) == 3 and all(isinstance(i, str) and i for i in ids)
    messages = pull_messages(project, TOPIC_ALERTS, expect=3)
    assert sorted(m.data for m in messages) == [b"first", b"second", b"third"]
    assert sorted(m.message_id for m in messages) == sorted(ids)
    assert all(dict(m.attributes) == {"source": "grafana"} for m in messages)
    assert pull_messages(project, TOPIC_INCIDENT_EVENTS) == []


def test_publish_without_attributes_and_of_nothing(project, topics):
    publisher = bootstrap.publisher()
    assert publisher.publish(TOPIC_ALERTS, []) == []
    [message_id] = publisher.publish(TOPIC_ALERTS, [b"x"])
    [message] = pull_messages(project, TOPIC_ALERTS, expect=1)
    assert message.message_id == message_id and dict(message.attributes) == {}


def test_publishing_to_a_topic_that_does_not_exist_raises_publish_error(project, topics):
    started = time.monotonic()
    with pytest.raises(PublishError, match="no-such-topic"):
        bootstrap.publisher().publish("no-such-topic", [b"lost?"])
    assert time.monotonic() - started < 5


def test_unreachable_pubsub_is_a_failure_within_the_publish_timeout(project, monkeypatch):
    """Invariant 1: a message the server did not confirm is a failure, and the caller learns it quickly."""
    set_env(monkeypatch, PUBSUB_EMULATOR_HOST=closed_host(), PUBLISH_TIMEOUT_SECONDS="2")
    publisher = bootstrap.publisher()
    assert publisher.timeout == 2

    started = time.monotonic()
    with pytest.raises(PublishError, match=TOPIC_ALERTS):
        publisher.publish(TOPIC_ALERTS, [b"a", b"b"], {"source": "generic"})
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 6, elapsed
