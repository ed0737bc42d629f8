"""The incident policy as code: who is who, how bad is bad, who gets paged and when.

One YAML file (config/policy.yaml by default, INCIDENT_CONFIG to change) is loaded
into these pydantic models. Every rule of the company's written incident policy has
a field here; secrets never do (they come from the environment).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.config.durations import Duration
from shared.domain.model import AlertCategory, Severity

_ID = r"^[a-z][a-z0-9_-]*$"
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
_SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class Strict(BaseModel):
    """Unknown keys are typos, and typos in an escalation policy page nobody."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(Strict):
    name: str
    timezone: str = "Asia/Kolkata"
    security_mailbox: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class Person(Strict):
    id: str = Field(pattern=_ID)
    name: str
    slack_user_id: str | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{6,20}$")

    @field_validator("slack_user_id")
    @classmethod
    def _slack_user(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_USER.match(value):
            raise ValueError(f"{value!r} is not a Slack user id (U… or W…)")
        return value


class Role(Strict):
    """A role from the policy (CTO, DevOps Engineers, ...) and the people who hold it."""

    name: str
    description: str = ""
    members: list[str] = Field(default_factory=list, description="person ids")
    slack_group_id: str | None = Field(default=None, description="Slack user group to mention (S…)")

    @field_validator("slack_group_id")
    @classmethod
    def _slack_group(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_GROUP.match(value):
            raise ValueError(f"{value!r} is not a Slack user group id (S…)")
        return value


class Channel(Strict):
    id: str
    name: str

    @field_validator("id")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _SLACK_CHANNEL.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (C…, G… or D…)")
        return value


class SeverityLevel(Strict):
    """How bad, how fast: the policy's definition of one severity level."""

    description: str
    examples: list[str] = Field(default_factory=list)
    response_target: Duration = Field(description="time each escalation level has to acknowledge")
    repeat_page_every: Duration | None = Field(
        default=None, description="re-page the current level at this interval until acknowledged"
    )
    channel: str = Field(description="channel key where the first page goes")
    dedicated_channel: bool = Field(default=False, description="open a channel per incident")
    parallel_escalation: bool = Field(
        default=False, description="page the emergency roles at once, in parallel with level 1"
    )
    when_all_alerts_resolve: Literal["resolve", "notify_owner"] = "notify_owner"
    requires_rca: bool = False


class EscalationLevel(Strict):
    roles: list[str] = Field(min_length=1)
    note: str = ""
    response_target: Duration | None = Field(
        default=None, description="overrides the severity's target for this level"
    )


class IncidentType(Strict):
    """One row of the escalation matrix."""

    name: str
    kind: Literal["technical", "security", "product"]
    escalation: list[EscalationLevel] = Field(min_length=1)
    critical_escalation: list[EscalationLevel] | None = Field(
        default=None, description="path used instead for critical incidents (security: CTO directly)"
    )
    channel: str | None = Field(default=None, description="overrides the severity's channel")

    def path_for(self, severity: Severity) -> list[EscalationLevel]:
        if severity is Severity.CRITICAL and self.critical_escalation:
            return self.critical_escalation
        return self.escalation


class Matcher(Strict):
    """All given conditions must hold. Values are regular expressions, matched case-insensitively."""

    source: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    service: str | None = None
    text: str | None = Field(default=None, description="searched in title and summary")

    @field_validator("source", "service", "text")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @field_validator("labels")
    @classmethod
    def _label_regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            _compile(pattern)
        return value


class Classification(Strict):
    severity: Severity | None = None
    category: AlertCategory | None = None
    type: str | None = None
    service: str | None = None


class ClassificationRule(Strict):
    name: str
    match: Matcher
    set: Classification
    stop: bool = Field(default=True, description="stop at the first matching rule")


class ClassificationPolicy(Strict):
    default: Classification
    honour_source_severity: bool = Field(
        default=True, description="a severity label from the source wins over the default (not over rules)"
    )
    group_by: list[str] = Field(
        default_factory=lambda: ["alertname", "service"],
        description="labels that make one alert group (one incident)",
    )
    rules: list[ClassificationRule] = Field(default_factory=list)


class EmergencyPolicy(Strict):
    parallel_roles: list[str] = Field(description="paged at once for critical incidents")
    change_review_after: Duration = Field(default=timedelta(hours=24))


class StatusComponent(Strict):
    id: str = Field(pattern=_ID)
    name: str
    description: str = ""
    group: str | None = None
    services: list[str] = Field(default_factory=list, description="services whose incidents affect it")


class StatusPage(Strict):
    title: str
    url: str | None = None
    groups: dict[str, str] = Field(default_factory=dict, description="group id -> display name")
    components: list[StatusComponent] = Field(default_factory=list)


class CertInPolicy(Strict):
    enabled: bool = True
    assessment_due: Duration = Field(default=timedelta(hours=2))
    assessment_reminders_before: list[Duration] = Field(default_factory=list)
    report_due: Duration = Field(default=timedelta(hours=6))
    report_reminders_at: list[Duration] = Field(default_factory=list, description="after detection")
    assessors: list[str] = Field(description="roles that assess reportability (SRE)")
    notify_roles_critical: list[str] = Field(description="notified in parallel for critical incidents")
    breach_roles: list[str]
    missed_assessment_roles: list[str]
    point_of_contact: str = Field(description="person id")
    reporting_email: str = "incident@cert-in.org.in"
    website: str = "https://cert-in.org.in/"


class ReviewPolicy(Strict):
    post_incident_review_within: Duration = Field(default=timedelta(hours=48))
    reminders_before: list[Duration] = Field(default_factory=list)
    escalate_to: list[str] = Field(default_factory=list, description="roles paged when the review is missed")
    owners: list[str] = Field(default_factory=list, description="roles reminded besides the incident owner")
    digest_channel: str = Field(default="incidents", description="channel key of the weekly metrics digest")
    digest_weeks: int = Field(default=8, ge=1, le=52, description="weeks shown in the digest's chart")


class PartnerAccount(Strict):
    """A partner firm: how its tickets are recognised and who its Partner Success Team contact is."""

    id: str = Field(pattern=_ID)
    name: str
    email_domains: list[str] = Field(default_factory=list, description="requester e-mail domains")
    companies: list[str] = Field(default_factory=list, description="Freshdesk company names")
    pst: str | None = Field(default=None, description="person id of the assigned PST member")


class PartnerMatcher(Strict):
    """All given conditions must hold. Values are regular expressions, matched case-insensitively."""

    type: str | None = Field(default=None, description="Freshdesk ticket type")
    tags: str | None = Field(default=None, description="searched in each tag")
    priority: str | None = Field(default=None, description="low, medium, high or urgent")
    group: str | None = Field(default=None, description="Freshdesk group name")
    keywords: str | None = Field(default=None, description="searched in subject and description or message")
    channel: str | None = Field(default=None, description="freshdesk, freshchat or pst")

    @field_validator("type", "tags", "priority", "group", "keywords", "channel")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value


class PartnerIntakeRule(Strict):
    name: str
    match: PartnerMatcher
    kind: Literal["technical", "security"] = "technical"
    severity: Severity | None = Field(default=None, description="otherwise from the ticket's priority")


class PartnerIntake(Strict):
    """Which tickets and conversations open an incident, and of which type ("the first matching rule")."""

    types: dict[Literal["technical", "security", "technical_pst", "security_pst"], str]
    priority_severity: dict[Literal["low", "medium", "high", "urgent"], Severity] = Field(
        default_factory=lambda: {"low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH,
                                 "urgent": Severity.CRITICAL})
    chat_severity: Severity = Field(default=Severity.HIGH, description="Freshchat reports carry no priority")
    rules: list[PartnerIntakeRule] = Field(default_factory=list)


class FreshdeskPolicy(Strict):
    """Tickets the system opens for incidents that escalate ("all escalated incidents tracked in Freshdesk")."""

    requester_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="requester of tickets we open")
    ticket_type: str = "Incident"
    group_id: int | None = None
    tags: list[str] = Field(default_factory=lambda: ["incident"])
    ticket_escalated_incidents: bool = Field(default=True, description="open a ticket past the first level")


class PlanePolicy(Strict):
    """Where follow-up actions become work items."""

    workspace: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="workspace slug")
    project_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    web_url: str | None = Field(default=None, description="base of links to work items (https://app.plane.so)")
    assignees: dict[str, str] = Field(default_factory=dict, description="person id -> Plane member uuid")


class PartnerPolicy(Strict):
    update_interval: dict[Severity, Duration] = Field(default_factory=dict)
    pst_role: str = "pst"
    accounts: list[PartnerAccount] = Field(default_factory=list)
    intake: PartnerIntake | None = None
    freshdesk: FreshdeskPolicy | None = None
    plane: PlanePolicy | None = None


class Policy(Strict):
    version: Literal[1] = 1
    organisation: Organisation
    people: list[Person]
    roles: dict[str, Role]
    channels: dict[str, Channel]
    severities: dict[Severity, SeverityLevel]
    incident_types: dict[str, IncidentType]
    emergency: EmergencyPolicy
    classification: ClassificationPolicy
    assignment: list[str] = Field(description="roles that assign an incident owner (engineering team lead)")
    resolvers: list[str] = Field(description="roles allowed to resolve")
    status_page: StatusPage
    cert_in: CertInPolicy
    review: ReviewPolicy = ReviewPolicy()
    partners: PartnerPolicy = PartnerPolicy()

    def person(self, person_id: str) -> Person:
        return next(p for p in self.people if p.id == person_id)

    def severity(self, severity: Severity) -> SeverityLevel:
        return self.severities[severity]

    def members(self, role_id: str) -> list[Person]:
        return [self.person(pid) for pid in self.roles[role_id].members]


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc


def cross_reference_errors(policy: Policy) -> list[tuple[tuple[str | int, ...], str]]:
    """Names that point nowhere: a role with no such person, a path with no such role, ..."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    person_ids = {p.id for p in policy.people}
    seen: set[str] = set()
    for i, person in enumerate(policy.people):
        if person.id in seen:
            errors.append((("people", i, "id"), f"duplicate person id {person.id!r}"))
        seen.add(person.id)

    def need_role(loc: tuple[str | int, ...], role: str) -> None:
        if role not in policy.roles:
            errors.append((loc, f"unknown role {role!r} (known: {', '.join(sorted(policy.roles))})"))

    def need_channel(loc: tuple[str | int, ...], channel: str) -> None:
        if channel not in policy.channels:
            errors.append((loc, f"unknown channel {channel!r} (known: {', '.join(sorted(policy.channels))})"))

    for role_id, role in policy.roles.items():
        for j, member in enumerate(role.members):
            if member not in person_ids:
                errors.append((("roles", role_id, "members", j), f"unknown person {member!r}"))
    missing = [s.value for s in Severity if s not in policy.severities]
    if missing:
        errors.append((("severities",), f"missing severity levels: {', '.join(missing)}"))
    for sev, level in policy.severities.items():
        need_channel(("severities", sev.value, "channel"), level.channel)
    for type_id, itype in policy.incident_types.items():
        for path_name in ("escalation", "critical_escalation"):
            for j, step in enumerate(getattr(itype, path_name) or []):
                for k, role in enumerate(step.roles):
                    need_role(("incident_types", type_id, path_name, j, "roles", k), role)
        if itype.channel:
            need_channel(("incident_types", type_id, "channel"), itype.channel)
    for j, role in enumerate(policy.emergency.parallel_roles):
        need_role(("emergency", "parallel_roles", j), role)
    for field in ("assignment", "resolvers"):
        for j, role in enumerate(getattr(policy, field)):
            need_role((field, j), role)
    for field in ("assessors", "notify_roles_critical", "breach_roles", "missed_assessment_roles"):
        for j, role in enumerate(getattr(policy.cert_in, field)):
            need_role(("cert_in", field, j), role)
    if policy.cert_in.point_of_contact not in person_ids:
        errors.append((("cert_in", "point_of_contact"), f"unknown person {policy.cert_in.point_of_contact!r}"))
    for field in ("escalate_to", "owners"):
        for j, role in enumerate(getattr(policy.review, field)):
            need_role(("review", field, j), role)
    partners = policy.partners
    for j, account in enumerate(partners.accounts):
        if account.pst and account.pst not in person_ids:
            errors.append((("partners", "accounts", j, "pst"), f"unknown person {account.pst!r}"))
    if policy.partners.accounts or partners.intake:
        need_role(("partners", "pst_role"), partners.pst_role)
    if partners.intake:
        for key, type_id in partners.intake.types.items():
            if type_id not in policy.incident_types:
                errors.append((("partners", "intake", "types", key), f"unknown incident type {type_id!r}"))
    need_channel(("review", "digest_channel"), policy.review.digest_channel)
    default_type = policy.classification.default.type
    if default_type is None:
        errors.append((("classification", "default", "type"), "the default classification needs a type"))
    elif default_type not in policy.incident_types:
        errors.append((("classification", "default", "type"), f"unknown incident type {default_type!r}"))
    if policy.classification.default.severity is None:
        errors.append((("classification", "default", "severity"), "the default classification needs a severity"))
    for j, rule in enumerate(policy.classification.rules):
        if rule.set.type and rule.set.type not in policy.incident_types:
            errors.append((("classification", "rules", j, "set", "type"), f"unknown incident type {rule.set.type!r}"))
    groups = policy.status_page.groups
    for j, comp in enumerate(policy.status_page.components):
        if comp.group and comp.group not in groups:
            errors.append((("status_page", "components", j, "group"), f"unknown group {comp.group!r}"))
    return errors
