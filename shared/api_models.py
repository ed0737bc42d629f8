"""The REST API's request and response shapes; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from shared.domain.commands import Action
from shared.domain.followups import FollowUpRequest
from shared.domain.grouping import AlertRecord
from shared.domain.incident import FollowUp, Incident, TimelineEntry
from shared.domain.model import Severity


class ManualReport(BaseModel):
    """A person reports an incident by hand (detection: manual reporting)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=10_000)
    severity: Severity | None = Field(default=None, description="defaults to what the policy's rules say")
    type: str | None = Field(default=None, description="incident type from the policy, e.g. system_alert")
    service: str | None = Field(default=None, max_length=100)
    reporter: str = Field(min_length=1, max_length=200, description="who reports it (name, email or Slack id)")


class ActionRequest(BaseModel):
    """Body of POST /incidents/<id>/{acknowledge,assign,severity,resolve,escalate}."""

    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=200, description="who does it (name or email), for the timeline")
    owner: str | None = Field(default=None, description="assign: person id, email or Slack user id")
    severity: Severity | None = Field(default=None, description="severity: the new level")
    summary: str | None = Field(default=None, max_length=5000, description="resolve: the resolution summary")
    note: str | None = Field(default=None, max_length=2000)


class IncidentDetail(BaseModel):
    incident: Incident
    alerts_firing: int
    alerts_total: int
    alerts: list[AlertRecord]
    timeline: list[TimelineEntry]


class IncidentList(BaseModel):
    incidents: list[Incident]
    next_cursor: str | None = None


class ApiError(BaseModel):
    error: str
    detail: str | None = None
    field: str | None = None


def openapi_document(base_url: str) -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(m, "validation") for m in (ManualReport, ActionRequest, IncidentDetail, IncidentList, ApiError,
                                     CertInFlag, CertInAssessment, CertInReportFields, CertInSubmission,
                                     CertInUpdate, PartnerUpdate, FollowUpCreate, FollowUpList)],
        ref_template="#/components/schemas/{model}",
    )

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def responses(ok: int, model: str, desc: str) -> dict[str, Any]:
        err = {"content": {"application/json": {"schema": ref("ApiError")}}}
        return {str(ok): {"description": desc, "content": {"application/json": {"schema": ref(model)}}},
                "400": {"description": "invalid request", **err}, "401": {"description": "no or bad token", **err},
                "404": {"description": "not found", **err}}

    filters = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
               for n in ("status", "severity", "type", "cursor")]
    filters.append({"name": "limit", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Incident management API", "version": "1"},
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "components": {"schemas": schemas.get("$defs", {}),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/incidents": {
                "get": {"summary": "List incidents, newest first", "parameters": filters,
                        "responses": responses(200, "IncidentList", "a page of incidents")},
                "post": {"summary": "Report an incident by hand",
                         "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                         "schema": {"type": "string"}}],
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": ref("ManualReport")}}},
                         "responses": responses(201, "IncidentDetail", "the incident")},
            },
            "/incidents/{incident_id}/{action}": {
                "post": {"summary": "Acknowledge, assign, change severity, resolve or escalate",
                         "parameters": [
                             {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "string"}},
                             {"name": "action", "in": "path", "required": True,
                              "schema": {"type": "string", "enum": [a.value for a in Action]}}],
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": ref("ActionRequest")}}},
                         "responses": {**responses(200, "IncidentDetail", "the incident after the action"),
                                       "403": {"description": "the actor may not do this"},
                                       "409": {"description": "not possible in the incident's state"}}},
            },
            "/incidents/{incident_id}/cert-in": {
                "get": {"summary": "The CERT-In compliance record as Markdown (timestamps in UTC and IST)",
                        "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                        "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "Markdown", "content": {"text/markdown": {}}}}},
            },
            "/incidents/{incident_id}/cert-in/report": {
                "get": {"summary": "The CERT-In report draft (Markdown and a plain-text email)",
                        "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                        "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "the draft"}}},
            },
            **{f"/incidents/{{incident_id}}/cert-in/{step}": {
                "post": {"summary": f"CERT-In: {step}",
                         "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                         "schema": {"type": "string"}}],
                         "requestBody": {"required": True, "content": {"application/json": {"schema": ref(model)}}},
                         "responses": responses(200, "IncidentDetail", "the incident after the step")}}
               for step, model in (("flag", "CertInFlag"), ("assessment", "CertInAssessment"),
                                   ("report", "CertInReportFields"), ("submission", "CertInSubmission"),
                                   ("updates", "CertInUpdate"))},
            "/incidents/{incident_id}/partner-update": {
                "post": {"summary": "An update for the partner (a public reply on their ticket)",
                         "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                         "schema": {"type": "string"}}],
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": ref("PartnerUpdate")}}},
                         "responses": {**responses(200, "IncidentDetail", "the incident after the update"),
                                       "409": {"description": "not a partner incident"}}},
            },
            "/incidents/{incident_id}/follow-ups": {
                "get": {"summary": "Follow-up actions and their Plane work items (refresh=true asks Plane now)",
                        "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                        "schema": {"type": "string"}},
                                       {"name": "refresh", "in": "query", "required": False,
                                        "schema": {"type": "boolean"}}],
                        "responses": responses(200, "FollowUpList", "the follow-up actions")},
                "post": {"summary": "Add a follow-up action (prevention measure, system change): a Plane work item",
                         "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                         "schema": {"type": "string"}}],
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": ref("FollowUpCreate")}}},
                         "responses": responses(201, "FollowUpList", "the follow-up actions")},
            },
            "/incidents/{incident_id}": {
                "get": {"summary": "One incident with its alerts and timeline",
                        "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                        "schema": {"type": "string"}}],
                        "responses": responses(200, "IncidentDetail", "the incident")},
            },
        },
    }


class CertInFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    type: int | None = Field(default=None, ge=1, le=20, description="CERT-In Annexure I type")


class CertInAssessment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    reportable: bool
    type: int | None = Field(default=None, ge=1, le=20)
    reason: str = Field(min_length=3, max_length=5000)


class CertInReportFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    fields: dict[str, str] = Field(min_length=1, description="affected_systems, indicators, impact, "
                                   "security_systems, actions_taken, occurred_at, other")


class CertInSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    at: datetime
    method: Literal["email", "phone", "fax", "portal"]
    reference: str = Field(min_length=1, max_length=200, description="CERT-In's acknowledgement reference")


class CertInUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=3, max_length=5000)


class PartnerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=3, max_length=3000, description="what the partner reads (a public ticket reply)")


class FollowUpCreate(FollowUpRequest):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=200)


class FollowUpList(BaseModel):
    incident_id: str
    follow_ups: list[FollowUp]
