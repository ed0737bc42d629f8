"""CERT-In documents: the incident report draft (Markdown and e-mail) and the compliance record.

Pure functions of the models: no clock, no network; the only I/O is reading the Jinja2 templates
in ./templates. The report follows the data model of CERT-In's Incident Reporting Form (reporter and
point of contact, organisation, incident type and times, affected systems, description, indicators,
impact, security systems deployed, actions taken). What the system knows is drafted; a person
completes the rest in `CertInState.report` (keys in REPORT_FIELDS), which overrides any draft.
Times are stored in UTC and shown in both UTC and the organisation's zone (IST, Asia/Kolkata).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape

from shared.config.durations import format_duration
from shared.config.policy import Person, Policy
from shared.domain import certin
from shared.domain.certin import CERT_IN_TYPES, CertInState, Deadline
from shared.domain.incident import Incident, IncidentStatus, TimelineEntry

TEMPLATES = Path(__file__).resolve().parent / "templates"
SECTOR = "BFSI"

# What a person completes (CertInState.report keys), the form's label for each, and what it asks for.
REPORT_FIELDS: dict[str, str] = {
    "occurred_at": "Date and time of occurrence",
    "affected_systems": "Affected systems and services",
    "description": "Description and symptoms observed",
    "indicators": "Indicators",
    "impact": "Impact",
    "security_systems": "Security systems deployed",
    "actions_taken": "Actions taken so far",
    "logs": "Logs and evidence",
    "designation": "Designation of the point of contact",
    "address": "Address of the organisation",
    "other": "Any other information",
}
FIELD_HINTS: dict[str, str] = {
    "occurred_at": "when it began, e.g. 2026-12-04T15:10+05:30, local time without an offset",
    "affected_systems": "hostnames, IP addresses, domains/URLs, OS and version, applications, location, "
                        "on-premises or cloud, number of systems",
    "description": "what was observed",
    "indicators": "malicious IPs, domains, hashes, e-mail headers; write 'none known' if there are none",
    "impact": "data or records affected, services disrupted, personal data involved",
    "security_systems": "firewall, IDS/IPS, AV/EDR, WAF and similar",
    "actions_taken": "containment, mitigation, forensic steps, law-enforcement or regulator notifications",
}
# Listed under "Missing fields" until a person (or a draft) fills them.
REQUIRED_FIELDS: tuple[str, ...] = ("occurred_at", "affected_systems", "description", "indicators", "impact",
                                    "security_systems", "actions_taken")

# Incident labels that name affected systems, and labels that are indicators, in the order shown.
SYSTEM_LABELS: tuple[str, ...] = ("instance", "host", "hostname", "node", "pod", "container", "namespace",
                                  "cluster", "ip", "host_ip", "domain", "url", "job", "project", "region", "zone")
INDICATOR_LABELS: tuple[str, ...] = ("src_ip", "source_ip", "client_ip", "remote_ip", "remote_addr", "attacker_ip",
                                     "malicious_ip", "malicious_domain", "malicious_url", "user_agent", "sender",
                                     "email_from", "hash", "sha256", "sha1", "md5")

_DEADLINE_NAMES = {"assessment_reminder": "Assessment reminder", "assessment_due": "Assessment due",
                   "report_reminder": "Report reminder", "report_due": "Report due"}


@dataclass(frozen=True)
class Value:
    """One field of the report: its text (empty when nobody knows it yet) and a note on where it came from."""

    text: str = ""
    note: str = ""

    @property
    def missing(self) -> bool:
        return not self.text.strip()


@dataclass(frozen=True)
class Missing:
    label: str
    how: str


# ---- public API ---------------------------------------------------------------------------------------------------

def report_markdown(policy: Policy, incident: Incident, state: CertInState,
                    timeline: Sequence[TimelineEntry] = ()) -> str:
    """The CERT-In incident report draft for people to review and complete, with a "Missing fields" section."""
    return _render("report.md.j2", policy, _report_context(policy, incident, state, timeline))


def report_email(policy: Policy, incident: Incident, state: CertInState,
                 timeline: Sequence[TimelineEntry] = ()) -> tuple[str, str]:
    """(subject, plain-text body) of the report, to send to policy.cert_in.reporting_email."""
    context = _report_context(policy, incident, state, timeline)
    type_id = context["type_id"]
    type_name = CERT_IN_TYPES[type_id] if type_id is not None else "type to be determined"
    subject = f"Cyber security incident report: {policy.organisation.name} – {incident.id} – {type_name}"
    return " ".join(subject.split()), _render("report_email.txt.j2", policy, context)


def evidence_markdown(policy: Policy, incident: Incident, state: CertInState,
                      timeline: Sequence[TimelineEntry] = ()) -> str:
    """The compliance record: clock, deadlines, decisions, report versions, submission, follow-ups, timeline."""
    tz = ZoneInfo(policy.organisation.timezone)
    entries = sorted(timeline, key=lambda e: e.at)
    deadlines = [{"deadline": d, "name": _DEADLINE_NAMES[d.kind], "offset": format_duration(d.at - state.detected_at),
                  "outcome": _deadline_outcome(state, d, entries, tz)} for d in state.deadlines]
    assessment_due = _deadline(state, "assessment_due")
    report_due = _deadline(state, "report_due")
    context = {
        "incident": incident,
        "state": state,
        "org": policy.organisation,
        "cert_in": policy.cert_in,
        "suggested_type": _type_line(state.suggested_type),
        "assessed_type": _type_line(state.assessment.type) if state.assessment else "",
        "deadlines": deadlines,
        "assessment_due": assessment_due,
        "report_due": report_due,
        "assessment_timing": _timing(state.assessment.at, state.detected_at, assessment_due.at)
        if state.assessment else "",
        "submission_timing": _timing(state.submission.at, state.detected_at, report_due.at)
        if state.submission else "",
        "report_fields": _labelled({k: v for k, v in state.report.items() if isinstance(v, str) and v.strip()}),
        "versions": [_version(v) for v in state.report_versions],
        "timeline": entries,
    }
    return _render("evidence.md.j2", policy, context)


def format_utc_local(at: datetime, tz: ZoneInfo) -> str:
    """'2026-12-04 10:00:00 UTC (15:30:00 IST)'; the date is repeated in brackets when it differs."""
    return _both(_aware(at).astimezone(UTC), _aware(at).astimezone(tz))


def format_local_utc(at: datetime, tz: ZoneInfo) -> str:
    """'2026-12-05 01:30:00 IST (2026-12-04 20:00:00 UTC)': the form's zone first."""
    return _both(_aware(at).astimezone(tz), _aware(at).astimezone(UTC))


# ---- the report ---------------------------------------------------------------------------------------------------

def _report_context(policy: Policy, incident: Incident, state: CertInState,
                    timeline: Sequence[TimelineEntry]) -> dict[str, Any]:
    tz = ZoneInfo(policy.organisation.timezone)
    given = {k: v.strip() for k, v in state.report.items() if isinstance(v, str) and v.strip()}
    poc = _person(policy, policy.cert_in.point_of_contact)
    missing: list[Missing] = []

    def field(key: str, draft: str = "", note: str = "") -> Value:
        if key in given:
            return Value(given[key])
        value = Value(draft, note) if draft.strip() else Value()
        if key in REQUIRED_FIELDS and value.missing:
            missing.append(Missing(REPORT_FIELDS[key], f"set `{key}` in the report ({FIELD_HINTS[key]})"))
        return value

    contact = {"name": poc.name if poc else policy.cert_in.point_of_contact,
               "email": Value(poc.email or "") if poc else Value(),
               "phone": Value(poc.phone or "") if poc else Value()}
    for key in ("email", "phone"):
        if contact[key].missing:
            missing.append(Missing(f"Point of contact {key}",
                                   f"add `{key}` to person {policy.cert_in.point_of_contact!r} in the policy"))

    if state.assessment is not None and state.assessment.type is not None:
        type_id, type_note = state.assessment.type, ""
    elif state.suggested_type is not None:
        type_id, type_note = state.suggested_type, "suggested from the alert; to be confirmed in the assessment"
    else:
        type_id, type_note = None, ""
        missing.append(Missing("Incident type (Annexure I)", "record the assessment with its type"))

    if "occurred_at" in given:
        occurred = Value(_when_given(given["occurred_at"], tz))
    else:
        occurred = Value(format_local_utc(state.detected_at, tz), "not known yet: shown as the time of detection")
        missing.append(Missing(REPORT_FIELDS["occurred_at"],
                               f"set `occurred_at` in the report ({FIELD_HINTS['occurred_at']})"))

    fields = {
        "affected_systems": field("affected_systems", _affected_systems(incident), "drafted from the alert"),
        "description": field("description", _description(incident)),
        "indicators": field("indicators", _label_lines(incident.labels, INDICATOR_LABELS), "drafted from the alert"),
        "impact": field("impact"),
        "security_systems": field("security_systems"),
        "actions_taken": field("actions_taken", _actions(policy, timeline, tz), "drafted from the incident timeline"),
        "logs": field("logs"),
        "designation": field("designation"),
        "address": field("address"),
        "other": field("other"),
    }
    resolved = incident.status == IncidentStatus.RESOLVED
    return {
        "incident": incident,
        "state": state,
        "org": policy.organisation,
        "cert_in": policy.cert_in,
        "sector": SECTOR,
        "contact": contact,
        "type_id": type_id,
        "type": Value(_type_line(type_id), type_note),
        "occurred": occurred,
        "detected": format_local_utc(state.detected_at, tz),
        "report_due": format_local_utc(_deadline(state, "report_due").at, tz),
        "ongoing": "No" if resolved else "Yes",
        "resolved_at": format_local_utc(incident.resolved_at, tz) if resolved and incident.resolved_at else "",
        "f": fields,
        "missing": missing,
    }


def _affected_systems(incident: Incident) -> str:
    lines = [f"- service: {incident.service}"] if incident.service else []
    labels = _label_lines(incident.labels, SYSTEM_LABELS)
    return "\n".join([*lines, labels] if labels else lines)


def _label_lines(labels: dict[str, str], keys: Sequence[str]) -> str:
    return "\n".join(f"- {key}: {labels[key]}" for key in keys if labels.get(key, "").strip())


def _description(incident: Incident) -> str:
    summary = incident.summary.strip()
    if not summary or summary == incident.title.strip():
        return incident.title
    return f"{incident.title}\n\n{summary}"


def _actions(policy: Policy, timeline: Sequence[TimelineEntry], tz: ZoneInfo) -> str:
    """The timeline as actions, without the CERT-In clock's own entries (reminders are not actions)."""
    return "\n".join(f"- {format_local_utc(e.at, tz)}: {e.text.strip()} ({_name(policy, e.actor)})"
                      for e in sorted(timeline, key=lambda e: e.at) if not e.kind.startswith("cert_in."))


def _when_given(text: str, tz: ZoneInfo) -> str:
    """A person's time: ISO 8601 is shown in both zones (no offset means local time); anything else as written."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    return format_local_utc(at if at.tzinfo else at.replace(tzinfo=tz), tz)


# ---- the compliance record ----------------------------------------------------------------------------------------

def _deadline_outcome(state: CertInState, deadline: Deadline, timeline: Sequence[TimelineEntry], tz: ZoneInfo) -> str:
    """Fired (when: from the clock's timeline entry), not yet, or why it no longer applies."""
    if deadline.key in state.fired:
        at = next((e.at for e in timeline if e.data.get("deadline") == deadline.key), None)
        if at is None and deadline.kind == "report_due":
            at = state.breached_at
        return f"fired at {format_utc_local(at, tz)}" if at else "fired (time not in the timeline)"
    if certin.applies(state, deadline):
        return "not fired yet"
    if state.assessment is None:
        return "not needed: marked not reportable"
    if deadline.kind.startswith("assessment"):
        return "not needed: assessed"
    if state.submission is not None:
        return "not needed: report submitted"
    return "not needed: assessed not reportable"


def _timing(at: datetime, start: datetime, due: datetime) -> str:
    at, start, due = _aware(at), _aware(start), _aware(due)
    after, limit = format_duration(at - start), format_duration(due - start)
    if at <= due:
        return f"{after} after detection, within the {limit} limit"
    return f"{after} after detection, {format_duration(at - due)} past the {limit} limit"


def _version(version: dict[str, Any]) -> dict[str, Any]:
    """Report versions are stored as dicts ({at, by, fields}); `fields` is either the values or the keys changed."""
    at = version.get("at")
    if isinstance(at, str):
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(at)
    fields = version.get("fields") or {}
    if isinstance(fields, dict):
        values = _labelled({str(k): str(v) for k, v in fields.items()})
    else:
        values = [{"key": str(k), "label": REPORT_FIELDS.get(str(k), str(k)), "text": ""} for k in fields]
    return {"at": at, "by": str(version.get("by") or "unknown"), "fields": values}


def _labelled(values: dict[str, str]) -> list[dict[str, str]]:
    order = list(REPORT_FIELDS)
    keys = sorted(values, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [{"key": k, "label": REPORT_FIELDS.get(k, k), "text": values[k].strip()} for k in keys]


# ---- shared helpers -----------------------------------------------------------------------------------------------

def _type_line(type_id: int | None) -> str:
    if type_id is None:
        return ""
    return f"{type_id}. {CERT_IN_TYPES.get(type_id, 'unknown type')}"


def _deadline(state: CertInState, kind: str) -> Deadline:
    return next(d for d in state.deadlines if d.kind == kind)


def _person(policy: Policy, person_id: str) -> Person | None:
    return next((p for p in policy.people if p.id == person_id), None)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _both(first: datetime, second: datetime) -> str:
    inner = "%H:%M:%S" if first.date() == second.date() else "%Y-%m-%d %H:%M:%S"
    return f"{first:%Y-%m-%d %H:%M:%S} {first.tzname()} ({second.strftime(inner)} {second.tzname()})"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "xml"), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(utc=_filter_utc_local, local=_filter_local_utc, who=_filter_who, duration=format_duration)
    return env


def _render(template: str, policy: Policy, context: dict[str, Any]) -> str:
    return _environment().get_template(template).render(policy=policy, tz=ZoneInfo(policy.organisation.timezone),
                                                         **context)


@pass_context
def _filter_utc_local(context: Any, at: datetime | str | None) -> str:
    if not isinstance(at, datetime):
        return str(at) if at else "time not recorded"
    return format_utc_local(at, context["tz"])


@pass_context
def _filter_local_utc(context: Any, at: datetime | None) -> str:
    return format_local_utc(at, context["tz"]) if at is not None else "time not recorded"


@pass_context
def _filter_who(context: Any, person_id: str | None) -> str:
    return _who(context["policy"], person_id)


def _name(policy: Policy, person_id: str) -> str:
    person = _person(policy, person_id)
    return person.name if person else person_id


def _who(policy: Policy, person_id: str | None) -> str:
    """A person id as 'Name (id)'; Slack ids and 'system' as they are."""
    if not person_id:
        return "unknown"
    person = _person(policy, person_id)
    return f"{person.name} ({person_id})" if person else person_id
