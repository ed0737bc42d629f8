"""`api` (HTTP): the REST API for people, scripts and the CLI. Bearer API_TOKEN."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import flask

from shared import bootstrap
from shared.api_models import (
    ActionRequest,
    CertInAssessment,
    CertInFlag,
    CertInReportFields,
    CertInSubmission,
    CertInUpdate,
    FollowUpCreate,
    FollowUpList,
    IncidentDetail,
    IncidentList,
    ManualReport,
    PartnerUpdate,
    openapi_document,
)
from shared.api_models_resolution import extend_openapi
from shared.config.loader import current_policy
from shared.domain import actions
from shared.domain.actions import Refused
from shared.domain.certin import Submission
from shared.domain.commands import Action, Actor, Command
from shared.domain.followups import FollowUpRequest
from shared.domain.incident import IncidentStatus
from shared.domain.model import Severity
from shared.handlers import certin as certin_handler
from shared.handlers import followups as followups_handler
from shared.handlers import partner_updates, resolution_api
from shared.handlers.escalation import apply
from shared.handlers.reports import NotAnnounced, UnknownType, report_incident
from shared.settings import settings
from shared.web import HttpError, guarded, json_response, parse_json, read_body, require_token, validated

INCIDENT_PATH = re.compile(r"^/incidents/(?P<id>INC-\d{4}-\d{4,})$")
CERT_IN_PATH = re.compile(r"^/incidents/(?P<id>INC-\d{4}-\d{4,})/cert-in(?:/(?P<what>[a-z]+))?$")
ACTION_PATH = re.compile(r"^/incidents/(?P<id>INC-\d{4}-\d{4,})/(?P<action>[a-z]+)$")
PARTNER_PATH = re.compile(r"^/incidents/(?P<id>INC-\d{4}-\d{4,})/(?P<what>partner-update|follow-ups)$")


@guarded
def api(request: flask.Request) -> flask.Response:
    path = request.path.rstrip("/")
    if path == "/openapi.json" and request.method == "GET":
        from shared.handlers.status_api import with_status_paths

        return json_response(with_status_paths(openapi_document(settings().function_url("api"))))
    require_token(request, settings().api_token, allow_query=False, realm="api")
    if path.startswith("/status/") or path.endswith("/status-updates"):
        from shared.handlers.status_api import route

        return route(request, path)
        return json_response(extend_openapi(openapi_document(settings().function_url("api"))))
    require_token(request, settings().api_token, allow_query=False, realm="api")
    if (answer := resolution_api.route(request, path, incident_detail)) is not None:  # timeline, RCAs, metrics
        return answer
    if path == "/incidents":
        if request.method == "GET":
            return list_incidents(request)
        if request.method == "POST":
            return create_incident(request)
        raise HttpError(405, "method_not_allowed", "use GET or POST on /incidents")
    match = INCIDENT_PATH.match(path)
    if match and request.method == "GET":
        return json_response(incident_detail(match["id"]).model_dump(mode="json"))
    match = CERT_IN_PATH.match(path)
    if match:
        return cert_in_route(request, match["id"], match["what"])
    match = PARTNER_PATH.match(path)
    if match:
        return partner_route(request, match["id"], match["what"])
    match = ACTION_PATH.match(path)
    if match and request.method == "POST":
        return incident_action(request, match["id"], match["action"])
    raise HttpError(404, "not_found", f"no route {request.method} {path}")


def list_incidents(request: flask.Request) -> flask.Response:
    args = request.args
    _check_choice("status", args.get("status"), [s.value for s in IncidentStatus])
    _check_choice("severity", args.get("severity"), [s.value for s in Severity])
    _check_choice("type", args.get("type"), list(current_policy().incident_types))
    try:
        limit = int(args.get("limit", 50))
    except ValueError:
        raise HttpError(400, "invalid_parameter", "limit must be a whole number", field="limit") from None
    if not 1 <= limit <= 200:
        raise HttpError(400, "invalid_parameter", "limit must be between 1 and 200", field="limit")
    page = bootstrap.store().list_incidents(status=args.get("status"), severity=args.get("severity"),
                                            type=args.get("type"), limit=limit, cursor=args.get("cursor"))
    return json_response(IncidentList(incidents=page.incidents, next_cursor=page.next_cursor).model_dump(mode="json"))


def create_incident(request: flask.Request) -> flask.Response:
    report = validated(ManualReport, parse_json(read_body(request)))
    key = request.headers.get("Idempotency-Key")
    if key is not None and not re.fullmatch(r"[A-Za-z0-9_.:-]{8,128}", key):
        raise HttpError(400, "invalid_header", "Idempotency-Key must be 8-128 of [A-Za-z0-9_.:-]",
                        field="Idempotency-Key")
    try:
        incident_id = report_incident(report, idempotency_key=key, policy=current_policy(),
                                      store=bootstrap.store(), publisher=bootstrap.publisher(), now=datetime.now(UTC))
    except UnknownType as exc:
        raise HttpError(400, "invalid_field", str(exc), field="type") from None
    except NotAnnounced as exc:
        raise HttpError(503, "publish_failed", f"{exc.incident_id} is recorded but nobody is paged yet; retry "
                        "with the same Idempotency-Key", headers={"Retry-After": "5"}) from None
    detail = incident_detail(incident_id)
    return json_response(detail.model_dump(mode="json"), 201,
                         {"Location": f"{settings().function_url('api')}/incidents/{incident_id}"})


def incident_action(request: flask.Request, incident_id: str, action_name: str) -> flask.Response:
    try:
        action = Action(action_name)
    except ValueError:
        raise HttpError(404, "not_found", f"no action {action_name!r}; use one of "
                        f"{', '.join(a.value for a in Action)}") from None
    body = validated(ActionRequest, parse_json(read_body(request)))
    now = datetime.now(UTC)
    command = Command(command_id=request.headers.get("Idempotency-Key") or f"api:{uuid.uuid4().hex}",
                      incident_id=incident_id, action=action, at=now,
                      actor=Actor(kind="api", id=body.actor, name=body.actor), owner=body.owner,
                      severity=body.severity, summary=body.summary, note=body.note)
    with answered_as_http(incident_id):
        apply(command, policy=current_policy(), store=bootstrap.store(), publisher=bootstrap.publisher(),
              chat=bootstrap.chat(), scheduler=bootstrap.scheduler(), now=now)
    return json_response(incident_detail(incident_id).model_dump(mode="json"))


def cert_in_route(request: flask.Request, incident_id: str, what: str | None) -> flask.Response:
    """The CERT-In record of an incident: evidence export, report draft, and the people's steps."""
    policy = current_policy()
    if request.method == "GET" and what in (None, "report"):
        incident = bootstrap.store().get_incident(incident_id)
        if incident is None:
            raise HttpError(404, "not_found", f"no incident {incident_id}")
        if incident.cert_in is None:
            raise HttpError(409, "no_cert_in_clock", f"{incident_id} is not a possibly reportable security incident")
        from shared.documents.certin import evidence_markdown, report_email, report_markdown

        timeline = bootstrap.store().timeline_of(incident_id, 2000)
        if what is None:
            body = evidence_markdown(policy, incident, incident.cert_in, timeline)
            return flask.Response(body, mimetype="text/markdown", headers={
                "Content-Disposition": f'inline; filename="{incident_id}-cert-in.md"'})
        subject, text = report_email(policy, incident, incident.cert_in, timeline)
        return json_response({"markdown": report_markdown(policy, incident, incident.cert_in, timeline),
                              "email": {"to": policy.cert_in.reporting_email, "subject": subject, "body": text}})
    if request.method != "POST" or what not in CERT_IN_STEPS:
        raise HttpError(404, "not_found", f"no route {request.method} /incidents/{incident_id}/cert-in/{what or ''}")
    model, decide = CERT_IN_STEPS[what]
    body = validated(model, parse_json(read_body(request)))
    now = datetime.now(UTC)
    with answered_as_http(incident_id):
        certin_handler.change(incident_id, lambda incident: decide(policy, incident, body, now), policy=policy,
                              store=bootstrap.store(), publisher=bootstrap.publisher(), chat=bootstrap.chat(),
                              scheduler=bootstrap.scheduler(), mailer=bootstrap.mailer(), now=now)
    return json_response(incident_detail(incident_id).model_dump(mode="json"))


def partner_route(request: flask.Request, incident_id: str, what: str) -> flask.Response:
    """The partner side: an update for the partner (PST), and follow-up actions tracked in Plane."""
    policy, store, now = current_policy(), bootstrap.store(), datetime.now(UTC)
    if what == "partner-update" and request.method == "POST":
        body = validated(PartnerUpdate, parse_json(read_body(request)))
        with answered_as_http(incident_id):
            partner_updates.post_update(incident_id, body.actor, body.text, policy=policy, store=store,
                                        publisher=bootstrap.publisher(), scheduler=bootstrap.scheduler(), now=now)
        return json_response(incident_detail(incident_id).model_dump(mode="json"))
    if what == "follow-ups" and request.method == "POST":
        create = validated(FollowUpCreate, parse_json(read_body(request)))
        request_fields = create.model_dump(exclude={"actor"})
        with answered_as_http(incident_id):
            followups_handler.add(incident_id, create.actor, FollowUpRequest(
                **request_fields), policy=policy, store=store, publisher=bootstrap.publisher(),
                tracker=bootstrap.tracker(), now=now)
        return json_response(_follow_ups(incident_id).model_dump(mode="json"), 201)
    if what == "follow-ups" and request.method == "GET":
        if request.args.get("refresh", "").lower() in ("1", "true", "yes"):
            followups_handler.sync_work_items(incident_id, policy=policy, store=store, tracker=bootstrap.tracker(),
                                              now=now, refresh=True)
        return json_response(_follow_ups(incident_id).model_dump(mode="json"))
    raise HttpError(405, "method_not_allowed", f"{request.method} is not accepted on /incidents/{incident_id}/{what}")


def _follow_ups(incident_id: str) -> FollowUpList:
    incident = bootstrap.store().get_incident(incident_id)
    if incident is None:
        raise HttpError(404, "not_found", f"no incident {incident_id}")
    return FollowUpList(incident_id=incident_id, follow_ups=incident.follow_ups)


@contextmanager
def answered_as_http(incident_id: str) -> Iterator[None]:
    """An unknown incident is a 404; a refused step answers with the status the domain chose (403, 409, 400)."""
    try:
        yield
    except LookupError:
        raise HttpError(404, "not_found", f"no incident {incident_id}") from None
    except Refused as exc:
        raise HttpError(exc.status, exc.reason, str(exc)) from None


CERT_IN_STEPS = {
    "flag": (CertInFlag, lambda policy, incident, b, now: actions.cert_in_flag(policy, incident, b.actor, b.type, now)),
    "assessment": (CertInAssessment, lambda policy, incident, b, now: actions.cert_in_assess(
        policy, incident, Actor(kind="api", id=b.actor, name=b.actor), b.reportable, b.type, b.reason, now)),
    "report": (CertInReportFields, lambda policy, incident, b, now: actions.cert_in_report(
        incident, b.actor, b.fields, now)),
    "submission": (CertInSubmission, lambda policy, incident, b, now: actions.cert_in_submit(
        incident, Submission(at=b.at, method=b.method, reference=b.reference, by=b.actor, recorded_at=now), now)),
    "updates": (CertInUpdate, lambda policy, incident, b, now: actions.cert_in_follow_up(
        incident, b.actor, b.text, now)),
}



def incident_detail(incident_id: str) -> IncidentDetail:
    store = bootstrap.store()
    incident = store.get_incident(incident_id)
    if incident is None:
        raise HttpError(404, "not_found", f"no incident {incident_id}")
    firing, total = store.alert_counts(incident_id)
    return IncidentDetail(incident=incident, alerts_firing=firing, alerts_total=total,
                          alerts=store.alerts_of(incident_id, 200), timeline=store.timeline_of(incident_id, 500))


def _check_choice(name: str, value: str | None, allowed: list[str]) -> None:
    if value is not None and value not in allowed:
        raise HttpError(400, "invalid_parameter", f"{name} must be one of {', '.join(allowed)}", field=name)
