"""Severity, category, type and group key of alerts under the default policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config.policy import Policy
from shared.domain.classification import classify, group_id, group_key, matches
from shared.domain.model import AlertCategory, Severity
from shared.domain.sources import normalise
from tests.unit.factories import T0, alert, default_policy, policy_with

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


# -- severity, category and type ----------------------------------------------------------------------


def test_source_severity_label_is_honoured(policy: Policy) -> None:
    item = classify(policy, alert("Checkout 5xx rate", labels={"alertname": "Checkout 5xx rate",
                                                                "service": "checkout", "severity": "critical"}))
    assert item.severity is Severity.CRITICAL
    assert item.category is AlertCategory.APPLICATION_PERFORMANCE
    assert item.type == "system_alert"
    assert item.rule == "Application performance degradation"


def test_real_grafana_payload_with_critical_label_is_critical(policy: Policy) -> None:
    payload = json.loads((PAYLOADS / "grafana_firing.json").read_text())
    (normalised,) = normalise("grafana", payload, T0)
    item = classify(policy, normalised)
    assert item.severity is Severity.CRITICAL
    assert item.service == "checkout"
    assert item.group_key == "system_alert|alertname=Checkout 5xx rate|service=checkout"


def test_source_severity_also_wins_over_a_matching_rule(policy: Policy) -> None:
    # The CPU rule says medium; the sender said critical and the policy honours the sender.
    item = classify(policy, alert("CPU usage above 95%", labels={"severity": "P1"}))
    assert item.rule == "Infrastructure resource thresholds"
    assert item.severity is Severity.CRITICAL


def test_source_severity_is_ignored_when_the_policy_says_so() -> None:
    def ignore_source(data: dict) -> None:
        data["classification"]["honour_source_severity"] = False

    item = classify(policy_with(ignore_source), alert("CPU usage above 95%", labels={"severity": "critical"}))
    assert item.severity is Severity.MEDIUM


@pytest.mark.parametrize(
    "title",
    ["Authentication failures on /login", "auth_failed spike for admin", "Brute-force attempt from 10.0.0.8",
     "Unauthorized API access", "WAF blocked requests", "Possible data exfiltration", "Ransomware signature seen"],
)
def test_security_anomalies_are_system_security_incidents(policy: Policy, title: str) -> None:
    item = classify(policy, alert(title))
    assert item.category is AlertCategory.SECURITY
    assert item.type == "system_security"
    assert item.severity is Severity.HIGH
    assert item.rule == "Security anomalies and authentication failures"


def test_security_category_label_makes_a_security_incident(policy: Policy) -> None:
    item = classify(policy, alert("Suspicious login pattern", labels={"category": "Security"}))
    assert (item.category, item.type, item.rule) == (AlertCategory.SECURITY, "system_security",
                                                     "Security category label")


def test_uptime_kuma_alerts_are_high_availability_alerts(policy: Policy) -> None:
    item = classify(policy, alert("Partner portal", source="uptime-kuma"))
    assert (item.severity, item.category, item.type) == (Severity.HIGH, AlertCategory.AVAILABILITY, "system_alert")


def test_endpoint_down_is_high_availability(policy: Policy) -> None:
    item = classify(policy, alert("Trading API is down"))
    assert (item.severity, item.category) == (Severity.HIGH, AlertCategory.AVAILABILITY)


def test_latency_is_high_application_performance(policy: Policy) -> None:
    item = classify(policy, alert("p99 latency above 2s", summary="checkout is slow"))
    assert (item.severity, item.category) == (Severity.HIGH, AlertCategory.APPLICATION_PERFORMANCE)


@pytest.mark.parametrize("title", ["CPU usage above 90%", "Memory pressure on node-3", "Disk almost full",
                                   "Filesystem inodes exhausted"])
def test_resource_thresholds_are_medium_infrastructure(policy: Policy, title: str) -> None:
    item = classify(policy, alert(title))
    assert (item.severity, item.category, item.type) == (Severity.MEDIUM, AlertCategory.INFRASTRUCTURE,
                                                         "system_alert")
    assert item.rule == "Infrastructure resource thresholds"


def test_otel_source_sets_category_but_keeps_the_default_severity(policy: Policy) -> None:
    item = classify(policy, alert("NullPointer in OrderService", source="otel"))
    assert (item.severity, item.category) == (Severity.MEDIUM, AlertCategory.APPLICATION_PERFORMANCE)


def test_no_matching_rule_falls_back_to_the_defaults(policy: Policy) -> None:
    item = classify(policy, alert("Queue backlog growing", source="generic"))
    assert item.rule is None
    assert (item.severity, item.category, item.type) == (Severity.MEDIUM, AlertCategory.INFRASTRUCTURE,
                                                         "system_alert")


def test_first_matching_rule_wins(policy: Policy) -> None:
    # Matches both the security rule and the latency rule: the security rule comes first.
    item = classify(policy, alert("Brute force causing high latency"))
    assert item.rule == "Security anomalies and authentication failures"


def test_rule_without_stop_lets_later_rules_fill_the_gaps() -> None:
    def add_service_rule(data: dict) -> None:
        data["classification"]["rules"].insert(
            0, {"name": "Payments service", "match": {"labels": {"team": "^payments$"}},
                "set": {"service": "payments"}, "stop": False})

    item = classify(policy_with(add_service_rule), alert("CPU usage above 90%", labels={"team": "payments"}))
    assert item.service == "payments"
    assert item.rule == "Payments service"
    assert (item.severity, item.category) == (Severity.MEDIUM, AlertCategory.INFRASTRUCTURE)


def test_matchers_require_every_condition(policy: Policy) -> None:
    matcher = policy.classification.rules[2].match  # source: ^uptime-kuma$
    assert matches(matcher, alert("x", source="uptime-kuma"))
    assert matches(matcher, alert("x", source="UPTIME-KUMA"))  # case-insensitive
    assert not matches(matcher, alert("x", source="uptime-kuma-2"))
    label_matcher = policy.classification.rules[1].match  # labels: category ^security$
    assert not matches(label_matcher, alert("x"))  # a missing label never matches


# -- group keys ---------------------------------------------------------------------------------------


def key_of(policy: Policy, **labels: str) -> str:
    return classify(policy, alert("CPU usage above 90%", fingerprint=str(sorted(labels.items())),
                                  labels=labels)).group_key


def test_same_alertname_and_service_share_a_group_whatever_the_other_labels(policy: Policy) -> None:
    first = key_of(policy, alertname="HighCPU", service="api", instance="node-1", pod="api-7f9")
    second = key_of(policy, alertname="HighCPU", service="api", instance="node-2", region="asia-south1")
    assert first == second == "system_alert|alertname=HighCPU|service=api"


def test_different_service_is_a_different_group(policy: Policy) -> None:
    assert key_of(policy, alertname="HighCPU", service="api") != key_of(policy, alertname="HighCPU", service="web")


def test_different_alertname_is_a_different_group(policy: Policy) -> None:
    assert key_of(policy, alertname="HighCPU", service="api") != key_of(policy, alertname="HighMemory", service="api")


def test_service_field_counts_when_the_label_is_missing(policy: Policy) -> None:
    item = classify(policy, alert("CPU usage above 90%", labels={"alertname": "HighCPU"}, service="api"))
    assert item.group_key == "system_alert|alertname=HighCPU|service=api"


def test_alert_without_any_group_by_label_is_its_own_group(policy: Policy) -> None:
    one = classify(policy, alert("CPU usage above 90%", fingerprint="fp-a", labels={"instance": "node-1"}))
    two = classify(policy, alert("CPU usage above 90%", fingerprint="fp-b", labels={"instance": "node-1"}))
    assert one.group_key == "system_alert|alert=grafana:fp-a"
    assert one.group_key != two.group_key


def test_incident_type_is_part_of_the_group_key(policy: Policy) -> None:
    labels = {"alertname": "LoginErrors", "service": "auth"}
    security = classify(policy, alert("Authentication failures", labels=labels))
    other = classify(policy, alert("Login errors", labels=labels))
    assert security.group_key != other.group_key


def test_group_key_follows_the_policy_group_by() -> None:
    an_alert = alert("x", labels={"alertname": "A", "service": "api", "cluster": "prod"})
    assert group_key(["cluster"], an_alert, "system_alert", "api") == "system_alert|cluster=prod"


def test_group_id_is_stable_and_storage_safe(policy: Policy) -> None:
    item = classify(policy, alert("x", labels={"alertname": "A/B|C", "service": "api"}))
    assert item.group_id == group_id(item.group_key)
    assert len(item.group_id) == 24
    assert item.group_id.isalnum()


# -- Severity.parse -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("critical", Severity.CRITICAL), ("P1", Severity.CRITICAL), ("sev1", Severity.CRITICAL),
        ("crit", Severity.CRITICAL), ("  Critical ", Severity.CRITICAL),
        ("high", Severity.HIGH), ("p2", Severity.HIGH), ("sev2", Severity.HIGH), ("SEV-2", Severity.HIGH),
        ("error", Severity.HIGH),
        ("medium", Severity.MEDIUM), ("warning", Severity.MEDIUM), ("warn", Severity.MEDIUM), ("p3", Severity.MEDIUM),
        ("low", Severity.LOW), ("info", Severity.LOW), ("P4", Severity.LOW), ("none", Severity.LOW),
        ("unknown", None), ("", None), ("p0", None), (None, None),
    ],
)
def test_severity_parse_aliases(spelling: str | None, expected: Severity | None) -> None:
    assert Severity.parse(spelling) is expected


def test_severity_rank_orders_most_severe_highest() -> None:
    assert [s.rank for s in Severity] == [4, 3, 2, 1]
    assert max(Severity, key=lambda s: s.rank) is Severity.CRITICAL
