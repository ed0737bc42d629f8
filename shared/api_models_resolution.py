"""Request and response shapes of the resolution routes (timeline, notes, changes, review, RCAs, metrics).

`extend_openapi` adds them to the API's OpenAPI document (shared/api_models.py builds the rest).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from shared.domain.incident import TimelineEntry
from shared.domain.metrics import Metrics, Week
from shared.domain.model import Severity
from shared.domain.rca import Rca, RcaStatus


class TextRequest(BaseModel):
    """A note on the timeline, or an emergency change (POST /incidents/<id>/notes, /changes)."""

    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=5000)


class ActorRequest(BaseModel):
    """Mark the post-incident review held, a change reviewed, or the impact mitigated."""

    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=2000)


class TimelineItem(TimelineEntry):
    id: str = Field(description="the entry's id; pass the last one as `cursor` for the next page")


class TimelinePage(BaseModel):
    entries: list[TimelineItem]
    next_cursor: str | None = None


class MeasureInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(default=None, pattern=r"^PM-\d+$", description="omit for a new measure")
    action: str = Field(min_length=3, max_length=1000)
    owner: str = Field(min_length=1, max_length=200)
    due: date
    status: str = Field(default="open", pattern=r"^(open|done|dropped)$")
    link: str | None = Field(default=None, max_length=500)


class RcaPatch(BaseModel):
    """Edit an RCA (not yet published) and/or move it: draft → in_review → published (in_review → draft)."""

    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    title: str | None = Field(default=None, min_length=3, max_length=200)
    sections: dict[str, str] | None = Field(default=None, description="section key -> Markdown text")
    prevention_measures: list[MeasureInput] | None = Field(default=None, description="replaces the list")
    status: RcaStatus | None = None


class RcaImport(BaseModel):
    """A historical RCA from the repository that predates this system."""

    model_config = ConfigDict(extra="forbid")
    actor: str = Field(default="import", min_length=1, max_length=200)
    title: str = Field(min_length=3, max_length=200)
    date: date
    severity: Severity
    service: str | None = None
    source_url: str | None = None
    sections: dict[str, str] = Field(default_factory=dict)
    prevention_measures: list[MeasureInput] = Field(default_factory=list)
    status: RcaStatus = RcaStatus.PUBLISHED


class RcaSummary(BaseModel):
    """One row of the repository table: Date | Incident | Severity (and status)."""

    id: str
    date: date
    title: str
    severity: Severity
    status: RcaStatus
    incident_id: str | None = None
    historical: bool = False


class RcaList(BaseModel):
    rcas: list[RcaSummary]
    next_cursor: str | None = None


class MetricsReport(BaseModel):
    metrics: Metrics
    weeks: list[Week]


MODELS = (TextRequest, ActorRequest, TimelinePage, RcaPatch, RcaImport, Rca, RcaList, MetricsReport)


def extend_openapi(document: dict[str, Any]) -> dict[str, Any]:
    _, schemas = models_json_schema([(m, "validation") for m in MODELS], ref_template="#/components/schemas/{model}")
    document["components"]["schemas"].update(schemas.get("$defs", {}))

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def body(name: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": ref(name)}}}

    def ok(name: str, desc: str) -> dict[str, Any]:
        err = {"content": {"application/json": {"schema": ref("ApiError")}}}
        return {"200": {"description": desc, "content": {"application/json": {"schema": ref(name)}}},
                "400": {"description": "invalid request", **err}, "401": {"description": "no or bad token", **err},
                "404": {"description": "not found", **err}, "409": {"description": "not in this state", **err}}

    def param(name: str, where: str = "path", kind: str = "string") -> dict[str, Any]:
        return {"name": name, "in": where, "required": where == "path", "schema": {"type": kind}}

    inc = param("incident_id")
    rca = param("rca_id")
    document["paths"].update({
        "/incidents/{incident_id}/timeline": {"get": {
            "summary": "The incident's timeline in order, a page at a time",
            "parameters": [inc, param("limit", "query", "integer"), param("cursor", "query")],
            "responses": ok("TimelinePage", "a page of timeline entries")}},
        "/incidents/{incident_id}/notes": {"post": {
            "summary": "Add a note to the timeline", "parameters": [inc], "requestBody": body("TextRequest"),
            "responses": ok("IncidentDetail", "the incident")}},
        "/incidents/{incident_id}/changes": {"post": {
            "summary": "Record an emergency change (stakeholder review reminder after 24 hours)",
            "parameters": [inc], "requestBody": body("TextRequest"),
            "responses": ok("IncidentDetail", "the incident")}},
        "/incidents/{incident_id}/changes/{change_id}/reviewed": {"post": {
            "summary": "Stakeholders reviewed an emergency change", "parameters": [inc, param("change_id")],
            "requestBody": body("ActorRequest"), "responses": ok("IncidentDetail", "the incident")}},
        "/incidents/{incident_id}/review": {"post": {
            "summary": "Mark the post-incident review held", "parameters": [inc],
            "requestBody": body("ActorRequest"), "responses": ok("IncidentDetail", "the incident")}},
        "/incidents/{incident_id}/mitigated": {"post": {
            "summary": "Mark the impact mitigated (time to mitigate)", "parameters": [inc],
            "requestBody": body("ActorRequest"), "responses": ok("IncidentDetail", "the incident")}},
        "/rcas": {"get": {
            "summary": "The RCA repository, newest first",
            "parameters": [param("severity", "query"), param("status", "query"), param("since", "query"),
                           param("until", "query"), param("limit", "query", "integer"), param("cursor", "query")],
            "responses": ok("RcaList", "RCAs")}},
        "/rcas/import": {"post": {
            "summary": "Import a historical RCA", "requestBody": body("RcaImport"), "responses": ok("Rca", "the RCA")}},
        "/rcas/{rca_id}": {
            "get": {"summary": "One RCA", "parameters": [rca], "responses": ok("Rca", "the RCA")},
            "patch": {"summary": "Edit sections and measures, or move the status", "parameters": [rca],
                      "requestBody": body("RcaPatch"), "responses": ok("Rca", "the RCA")}},
        "/rcas/{rca_id}.md": {"get": {
            "summary": "The RCA as Markdown, ready for a docs repository", "parameters": [rca],
            "responses": {"200": {"description": "Markdown", "content": {"text/markdown": {}}}}}},
        "/rcas/{rca_id}/measures/{measure_id}/plane": {"post": {
            "summary": "Track a prevention measure as a Plane work item (a follow-up of the incident), linked back",
            "parameters": [rca, param("measure_id", "path")], "requestBody": body("ActorRequest"),
            "responses": ok("Rca", "the RCA with the measure's link")}},
        "/metrics": {"get": {
            "summary": "MTTA, MTTM, MTTR, breaches, incidents per severity, type and service, pages per person",
            "parameters": [param("since", "query"), param("until", "query")],
            "responses": ok("MetricsReport", "the metrics of the period")}},
        "/digest": {"post": {
            "summary": "Post the weekly digest to Slack now (Cloud Scheduler calls /tasks/digest weekly)",
            "responses": {"200": {"description": "what was posted"}}}},
    })
    return document
