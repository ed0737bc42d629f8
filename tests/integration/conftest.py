"""The real Google emulators, started once per test session on free ports.

Each test gets a project id of its own, which isolates its data in all three emulators.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from local import emulators
from shared import bootstrap
from shared.settings import reload_settings


@dataclass
class Emulators:
    firestore: str
    pubsub: str
    tasks: str


@pytest.fixture(scope="session")
def emulator_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    emulators.check_prerequisites()
    run_dir = tmp_path_factory.mktemp("emulators")
    started = [
        emulators.firestore(emulators.free_port(), run_dir),
        emulators.pubsub(emulators.free_port(), run_dir, "test"),
        emulators.cloud_tasks(emulators.free_port(), run_dir),
    ]
    try:
        for emulator in started:
            emulator.start()
        fs, ps, tq = started
        emulators.wait_until(lambda: emulators.http_ok(f"http://{fs.host}/"), "firestore emulator", fs)
        emulators.wait_until(lambda: emulators.http_ok(f"http://{ps.host}/"), "pubsub emulator", ps)
        emulators.wait_until(lambda: emulators.port_in_use(tq.port), "tasks emulator", tq)
        yield Emulators(fs.host, ps.host, tq.host)
    finally:
        for emulator in started:
            emulator.stop()


@pytest.fixture
def project(emulator_hosts: Emulators, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh project id, with the environment pointing every client at the emulators."""
    project_id = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project_id)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emulator_hosts.firestore)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator_hosts.pubsub)
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", emulator_hosts.tasks)
    monkeypatch.setenv("INGEST_TOKEN", "test-ingest-token")
    monkeypatch.setenv("API_TOKEN", "test-api-token")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("GRAFANA_HMAC_SECRET", raising=False)
    reload_settings()
    bootstrap.reset()
    yield project_id
    bootstrap.reset()
    reload_settings()


@pytest.fixture
def store(project: str):
    return bootstrap.store()


@pytest.fixture
def topics(project: str) -> list[str]:
    """The production topics, with pull subscriptions so tests can read what was published."""
    from google.cloud import pubsub_v1

    from shared import topology

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    for topic in topology.TOPICS:
        publisher.create_topic(name=publisher.topic_path(project, topic))
        subscriber.create_subscription(name=subscriber.subscription_path(project, f"{topic}-test"),
                                       topic=publisher.topic_path(project, topic))
    subscriber.close()
    return list(topology.TOPICS)


def pull(project: str, topic: str, max_messages: int = 100) -> list[bytes]:
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, f"{topic}-test")
    response = subscriber.pull(subscription=path, max_messages=max_messages, return_immediately=True, timeout=5)
    if response.received_messages:
        subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in response.received_messages])
    subscriber.close()
    return [m.message.data for m in response.received_messages]


