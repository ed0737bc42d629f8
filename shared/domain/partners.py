"""Partner reports: a Freshdesk ticket or a Freshchat conversation, normalised, and the policy's intake rules.

Freshdesk's automation webhook has no fixed shape: the "simple" content wraps chosen fields in
`freshdesk_webhook` with `ticket_`/`requester_` prefixes and display names for status and priority; the
"advanced" content is whatever JSON the admin typed, with every placeholder rendered as a string. Both
(and the form-encoded variant) become one `PartnerReport`. A report becomes an incident only when an intake
rule picks it out; the same ticket or conversation always lands in the same alert group, so a re-delivery
or an update never opens a second incident.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.config.policy import PartnerAccount, PartnerIntakeRule, PartnerMatcher, Policy
from shared.domain.classification import Classified
from shared.domain.model import Alert, AlertCategory, AlertStatus, Link, PartnerRef, Severity
from shared.domain.sources.errors import PayloadError

Priority = Literal["low", "medium", "high", "urgent"]
_PRIORITY_IDS: dict[int, Priority] = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
_STATUS_IDS = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
_CLOSED = {"resolved", "closed"}
_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}")


class PartnerReport(BaseModel):
    """One ticket or conversation event from a partner channel."""

    system: Literal["freshdesk", "freshchat"]
    external_id: str = Field(description="ticket id or conversation id")
    event: Literal["report", "resolved", "reopened", "ignored"] = "report"
    ignored_because: str | None = None
    subject: str = ""
    description: str = ""
    priority: Priority | None = None
    status: str | None = None
    type: str | None = None
    tags: list[str] = Field(default_factory=list)
    group: str | None = None
    source: str | None = None
    url: str | None = None
    requester_email: str | None = None
    requester_name: str | None = None
    company: str | None = None
    raised_by_email: str | None = Field(default=None, description="the agent who created the ticket, if sent")
    agent_email: str | None = Field(default=None, description="the agent the ticket is assigned to")
    message_id: str | None = None
    chat_user_id: str | None = None
    at: datetime | None = None


# ---- Freshdesk -----------------------------------------------------------------------------------

_FD_KEYS: dict[str, tuple[str, ...]] = {
    "id": ("ticket_id", "id", "ticket_display_id"),
    "subject": ("ticket_subject", "subject"),
    "description": ("ticket_description", "description", "description_text", "ticket_description_text"),
    "status": ("ticket_status", "status"),
    "priority": ("ticket_priority", "priority"),
    "type": ("ticket_type", "type"),
    "tags": ("ticket_tags", "tags"),
    "group": ("ticket_group_name", "group", "group_name", "ticket_group"),
    "source": ("ticket_source", "source"),
    "url": ("ticket_url", "url", "ticket_portal_url"),
    "requester_email": ("requester_email", "requester", "email", "ticket_requester_email"),
    "requester_name": ("requester_name", "ticket_requester_name", "name"),
    "company": ("ticket_company_name", "company", "company_name", "requester_company_name"),
    "raised_by_email": ("created_by", "ticket_created_by", "ticket_created_by_email", "created_by_email",
                        "raised_by", "ticket_cf_raised_by", "cf_raised_by"),
    "agent_email": ("ticket_agent_email", "agent_email", "agent"),
}
_FD_SOURCES = {1: "email", 2: "portal", 3: "phone", 7: "chat", 9: "feedback widget", 10: "outbound email"}


def freshdesk_report(payload: Any) -> PartnerReport:
    """Normalise a Freshdesk webhook body (simple or advanced content, JSON or form fields)."""
    if not isinstance(payload, dict):
        raise PayloadError("$", "expected a JSON object (the webhook's content)")
    body = payload.get("freshdesk_webhook", payload)
    if not isinstance(body, dict):
        raise PayloadError("freshdesk_webhook", "expected an object of ticket fields")
    fields = {str(k).lower(): v for k, v in body.items()}
    raw_id = _first(fields, "id")
    ticket_id = _int(raw_id, "ticket_id")
    if ticket_id is None or ticket_id <= 0:
        raise PayloadError("ticket_id", "a positive ticket id is required (map {{ticket.id}} in the webhook)")
    status = _status(_first(fields, "status"))
    subject = _text(_first(fields, "subject"), "ticket_subject", 500)
    return PartnerReport(
        system="freshdesk",
        external_id=str(ticket_id),
        event="resolved" if status in _CLOSED else "report",
        subject=subject or f"Freshdesk ticket #{ticket_id}",
        description=plain_text(_text(_first(fields, "description"), "ticket_description", 20_000))[:4000],
        priority=_priority(_first(fields, "priority")),
        status=status,
        type=_text(_first(fields, "type"), "ticket_type", 100) or None,
        tags=_tags(_first(fields, "tags")),
        group=_text(_first(fields, "group"), "ticket_group_name", 200) or None,
        source=_source(_first(fields, "source")),
        url=_url(_first(fields, "url")),
        requester_email=_email(_first(fields, "requester_email")),
        requester_name=_text(_first(fields, "requester_name"), "requester_name", 200) or None,
        company=_text(_first(fields, "company"), "ticket_company_name", 200) or None,
        raised_by_email=_email(_first(fields, "raised_by_email")),
        agent_email=_email(_first(fields, "agent_email")),
    )


def _first(fields: dict[str, Any], name: str) -> Any:
    for key in _FD_KEYS[name]:
        value = fields.get(key)
        if value not in (None, ""):
            return value
    return None


def _int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise PayloadError(field, "expected a number")
    if isinstance(value, int):
        return value
    text = str(value).strip().lstrip("#")
    if not text.isdigit() or len(text) > 18:
        raise PayloadError(field, f"expected a whole number, got {str(value)[:40]!r}")
    return int(text)


def _text(value: Any, field: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise PayloadError(field, "expected text")
    return str(value).strip()[:limit]


def _status(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) or str(value).strip().isdigit():
        return _STATUS_IDS.get(int(value), f"custom {int(value)}")
    return str(value).strip().lower()[:60]


def _priority(value: Any) -> Priority | None:
    if value is None:
        return None
    if isinstance(value, int) or str(value).strip().isdigit():
        number = int(value)
        if number not in _PRIORITY_IDS:
            raise PayloadError("ticket_priority", f"priority {number} is not 1-4 (low, medium, high, urgent)")
        return _PRIORITY_IDS[number]
    name = str(value).strip().lower()
    if name not in _PRIORITY_IDS.values():
        raise PayloadError("ticket_priority", f"unknown priority {str(value)[:40]!r}; Freshdesk sends Low, Medium, "
                           "High or Urgent")
    return name  # type: ignore[return-value]


def _source(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) or str(value).strip().isdigit():
        return _FD_SOURCES.get(int(value), f"source {int(value)}")
    return str(value).strip().lower()[:40]


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else re.split(r"[,;]", str(value))
    return [str(t).strip().lower()[:100] for t in items if str(t).strip()][:50]


def _email(value: Any) -> str | None:
    if value is None:
        return None
    match = _EMAIL.search(str(value))
    return match.group(0).lower() if match else None


def _url(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text[:500] if text.startswith(("https://", "http://")) else None


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")


def plain_text(markup: str) -> str:
    """Freshdesk descriptions are HTML; people read them as text."""
    if "<" not in markup:
        return html.unescape(markup).strip()
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return re.sub(r"\n\s*\n+", "\n\n", "".join(parser.parts)).strip()


# ---- Freshchat -----------------------------------------------------------------------------------


def freshchat_report(payload: Any) -> PartnerReport:
    """Normalise a Freshchat webhook event. Messages by agents or bots are ignored (they echo back)."""
    if not isinstance(payload, dict):
        raise PayloadError("$", "expected a JSON object")
    action = payload.get("action")
    data = payload.get("data")
    if not isinstance(action, str) or not action:
        raise PayloadError("action", "required (message_create, conversation_resolution, ...)")
    if not isinstance(data, dict):
        raise PayloadError("data", "required object")
    actor = payload.get("actor") if isinstance(payload.get("actor"), dict) else {}
    at = _time(payload.get("action_time"), "action_time")
    if action == "message_create":
        message = data.get("message")
        if not isinstance(message, dict):
            raise PayloadError("data.message", "required object for message_create")
        conversation = _required_text(message.get("conversation_id"), "data.message.conversation_id")
        actor_type = message.get("actor_type") or actor.get("actor_type")
        if actor_type != "user":
            return PartnerReport(system="freshchat", external_id=conversation, event="ignored",
                                 ignored_because=f"message by {actor_type or 'unknown'}, not by the partner")
        if message.get("message_type") == "private":
            return PartnerReport(system="freshchat", external_id=conversation, event="ignored",
                                 ignored_because="private message")
        text = _message_text(message.get("message_parts", message.get("msg_parts")))
        return PartnerReport(system="freshchat", external_id=conversation, subject=_first_line(text),
                             description=text[:4000], source="chat", message_id=str(message.get("id") or "") or None,
                             chat_user_id=str(message.get("user_id") or actor.get("actor_id") or "") or None, at=at)
    if action in ("conversation_resolution", "conversation_reopen"):
        key = "resolve" if action == "conversation_resolution" else "reopen"
        inner = data.get(key)
        if not isinstance(inner, dict) or not isinstance(inner.get("conversation"), dict):
            raise PayloadError(f"data.{key}.conversation", "required object")
        conversation = _required_text(inner["conversation"].get("conversation_id"),
                                      f"data.{key}.conversation.conversation_id")
        return PartnerReport(system="freshchat", external_id=conversation,
                             event="resolved" if key == "resolve" else "reopened", at=at)
    conversation = ""
    inner = next((v for v in data.values() if isinstance(v, dict)), {})
    if isinstance(inner.get("conversation"), dict):
        conversation = str(inner["conversation"].get("conversation_id") or "")
    return PartnerReport(system="freshchat", external_id=conversation or "-", event="ignored",
                         ignored_because=f"{action[:60]} events do not change incidents")


def _message_text(parts: Any) -> str:
    if not isinstance(parts, list):
        raise PayloadError("data.message.message_parts", "required list")
    texts = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, dict) and isinstance(text.get("content"), str):
            texts.append(text["content"])
        props = part.get("properties")  # the v1 payload: msg_parts[].{part_type, properties}
        if part.get("part_type") == "text" and isinstance(props, dict) and isinstance(props.get("content"), str):
            texts.append(props["content"])
    return "\n".join(t.strip() for t in texts if t.strip())


def _required_text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(field, "required text")
    return value.strip()[:200]


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return (line[:117] + "...") if len(line) > 120 else line or "Freshchat conversation"


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(field, f"not an ISO 8601 time: {str(value)[:40]!r}") from None


# ---- intake --------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def channel_of(policy: Policy, report: PartnerReport) -> str:
    """A ticket raised by a PST member (or tagged `pst`) is a direct PST contact, which has its own path.

    Freshdesk has no standard "created by" placeholder, so a phone ticket handled by a PST member counts too:
    partners phone their PST contact, who logs the call.
    """
    if report.system == "freshdesk":
        pst_emails = _pst_emails(policy)
        if (report.raised_by_email and report.raised_by_email in pst_emails) or "pst" in report.tags:
            return "pst"
        if report.source == "phone" and report.agent_email in pst_emails:
            return "pst"
    return report.system


def _pst_emails(policy: Policy) -> dict[str, str]:
    if policy.partners.pst_role not in policy.roles:
        return {}
    return {p.email.lower(): p.id for p in policy.members(policy.partners.pst_role) if p.email}


def rule_matches(matcher: PartnerMatcher, report: PartnerReport, channel: str) -> bool:
    checks = [
        (matcher.type, [report.type or ""]),
        (matcher.tags, report.tags or [""]),
        (matcher.priority, [report.priority or ""]),
        (matcher.group, [report.group or ""]),
        (matcher.keywords, [f"{report.subject}\n{report.description}"]),
        (matcher.channel, [channel]),
    ]
    return all(pattern is None or any(_rx(pattern).search(v) for v in values) for pattern, values in checks)


def matching_rule(policy: Policy, report: PartnerReport, channel: str) -> PartnerIntakeRule | None:
    intake = policy.partners.intake
    if intake is None:
        return None
    return next((r for r in intake.rules if rule_matches(r.match, report, channel)), None)


def account_of(policy: Policy, report: PartnerReport) -> PartnerAccount | None:
    domain = report.requester_email.rsplit("@", 1)[-1] if report.requester_email else None
    for account in policy.partners.accounts:
        if domain and domain in {d.lower() for d in account.email_domains}:
            return account
        if report.company and report.company.lower() in {c.lower() for c in account.companies}:
            return account
    return None


def triage(policy: Policy, report: PartnerReport, now: datetime, *, known: bool) -> Classified | None:
    """The classified alert for a report, or None when no intake rule picks it out.

    `known`: the ticket or conversation already belongs to an incident, so its updates (priority raised,
    resolved in Freshdesk, reopened) go through even when no rule matches them any more.
    """
    intake = policy.partners.intake
    if intake is None or report.event == "ignored":
        return None
    channel = channel_of(policy, report)
    rule = matching_rule(policy, report, channel)
    if rule is None and not known:
        return None
    kind = rule.kind if rule else "technical"
    severity = (rule.severity if rule else None) or _severity_of(policy, report)
    type_key = f"{kind}_pst" if channel == "pst" else kind
    itype = intake.types.get(type_key) or intake.types.get(kind) or next(iter(intake.types.values()))
    account = account_of(policy, report)
    pst = (account.pst if account else None) or _pst_member(policy, report)
    partner = PartnerRef(
        channel=channel, account_id=account.id if account else None,
        name=account.name if account else (report.company or report.requester_name or report.requester_email
                                           or f"Freshchat user {(report.chat_user_id or '?')[:8]}"),
        requester_email=report.requester_email, requester_name=report.requester_name, company=report.company,
        ticket_id=int(report.external_id) if report.system == "freshdesk" else None,
        ticket_url=report.url if report.system == "freshdesk" else None,
        conversation_id=report.external_id if report.system == "freshchat" else None,
        chat_user_id=report.chat_user_id, pst_person=pst)
    labels = {"partner": partner.name, "channel": channel, f"{report.system}_id": report.external_id}
    if report.priority:
        labels["priority"] = report.priority
    if rule:
        labels["intake_rule"] = rule.name
    service = _service_of(policy, report)
    if service:
        labels["service"] = service
    where = {"freshdesk": f"Freshdesk ticket #{report.external_id}", "freshchat": "Freshchat conversation"}
    summary = "\n\n".join(p for p in (f"Reported by {partner.name} ({where[report.system]}, {channel})",
                                      report.description) if p)
    alert = Alert(
        source=report.system, fingerprint=report.external_id,
        status=AlertStatus.RESOLVED if report.event == "resolved" else AlertStatus.FIRING,
        title=report.subject or where[report.system], summary=summary[:4000], labels=labels, service=service,
        severity=severity, starts_at=report.at or now,
        links=[Link(title=where[report.system], url=report.url)] if report.url else [], partner=partner)
    return Classified(alert=alert, severity=severity,
                      category=AlertCategory.SECURITY if kind == "security" else AlertCategory.AVAILABILITY,
                      type=itype, service=service, group_key=partner_group_key(report),
                      rule=rule.name if rule else None)


def partner_group_key(report: PartnerReport) -> str:
    """One group per ticket or conversation, whatever its type becomes: updates never open a second incident."""
    return f"partner|{report.system}:{report.external_id}"


def _severity_of(policy: Policy, report: PartnerReport) -> Severity:
    intake = policy.partners.intake
    assert intake is not None
    if report.system == "freshchat":
        return intake.chat_severity
    if report.priority:
        return intake.priority_severity.get(report.priority, Severity.MEDIUM)
    return Severity.MEDIUM


def _pst_member(policy: Policy, report: PartnerReport) -> str | None:
    role = policy.roles.get(policy.partners.pst_role)
    if role is None or not role.members:
        return None
    by_email = _pst_emails(policy)
    for email in (report.raised_by_email, report.agent_email):
        if email in by_email:
            return by_email[email]
    return role.members[0]


def _service_of(policy: Policy, report: PartnerReport) -> str | None:
    """A tag naming a service of a status page component ("trading") says what is affected."""
    services = {s for c in policy.status_page.components for s in c.services}
    return next((t for t in report.tags if t in services), None)
