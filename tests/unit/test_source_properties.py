"""Property tests for the source normalisers: identity is stable, and garbage never escapes as a crash."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.domain.model import Alert
from shared.domain.sources import SOURCES, PayloadError, normalise
from shared.domain.sources._common import error_shape, parse_time

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
NOW = datetime(2024, 6, 10, 6, 14, tzinfo=UTC)

FIXTURES: dict[str, str] = {
    "grafana_firing.json": "grafana",
    "grafana_resolved.json": "grafana",
    "grafana_batch.json": "grafana",
    "alertmanager_firing.json": "alertmanager",
    "alertmanager_resolved.json": "alertmanager",
    "alertmanager_batch.json": "alertmanager",
    "vmalert_array.json": "alertmanager-api",
    "uptime_kuma_down.json": "uptime-kuma",
    "uptime_kuma_up.json": "uptime-kuma",
    "uptime_kuma_test.json": "uptime-kuma",
    "otel_logs.json": "otel",
    "otel_logs_batch.json": "otel",
    "generic_alerts.json": "generic",
    "generic_single.json": "generic",
}

#: Field names the normalisers look for, so generated garbage reaches past the first type check.
KNOWN_KEYS = [
    "alerts",
    "status",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "fingerprint",
    "generatorURL",
    "silenceURL",
    "externalURL",
    "alertname",
    "severity",
    "service",
    "heartbeat",
    "monitor",
    "msg",
    "time",
    "monitorID",
    "id",
    "name",
    "url",
    "tags",
    "value",
    "type",
    "resourceLogs",
    "resource",
    "attributes",
    "scopeLogs",
    "logRecords",
    "severityNumber",
    "severityText",
    "body",
    "timeUnixNano",
    "key",
    "stringValue",
    "intValue",
    "doubleValue",
    "boolValue",
    "arrayValue",
    "kvlistValue",
    "values",
    "title",
    "summary",
    "starts_at",
    "ends_at",
    "links",
    "lastDownTime",
    "exception.type",
    "service.name",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "firing",
            "resolved",
            "2024-06-10T06:12:00Z",
            "0001-01-01T00:00:00Z",
            "2024-06-10 06:12:03.527",
            "1718000000123000000",
            "0",
            "https://x.example",
            "ERROR",
            "SEVERITY_NUMBER_FATAL",
            "",
            "N/A",
        ]
    )
    | st.integers(min_value=0, max_value=30)
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def normalise_or_reject(source: str, payload: object) -> list[Alert] | None:
    """The contract: either alerts or a PayloadError; anything else fails the test."""
    try:
        alerts = normalise(source, payload, NOW)
    except PayloadError as error:
        assert error.field and error.message
        return None
    for alert in alerts:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.labels.items())
        assert alert.starts_at.tzinfo is not None
        assert alert.source in SOURCES
    return alerts


def node_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position inside a decoded JSON document, parents first."""
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += node_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += node_paths(child, (*prefix, index))
    return out


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    result = copy.deepcopy(document)
    parent = result
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return result


# -- garbage in, PayloadError out --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(source=st.sampled_from(sorted(SOURCES)), payload=json_values)
def test_any_json_normalises_or_raises_payload_error(source: str, payload: Any) -> None:
    normalise_or_reject(source, payload)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fixture=st.sampled_from(sorted(FIXTURES)), garbage=json_values)
def test_corrupted_real_payloads_normalise_or_raise_payload_error(
    data: st.DataObject, fixture: str, garbage: Any
) -> None:
    document = load(fixture)
    path = data.draw(st.sampled_from(node_paths(document)))
    normalise_or_reject(FIXTURES[fixture], replaced(document, path, garbage))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), fixture=st.sampled_from(sorted(FIXTURES)))
def test_real_payloads_with_a_field_removed_normalise_or_raise_payload_error(
    data: st.DataObject, fixture: str
) -> None:
    document = load(fixture)
    paths = [p for p in node_paths(document) if p and isinstance(p[-1], str)]
    path = data.draw(st.sampled_from(paths))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    normalise_or_reject(FIXTURES[fixture], document)


@settings(max_examples=100, deadline=None)
@given(wrapped=st.dictionaries(keys, json_values, max_size=4))
def test_any_object_inside_an_alert_array_is_handled(wrapped: dict[str, Any]) -> None:
    normalise_or_reject("alertmanager-api", [wrapped])
    normalise_or_reject("grafana", {"alerts": [wrapped]})
    normalise_or_reject("generic", {"alerts": [wrapped]})
    normalise_or_reject("uptime-kuma", {"heartbeat": wrapped, "monitor": wrapped})
    normalise_or_reject(
        "otel", {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityNumber": 17, **wrapped}]}]}]}
    )


# -- fingerprints ------------------------------------------------------------------------------------------

label_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
label_values = st.text(max_size=30)
label_sets = st.dictionaries(label_names, label_values, min_size=1, max_size=8)


def reordered(mapping: dict[str, str], order: list[str]) -> dict[str, str]:
    return {key: mapping[key] for key in order}


@given(labels=label_sets, data=st.data())
def test_api_fingerprint_is_stable_under_label_reordering(
    labels: dict[str, str], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(list(labels)))
    [first] = normalise("alertmanager-api", [{"labels": labels}], NOW)
    [second] = normalise("alertmanager-api", [{"labels": reordered(labels, order)}], NOW)
    assert first.fingerprint == second.fingerprint
    assert first.alert_id == second.alert_id


@given(first=label_sets, second=label_sets)
def test_api_fingerprint_differs_for_different_label_sets(
    first: dict[str, str], second: dict[str, str]
) -> None:
    assume(first != second)
    [a] = normalise("alertmanager-api", [{"labels": first}], NOW)
    [b] = normalise("alertmanager-api", [{"labels": second}], NOW)
    assert a.fingerprint != b.fingerprint


@given(labels=label_sets, data=st.data())
def test_webhook_fallback_fingerprint_is_stable_under_reordering(
    labels: dict[str, str], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(list(labels)))

    def alert(with_labels: dict[str, str]) -> Alert:
        body = {"status": "firing", "alerts": [{"labels": with_labels, "startsAt": "2024-06-10T06:12:00Z"}]}
        return normalise("grafana", body, NOW)[0]

    assert alert(labels).fingerprint == alert(reordered(labels, order)).fingerprint


@given(labels=label_sets, data=st.data(), title=st.text(min_size=1, max_size=40).filter(str.strip))
def test_generic_fingerprint_is_stable_under_reordering(
    labels: dict[str, str], data: st.DataObject, title: str
) -> None:
    order = data.draw(st.permutations(list(labels)))
    [a] = normalise("generic", {"title": title, "labels": labels}, NOW)
    [b] = normalise("generic", {"title": title, "labels": reordered(labels, order)}, NOW)
    assert a.fingerprint == b.fingerprint


@given(
    monitor_id=st.integers(min_value=1, max_value=10**6),
    status=st.sampled_from([0, 1, 2, 3]),
    msg=st.text(max_size=30),
)
def test_uptime_kuma_identity_is_the_monitor(monitor_id: int, status: int, msg: str) -> None:
    payload = load("uptime_kuma_down.json")
    [reference] = normalise("uptime-kuma", payload, NOW)
    payload["heartbeat"].update(status=status, msg=msg)
    [same] = normalise("uptime-kuma", payload, NOW)
    assert same.fingerprint == reference.fingerprint
    payload["monitor"]["id"] = monitor_id
    [other] = normalise("uptime-kuma", payload, NOW)
    assert (other.fingerprint == reference.fingerprint) == (monitor_id == 12)


@given(numbers=st.lists(st.integers(min_value=0, max_value=10**9), min_size=2, max_size=6))
def test_otel_groups_messages_that_differ_only_in_numbers(numbers: list[int]) -> None:
    records = [
        {"severityNumber": 17, "body": {"stringValue": f"timeout after {n}ms on shard {n % 7}"}}
        for n in numbers
    ]
    request = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
                "scopeLogs": [{"logRecords": records}],
            }
        ]
    }
    [alert] = normalise("otel", request, NOW)
    assert alert.labels["occurrences"] == str(len(numbers))
    assert alert.raw is records[0] or alert.raw == records[0]


@given(
    words=st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8), min_size=1, max_size=6
    ),
    numbers=st.lists(st.integers(min_value=0), min_size=6, max_size=6),
)
def test_error_shape_ignores_numbers(words: list[str], numbers: list[int]) -> None:
    text_a = " ".join(f"{w} {n}" for w, n in zip(words, numbers, strict=False))
    text_b = " ".join(f"{w} {n + 1}" for w, n in zip(words, numbers, strict=False))
    assert error_shape(text_a) == error_shape(text_b)


# -- times -------------------------------------------------------------------------------------------------


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    ),
    nanos=st.integers(min_value=0, max_value=999),
)
def test_rfc3339_round_trip_with_nanoseconds(moment: datetime, nanos: int) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}{nanos:03d}Z"
    assert parse_time(text, "t") == moment


@given(text=st.text(max_size=40))
def test_parse_time_never_crashes(text: str) -> None:
    try:
        parsed = parse_time(text, "t")
    except PayloadError as error:
        assert error.field == "t"
    else:
        assert parsed is None or parsed.tzinfo is UTC
