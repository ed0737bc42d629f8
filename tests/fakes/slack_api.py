"""A fake of Slack's Web API served over real HTTP on loopback.

Why: production code talks to Slack through ``slack_sdk.WebClient(token=..., base_url=...)``. Pointing that
client at this server runs the real client code (encoding, headers, retry handlers) unchanged. The server
checks each request against the documented Web API contract: auth, content types, required arguments, Block
Kit limits and view limits. It answers violations the way Slack does (HTTP 200 with
``{"ok": false, "error": ...}``) and also collects them in ``FakeSlack.problems``, so tests can assert that
there were none.

In process::

    with FakeSlack() as slack:
        client = WebClient(token=slack.token, base_url=slack.base_url)
        ...
        slack.wait_for("chat.postMessage")
        assert slack.problems == []

Out of process (benchmarks)::

    python -m tests.fakes.slack_api --port 0     # prints the base URL, serves until SIGINT/SIGTERM
    GET /_calls[?method=M]   GET /_problems   POST /_reset   POST /_fail {"method": M, "status": 429, ...}

Only the standard library is used, so the server starts quickly and needs nothing from the virtualenv.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import email.parser
import email.policy
import json
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from tests.fakes.loopback import ServedInThread, read_request_body

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_SCOPES",
    "DEFAULT_TOKEN",
    "TEAM_ID",
    "FakeSlack",
    "SlackCall",
    "Upload",
    "check_blocks",
    "check_channel_name",
    "check_view",
    "main",
]

DEFAULT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0FAKETEAM"
TEAM_NAME = "Fake Workspace"
TEAM_DOMAIN = "fake-workspace"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
APP_ID = "A0FAKEAPP"
WORKSPACE_URL = f"https://{TEAM_DOMAIN}.slack.com/"

# Scopes a bot token with everything this system needs would carry.
DEFAULT_SCOPES: tuple[str, ...] = (
    "channels:history",
    "channels:manage",
    "channels:read",
    "chat:write",
    "files:write",
    "groups:history",
    "groups:write",
    "reactions:read",
    "reactions:write",
    "users:read",
    "users:read.email",
)

# Any one of the listed scopes satisfies the method (Slack's "needed" lists the first).
_NEEDED_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "conversations.create": ("channels:manage", "groups:write"),
    "conversations.invite": (
        "channels:manage",
        "groups:write",
        "channels:write.invites",
        "groups:write.invites",
    ),
    "users.info": ("users:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "reactions.add": ("reactions:write",),
    "conversations.history": ("channels:history", "groups:history", "im:history", "mpim:history"),
}

API_PREFIX = "/api/"
UPLOAD_PREFIX = "/upload/v1/"

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_ATTACHMENTS = 100
MAX_INVITE_USERS = 1000
MAX_CHANNEL_NAME = 80
MAX_MARKDOWN_TOTAL = 12_000

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_INVITABLE_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_TS = re.compile(r"^\d+\.\d+$")
_CHANNEL_NAME = re.compile(r"^[a-z0-9_-]+$")
_TRIGGER_ID = re.compile(r"^\d+\.\d+\.[0-9A-Za-z]+$")

# Arguments Slack takes as JSON text in form bodies; decoded so recorded params are easy to assert on.
_STRUCTURED_ARGS = ("blocks", "attachments", "view", "files", "metadata")


# ---------------------------------------------------------------------------------------------------------
# Validation: pure functions so tests can also check payloads without HTTP.
# Messages follow Slack's wording: "<what> [json-pointer:/blocks/0/text/text]".
# ---------------------------------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


class _Checker:
    """Collects every violation in a payload, not just the first, so one failing test shows them all."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, pointer: str, message: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def is_object(self, value: Any, pointer: str) -> bool:
        if isinstance(value, dict):
            return True
        self.fail(pointer, f"expected: object, got: {_json_type(value)}")
        return False

    def array(self, value: Any, pointer: str, *, max_items: int, min_items: int = 0) -> list[Any]:
        if not isinstance(value, list):
            self.fail(pointer, f"expected: array, got: {_json_type(value)}")
            return []
        if len(value) < min_items:
            self.fail(pointer, f"must provide at least {min_items} items")
        if len(value) > max_items:
            self.fail(pointer, f"no more than {max_items} items allowed")
        return value

    def string(self, value: Any, pointer: str, *, limit: int | None, min_len: int = 0) -> None:
        if not isinstance(value, str):
            self.fail(pointer, f"expected: string, got: {_json_type(value)}")
        elif len(value) < min_len:
            self.fail(pointer, f"must be more than {min_len - 1} characters")
        elif limit is not None and len(value) > limit:
            self.fail(pointer, f"must be less than {limit + 1} characters")

    def str_field(
        self, parent: dict[str, Any], key: str, pointer: str, *, limit: int | None, required: bool = False
    ) -> None:
        if key not in parent:
            if required:
                self.fail(pointer, f"missing required field: {key}")
            return
        self.string(parent[key], f"{pointer}/{key}", limit=limit, min_len=1 if required else 0)

    def text(self, value: Any, pointer: str, *, limit: int | None, plain: bool = False) -> None:
        """A composition text object: {"type": "plain_text"|"mrkdwn", "text": "..."}."""
        if not self.is_object(value, pointer):
            return
        kind = value.get("type")
        allowed = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.fail(f"{pointer}/type", f"must be one of: {', '.join(allowed)} (got {kind!r})")
            return
        if "text" not in value:
            self.fail(pointer, "missing required field: text")
        else:
            self.string(value["text"], f"{pointer}/text", limit=limit, min_len=1)
        if "emoji" in value and kind != "plain_text":
            self.fail(f"{pointer}/emoji", "emoji is only allowed in plain_text objects")
        if "verbatim" in value and kind != "mrkdwn":
            self.fail(f"{pointer}/verbatim", "verbatim is only allowed in mrkdwn objects")

    def text_field(
        self,
        parent: dict[str, Any],
        key: str,
        pointer: str,
        *,
        limit: int | None,
        plain: bool = False,
        required: bool = True,
    ) -> None:
        if key not in parent:
            if required:
                self.fail(pointer, f"missing required field: {key}")
            return
        self.text(parent[key], f"{pointer}/{key}", limit=limit, plain=plain)


_SELECTS = frozenset({"static_select", "external_select", "users_select", "conversations_select"})
_SELECTS |= {"channels_select"}
_MULTI_SELECTS = frozenset(f"multi_{name}" for name in _SELECTS)
_ACTION_ELEMENTS = frozenset(
    {"button", "checkboxes", "datepicker", "datetimepicker", "overflow", "radio_buttons", "timepicker"}
    | {"workflow_button"}
    | _SELECTS
    | _MULTI_SELECTS
)
_ACCESSORY_ELEMENTS = (_ACTION_ELEMENTS - {"datetimepicker"}) | {"image"}
_INPUT_ELEMENTS = frozenset(
    {"checkboxes", "datepicker", "datetimepicker", "email_text_input", "file_input", "number_input"}
    | {"plain_text_input", "radio_buttons", "rich_text_input", "timepicker", "url_text_input"}
    | _SELECTS
    | _MULTI_SELECTS
)
_OPTION_LIMITS = {"static_select": 100, "multi_static_select": 100, "overflow": 5, "checkboxes": 10}
_OPTION_LIMITS["radio_buttons"] = 10


def _check_option(c: _Checker, option: Any, pointer: str, *, mrkdwn_ok: bool) -> None:
    if not c.is_object(option, pointer):
        return
    c.text_field(option, "text", pointer, limit=75, plain=not mrkdwn_ok)
    c.str_field(option, "value", pointer, limit=150, required=True)
    c.text_field(option, "description", pointer, limit=75, plain=not mrkdwn_ok, required=False)
    c.str_field(option, "url", pointer, limit=3000)


def _check_confirm(c: _Checker, confirm: Any, pointer: str) -> None:
    if not c.is_object(confirm, pointer):
        return
    c.text_field(confirm, "title", pointer, limit=100, plain=True)
    c.text_field(confirm, "text", pointer, limit=300)
    c.text_field(confirm, "confirm", pointer, limit=30, plain=True)
    c.text_field(confirm, "deny", pointer, limit=30, plain=True)
    if confirm.get("style") not in (None, "primary", "danger"):
        c.fail(f"{pointer}/style", "must be one of: primary, danger")


def _check_options(c: _Checker, element: dict[str, Any], pointer: str, kind: str) -> None:
    limit = _OPTION_LIMITS[kind]
    mrkdwn_ok = kind in ("checkboxes", "radio_buttons")
    if "option_groups" in element and kind in ("static_select", "multi_static_select"):
        groups = c.array(element["option_groups"], f"{pointer}/option_groups", max_items=100, min_items=1)
        for g, group in enumerate(groups):
            gp = f"{pointer}/option_groups/{g}"
            if c.is_object(group, gp):
                c.text_field(group, "label", gp, limit=75, plain=True)
                for o, option in enumerate(c.array(group.get("options"), f"{gp}/options", max_items=100)):
                    _check_option(c, option, f"{gp}/options/{o}", mrkdwn_ok=False)
        return
    if "options" not in element:
        c.fail(pointer, "missing required field: options")
        return
    min_items = 1 if kind == "overflow" else 0
    options = c.array(element["options"], f"{pointer}/options", max_items=limit, min_items=min_items)
    for o, option in enumerate(options):
        _check_option(c, option, f"{pointer}/options/{o}", mrkdwn_ok=mrkdwn_ok)


def _check_image_source(c: _Checker, obj: dict[str, Any], pointer: str) -> None:
    if "image_url" not in obj and "slack_file" not in obj:
        c.fail(pointer, "missing required field: image_url or slack_file")
    c.str_field(obj, "image_url", pointer, limit=3000)
    c.str_field(obj, "alt_text", pointer, limit=2000, required=True)


def _check_element(c: _Checker, element: Any, pointer: str, allowed: frozenset[str]) -> None:
    if not c.is_object(element, pointer):
        return
    kind = element.get("type")
    if kind not in allowed:
        c.fail(f"{pointer}/type", f"unsupported element type here: {kind!r}")
        return
    c.str_field(element, "action_id", pointer, limit=255)
    if kind == "button":
        c.text_field(element, "text", pointer, limit=75, plain=True)
        if "action_id" not in element:
            c.fail(pointer, "missing required field: action_id")
        c.str_field(element, "value", pointer, limit=2000)
        c.str_field(element, "url", pointer, limit=3000)
        if element.get("style") not in (None, "primary", "danger"):
            c.fail(f"{pointer}/style", "must be one of: primary, danger")
    elif kind == "image":
        _check_image_source(c, element, pointer)
    elif kind in _OPTION_LIMITS:
        _check_options(c, element, pointer, kind)
    if "placeholder" in element:
        c.text_field(element, "placeholder", pointer, limit=150, plain=True)
    if "confirm" in element:
        _check_confirm(c, element["confirm"], f"{pointer}/confirm")


def _check_section(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    if "text" not in block and "fields" not in block:
        c.fail(pointer, "missing required field: text or fields")
    c.text_field(block, "text", pointer, limit=3000, required=False)
    if "fields" in block:
        fields = c.array(block["fields"], f"{pointer}/fields", max_items=10, min_items=1)
        for i, item in enumerate(fields):
            c.text(item, f"{pointer}/fields/{i}", limit=2000)
    if "accessory" in block:
        _check_element(c, block["accessory"], f"{pointer}/accessory", _ACCESSORY_ELEMENTS)


def _check_header(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    c.text_field(block, "text", pointer, limit=150, plain=True)


def _check_context(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    elements = c.array(block.get("elements"), f"{pointer}/elements", max_items=10, min_items=1)
    for i, element in enumerate(elements):
        ep = f"{pointer}/elements/{i}"
        if isinstance(element, dict) and element.get("type") == "image":
            _check_image_source(c, element, ep)
        else:
            c.text(element, ep, limit=None)


def _check_actions(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    elements = c.array(block.get("elements"), f"{pointer}/elements", max_items=25, min_items=1)
    seen: set[str] = set()
    for i, element in enumerate(elements):
        _check_element(c, element, f"{pointer}/elements/{i}", _ACTION_ELEMENTS)
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action_id, str):
            if action_id in seen:
                c.fail(f"{pointer}/elements/{i}/action_id", f"duplicate action_id: {action_id}")
            seen.add(action_id)


def _check_divider(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    """Dividers carry nothing but type and block_id."""


def _check_image_block(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    _check_image_source(c, block, pointer)
    c.text_field(block, "title", pointer, limit=2000, plain=True, required=False)


def _check_input(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    c.text_field(block, "label", pointer, limit=2000, plain=True)
    c.text_field(block, "hint", pointer, limit=2000, plain=True, required=False)
    if "element" not in block:
        c.fail(pointer, "missing required field: element")
    else:
        _check_element(c, block["element"], f"{pointer}/element", _INPUT_ELEMENTS)


_RICH_CONTAINERS = frozenset({"rich_text_section", "rich_text_list", "rich_text_preformatted"})
_RICH_CONTAINERS |= {"rich_text_quote"}
_RICH_LEAVES = frozenset({"text", "emoji", "link", "user", "channel", "usergroup", "broadcast", "date"})
_RICH_LEAVES |= {"color"}


def _check_rich_elements(c: _Checker, elements: Any, pointer: str, *, depth: int) -> None:
    for i, element in enumerate(c.array(elements, pointer, max_items=10_000)):
        ep = f"{pointer}/{i}"
        if not c.is_object(element, ep):
            continue
        kind = element.get("type")
        if depth == 0 and kind in _RICH_CONTAINERS:
            nested_depth = 0 if kind == "rich_text_list" else 1
            _check_rich_elements(c, element.get("elements"), f"{ep}/elements", depth=nested_depth)
        elif depth == 1 and kind in _RICH_LEAVES:
            if kind in ("text", "link"):
                c.str_field(element, "text" if kind == "text" else "url", ep, limit=None, required=True)
        else:
            c.fail(f"{ep}/type", f"unsupported rich text element type here: {kind!r}")


def _check_rich_text(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    _check_rich_elements(c, block.get("elements"), f"{pointer}/elements", depth=0)


def _check_markdown(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    c.str_field(block, "text", pointer, limit=MAX_MARKDOWN_TOTAL, required=True)


def _check_file(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    c.str_field(block, "external_id", pointer, limit=None, required=True)
    if block.get("source") != "remote":
        c.fail(f"{pointer}/source", "must be remote")


def _check_video(c: _Checker, block: dict[str, Any], pointer: str) -> None:
    c.str_field(block, "alt_text", pointer, limit=None, required=True)
    c.text_field(block, "title", pointer, limit=199, plain=True)
    c.text_field(block, "description", pointer, limit=None, plain=True, required=False)
    c.str_field(block, "thumbnail_url", pointer, limit=None, required=True)
    c.str_field(block, "video_url", pointer, limit=None, required=True)


_BLOCK_CHECKS: dict[str, Callable[[_Checker, dict[str, Any], str], None]] = {
    "section": _check_section,
    "header": _check_header,
    "context": _check_context,
    "actions": _check_actions,
    "divider": _check_divider,
    "image": _check_image_block,
    "input": _check_input,
    "rich_text": _check_rich_text,
    "markdown": _check_markdown,
    "file": _check_file,
    "video": _check_video,
}


def _check_blocks_into(c: _Checker, blocks: Any, pointer: str, *, max_blocks: int) -> None:
    seen_ids: set[str] = set()
    markdown_total = 0
    for i, block in enumerate(c.array(blocks, pointer, max_items=max_blocks)):
        bp = f"{pointer}/{i}"
        if not c.is_object(block, bp):
            continue
        kind = block.get("type")
        if "type" not in block:
            c.fail(bp, "missing required field: type")
            continue
        if kind not in _BLOCK_CHECKS:
            c.fail(f"{bp}/type", f"unsupported block type: {kind!r}")
            continue
        if "block_id" in block:
            block_id = block["block_id"]
            c.string(block_id, f"{bp}/block_id", limit=255, min_len=1)
            if isinstance(block_id, str) and block_id in seen_ids:
                c.fail(f"{bp}/block_id", f"duplicate block_id: {block_id}")
            seen_ids.add(str(block_id))
        _BLOCK_CHECKS[kind](c, block, bp)
        if kind == "markdown" and isinstance(block.get("text"), str):
            markdown_total += len(block["text"])
    if markdown_total > MAX_MARKDOWN_TOTAL:
        c.fail(pointer, f"markdown blocks must total less than {MAX_MARKDOWN_TOTAL + 1} characters")


def check_blocks(blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS, pointer: str = "/blocks") -> list[str]:
    """Return every Block Kit violation in ``blocks`` (empty when Slack would accept them)."""
    c = _Checker()
    _check_blocks_into(c, blocks, pointer, max_blocks=max_blocks)
    return c.errors


def check_view(view: Any, *, pointer: str = "/view") -> list[str]:
    """Return every violation in a modal view payload for views.open / views.update."""
    c = _Checker()
    if not c.is_object(view, pointer):
        return c.errors
    if "type" not in view:
        c.fail(pointer, "missing required field: type")
    elif view["type"] != "modal":
        c.fail(f"{pointer}/type", f"must be modal (got {view['type']!r})")
    c.text_field(view, "title", pointer, limit=24, plain=True)
    c.text_field(view, "submit", pointer, limit=24, plain=True, required=False)
    c.text_field(view, "close", pointer, limit=24, plain=True, required=False)
    if "blocks" not in view:
        c.fail(pointer, "missing required field: blocks")
    else:
        _check_blocks_into(c, view["blocks"], f"{pointer}/blocks", max_blocks=MAX_VIEW_BLOCKS)
    c.str_field(view, "private_metadata", pointer, limit=3000)
    c.str_field(view, "callback_id", pointer, limit=255)
    c.str_field(view, "external_id", pointer, limit=255)
    blocks = view.get("blocks") if isinstance(view.get("blocks"), list) else []
    has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and "submit" not in view:
        c.fail(pointer, "submit is required when a view contains input blocks")
    return c.errors


def check_channel_name(name: Any) -> str | None:
    """Return the conversations.create error Slack gives for ``name``, or None when it is acceptable."""
    if not isinstance(name, str) or not name:
        return "invalid_name_required"
    if len(name) > MAX_CHANNEL_NAME:
        return "invalid_name_maxlength"
    if not _CHANNEL_NAME.match(name):
        return "invalid_name_specials"
    if not name.strip("-_"):
        return "invalid_name_punctuation"
    return None


# ---------------------------------------------------------------------------------------------------------
# Request parsing and errors
# ---------------------------------------------------------------------------------------------------------


class _SlackFailure(Exception):
    """An ``ok: false`` answer. ``problem`` marks requests that broke the documented contract, as opposed
    to answers that depend on state (name_taken, already_in_channel, message_not_found...)."""

    def __init__(
        self,
        error: str,
        detail: str = "",
        *,
        problem: bool = True,
        messages: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.error = error
        self.detail = detail
        self.problem = problem
        self.messages = messages or []
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in self.messages]}
        return body

    def describe(self, method: str) -> str:
        detail = self.detail or "; ".join(self.messages)
        return f"{method}: {self.error}" + (f": {detail}" if detail else "")


def _invalid_args(*messages: str) -> _SlackFailure:
    return _SlackFailure("invalid_arguments", messages=list(messages))


def _refused(error: str, detail: str = "") -> _SlackFailure:
    """A state-dependent answer that a correct client may legitimately get."""
    return _SlackFailure(error, detail, problem=False)


@dataclass
class _Request:
    params: dict[str, Any]
    token: str | None
    token_in_json: bool = False
    warnings: list[str] = field(default_factory=list)


def _decode_structured(params: dict[str, Any]) -> None:
    for name in _STRUCTURED_ARGS:
        value = params.get(name)
        if isinstance(value, str):
            # Invalid JSON stays text; the method handler then answers with Slack's format error.
            with contextlib.suppress(ValueError):
                params[name] = json.loads(value)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise _SlackFailure("invalid_form_data", "multipart body without parts")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if not isinstance(name, str):
            continue
        if part.get_filename():
            params[name] = {"filename": part.get_filename(), "size": len(payload)}
        else:
            params[name] = payload.decode("utf-8", errors="replace")
    return params


def parse_request(headers: dict[str, str], query: str, body: bytes) -> _Request:
    """Decode a Web API request the way Slack does: JSON, form or multipart bodies plus the query string."""
    lowered = {k.lower(): v for k, v in headers.items()}
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    warnings: list[str] = []
    token_in_json = False
    content_type = lowered.get("content-type", "")
    mime = content_type.split(";")[0].strip().lower()
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", content_type, re.IGNORECASE)
    if body:
        if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
            raise _SlackFailure("invalid_charset", f"charset {charset.group(1)} is not utf-8")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _SlackFailure("invalid_charset", "body is not valid utf-8") from exc
        if mime == "application/json":
            if not charset:
                warnings.append("missing_charset")
            try:
                decoded = json.loads(text)
            except ValueError as exc:
                raise _SlackFailure("invalid_json", f"body is not valid JSON: {exc}") from exc
            if not isinstance(decoded, dict):
                kind = _json_type(decoded)
                raise _SlackFailure("json_not_object", f"JSON body is not an object but {kind}")
            token_in_json = "token" in decoded
            decoded.pop("token", None)  # Slack never reads a token from a JSON body
            params.update(decoded)
        elif mime in ("application/x-www-form-urlencoded", "text/plain"):
            if text.lstrip()[:1] in ("{", "["):
                raise _SlackFailure("invalid_form_data", f"JSON body sent with Content-Type {content_type!r}")
            if charset:
                warnings.append("superfluous_charset")
            try:
                params.update(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
            except ValueError as exc:
                raise _SlackFailure("invalid_form_data", str(exc)) from exc
        elif mime == "multipart/form-data":
            params.update(_parse_multipart(content_type, body))
        elif not mime:
            raise _SlackFailure("missing_post_type", "request body without a Content-Type")
        else:
            raise _SlackFailure("invalid_post_type", f"unsupported Content-Type {content_type!r}")
    _decode_structured(params)
    token: str | None = None
    auth = lowered.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip() or None
    elif isinstance(params.get("token"), str) and params["token"]:
        token = params["token"]
    return _Request(params=params, token=token, token_in_json=token_in_json, warnings=warnings)


class _Params:
    """Typed access to arguments; raises the answer Slack gives for a missing or malformed one."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def opt_str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise _invalid_args(f"expected: string, got: {_json_type(value)} [json-pointer:/{name}]")
        return value

    def req_str(self, name: str) -> str:
        value = self.opt_str(name)
        if value is None:
            raise _invalid_args(f"missing required field: {name}")
        return value

    def flag(self, name: str) -> bool:
        return self.raw.get(name) in (True, 1, "1", "true", "True")

    def structured(self, name: str, format_error: str = "invalid_arguments") -> Any:
        """A JSON argument (already decoded when it was valid JSON text)."""
        value = self.raw.get(name)
        if isinstance(value, str):
            raise _SlackFailure(format_error, f"{name} is not valid JSON")
        return value


# ---------------------------------------------------------------------------------------------------------
# Workspace state and method implementations
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Upload:
    """A file sent the files_upload_v2 way: getUploadURLExternal, POST the bytes, completeUploadExternal."""

    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    completed: bool = False
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None


class _Workspace:
    """In-memory state of one fake workspace and the method implementations that read and change it.
    Callers hold the FakeSlack lock, so nothing here locks."""

    def __init__(self) -> None:
        self.channels: dict[str, dict[str, Any]] = {}
        self.members: dict[str, set[str]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, Upload] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.reactions: set[tuple[str, str, str]] = set()
        self._counters: dict[str, int] = {}
        self._last_ts_us = 0
        self.methods: dict[str, Callable[[_Params], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "conversations.create": self.conversations_create,
            "conversations.invite": self.conversations_invite,
            "views.open": self.views_open,
            "views.update": self.views_update,
            "users.info": self.users_info,
            "files.getUploadURLExternal": self.files_get_upload_url,
            "files.completeUploadExternal": self.files_complete_upload,
            "reactions.add": self.reactions_add,
            "conversations.history": self.conversations_history,
        }
        self.upload_base = ""  # set by FakeSlack once the port is known

    # -- ids ------------------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}0FK{n:06d}"

    def next_ts(self) -> str:
        """Unique, increasing message timestamps in Slack's "seconds.micros" form."""
        now_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    # -- shared argument handling ---------------------------------------------------------------------

    def resolve_channel(self, p: _Params, name: str = "channel", *, users_ok: bool = False) -> str:
        """Channel ids pass; names of channels created here resolve (Slack accepts them for chat.*)."""
        value = p.opt_str(name)
        if value is None:
            raise _SlackFailure("channel_not_found", f"missing required field: {name}")
        if _CHANNEL_ID.match(value):
            return value
        if users_ok and _USER_ID.match(value):
            return "D" + value[1:]  # posting to a user id lands in the app's DM with them
        wanted = value.lstrip("#")
        for channel in self.channels.values():
            if channel["name"] == wanted:
                return str(channel["id"])
        raise _SlackFailure("channel_not_found", f"{name}={value!r} is neither a channel id nor a known name")

    def require_user(self, user: str) -> str:
        if not _USER_ID.match(user):
            raise _SlackFailure("user_not_found", f"{user!r} is not a user id (U… or W…)")
        return user

    def require_ts(self, p: _Params, name: str) -> str:
        ts = p.req_str(name)
        if not _TS.match(ts):
            raise _SlackFailure("message_not_found", f"{name}={ts!r} is not a Slack timestamp")
        return ts

    def blocks(self, p: _Params) -> list[dict[str, Any]] | None:
        if p.raw.get("blocks") is None:
            return None
        blocks = p.structured("blocks", "invalid_blocks_format")
        if not isinstance(blocks, list):
            raise _SlackFailure("invalid_blocks_format", f"blocks must be an array, got {_json_type(blocks)}")
        errors = check_blocks(blocks)
        if errors:
            raise _SlackFailure("invalid_blocks", messages=errors, extra={"errors": errors})
        return [self._with_block_id(b) for b in blocks]

    def _with_block_id(self, block: dict[str, Any]) -> dict[str, Any]:
        """Slack fills in a block_id for blocks sent without one."""
        out = copy.deepcopy(block)
        if "block_id" not in out:
            out["block_id"] = self.new_id("b")
        return out

    def attachments(self, p: _Params) -> list[dict[str, Any]] | None:
        if p.raw.get("attachments") is None:
            return None
        attachments = p.structured("attachments")
        if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
            raise _invalid_args("attachments must be an array of objects [json-pointer:/attachments]")
        if len(attachments) > MAX_ATTACHMENTS:
            raise _SlackFailure("too_many_attachments", f"{len(attachments)} > {MAX_ATTACHMENTS}")
        errors: list[str] = []
        for i, attachment in enumerate(attachments):
            if "blocks" in attachment:
                errors += check_blocks(attachment["blocks"], pointer=f"/attachments/{i}/blocks")
        if errors:
            raise _SlackFailure("invalid_blocks", messages=errors, extra={"errors": errors})
        return copy.deepcopy(attachments)

    def content(self, p: _Params, *, required: bool) -> dict[str, Any]:
        """text / blocks / attachments of a message; only keys that were sent are returned."""
        out: dict[str, Any] = {}
        text = p.opt_str("text")
        if text is not None:
            out["text"] = text[:MAX_MESSAGE_TEXT]  # Slack truncates rather than rejects
        blocks = self.blocks(p)
        if blocks is not None:
            out["blocks"] = blocks
        attachments = self.attachments(p)
        if attachments is not None:
            out["attachments"] = attachments
        if required and not (text or blocks or attachments):
            raise _SlackFailure("no_text", "one of text, blocks or attachments is required")
        return out

    def metadata(self, p: _Params) -> dict[str, Any] | None:
        if p.raw.get("metadata") is None:
            return None
        metadata = p.structured("metadata", "invalid_metadata_format")
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise _SlackFailure("invalid_metadata_format", "metadata needs event_type and event_payload")
        return copy.deepcopy(metadata)

    def channel_object(self, channel_id: str) -> dict[str, Any]:
        if channel_id not in self.channels:
            self.channels[channel_id] = self._new_channel(channel_id, f"channel-{channel_id.lower()}", False)
        return copy.deepcopy(self.channels[channel_id])

    def _new_channel(self, channel_id: str, name: str, private: bool) -> dict[str, Any]:
        self.members.setdefault(channel_id, {BOT_USER_ID})
        now = int(time.time())
        return {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": private,
            "is_archived": False,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": True,
            "created": now,
            "creator": BOT_USER_ID,
            "unlinked": 0,
            "context_team_id": TEAM_ID,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }

    def user_object(self, user_id: str) -> dict[str, Any]:
        name = user_id.lower()
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_bot": user_id == BOT_USER_ID,
            "is_admin": False,
            "is_app_user": False,
            "tz": "Asia/Kolkata",
            "tz_label": "India Standard Time",
            "tz_offset": 19800,
            "profile": {
                "real_name": f"User {user_id}",
                "display_name": name,
                "email": f"{name}@example.test",
                "image_72": f"https://avatars.example.test/{user_id}_72.png",
                "team": TEAM_ID,
            },
            "updated": int(time.time()),
        }
        extra = copy.deepcopy(self.users.get(user_id, {}))
        user["profile"].update(extra.pop("profile", {}))
        user.update(extra)
        return user

    # -- methods --------------------------------------------------------------------------------------

    def auth_test(self, p: _Params) -> dict[str, Any]:
        return {
            "ok": True,
            "url": WORKSPACE_URL,
            "team": TEAM_NAME,
            "user": "incident-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def chat_post_message(self, p: _Params) -> dict[str, Any]:
        channel = self.resolve_channel(p, users_ok=True)
        content = self.content(p, required=True)
        metadata = self.metadata(p)
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": ts,
            "text": content.get("text", ""),
            **{k: v for k, v in content.items() if k != "text"},
        }
        thread_ts = p.opt_str("thread_ts")
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        if metadata is not None:
            message["metadata"] = metadata
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def conversations_history(self, p: _Params) -> dict[str, Any]:
        """Messages of a channel, newest first, between `oldest` and `latest` (exclusive unless `inclusive`)."""
        channel = self.resolve_channel(p)
        bounds = {}
        for name in ("latest", "oldest"):
            value = p.opt_str(name)
            if value is not None and not _TS.match(value):
                raise _invalid_args(f"{name}={value!r} is not a Slack timestamp")
            bounds[name] = float(value) if value is not None else None
        limit_raw = p.opt_str("limit")
        if limit_raw is not None and (not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 999):
            raise _invalid_args(f"limit={limit_raw!r} must be a number from 1 to 999")
        limit = int(limit_raw or 100)
        inclusive = p.flag("inclusive")

        def within(ts: str) -> bool:
            t, low, high = float(ts), bounds["oldest"], bounds["latest"]
            above = low is None or (t >= low if inclusive else t > low)
            below = high is None or (t <= high if inclusive else t < high)
            return above and below

        found = sorted((m for (c, ts), m in self.messages.items() if c == channel and within(ts)),
                       key=lambda m: float(m["ts"]), reverse=True)
        return {"ok": True, "messages": copy.deepcopy(found[:limit]), "has_more": len(found) > limit,
                "pin_count": 0, "response_metadata": {"next_cursor": ""}}

    def chat_update(self, p: _Params) -> dict[str, Any]:
        channel = self.resolve_channel(p)
        ts = self.require_ts(p, "ts")
        message = self.messages.get((channel, ts))
        if message is None:
            raise _refused("message_not_found", f"no message {ts} in {channel} was posted through this fake")
        content = self.content(p, required=True)
        message.update(content)  # blocks/attachments not sent are kept, as Slack does
        message["edited"] = {"user": BOT_USER_ID, "ts": self.next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def chat_post_ephemeral(self, p: _Params) -> dict[str, Any]:
        channel = self.resolve_channel(p)
        self.require_user(p.req_str("user"))
        self.content(p, required=True)
        return {"ok": True, "message_ts": self.next_ts(), "channel": channel}

    def chat_get_permalink(self, p: _Params) -> dict[str, Any]:
        channel = self.resolve_channel(p)
        ts = self.require_ts(p, "message_ts")
        link = f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def conversations_create(self, p: _Params) -> dict[str, Any]:
        name = p.raw.get("name")
        error = check_channel_name(name)
        if error:
            raise _SlackFailure(error, f"name={name!r}: lowercase letters, digits, - and _ only, <= 80 chars")
        if any(c["name"] == name for c in self.channels.values()):
            raise _refused("name_taken", f"a channel named {name!r} already exists")
        channel_id = self.new_id("C")
        self.channels[channel_id] = self._new_channel(channel_id, str(name), p.flag("is_private"))
        return {"ok": True, "channel": copy.deepcopy(self.channels[channel_id])}

    def conversations_invite(self, p: _Params) -> dict[str, Any]:
        channel = p.opt_str("channel")
        if channel is None or not _INVITABLE_CHANNEL_ID.match(channel):
            raise _SlackFailure("channel_not_found", f"channel={channel!r} is not a channel id (C… or G…)")
        users_arg = p.opt_str("users")
        users = [u.strip() for u in (users_arg or "").split(",") if u.strip()]
        if not users:
            raise _SlackFailure("no_user", "users must list at least one user id")
        if len(users) > MAX_INVITE_USERS:
            raise _SlackFailure("too_many_users", f"{len(users)} users > {MAX_INVITE_USERS}")
        for user in users:
            self.require_user(user)
        if BOT_USER_ID in users:
            raise _SlackFailure("cant_invite_self", "the bot cannot invite itself")
        channel_obj = self.channel_object(channel)
        members = self.members[channel]
        new = [u for u in users if u not in members]
        if not new:
            errors = [{"user": u, "ok": False, "error": "already_in_channel"} for u in users]
            raise _SlackFailure("already_in_channel", problem=False, extra={"errors": errors})
        members.update(new)
        return {"ok": True, "channel": channel_obj}

    def _view_payload(self, p: _Params) -> dict[str, Any]:
        if p.raw.get("view") is None:
            raise _invalid_args("missing required field: view")
        view = p.structured("view")
        errors = check_view(view)
        if errors:
            raise _SlackFailure("invalid_arguments", messages=errors)
        return copy.deepcopy(view)

    def _store_view(self, view_id: str, view: dict[str, Any], root_id: str) -> dict[str, Any]:
        stored = {
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "state": {"values": {}},
            **view,
            "blocks": [self._with_block_id(b) for b in view["blocks"]],
            "hash": f"{int(time.time())}.{self.new_id('h')}",
            "root_view_id": root_id,
            "previous_view_id": None,
        }
        self.views[view_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def views_open(self, p: _Params) -> dict[str, Any]:
        trigger = p.opt_str("trigger_id") or p.opt_str("interactivity_pointer")
        if trigger is None:
            raise _invalid_args("missing required field: trigger_id")
        if not _TRIGGER_ID.match(trigger):
            raise _SlackFailure("invalid_trigger_id", f"{trigger!r} does not look like a Slack trigger_id")
        view = self._view_payload(p)
        external_id = view.get("external_id")
        if external_id and any(v.get("external_id") == external_id for v in self.views.values()):
            raise _refused("duplicate_external_id", f"external_id {external_id!r} is already in use")
        view_id = self.new_id("V")
        return self._store_view(view_id, view, view_id)

    def views_update(self, p: _Params) -> dict[str, Any]:
        view_id, external_id = p.opt_str("view_id"), p.opt_str("external_id")
        if (view_id is None) == (external_id is None):
            raise _invalid_args("exactly one of view_id or external_id is required")
        view = self._view_payload(p)

        def wanted(v: dict[str, Any]) -> bool:
            return v["id"] == view_id or (external_id is not None and v["external_id"] == external_id)

        found = next((v for v in self.views.values() if wanted(v)), None)
        if found is None:
            raise _refused("not_found", f"no view {view_id or external_id!r} was opened")
        expected_hash = p.opt_str("hash")
        if expected_hash is not None and expected_hash != found["hash"]:
            raise _refused("hash_conflict", "the view changed since that hash was issued")
        return self._store_view(found["id"], view, found["root_view_id"])

    def users_info(self, p: _Params) -> dict[str, Any]:
        user = self.require_user(p.req_str("user"))
        return {"ok": True, "user": self.user_object(user)}

    def files_get_upload_url(self, p: _Params) -> dict[str, Any]:
        filename = p.req_str("filename")
        length = p.raw.get("length")
        if isinstance(length, str) and length.isdigit():
            length = int(length)
        if not isinstance(length, int) or isinstance(length, bool) or length <= 0:
            raise _invalid_args(f"length must be a positive integer, got {p.raw.get('length')!r}")
        file_id = self.new_id("F")
        self.uploads[file_id] = Upload(file_id=file_id, filename=filename, length=length)
        return {"ok": True, "upload_url": f"{self.upload_base}{file_id}", "file_id": file_id}

    def files_complete_upload(self, p: _Params) -> dict[str, Any]:
        if p.raw.get("files") is None:
            raise _invalid_args("missing required field: files")
        files = p.structured("files")
        entries_ok = isinstance(files, list) and all(isinstance(f, dict) and "id" in f for f in files)
        if not files or not entries_ok:
            raise _invalid_args("files must be a non-empty array of objects with an id [json-pointer:/files]")
        channel = None
        if p.opt_str("channel_id") is not None:
            channel = self.resolve_channel(p, "channel_id")
        thread_ts = p.opt_str("thread_ts")
        if thread_ts is not None and channel is None:
            raise _invalid_args("thread_ts requires channel_id")
        out = []
        for item in files:
            upload = self.uploads.get(str(item["id"]))
            if upload is None:
                raise _SlackFailure("file_not_found", f"file id {item['id']!r} was not issued by this fake")
            if upload.data is None:
                raise _SlackFailure("file_not_found", f"no bytes were uploaded for {upload.file_id}")
        for item in files:
            upload = self.uploads[str(item["id"])]
            upload.title = item.get("title") or upload.filename
            upload.completed = True
            upload.channel_id = channel
            upload.initial_comment = p.opt_str("initial_comment")
            upload.thread_ts = thread_ts
            file_path = f"{upload.file_id}/{upload.filename}"
            out.append(
                {
                    "id": upload.file_id,
                    "created": int(time.time()),
                    "timestamp": int(time.time()),
                    "name": upload.filename,
                    "title": upload.title,
                    "user": BOT_USER_ID,
                    "size": len(upload.data or b""),
                    "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{file_path}",
                    "permalink": f"{WORKSPACE_URL}files/{BOT_USER_ID}/{file_path}",
                    "channels": [channel] if channel else [],
                }
            )
        return {"ok": True, "files": out}

    def reactions_add(self, p: _Params) -> dict[str, Any]:
        channel = self.resolve_channel(p)
        name = p.req_str("name").strip(":")
        ts = self.require_ts(p, "timestamp")
        key = (channel, ts, name)
        if key in self.reactions:
            raise _refused("already_reacted", f"{name} is already on {ts}")
        self.reactions.add(key)
        return {"ok": True}


# ---------------------------------------------------------------------------------------------------------
# Recording and fault injection
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackCall:
    """One Web API request as received, with the answer it got."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    received_at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return error if isinstance(error, str) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "params": self.params,
            "received_at": self.received_at,
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
        }


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: int
    error: str | None

    def answer(self) -> tuple[int, dict[str, str], dict[str, Any]]:
        if self.error is not None:
            return 200, {}, {"ok": False, "error": self.error}
        if self.status == 429:
            return 429, {"Retry-After": str(self.retry_after)}, {"ok": False, "error": "ratelimited"}
        error = {503: "service_unavailable", 504: "request_timeout"}.get(self.status, "internal_error")
        return self.status, {}, {"ok": False, "error": error}


# ---------------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive client connections must not hold up stop()
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], fake: FakeSlack) -> None:
        super().__init__(address, _Handler)
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Cut keep-alive connections so a stopped fake stops answering, like a dead Slack would."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Routes /api/<method>, the upload URLs and the /_ control endpoints to the FakeSlack."""

    protocol_version = "HTTP/1.1"  # keep-alive, so benchmark clients with sessions are not slowed down
    server_version = "FakeSlack/1.0"
    timeout = 30  # an idle keep-alive connection frees its thread eventually
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr lines; calls are recorded instead."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        return read_request_body(self)

    def _send(self, status: int, body: bytes, headers: dict[str, str], content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self._send(status, body, headers or {}, "application/json; charset=utf-8")

    def _dispatch(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        try:
            body = self._read_body()
            if url.path.startswith(API_PREFIX):
                method = url.path[len(API_PREFIX) :]
                received = dict(self.headers.items())
                status, headers, payload = fake._handle_api(method, received, url.query, body)
                if fake.latency > 0:
                    time.sleep(fake.latency)
                self._send_json(status, payload, headers)
            elif url.path.startswith(UPLOAD_PREFIX) and self.command == "POST":
                status, text = fake._handle_upload(url.path[len(UPLOAD_PREFIX) :], body)
                self._send(status, text.encode(), {}, "text/plain; charset=utf-8")
            elif fake.control_endpoints and url.path.startswith("/_"):
                self._control(url.path, url.query, body)
            else:
                self._send_json(404, {"ok": False, "error": "not_found"})
        except Exception as exc:  # a bug in the fake must show up in tests, not as a hung client
            fake._add_problem(f"fake internal error on {self.command} {url.path}: {exc!r}")
            self._send_json(500, {"ok": False, "error": "fake_internal_error", "detail": repr(exc)})

    def _control(self, path: str, query: str, body: bytes) -> None:
        fake = self.server.fake
        if path == "/_calls" and self.command == "GET":
            method = parse_qs(query).get("method", [None])[0]
            calls = fake.calls if method is None else fake.calls_to(method)
            self._send_json(200, [c.to_json() for c in calls])
        elif path == "/_problems" and self.command == "GET":
            self._send_json(200, fake.problems)
        elif path == "/_reset" and self.command == "POST":
            fake.reset()
            self._send_json(200, {"ok": True})
        elif path == "/_fail" and self.command == "POST":
            spec = json.loads(body or b"{}")
            fake.fail_next(
                spec["method"],
                n=int(spec.get("n", 1)),
                status=int(spec.get("status", 429)),
                retry_after=int(spec.get("retry_after", 1)),
                error=spec.get("error"),
            )
            self._send_json(200, {"ok": True})
        else:
            self._send_json(404, {"ok": False, "error": "not_found"})


class FakeSlack(ServedInThread):
    """Slack Web API fake on 127.0.0.1; see the module docstring for use in and out of process."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
        latency: float = 0.0,
        control_endpoints: bool = False,
    ) -> None:
        self.token = token
        self.scopes = tuple(scopes)
        self.latency = latency
        self.control_endpoints = control_endpoints
        self._address = (host, port)
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[SlackCall] = []
        self._problems: list[str] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._workspace = _Workspace()
        ServedInThread.__init__(self)
        self.root_url = ""

    # -- lifecycle ------------------------------------------------------------------------------------

    thread_name = "fake-slack"

    def _new_server(self) -> _Server:
        return _Server(self._address, self)

    def _on_started(self, host: str, port: int) -> None:
        self.root_url = f"http://{host}:{port}/"
        self._workspace.upload_base = f"{self.root_url}{UPLOAD_PREFIX.lstrip('/')}"

    @property
    def base_url(self) -> str:
        """What ``WebClient(base_url=...)`` wants: ends in /api/."""
        if not self.root_url:
            raise RuntimeError("FakeSlack is not started")
        return f"{self.root_url}api/"

    @property
    def port(self) -> int:
        return int(self.root_url.rsplit(":", 1)[1].rstrip("/"))

    # -- inspection -----------------------------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._cond:
            return [c for c in self._calls if c.method == method]

    @property
    def problems(self) -> list[str]:
        with self._cond:
            return list(self._problems)

    @property
    def messages(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Current messages by (channel, ts), after any chat.update."""
        with self._cond:
            return copy.deepcopy(self._workspace.messages)

    @property
    def channels(self) -> dict[str, dict[str, Any]]:
        with self._cond:
            return copy.deepcopy(self._workspace.channels)

    def members(self, channel: str) -> set[str]:
        with self._cond:
            return set(self._workspace.members.get(channel, set()))

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        with self._cond:
            return copy.deepcopy(self._workspace.views)

    @property
    def uploads(self) -> dict[str, Upload]:
        with self._cond:
            return copy.deepcopy(self._workspace.uploads)

    def post_as_user(self, channel: str, user: str, text: str) -> str:
        """A message a person wrote in a channel (not through the API); returns its ts."""
        with self._cond:
            ts = self._workspace.next_ts()
            self._workspace.messages[(channel, ts)] = {"type": "message", "user": user, "text": text, "ts": ts,
                                                       "team": TEAM_ID}
            return ts

    def add_user(self, user_id: str, **fields: Any) -> None:
        """Override what users.info returns for ``user_id`` (e.g. ``profile={"email": ...}``)."""
        with self._cond:
            self._workspace.users[user_id] = copy.deepcopy(fields)

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,
        predicate: Callable[[SlackCall], bool] | None = None,
    ) -> list[SlackCall]:
        """Block until ``count`` calls to ``method`` (matching ``predicate``) arrived; return all of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matching = [c for c in self._calls if c.method == method]
                if predicate is not None:
                    matching = [c for c in matching if predicate(c)]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = self._calls[-20:]
                    seen = ", ".join(f"{c.method}({c.error or c.status})" for c in recent) or "none"
                    matched = " matching the predicate" if predicate else ""
                    raise AssertionError(
                        f"expected {count} call(s) to {method}{matched} within {timeout}s, "
                        f"got {len(matching)}; last calls: {seen}; problems: {self._problems}"
                    )
                self._cond.wait(remaining)

    # -- control --------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls, problems, pending faults and all workspace state (channels, messages, views...)."""
        with self._cond:
            self._calls.clear()
            self._problems.clear()
            self._faults.clear()
            upload_base = self._workspace.upload_base
            self._workspace = _Workspace()
            self._workspace.upload_base = upload_base

    def fail_next(
        self,
        method: str,
        n: int = 1,
        status: int = 429,
        retry_after: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``n`` calls to ``method`` fail: HTTP 429 ``ratelimited`` with Retry-After (default),
        another HTTP status, or, when ``error`` is given, HTTP 200 ``{"ok": false, "error": error}``."""
        if method not in self._workspace.methods:
            known = sorted(self._workspace.methods)
            raise ValueError(f"FakeSlack does not implement {method!r}; known: {known}")
        with self._cond:
            self._faults.setdefault(method, []).append(_Fault(n, status, retry_after, error))

    # -- request handling (called from server threads) -----------------------------------------------

    def _add_problem(self, problem: str) -> None:
        with self._cond:
            self._problems.append(problem)

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault

    def _handle_api(
        self, method: str, headers: dict[str, str], query: str, body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        received_at = time.time()
        status, out_headers = 200, {"X-Slack-Req-Id": f"fake-{received_at:.6f}"}
        with self._cond:
            request: _Request | None = None
            failure: _SlackFailure | None = None
            try:
                request = parse_request(headers, query, body)
            except _SlackFailure as exc:
                failure = exc
            fault = self._take_fault(method)  # Slack throttles before it looks at the request
            if fault is not None:
                status, fault_headers, response = fault.answer()
                out_headers.update(fault_headers)
            else:
                if request is not None:
                    try:
                        response = self._call(method, request, out_headers)
                    except _SlackFailure as exc:
                        failure = exc
                if failure is not None:
                    response = failure.body()
                    if failure.problem:
                        self._problems.append(failure.describe(method))
            if request is not None and request.warnings and fault is None:
                response["warning"] = ",".join(request.warnings)
                response.setdefault("response_metadata", {})["warnings"] = list(request.warnings)
            params = request.params if request is not None else {}
            call = SlackCall(method, params, dict(headers), received_at, status, copy.deepcopy(response))
            self._calls.append(call)
            self._cond.notify_all()
        return status, out_headers, response

    def _call(self, method: str, request: _Request, out_headers: dict[str, str]) -> dict[str, Any]:
        handler = self._workspace.methods.get(method)
        if handler is None:
            raise _SlackFailure("unknown_method", f"{method!r} is not a Web API method this fake implements")
        if request.token is None:
            hint = "no token in Authorization header or token field"
            if request.token_in_json:
                hint = "a token in a JSON body is ignored; send Authorization: Bearer"
            raise _SlackFailure("not_authed", hint)
        if request.token != self.token:
            raise _SlackFailure("invalid_auth", "token does not match FakeSlack.token")
        needed = _NEEDED_SCOPES.get(method, ())
        out_headers["X-OAuth-Scopes"] = ",".join(self.scopes)
        out_headers["X-Accepted-OAuth-Scopes"] = ",".join(needed)
        if needed and not set(needed) & set(self.scopes):
            extra = {"needed": needed[0], "provided": ",".join(self.scopes)}
            raise _SlackFailure("missing_scope", f"needs {needed[0]}", extra=extra)
        return handler(_Params(request.params))

    def _handle_upload(self, file_id: str, body: bytes) -> tuple[int, str]:
        with self._cond:
            upload = self._workspace.uploads.get(file_id)
            if upload is None:
                self._problems.append(f"upload: POST to an upload URL that was never issued ({file_id})")
                return 404, "Not Found"
            if len(body) != upload.length:
                declared = upload.length
                self._problems.append(f"upload: {file_id} got {len(body)} bytes, declared length {declared}")
            upload.data = body
        return 200, f"OK - {len(body)}"


# ---------------------------------------------------------------------------------------------------------
# Out-of-process mode
# ---------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; the first stdout line is the base URL for WebClient(base_url=...)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.slack_api", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (read it from stdout)")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each API answer")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    fake = FakeSlack(args.token, host=args.host, port=args.port, latency=args.latency, control_endpoints=True)
    with fake:
        print(fake.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
