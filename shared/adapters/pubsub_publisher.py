"""Publisher on Pub/Sub. Returns only once the server confirmed every message (no alert is lost)."""

from __future__ import annotations

from google.cloud import pubsub_v1

PUBLISH_TIMEOUT_SECONDS = 10.0


class PublishError(RuntimeError):
    """Some message was not confirmed: the caller must not acknowledge its sender."""


class PubSubPublisher:
    def __init__(self, client: pubsub_v1.PublisherClient, project: str, timeout: float = PUBLISH_TIMEOUT_SECONDS):
        self.client = client
        self.project = project
        self.timeout = timeout

    def topic_path(self, topic: str) -> str:
        return self.client.topic_path(self.project, topic)

    def publish(self, topic: str, payloads: list[bytes], attributes: dict[str, str] | None = None) -> list[str]:
        path = self.topic_path(topic)
        pending = [self.client.publish(path, data, **(attributes or {})) for data in payloads]
        try:
            return [f.result(timeout=self.timeout) for f in pending]
        except Exception as exc:  # a timeout or any error means "not durably published"
            for f in pending:
                f.cancel()
            raise PublishError(f"publish to {topic} failed: {exc}") from exc
