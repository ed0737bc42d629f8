"""`partners` (HTTP, public): Freshdesk automation webhooks and Freshchat webhooks in.

Freshdesk sends no signature: its webhook carries a shared secret (FRESHDESK_WEBHOOK_SECRET) in the
`X-Webhook-Token` header or as the Basic-auth password, compared in constant time. Freshchat signs
every event with RSA; FRESHCHAT_PUBLIC_KEY verifies it. A report the intake rules pick out becomes an
incident before the answer (2xx means stored); one that is not an incident is answered 200 "ignored".
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

import flask

from shared import bootstrap
from shared.config.loader import current_policy
from shared.domain.partners import PartnerReport, freshchat_report, freshdesk_report
from shared.domain.sources.errors import PayloadError
from shared.handlers.partners import receive
from shared.handlers.reports import NotAnnounced
from shared.log import get_logger
from shared.settings import settings
from shared.web import HttpError, guarded, json_response, parse_json, presented_token, read_body

log = get_logger("partners")
SECRET_HEADER = "X-Webhook-Token"  # noqa: S105 (a header name, not a secret)
SIGNATURE_HEADER = "X-Freshchat-Signature"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@guarded
def partners(request: flask.Request) -> flask.Response:
    path = request.path.rstrip("/") or "/"
    if path not in ("/freshdesk", "/freshchat"):
        raise HttpError(404, "not_found", f"no route {path}; Freshdesk posts to /freshdesk, Freshchat to /freshchat")
    if request.method != "POST":
        raise HttpError(405, "method_not_allowed", "webhooks are POSTs")
    body = read_body(request)
    if path == "/freshdesk":
        check_freshdesk_secret(request)
        report = _normalised(freshdesk_report, _freshdesk_payload(request, body))
    else:
        check_freshchat_signature(request, body)
        report = _normalised(freshchat_report, parse_json(body))
    return json_response(record(report).model_dump(exclude_none=True))


def record(report: PartnerReport):
    try:
        return receive(report, policy=current_policy(), store=bootstrap.store(), publisher=bootstrap.publisher(),
                       now=datetime.now(UTC))
    except NotAnnounced as exc:
        raise HttpError(503, "publish_failed", f"{exc.incident_id} is recorded but nobody is paged yet; retry",
                        headers={"Retry-After": "5"}) from None


def check_freshdesk_secret(request: flask.Request) -> None:
    expected = settings().freshdesk_webhook_secret
    given = request.headers.get(SECRET_HEADER) or presented_token(request, allow_query=False)
    if not given:
        raise HttpError(401, "unauthenticated", f"send the webhook secret in the {SECRET_HEADER} header "
                                                "(or as the Basic-auth password)")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HttpError(401, "unauthenticated", "the webhook secret is not valid")


def check_freshchat_signature(request: flask.Request, body: bytes) -> None:
    from shared.adapters.freshchat_signature import SignatureError, verify

    key = settings().freshchat_public_key
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise HttpError(401, "missing_signature", f"expected header {SIGNATURE_HEADER}")
    if not key:
        raise HttpError(401, "invalid_signature", "FRESHCHAT_PUBLIC_KEY is not configured; nothing is accepted")
    try:
        verify(key, body, signature)
    except SignatureError as exc:
        raise HttpError(401, "invalid_signature", str(exc)) from None


def _freshdesk_payload(request: flask.Request, body: bytes) -> object:
    """Freshdesk's webhook encodings: JSON (the default) or X-FORM-URLENCODED fields."""
    if (request.mimetype or "").lower() in FORM_TYPES:
        return {key: request.form.get(key) for key in request.form}
    return parse_json(body)


def _normalised(parse, payload: object) -> PartnerReport:
    try:
        return parse(payload)
    except PayloadError as exc:
        raise HttpError(400, "invalid_payload", exc.message, field=exc.field) from None
