"""Who is paged first for an incident, from the policy's escalation matrix."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config.policy import Policy
from shared.domain.incident import Incident
from shared.domain.model import Severity


@dataclass(frozen=True)
class Responders:
    roles: tuple[str, ...]
    mentions: tuple[str, ...]  # Slack mention strings: <!subteam^S…> or <@U…>
    channel_id: str
    channel_key: str


def first_responders(policy: Policy, incident: Incident) -> Responders:
    """Level 1 of the incident type's path; for critical incidents also the emergency roles, in parallel."""
    itype = policy.incident_types.get(incident.type) or policy.incident_types[policy.classification.default.type]
    roles = list(itype.path_for(incident.severity)[0].roles)
    level = policy.severity(incident.severity)
    if incident.severity is Severity.CRITICAL and level.parallel_escalation:
        roles += [r for r in policy.emergency.parallel_roles if r not in roles]
    channel_key = itype.channel or level.channel
    return Responders(
        roles=tuple(roles),
        mentions=tuple(m for role in roles for m in role_mentions(policy, role)),
        channel_id=policy.channels[channel_key].id,
        channel_key=channel_key,
    )


def role_mentions(policy: Policy, role_id: str) -> list[str]:
    role = policy.roles[role_id]
    if role.slack_group_id:
        return [f"<!subteam^{role.slack_group_id}>"]
    return [f"<@{p.slack_user_id}>" if p.slack_user_id else p.name for p in policy.members(role_id)]
