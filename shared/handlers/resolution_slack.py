"""Slack requests of resolution work: notes, emergency changes, review held, the RCA editor, the message shortcut.

functions/slack.py hands every verified request here first; None means "not ours". Changes are written
at once (one Firestore transaction) so the answer can say they are done. Idempotency: a note from the
message shortcut is claimed per (incident, channel, message ts), so Slack's retries add it once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import flask

from shared import bootstrap
from shared.adapters import slack_requests as sr
from shared.adapters import slack_resolution as views
from shared.config.loader import current_policy
from shared.domain import rca as rca_domain
from shared.domain import resolution
from shared.domain.actions import Refused, actor_label
from shared.domain.commands import Actor
from shared.domain.review import rca_id_for
from shared.handlers import review as review_handler
from shared.log import get_logger
from shared.web import json_response

log = get_logger("slack")
NOTE_LEASE = timedelta(minutes=1)


def slash(form: dict[str, str]) -> flask.Response | None:
    request = views.parse_slash(form.get("text", ""))
    if request is None:
        return None
    if request.problem:
        return _ephemeral(f"{request.problem}\n\n{views.USAGE}")
    actor = sr.slash_actor(form)
    policy = current_policy()
    who = actor_label(policy, actor)
    if request.verb == "rca":
        rca_id = request.incident_id if request.incident_id.startswith("RCA-") else rca_id_for(request.incident_id)
        rca = bootstrap.resolution_store().get_rca(rca_id)
        if rca is None:
            return _ephemeral(f"No RCA {rca_id} yet: it opens when a critical or high incident is resolved.")
        return json_response({"response_type": "ephemeral", "text": f"Edit {rca.id}",
                              "blocks": views.rca_editor(rca)})
    decide = {
        "note": lambda incident, now: resolution.note(incident, who, "slack", request.text, now,
                                                      {"slack_user": actor.id}),
        "change": lambda incident, now: resolution.emergency_change(policy, incident, who, "slack", request.text,
                                                                    now),
        "review": lambda incident, now: resolution.hold_review(incident, who, "marked", now, request.text),
    }[request.verb]
    problem = _change(request.incident_id, decide)
    if problem:
        return _ephemeral(problem)
    done = {"note": "Added to the timeline of", "change": "Emergency change recorded on (stakeholder review "
            "reminder in 24 h)", "review": "Post-incident review marked held for"}[request.verb]
    return _ephemeral(f"{done} {request.incident_id}.")


def interaction(payload: dict[str, Any], open_view) -> flask.Response | None:
    """`open_view(trigger_id, view)` is the slack function's views.open (502 when Slack refuses)."""
    kind = payload.get("type")
    if kind == "message_action" and payload.get("callback_id") == views.SHORTCUT_CALLBACK:
        return shortcut(payload, open_view)
    if kind == "block_actions":
        actions = payload.get("actions") or []
        if actions and isinstance(actions[0], dict) and actions[0].get("action_id") == views.RCA_EDIT_ACTION:
            return edit_button(payload, actions[0], open_view)
        return None
    if kind == "view_submission":
        view = sr.submitted_view(payload)
        if view.get("callback_id") == views.RCA_SECTION_CALLBACK:
            return section_submitted(payload, view)
        if view.get("callback_id") == views.TIMELINE_ADD_CALLBACK:
            return timeline_submitted(payload, view)
    return None


def shortcut(payload: dict[str, Any], open_view) -> flask.Response:
    """Open the 'add to timeline' modal, with the incident found from the channel or the thread."""
    sr.actor_of(payload)
    channel = (payload.get("channel") or {}).get("id") or ""
    message = payload.get("message") or {}
    ts, text = message.get("ts") or "", message.get("text") or ""
    if not channel or not ts:
        raise sr.SlackRequestError("a message shortcut carries channel.id and message.ts", "message")
    incident_id = bootstrap.resolution_store().incident_of_channel(channel, message.get("thread_ts") or ts)
    trigger_id = payload.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        raise sr.SlackRequestError("the shortcut needs a trigger_id to open the modal", "trigger_id")
    open_view(trigger_id, views.timeline_modal(incident_id, text, channel, ts))
    return flask.Response(b"", status=200)


def timeline_submitted(payload: dict[str, Any], view: dict[str, Any]) -> flask.Response:
    actor = sr.actor_of(payload)
    values = views.submitted_values(view)
    incident_id = (values.get("incident") or "").strip().upper()
    text = (values.get("text") or "").strip()
    if not views.INCIDENT_ID.match(incident_id):
        return _errors({"incident": "An incident id like INC-2026-0042."})
    if not text:
        return _errors({"text": "The message is empty."})
    channel, _, ts = str(view.get("private_metadata") or "").partition("|")
    key = f"slack-note:{incident_id}:{channel}:{ts}"
    now = datetime.now(UTC)
    store = bootstrap.store()
    if not store.claim(key, now, NOTE_LEASE):
        return json_response({"response_action": "clear"})  # Slack retried: added already
    who = actor_label(current_policy(), actor)
    problem = _change(incident_id, lambda incident, at: resolution.note(
        incident, who, "slack", text, at, {"channel": channel, "ts": ts, "slack_user": actor.id}))
    if problem:
        store.release_claim(key)
        return _errors({"incident": problem})
    store.complete_claim(key, {"incident_id": incident_id})
    return json_response({"response_action": "clear"})


TIMELINE_REACTIONS = frozenset({"pushpin", "round_pushpin", "memo"})


def event(payload: dict[str, Any]) -> flask.Response:
    """Slack's Events API: the URL check, and a 📌 / 📝 reaction on a message in an incident's channel, which
    adds that message to the timeline once (the same claim as the message shortcut; Slack retries events)."""
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            raise sr.SlackRequestError("url_verification carries a challenge", "challenge")
        return json_response({"challenge": challenge})
    data = payload.get("event")
    if kind != "event_callback" or not isinstance(data, dict) or data.get("type") != "reaction_added":
        return json_response({"ignored": "not a reaction"})
    item = data.get("item") if isinstance(data.get("item"), dict) else {}
    if data.get("reaction") not in TIMELINE_REACTIONS or item.get("type") != "message":
        return json_response({"ignored": f"reaction {str(data.get('reaction'))[:40]!r} does not add to the timeline"})
    channel, ts, user = item.get("channel"), item.get("ts"), data.get("user")
    if not isinstance(channel, str) or not sr.SLACK_CHANNEL_ID.match(channel):
        raise sr.SlackRequestError("reaction_added carries item.channel, a channel id", "event.item.channel")
    if not isinstance(ts, str) or not sr.SLACK_TS.match(ts):
        raise sr.SlackRequestError("reaction_added carries item.ts, a message ts", "event.item.ts")
    incident_id = bootstrap.resolution_store().incident_of_channel(channel, None)
    if incident_id is None:
        return json_response({"ignored": "not an incident channel"})
    store, now = bootstrap.store(), datetime.now(UTC)
    key = f"slack-note:{incident_id}:{channel}:{ts}"
    if not store.claim(key, now, NOTE_LEASE):
        return json_response({"ignored": "added already"})
    try:
        message = bootstrap.chat().message(channel, ts)
    except Exception:
        store.release_claim(key)
        raise
    if not message or not str(message.get("text") or "").strip():
        store.release_claim(key)
        return json_response({"ignored": "the message cannot be read"})
    author = str(message.get("user") or user or "")
    policy = current_policy()
    who = actor_label(policy, Actor(kind="slack", id=author)) if author else "someone in Slack"
    problem = _change(incident_id, lambda incident, at: resolution.note(
        incident, who, "slack", str(message["text"]), at,
        {"channel": channel, "ts": ts, "slack_user": author, "added_by": user, "reaction": data["reaction"]}))
    if problem:
        store.release_claim(key)
        return json_response({"ignored": problem})
    store.complete_claim(key, {"incident_id": incident_id})
    return json_response({"added": incident_id})


def edit_button(payload: dict[str, Any], action: dict[str, Any], open_view) -> flask.Response:
    sr.actor_of(payload)
    rca_id, _, section = str(action.get("value") or "").partition("|")
    if section not in rca_domain.SECTIONS or not views.RCA_ID.match(rca_id):
        raise sr.SlackRequestError(f"rca_edit value {action.get('value')!r} is not <RCA id>|<section>",
                                   "actions.0.value")
    rca = bootstrap.resolution_store().get_rca(rca_id)
    if rca is None:
        raise sr.SlackRequestError(f"no RCA {rca_id}", "actions.0.value")
    trigger_id = payload.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        raise sr.SlackRequestError("editing needs a trigger_id to open the modal", "trigger_id")
    open_view(trigger_id, views.section_modal(rca, section))
    return flask.Response(b"", status=200)


def section_submitted(payload: dict[str, Any], view: dict[str, Any]) -> flask.Response:
    actor = sr.actor_of(payload)
    rca_id, _, section = str(view.get("private_metadata") or "").partition("|")
    if section not in rca_domain.SECTIONS:
        raise sr.SlackRequestError("the RCA modal's private_metadata is not <RCA id>|<section>", "private_metadata")
    text = views.submitted_values(view).get("text", "")
    who = actor_label(current_policy(), actor)
    now = datetime.now(UTC)
    try:
        bootstrap.resolution_store().change_rca(rca_id, lambda rca: rca_domain.edit(
            rca, by=who, now=now, sections={section: text}))
    except LookupError:
        return _errors({"text": f"No RCA {rca_id} any more."})
    except rca_domain.TransitionRefused as exc:
        return _errors({"text": str(exc)})
    log.info("rca section edited from slack", extra={"rca_id": rca_id, "section": section, "actor": actor.id})
    return json_response({"response_action": "clear"})


def _change(incident_id: str, decide) -> str | None:
    """Apply a step; the problem in words, or None when done."""
    now = datetime.now(UTC)
    try:
        review_handler.change(incident_id, lambda incident: decide(incident, now), policy=current_policy(),
                              store=bootstrap.store(), rcas=bootstrap.resolution_store(),
                              publisher=bootstrap.publisher(), chat=bootstrap.chat(),
                              scheduler=bootstrap.scheduler(), now=now)
    except LookupError:
        return f"No incident {incident_id}."
    except Refused as exc:
        return f"Not recorded: {exc}."
    return None


def _ephemeral(text: str) -> flask.Response:
    return json_response(sr.ephemeral(text))


def _errors(errors: dict[str, str]) -> flask.Response:
    return json_response({"response_action": "errors", "errors": errors})

