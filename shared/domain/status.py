"""The public status page: what partners and customers may see, and the rules for it. Pure.

Nothing internal ever reaches a public record: an incident's title, alert text, labels and service
names stay private. Public text is written by a person, or (for critical and high incidents of the
technical kind that affect a public component) comes from neutral templates (`PublicTexts`) that
only name components and their status. Security incidents show only what a person published.

Component status follows the worst open incident affecting it (severity critical -> major outage,
high -> partial outage, medium -> degraded performance, unless a person set it), then scheduled
maintenance in progress. Each status change is kept as an episode, from which the 90-day bars are
drawn. Time is always passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from shared.config.policy import StatusComponent, StatusPage
from shared.domain.model import Severity, stable_hash

HISTORY_DAYS = 90
RECENT_INCIDENTS = 50
RECENT_MAINTENANCES = 20
MAX_UPDATES = 30
APPLIED_EVENTS = 300


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    UNDER_MAINTENANCE = "under_maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @property
    def rank(self) -> int:
        return list(ComponentStatus).index(self)

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
}

SEVERITY_STATUS: dict[Severity, ComponentStatus] = {
    Severity.CRITICAL: ComponentStatus.MAJOR_OUTAGE,
    Severity.HIGH: ComponentStatus.PARTIAL_OUTAGE,
    Severity.MEDIUM: ComponentStatus.DEGRADED_PERFORMANCE,
}
AUTO_PUBLISHED = (Severity.CRITICAL, Severity.HIGH)

# Statuspage's incident impact and page indicator for the worst component status.
IMPACT: dict[ComponentStatus, str] = {
    ComponentStatus.OPERATIONAL: "none", ComponentStatus.UNDER_MAINTENANCE: "none",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor", ComponentStatus.PARTIAL_OUTAGE: "major",
    ComponentStatus.MAJOR_OUTAGE: "critical",
}
_IMPACT_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
INDICATOR: dict[ComponentStatus, tuple[str, str]] = {
    ComponentStatus.OPERATIONAL: ("none", "All Systems Operational"),
    ComponentStatus.UNDER_MAINTENANCE: ("maintenance", "Service Under Maintenance"),
    ComponentStatus.DEGRADED_PERFORMANCE: ("minor", "Minor Service Outage"),
    ComponentStatus.PARTIAL_OUTAGE: ("major", "Partial System Outage"),
    ComponentStatus.MAJOR_OUTAGE: ("critical", "Major System Outage"),
}


class PublicStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class MaintenanceStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


class AffectedComponent(BaseModel):
    code: str
    name: str
    old_status: ComponentStatus
    new_status: ComponentStatus


class PublicUpdate(BaseModel):
    id: str
    status: str
    body: str
    created_at: datetime
    affected_components: list[AffectedComponent] = Field(default_factory=list)
    deliver_notifications: bool = True
    by_person: bool = False


class PublicIncident(BaseModel):
    """The public face of one internal incident. `published` is False while it only moves components
    (a medium incident nobody wrote about); `restricted` marks a security incident (person-only text)."""

    id: str
    name: str = ""
    status: PublicStatus = PublicStatus.INVESTIGATING
    impact: str = "none"
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    updates: list[PublicUpdate] = Field(default_factory=list, description="newest first")
    components: dict[str, ComponentStatus] = Field(default_factory=dict, description="current effect")
    manual: list[str] = Field(default_factory=list, description="components whose status a person set")
    published: bool = False
    restricted: bool = False

    @property
    def open(self) -> bool:
        return self.status is not PublicStatus.RESOLVED


class Maintenance(BaseModel):
    id: str
    name: str
    scheduled_for: datetime
    scheduled_until: datetime
    components: list[str]
    created_at: datetime
    updated_at: datetime
    set_status: MaintenanceStatus | None = Field(default=None, description="a person's explicit status")
    completed_at: datetime | None = None
    updates: list[PublicUpdate] = Field(default_factory=list, description="newest first")

    def status_at(self, now: datetime) -> MaintenanceStatus:
        if self.set_status is MaintenanceStatus.COMPLETED:
            return MaintenanceStatus.COMPLETED
        if self.set_status in (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING):
            return self.set_status if now < self.scheduled_until else MaintenanceStatus.COMPLETED
        if now < self.scheduled_for:
            return MaintenanceStatus.SCHEDULED
        if now < self.scheduled_until:
            return MaintenanceStatus.IN_PROGRESS
        return MaintenanceStatus.COMPLETED

    def active_at(self, now: datetime) -> bool:
        return self.status_at(now) in (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)

    def ends_at(self) -> datetime:
        return self.completed_at or self.scheduled_until


class Episode(BaseModel):
    """A span in which an incident held a component at `status` (maintenance windows are kept apart)."""

    status: ComponentStatus
    start: datetime
    end: datetime | None = None


class PageState(BaseModel):
    """Everything the status page shows. Stored as two small documents (open and recent)."""

    created_at: datetime
    updated_at: datetime
    incidents: dict[str, PublicIncident] = Field(default_factory=dict)
    maintenances: dict[str, Maintenance] = Field(default_factory=dict)
    episodes: dict[str, list[Episode]] = Field(default_factory=dict)
    applied: list[str] = Field(default_factory=list, description="recent event ids, for duplicates")

    @classmethod
    def empty(cls, now: datetime) -> PageState:
        return cls(created_at=now, updated_at=now)


class IncidentFacts(BaseModel):
    """What the status rules may know about an internal incident; never shown as such."""

    id: str
    severity: Severity
    security: bool
    service: str | None
    resolved: bool
    detected_at: datetime


class PersonUpdate(BaseModel):
    """A person's public update: their text, the public status, and optionally each component's status."""

    update_id: str
    body: str
    status: PublicStatus
    name: str | None = None
    components: dict[str, ComponentStatus] | None = None
    notify: bool = True
    actor: str


class Announcement(BaseModel):
    """One public update just made: subscribers of `components` are told about it."""

    update_id: str
    kind: str  # "incident" | "maintenance"
    record_id: str
    components: list[str]
    notify: bool


class Outcome(BaseModel):
    state: PageState
    announcements: list[Announcement] = Field(default_factory=list)
    timeline: list[str] = Field(default_factory=list, description="texts for the incident's timeline")
    changed: bool = False


class PublicTexts(Protocol):
    """Neutral wording from templates: only component names and their status go in."""

    def incident_name(self, components: list[str], status: ComponentStatus) -> str: ...

    def investigating(self, components: list[str], status: ComponentStatus) -> str: ...

    def impact_changed(self, components: list[str], status: ComponentStatus) -> str: ...

    def resolved(self, components: list[str]) -> str: ...


class StatusRefused(ValueError):
    """A person's update or maintenance that cannot apply; `field` names what is wrong."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.field = field
        self.status = status


# ---- identities ----------------------------------------------------------------------------------


def public_id(incident_id: str) -> str:
    """An opaque public id: readers never learn internal incident numbers."""
    return stable_hash("status-incident", incident_id, length=12)


def components_for(page: StatusPage, service: str | None) -> list[StatusComponent]:
    if not service:
        return []
    wanted = service.strip().lower()
    return [c for c in page.components if wanted in (s.lower() for s in c.services)]


def component_names(page: StatusPage, ids: list[str]) -> list[str]:
    by_id = {c.id: c.name for c in page.components}
    return [by_id[i] for i in ids if i in by_id]


def worst(statuses: list[ComponentStatus]) -> ComponentStatus:
    return max(statuses, key=lambda s: s.rank, default=ComponentStatus.OPERATIONAL)


# ---- reading the state ---------------------------------------------------------------------------


def incident_status_of(state: PageState, component_id: str) -> ComponentStatus:
    """The worst open incident's effect on the component (maintenance aside)."""
    return worst([i.components[component_id] for i in state.incidents.values()
                  if i.open and component_id in i.components])


def component_status(state: PageState, component_id: str, now: datetime) -> ComponentStatus:
    status = incident_status_of(state, component_id)
    if status is ComponentStatus.OPERATIONAL and any(
            m.active_at(now) and component_id in m.components for m in state.maintenances.values()):
        return ComponentStatus.UNDER_MAINTENANCE
    return status


def component_updated_at(state: PageState, component_id: str, now: datetime) -> datetime:
    times = [e.end or e.start for e in state.episodes.get(component_id, [])]
    times += [e.start for e in state.episodes.get(component_id, [])]
    for m in state.maintenances.values():
        if component_id in m.components:
            times += [t for t in (m.scheduled_for, m.ends_at()) if t <= now]
    return max(times, default=state.created_at)


def overall(state: PageState, page: StatusPage, now: datetime) -> tuple[str, str]:
    """Statuspage's indicator and description: the worst component, or a minor incident with no component."""
    statuses = [component_status(state, c.id, now) for c in page.components]
    indicator, description = INDICATOR[worst(statuses)]
    if indicator in ("none", "maintenance") and any(i.open and i.published for i in state.incidents.values()):
        return INDICATOR[ComponentStatus.DEGRADED_PERFORMANCE]
    return indicator, description


def visible_incidents(state: PageState) -> list[PublicIncident]:
    """Published incidents, newest first."""
    return sorted((i for i in state.incidents.values() if i.published), key=lambda i: i.created_at, reverse=True)


# ---- the rules -----------------------------------------------------------------------------------


def sync_incident(state: PageState, page: StatusPage, facts: IncidentFacts, now: datetime,
                  texts: PublicTexts, event_id: str | None = None) -> Outcome:
    """Make the page follow the incident's current state (it is re-read, so events may come in any order).

    Idempotent: an event already applied, or a state the page already shows, changes nothing.
    """
    if event_id and event_id in state.applied:
        return Outcome(state=state)
    new = state.model_copy(deep=True)
    out = Outcome(state=new)
    pid = public_id(facts.id)
    record = new.incidents.get(pid)
    before = _incident_statuses(new, page)
    if facts.security:
        if record is not None and facts.resolved and record.open:  # what a person published stays; no text
            record.status, record.resolved_at, record.updated_at = PublicStatus.RESOLVED, now, now
            out.changed = True
    else:
        out.changed = _sync_technical(new, page, facts, record, pid, now, texts, out)
    if event_id:
        new.applied = [*new.applied, event_id][-APPLIED_EVENTS:]
    if out.changed:
        _close_episodes(new, page, before, now)
        new.updated_at = now
    return out


def _sync_technical(state: PageState, page: StatusPage, facts: IncidentFacts, record: PublicIncident | None,
                    pid: str, now: datetime, texts: PublicTexts, out: Outcome) -> bool:
    comps = [c.id for c in components_for(page, facts.service)]
    auto_status = SEVERITY_STATUS.get(facts.severity)
    if facts.resolved:
        if record is None or not record.open:
            return False
        if record.published:
            names = component_names(page, list(record.components) or comps)
            _add_update(state, page, record, PublicStatus.RESOLVED, texts.resolved(names), now,
                        {c: ComponentStatus.OPERATIONAL for c in record.components}, out, by_person=False,
                        notify=True, key="resolved")
        else:
            record.status, record.resolved_at, record.updated_at = PublicStatus.RESOLVED, now, now
            record.components = {}
        return True
    if record is not None and not record.open:  # a person closed it publicly: it stays closed
        return False
    manual = record.manual if record else []
    wanted = {c: s for c, s in (record.components if record else {}).items() if c in manual}  # a person's choice
    wanted |= {c: auto_status for c in comps if c not in manual and auto_status is not None}
    if record is None:
        if not wanted:
            return False
        record = PublicIncident(id=pid, created_at=now, updated_at=now, started_at=facts.detected_at)
        state.incidents[pid] = record
    changed_effect = wanted != record.components
    publish = facts.severity in AUTO_PUBLISHED and not record.published
    if publish and wanted:
        record.name = record.name or texts.incident_name(component_names(page, comps), worst(list(wanted.values())))
        _add_update(state, page, record, PublicStatus.INVESTIGATING, texts.investigating(
            component_names(page, comps), worst(list(wanted.values()))), now, wanted, out, by_person=False,
            notify=True, key=f"open-{facts.severity}")
        return True
    if not changed_effect:
        return False
    changed = [c for c in {**record.components, **wanted} if record.components.get(c) != wanted.get(c)]
    if record.published and changed and wanted:
        effect = {c: wanted.get(c, ComponentStatus.OPERATIONAL) for c in {**record.components, **wanted}}
        _add_update(state, page, record, record.status, texts.impact_changed(
            component_names(page, changed), worst([effect[c] for c in changed])), now, effect, out,
            by_person=False, notify=True, key=f"impact-{facts.severity}-{now.isoformat()}")
    else:
        record.components = wanted
        record.updated_at = now
    return True


def person_update(state: PageState, page: StatusPage, facts: IncidentFacts, update: PersonUpdate,
                  now: datetime, texts: PublicTexts) -> Outcome:
    """A person publishes (or continues) the incident's public record. Idempotency key: `update.update_id`."""
    new = state.model_copy(deep=True)
    out = Outcome(state=new)
    pid = public_id(facts.id)
    record = new.incidents.get(pid)
    if record is not None and any(u.id == update.update_id for u in record.updates):
        return out
    known = {c.id for c in page.components}
    unknown = sorted(set(update.components or {}) - known)
    if unknown:
        raise StatusRefused(f"unknown component {unknown[0]!r}; known: {', '.join(sorted(known))}", "components")
    if any(s is ComponentStatus.UNDER_MAINTENANCE for s in (update.components or {}).values()):
        raise StatusRefused("under_maintenance is for scheduled maintenance, not incidents", "components")
    if record is None:
        record = PublicIncident(id=pid, created_at=now, updated_at=now, started_at=facts.detected_at,
                                restricted=facts.security)
        new.incidents[pid] = record
    before = _incident_statuses(new, page)
    effect = dict(record.components)
    if update.components is not None:
        effect |= update.components
        record.manual = sorted(set(record.manual) | set(update.components))
    elif not facts.security and not effect and facts.severity in SEVERITY_STATUS:
        effect = {c.id: SEVERITY_STATUS[facts.severity] for c in components_for(page, facts.service)}
    effect = {c: s for c, s in effect.items() if s is not ComponentStatus.OPERATIONAL or c in record.manual}
    if update.status is PublicStatus.RESOLVED:
        effect = {c: ComponentStatus.OPERATIONAL for c in effect}
    if update.name:
        record.name = update.name
    if not record.name:
        names = component_names(page, [c for c, s in effect.items() if s is not ComponentStatus.OPERATIONAL])
        record.name = texts.incident_name(names, worst(list(effect.values()))) if names else "Service disruption"
    _add_update(new, page, record, update.status, update.body, now, effect, out, by_person=True,
                notify=update.notify, update_id=update.update_id)
    out.timeline.append(f"Status page updated by {update.actor} ({update.status.value}): {update.body}")
    _close_episodes(new, page, before, now)
    new.updated_at = now
    out.changed = True
    return out


def _add_update(state: PageState, page: StatusPage, record: PublicIncident, status: PublicStatus, body: str,
                now: datetime, effect: dict[str, ComponentStatus], out: Outcome, *, by_person: bool, notify: bool,
                key: str = "", update_id: str | None = None) -> None:
    update_id = update_id or stable_hash(record.id, "auto", key)
    if any(u.id == update_id for u in record.updates):
        return
    names = {c.id: c.name for c in page.components}
    old = record.components
    affected = [AffectedComponent(code=c, name=names[c], old_status=old.get(c, ComponentStatus.OPERATIONAL),
                                  new_status=s) for c, s in effect.items() if c in names]
    record.updates = [PublicUpdate(id=update_id, status=status.value, body=body, created_at=now,
                                   affected_components=affected, deliver_notifications=notify,
                                   by_person=by_person), *record.updates][:MAX_UPDATES]
    record.status = status
    record.published = True
    record.updated_at = now
    if status is PublicStatus.MONITORING and record.monitoring_at is None:
        record.monitoring_at = now
    if status is PublicStatus.RESOLVED:
        record.resolved_at = now
        record.components = {}
    else:
        record.resolved_at = None
        record.components = {c: s for c, s in effect.items() if s is not ComponentStatus.OPERATIONAL}
    peak = worst([a.new_status for a in affected])
    if _IMPACT_RANK[IMPACT[peak]] > _IMPACT_RANK[record.impact]:
        record.impact = IMPACT[peak]
    out.announcements.append(Announcement(update_id=update_id, kind="incident", record_id=record.id,
                                          components=sorted(effect), notify=notify))
    if not by_person:
        out.timeline.append(f"Status page updated ({status.value}): {body}")


# ---- history -------------------------------------------------------------------------------------


def _incident_statuses(state: PageState, page: StatusPage) -> dict[str, ComponentStatus]:
    return {c.id: incident_status_of(state, c.id) for c in page.components}


def _close_episodes(state: PageState, page: StatusPage, before: dict[str, ComponentStatus], now: datetime) -> None:
    """Each change of a component's incident status ends its current episode and, unless operational, opens one."""
    horizon = now - timedelta(days=HISTORY_DAYS + 1)
    for component_id, old in before.items():
        current = incident_status_of(state, component_id)
        episodes = [e for e in state.episodes.get(component_id, []) if e.end is None or e.end >= horizon]
        if current is not old:
            for episode in episodes:
                if episode.end is None:
                    episode.end = now
            if current is not ComponentStatus.OPERATIONAL:
                episodes.append(Episode(status=current, start=now))
        if episodes:
            state.episodes[component_id] = episodes[-500:]
        else:
            state.episodes.pop(component_id, None)


# ---- storage split -------------------------------------------------------------------------------


def split(state: PageState, now: datetime) -> tuple[PageState, PageState]:
    """(open, recent): what summary.json needs in one document, and the resolved past in another.

    Unpublished records are dropped once resolved; the recent part keeps the newest published
    incidents and completed maintenances only, so both documents stay small.
    """
    open_part = state.model_copy(update={
        "incidents": {k: v for k, v in state.incidents.items() if v.open},
        "maintenances": {k: v for k, v in state.maintenances.items()
                         if v.status_at(now) is not MaintenanceStatus.COMPLETED},
    })
    resolved = sorted((i for i in state.incidents.values() if not i.open and i.published),
                      key=lambda i: i.updated_at, reverse=True)[:RECENT_INCIDENTS]
    done = sorted((m for m in state.maintenances.values() if m.status_at(now) is MaintenanceStatus.COMPLETED),
                  key=lambda m: m.ends_at(), reverse=True)[:RECENT_MAINTENANCES]
    recent = PageState(created_at=state.created_at, updated_at=state.updated_at,
                       incidents={i.id: i for i in resolved}, maintenances={m.id: m for m in done})
    return open_part, recent


def merge(open_part: PageState, recent: PageState | None) -> PageState:
    if recent is None:
        return open_part
    return open_part.model_copy(update={"incidents": {**recent.incidents, **open_part.incidents},
                                        "maintenances": {**recent.maintenances, **open_part.maintenances}})
