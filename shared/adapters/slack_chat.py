"""Chat on Slack through slack_sdk, or on the console when there is no bot token."""

from __future__ import annotations

import sys
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
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

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
             ) -> tuple[str, str]:
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False,
                                                thread_ts=thread_ts)
        return response["channel"], response["ts"]

    def create_channel(self, name: str) -> str:
        """Creates a public channel; a name already taken by an earlier attempt gets a numbered suffix."""
        for attempt in range(5):
            candidate = name if attempt == 0 else f"{name[:76]}-{attempt + 1}"
            try:
                return self.client.conversations_create(name=candidate)["channel"]["id"]
            except SlackApiError as exc:
                if exc.response.get("error") != "name_taken":
                    raise
        raise RuntimeError(f"no free channel name for {name}")

    def invite(self, channel: str, user_ids: list[str]) -> None:
        if not user_ids:
            return
        try:
            self.client.conversations_invite(channel=channel, users=",".join(user_ids))
        except SlackApiError as exc:
            if exc.response.get("error") != "already_in_channel":
                raise

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message of a channel by its ts (conversations.history, bounded to that instant), or None."""
        answer = self.client.conversations_history(channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1)
        found = [m for m in answer.get("messages") or [] if m.get("ts") == ts]
        return found[0] if found else None


class ConsoleChat:
    """Without SLACK_BOT_TOKEN, messages are printed in readable form (local development)."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stderr
        self._n = 0

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
             ) -> tuple[str, str]:
        self._n += 1
        ts = f"console.{self._n:06d}"
        self._print("POST" if thread_ts is None else f"REPLY to {thread_ts}", channel, ts, text, blocks)
        return channel, ts

    def create_channel(self, name: str) -> str:
        print(f"[slack CREATE CHANNEL #{name}]", file=self.stream, flush=True)
        return f"C{name.upper().replace('-', '')[:20]}"

    def invite(self, channel: str, user_ids: list[str]) -> None:
        print(f"[slack INVITE {', '.join(user_ids)} to {channel}]", file=self.stream, flush=True)

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self._print("UPDATE", channel, ts, text, blocks)

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return None  # nothing to read without Slack

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
