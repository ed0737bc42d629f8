"""The 90-day history of each component as daily bars, from its episodes and maintenance windows. Pure."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel

from shared.domain.status import HISTORY_DAYS, ComponentStatus, MaintenanceStatus, PageState, worst


class DayBar(BaseModel):
    day: date
    status: ComponentStatus
    minutes_affected: int = 0
    no_data: bool = False


def daily_bars(state: PageState, component_id: str, now: datetime, days: int = HISTORY_DAYS) -> list[DayBar]:
    """The worst status of each of the last `days` UTC days, oldest first (today last, up to `now`)."""
    today = now.date()
    first = today - timedelta(days=days - 1)
    spans = [(e.start, e.end or now, e.status) for e in state.episodes.get(component_id, [])]
    spans += [(m.scheduled_for, min(m.ends_at(), now), ComponentStatus.UNDER_MAINTENANCE)
              for m in state.maintenances.values() if component_id in m.components and m.scheduled_for <= now
              and m.status_at(now) is not MaintenanceStatus.SCHEDULED]
    tracked_from = state.created_at.date()
    bars = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        start = datetime.combine(day, datetime.min.time(), tzinfo=now.tzinfo)
        end = start + timedelta(days=1)
        hits = [(max(s, start), min(e, end), st) for s, e, st in spans if s < end and e > start]
        minutes = sum(int((e - s).total_seconds() // 60) for s, e, st in hits
                      if st is not ComponentStatus.UNDER_MAINTENANCE)
        bars.append(DayBar(day=day, status=worst([st for _, _, st in hits]), minutes_affected=minutes,
                           no_data=day < tracked_from))
    return bars


def uptime_percent(bars: list[DayBar]) -> float:
    """Share of tracked minutes without an incident (maintenance counts as up), over the bars' days."""
    tracked = [b for b in bars if not b.no_data]
    if not tracked:
        return 100.0
    down = sum(b.minutes_affected for b in tracked)
    return round(100.0 * (1 - down / (len(tracked) * 24 * 60)), 2)
