"""Chat on Slack through slack_sdk, or on the console when there is no bot token."""

from __future__ import annotations

import sys
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)


def slack_client(token: str, base_url: str | None = None) -> WebClient:
    """A WebClient that retries rate limits (honouring Retry-After), 5xx and connection errors."""
    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=10)
    client.retry_handlers.extend([
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ])
    return client


class SlackChat:
    def __init__(self, client: WebClient):
        self.client = client

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> tuple[str, str]:
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
        return response["channel"], response["ts"]

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)


class ConsoleChat:
    """Without SLACK_BOT_TOKEN, messages are printed in readable form (local development)."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stderr
        self._n = 0

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> tuple[str, str]:
        self._n += 1
        ts = f"console.{self._n:06d}"
        self._print("POST", channel, ts, text, blocks)
        return channel, ts

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self._print("UPDATE", channel, ts, text, blocks)

    def _print(self, verb: str, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        lines = [f"[slack {verb} #{channel} ts={ts}] {text}"]
        for block in blocks:
            body = block.get("text") or {}
            if isinstance(body, dict) and body.get("text"):
                lines.append("  | " + body["text"].replace("\n", "\n  | "))
            for fld in block.get("fields") or []:
                lines.append("  | " + fld.get("text", ""))
            for el in block.get("elements") or []:
                if el.get("type") in ("mrkdwn", "plain_text"):
                    lines.append("  | " + el.get("text", ""))
        print("\n".join(lines), file=self.stream, flush=True)
