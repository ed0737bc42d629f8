"""`tasks` (HTTP): Cloud Tasks callbacks. Each re-reads state and acts only if still due."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import flask

from shared import bootstrap
from shared.config.loader import current_policy
from shared.handlers import followups, partner_updates, ticket_sync
from shared.handlers.alerts import expired_copy, process_alerts
from shared.handlers.certin import run_deadlines
from shared.handlers.escalation import reconcile, run_due_step
from shared.handlers.notify import render_message
from shared.log import get_logger
from shared.settings import settings
from shared.web import HttpError, guarded, json_response, parse_json, read_body

log = get_logger("tasks")


@guarded
def tasks(request: flask.Request) -> flask.Response:
    if request.method != "POST":
        raise HttpError(405, "method_not_allowed", "task callbacks are POST")
    verify_cloud_tasks_caller(request)
    kind = request.path.strip("/")
    body = parse_json(read_body(request))
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_payload", "the task body must be a JSON object")
    handler = HANDLERS.get(kind)
    if handler is None:
        raise HttpError(404, "unknown_task", f"no task kind {kind!r}; known: {', '.join(sorted(HANDLERS))}")
    return json_response(handler(body, datetime.now(UTC)))


def alert_expiry(body: dict, now: datetime) -> dict:
    """An Alertmanager-API alert whose endsAt passed without a re-send has resolved."""
    alert_id = body.get("alert_id")
    if not isinstance(alert_id, str):
        raise HttpError(400, "invalid_payload", "alert_id must be a string", field="alert_id")
    store = bootstrap.store()
    record = store.get_alert(alert_id)
    resolved = expired_copy(record, now) if record else None
    if resolved is None:
        return {"result": "not_due"}
    process_alerts([resolved], policy=current_policy(), store=store, publisher=bootstrap.publisher(), now=now)
    return {"result": "resolved", "alert_id": alert_id}


def escalate(body: dict, now: datetime) -> dict:
    """One escalation step; acts only if the step named is still active and due (duplicates do nothing)."""
    incident_id, step = body.get("incident_id"), body.get("step")
    if not isinstance(incident_id, str):
        raise HttpError(400, "invalid_payload", "incident_id must be a string", field="incident_id")
    if not isinstance(step, int) or isinstance(step, bool):
        raise HttpError(400, "invalid_payload", "step must be a whole number", field="step")
    try:
        result = run_due_step(incident_id, step, store=bootstrap.store(), publisher=bootstrap.publisher(),
                              chat=bootstrap.chat(), scheduler=bootstrap.scheduler(), now=now)
    except LookupError:
        return {"result": "unknown_incident"}
    return {"result": result, "incident_id": incident_id, "step": step}


def reconcile_now(body: dict, now: datetime) -> dict:
    """Run every few minutes (Cloud Scheduler in production, the local stack's loop locally)."""
    result = reconcile(store=bootstrap.store(), publisher=bootstrap.publisher(), chat=bootstrap.chat(),
                       scheduler=bootstrap.scheduler(), now=now)
    fired = 0
    for incident_id in bootstrap.store().overdue_cert_in(now):
        fired += cert_in_deadlines({"incident_id": incident_id}, now)["result"] == "fired"
    if fired:
        log.warning("reconciler fired overdue CERT-In deadlines", extra={"count": fired})
    refreshed = 0
    for incident in bootstrap.store().running_cert_in_clocks(now):
        if incident.slack_ts:  # the countdown on the incident's message moves on
            render_message(incident, policy=current_policy(), store=bootstrap.store(), chat=bootstrap.chat(), now=now)
            refreshed += 1
    from shared.handlers.resolution_tasks import reconcile_reviews

    policy, store = current_policy(), bootstrap.store()
    reminded = partner_updates.reconcile(policy=policy, store=store, publisher=bootstrap.publisher(),
                                         chat=bootstrap.chat(), scheduler=bootstrap.scheduler(), now=now)
    tickets = ticket_sync.reconcile(policy=policy, store=store, client=bootstrap.ticketing(), now=now)
    work_items = followups.reconcile(policy=policy, store=store, tracker=bootstrap.tracker(), now=now)
    return {**result, "cert_in_fired": fired, "countdowns_refreshed": refreshed, "review_fired": reconcile_reviews(now),
            "pst_reminded": reminded, "tickets_synced": tickets, "work_items_synced": work_items}


def cert_in_deadlines(body: dict, now: datetime) -> dict:
    """CERT-In deadlines of one incident; acts only on those due and still applicable (duplicates do nothing)."""
    incident_id = body.get("incident_id")
    if not isinstance(incident_id, str):
        raise HttpError(400, "invalid_payload", "incident_id must be a string", field="incident_id")
    try:
        result = run_deadlines(incident_id, policy=current_policy(), store=bootstrap.store(),
                               publisher=bootstrap.publisher(), chat=bootstrap.chat(),
                               scheduler=bootstrap.scheduler(), mailer=bootstrap.mailer(), now=now)
    except LookupError:
        return {"result": "unknown_incident"}
    return {"result": result, "incident_id": incident_id}


def pst_reminder(body: dict, now: datetime) -> dict:
    """A reminder to the partner's PST contact; acts only if that reminder is still the next one and due."""
    incident_id, round_no = body.get("incident_id"), body.get("round")
    if not isinstance(incident_id, str):
        raise HttpError(400, "invalid_payload", "incident_id must be a string", field="incident_id")
    if not isinstance(round_no, int) or isinstance(round_no, bool):
        raise HttpError(400, "invalid_payload", "round must be a whole number", field="round")
    try:
        result = partner_updates.run_due_reminder(incident_id, round_no, policy=current_policy(),
                                                  store=bootstrap.store(), publisher=bootstrap.publisher(),
                                                  chat=bootstrap.chat(), scheduler=bootstrap.scheduler(), now=now)
    except LookupError:
        return {"result": "unknown_incident"}
    return {"result": result, "incident_id": incident_id, "round": round_no}


HANDLERS = {"alert-expiry": alert_expiry, "escalate": escalate, "reconcile": reconcile_now,
            "cert-in": cert_in_deadlines, "pst-reminder": pst_reminder}


def review_deadlines(body: dict, now: datetime) -> dict:
    """Post-incident review and emergency-change deadlines of one incident; duplicates do nothing."""
    from shared.handlers.resolution_tasks import review_deadlines as run

    return run(body, now)


def weekly_digest(body: dict, now: datetime) -> dict:
    """Cloud Scheduler, weekly: the metrics digest to Slack, once per ISO week."""
    from shared.handlers.resolution_tasks import weekly_digest as run

    return run(body, now)


HANDLERS |= {"review": review_deadlines, "digest": weekly_digest}


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise HttpError(401, "unauthenticated", "invalid OIDC token: unreadable claims") from None
    return claims if isinstance(claims, dict) else {}


def _looks_like_jwt(token: str) -> bool:
    """Three base64url parts with a JSON header: refuse garbage before fetching Google's certificates."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError:
        return False
    return isinstance(header, dict) and header.get("alg") == "RS256"


def verify_cloud_tasks_caller(request: flask.Request) -> None:
    """Only Cloud Tasks may call: an OIDC token of the tasks service account in production.

    On the emulators there is no Google identity; the emulator's queue header must be present.
    """
    cfg = settings()
    if cfg.local:
        if not (request.headers.get("X-CloudTasks-QueueName") or request.headers.get("X-CloudScheduler")):
            raise HttpError(401, "unauthenticated", "task callbacks come from Cloud Tasks or Cloud Scheduler only")
        return
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise HttpError(401, "unauthenticated", "missing OIDC token")
    token = header[7:].strip()
    if not _looks_like_jwt(token):
        raise HttpError(401, "unauthenticated", "invalid OIDC token: not a JWT")
    if token.endswith(".SIGNATURE_REMOVED_BY_GOOGLE"):
        # Cloud Run's IAM check already verified this token (the function is not public) and removed its
        # signature; what is left to check is who it was issued to and for.
        claims = _claims(token)
        audience_ok = str(claims.get("aud", "")).rstrip("/") in (cfg.function_url("tasks"),
                                                                cfg.function_url("tasks") + request.path)
        if not audience_ok:
            raise HttpError(401, "unauthenticated", "the token was issued for another audience")
        if not claims.get("email_verified") or claims.get("email") != cfg.tasks_service_account:
            raise HttpError(403, "forbidden", "the token is not the tasks service account's")
        return
    from google.auth import exceptions as auth_exceptions
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    try:
        claims = id_token.verify_oauth2_token(token, google_requests.Request(),
                                              audience=cfg.function_url("tasks") + request.path)
    except auth_exceptions.TransportError:
        raise HttpError(503, "verification_unavailable", "Google's token certificates are unreachable; retry",
                        headers={"Retry-After": "10"}) from None
    except (ValueError, auth_exceptions.GoogleAuthError) as exc:
        raise HttpError(401, "unauthenticated", f"invalid OIDC token: {exc}") from None
    if not claims.get("email_verified") or claims.get("email") != cfg.tasks_service_account:
        raise HttpError(403, "forbidden", "the token is not the tasks service account's")
