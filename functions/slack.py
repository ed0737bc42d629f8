"""`slack` (HTTP, public): Slack interactivity (`/interactions`) and the `/incident` slash command (`/commands`).

Every request is checked against Slack's signing secret first (401 otherwise; no secret configured means
nothing gets in). Work is handed to the `commands` topic, confirmed, before Slack gets its 200; a failed
publish answers 503 so the person sees an error instead of a click that silently did nothing. Slack wants
an answer within 3 s: the only slow calls here are one Firestore read (status, list, ack, resolve),
views.open, and creating a declared incident.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import flask

from shared import bootstrap
from shared.adapters import slack_partner
from shared.adapters import slack_requests as sr
from shared.adapters import slack_views as views
from shared.config.loader import current_policy
from shared.domain.actions import Refused, actor_label, cert_in_assess
from shared.domain.commands import Command
from shared.domain.followups import FollowUpRequest
from shared.domain.incident import IncidentStatus
from shared.handlers import certin as certin_handler
from shared.handlers import followups, partner_updates, resolution_slack
from shared.handlers.reports import NotAnnounced, UnknownType, report_incident
from shared.log import get_logger
from shared.messages import encode
from shared.settings import settings
from shared.topology import TOPIC_COMMANDS
from shared.web import HttpError, guarded, json_response, parse_json, read_body

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.models.views import View

log = get_logger("slack")

FORM = "application/x-www-form-urlencoded"
VIEWS_OPEN_TIMEOUT = 2.5  # a trigger_id is good for 3 s
LIST_LIMIT = 20


@guarded
def slack(request: flask.Request) -> flask.Response:
    body = read_body(request)
    try:
        sr.verify_signature(settings().slack_signing_secret, body, request.headers)
    except sr.SignatureError as exc:
        raise HttpError(401, "invalid_signature", exc.reason) from None
    path = request.path.rstrip("/") or "/"
    if path not in ("/interactions", "/commands", "/events"):
        raise HttpError(404, "not_found", f"no route {path}; Slack posts to /interactions, /commands and /events")
    if request.method != "POST":
        raise HttpError(405, "method_not_allowed", "Slack requests are POSTs")
    if path == "/events":  # the Events API (reactions that add a message to the timeline) sends JSON
        if (request.mimetype or "").lower() != "application/json":
            raise HttpError(415, "unsupported_media_type", "the Events API sends application/json")
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise HttpError(400, "invalid_payload", "an Events API body is a JSON object")
        try:
            return resolution_slack.event(payload)
        except sr.SlackRequestError as exc:
            raise HttpError(400, "invalid_payload", exc.message, field=exc.field) from None
    if (request.mimetype or "").lower() != FORM:
        raise HttpError(415, "unsupported_media_type", f"Slack sends {FORM}")
    try:
        form = sr.parse_form(body)
        if path == "/interactions":
            return interaction(sr.interaction_payload(form))
        return slash_command(form)
    except sr.SlackRequestError as exc:
        raise HttpError(400, "invalid_payload", exc.message, field=exc.field) from None


# ---- interactivity ----------------------------------------------------------------------------


def interaction(payload: dict[str, Any]) -> flask.Response:
    if (answer := resolution_slack.interaction(payload, open_view)) is not None:  # RCA editor, timeline shortcut
        return answer
    kind = payload["type"]
    if kind == "block_actions":
        opened = slack_partner.opened_for(payload)
        if opened is not None:
            return open_partner_update(*opened)
        outcome = sr.block_action(payload)
        if isinstance(outcome, sr.Publish):
            publish(outcome.command)
        elif isinstance(outcome, sr.OpenResolveModal):
            open_view(outcome.trigger_id, views.resolve_modal(outcome.incident_id))
        else:
            log.info("slack action ignored", extra={"reason": outcome.reason})
        return empty()
    if kind == "view_submission":
        view = sr.submitted_view(payload)
        callback = view.get("callback_id")
        if callback == views.RESOLVE_CALLBACK:
            return resolve_submitted(payload)
        if callback == views.DECLARE_CALLBACK:
            return declare_submitted(payload)
        if callback == slack_partner.CALLBACK:
            return partner_update_submitted(payload)
        raise sr.SlackRequestError(f"no modal of ours has callback_id {callback!r}", "view.callback_id")
    log.info("slack interaction ignored", extra={"interaction_type": kind})  # view_closed, shortcuts, ...
    return empty()


def resolve_submitted(payload: dict[str, Any]) -> flask.Response:
    outcome = sr.resolve_submission(payload, datetime.now(UTC))
    if isinstance(outcome, sr.ViewErrors):
        return json_response(outcome.response())
    publish(outcome.command)
    return empty()  # closes the modal


def declare_submitted(payload: dict[str, Any]) -> flask.Response:
    policy = current_policy()
    outcome = sr.declare_submission(payload, policy)
    if isinstance(outcome, sr.ViewErrors):
        return json_response(outcome.response())
    try:
        incident_id = report_incident(outcome.report, idempotency_key=outcome.idempotency_key, policy=policy,
                                      store=bootstrap.store(), publisher=bootstrap.publisher(),
                                      now=datetime.now(UTC))
    except UnknownType:
        return json_response(sr.ViewErrors({"type": "Choose one of the incident types."}).response())
    except NotAnnounced as exc:
        # Submitting again (same view id, same idempotency key) publishes what waits in the outbox.
        raise HttpError(503, "publish_failed", f"{exc.incident_id} is recorded but nobody is paged yet",
                        headers={"Retry-After": "5"}) from None
    log.info("incident declared from slack", extra={"incident_id": incident_id,
                                                     "reporter": outcome.report.reporter})
    return json_response({"response_action": "clear"})


# ---- slash command ----------------------------------------------------------------------------


def slash_command(form: dict[str, str]) -> flask.Response:
    sr.slash_actor(form)  # a user_id that is a Slack user id, or a 400
    if (answer := resolution_slack.slash(form)) is not None:  # note, change, review, rca
        return answer
    slash = sr.parse_slash_text(form.get("text", ""))
    if slash.problem:
        return ephemeral(f"{slash.problem}\n\n{sr.USAGE}")
    if slash.verb == "declare":
        trigger_id = form.get("trigger_id")
        if not trigger_id:
            raise sr.SlackRequestError("declare needs a trigger_id to open the form", "trigger_id")
        try:
            open_view(trigger_id, views.declare_modal(current_policy()))
        except HttpError as exc:
            return ephemeral(f"Could not open the declare form ({exc.detail or exc.error}). Try again.")
        return empty()
    if slash.verb == "status":
        return status(slash.incident_id or "")
    if slash.verb == "list":
        return list_open()
    if slash.verb in ("ack", "resolve"):
        return act(slash, form)
    if slash.verb == "certin":
        return assess_cert_in(slash, form)
    if slash.verb == "update":
        return update_partner(slash.incident_id or "", sr.slash_actor(form), slash.rest)
    if slash.verb == "followup":
        return add_follow_up(slash.incident_id or "", sr.slash_actor(form), slash.rest)
    if slash.verb == "status-update":
        return publish_status_update(slash, form)
    return ephemeral(sr.USAGE)


# ---- partners ---------------------------------------------------------------------------------


def open_partner_update(trigger_id: str, incident_id: str) -> flask.Response:
    incident = bootstrap.store().get_incident(incident_id)
    if incident is None:
        return empty()
    open_view(trigger_id, slack_partner.modal(incident))
    return empty()


def partner_update_submitted(payload: dict[str, Any]) -> flask.Response:
    outcome = slack_partner.submission(payload)
    if isinstance(outcome, sr.ViewErrors):
        return json_response(outcome.response())
    answer = _partner_update(outcome.incident_id, outcome.actor, outcome.text)
    if answer is not None:
        return json_response(sr.ViewErrors({slack_partner.BLOCK: answer}).response())
    return empty()


def update_partner(incident_id: str, actor, text: str) -> flask.Response:
    problem = _partner_update(incident_id, actor, text)
    return ephemeral(problem or f"Sent to the partner of {incident_id}; the next reminder moves on a full interval.")


def _partner_update(incident_id: str, actor, text: str) -> str | None:
    """One transaction and a publish (the ticket reply follows through freshdesk-sync); a problem, or None."""
    policy = current_policy()
    try:
        partner_updates.post_update(incident_id, actor_label(policy, actor), text, policy=policy,
                                    store=bootstrap.store(), publisher=bootstrap.publisher(),
                                    scheduler=bootstrap.scheduler(), now=datetime.now(UTC))
    except LookupError:
        return f"No incident {incident_id}."
    except Refused as exc:
        return f"Not sent: {exc}."
    return None


def add_follow_up(incident_id: str, actor, title: str) -> flask.Response:
    """Recorded at once; the Plane work item follows through freshdesk-sync (Slack will not wait for Plane)."""
    policy = current_policy()
    try:
        request = FollowUpRequest(title=title[:200])
        item = followups.record(incident_id, actor_label(policy, actor), request, policy=policy,
                                store=bootstrap.store(), publisher=bootstrap.publisher(), now=datetime.now(UTC))
    except LookupError:
        return ephemeral(f"No incident {incident_id}.")
    except Refused as exc:
        return ephemeral(f"Not recorded: {exc}.")
    return ephemeral(f"Follow-up {item.id} recorded on {incident_id}; it becomes a Plane work item.")


def publish_status_update(slash: sr.Slash, form: dict[str, str]) -> flask.Response:
    """A person's words on the public status page, published at once (one transaction on the page)."""
    from shared.adapters.status_store import StatusStore
    from shared.handlers.status_slack import publish_from_slack

    try:
        status_word, text = sr.parse_status_update(slash.rest)
    except ValueError as exc:
        return ephemeral(f"{exc}.\n\n{sr.USAGE}")
    return ephemeral(publish_from_slack(
        slash.incident_id or "", status_word, text, sr.slash_actor(form), form.get("trigger_id"),
        policy=current_policy(), status_store=StatusStore(bootstrap.store()), publisher=bootstrap.publisher(),
        now=datetime.now(UTC)))


def assess_cert_in(slash: sr.Slash, form: dict[str, str]) -> flask.Response:
    """The SRE's reportability decision, recorded at once (one transaction) so the answer can say it is done."""
    try:
        reportable, type_id, reason = sr.parse_assessment(slash.rest)
    except ValueError as exc:
        return ephemeral(f"{exc}.\n\n{sr.USAGE}")
    policy, now = current_policy(), datetime.now(UTC)
    actor = sr.slash_actor(form)
    try:
        certin_handler.change(slash.incident_id, lambda incident: cert_in_assess(
            policy, incident, actor, reportable, type_id, reason, now), policy=policy, store=bootstrap.store(),
            publisher=bootstrap.publisher(), chat=bootstrap.chat(), scheduler=bootstrap.scheduler(),
            mailer=bootstrap.mailer(), now=now)
    except LookupError:
        return ephemeral(f"No incident {slash.incident_id}.")
    except Refused as exc:
        return ephemeral(f"Not recorded: {exc}.")
    verdict = f"reportable (type {type_id})" if reportable and type_id else (
        "reportable" if reportable else "not reportable")
    return ephemeral(f"Recorded for {slash.incident_id}: {verdict}. The CERT-In clock follows the decision.")


def status(incident_id: str) -> flask.Response:
    store = bootstrap.store()
    try:
        incident, (firing, total) = _together(lambda: store.get_incident(incident_id),
                                              lambda: store.alert_counts(incident_id))
    except Exception:
        log.exception("incident store read failed", extra={"incident_id": incident_id})
        return ephemeral("Could not read the incident store just now. Try again.")
    if incident is None:
        return ephemeral(f"No incident {incident_id}.")
    return ephemeral(views.status_text(current_policy(), incident, firing, total))


def list_open() -> flask.Response:
    store = bootstrap.store()
    try:
        opened, acked = _together(lambda: store.list_incidents(status="open", limit=LIST_LIMIT),
                                  lambda: store.list_incidents(status="acknowledged", limit=LIST_LIMIT))
    except Exception:
        log.exception("incident store read failed")
        return ephemeral("Could not read the incident store just now. Try again.")
    more = bool(opened.next_cursor or acked.next_cursor)
    return ephemeral(views.list_text(opened.incidents, acked.incidents, more=more))


def act(slash: sr.Slash, form: dict[str, str]) -> flask.Response:
    incident_id = slash.incident_id or ""
    try:
        incident = bootstrap.store().get_incident(incident_id)
    except Exception:
        log.exception("incident store read failed", extra={"incident_id": incident_id})
        return ephemeral("Could not read the incident store just now. Try again.")
    if incident is None:
        return ephemeral(f"No incident {incident_id}.")
    if incident.status is IncidentStatus.RESOLVED:
        return ephemeral(f"{incident_id} is already resolved.")
    command = sr.slash_command(slash, form, datetime.now(UTC))
    try:
        publish(command)
    except HttpError:
        return ephemeral(f"Could not hand that over just now; nothing changed on {incident_id}. Try again.")
    verb = "Acknowledging" if slash.verb == "ack" else "Resolving"
    return ephemeral(f"{verb} {incident_id}: {incident.title}")


# ---- plumbing ---------------------------------------------------------------------------------


def publish(command: Command) -> None:
    """Confirmed by Pub/Sub, or a 503 (Slack shows the person an error; nothing is silently lost)."""
    try:
        bootstrap.publisher().publish(TOPIC_COMMANDS, [encode(command)], {
            "action": command.action.value, "incident_id": command.incident_id, "source": "slack"})
    except Exception as exc:
        log.error("command not published", extra={"command_id": command.command_id, "error": str(exc)})
        raise HttpError(503, "publish_failed", f"command not accepted, try again: {exc}",
                        headers={"Retry-After": "5"}) from None
    log.info("command accepted", extra={"command_id": command.command_id, "incident_id": command.incident_id,
                                        "action": command.action.value, "actor": command.actor.id})


def open_view(trigger_id: str, view: View) -> None:
    from slack_sdk.errors import SlackApiError

    cfg = settings()
    if not cfg.slack_bot_token:
        raise HttpError(503, "slack_not_configured", "SLACK_BOT_TOKEN is not set, so no modal can be opened")
    try:
        web_client(cfg.slack_bot_token, cfg.slack_api_url).views_open(trigger_id=trigger_id,
                                                                      view=views.view_payload(view))
    except SlackApiError as exc:
        raise HttpError(502, "slack_error", f"views.open failed: {exc.response.get('error')}") from None
    except Exception as exc:  # connection errors, timeouts
        raise HttpError(502, "slack_error", f"views.open failed: {exc}") from None


@cache
def web_client(token: str, base_url: str | None) -> WebClient:
    """No rate-limit retries here: the trigger_id expires long before a Retry-After would."""
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=VIEWS_OPEN_TIMEOUT)


_pool: ThreadPoolExecutor | None = None


def _together(first: Any, second: Any) -> tuple[Any, Any]:
    """Two independent reads at once: one round trip of latency instead of two."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="slack-read")
    a, b = _pool.submit(first), _pool.submit(second)
    return a.result(), b.result()


def empty() -> flask.Response:
    return flask.Response(b"", status=200)


def ephemeral(text: str) -> flask.Response:
    return json_response(sr.ephemeral(text))
