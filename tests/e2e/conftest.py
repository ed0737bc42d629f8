"""The local stack as `make run` starts it, with a fake Slack on loopback behind SLACK_API_URL."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from local.harness import StackProcess
from tests.fakes.slack_api import FakeSlack
from tests.integration.helpers import POLICY_CHANNELS


@pytest.fixture(scope="session")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(slack: FakeSlack) -> Iterator[StackProcess]:
    process = StackProcess(extra_env={"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.base_url,
                                      "ALERT_EXPIRY_GRACE_SECONDS": "1", "MAX_BODY_BYTES": "262144"})
    process.start()
    yield process
    process.stop()


class Client:
    """Talks to the stack like a monitoring tool or a person would."""

    def __init__(self, stack: StackProcess):
        self.base = stack.base_url
        self.ingest_token = stack.env["INGEST_TOKEN"]
        self.api_token = stack.env["API_TOKEN"]
        self.http = requests.Session()

    def ingest(self, path: str, payload: Any = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.ingest_token}", **kwargs.pop("headers", {})}
        return self.http.post(f"{self.base}/ingest/{path}", json=payload, headers=headers, timeout=15, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.api_token}", **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.base}/api{path}", headers=headers, timeout=15, **kwargs)

    def incidents(self, **filters: str) -> list[dict[str, Any]]:
        response = self.api("GET", "/incidents", params={"limit": 200, **filters})
        response.raise_for_status()
        return response.json()["incidents"]

    def incident_titled(self, title: str) -> list[dict[str, Any]]:
        return [i for i in self.incidents() if i["title"] == title]

    def detail(self, incident_id: str) -> dict[str, Any]:
        response = self.api("GET", f"/incidents/{incident_id}")
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def client(stack: StackProcess) -> Client:
    return Client(stack)


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.2, what: str = "") -> Any:
    """Poll until check() returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not true after {timeout}s: {what or check}; last value: {last!r}")


def pages_mentioning(slack: FakeSlack, text: str) -> list[Any]:
    """The incident's message in a channel (not the personal pages sent to people)."""
    return [c for c in slack.calls_to("chat.postMessage")
            if text in str(c.params.get("text", "")) and c.params.get("channel") in POLICY_CHANNELS
            and not c.params.get("thread_ts")]


def personal_pages(slack: FakeSlack, text: str) -> list[Any]:
    """Pages sent to people directly (the channel is a user id)."""
    return [c for c in slack.calls_to("chat.postMessage")
            if text in str(c.params.get("text", "")) and str(c.params.get("channel", "")).startswith(("U", "W"))]


def signed_slack_post(base_url: str, path: str, body: bytes, secret: str, *, at: int | None = None
                      ) -> requests.Response:
    """POST a form to the slack function, signed as Slack signs it (v0, HMAC-SHA256 of `v0:<ts>:<body>`)."""
    ts = int(time.time()) if at is None else at
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return requests.post(f"{base_url}/slack/{path}", data=body, timeout=15, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature})
