"""Inbound Slack requests: signature check, form and payload parsing, and payloads into Commands.

Pure helpers (no I/O, the clock is passed in) so every payload kind is testable without HTTP.
Where the incident id comes from, and every block/action id, is documented in slack_views.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from slack_sdk.signature import Clock, SignatureVerifier

from shared.adapters import slack_views as views
from shared.api_models import ManualReport
from shared.config.policy import Policy
from shared.domain.commands import Action, Actor, Command
from shared.domain.model import Severity

MAX_SIGNATURE_AGE_SECONDS = 300  # what SignatureVerifier enforces
MAX_FORM_FIELDS = 100

INCIDENT_ID = re.compile(r"^INC-\d{4}-\d{4,}$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
SLACK_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_ACTION_TS = re.compile(r"^\d{1,12}(\.\d{1,9})?$")


class SignatureError(ValueError):
    """The request is not provably from Slack. `reason` says why (for the log, never a secret)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SlackRequestError(ValueError):
    """A signed request we cannot make sense of (answered with a 400)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# ---- signature --------------------------------------------------------------------------------


class _FixedClock(Clock):
    def __init__(self, now: float):
        self._now = now

    def now(self) -> float:
        return self._now


def verify_signature(secret: str | None, body: bytes, headers: Mapping[str, str], *,
                     now: float | None = None) -> None:
    """Raise SignatureError unless `body` carries Slack's v0 signature, made within 5 minutes.

    slack_sdk's SignatureVerifier does the HMAC (constant-time) and the replay window; this only adds
    the reasons and refuses what would make it raise (a non-numeric timestamp, a non-UTF-8 body).
    With no secret configured nothing is accepted.
    """
    if not secret or not secret.strip():
        raise SignatureError("SLACK_SIGNING_SECRET is not configured")
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp")
    signature = lowered.get("x-slack-signature")
    if not timestamp or not signature:
        raise SignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    timestamp = timestamp.strip()
    if not _TIMESTAMP.match(timestamp):
        raise SignatureError("X-Slack-Request-Timestamp is not a Unix time")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("the body is not UTF-8, so it cannot carry a Slack signature") from None
    clock = _FixedClock(time.time() if now is None else now)
    if SignatureVerifier(secret, clock).is_valid(body=body, timestamp=timestamp, signature=signature.strip()):
        return
    age = clock.now() - int(timestamp)
    if abs(age) > MAX_SIGNATURE_AGE_SECONDS:
        raise SignatureError(f"the request timestamp is {int(age)} s away from now; the limit is "
                             f"{MAX_SIGNATURE_AGE_SECONDS} s (a replayed request?)")
    raise SignatureError("the signature does not match the body")


# ---- forms and payloads -----------------------------------------------------------------------


def parse_form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as a dict (a field given twice is an error)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                          max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise SlackRequestError("the form body is not valid UTF-8") from None
    except ValueError as exc:
        raise SlackRequestError(f"the body is not a URL-encoded form: {exc}") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise SlackRequestError(f"form field {key!r} is given more than once", key)
        form[key] = value
    return form


def interaction_payload(form: Mapping[str, str]) -> dict[str, Any]:
    """The JSON object in the `payload` field of an interactivity request."""
    raw = form.get("payload")
    if not raw:
        raise SlackRequestError("an interaction carries a `payload` form field", "payload")
    try:
        payload = json.loads(raw)
    except RecursionError:
        raise SlackRequestError("payload is nested too deeply", "payload") from None
    except ValueError as exc:
        raise SlackRequestError(f"payload is not JSON: {exc}", "payload") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise SlackRequestError("payload is not an object with a `type`", "payload")
    return payload


# ---- what an interaction asks for -------------------------------------------------------------


@dataclass(frozen=True)
class Publish:
    """Hand the command to the `commands` topic."""

    command: Command


@dataclass(frozen=True)
class OpenResolveModal:
    trigger_id: str
    incident_id: str


@dataclass(frozen=True)
class Ignored:
    """Nothing to do (an action we do not handle); still acknowledged with 200."""

    reason: str


@dataclass(frozen=True)
class ViewErrors:
    """Answer a view_submission with `response_action: errors` (block_id -> message)."""

    errors: dict[str, str]

    def response(self) -> dict[str, Any]:
        return {"response_action": "errors", "errors": self.errors}


@dataclass(frozen=True)
class Declare:
    report: ManualReport
    idempotency_key: str


def actor_of(payload: Mapping[str, Any]) -> Actor:
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not SLACK_USER_ID.match(user_id):
        raise SlackRequestError("payload.user.id is not a Slack user id", "user.id")
    name = user.get("name") or user.get("username")
    return Actor(kind="slack", id=user_id, name=name if isinstance(name, str) and name else None)


def incident_id_of(action: Mapping[str, Any]) -> str:
    """From the block_id `incident_actions:<id>` or, for buttons, the value; both must agree."""
    block_id = action.get("block_id")
    from_block = None
    if isinstance(block_id, str) and block_id.startswith(views.ACTIONS_BLOCK_PREFIX):
        from_block = block_id[len(views.ACTIONS_BLOCK_PREFIX):]
    from_value = action.get("value") if action.get("type") == "button" else None
    if from_block and from_value and from_block != from_value:
        raise SlackRequestError(f"block_id names {from_block} but the button's value {from_value}", "block_id")
    found = from_block or from_value
    if not isinstance(found, str) or not INCIDENT_ID.match(found):
        raise SlackRequestError(f"no incident id in action {action.get('action_id')!r} (expected block_id "
                                f"'{views.ACTIONS_BLOCK_PREFIX}INC-YYYY-NNNN' or a button value)", "block_id")
    return found


def block_action(payload: Mapping[str, Any]) -> Publish | OpenResolveModal | Ignored:
    """The first (in practice the only) action of a block_actions payload."""
    actor = actor_of(payload)
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise SlackRequestError("block_actions carries no actions", "actions")
    action = actions[0]
    action_id = action.get("action_id")
    known = (views.ACTION_ACK, views.ACTION_RESOLVE, views.ACTION_ASSIGN, views.ACTION_SEVERITY,
             views.ACTION_ESCALATE)
    if action_id not in known:
        return Ignored(f"action {action_id!r} is not ours")
    incident_id = incident_id_of(action)
    if action_id == views.ACTION_RESOLVE:
        trigger_id = payload.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise SlackRequestError("resolve needs a trigger_id to open the modal", "trigger_id")
        return OpenResolveModal(trigger_id, incident_id)
    action_ts = action.get("action_ts")
    if not isinstance(action_ts, str) or not _ACTION_TS.match(action_ts):
        raise SlackRequestError("the action has no action_ts", "actions.0.action_ts")
    fields: dict[str, Any] = {}
    if action_id == views.ACTION_ACK:
        fields["action"] = Action.ACKNOWLEDGE
    elif action_id == views.ACTION_ESCALATE:
        fields["action"] = Action.ESCALATE
    elif action_id == views.ACTION_ASSIGN:
        owner = action.get("selected_user")
        if not isinstance(owner, str) or not SLACK_USER_ID.match(owner):
            raise SlackRequestError("assign needs selected_user (a Slack user id)", "actions.0.selected_user")
        fields.update(action=Action.ASSIGN, owner=owner)
    else:
        option = action.get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        if value not in [s.value for s in Severity]:
            raise SlackRequestError(f"severity option value {value!r} is not a level "
                                    f"({', '.join(s.value for s in Severity)})", "actions.0.selected_option")
        fields.update(action=Action.SEVERITY, severity=Severity(value))
    # Slack resends the same payload when it gets no answer in time: same action_ts, same command_id.
    return Publish(Command(command_id=f"slack:{action_ts}:{actor.id}", incident_id=incident_id, actor=actor,
                           at=datetime.fromtimestamp(float(action_ts), UTC), **fields))


def submitted_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    view = payload.get("view")
    if not isinstance(view, dict) or not isinstance(view.get("id"), str) or not view["id"]:
        raise SlackRequestError("view_submission carries no view with an id", "view")
    return view


def state_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    """The text typed, or the value of the option chosen, in one input of a submitted view."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get(action_id) if isinstance(block, dict) else None
    if not isinstance(element, dict):
        return None
    if "selected_option" in element:
        option = element["selected_option"]
        value = option.get("value") if isinstance(option, dict) else None
    else:
        value = element.get("value")
    return value if isinstance(value, str) else None


def resolve_submission(payload: Mapping[str, Any], now: datetime) -> Publish | ViewErrors:
    actor = actor_of(payload)
    view = submitted_view(payload)
    incident_id = view.get("private_metadata")
    if not isinstance(incident_id, str) or not INCIDENT_ID.match(incident_id):
        raise SlackRequestError("the resolve modal's private_metadata is not an incident id", "private_metadata")
    summary = (state_value(view, views.RESOLVE_BLOCK, views.RESOLVE_ACTION) or "").strip()
    if not summary:
        return ViewErrors({views.RESOLVE_BLOCK: "Write what was wrong and what fixed it."})
    if len(summary) > views.SUMMARY_MAX:
        return ViewErrors({views.RESOLVE_BLOCK: f"Keep it under {views.SUMMARY_MAX} characters."})
    return Publish(Command(command_id=f"slack:{view['id']}", incident_id=incident_id, action=Action.RESOLVE,
                           actor=actor, at=now, summary=summary))


_REPORT_FIELD_MESSAGES = {
    "title": f"Give a title of {views.TITLE_MIN} to {views.TITLE_MAX} characters.",
    "description": "The description is too long.",
    "severity": "Choose one of the severity levels.",
    "type": "Choose one of the incident types.",
    "service": f"Keep the service name under {views.SERVICE_MAX} characters.",
}


def declare_submission(payload: Mapping[str, Any], policy: Policy) -> Declare | ViewErrors:
    """The declare modal into a ManualReport; what is wrong comes back against its input block."""
    actor = actor_of(payload)
    view = submitted_view(payload)
    fields = {name: (state_value(view, name, views.DECLARE_VALUE_ACTION) or "").strip()
              for name in views.DECLARE_BLOCKS}
    errors: dict[str, str] = {}
    if fields["type"] and fields["type"] not in policy.incident_types:
        errors["type"] = _REPORT_FIELD_MESSAGES["type"]
    if fields["severity"] and fields["severity"] not in [s.value for s in Severity]:
        errors["severity"] = _REPORT_FIELD_MESSAGES["severity"]
    try:
        report = ManualReport(title=fields["title"], description=fields["description"],
                              severity=fields["severity"] or None, type=fields["type"] or None,
                              service=fields["service"] or None, reporter=actor.id)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "title"
            block = name if name in _REPORT_FIELD_MESSAGES else "title"
            errors.setdefault(block, _REPORT_FIELD_MESSAGES.get(name, err["msg"]))
        return ViewErrors(errors)
    if errors:
        return ViewErrors(errors)
    # The view id is the same when Slack resends a submission: one incident, however often it arrives.
    return Declare(report, idempotency_key=f"slack:{view['id']}")


# ---- slash commands ---------------------------------------------------------------------------

USAGE = (
    "*/incident* — manage incidents from Slack\n"
    "• `/incident declare` — open the form to declare an incident\n"
    "• `/incident status INC-2026-0042` — title, severity, status, owner and alerts\n"
    "• `/incident list` — open and acknowledged incidents\n"
    "• `/incident ack INC-2026-0042` — acknowledge (stops the escalation)\n"
    "• `/incident resolve INC-2026-0042 <summary>` — resolve with a summary of what fixed it\n"
    "• `/incident certin INC-2026-0042 reportable 3 <reason>` or `... not <reason>` — record the CERT-In "
    "reportability assessment (type 1-20 of Annexure I)\n"
    "• `/incident update INC-2026-0042 <text>` — update the partner (a reply on their Freshdesk ticket)\n"
    "• `/incident followup INC-2026-0042 <action>` — a follow-up action (prevention measure), tracked in Plane\n"
    "• `/incident note|change|review|rca INC-2026-0042 ...` — timeline notes, emergency changes, the "
    "post-incident review and the RCA (see `/incident note` for details)\n"
    "• `/incident help` — this text"
)

_VERBS = {"declare": "declare", "new": "declare", "status": "status", "show": "status", "list": "list",
          "ls": "list", "ack": "ack", "acknowledge": "ack", "resolve": "resolve", "help": "help",
          "certin": "certin", "cert-in": "certin", "update": "update", "followup": "followup",
          "follow-up": "followup"}
_NEEDS_ID = ("status", "ack", "resolve", "certin", "update", "followup")


@dataclass(frozen=True)
class Slash:
    """A parsed `/incident` text. `problem` set means: answer it, with the usage, and do nothing."""

    verb: str
    incident_id: str | None = None
    rest: str = ""
    problem: str | None = None


def parse_slash_text(text: str) -> Slash:
    words = (text or "").split(maxsplit=2)
    if not words:
        return Slash("help")
    verb = _VERBS.get(words[0].lower())
    if verb is None:
        return Slash("help", problem=f"Unknown subcommand `{_clip(words[0], 40)}`.")
    if verb not in _NEEDS_ID:
        return Slash(verb)
    if len(words) < 2:
        return Slash(verb, problem=f"`{verb}` needs an incident id, e.g. `/incident {verb} INC-2026-0042`.")
    incident_id = words[1].upper()
    if not INCIDENT_ID.match(incident_id):
        return Slash(verb, problem=f"`{_clip(words[1], 40)}` is not an incident id (like INC-2026-0042).")
    rest = words[2].strip() if len(words) > 2 else ""
    if verb == "resolve" and not rest:
        return Slash(verb, incident_id, problem="`resolve` needs a summary: "
                                                f"`/incident resolve {incident_id} what fixed it`.")
    if verb in ("update", "followup") and len(rest) < 3:
        what = "the update the partner will read" if verb == "update" else "the follow-up action"
        return Slash(verb, incident_id, problem=f"`{verb}` needs {what}: `/incident {verb} {incident_id} <text>`.")
    if verb == "resolve" and len(rest) > views.SUMMARY_MAX:
        return Slash(verb, incident_id, problem=f"Keep the summary under {views.SUMMARY_MAX} characters.")
    return Slash(verb, incident_id, rest)


def parse_assessment(rest: str) -> tuple[bool, int | None, str]:
    """`reportable [type] <reason>` or `not <reason>`, as the SRE types it after `/incident certin INC-…`."""
    words = rest.split(maxsplit=1)
    if not words or words[0].lower() not in ("reportable", "yes", "not", "no"):
        raise ValueError("say `reportable <type 1-20> <reason>` or `not <reason>`")
    reportable = words[0].lower() in ("reportable", "yes")
    tail = words[1] if len(words) > 1 else ""
    type_id = None
    if reportable and tail.split(maxsplit=1) and tail.split(maxsplit=1)[0].isdigit():
        first, _, tail = tail.partition(" ")
        type_id = int(first)
        if not 1 <= type_id <= 20:
            raise ValueError("the CERT-In type is a number from 1 to 20 (Annexure I)")
    if len(tail.strip()) < 3:
        raise ValueError("give the reason for the decision")
    return reportable, type_id, tail.strip()


def slash_actor(form: Mapping[str, str]) -> Actor:
    user_id = form.get("user_id", "")
    if not SLACK_USER_ID.match(user_id):
        raise SlackRequestError("a slash command carries user_id (a Slack user id)", "user_id")
    return Actor(kind="slack", id=user_id, name=form.get("user_name") or None)


def slash_command(slash: Slash, form: Mapping[str, str], now: datetime) -> Command:
    """`ack`/`resolve` as a Command; the trigger_id (unique per invocation) makes the command_id."""
    if slash.verb not in ("ack", "resolve") or slash.incident_id is None or slash.problem:
        raise ValueError(f"not a command: {slash}")
    trigger = form.get("trigger_id") or hashlib.sha256(
        json.dumps(sorted(form.items())).encode()).hexdigest()[:32]
    action = Action.ACKNOWLEDGE if slash.verb == "ack" else Action.RESOLVE
    return Command(command_id=_clip(f"slack:{trigger}", 200), incident_id=slash.incident_id, action=action,
                   actor=slash_actor(form), at=now, summary=slash.rest if action is Action.RESOLVE else None)


def ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- public status page updates from Slack ---------------------------------------------------------

_VERBS |= {"status-update": "status-update", "statusupdate": "status-update", "public": "status-update"}
_NEEDS_ID += ("status-update",)
USAGE += ("\n• `/incident status-update INC-2026-0042 [investigating|identified|monitoring|resolved] <text>` — "
          "publish your words on the public status page (nothing internal is ever copied there)")


def parse_status_update(rest: str) -> tuple[str, str]:
    """`[status] <public text>` after `/incident status-update INC-…`; the status defaults to investigating."""
    words = rest.split(maxsplit=1)
    statuses = ("investigating", "identified", "monitoring", "resolved")
    status = "investigating"
    if words and words[0].lower() in statuses:
        status, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
    text = rest.strip()
    if len(text) < 3:
        raise ValueError("write the public text after the status, e.g. "
                         "`/incident status-update INC-2026-0042 identified We found the cause`")
    if len(text) > 5000:
        raise ValueError("keep the public text under 5000 characters")
    return status, text
