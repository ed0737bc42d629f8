"""Incident metrics over a period. Pure: incidents and pages in, numbers out.

Every duration is measured from when the incident opened (`created_at`, the moment the system paged):
- time to acknowledge: until `acknowledged_at` (incidents never acknowledged are not counted);
- time to mitigate: until impact stopped, `mitigated_at` (marked by a person) or else the moment every
  alert resolved (`alerts_resolved_at`), or else resolution;
- time to resolve: until `resolved_at`.
A response-target breach is an incident whose escalation recorded `response_breached_at`.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta

from pydantic import BaseModel

from shared.domain.incident import Incident
from shared.domain.model import Severity


class Duration(BaseModel):
    count: int
    median_seconds: float | None
    mean_seconds: float | None


class PersonPages(BaseModel):
    person_id: str
    name: str
    pages: int


class Metrics(BaseModel):
    since: datetime
    until: datetime
    incidents: int
    open: int
    resolved: int
    by_severity: dict[str, int]
    by_type: dict[str, int]
    by_service: dict[str, int]
    time_to_acknowledge: Duration
    time_to_mitigate: Duration
    time_to_resolve: Duration
    response_breaches: int
    breached_incidents: list[str]
    pages_per_person: list[PersonPages]
    truncated: bool = False


class PageRecord(BaseModel):
    person_id: str
    name: str
    at: datetime


class Week(BaseModel):
    start: datetime
    incidents: int
    mtta_median_seconds: float | None
    mttr_median_seconds: float | None


def mitigation_time(incident: Incident) -> datetime | None:
    return incident.mitigated_at or incident.alerts_resolved_at or incident.resolved_at


def _duration(values: list[float]) -> Duration:
    if not values:
        return Duration(count=0, median_seconds=None, mean_seconds=None)
    return Duration(count=len(values), median_seconds=float(statistics.median(values)),
                    mean_seconds=float(statistics.fmean(values)))


def _seconds(incidents: list[Incident], end) -> list[float]:
    out = []
    for i in incidents:
        at = end(i)
        if at is not None:
            out.append(max(0.0, (at - i.created_at).total_seconds()))
    return out


def compute(incidents: list[Incident], pages: list[PageRecord], since: datetime, until: datetime,
            truncated: bool = False) -> Metrics:
    """Incidents opened in [since, until); pages sent in the same period."""
    chosen = [i for i in incidents if since <= i.created_at < until]
    severities = Counter(i.severity.value for i in chosen)
    breached = sorted(i.id for i in chosen if i.escalation is not None and i.escalation.response_breached_at)
    per_person: dict[str, PersonPages] = {}
    for page in pages:
        if since <= page.at < until:
            entry = per_person.setdefault(page.person_id, PersonPages(person_id=page.person_id, name=page.name,
                                                                      pages=0))
            entry.pages += 1
    return Metrics(
        since=since, until=until, incidents=len(chosen),
        open=sum(1 for i in chosen if i.resolved_at is None),
        resolved=sum(1 for i in chosen if i.resolved_at is not None),
        by_severity={s.value: severities.get(s.value, 0) for s in Severity},
        by_type=dict(sorted(Counter(i.type for i in chosen).items())),
        by_service=dict(sorted(Counter(i.service or "unknown" for i in chosen).items())),
        time_to_acknowledge=_duration(_seconds(chosen, lambda i: i.acknowledged_at)),
        time_to_mitigate=_duration(_seconds(chosen, mitigation_time)),
        time_to_resolve=_duration(_seconds(chosen, lambda i: i.resolved_at)),
        response_breaches=len(breached), breached_incidents=breached,
        pages_per_person=sorted(per_person.values(), key=lambda p: (-p.pages, p.person_id)),
        truncated=truncated,
    )


def week_start(at: datetime) -> datetime:
    """Monday 00:00 of the week (in the time zone of `at`)."""
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weekly(incidents: list[Incident], until: datetime, weeks: int) -> list[Week]:
    """The last `weeks` weeks ending with the one that holds `until`, oldest first."""
    last = week_start(until)
    out = []
    for n in range(weeks - 1, -1, -1):
        start = last - timedelta(weeks=n)
        end = start + timedelta(weeks=1)
        chosen = [i for i in incidents if start <= i.created_at < end]
        tta = _seconds(chosen, lambda i: i.acknowledged_at)
        ttr = _seconds(chosen, lambda i: i.resolved_at)
        out.append(Week(start=start, incidents=len(chosen),
                        mtta_median_seconds=float(statistics.median(tta)) if tta else None,
                        mttr_median_seconds=float(statistics.median(ttr)) if ttr else None))
    return out


def human(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
