"""`ingest` (HTTP): monitoring webhooks in, normalised alerts onto the alerts topic.

Answers 2xx only after every alert is confirmed published (invariant 1); 503 when the
publisher is down so the sender retries; 4xx naming the problem for bad input.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import zlib
from datetime import UTC, datetime

import flask

from shared import bootstrap
from shared.domain.sources import PayloadError, normalise
from shared.log import get_logger
from shared.messages import AlertBatch, encode
from shared.settings import settings
from shared.topology import TOPIC_ALERTS
from shared.web import HttpError, guarded, json_response, parse_json, read_body, require_token

log = get_logger("ingest")

ROUTES = {
    "/grafana": "grafana",
    "/alertmanager": "alertmanager",
    "/alertmanager/api/v2/alerts": "alertmanager-api",
    "/api/v2/alerts": "alertmanager-api",
    "/uptime-kuma": "uptime-kuma",
    "/otel/v1/logs": "otel",
    "/generic": "generic",
}
GRAFANA_SIGNATURE_HEADERS = ("X-Grafana-Alerting-Signature", "X-Grafana-Alert-Signature")
GRAFANA_TIMESTAMP_HEADERS = ("X-Grafana-Alerting-Signature-Timestamp", "X-Grafana-Alert-Signature-Timestamp")
SIGNATURE_MAX_AGE_SECONDS = 300


@guarded
def ingest(request: flask.Request) -> flask.Response:
    path = request.path.rstrip("/") or "/"
    source = ROUTES.get(path)
    if source is None:
        raise HttpError(404, "unknown_source", f"no ingest route {path}; known: {', '.join(sorted(ROUTES))}")
    if request.method not in ("POST", "PUT") and not (source == "uptime-kuma" and request.method == "GET"):
        raise HttpError(405, "method_not_allowed", f"{request.method} is not accepted here; use POST")
    require_token(request, settings().ingest_token)
    body = read_body(request)
    if source == "grafana":
        verify_grafana_signature(request, body)
    payload = decode_payload(request, source, body)
    now = datetime.now(UTC)
    try:
        alerts = normalise(source, payload, now)
    except PayloadError as exc:
        raise HttpError(400, "invalid_payload", exc.message, field=exc.field) from None
    if alerts:
        try:
            bootstrap.publisher().publish(TOPIC_ALERTS, [encode(AlertBatch(received_at=now, alerts=alerts))],
                                          {"source": source})
        except Exception as exc:
            raise HttpError(503, "publish_failed", f"alerts not accepted, retry later: {exc}",
                            headers={"Retry-After": "5"}) from None
    log.info("alerts accepted", extra={"source": source, "count": len(alerts)})
    if source == "otel":
        return json_response({})
    return json_response({"accepted": len(alerts), "source": source})


def decode_payload(request: flask.Request, source: str, body: bytes) -> object:
    """JSON for every source; Uptime Kuma may also send form-data or a GET query; OTLP may be gzipped."""
    encoding = (request.headers.get("Content-Encoding") or "").lower()
    if encoding in ("gzip", "deflate"):
        body = inflate(body, encoding, settings().max_body_bytes * 8)
    content_type = (request.mimetype or "").lower()
    if source == "otel" and content_type == "application/x-protobuf":
        raise HttpError(415, "unsupported_media_type", "send OTLP/HTTP as JSON (encoding: json in the exporter)")
    if source == "uptime-kuma":
        if request.method == "GET":
            return _uptime_kuma_fields(request.args)
        if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            if "data" in request.form:
                return parse_json(request.form["data"].encode())
            return _uptime_kuma_fields(request.form)
    return parse_json(body)


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a small compressed body must not become a huge one in memory."""
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise HttpError(400, "invalid_encoding", f"body is not valid {encoding}: {exc}") from None
    if len(out) > limit:
        raise HttpError(413, "payload_too_large", f"decompressed body is over the limit of {limit} bytes")
    if not inflater.eof:
        raise HttpError(400, "invalid_encoding", f"body is a truncated {encoding} stream")
    return out


def _uptime_kuma_fields(fields: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for key in ("heartbeat", "monitor"):
        raw = fields.get(key)  # type: ignore[attr-defined]
        out[key] = parse_json(raw.encode()) if raw else None
    out["msg"] = fields.get("msg", "")  # type: ignore[attr-defined]
    return out


def verify_grafana_signature(request: flask.Request, body: bytes) -> None:
    """Grafana 12's optional HMAC-SHA256 (hex, no prefix), over 'timestamp:body' when a timestamp is sent."""
    secret = settings().grafana_hmac_secret
    if not secret:
        return
    signature = next((request.headers[h] for h in GRAFANA_SIGNATURE_HEADERS if h in request.headers), None)
    if not signature:
        raise HttpError(401, "missing_signature", f"expected header {GRAFANA_SIGNATURE_HEADERS[0]}")
    timestamp = next((request.headers[h] for h in GRAFANA_TIMESTAMP_HEADERS if h in request.headers), None)
    message = body
    if timestamp:
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            raise HttpError(401, "invalid_signature", "signature timestamp is not a Unix time") from None
        if age > SIGNATURE_MAX_AGE_SECONDS:
            raise HttpError(401, "invalid_signature", "signature timestamp is too old")
        message = timestamp.encode() + b":" + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise HttpError(401, "invalid_signature", "HMAC signature does not match the body")


