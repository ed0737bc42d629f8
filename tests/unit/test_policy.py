"""config/policy.yaml encodes the written company policy, and broken policy files fail precisely."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from shared.config import check
from shared.config.loader import DEFAULT_POLICY_PATH, PolicyError, current_policy, load_policy
from shared.config.policy import Policy
from shared.domain.model import AlertCategory, Severity
from tests.unit.factories import default_policy

DEFAULT_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def path_of(policy: Policy, type_id: str, *, critical: bool = False) -> list[list[str]]:
    """The escalation path of an incident type as a list of role lists, level by level."""
    severity = Severity.CRITICAL if critical else Severity.MEDIUM
    return [level.roles for level in policy.incident_types[type_id].path_for(severity)]


# -- the default policy covers the written policy ------------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


def test_default_policy_loads(policy: Policy) -> None:
    assert isinstance(policy, Policy)
    assert policy.version == 1


def test_all_four_severity_levels_with_their_written_definitions(policy: Policy) -> None:
    assert list(policy.severities) == [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]
    assert policy.severity(Severity.CRITICAL).description == "Complete service outage or security breach"
    assert policy.severity(Severity.HIGH).description == "Partial service degradation affecting multiple users"
    assert policy.severity(Severity.MEDIUM).description == "Limited functionality impact or performance issues"
    assert policy.severity(Severity.LOW).description == "Minor issues with workarounds available"


def test_response_targets_are_15_minutes_for_critical_and_1_hour_for_high(policy: Policy) -> None:
    assert policy.severity(Severity.CRITICAL).response_target == minutes(15)
    assert policy.severity(Severity.HIGH).response_target == hours(1)


def test_response_targets_get_longer_as_severity_drops(policy: Policy) -> None:
    targets = [policy.severity(s).response_target for s in Severity]
    assert targets == sorted(targets)


def test_critical_incidents_escalate_in_parallel_and_only_critical_does(policy: Policy) -> None:
    assert policy.severity(Severity.CRITICAL).parallel_escalation is True
    assert [s for s in Severity if policy.severity(s).parallel_escalation] == [Severity.CRITICAL]


def test_root_cause_analysis_after_every_critical_or_high_incident(policy: Policy) -> None:
    assert [s for s in Severity if policy.severity(s).requires_rca] == [Severity.CRITICAL, Severity.HIGH]


def test_system_alerts_go_devops_then_cto_then_product_manager(policy: Policy) -> None:
    assert path_of(policy, "system_alert") == [["devops_engineers"], ["cto"], ["product_manager"]]
    assert policy.incident_types["system_alert"].kind == "technical"


def test_partner_technical_issues_via_freshdesk_go_support_then_product_manager_then_cto(policy: Policy) -> None:
    assert path_of(policy, "partner_technical") == [["wealthy_support"], ["product_manager"], ["cto"]]


def test_partner_technical_issues_via_pst_start_with_pst(policy: Policy) -> None:
    assert path_of(policy, "partner_technical_pst") == [["pst"], ["wealthy_support"], ["product_manager"], ["cto"]]


def test_system_security_alerts_go_directly_to_the_cto(policy: Policy) -> None:
    assert path_of(policy, "system_security")[0] == ["cto"]
    assert policy.incident_types["system_security"].kind == "security"


def test_critical_system_security_alerts_go_to_the_cto_with_no_intermediate_step(policy: Policy) -> None:
    itype = policy.incident_types["system_security"]
    assert itype.critical_escalation is not None
    assert path_of(policy, "system_security", critical=True)[0] == ["cto"]


def test_partner_security_issues_go_support_then_cto(policy: Policy) -> None:
    assert path_of(policy, "partner_security") == [["wealthy_support"], ["cto"]]
    assert path_of(policy, "partner_security_pst") == [["pst"], ["wealthy_support"], ["cto"]]


def test_development_blockers_go_engineering_and_product_manager_then_cto_then_ceo(policy: Policy) -> None:
    assert path_of(policy, "development_blocker") == [["engineering_teams", "product_manager"], ["cto"], ["ceo"]]


def test_bug_reports_go_engineering_then_product_manager_then_cto(policy: Policy) -> None:
    assert path_of(policy, "bug_report") == [["engineering_teams"], ["product_manager"], ["cto"]]


def test_non_security_types_use_the_same_path_when_critical(policy: Policy) -> None:
    for type_id in ("system_alert", "partner_technical", "bug_report", "development_blocker"):
        assert path_of(policy, type_id, critical=True) == path_of(policy, type_id)


def test_security_types_post_to_the_security_channel(policy: Policy) -> None:
    for type_id, itype in policy.incident_types.items():
        if itype.kind == "security":
            assert itype.channel == "security", type_id


def test_emergency_escalation_pages_product_manager_and_cto_in_parallel(policy: Policy) -> None:
    assert policy.emergency.parallel_roles == ["product_manager", "cto"]


def test_emergency_changes_are_reviewed_within_24_hours(policy: Policy) -> None:
    assert policy.emergency.change_review_after == hours(24)


def test_cert_in_timeline(policy: Policy) -> None:
    cert_in = policy.cert_in
    assert cert_in.enabled is True
    assert cert_in.assessment_due == hours(2)
    assert cert_in.report_due == hours(6)
    assert cert_in.report_reminders_at == [hours(4), hours(5) + minutes(30)]
    assert all(reminder < cert_in.report_due for reminder in cert_in.report_reminders_at)


def test_cert_in_is_assessed_by_sre_and_critical_incidents_notify_cto_and_broking_head(policy: Policy) -> None:
    assert policy.cert_in.assessors == ["sre"]
    assert policy.cert_in.notify_roles_critical == ["cto", "broking_head"]
    assert policy.cert_in.website == "https://cert-in.org.in/"
    assert policy.cert_in.point_of_contact in {p.id for p in policy.members("sre")}


def test_security_mailbox_is_security_at_wealthy(policy: Policy) -> None:
    assert policy.organisation.security_mailbox == "security@wealthy.in"


def test_post_incident_review_within_48_hours(policy: Policy) -> None:
    assert policy.review.post_incident_review_within == hours(48)


def test_engineering_team_lead_assigns_the_incident_owner(policy: Policy) -> None:
    assert policy.assignment == ["engineering_team_lead"]
    assert "engineering_team_lead" in policy.resolvers


def test_key_contacts_and_escalation_roles_have_people(policy: Policy) -> None:
    for role_id in ("engineering_team_lead", "cto", "ceo", "operations_manager", "product_manager",
                    "devops_engineers", "wealthy_support", "pst", "sre", "broking_head"):
        assert policy.members(role_id), role_id


def test_classification_covers_the_four_alert_sources_of_the_policy(policy: Policy) -> None:
    categories = {rule.set.category for rule in policy.classification.rules}
    assert set(AlertCategory) <= categories | {policy.classification.default.category}


def test_default_classification_is_a_medium_infrastructure_system_alert(policy: Policy) -> None:
    default = policy.classification.default
    assert (default.severity, default.category, default.type) == (
        Severity.MEDIUM, AlertCategory.INFRASTRUCTURE, "system_alert")
    assert policy.classification.group_by == ["alertname", "service"]


# -- broken files: file, line and field -------------------------------------------------------------------


def variant(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    """Write the default policy with exactly one occurrence of `old` replaced by `new`."""
    assert DEFAULT_TEXT.count(old) == 1, f"{old!r} must occur exactly once in the default policy"
    text = DEFAULT_TEXT.replace(old, new)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line containing `needle`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def problems(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.path == path
    assert str(path) in str(info.value)
    return info.value.problems


@pytest.mark.parametrize(
    ("old", "new", "marker", "field", "message"),
    [
        pytest.param("response_target: 15m", "response_target: 15 mins", "response_target: 15 mins",
                     "severities.critical.response_target", "invalid duration '15 mins'", id="bad-duration"),
        pytest.param("update_interval: { critical: 30m", "update_interval: { critical: 30 min", "30 min",
                     "partners.update_interval.critical", "invalid duration '30 min'", id="bad-duration-flow-map"),
        pytest.param("report_reminders_at: [4h, 5h30m]", "report_reminders_at: [4h, 5h30]", "[4h, 5h30]",
                     "cert_in.report_reminders_at.1", "invalid duration '5h30'", id="bad-duration-in-list"),
        pytest.param('{ roles: [cto], note: "L2', '{ roles: [ctoo], note: "L2', "[ctoo]",
                     "incident_types.system_alert.escalation.1.roles.0", "unknown role 'ctoo'", id="unknown-role"),
        pytest.param("parallel_roles: [product_manager, cto]", "parallel_roles: [product_manager, cfo]",
                     "parallel_roles", "emergency.parallel_roles.1", "unknown role 'cfo'", id="unknown-parallel-role"),
        pytest.param("members: [cto]", "members: [cto-typo]", "cto-typo",
                     "roles.cto.members.0", "unknown person 'cto-typo'", id="unknown-person"),
        pytest.param("point_of_contact: sre-1", "point_of_contact: sre-9", "point_of_contact",
                     "cert_in.point_of_contact", "unknown person 'sre-9'", id="unknown-point-of-contact"),
        pytest.param("  timezone: Asia/Kolkata", "  time_zone: Asia/Kolkata", "time_zone",
                     "organisation.time_zone", "Extra inputs are not permitted", id="typo-key"),
        pytest.param("    requires_rca: true\n  medium:", "    require_rca: true\n  medium:", "require_rca",
                     "severities.high.require_rca", "Extra inputs are not permitted", id="typo-key-in-severity"),
        pytest.param("  high:\n    description: Partial", "  urgent:\n    description: Partial", "  urgent:",
                     "severities.urgent", "Input should be 'critical', 'high', 'medium' or 'low'",
                     id="unknown-severity-key"),
        pytest.param('"^uptime-kuma$"', '"^uptime-kuma$("', "uptime-kuma$(",
                     "classification.rules.2.match.source", "invalid regular expression", id="bad-regex"),
        pytest.param('labels: { category: "^security$" }', 'labels: { category: "^security[" }', "^security[",
                     "classification.rules.1.match.labels", "invalid regular expression", id="bad-label-regex"),
        pytest.param("slack_user_id: U0CTO00001", "slack_user_id: cto00001", "cto00001",
                     "people.5.slack_user_id", "'cto00001' is not a Slack user id", id="bad-slack-user"),
        pytest.param("slack_group_id: S0DEVOPS01", "slack_group_id: U0DEVOPS01", "slack_group_id: U0DEVOPS01",
                     "roles.devops_engineers.slack_group_id", "'U0DEVOPS01' is not a Slack user group id",
                     id="bad-slack-group"),
        pytest.param("id: C0CRITICAL1", "id: '#critical'", "#critical",
                     "channels.critical.id", "'#critical' is not a Slack channel id", id="bad-slack-channel"),
        pytest.param("channel: critical\n", "channel: on-call\n", "channel: on-call",
                     "severities.critical.channel", "unknown channel 'on-call'", id="unknown-channel"),
        pytest.param("type: system_alert }", "type: system_alrt }", "system_alrt",
                     "classification.default.type", "unknown incident type 'system_alrt'", id="unknown-default-type"),
        pytest.param("security_mailbox: security@wealthy.in", "security_mailbox: security-at-wealthy.in",
                     "security_mailbox", "organisation.security_mailbox", "String should match pattern",
                     id="bad-mailbox"),
    ],
)
def test_broken_field_is_reported_with_file_line_and_dotted_field(
    tmp_path: Path, old: str, new: str, marker: str, field: str, message: str
) -> None:
    path, text = variant(tmp_path, old, new)
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{line_of(text, marker)}: {field}: ")
    assert message in found[0]


def test_missing_severity_level_is_reported_at_the_severities_section(tmp_path: Path) -> None:
    start = DEFAULT_TEXT.index("  low:\n")
    end = DEFAULT_TEXT.index("# The detailed escalation matrix")
    path, text = variant(tmp_path, DEFAULT_TEXT[start:end], "\n")
    assert problems(path) == [f"{path}:{line_of(text, 'severities:')}: severities: missing severity levels: low"]


def test_every_problem_is_listed_not_only_the_first(tmp_path: Path) -> None:
    path, text = variant(tmp_path, "members: [cto]", "members: [cto-typo, cto-other]")
    line = line_of(text, "cto-typo")
    assert problems(path) == [
        f"{path}:{line}: roles.cto.members.0: unknown person 'cto-typo'",
        f"{path}:{line}: roles.cto.members.1: unknown person 'cto-other'",
    ]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path, text = variant(tmp_path, "  name: Wealthy\n", "  name: Wealthy: Inc\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:{line_of(text, 'Wealthy: Inc')}: not valid YAML")


@pytest.mark.parametrize("text", ["- a list\n- of sections\n", "just a string\n", ""], ids=["list", "scalar", "empty"])
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    assert problems(path) == [f"{path}:1: the policy must be a mapping of sections"]


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    (problem,) = problems(path)
    assert problem == f"{path}: file not found"


@pytest.mark.parametrize("value", ["-5", "0"], ids=["negative", "zero"])
def test_a_non_positive_numeric_duration_is_refused(tmp_path: Path, value: str) -> None:
    path, text = variant(tmp_path, "response_target: 15m", f"response_target: {value}")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:{line_of(text, 'response_target: ' + value)}: "
                              "severities.critical.response_target: ")


def test_a_huge_numeric_duration_is_a_policy_error(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, "response_target: 15m", "response_target: 10000000000000000")
    problems(path)


@pytest.mark.parametrize("kind", ["directory", "not-utf8"])
def test_an_unreadable_file_is_a_policy_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "policy.yaml"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\xff\xfe" + DEFAULT_TEXT.encode())
    problems(path)


def test_a_duplicated_key_is_refused(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, "{ critical: 30m, high: 1h,", "{ critical: 30m, high: 1h, high: 8h,")
    problems(path)


# -- make check-config ---------------------------------------------------------------------------------


def test_check_config_accepts_the_default_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main([str(DEFAULT_POLICY_PATH)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{DEFAULT_POLICY_PATH}: valid.")
    policy = default_policy()
    assert f"{len(policy.people)} people, {len(policy.roles)} roles" in out
    assert f"{len(policy.incident_types)} incident types" in out


def test_check_config_prints_each_problem_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, text = variant(tmp_path, "members: [cto]", "members: [cto-typo]")
    assert check.main([str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}:{line_of(text, 'cto-typo')}: roles.cto.members.0: unknown person 'cto-typo'" in captured.err


def test_check_config_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main([str(tmp_path / "absent.yaml")]) == 1
    assert "file not found" in capsys.readouterr().err


# -- INCIDENT_CONFIG and the cache ---------------------------------------------------------------------


def test_current_policy_defaults_to_config_policy_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INCIDENT_CONFIG", raising=False)
    assert current_policy() == default_policy()


def test_current_policy_reads_the_file_named_by_incident_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = variant(tmp_path, "  name: Wealthy\n", "  name: Wealthy Staging\n")
    monkeypatch.setenv("INCIDENT_CONFIG", str(path))
    assert current_policy().organisation.name == "Wealthy Staging"


def test_current_policy_is_cached_until_the_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = variant(tmp_path, "  name: Wealthy\n", "  name: First\n")
    monkeypatch.setenv("INCIDENT_CONFIG", str(path))
    first = current_policy()
    assert current_policy() is first

    path.write_text(DEFAULT_TEXT.replace("  name: Wealthy\n", "  name: Second\n"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # a later mtime, whatever the clock
    second = current_policy()
    assert second.organisation.name == "Second"
    assert current_policy() is second


def test_current_policy_with_a_missing_file_is_a_policy_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "absent.yaml"
    monkeypatch.setenv("INCIDENT_CONFIG", str(path))
    with pytest.raises(PolicyError, match="file not found") as info:
        current_policy()
    assert info.value.path == path


def test_current_policy_with_a_broken_file_is_a_policy_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = variant(tmp_path, "members: [cto]", "members: [cto-typo]")
    monkeypatch.setenv("INCIDENT_CONFIG", str(path))
    with pytest.raises(PolicyError, match="unknown person 'cto-typo'"):
        current_policy()
