"""Tests for the Slack Web API fake, driven through the real slack_sdk WebClient over loopback.

Why: every Slack-facing test and the benchmark trust this fake to reject what Slack rejects and to answer
the way Slack answers, so its own contract is pinned here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, check_blocks, check_channel_name, check_view

REPO_ROOT = Path(__file__).resolve().parents[2]
TS_FORMAT = re.compile(r"^\d{10}\.\d{6}$")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.token, base_url=slack.base_url, timeout=5)


def incident_blocks() -> list:
    return [
        HeaderBlock(text="SEV2: checkout 5xx"),
        SectionBlock(
            text=MarkdownTextObject(text="*Service:* checkout"),
            fields=[MarkdownTextObject(text="*Severity*\nSEV2"), MarkdownTextObject(text="*Status*\nOpen")],
        ),
        ContextBlock(elements=[MarkdownTextObject(text="INC-0142")]),
        DividerBlock(),
        ActionsBlock(
            block_id="inc_actions",
            elements=[
                ButtonElement(text="Ack", action_id="incident_ack", value="INC-0142", style="primary"),
                ButtonElement(text="Resolve", action_id="incident_resolve", value="INC-0142"),
            ],
        ),
    ]


# -- messages -------------------------------------------------------------------------------------------


def test_post_message_with_block_kit_models(slack: FakeSlack, client: WebClient) -> None:
    text = "SEV2: checkout 5xx"
    response = client.chat_postMessage(channel="C07INC0142", text=text, blocks=incident_blocks())

    assert response["ok"] is True
    assert response["channel"] == "C07INC0142"
    assert TS_FORMAT.match(response["ts"])
    assert response["message"]["text"] == "SEV2: checkout 5xx"
    (call,) = slack.wait_for("chat.postMessage")
    assert call.params["blocks"][4]["elements"][0]["action_id"] == "incident_ack"
    assert call.headers["Authorization"] == f"Bearer {slack.token}"
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.ok and call.received_at <= time.time()
    assert slack.messages[("C07INC0142", response["ts"])]["blocks"][0]["type"] == "header"
    assert slack.problems == []


def test_timestamps_are_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(5)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5


def test_update_replaces_text_and_blocks(slack: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C07INC0142", text="open", blocks=incident_blocks())

    updated = client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="resolved", blocks=[SectionBlock(text="Resolved")]
    )

    assert (updated["ok"], updated["ts"], updated["text"]) == (True, posted["ts"], "resolved")
    stored = slack.messages[("C07INC0142", posted["ts"])]
    assert [b["type"] for b in stored["blocks"]] == ["section"]
    assert slack.problems == []


def test_update_of_unknown_message_is_message_not_found(slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        client.chat_update(channel="C07INC0142", ts="1718000123.000200", text="x")
    assert info.value.response["error"] == "message_not_found"
    assert slack.problems == []  # a state answer a correct client can get, not a contract violation


def test_long_text_is_truncated_not_rejected(slack: FakeSlack, client: WebClient) -> None:
    response = client.chat_postMessage(channel="C1", text="x" * 40_010)
    assert len(response["message"]["text"]) == 40_000
    assert slack.problems == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_without_content_is_no_text(slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1")
    assert info.value.response["error"] == "no_text"
    assert slack.problems and "no_text" in slack.problems[0]


def test_too_many_blocks_are_invalid_blocks(slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="x", blocks=[DividerBlock() for _ in range(51)])

    body = info.value.response.data
    assert body["ok"] is False and body["error"] == "invalid_blocks"
    expected = "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    assert body["response_metadata"]["messages"] == [expected]
    assert len(slack.problems) == 1 and "invalid_blocks" in slack.problems[0]


def test_blocks_as_json_text_in_a_form_body_are_checked(slack: FakeSlack) -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    body = requests.post(
        f"{slack.base_url}chat.postMessage",
        data={"token": slack.token, "channel": "C1", "blocks": json.dumps([header])},
        timeout=5,
    ).json()
    assert body["error"] == "invalid_blocks"
    assert "must be less than 151 characters [json-pointer:/blocks/0/text/text]" in body["errors"][0]


# -- channels --------------------------------------------------------------------------------------------


def test_create_then_invite(slack: FakeSlack, client: WebClient) -> None:
    created = client.conversations_create(name="inc-0142-checkout-5xx")
    channel = created["channel"]
    assert channel["name"] == "inc-0142-checkout-5xx" and channel["is_channel"] is True
    assert re.match(r"^C[A-Z0-9]+$", channel["id"])

    invited = client.conversations_invite(channel=channel["id"], users=["U024BE7LH", "U0ONCALL1"])
    assert invited["ok"] is True and invited["channel"]["id"] == channel["id"]
    assert slack.members(channel["id"]) == {BOT_USER_ID, "U024BE7LH", "U0ONCALL1"}

    with pytest.raises(SlackApiError) as info:
        client.conversations_invite(channel=channel["id"], users="U024BE7LH")
    assert info.value.response["error"] == "already_in_channel"
    with pytest.raises(SlackApiError) as info:
        client.conversations_create(name="inc-0142-checkout-5xx")
    assert info.value.response["error"] == "name_taken"
    assert slack.problems == []


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("inc-0142_ok", None),
        ("INC-0142", "invalid_name_specials"),
        ("inc 0142", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("", "invalid_name_required"),
        ("--", "invalid_name_punctuation"),
    ],
)
def test_channel_name_rules(name: str, error: str | None) -> None:
    assert check_channel_name(name) == error


def test_bad_channel_name_is_rejected_and_recorded(slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        client.conversations_create(name="INC-0142 Checkout")
    assert info.value.response["error"] == "invalid_name_specials"
    assert slack.problems and slack.problems[0].startswith("conversations.create: invalid_name_specials")


# -- rate limits and injected faults -------------------------------------------------------------------


def test_429_without_retry_handler_raises(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="x")

    response = info.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True  # only the next call fails
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]
    assert slack.problems == []


def test_429_with_rate_limit_retry_handler_succeeds(
    slack: FakeSlack, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(builtin_handlers.random, "random", lambda: 0.0)  # no jitter: keep the test fast
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    slack.fail_next("chat.postMessage", n=2, status=429, retry_after=0)

    response = client.chat_postMessage(channel="C1", text="x")

    assert response["ok"] is True
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 429, 200]


def test_500_and_logical_errors_can_be_injected(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("conversations.create", status=500)
    slack.fail_next("chat.postMessage", error="channel_not_found")

    with pytest.raises(SlackApiError) as info:
        client.conversations_create(name="inc-1")
    assert info.value.response.status_code == 500
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="x")
    assert (info.value.response.status_code, info.value.response["error"]) == (200, "channel_not_found")
    assert slack.problems == []
    with pytest.raises(ValueError, match="does not implement"):
        slack.fail_next("chat.postMesage")


# -- auth and request format ---------------------------------------------------------------------------


def test_bad_and_missing_tokens(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as info:
        WebClient(token="xoxb-wrong", base_url=slack.base_url).chat_postMessage(channel="C1", text="x")
    assert info.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as info:
        WebClient(base_url=slack.base_url).auth_test()
    assert info.value.response["error"] == "not_authed"
    assert [p.split(":")[1].strip() for p in slack.problems] == ["invalid_auth", "not_authed"]


def test_missing_scope(slack: FakeSlack) -> None:
    with FakeSlack(scopes=["chat:write"]) as narrow:
        client = WebClient(token=narrow.token, base_url=narrow.base_url)
        with pytest.raises(SlackApiError) as info:
            client.conversations_create(name="inc-1")
        assert info.value.response["error"] == "missing_scope"
        assert info.value.response["needed"] == "channels:manage"


def test_json_body_with_form_content_type_is_an_error(slack: FakeSlack) -> None:
    body = requests.post(
        f"{slack.base_url}chat.postMessage",
        data=json.dumps({"channel": "C1", "text": "x"}),
        headers={
            "Authorization": f"Bearer {slack.token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=5,
    ).json()
    assert body == {"ok": False, "error": "invalid_form_data"}
    assert "JSON body sent with Content-Type" in slack.problems[0]


def test_json_without_charset_gets_slacks_warning(slack: FakeSlack) -> None:
    body = requests.post(
        f"{slack.base_url}chat.postMessage",
        json={"channel": "C1", "text": "x"},
        headers={"Authorization": f"Bearer {slack.token}"},
        timeout=5,
    ).json()
    assert body["ok"] is True and body["warning"] == "missing_charset"


def test_unknown_method(slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        client.api_call("chat.postMesage", json={"channel": "C1"})
    assert info.value.response.data == {"ok": False, "error": "unknown_method"}


# -- other methods ---------------------------------------------------------------------------------------


def test_views_open_and_update(slack: FakeSlack, client: WebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Declare incident"}, "blocks": []}
    opened = client.views_open(trigger_id="13345224609.738474920.8088930838d88f008e0", view=view)
    blocks = [DividerBlock().to_dict()]
    updated = client.views_update(view_id=opened["view"]["id"], view={**view, "blocks": blocks})
    assert updated["view"]["id"] == opened["view"]["id"]

    with pytest.raises(SlackApiError) as info:
        long_title = {"type": "plain_text", "text": "t" * 25}
        client.views_open(trigger_id="1.2.abc", view={**view, "title": long_title})
    assert info.value.response["error"] == "invalid_arguments"
    assert "json-pointer:/view/title/text" in info.value.response["response_metadata"]["messages"][0]


def test_misc_methods_and_file_upload(slack: FakeSlack, client: WebClient) -> None:
    slack.add_user("U024BE7LH", profile={"email": "priya@acme.test"})
    assert client.users_info(user="U024BE7LH")["user"]["profile"]["email"] == "priya@acme.test"
    assert client.auth_test()["user_id"] == BOT_USER_ID
    posted = client.chat_postMessage(channel="C1", text="x")
    link = client.chat_getPermalink(channel="C1", message_ts=posted["ts"])["permalink"]
    assert link.endswith(f"/archives/C1/p{posted['ts'].replace('.', '')}")
    assert client.reactions_add(channel="C1", name="eyes", timestamp=posted["ts"])["ok"] is True
    assert client.chat_postEphemeral(channel="C1", user="U024BE7LH", text="only you")["ok"] is True

    result = client.files_upload_v2(channel="C1", content="timeline", filename="t.txt", title="Timeline")

    (upload,) = slack.uploads.values()
    assert (upload.data, upload.title, upload.channel_id, upload.completed) == (
        b"timeline",
        "Timeline",
        "C1",
        True,
    )
    assert result["file"]["id"] == upload.file_id
    assert slack.problems == []


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}], "/blocks/0/text/type"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}], "/blocks/0/text/text"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "/blocks/0/fields"),
        (
            [
                {
                    "type": "actions",
                    "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b"}}],
                }
            ],
            "missing required field: action_id",
        ),
        ([{"type": "actions", "elements": [{"type": "divider"}]}], "/blocks/0/elements/0/type"),
        ([{"type": "divider", "block_id": "x" * 256}], "/blocks/0/block_id"),
        ([{"type": "banner"}], "unsupported block type"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": 5}}], "expected: string"),
    ],
)
def test_block_limits(blocks: list, expected: str) -> None:
    errors = check_blocks(blocks)
    assert any(expected in e for e in errors), errors


def test_actions_block_holds_at_most_25_elements() -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "b"}}
    elements = [{**button, "action_id": f"a{i}"} for i in range(26)]
    assert check_blocks([{"type": "actions", "elements": elements}]) == [
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]"
    ]
    assert check_blocks([block.to_dict() for block in incident_blocks()]) == []
    assert check_view({"type": "modal", "title": {"type": "plain_text", "text": "ok"}, "blocks": []}) == []


# -- waiting -------------------------------------------------------------------------------------------


def test_wait_for_blocks_until_calls_arrive(slack: FakeSlack, client: WebClient) -> None:
    def post_later() -> None:
        time.sleep(0.05)
        for text in ("a", "b"):
            client.chat_postMessage(channel="C1", text=text)

    threading.Thread(target=post_later, daemon=True).start()
    calls = slack.wait_for("chat.postMessage", predicate=lambda c: c.params.get("text") == "b", timeout=5)
    assert calls[0].params["text"] == "b"

    with pytest.raises(AssertionError, match="expected 3 call"):
        slack.wait_for("chat.postMessage", count=3, timeout=0.05)
    slack.reset()
    assert slack.calls == [] and slack.messages == {}


# -- out of process ------------------------------------------------------------------------------------


def test_module_mode_serves_calls_and_reset() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack_api", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert re.match(r"^http://127\.0\.0\.1:\d+/api/$", base_url)
        root = base_url.removesuffix("api/")
        client = WebClient(token="xoxb-test-token", base_url=base_url, timeout=5)
        client.chat_postMessage(channel="C07INC0142", text="hello")

        with urlopen(f"{root}_calls", timeout=5) as response:
            calls = json.load(response)
        summary = [(c["method"], c["params"]["text"], c["ok"]) for c in calls]
        assert summary == [("chat.postMessage", "hello", True)]
        assert isinstance(calls[0]["received_at"], float)

        with urlopen(Request(f"{root}_reset", method="POST"), timeout=5) as response:
            assert json.load(response) == {"ok": True}
        with urlopen(f"{root}_calls", timeout=5) as response:
            assert json.load(response) == []
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
