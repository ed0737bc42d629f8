"""Public status page documents: neutral default texts, the HTML page, the Atom feed, emails, webhook bodies.

Pure functions of the page state (the only I/O is reading the Jinja2 templates in ./templates). They are
built from the Statuspage-shaped view (shared/domain/statuspage.py), which carries public fields only, so
nothing here can reach an incident's internal details.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.domain.status import (
    ComponentStatus,
    PageState,
    component_status,
    visible_incidents,
)
from shared.domain.status_history import daily_bars, uptime_percent
from shared.domain.statuspage import View, ts

TEMPLATES = Path(__file__).resolve().parent / "templates"
ATOM = "http://www.w3.org/2005/Atom"
PAST_DAYS = 14


@cache
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "html.j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    return env


def _when(value: str | datetime | None) -> str:
    if value is None:
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return f"{at:%d %b %Y, %H:%M} UTC"


class TemplateTexts:
    """PublicTexts from status_texts.j2: neutral sentences naming components and a status only."""

    def __init__(self) -> None:
        self._macros = _env().get_template("status_texts.j2").module

    def incident_name(self, components: list[str], status: ComponentStatus) -> str:
        return str(self._macros.incident_name(components, _phrase(status))).strip()

    def investigating(self, components: list[str], status: ComponentStatus) -> str:
        return str(self._macros.investigating(components, _phrase(status))).strip()

    def impact_changed(self, components: list[str], status: ComponentStatus) -> str:
        return str(self._macros.impact_changed(components, _phrase(status))).strip()

    def resolved(self, components: list[str]) -> str:
        return str(self._macros.resolved(components)).strip()


def _phrase(status: ComponentStatus) -> str:
    return {ComponentStatus.MAJOR_OUTAGE: "a major outage", ComponentStatus.PARTIAL_OUTAGE: "a partial outage",
            ComponentStatus.DEGRADED_PERFORMANCE: "degraded performance",
            ComponentStatus.UNDER_MAINTENANCE: "maintenance", ComponentStatus.OPERATIONAL: "normal operation"}[status]


# ---- the page ------------------------------------------------------------------------------------


def html_page(view: View) -> str:
    state, page, now = view.state, view.page, view.now
    groups: list[dict[str, Any]] = []
    ungrouped = [c for c in page.components if c.group is None]
    if ungrouped:
        groups.append({"name": None, "components": ungrouped})
    groups += [{"name": name, "components": [c for c in page.components if c.group == gid]}
               for gid, name in page.groups.items()]
    for group in groups:
        group["components"] = [_component_row(state, c.id, c.name, now) for c in group["components"]]
    groups = [g for g in groups if g["components"]]
    since = now - timedelta(days=PAST_DAYS)
    past = [view.incident(i) for i in visible_incidents(state) if not i.open and i.updated_at >= since]
    return _env().get_template("status_page.html.j2").render(
        page=view.page_object(), overall=dict(zip(("indicator", "description"), view.status_object().values(),
                                                  strict=True)),
        incidents=view.incidents(unresolved_only=True), maintenances=view.maintenances("summary"),
        groups=groups, past=past, all_components=page.components)


def _component_row(state: PageState, cid: str, name: str, now: datetime) -> dict[str, Any]:
    status = component_status(state, cid, now)
    bars = daily_bars(state, cid, now)
    bad = sum(1 for b in bars if b.status not in (ComponentStatus.OPERATIONAL, ComponentStatus.UNDER_MAINTENANCE))
    maint = sum(1 for b in bars if b.status is ComponentStatus.UNDER_MAINTENANCE)
    summary = (f"{bad} day{'s' if bad != 1 else ''} with incidents" if bad else "no incidents")
    if maint:
        summary += f", {maint} day{'s' if maint != 1 else ''} with maintenance"
    return {"id": cid, "name": name, "status": status.value, "label": status.label, "bars": bars,
            "uptime": f"{uptime_percent(bars):.2f}", "summary": summary}


def message_page(page_name: str, page_url: str, heading: str, message: str) -> str:
    return _env().get_template("status_message.html.j2").render(page_name=page_name, page_url=page_url,
                                                                 heading=heading, message=message)


# ---- the Atom feed -------------------------------------------------------------------------------


def atom_feed(view: View) -> bytes:
    """RFC 4287: one entry per incident or maintenance (its updates as the content), newest first."""
    ET.register_namespace("", ATOM)
    page = view.page_object()
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": "en"})
    _sub(feed, "id", f"{view.url}/history.atom")
    _sub(feed, "title", f"{page['name']} status history")
    _sub(feed, "updated", _atom_time(page["updated_at"]))
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": f"{view.url}/"})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "type": "application/atom+xml",
                                             "href": f"{view.url}/history.atom"})
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _sub(author, "name", page["name"])
    records = view.incidents() + view.maintenances("all")
    records.sort(key=lambda r: r["updated_at"], reverse=True)
    for record in records[:50]:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _sub(entry, "id", f"tag:{_host(view.url)},2026:{record['id']}")
        _sub(entry, "published", _atom_time(record["created_at"]))
        _sub(entry, "updated", _atom_time(record["updated_at"]))
        _sub(entry, "title", record["name"])
        ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": record["shortlink"]})
        lines = [f"<p><small>{_when(u['created_at'])}</small><br><strong>{u['status'].replace('_', ' ').capitalize()}"
                 f"</strong> - {_escape(u['body'])}</p>" for u in record["incident_updates"]]
        _sub(entry, "content", "".join(lines), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _sub(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    element.text = text
    return element


def _atom_time(value: str) -> str:
    return value.replace(".000Z", "Z") if value.endswith(".000Z") else value


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- notifications -------------------------------------------------------------------------------


def notification_record(view: View, kind: str, record_id: str) -> dict[str, Any] | None:
    """The incident or maintenance in Statuspage's shape, as a notification describes it."""
    if kind == "incident":
        record = view.state.incidents.get(record_id)
        return view.incident(record) if record is not None and record.published else None
    item = view.state.maintenances.get(record_id)
    return view.maintenance(item) if item is not None else None


def update_email(view: View, kind: str, record: dict[str, Any], update_id: str, unsubscribe_url: str
                 ) -> tuple[str, str]:
    update = next(u for u in record["incident_updates"] if u["id"] == update_id)
    status_label = update["status"].replace("_", " ").capitalize()
    window = ""
    if kind == "maintenance":
        window = f"Scheduled from {_when(record['scheduled_for'])} to {_when(record['scheduled_until'])}."
    title = f"[{view.page.title}] {record['name']}"
    body = _env().get_template("status_email.txt.j2").render(
        title=record["name"], status_label=status_label, components=[c["name"] for c in record["components"]],
        body=update["body"], window=window, posted=_when(update["created_at"]).removesuffix(" UTC"),
        page_url=f"{view.url}/", page_name=view.page.title, unsubscribe_url=unsubscribe_url)
    return f"{title}: {status_label}", body


def confirm_email(page_name: str, components: list[str], confirm_url: str) -> tuple[str, str]:
    body = _env().get_template("status_confirm_email.txt.j2").render(page_name=page_name, components=components,
                                                                      confirm_url=confirm_url)
    return f"Confirm your subscription to {page_name}", body


def webhook_body(view: View, kind: str, record: dict[str, Any], update_id: str, unsubscribe_url: str
                 ) -> dict[str, Any]:
    """Like Statuspage's webhook notifications: meta, page, and the incident (or maintenance) it is about."""
    status = view.status_object()
    body: dict[str, Any] = {
        "meta": {"unsubscribe": unsubscribe_url, "documentation": f"{view.url}/api/v2/summary.json",
                 "generated_at": ts(view.now), "update_id": update_id},
        "page": {"id": view.page_id, "status_indicator": status["indicator"],
                 "status_description": status["description"]},
    }
    body["incident"] = record  # Statuspage sends maintenance notifications under "incident" too
    return body
