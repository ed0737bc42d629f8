"""Source normalisers against the real payloads in tests/fixtures/payloads."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.domain.model import AlertStatus, Link, Severity, fingerprint_of
from shared.domain.sources import SOURCES, PayloadError, normalise
from shared.domain.sources._common import error_shape, parse_time

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
NOW = datetime(2024, 6, 10, 6, 14, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def field_of(source: str, payload: object) -> str:
    with pytest.raises(PayloadError) as info:
        normalise(source, payload, NOW)
    return info.value.field


# -- dispatcher and error type -----------------------------------------------------------------------------


def test_sources_are_the_documented_names() -> None:
    assert {"grafana", "alertmanager", "alertmanager-api", "uptime-kuma", "otel", "generic"} == SOURCES


def test_unknown_source_is_a_payload_error() -> None:
    assert field_of("nagios", {}) == "source"


def test_payload_error_shape() -> None:
    error = PayloadError("alerts[2].startsAt", "is required")
    assert isinstance(error, ValueError)
    assert (error.field, error.message) == ("alerts[2].startsAt", "is required")
    assert str(error) == "alerts[2].startsAt: is required"
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (clone.field, clone.message) == (error.field, error.message)


def test_naive_now_is_taken_as_utc() -> None:
    [alert] = normalise("generic", {"title": "x"}, NOW.replace(tzinfo=None))
    assert alert.starts_at == NOW


# -- Grafana -----------------------------------------------------------------------------------------------


def test_grafana_firing() -> None:
    [alert] = normalise("grafana", load("grafana_firing.json"), NOW)
    assert alert.source == "grafana"
    assert alert.fingerprint == "a1b2c3d4e5f60718"
    assert alert.status is AlertStatus.FIRING
    assert alert.title == "Checkout 5xx rate"
    assert alert.summary == "5xx > 5% on /api/checkout"
    assert alert.service == "checkout"
    assert alert.severity is Severity.CRITICAL
    assert alert.starts_at == datetime(2024, 6, 10, 6, 12, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.labels["grafana_folder"] == "Payments"
    assert [link.title for link in alert.links] == ["Source", "Silence", "Runbook", "Grafana"]
    assert alert.raw["fingerprint"] == "a1b2c3d4e5f60718"
    assert "groupKey" not in alert.raw


def test_grafana_resolved_keeps_identity() -> None:
    [firing] = normalise("grafana", load("grafana_firing.json"), NOW)
    [resolved] = normalise("grafana", load("grafana_resolved.json"), NOW)
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.ends_at == datetime(2024, 6, 10, 6, 31, tzinfo=UTC)
    assert resolved.alert_id == firing.alert_id


def test_grafana_batch() -> None:
    alerts = normalise("grafana", load("grafana_batch.json"), NOW)
    assert [a.status for a in alerts] == [AlertStatus.FIRING, AlertStatus.FIRING, AlertStatus.RESOLVED]
    assert len({a.fingerprint for a in alerts}) == 3
    assert all(a.severity is Severity.MEDIUM for a in alerts)
    assert (
        Link(title="Panel", url="https://grafana.example.com/d/k8s-pods?orgId=1&viewPanel=4")
        in alerts[0].links
    )
    assert alerts[0].summary == "CPU > 90% on checkout-7d9f-abcde"


def test_webhook_firing_alert_drops_future_ends_at() -> None:
    payload = load("grafana_firing.json")
    payload["alerts"][0]["endsAt"] = "2024-06-10T06:30:00Z"
    [alert] = normalise("grafana", payload, NOW)
    assert alert.ends_at is None


def test_webhook_resolved_without_ends_at_ends_now() -> None:
    payload = load("alertmanager_resolved.json")
    del payload["alerts"][0]["endsAt"]
    [alert] = normalise("alertmanager", payload, NOW)
    assert alert.ends_at == NOW


def test_webhook_alert_status_falls_back_to_group_status() -> None:
    payload = load("alertmanager_firing.json")
    del payload["alerts"][0]["status"]
    assert normalise("alertmanager", payload, NOW)[0].status is AlertStatus.FIRING
    del payload["status"]
    assert field_of("alertmanager", payload) == "alerts[0].status"


def test_webhook_without_fingerprint_hashes_labels() -> None:
    payload = load("grafana_firing.json")
    del payload["alerts"][0]["fingerprint"]
    [alert] = normalise("grafana", payload, NOW)
    assert alert.fingerprint == fingerprint_of(payload["alerts"][0]["labels"])


def test_webhook_title_falls_back_to_summary() -> None:
    payload = load("alertmanager_firing.json")
    del payload["alerts"][0]["labels"]["alertname"]
    assert normalise("alertmanager", payload, NOW)[0].title == "Probe failing for https://api.example.com"


# -- Alertmanager ------------------------------------------------------------------------------------------


def test_alertmanager_firing() -> None:
    [alert] = normalise("alertmanager", load("alertmanager_firing.json"), NOW)
    assert alert.source == "alertmanager"
    assert alert.fingerprint == "1a30ba71cca2921f"
    assert alert.title == "ProbeFailure"
    assert alert.service == "blackbox"  # from the job label
    assert alert.severity is Severity.CRITICAL
    assert alert.starts_at == datetime(2024, 6, 10, 6, 8, 45, 828000, tzinfo=UTC)
    assert [link.title for link in alert.links] == ["Source", "Alertmanager"]


def test_alertmanager_resolved() -> None:
    [alert] = normalise("alertmanager", load("alertmanager_resolved.json"), NOW)
    assert alert.status is AlertStatus.RESOLVED
    assert alert.ends_at == datetime(2024, 6, 10, 6, 20, 15, 112000, tzinfo=UTC)


def test_alertmanager_batch() -> None:
    alerts = normalise("alertmanager", load("alertmanager_batch.json"), NOW)
    assert [a.labels["instance"] for a in alerts] == [
        "https://api.example.com",
        "https://www.example.com",
        "https://status.example.com",
    ]
    assert alerts[2].status is AlertStatus.RESOLVED
    assert Link(title="Runbook", url="https://runbooks.example.com/probe-failure") in alerts[0].links
    assert alerts[0].raw == load("alertmanager_batch.json")["alerts"][0]


def test_empty_batch_is_no_alerts() -> None:
    payload = load("alertmanager_firing.json")
    payload["alerts"] = []
    assert normalise("alertmanager", payload, NOW) == []


def test_too_many_alerts() -> None:
    payload = load("alertmanager_firing.json")
    payload["alerts"] = payload["alerts"] * 1001
    with pytest.raises(PayloadError) as info:
        normalise("alertmanager", payload, NOW)
    assert str(info.value) == "alerts: too many alerts (1001 > 1000)"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p.update(alerts={}), "alerts"),
        (lambda p: p["alerts"].append("x"), "alerts[1]"),
        (lambda p: p["alerts"][0].pop("startsAt"), "alerts[0].startsAt"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda p: p["alerts"][0].update(endsAt="2024-13-01T00:00:00Z"), "alerts[0].endsAt"),
        (lambda p: p["alerts"][0].update(status="pending"), "alerts[0].status"),
        (lambda p: p["alerts"][0]["labels"].update(job={"a": 1}), "alerts[0].labels.job"),
        (lambda p: p["alerts"][0]["labels"].update({"a.b": None}), 'alerts[0].labels["a.b"]'),
        (lambda p: p["alerts"][0].update(labels=["x"]), "alerts[0].labels"),
        (lambda p: p["alerts"][0].update(fingerprint=7), "alerts[0].fingerprint"),
        (lambda p: p["alerts"][0].update(fingerprint="f" * 257), "alerts[0].fingerprint"),
        (lambda p: p["alerts"][0].update(generatorURL=["x"]), "alerts[0].generatorURL"),
        (lambda p: p["alerts"][0]["labels"].update({"k" * 300: "v"}), "alerts[0].labels"),
    ],
)
def test_malformed_webhook_names_the_field(mutate: Any, field: str) -> None:
    payload = load("alertmanager_firing.json")
    mutate(payload)
    assert field_of("alertmanager", payload).startswith(field)


def test_root_must_be_an_object() -> None:
    assert field_of("grafana", [1]) == "$"
    assert field_of("alertmanager-api", {"a": 1}) == "$"


def test_numeric_label_values_are_stringified() -> None:
    payload = load("alertmanager_firing.json")
    payload["alerts"][0]["labels"].update(port=9090, ratio=0.5, up=False)
    labels = normalise("alertmanager", payload, NOW)[0].labels
    assert (labels["port"], labels["ratio"], labels["up"]) == ("9090", "0.5", "false")


def test_long_label_values_are_truncated() -> None:
    payload = load("alertmanager_firing.json")
    payload["alerts"][0]["labels"]["instance"] = "x" * 10_000
    assert len(normalise("alertmanager", payload, NOW)[0].labels["instance"]) == 4096


def test_non_http_links_are_dropped() -> None:
    payload = load("alertmanager_firing.json")
    payload["alerts"][0]["generatorURL"] = "javascript:alert(1)"
    payload["externalURL"] = ""
    assert normalise("alertmanager", payload, NOW)[0].links == []


# -- Alertmanager API v2 array (vmalert) -------------------------------------------------------------------


def test_vmalert_array_with_future_ends_at_is_firing() -> None:
    [alert] = normalise("alertmanager-api", load("vmalert_array.json"), NOW)
    assert alert.source == "alertmanager"
    assert alert.status is AlertStatus.FIRING
    assert alert.ends_at == datetime(2024, 6, 10, 6, 16, 0, 123456, tzinfo=UTC)
    assert alert.starts_at == datetime(2024, 6, 10, 6, 12, 0, 123456, tzinfo=UTC)
    assert alert.fingerprint == fingerprint_of(load("vmalert_array.json")[0]["labels"])
    assert alert.title == "HighLatencyP99"
    assert alert.service == "checkout"
    assert alert.severity is Severity.MEDIUM
    assert [link.title for link in alert.links] == ["Source"]


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (timedelta(seconds=-1), AlertStatus.RESOLVED),
        (timedelta(0), AlertStatus.RESOLVED),
        (timedelta(seconds=1), AlertStatus.FIRING),
    ],
)
def test_vmalert_status_follows_ends_at(offset: timedelta, status: AlertStatus) -> None:
    payload = load("vmalert_array.json")
    now = datetime(2024, 6, 10, 6, 16, 0, 123456, tzinfo=UTC) - offset
    assert normalise("alertmanager-api", payload, now)[0].status is status


def test_vmalert_without_times_fires_from_now() -> None:
    [alert] = normalise("alertmanager-api", [{"labels": {"alertname": "X"}}], NOW)
    assert (alert.status, alert.starts_at, alert.ends_at) == (AlertStatus.FIRING, NOW, None)


def test_vmalert_go_zero_ends_at_is_none() -> None:
    payload = [{"labels": {"alertname": "X"}, "endsAt": "0001-01-01T00:00:00Z"}]
    assert normalise("alertmanager-api", payload, NOW)[0].status is AlertStatus.FIRING


def test_vmalert_requires_labels() -> None:
    assert field_of("alertmanager-api", [{"labels": {"a": "b"}}, {"annotations": {}}]) == "[1].labels"
    assert field_of("alertmanager-api", [{"labels": {}}]) == "[0].labels"
    assert field_of("alertmanager-api", [{"labels": {"a": "b"}, "startsAt": "x"}]) == "[0].startsAt"


# -- Uptime Kuma -------------------------------------------------------------------------------------------


def test_uptime_kuma_down() -> None:
    [alert] = normalise("uptime-kuma", load("uptime_kuma_down.json"), NOW)
    assert alert.source == "uptime-kuma"
    assert alert.status is AlertStatus.FIRING
    assert alert.title == "Checkout API is down"
    assert alert.summary == "timeout of 48000ms exceeded"
    assert alert.service == "checkout-api"
    assert alert.severity is None
    assert alert.labels == {
        "team": "payments",
        "monitor_id": "12",
        "monitor_type": "http",
        "monitor_status": "down",
    }
    assert alert.starts_at == datetime(2024, 6, 10, 6, 12, 3, 527000, tzinfo=UTC)
    assert alert.links == [Link(title="Monitor", url="https://api.example.com/health")]


def test_uptime_kuma_up_resolves_the_same_alert() -> None:
    [down] = normalise("uptime-kuma", load("uptime_kuma_down.json"), NOW)
    [up] = normalise("uptime-kuma", load("uptime_kuma_up.json"), NOW)
    assert up.status is AlertStatus.RESOLVED
    assert up.title == "Checkout API is up"
    assert up.ends_at == datetime(2024, 6, 10, 6, 19, 3, 611000, tzinfo=UTC)
    assert up.alert_id == down.alert_id


def test_uptime_kuma_test_notification_is_no_alerts() -> None:
    assert normalise("uptime-kuma", load("uptime_kuma_test.json"), NOW) == []


def test_uptime_kuma_pending_is_low_unless_tagged() -> None:
    payload = load("uptime_kuma_down.json")
    payload["heartbeat"]["status"] = 2
    [alert] = normalise("uptime-kuma", payload, NOW)
    assert (alert.status, alert.severity, alert.title) == (
        AlertStatus.FIRING,
        Severity.LOW,
        "Checkout API is pending",
    )
    payload["monitor"]["tags"].append({"name": "severity", "value": "P1"})
    assert normalise("uptime-kuma", payload, NOW)[0].severity is Severity.CRITICAL


def test_uptime_kuma_maintenance_resolves() -> None:
    payload = load("uptime_kuma_down.json")
    payload["heartbeat"]["status"] = 3
    [alert] = normalise("uptime-kuma", payload, NOW)
    assert alert.status is AlertStatus.RESOLVED
    assert alert.labels["maintenance"] == "true"
    assert alert.title == "Checkout API is under maintenance"


def test_uptime_kuma_tags_and_service_tag() -> None:
    payload = load("uptime_kuma_down.json")
    payload["monitor"]["tags"] += [
        {"name": "service", "value": "checkout"},
        {"name": "prod", "value": ""},
        {"name": "team", "value": "sre"},
        {"name": "team", "value": "payments"},
    ]
    [alert] = normalise("uptime-kuma", payload, NOW)
    assert alert.service == "checkout"
    assert alert.labels["prod"] == "true"
    assert alert.labels["team"] == "payments,sre"


def test_uptime_kuma_identity_without_monitor_object() -> None:
    payload = load("uptime_kuma_down.json")
    [full] = normalise("uptime-kuma", payload, NOW)
    payload["monitor"] = None
    [bare] = normalise("uptime-kuma", payload, NOW)
    assert bare.fingerprint == full.fingerprint
    assert bare.title == "Monitor 12 is down"
    assert bare.service is None


def test_uptime_kuma_name_identifies_when_no_id() -> None:
    payload = load("uptime_kuma_down.json")
    del payload["monitor"]["id"], payload["heartbeat"]["monitorID"]
    first = normalise("uptime-kuma", payload, NOW)[0].fingerprint
    payload["monitor"]["name"] = "Other"
    assert normalise("uptime-kuma", payload, NOW)[0].fingerprint != first
    payload["monitor"]["name"] = None
    assert field_of("uptime-kuma", payload) == "monitor.id"


def test_uptime_kuma_placeholder_url_is_not_a_link() -> None:
    payload = load("uptime_kuma_down.json")
    payload["monitor"].update(type="ping", url="https://", hostname="10.0.0.4")
    assert normalise("uptime-kuma", payload, NOW)[0].links == []


def test_uptime_kuma_falls_back_to_top_level_msg() -> None:
    payload = load("uptime_kuma_down.json")
    payload["heartbeat"]["msg"] = "N/A"
    assert normalise("uptime-kuma", payload, NOW)[0].summary == payload["msg"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["heartbeat"].update(status=7), "heartbeat.status"),
        (lambda p: p["heartbeat"].update(status="down"), "heartbeat.status"),
        (lambda p: p["heartbeat"].pop("status"), "heartbeat.status"),
        (lambda p: p["heartbeat"].update(time="10/06/2024"), "heartbeat.time"),
        (lambda p: p["heartbeat"].pop("time"), "heartbeat.time"),
        (lambda p: p.update(heartbeat=[]), "heartbeat"),
        (lambda p: p["monitor"].update(tags=[{"value": "x"}]), "monitor.tags[0].name"),
        (lambda p: p["monitor"].update(tags=[{"name": "a", "value": {"b": 1}}]), "monitor.tags[0].value"),
        (lambda p: p["monitor"].update(id="twelve"), "monitor.id"),
        (lambda p: p["monitor"].update(name=5), "monitor.name"),
    ],
)
def test_malformed_uptime_kuma_names_the_field(mutate: Any, field: str) -> None:
    payload = load("uptime_kuma_down.json")
    mutate(payload)
    assert field_of("uptime-kuma", payload) == field


# -- OpenTelemetry -----------------------------------------------------------------------------------------


def test_otel_error_record() -> None:
    [alert] = normalise("otel", load("otel_logs.json"), NOW)
    assert alert.source == "otel"
    assert alert.status is AlertStatus.FIRING
    assert alert.title == "checkout: java.net.SocketTimeoutException"
    assert alert.summary.startswith("POST /api/checkout failed")
    assert alert.service == "checkout"
    assert alert.severity is Severity.MEDIUM
    assert alert.starts_at == datetime(2024, 6, 10, 6, 13, 20, 123000, tzinfo=UTC)
    assert alert.labels["http.response.status_code"] == "504"
    assert alert.labels["deployment.environment.name"] == "prod"
    assert alert.labels["occurrences"] == "1"
    assert alert.raw["traceId"] == "5b8efff798038103d269b633813fc60c"


def test_otel_batch_groups_by_service_and_error() -> None:
    alerts = normalise("otel", load("otel_logs_batch.json"), NOW)
    assert len(alerts) == 3  # INFO and WARN skipped; two timeouts grouped
    timeout, oom, inventory = alerts
    assert timeout.labels["occurrences"] == "2"
    assert timeout.starts_at == datetime(2024, 6, 10, 6, 13, 21, tzinfo=UTC)
    assert oom.severity is Severity.HIGH
    assert oom.title == "checkout: java.lang.OutOfMemoryError"
    assert "exception.stacktrace" in oom.annotations
    assert "exception.stacktrace" not in oom.labels
    assert inventory.service == "inventory"
    assert inventory.severity is Severity.MEDIUM  # severityText "error" with no severityNumber
    assert inventory.starts_at == datetime(2024, 6, 10, 6, 13, 25, tzinfo=UTC)  # observed time
    assert json.loads(inventory.summary) == {
        "event": "reservation_failed",
        "sku": 4411,
        "retry": False,
        "tags": ["a", 0.5],
    }


def test_otel_fingerprint_ignores_numbers_and_ids() -> None:
    def record(body: str) -> dict[str, Any]:
        return otel_request([{"severityNumber": 17, "body": {"stringValue": body}}])

    first = normalise("otel", record("timeout after 30000ms for 5f0c1a2e-8d43-4b7a-9a55-0c3f2b1d9e77"), NOW)
    second = normalise("otel", record("timeout after 29000ms for 0c3f2b1d-8d43-4b7a-9a55-5f0c1a2e9e77"), NOW)
    other = normalise("otel", record("connection refused"), NOW)
    assert first[0].fingerprint == second[0].fingerprint != other[0].fingerprint


def test_otel_same_error_different_service_is_a_different_alert() -> None:
    payload = load("otel_logs.json")
    [checkout] = normalise("otel", payload, NOW)
    payload["resourceLogs"][0]["resource"]["attributes"][0]["value"]["stringValue"] = "cart"
    [cart] = normalise("otel", payload, NOW)
    assert checkout.fingerprint != cart.fingerprint


def otel_request(
    records: list[dict[str, Any]], resource: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    attrs = resource if resource is not None else [{"key": "service.name", "value": {"stringValue": "svc"}}]
    return {"resourceLogs": [{"resource": {"attributes": attrs}, "scopeLogs": [{"logRecords": records}]}]}


@pytest.mark.parametrize(
    ("record", "severity"),
    [
        ({"severityNumber": 16}, None),
        ({"severityNumber": 17}, Severity.MEDIUM),
        ({"severityNumber": 20}, Severity.MEDIUM),
        ({"severityNumber": 21}, Severity.HIGH),
        ({"severityNumber": "24"}, Severity.HIGH),
        ({"severityNumber": "SEVERITY_NUMBER_ERROR3"}, Severity.MEDIUM),
        ({"severityNumber": "SEVERITY_NUMBER_WARN"}, None),
        ({"severityNumber": 0, "severityText": "FATAL"}, Severity.HIGH),
        ({"severityText": "critical"}, Severity.HIGH),
        ({"severityText": "ERROR"}, Severity.MEDIUM),
        ({"severityText": "WARN"}, None),
        ({"severityNumber": 9, "severityText": "ERROR"}, None),
        ({}, None),
    ],
)
def test_otel_severity_threshold(record: dict[str, Any], severity: Severity | None) -> None:
    alerts = normalise("otel", otel_request([{**record, "body": {"stringValue": "boom"}}]), NOW)
    assert [a.severity for a in alerts] == ([severity] if severity else [])


def test_otel_times() -> None:
    int_time = normalise(
        "otel", otel_request([{"severityNumber": 17, "timeUnixNano": 1718000000123456789}]), NOW
    )
    assert int_time[0].starts_at == datetime(2024, 6, 10, 6, 13, 20, 123456, tzinfo=UTC)
    unset = normalise("otel", otel_request([{"severityNumber": 17, "timeUnixNano": "0"}]), NOW)
    assert unset[0].starts_at == NOW


def test_otel_any_values_render_to_strings() -> None:
    attrs = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "i", "value": {"intValue": "-3"}},
        {"key": "d", "value": {"doubleValue": 1.5}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "bytes", "value": {"bytesValue": "aGk="}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"intValue": 1}, {}]}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"boolValue": False}}]}}},
        {"key": "empty", "value": {}},
        {"key": "missing"},
    ]
    [alert] = normalise("otel", otel_request([{"severityNumber": 17, "attributes": attrs}]), NOW)
    assert {k: v for k, v in alert.labels.items() if k not in ("service.name", "occurrences")} == {
        "s": "x",
        "b": "true",
        "i": "-3",
        "d": "1.5",
        "nan": "nan",
        "bytes": "aGk=",
        "arr": "[1, null]",
        "kv": '{"a": false}',
        "empty": "",
        "missing": "",
    }
    assert alert.title == "svc: error log"


def test_otel_empty_request_is_no_alerts() -> None:
    assert normalise("otel", {}, NOW) == []
    assert normalise("otel", {"resourceLogs": []}, NOW) == []


def test_otel_too_many_distinct_errors() -> None:
    records = [
        {"severityNumber": 17, "attributes": [{"key": "exception.type", "value": {"stringValue": f"E{i}"}}]}
        for i in range(1001)
    ]
    with pytest.raises(PayloadError, match=r"too many alerts \(1001 > 1000\)"):
        normalise("otel", otel_request(records), NOW)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"severityNumber": 25}, "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber"),
        (
            {"severityNumber": "SEVERITY_NUMBER_LOUD"},
            "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber",
        ),
        (
            {"severityNumber": 17, "timeUnixNano": "soon"},
            "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano",
        ),
        (
            {"severityNumber": 17, "timeUnixNano": "9" * 30},
            "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano",
        ),
        ({"severityNumber": 17, "body": "plain"}, "resourceLogs[0].scopeLogs[0].logRecords[0].body"),
        (
            {"severityNumber": 17, "body": {"boolValue": "yes"}},
            "resourceLogs[0].scopeLogs[0].logRecords[0].body.boolValue",
        ),
        (
            {"severityNumber": 17, "attributes": [{"value": {}}]},
            "resourceLogs[0].scopeLogs[0].logRecords[0].attributes[0].key",
        ),
    ],
)
def test_malformed_otel_names_the_field(record: dict[str, Any], field: str) -> None:
    assert field_of("otel", otel_request([record])) == field


def test_otel_deep_any_value_is_rejected_not_recursed() -> None:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(100):
        value = {"arrayValue": {"values": [value]}}
    with pytest.raises(PayloadError, match="nested deeper"):
        normalise("otel", otel_request([{"severityNumber": 17, "body": value}]), NOW)


# -- generic -----------------------------------------------------------------------------------------------


def test_generic_batch() -> None:
    first, second = normalise("generic", load("generic_alerts.json"), NOW)
    assert first.fingerprint == "settlement-nightly"
    assert first.severity is Severity.HIGH
    assert first.labels["attempt"] == "3"
    assert first.starts_at == datetime(2024, 6, 9, 20, 30, 5, tzinfo=UTC)
    assert [link.title for link in first.links] == ["Job logs", "Runbook"]
    assert second.status is AlertStatus.FIRING
    assert second.severity is Severity.MEDIUM
    assert second.service == "postgres"


def test_generic_single_object_and_array() -> None:
    single = load("generic_single.json")
    [alert] = normalise("generic", single, NOW)
    assert (alert.title, alert.starts_at, alert.severity) == (
        "Payment webhook backlog > 500",
        NOW,
        Severity.HIGH,
    )
    assert normalise("generic", [single], NOW) == [alert]
    assert normalise("generic", {"alerts": [single]}, NOW) == [alert]


def test_generic_default_fingerprint_is_stable_and_identifying() -> None:
    base = {"title": "Disk full", "service": "db", "labels": {"host": "a", "mount": "/"}}
    reordered = {"labels": {"mount": "/", "host": "a"}, "service": "db", "title": "Disk full"}
    other = {**base, "labels": {"host": "b", "mount": "/"}}
    [a], [b], [c] = (normalise("generic", p, NOW) for p in (base, reordered, other))
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_generic_resolution_rules() -> None:
    [resolved] = normalise("generic", {"title": "x", "status": "RESOLVED"}, NOW)
    assert (resolved.status, resolved.ends_at) == (AlertStatus.RESOLVED, NOW)
    [lapsed] = normalise("generic", {"title": "x", "ends_at": "2024-06-10T06:00:00Z"}, NOW)
    assert lapsed.status is AlertStatus.RESOLVED
    [pending_end] = normalise("generic", {"title": "x", "ends_at": "2024-06-10T07:00:00Z"}, NOW)
    assert (pending_end.status, pending_end.ends_at) == (
        AlertStatus.FIRING,
        datetime(2024, 6, 10, 7, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": "  "}, "title"),
        ({"title": 3}, "title"),
        ({"alerts": [{"title": "a"}, {"title": "b", "status": "open"}]}, "alerts[1].status"),
        ({"alerts": None}, "alerts"),
        ({"alerts": [{"title": "a"}] * 1001}, "alerts"),
        ({"title": "a", "severity": "urgent-ish"}, "severity"),
        ({"title": "a", "starts_at": "2024-06-10T06:00:00"}, "starts_at"),
        ({"title": "a", "labels": {"x": [1]}}, "labels.x"),
        ({"title": "a", "annotations": {"x": None}}, "annotations.x"),
        ({"title": "a", "links": [{"title": "t"}]}, "links[0].url"),
        ({"title": "a", "links": [{"url": "ftp://x"}]}, "links[0].url"),
        ({"title": "a", "links": {"url": "https://x"}}, "links"),
        ("title", "$"),
    ],
)
def test_malformed_generic_names_the_field(payload: object, field: str) -> None:
    assert field_of("generic", payload) == field


def test_generic_title_is_capped() -> None:
    [alert] = normalise("generic", {"title": "t" * 2000}, NOW)
    assert len(alert.title) == 500


# -- helpers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-10T06:12:00Z", datetime(2024, 6, 10, 6, 12, tzinfo=UTC)),
        ("2024-06-10T06:12:00.123456789Z", datetime(2024, 6, 10, 6, 12, 0, 123456, tzinfo=UTC)),
        ("2024-06-10T11:42:00.5+05:30", datetime(2024, 6, 10, 6, 12, 0, 500000, tzinfo=UTC)),
        ("2024-06-10t06:12:00z", datetime(2024, 6, 10, 6, 12, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_time(text: str | None, expected: datetime | None) -> None:
    assert parse_time(text, "t") == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-06-10",
        "2024-06-10T25:00:00Z",
        "2024-06-10T06:12:00+24:00",
        "0001-01-01T01:00:00+05:30",
        "2024-06-10T06:12:00.1234567891Z",
        "now",
    ],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_time(text, "alerts[0].startsAt")
    assert info.value.field == "alerts[0].startsAt"


def test_parse_time_without_offset_only_when_asked() -> None:
    assert parse_time("2024-06-10 06:12:03.527", "t", assume_utc=True) == datetime(
        2024, 6, 10, 6, 12, 3, 527000, tzinfo=UTC
    )
    with pytest.raises(PayloadError):
        parse_time("2024-06-10 06:12:03.527", "t")


def test_error_shape() -> None:
    assert (
        error_shape("timeout after 30000ms") == error_shape("timeout after 29000ms") == "timeout after <n>ms"
    )
    assert error_shape("req 5f0c1a2e-8d43-4b7a-9a55-0c3f2b1d9e77 at 0xdeadbeef sha 3fa9c2d1e") == (
        "req <uuid> at <hex> sha <hex>"
    )


def test_payload_is_not_mutated() -> None:
    for name, source in (
        ("grafana_batch.json", "grafana"),
        ("otel_logs_batch.json", "otel"),
        ("uptime_kuma_down.json", "uptime-kuma"),
        ("generic_alerts.json", "generic"),
    ):
        payload = load(name)
        before = copy.deepcopy(payload)
        normalise(source, payload, NOW)
        assert payload == before
