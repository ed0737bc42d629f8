"""The page state in Atlassian Statuspage's public v2 JSON shapes, so existing readers work unchanged. Pure.

Only the fields of those shapes are emitted: a record's internal flags never leave this module.
Component ids are the policy's ids (groups use their group key); incident ids are opaque hashes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.config.policy import StatusPage
from shared.domain.model import stable_hash
from shared.domain.status import (
    ComponentStatus,
    Maintenance,
    MaintenanceStatus,
    PageState,
    PublicIncident,
    PublicUpdate,
    component_status,
    component_updated_at,
    overall,
    visible_incidents,
    worst,
)

LIST_LIMIT = 50


def ts(at: datetime | None) -> str | None:
    """Statuspage's timestamp form: UTC, milliseconds, `Z`."""
    if at is None:
        return None
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class View:
    """Builds every document for one state at one moment."""

    def __init__(self, page: StatusPage, state: PageState, now: datetime, url: str, time_zone: str):
        self.page, self.state, self.now, self.url, self.time_zone = page, state, now, url.rstrip("/"), time_zone
        self.page_id = stable_hash("status-page", page.title, length=12)

    # ---- shapes --------------------------------------------------------------------------------

    def page_object(self) -> dict[str, Any]:
        return {"id": self.page_id, "name": self.page.title, "url": self.url, "time_zone": self.time_zone,
                "updated_at": ts(self.updated_at())}

    def updated_at(self) -> datetime:
        times = [self.state.updated_at]
        times += [m.scheduled_for for m in self.state.maintenances.values() if m.scheduled_for <= self.now]
        times += [m.ends_at() for m in self.state.maintenances.values() if m.ends_at() <= self.now]
        return max(times)

    def status_object(self) -> dict[str, Any]:
        indicator, description = overall(self.state, self.page, self.now)
        return {"indicator": indicator, "description": description}

    def components(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        position = 0
        group_ids = list(self.page.groups)
        for comp in self.page.components:
            if comp.group is None:
                position += 1
                out.append(self._component(comp.id, comp.name, comp.description or None, position, None))
        for group in group_ids:
            children = [c for c in self.page.components if c.group == group]
            if not children:
                continue
            position += 1
            statuses = [component_status(self.state, c.id, self.now) for c in children]
            item = self._component(group, self.page.groups[group], None, position, None, status=worst(statuses),
                                   updated=max(component_updated_at(self.state, c.id, self.now) for c in children))
            item |= {"group": True, "components": [c.id for c in children]}
            out.append(item)
            for child in children:
                position += 1
                out.append(self._component(child.id, child.name, child.description or None, position, group))
        return out

    def _component(self, cid: str, name: str, description: str | None, position: int, group_id: str | None,
                   status: ComponentStatus | None = None, updated: datetime | None = None) -> dict[str, Any]:
        status = status or component_status(self.state, cid, self.now)
        return {"id": cid, "name": name, "status": status.value, "created_at": ts(self.state.created_at),
                "updated_at": ts(updated or component_updated_at(self.state, cid, self.now)),
                "position": position, "description": description, "showcase": True,
                "start_date": None, "group_id": group_id, "page_id": self.page_id, "group": False,
                "only_show_if_degraded": False}

    def _component_refs(self, ids: list[str]) -> list[dict[str, Any]]:
        by_id = {c["id"]: c for c in self.components()}
        return [by_id[i] for i in ids if i in by_id]

    def incident(self, record: PublicIncident) -> dict[str, Any]:
        affected = list(record.components) or list(dict.fromkeys(
            a.code for u in record.updates for a in u.affected_components))
        return {
            "id": record.id, "name": record.name, "status": record.status.value, "impact": record.impact,
            "created_at": ts(record.created_at), "updated_at": ts(record.updated_at),
            "monitoring_at": ts(record.monitoring_at), "resolved_at": ts(record.resolved_at),
            "started_at": ts(record.started_at), "shortlink": f"{self.url}/#incident-{record.id}",
            "page_id": self.page_id,
            "incident_updates": [self._update(u, record.id) for u in record.updates],
            "components": self._component_refs(affected),
        }

    def _update(self, update: PublicUpdate, record_id: str) -> dict[str, Any]:
        return {"id": update.id, "status": update.status, "body": update.body, "incident_id": record_id,
                "created_at": ts(update.created_at), "updated_at": ts(update.created_at),
                "display_at": ts(update.created_at),
                "affected_components": [a.model_dump(mode="json") for a in update.affected_components],
                "deliver_notifications": update.deliver_notifications, "custom_tweet": None, "tweet_id": None}

    def maintenance(self, item: Maintenance) -> dict[str, Any]:
        status = item.status_at(self.now)
        return {
            "id": item.id, "name": item.name, "status": status.value, "impact": "maintenance",
            "created_at": ts(item.created_at), "updated_at": ts(item.updated_at),
            "monitoring_at": None, "resolved_at": ts(item.ends_at()) if status is MaintenanceStatus.COMPLETED else None,
            "started_at": ts(item.scheduled_for), "shortlink": f"{self.url}/#maintenance-{item.id}",
            "page_id": self.page_id, "scheduled_for": ts(item.scheduled_for),
            "scheduled_until": ts(item.scheduled_until),
            "incident_updates": [self._update(u, item.id) for u in item.updates],
            "components": self._component_refs(item.components),
        }

    # ---- lists ---------------------------------------------------------------------------------

    def incidents(self, unresolved_only: bool = False) -> list[dict[str, Any]]:
        records = [i for i in visible_incidents(self.state) if i.open or not unresolved_only]
        return [self.incident(i) for i in records[:LIST_LIMIT]]

    def maintenances(self, which: str = "all") -> list[dict[str, Any]]:
        wanted = {"upcoming": {MaintenanceStatus.SCHEDULED},
                  "active": {MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING},
                  "summary": {MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING},
                  "all": set(MaintenanceStatus)}[which]
        items = sorted((m for m in self.state.maintenances.values() if m.status_at(self.now) in wanted),
                       key=lambda m: m.scheduled_for, reverse=which == "all")
        return [self.maintenance(m) for m in items[:LIST_LIMIT]]

    # ---- documents (the paths of DESIGN.md section 5) -------------------------------------------

    def document(self, name: str) -> dict[str, Any] | None:
        page = {"page": self.page_object()}
        return {
            "summary.json": lambda: page | {"status": self.status_object(), "components": self.components(),
                                            "incidents": self.incidents(unresolved_only=True),
                                            "scheduled_maintenances": self.maintenances("summary")},
            "status.json": lambda: page | {"status": self.status_object()},
            "components.json": lambda: page | {"components": self.components()},
            "incidents.json": lambda: page | {"incidents": self.incidents()},
            "incidents/unresolved.json": lambda: page | {"incidents": self.incidents(unresolved_only=True)},
            "scheduled-maintenances.json": lambda: page | {"scheduled_maintenances": self.maintenances("all")},
            "scheduled-maintenances/upcoming.json": lambda: page | {
                "scheduled_maintenances": self.maintenances("upcoming")},
            "scheduled-maintenances/active.json": lambda: page | {
                "scheduled_maintenances": self.maintenances("active")},
        }.get(name, lambda: None)()


DOCUMENTS = ("summary.json", "status.json", "components.json", "incidents.json", "incidents/unresolved.json",
             "scheduled-maintenances.json", "scheduled-maintenances/upcoming.json",
             "scheduled-maintenances/active.json")
# Which need the resolved past (the second stored document).
NEEDS_RECENT = {"incidents.json", "scheduled-maintenances.json"}
