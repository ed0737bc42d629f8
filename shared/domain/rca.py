"""Root cause analyses: the structured record the policy asks for, its draft and its life cycle. Pure.

An RCA moves draft → in_review → published (in_review → draft when the review asks for changes).
Published RCAs are the repository: they are no longer edited. The draft is pre-filled from what the
system already knows (timeline, alerts, acknowledgement and escalation, resolution summary), so people
write only what needs judgement: causes, what went well and badly, prevention measures, lessons.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.incident import Incident, TimelineEntry
from shared.domain.model import Severity


class RcaStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


# Allowed moves; anything else is refused (HTTP 409).
TRANSITIONS: dict[RcaStatus, tuple[RcaStatus, ...]] = {
    RcaStatus.DRAFT: (RcaStatus.IN_REVIEW,),
    RcaStatus.IN_REVIEW: (RcaStatus.PUBLISHED, RcaStatus.DRAFT),
    RcaStatus.PUBLISHED: (),
}

# The text sections, in the order of the company's structured format.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "impact": "Impact",
    "detection": "Detection",
    "response": "Response",
    "resolution": "Resolution",
    "primary_cause": "Primary cause",
    "contributing_causes": "Contributing causes",
    "went_well": "What went well",
    "went_badly": "What went badly",
    "lessons_learned": "Lessons learned",
}
REQUIRED_FOR_REVIEW = ("primary_cause",)
REQUIRED_FOR_PUBLISHING = ("primary_cause", "lessons_learned")
MAX_TIMELINE = 300  # entries copied into the RCA (the incident's own timeline keeps everything)


class TransitionRefused(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class PreventionMeasure(BaseModel):
    """A follow-up action. `id` is stable (PM-1, PM-2, ...) so a Plane work item can be linked to it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^PM-\d+$")
    action: str = Field(min_length=3, max_length=1000)
    owner: str = Field(min_length=1, max_length=200)
    due: date
    status: str = Field(default="open", pattern=r"^(open|done|dropped)$")
    link: str | None = Field(default=None, max_length=500, description="e.g. the Plane work item")


class RcaEntry(BaseModel):
    at: datetime
    text: str
    actor: str = "system"
    source: str = "system"


class HistoryItem(BaseModel):
    at: datetime
    by: str
    what: str


class Rca(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    incident_id: str | None = None
    title: str
    date: date
    severity: Severity
    status: RcaStatus = RcaStatus.DRAFT
    historical: bool = Field(default=False, description="imported from the repository that predates this system")
    service: str | None = None
    incident_type: str | None = None
    detected_at: datetime | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    review_due_at: datetime | None = None
    owner: str | None = None
    sections: dict[str, str] = Field(default_factory=dict)
    timeline: list[RcaEntry] = Field(default_factory=list)
    prevention_measures: list[PreventionMeasure] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    history: list[HistoryItem] = Field(default_factory=list)
    source_url: str | None = None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].rstrip("-")


def historical_id(day: date, title: str) -> str:
    return f"RCA-{day.isoformat()}-{slug(title)}"


def draft(incident: Incident, timeline: list[TimelineEntry], *, rca_id: str, alerts_total: int, pages_sent: int,
          now: datetime) -> Rca:
    """The RCA pre-filled from the incident and its timeline."""
    entries = [e for e in timeline if e.kind != "page.sent"][:MAX_TIMELINE]
    resolved = incident.resolved_at or now
    sections = {key: "" for key in SECTIONS}
    sections["summary"] = f"{incident.title}. {incident.summary}".strip() if incident.summary else incident.title
    sections["impact"] = (
        f"{incident.severity.value.capitalize()} incident on {incident.service or 'an unknown service'} "
        f"for {_duration(resolved - incident.detected_at)} (detected {incident.detected_at:%Y-%m-%d %H:%M} UTC, "
        f"resolved {resolved:%Y-%m-%d %H:%M} UTC); {alerts_total} distinct alert(s). "
        "Describe who was affected and how (partners, customers, transactions).")
    sections["detection"] = _detection(incident, timeline)
    sections["response"] = _response(incident, pages_sent)
    sections["resolution"] = incident.resolution_summary or ""
    well, badly = _went(incident)
    sections["went_well"], sections["went_badly"] = well, badly
    return Rca(id=rca_id, incident_id=incident.id, title=incident.title, date=incident.detected_at.date(),
               severity=incident.severity, service=incident.service, incident_type=incident.type,
               detected_at=incident.detected_at, acknowledged_at=incident.acknowledged_at,
               mitigated_at=incident.mitigated_at or incident.alerts_resolved_at, resolved_at=incident.resolved_at,
               review_due_at=incident.review.due_at if incident.review else None, owner=incident.owner,
               sections=sections, timeline=[RcaEntry(at=e.at, text=e.text, actor=e.actor, source=e.source)
                                            for e in entries],
               created_at=now, updated_at=now, history=[HistoryItem(at=now, by="system", what="drafted")])


def _detection(incident: Incident, timeline: list[TimelineEntry]) -> str:
    how = "reported by a person" if incident.source in ("manual", "slack", "api") else (
        f"alert from {incident.source}")
    text = f"Detected at {incident.detected_at:%Y-%m-%d %H:%M} UTC: {how}"
    if incident.reporter:
        text += f" ({incident.reporter})"
    text += f"; incident opened at {incident.created_at:%H:%M} UTC."
    first_alert = next((e for e in timeline if e.kind.startswith("alert")), None)
    if first_alert is not None:
        text += f" First alert: {first_alert.text}"
    return text


def _response(incident: Incident, pages_sent: int) -> str:
    parts = []
    if incident.acknowledged_at:
        parts.append(f"Acknowledged by {incident.acknowledged_by or 'someone'} after "
                     f"{_duration(incident.acknowledged_at - incident.created_at)}.")
    else:
        parts.append("Never acknowledged before resolution.")
    if incident.escalation is not None:
        levels = incident.escalation.level + 1
        parts.append(f"Escalation reached level {levels} of {len(incident.escalation.plan)}; "
                     f"{pages_sent} page(s) sent.")
    if incident.owner:
        parts.append(f"Owner: {incident.owner}.")
    if incident.review and incident.review.changes:
        parts.append("Emergency changes: " + "; ".join(f"{c.id} {c.text}" for c in incident.review.changes) + ".")
    return " ".join(parts)


def _went(incident: Incident) -> tuple[str, str]:
    well, badly = [], []
    state = incident.escalation
    if state is not None and state.response_breached_at is not None:
        badly.append("- The response target was missed: nobody acknowledged in time.")
    elif incident.acknowledged_at is not None:
        well.append("- Acknowledged within the response target.")
    if state is not None and state.level > 0:
        badly.append(f"- The incident had to be escalated {state.level} level(s).")
    if incident.cert_in is not None and incident.cert_in.breached_at is not None:
        badly.append("- The CERT-In 6-hour reporting deadline passed without a submitted report.")
    return "\n".join(well), "\n".join(badly)


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def edit(rca: Rca, *, by: str, now: datetime, sections: dict[str, str] | None = None,
         prevention_measures: list[dict[str, Any]] | None = None, title: str | None = None) -> Rca:
    """Change sections or measures of an RCA not yet published. Measures without an id get the next one."""
    if rca.status is RcaStatus.PUBLISHED:
        raise TransitionRefused("published", f"{rca.id} is published; the repository keeps it as it is")
    unknown = sorted(set(sections or {}) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    new = rca.model_copy(deep=True)
    changed = []
    for key, value in (sections or {}).items():
        new.sections[key] = value.strip()
        changed.append(key)
    if prevention_measures is not None:
        new.prevention_measures = numbered(rca.prevention_measures, prevention_measures)
        changed.append("prevention_measures")
    if title is not None:
        new.title = title.strip()
        changed.append("title")
    new.updated_at = now
    new.history.append(HistoryItem(at=now, by=by, what="edited " + ", ".join(changed)))
    return new


def numbered(old: list[PreventionMeasure], items: list[dict[str, Any]]) -> list[PreventionMeasure]:
    """Keeps given ids (they are stable links); new measures take numbers never used before in this RCA."""
    used = [int(m.id[3:]) for m in old] + [int(str(i["id"])[3:]) for i in items
                                           if re.fullmatch(r"PM-\d+", str(i.get("id", "")))]
    counter = max(used, default=0)
    out = []
    for item in items:
        if not item.get("id"):
            counter += 1
            item = {**item, "id": f"PM-{counter}"}
        out.append(PreventionMeasure.model_validate(item))
    ids = [m.id for m in out]
    if len(ids) != len(set(ids)):
        raise ValueError("prevention measure ids must be unique")
    return out


def transition(rca: Rca, to: RcaStatus, *, by: str, now: datetime) -> Rca:
    if to is rca.status:
        return rca
    if to not in TRANSITIONS[rca.status]:
        allowed = ", ".join(s.value for s in TRANSITIONS[rca.status]) or "nothing (it is final)"
        raise TransitionRefused("invalid_transition",
                                f"{rca.id} is {rca.status.value}; it can move to {allowed}, not {to.value}")
    needed = REQUIRED_FOR_PUBLISHING if to is RcaStatus.PUBLISHED else (
        REQUIRED_FOR_REVIEW if to is RcaStatus.IN_REVIEW else ())
    missing = [SECTIONS[k] for k in needed if not rca.sections.get(k, "").strip()]
    if missing:
        raise TransitionRefused("incomplete", f"{rca.id} cannot move to {to.value}: write "
                                f"{', '.join(missing)} first")
    new = rca.model_copy(deep=True)
    new.status = to
    new.updated_at = now
    if to is RcaStatus.PUBLISHED:
        new.published_at = now
    new.history.append(HistoryItem(at=now, by=by, what=f"moved to {to.value}"))
    return new
