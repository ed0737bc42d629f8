"""Who is paged first, how they are mentioned and where, from the default policy's escalation matrix."""

from __future__ import annotations

import pytest

from shared.config.policy import Policy
from shared.domain.model import Severity
from shared.domain.responders import first_responders, role_mentions
from tests.unit.factories import default_policy, incident, policy_with

NOT_CRITICAL = [Severity.HIGH, Severity.MEDIUM, Severity.LOW]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


@pytest.mark.parametrize("severity", NOT_CRITICAL)
@pytest.mark.parametrize(
    ("incident_type", "roles"),
    [
        ("system_alert", ("devops_engineers",)),
        ("partner_technical", ("wealthy_support",)),
        ("partner_technical_pst", ("pst",)),
        ("system_security", ("cto",)),
        ("partner_security", ("wealthy_support",)),
        ("partner_security_pst", ("pst",)),
        ("development_blocker", ("engineering_teams", "product_manager")),
        ("bug_report", ("engineering_teams",)),
    ],
)
def test_first_responders_are_level_one_of_the_type(
    policy: Policy, incident_type: str, roles: tuple[str, ...], severity: Severity
) -> None:
    assert first_responders(policy, incident(type=incident_type, severity=severity)).roles == roles


@pytest.mark.parametrize(
    ("incident_type", "roles"),
    [
        ("system_alert", ("devops_engineers", "product_manager", "cto")),
        ("partner_technical", ("wealthy_support", "product_manager", "cto")),
        ("partner_technical_pst", ("pst", "product_manager", "cto")),
        ("system_security", ("cto", "product_manager")),
        ("partner_security", ("wealthy_support", "product_manager", "cto")),
        ("development_blocker", ("engineering_teams", "product_manager", "cto")),
        ("bug_report", ("engineering_teams", "product_manager", "cto")),
    ],
)
def test_critical_incidents_add_product_manager_and_cto_in_parallel_once_each(
    policy: Policy, incident_type: str, roles: tuple[str, ...]
) -> None:
    responders = first_responders(policy, incident(type=incident_type, severity=Severity.CRITICAL))
    assert responders.roles == roles
    assert len(set(responders.roles)) == len(responders.roles)


def test_without_parallel_escalation_critical_pages_level_one_only() -> None:
    def no_parallel(data: dict) -> None:
        data["severities"]["critical"]["parallel_escalation"] = False

    responders = first_responders(policy_with(no_parallel), incident(severity=Severity.CRITICAL))
    assert responders.roles == ("devops_engineers",)


def test_unknown_incident_type_falls_back_to_the_default_type(policy: Policy) -> None:
    responders = first_responders(policy, incident(type="no_such_type"))
    assert responders.roles == ("devops_engineers",)


# -- mentions -------------------------------------------------------------------------------------------


def test_role_with_a_slack_group_is_mentioned_as_the_group(policy: Policy) -> None:
    assert role_mentions(policy, "devops_engineers") == ["<!subteam^S0DEVOPS01>"]
    assert role_mentions(policy, "engineering_teams") == ["<!subteam^S0ENGTEAM1>"]


def test_role_without_a_slack_group_mentions_each_member(policy: Policy) -> None:
    assert role_mentions(policy, "cto") == ["<@U0CTO00001>"]
    assert role_mentions(policy, "product_manager") == ["<@U0PRODMGR1>"]


def test_member_without_a_slack_id_is_named() -> None:
    def cto_without_slack(data: dict) -> None:
        person = next(p for p in data["people"] if p["id"] == "cto")
        del person["slack_user_id"]

    assert role_mentions(policy_with(cto_without_slack), "cto") == ["Chief Technology Officer"]


def test_role_with_several_members_mentions_them_all() -> None:
    def two_ctos(data: dict) -> None:
        data["roles"]["cto"]["members"] = ["cto", "ceo"]

    assert role_mentions(policy_with(two_ctos), "cto") == ["<@U0CTO00001>", "<@U0CEO00001>"]


def test_first_responder_mentions_follow_the_roles_in_order(policy: Policy) -> None:
    responders = first_responders(policy, incident(type="system_alert", severity=Severity.CRITICAL))
    assert responders.mentions == ("<!subteam^S0DEVOPS01>", "<@U0PRODMGR1>", "<@U0CTO00001>")


# -- channel --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "channel_key", "channel_id"),
    [
        (Severity.CRITICAL, "critical", "C0CRITICAL1"),
        (Severity.HIGH, "incidents", "C0INCIDENTS"),
        (Severity.MEDIUM, "incidents", "C0INCIDENTS"),
        (Severity.LOW, "incidents", "C0INCIDENTS"),
    ],
)
def test_channel_comes_from_the_severity_when_the_type_has_none(
    policy: Policy, severity: Severity, channel_key: str, channel_id: str
) -> None:
    responders = first_responders(policy, incident(type="system_alert", severity=severity))
    assert (responders.channel_key, responders.channel_id) == (channel_key, channel_id)


@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize(
    ("incident_type", "channel_key", "channel_id"),
    [
        ("system_security", "security", "C0SECURITY1"),
        ("partner_security", "security", "C0SECURITY1"),
        ("partner_technical", "partners", "C0PARTNERS1"),
        ("bug_report", "engineering", "C0ENGINEER1"),
    ],
)
def test_type_channel_overrides_the_severity_channel(
    policy: Policy, incident_type: str, channel_key: str, channel_id: str, severity: Severity
) -> None:
    responders = first_responders(policy, incident(type=incident_type, severity=severity))
    assert (responders.channel_key, responders.channel_id) == (channel_key, channel_id)
