"""`ingest` as functions-framework serves it, publishing to the real Pub/Sub emulator."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import random
import time
import tracemalloc
import zlib
from datetime import UTC, datetime

import pytest

import functions.main  # noqa: F401  (installs the JSON log handler before caplog attaches its own)
from shared.domain.sources import normalise
from shared.messages import decode_alert_batch
from shared.topology import TOPIC_ALERTS
from tests.integration.helpers import (
    basic,
    bearer,
    closed_host,
    function_app,
    json_of,
    payload,
    payload_bytes,
    pull_messages,
    set_env,
)

pytestmark = pytest.mark.integration

TOKEN = "test-ingest-token"
AUTH = bearer(TOKEN)
HMAC_SECRET = "grafana-hmac-secret"


@pytest.fixture(scope="module")
def app():
    return function_app("ingest")


@pytest.fixture
def client(app, project, topics):
    return app.test_client()


def published(project: str, expect: int = 1) -> list:
    return pull_messages(project, TOPIC_ALERTS, expect=expect, timeout=3)


def identity(alert) -> tuple:
    return (alert.source, alert.fingerprint, alert.status, alert.title, alert.severity, alert.service)


def assert_rejected(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = json_of(response)
    assert isinstance(body.get("error"), str) and body["error"]
    if error is not None:
        assert body["error"] == error, body
    return body


# -- every source, as its sender sends it ------------------------------------------------------------


SOURCES = [
    pytest.param("grafana_firing", "/grafana", "grafana", id="grafana"),
    pytest.param("grafana_batch", "/grafana", "grafana", id="grafana-batch"),
    pytest.param("alertmanager_firing", "/alertmanager", "alertmanager", id="alertmanager"),
    pytest.param("alertmanager_batch", "/alertmanager", "alertmanager", id="alertmanager-batch"),
    pytest.param("vmalert_array", "/alertmanager/api/v2/alerts", "alertmanager-api", id="vmalert"),
    pytest.param("vmalert_array", "/api/v2/alerts", "alertmanager-api", id="vmalert-short-path"),
    pytest.param("uptime_kuma_down", "/uptime-kuma", "uptime-kuma", id="uptime-kuma"),
    pytest.param("otel_logs", "/otel/v1/logs", "otel", id="otel"),
    pytest.param("generic_alerts", "/generic", "generic", id="generic"),
    pytest.param("generic_single", "/generic", "generic", id="generic-single"),
]


@pytest.mark.parametrize(("fixture", "path", "source"), SOURCES)
def test_each_source_payload_is_accepted_and_published_as_one_batch(client, project, fixture, path, source):
    response = client.post(path, data=payload_bytes(fixture), headers=AUTH, content_type="application/json")

    assert response.status_code == 200, response.get_data(as_text=True)
    expected = normalise(source, payload(fixture), datetime.now(UTC))
    assert expected, "the fixture should hold at least one alert"
    if source == "otel":
        assert json_of(response) == {}  # OTLP/HTTP wants an ExportLogsServiceResponse
    else:
        assert json_of(response) == {"accepted": len(expected), "source": source}
    [message] = published(project)
    assert dict(message.attributes) == {"source": source}
    batch = decode_alert_batch(message.data)
    assert [identity(a) for a in batch.alerts] == [identity(a) for a in expected]
    assert batch.received_at.tzinfo is not None


def test_uptime_kuma_multipart_form_with_a_data_field(client, project):
    body = {"data": payload_bytes("uptime_kuma_down").decode()}
    response = client.post("/uptime-kuma", data=body, headers=AUTH, content_type="multipart/form-data")

    assert response.status_code == 200, response.get_data(as_text=True)
    [message] = published(project)
    [alert] = decode_alert_batch(message.data).alerts
    [expected] = normalise("uptime-kuma", payload("uptime_kuma_down"), datetime.now(UTC))
    assert identity(alert) == identity(expected)
    assert alert.status.value == "firing" and alert.source == "uptime-kuma"


def test_uptime_kuma_urlencoded_form_with_separate_fields(client, project):
    kuma = payload("uptime_kuma_down")
    form = {"heartbeat": json.dumps(kuma["heartbeat"]), "monitor": json.dumps(kuma["monitor"]), "msg": kuma["msg"]}
    response = client.post("/uptime-kuma", data=form, headers=AUTH, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200, response.get_data(as_text=True)
    [message] = published(project)
    [expected] = normalise("uptime-kuma", kuma, datetime.now(UTC))
    assert [identity(a) for a in decode_alert_batch(message.data).alerts] == [identity(expected)]


def test_uptime_kuma_test_notification_is_accepted_and_publishes_nothing(client, project):
    response = client.post("/uptime-kuma", data=payload_bytes("uptime_kuma_test"), headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 200 and json_of(response)["accepted"] == 0
    assert published(project, expect=0) == []


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_otel_logs_compressed(client, project, encoding):
    raw = payload_bytes("otel_logs")
    body = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    response = client.post("/otel/v1/logs", data=body, content_type="application/json",
                           headers={**AUTH, "Content-Encoding": encoding})

    assert response.status_code == 200, response.get_data(as_text=True)
    [message] = published(project)
    expected = normalise("otel", payload("otel_logs"), datetime.now(UTC))
    assert [identity(a) for a in decode_alert_batch(message.data).alerts] == [identity(a) for a in expected]


def test_otel_protobuf_is_refused_with_415(client, project):
    response = client.post("/otel/v1/logs", data=b"\x0a\x02\x08\x01", headers=AUTH,
                           content_type="application/x-protobuf")
    assert_rejected(response, 415, "unsupported_media_type")
    assert published(project, expect=0) == []


# -- credentials ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "headers"), [
    pytest.param("/grafana", bearer(TOKEN), id="bearer"),
    pytest.param("/grafana", basic("grafana", TOKEN), id="basic-password"),
    pytest.param(f"/grafana?token={TOKEN}", {}, id="query-token"),
])
def test_each_way_of_presenting_the_token_is_accepted(client, project, path, headers):
    response = client.post(path, data=payload_bytes("grafana_firing"), headers=headers,
                           content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(published(project)) == 1


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="none"),
    pytest.param(bearer("wrong-token"), id="wrong-bearer"),
    pytest.param(bearer(TOKEN + "x"), id="token-with-suffix"),
    pytest.param(basic("grafana", "wrong-token"), id="wrong-basic-password"),
    pytest.param(basic(TOKEN, ""), id="token-as-basic-user"),
    pytest.param({"Authorization": "Basic !!!not-base64"}, id="malformed-basic"),
    pytest.param({"Authorization": TOKEN}, id="no-scheme"),
])
def test_missing_or_wrong_credentials_are_401_and_publish_nothing(client, project, headers):
    response = client.post("/grafana", data=payload_bytes("grafana_firing"), headers=headers,
                           content_type="application/json")
    body = assert_rejected(response, 401, "unauthenticated")
    assert "detail" in body
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert published(project, expect=0) == []


def test_a_wrong_query_token_is_401(client, project):
    response = client.post("/generic?token=nope", json=payload("generic_single"))
    assert_rejected(response, 401, "unauthenticated")


def test_no_configured_token_means_nobody_gets_in(client, project, monkeypatch):
    set_env(monkeypatch, INGEST_TOKEN=None)
    response = client.post("/generic", json=payload("generic_single"), headers=bearer("anything"))
    assert_rejected(response, 401, "unauthenticated")
    assert published(project, expect=0) == []


# -- bad requests ----------------------------------------------------------------------------------------


def test_a_malformed_grafana_payload_is_400_naming_the_field(client, project):
    body = payload("grafana_firing")
    body["alerts"][0]["startsAt"] = "yesterday"
    response = client.post("/grafana", json=body, headers=AUTH)

    error = assert_rejected(response, 400, "invalid_payload")
    assert error["field"] == "alerts[0].startsAt"
    assert "RFC3339" in error["detail"]
    assert published(project, expect=0) == []


@pytest.mark.parametrize(("path", "body", "field"), [
    pytest.param("/grafana", {"alerts": [{"status": "burning"}]}, "alerts[0].status", id="grafana-status"),
    pytest.param("/alertmanager", {"alerts": "many"}, "alerts", id="alertmanager-alerts-type"),
    pytest.param("/alertmanager/api/v2/alerts", [{"labels": {"alertname": "x"}, "annotations": []}],
                 "[0].annotations", id="api-annotations-type"),
    pytest.param("/generic", {"title": ["not", "a", "string"]}, "title", id="generic-title-type"),
])
def test_other_malformed_payloads_name_the_field(client, project, path, body, field):
    response = client.post(path, json=body, headers=AUTH)
    error = assert_rejected(response, 400)
    assert error.get("field", "").endswith(field), error


def test_invalid_json_is_400_saying_so(client, project):
    response = client.post("/grafana", data=b'{"alerts": [', headers=AUTH, content_type="application/json")
    error = assert_rejected(response, 400, "invalid_json")
    assert "not valid JSON" in error["detail"]
    assert published(project, expect=0) == []


def test_an_empty_body_is_400(client, project):
    response = client.post("/generic", data=b"", headers=AUTH, content_type="application/json")
    assert_rejected(response, 400, "invalid_json")


def test_a_body_over_max_body_bytes_is_413(client, project, monkeypatch):
    set_env(monkeypatch, MAX_BODY_BYTES="256")
    body = payload_bytes("grafana_firing")
    assert len(body) > 256
    response = client.post("/grafana", data=body, headers=AUTH, content_type="application/json")

    error = assert_rejected(response, 413, "payload_too_large")
    assert "256" in error["detail"]
    assert published(project, expect=0) == []


def test_a_small_gzip_body_that_inflates_past_the_limit_is_413(client, project, monkeypatch):
    set_env(monkeypatch, MAX_BODY_BYTES="256")
    body = gzip.compress(b'{"resourceLogs": [' + b" " * 10_000 + b"]}")
    assert len(body) <= 256
    response = client.post("/otel/v1/logs", data=body, content_type="application/json",
                           headers={**AUTH, "Content-Encoding": "gzip"})
    assert_rejected(response, 413, "payload_too_large")


@pytest.mark.parametrize(("encoding", "body"), [
    pytest.param("gzip", b"plain", id="not-gzip"),
    pytest.param("deflate", b"plain", id="not-deflate"),
    pytest.param("gzip", gzip.compress(payload_bytes("otel_logs"))[:-20], id="truncated-gzip"),
])
def test_a_body_that_is_not_what_its_content_encoding_says_is_400(client, project, encoding, body):
    response = client.post("/otel/v1/logs", data=body, content_type="application/json",
                           headers={**AUTH, "Content-Encoding": encoding})
    assert_rejected(response, 400, "invalid_encoding")
    assert published(project, expect=0) == []


def test_decompression_is_bounded_by_the_limit_not_by_the_compressed_body(client, project, monkeypatch):
    """A gzip bomb is refused without being inflated in full (it used to allocate ~3000x its size first)."""
    set_env(monkeypatch, MAX_BODY_BYTES="16384")
    bomb = gzip.compress(b" " * 16_000_000, compresslevel=9)  # ~16 KB that inflates 1000 times
    assert len(bomb) <= 16384
    headers = {**AUTH, "Content-Encoding": "gzip"}
    client.post("/otel/v1/logs", data=b"{}", content_type="application/json", headers=headers)  # warm up
    tracemalloc.start()
    try:
        response = client.post("/otel/v1/logs", data=bomb, content_type="application/json", headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_rejected(response, 413, "payload_too_large")
    assert peak < 4_000_000, f"refusing a {len(bomb)}-byte body allocated {peak / 1e6:.0f} MB"


def test_an_unknown_path_is_404(client, project):
    response = client.post("/nagios", json={}, headers=AUTH)
    error = assert_rejected(response, 404, "unknown_source")
    assert "/grafana" in error["detail"]


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
def test_other_methods_on_grafana_are_405(client, project, method):
    response = client.open("/grafana", method=method, headers=AUTH)
    assert_rejected(response, 405, "method_not_allowed")


# -- Grafana HMAC signatures ----------------------------------------------------------------------------


def sign(body: bytes, timestamp: str | None = None, secret: str = HMAC_SECRET) -> str:
    message = body if timestamp is None else timestamp.encode() + b":" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@pytest.fixture
def signed_client(client, monkeypatch):
    set_env(monkeypatch, GRAFANA_HMAC_SECRET=HMAC_SECRET)
    return client


def post_signed(client, body: bytes, headers: dict[str, str]):
    return client.post("/grafana", data=body, headers={**AUTH, **headers}, content_type="application/json")


@pytest.mark.parametrize("header", ["X-Grafana-Alerting-Signature", "X-Grafana-Alert-Signature"])
def test_a_correct_signature_of_the_body_passes(signed_client, project, header):
    body = payload_bytes("grafana_firing")
    response = post_signed(signed_client, body, {header: sign(body)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(published(project)) == 1


@pytest.mark.parametrize(("sig_header", "ts_header"), [
    ("X-Grafana-Alerting-Signature", "X-Grafana-Alerting-Signature-Timestamp"),
    ("X-Grafana-Alert-Signature", "X-Grafana-Alert-Signature-Timestamp"),
])
def test_a_correct_signature_of_timestamp_and_body_passes(signed_client, project, sig_header, ts_header):
    body = payload_bytes("grafana_firing")
    timestamp = str(int(time.time()))
    response = post_signed(signed_client, body, {sig_header: sign(body, timestamp), ts_header: timestamp})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(published(project)) == 1


def test_an_upper_case_hex_signature_passes(signed_client, project):
    body = payload_bytes("grafana_firing")
    response = post_signed(signed_client, body, {"X-Grafana-Alerting-Signature": sign(body).upper()})
    assert response.status_code == 200


@pytest.mark.parametrize("case", ["missing", "wrong-secret", "other-body", "empty", "garbage", "ts-not-signed",
                                  "ts-stale", "ts-not-a-number", "ts-changed"])
def test_a_wrong_or_missing_signature_is_401(signed_client, project, case):
    body = payload_bytes("grafana_firing")
    now = str(int(time.time()))
    headers = {
        "missing": {},
        "wrong-secret": {"X-Grafana-Alerting-Signature": sign(body, secret="other")},
        "other-body": {"X-Grafana-Alerting-Signature": sign(body + b" ")},
        "empty": {"X-Grafana-Alerting-Signature": ""},
        "garbage": {"X-Grafana-Alert-Signature": "zz-not-hex"},
        "ts-not-signed": {"X-Grafana-Alerting-Signature": sign(body),
                          "X-Grafana-Alerting-Signature-Timestamp": now},
        "ts-stale": {"X-Grafana-Alerting-Signature": sign(body, str(int(time.time()) - 3600)),
                     "X-Grafana-Alerting-Signature-Timestamp": str(int(time.time()) - 3600)},
        "ts-not-a-number": {"X-Grafana-Alerting-Signature": sign(body, "soon"),
                            "X-Grafana-Alerting-Signature-Timestamp": "soon"},
        "ts-changed": {"X-Grafana-Alerting-Signature": sign(body, now),
                       "X-Grafana-Alerting-Signature-Timestamp": str(int(now) - 1)},
    }[case]
    response = post_signed(signed_client, body, headers)
    error = assert_rejected(response, 401)
    assert error["error"] in ("missing_signature", "invalid_signature")
    assert published(project, expect=0) == []


def test_the_signature_is_only_checked_on_the_grafana_route(signed_client, project):
    response = signed_client.post("/alertmanager", data=payload_bytes("alertmanager_firing"), headers=AUTH,
                                  content_type="application/json")
    assert response.status_code == 200


def test_without_a_secret_no_signature_is_needed(client, project):
    response = client.post("/grafana", data=payload_bytes("grafana_firing"), headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 200


# -- invariant 1: not confirmed, not accepted ----------------------------------------------------------------


def test_when_pubsub_is_unreachable_a_valid_payload_gets_503_with_retry_after(app, project, topics, monkeypatch,
                                                                             caplog):
    set_env(monkeypatch, PUBSUB_EMULATOR_HOST=closed_host(), PUBLISH_TIMEOUT_SECONDS="2")
    client = app.test_client()
    started = time.monotonic()
    with caplog.at_level(logging.INFO):
        response = client.post("/grafana", data=payload_bytes("grafana_firing"), headers=AUTH,
                               content_type="application/json")
    elapsed = time.monotonic() - started

    error = assert_rejected(response, 503, "publish_failed")
    assert int(response.headers["Retry-After"]) > 0
    assert "accepted" not in error
    assert elapsed < 6
    messages = [r.getMessage() for r in caplog.records]
    assert "alerts accepted" not in messages
    assert any(r.getMessage() == "request rejected" and getattr(r, "http_status", None) == 503
               for r in caplog.records)


# -- never a 500 for bad input ------------------------------------------------------------------------------


def nested(depth: int, key: bytes = b"alerts") -> bytes:
    return b'{"' + key + b'": ' + b"[" * depth + b"]" * depth + b"}"


def random_bytes() -> list[bytes]:
    rng = random.Random(20260610)
    blobs = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) for _ in range(12)]
    return blobs + [b"{" + blob for blob in blobs[:4]]


# Garbage for every route: not JSON, or JSON that is not an object (nor an array of alert objects).
COMMON_GARBAGE: list[bytes] = [
    *random_bytes(), b" ", b"null", b"true", b"42", b"-1.5e308", b"NaN", b'"a string"', b"[1, 2, 3]", b"[null]",
    b'[[["x"]]]', b"[" * 60 + b"]" * 60, b"\xef\xbb\xbf{", b'{"title": "\xff\xfe"}', b'{"a": 1,}',
]
# JSON objects of the wrong shape for one source (other sources may read them as "no alerts").
WEBHOOK_GARBAGE = [
    b'{"alerts": "x"}', b'{"alerts": [1]}', b'{"alerts": [null]}', b'{"alerts": [{}]}',
    b'{"alerts": [{"status": 5, "labels": [], "startsAt": {}}]}',
    b'{"alerts": [{"status": "firing", "labels": {"a": {"b": 1}}, "startsAt": "2024-06-10T06:12:00Z"}]}',
    b'{"alerts": [{"status": "firing", "labels": {"alertname": "x"}, "startsAt": "2024-13-45T99:99:99Z"}]}',
    nested(60),
]
ROUTE_GARBAGE: dict[str, list[bytes]] = {
    "/grafana": WEBHOOK_GARBAGE,
    "/alertmanager": WEBHOOK_GARBAGE,
    "/alertmanager/api/v2/alerts": [
        b'[{"labels": "x"}]', b'[{"labels": {"alertname": "x"}, "startsAt": 12}]', b'{"alerts": []}',
        b"[" + b"[" * 60 + b"]" * 60 + b"]",
    ],
    "/uptime-kuma": [
        b'{"heartbeat": [], "monitor": 1, "msg": 2}', b'{"heartbeat": {"status": "down"}, "monitor": {"name": []}}',
        b'{"heartbeat": {"status": 0, "time": []}, "monitor": {"name": "M"}}', nested(60, b"heartbeat"),
    ],
    "/otel/v1/logs": [
        b'{"resourceLogs": {}}', b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityNumber": "x"}]}]}]}',
        b'{"resourceLogs": [{"scopeLogs": {}}]}', nested(60, b"resourceLogs"),
    ],
    "/generic": [
        b'{"title": 5}', b'{"title": ""}', b'{"alerts": [{"title": []}]}', b'{"alerts": "x"}', b"{}",
        b'{"title": "t", "labels": {"a": {"b": {}}}}', b'{"title": "t", "starts_at": "soon"}',
        b'{"a": ' * 60 + b"1" + b"}" * 60, nested(60),
    ],
}
FORM_GARBAGE = [{"data": "not json"}, {"data": "[]"}, {"heartbeat": "{", "monitor": "[]"},
                {"heartbeat": "[]", "monitor": "1", "msg": "x"}]


def test_garbage_is_always_a_4xx_with_a_json_error_never_a_500(client, project):
    outcomes: dict[int, int] = {}
    for route, specific in ROUTE_GARBAGE.items():
        for body in COMMON_GARBAGE + specific:
            response = client.post(route, data=body, headers=AUTH, content_type="application/json")
            outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
            assert 400 <= response.status_code < 500, \
                f"{route} {body[:80]!r} -> {response.status_code} {response.get_data()[:200]!r}"
            assert json_of(response).get("error"), (route, body[:80])
    for form in FORM_GARBAGE:
        response = client.post("/uptime-kuma", data=form, headers=AUTH, content_type="multipart/form-data")
        assert 400 <= response.status_code < 500, (form, response.get_data()[:200])
    assert published(project, expect=0) == []
    assert set(outcomes) == {400}, outcomes


def lone_surrogate_in_a_grafana_label() -> bytes:
    body = payload("grafana_firing")
    body["alerts"][0]["labels"]["pod"] = "\udcff"
    return json.dumps(body).encode()  # ASCII: the surrogate travels as the JSON escape \\udcff


@pytest.mark.parametrize(("path", "body"), [
    pytest.param("/generic", b'{"title": "\\udcff"}', id="generic-title-escape"),
    pytest.param("/generic", b'{"title": "\xed\xb3\xbf"}', id="generic-title-cesu-bytes"),
    pytest.param("/generic", b'{"title": "x", "labels": {"k": "\\udfff"}}', id="generic-label"),
    pytest.param("/generic", b'{"title": "x", "summary": "\\ud800"}', id="generic-summary"),
    pytest.param("/grafana", lone_surrogate_in_a_grafana_label(), id="grafana-label"),
])
def test_a_lone_surrogate_in_a_string_is_a_4xx(client, project, path, body):
    """Not a 500 (hashing the text failed) nor a retryable 503 (encoding the batch failed): a poison payload."""
    response = client.post(path, data=body, headers=AUTH, content_type="application/json")
    assert_rejected(response, 400)
    assert published(project, expect=0) == []


def test_pathologically_nested_json_is_a_4xx(client, project):
    """json.loads raises RecursionError here; it must not escape as a 500."""
    response = client.post("/grafana", data=nested(100_000), headers=AUTH, content_type="application/json")
    assert_rejected(response, 400)


def test_json_with_a_huge_integer_is_a_4xx(client, project):
    """json.loads raises a plain ValueError for integers over 4300 digits; it must not escape as a 500."""
    response = client.post("/generic", data=b'{"title": "x", "labels": {"n": ' + b"9" * 5000 + b"}}",
                           headers=AUTH, content_type="application/json")
    assert_rejected(response, 400)
