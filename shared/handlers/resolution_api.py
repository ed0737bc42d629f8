"""API routes of resolution work: timeline pages, notes, emergency changes, review, RCAs, metrics, digest.

`route` answers the paths it owns and returns None for every other one, so functions/api.py needs a
single line to mount them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import flask
from pydantic import ValidationError

from shared import bootstrap
from shared.api_models_resolution import (
    ActorRequest,
    MetricsReport,
    RcaImport,
    RcaList,
    RcaPatch,
    RcaSummary,
    TextRequest,
    TimelineItem,
    TimelinePage,
)
from shared.config.loader import current_policy
from shared.domain import rca as rca_domain
from shared.domain import resolution
from shared.domain.actions import Refused
from shared.domain.incident import TimelineEntry
from shared.domain.model import Severity
from shared.domain.rca import Rca, RcaStatus, TransitionRefused
from shared.domain.review import rca_id_for
from shared.handlers import review as review_handler
from shared.web import HttpError, json_response, parse_json, read_body, validated

_INC = r"(?P<id>INC-\d{4}-\d{4,})"
TIMELINE = re.compile(rf"^/incidents/{_INC}/timeline$")
STEP = re.compile(rf"^/incidents/{_INC}/(?P<step>notes|changes|review|mitigated)$")
CHANGE_REVIEWED = re.compile(rf"^/incidents/{_INC}/changes/(?P<change>C\d+)/reviewed$")
RCA = re.compile(r"^/rcas/(?P<id>RCA-[A-Za-z0-9-]{3,120}?)(?P<md>\.md)?$")
MEASURE_TO_PLANE = re.compile(r"^/rcas/(?P<id>RCA-[A-Za-z0-9-]{3,120})/measures/(?P<measure>PM-\d+)/plane$")
MAX_METRICS_DAYS = 366


def route(request: flask.Request, path: str, incident_detail) -> flask.Response | None:
    method = request.method
    if (match := TIMELINE.match(path)) and method == "GET":
        return timeline(request, match["id"])
    if (match := STEP.match(path)) and method == "POST":
        return step(request, match["id"], match["step"], incident_detail)
    if (match := CHANGE_REVIEWED.match(path)) and method == "POST":
        body = validated(ActorRequest, parse_json(read_body(request)))
        _change(match["id"], lambda incident, now: resolution.change_reviewed(incident, match["change"], body.actor,
                                                                              now))
        return json_response(incident_detail(match["id"]).model_dump(mode="json"))
    if path == "/rcas" and method == "GET":
        return list_rcas(request)
    if path == "/rcas/import" and method == "POST":
        return import_rca(request)
    if (match := MEASURE_TO_PLANE.match(path)) and method == "POST":
        return measure_to_plane(request, match["id"], match["measure"])
    if match := RCA.match(path):
        if method == "GET":
            return get_rca(match["id"], markdown=bool(match["md"]))
        if method == "PATCH" and not match["md"]:
            return patch_rca(request, match["id"])
        raise HttpError(405, "method_not_allowed", "use GET, or PATCH to edit")
    if path == "/metrics" and method == "GET":
        return metrics_route(request)
    if path == "/digest" and method == "POST":
        from shared.handlers.digest import post_digest

        return json_response(post_digest(policy=current_policy(), store=bootstrap.store(),
                                         rcas=bootstrap.resolution_store(), chat=bootstrap.chat(),
                                         now=datetime.now(UTC), key=None))
    return None


# ---- incidents ------------------------------------------------------------------------------------


def timeline(request: flask.Request, incident_id: str) -> flask.Response:
    limit = _int(request.args.get("limit"), "limit", 100, 1, 1000)
    cursor = request.args.get("cursor")
    if cursor is not None and not re.fullmatch(r"[0-9a-f-]{10,64}", cursor):
        raise HttpError(400, "invalid_parameter", "cursor is the next_cursor of the previous page", field="cursor")
    if bootstrap.store().get_incident(incident_id) is None:
        raise HttpError(404, "not_found", f"no incident {incident_id}")
    entries, next_cursor = bootstrap.resolution_store().timeline_page(incident_id, limit, cursor)
    page = TimelinePage(entries=[TimelineItem(id=i, **e.model_dump()) for i, e in entries], next_cursor=next_cursor)
    return json_response(page.model_dump(mode="json"))


def step(request: flask.Request, incident_id: str, what: str, incident_detail) -> flask.Response:
    policy = current_policy()
    if what in ("notes", "changes"):
        body = validated(TextRequest, parse_json(read_body(request)))
        if what == "notes":
            _change(incident_id, lambda incident, now: resolution.note(incident, body.actor, "api", body.text, now))
        else:
            _change(incident_id, lambda incident, now: resolution.emergency_change(
                policy, incident, body.actor, "api", body.text, now))
    else:
        body = validated(ActorRequest, parse_json(read_body(request)))
        if what == "review":
            _change(incident_id, lambda incident, now: resolution.hold_review(incident, body.actor, "marked", now,
                                                                              body.note))
        else:
            _change(incident_id, lambda incident, now: resolution.mitigated(incident, body.actor, now, body.note))
    return json_response(incident_detail(incident_id).model_dump(mode="json"), 201 if what in ("notes", "changes")
                         else 200)


def _change(incident_id: str, decide) -> Any:
    now = datetime.now(UTC)
    try:
        return review_handler.change(incident_id, lambda incident: decide(incident, now), policy=current_policy(),
                                     store=bootstrap.store(), rcas=bootstrap.resolution_store(),
                                     publisher=bootstrap.publisher(), chat=bootstrap.chat(),
                                     scheduler=bootstrap.scheduler(), now=now)
    except LookupError:
        raise HttpError(404, "not_found", f"no incident {incident_id}") from None
    except Refused as exc:
        raise HttpError(exc.status, exc.reason, str(exc)) from None


# ---- RCAs -----------------------------------------------------------------------------------------


def list_rcas(request: flask.Request) -> flask.Response:
    args = request.args
    severity, status = args.get("severity"), args.get("status")
    if severity is not None and severity not in [s.value for s in Severity]:
        raise HttpError(400, "invalid_parameter", f"severity must be one of {', '.join(s.value for s in Severity)}",
                        field="severity")
    if status is not None and status not in [s.value for s in RcaStatus]:
        raise HttpError(400, "invalid_parameter", f"status must be one of {', '.join(s.value for s in RcaStatus)}",
                        field="status")
    since, until = _date(args.get("since"), "since"), _date(args.get("until"), "until")
    limit = _int(args.get("limit"), "limit", 50, 1, 200)
    rcas, cursor = bootstrap.resolution_store().list_rcas(severity=severity, status=status, since=since, until=until,
                                                          limit=limit, cursor=args.get("cursor"))
    rows = [RcaSummary(id=r.id, date=r.date, title=r.title, severity=r.severity, status=r.status,
                       incident_id=r.incident_id, historical=r.historical) for r in rcas]
    return json_response(RcaList(rcas=rows, next_cursor=cursor).model_dump(mode="json"))


def get_rca(rca_id: str, markdown: bool) -> flask.Response:
    rca = bootstrap.resolution_store().get_rca(rca_id)
    if rca is None:
        raise HttpError(404, "not_found", f"no RCA {rca_id}")
    if not markdown:
        return json_response(rca.model_dump(mode="json"))
    from shared.documents.rca import file_name, rca_markdown

    return flask.Response(rca_markdown(rca), mimetype="text/markdown", headers={
        "Content-Disposition": f'inline; filename="{file_name(rca)}"'})


def patch_rca(request: flask.Request, rca_id: str) -> flask.Response:
    body = validated(RcaPatch, parse_json(read_body(request)))
    now = datetime.now(UTC)
    measures = None if body.prevention_measures is None else [
        m.model_dump(exclude_none=True) for m in body.prevention_measures]

    def decide(rca: Rca) -> Rca:
        new = rca
        if body.sections is not None or measures is not None or body.title is not None:
            new = rca_domain.edit(rca, by=body.actor, now=now, sections=body.sections,
                                  prevention_measures=measures, title=body.title)
        if body.status is not None:
            new = rca_domain.transition(new, body.status, by=body.actor, now=now)
        return new

    try:
        rca = bootstrap.resolution_store().change_rca(rca_id, decide)
    except LookupError:
        raise HttpError(404, "not_found", f"no RCA {rca_id}") from None
    except TransitionRefused as exc:
        raise HttpError(409, exc.reason, str(exc)) from None
    except (ValueError, ValidationError) as exc:
        raise HttpError(400, "invalid_field", _first_error(exc), field="sections") from None
    if body.status is not None and rca.incident_id and rca.history[-1].what == f"moved to {body.status.value}":
        bootstrap.store().append_timeline(rca.incident_id, TimelineEntry(
            at=now, kind=f"rca.{body.status.value}", actor=body.actor, source="api",
            text=f"RCA {rca.id} moved to {body.status.value.replace('_', ' ')} by {body.actor}"))
    if rca.status in (RcaStatus.IN_REVIEW, RcaStatus.PUBLISHED) and rca.incident_id:
        held_review(rca, body.actor)
    return json_response(rca.model_dump(mode="json"))


def measure_to_plane(request: flask.Request, rca_id: str, measure_id: str) -> flask.Response:
    """A prevention measure becomes a Plane work item (through a follow-up of the incident), linked back."""
    from shared.handlers.followups import MeasureRefused, track_measure

    body = validated(ActorRequest, parse_json(read_body(request)))
    try:
        rca = track_measure(rca_id, measure_id, body.actor, policy=current_policy(), store=bootstrap.store(),
                            rcas=bootstrap.resolution_store(), publisher=bootstrap.publisher(),
                            tracker=bootstrap.tracker(), now=datetime.now(UTC))
    except LookupError:
        raise HttpError(404, "not_found", f"no RCA {rca_id}") from None
    except MeasureRefused as exc:
        raise HttpError(exc.status, exc.reason, str(exc)) from None
    return json_response(rca.model_dump(mode="json"))


def held_review(rca: Rca, who: str) -> None:
    """An RCA in review means the post-incident review is taking place: mark it held on the incident."""
    incident = bootstrap.store().get_incident(rca.incident_id)
    if incident is None or incident.review is None or not incident.review.required or incident.review.held_at:
        return
    _change(rca.incident_id, lambda inc, now: resolution.hold_review(inc, who, "rca_in_review", now))


def import_rca(request: flask.Request) -> flask.Response:
    body = validated(RcaImport, parse_json(read_body(request)))
    now = datetime.now(UTC)
    rca_id = rca_domain.historical_id(body.date, body.title)
    unknown = sorted(set(body.sections) - set(rca_domain.SECTIONS))
    if unknown:
        raise HttpError(400, "invalid_field", f"unknown section(s) {', '.join(unknown)}; known: "
                        f"{', '.join(rca_domain.SECTIONS)}", field="sections")
    moment = datetime.combine(body.date, time(0), UTC)
    try:
        measures = rca_domain.numbered([], [m.model_dump(exclude_none=True) for m in body.prevention_measures])
    except ValueError as exc:
        raise HttpError(400, "invalid_field", str(exc), field="prevention_measures") from None
    rca = Rca(id=rca_id, title=body.title, date=body.date, severity=body.severity, status=body.status,
              historical=True, service=body.service, source_url=body.source_url,
              sections={k: body.sections.get(k, "") for k in rca_domain.SECTIONS}, prevention_measures=measures,
              created_at=now, updated_at=now, published_at=now if body.status is RcaStatus.PUBLISHED else None,
              detected_at=None, history=[rca_domain.HistoryItem(at=now, by=body.actor, what=(
                  f"imported as a historical record of {moment:%Y-%m-%d}"))])
    created = bootstrap.resolution_store().create_rca(rca)
    stored = bootstrap.resolution_store().get_rca(rca_id)
    return json_response(stored.model_dump(mode="json"), 201 if created else 200,
                         {"Location": f"/api/rcas/{rca_id}"})


# ---- metrics --------------------------------------------------------------------------------------


def metrics_route(request: flask.Request) -> flask.Response:
    from shared.handlers.digest import report

    now = datetime.now(UTC)
    until = _moment(request.args.get("until"), "until") or now
    since = _moment(request.args.get("since"), "since") or until - timedelta(days=30)
    if since >= until:
        raise HttpError(400, "invalid_parameter", "since must be before until", field="since")
    if until - since > timedelta(days=MAX_METRICS_DAYS):
        raise HttpError(400, "invalid_parameter", f"the period is at most {MAX_METRICS_DAYS} days", field="since")
    weeks = max(1, min(52, (until - since).days // 7 + 1))
    m, series = report(bootstrap.resolution_store(), since, until, weeks)
    return json_response(MetricsReport(metrics=m, weeks=series).model_dump(mode="json"))


# ---- parsing --------------------------------------------------------------------------------------



def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return str(exc)


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise HttpError(400, "invalid_parameter", f"{name} must be a whole number", field=name) from None
    if not low <= number <= high:
        raise HttpError(400, "invalid_parameter", f"{name} must be between {low} and {high}", field=name)
    return number


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HttpError(400, "invalid_parameter", f"{name} must be a date like 2026-12-04", field=name) from None


def _moment(value: str | None, name: str) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 time; a time without a zone is UTC."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(400, "invalid_parameter", f"{name} must be a date or an ISO 8601 time", field=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["route", "rca_id_for"]
