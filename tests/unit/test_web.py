"""HTTP plumbing: credentials, body limits, JSON errors, and handlers that never crash."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import flask
import pytest

from shared.web import HttpError, guarded, parse_json, presented_token, read_body, require_token

app = flask.Flask(__name__)


@pytest.fixture
def request_for() -> Iterator[Any]:
    """Build a flask.Request the way functions-framework hands it to a handler."""
    contexts = []

    def build(path: str = "/ingest/grafana", **kwargs: Any) -> flask.Request:
        ctx = app.test_request_context(path, **kwargs)
        ctx.push()
        contexts.append(ctx)
        return flask.request._get_current_object()  # type: ignore[attr-defined]

    yield build
    for ctx in reversed(contexts):
        ctx.pop()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def streamed(body: bytes) -> dict[str, Any]:
    """A chunked upload: no Content-Length, the server marks the input as terminated."""
    return {"method": "POST", "input_stream": io.BytesIO(body), "headers": {"Transfer-Encoding": "chunked"},
            "environ_overrides": {"wsgi.input_terminated": True}}


def rejection(call: Any, *args: Any, **kwargs: Any) -> HttpError:
    with pytest.raises(HttpError) as info:
        call(*args, **kwargs)
    return info.value


# -- presented_token ---------------------------------------------------------------------------------


def test_token_from_bearer_header(request_for: Any) -> None:
    assert presented_token(request_for(headers={"Authorization": "Bearer s3cret "})) == "s3cret"


def test_bearer_scheme_is_case_insensitive(request_for: Any) -> None:
    assert presented_token(request_for(headers={"Authorization": "bearer s3cret"})) == "s3cret"


def test_token_from_basic_auth_is_the_password(request_for: Any) -> None:
    assert presented_token(request_for(headers=basic("grafana", "s3cret:with:colons"))) == "s3cret:with:colons"


def test_basic_auth_without_password_gives_no_token(request_for: Any) -> None:
    assert presented_token(request_for(headers=basic("grafana", ""))) is None


def test_malformed_basic_auth_gives_no_token(request_for: Any) -> None:
    assert presented_token(request_for("/x?token=fallback", headers={"Authorization": "Basic %%%"})) is None


def test_token_from_query_string(request_for: Any) -> None:
    assert presented_token(request_for("/ingest/uptime-kuma?token=s3cret")) == "s3cret"


def test_query_token_can_be_refused(request_for: Any) -> None:
    assert presented_token(request_for("/api?token=s3cret"), allow_query=False) is None


def test_header_wins_over_query_string(request_for: Any) -> None:
    request = request_for("/x?token=from-query", headers={"Authorization": "Bearer from-header"})
    assert presented_token(request) == "from-header"


def test_no_credential_gives_none(request_for: Any) -> None:
    assert presented_token(request_for()) is None
    assert presented_token(request_for("/x?token=", headers={"Authorization": "Bearer "})) is None


# -- require_token -----------------------------------------------------------------------------------


def test_right_token_is_let_in(request_for: Any) -> None:
    assert require_token(request_for(headers={"Authorization": "Bearer s3cret"}), "s3cret") is None
    assert require_token(request_for(headers=basic("x", "s3cret")), "s3cret") is None
    assert require_token(request_for("/x?token=s3cret"), "s3cret") is None


def test_missing_token_is_401_with_a_challenge(request_for: Any) -> None:
    error = rejection(require_token, request_for(), "s3cret", realm="ingest")
    assert (error.status, error.error) == (401, "unauthenticated")
    assert error.headers["WWW-Authenticate"] == 'Bearer realm="ingest"'


def test_wrong_token_is_401(request_for: Any) -> None:
    error = rejection(require_token, request_for(headers={"Authorization": "Bearer guess"}), "s3cret")
    assert (error.status, error.detail) == (401, "the token is not valid")
    assert 'error="invalid_token"' in error.headers["WWW-Authenticate"]


def test_prefix_of_the_token_is_401(request_for: Any) -> None:
    assert rejection(require_token, request_for(headers={"Authorization": "Bearer s3cre"}), "s3cret").status == 401


@pytest.mark.parametrize("expected", [None, ""])
def test_nobody_gets_in_when_no_token_is_configured(request_for: Any, expected: str | None) -> None:
    error = rejection(require_token, request_for(headers={"Authorization": "Bearer anything"}), expected)
    assert error.status == 401


def test_query_token_refused_where_not_allowed(request_for: Any) -> None:
    error = rejection(require_token, request_for("/api?token=s3cret"), "s3cret", allow_query=False)
    assert error.status == 401


# -- read_body and parse_json ------------------------------------------------------------------------


def test_body_within_the_limit_is_read(request_for: Any) -> None:
    assert read_body(request_for(method="POST", data=b"x" * 10), limit=10) == b"x" * 10


def test_declared_body_over_the_limit_is_413_before_reading(request_for: Any) -> None:
    error = rejection(read_body, request_for(method="POST", data=b"x" * 11), limit=10)
    assert (error.status, error.error) == (413, "payload_too_large")
    assert error.detail == "body is 11 bytes; the limit is 10"


def test_streamed_body_over_the_limit_is_413(request_for: Any) -> None:
    request = request_for(**streamed(b"x" * 1000))
    assert request.content_length is None
    error = rejection(read_body, request, limit=10)
    assert (error.status, error.error) == (413, "payload_too_large")
    assert error.detail == "body is over the limit of 10 bytes"


def test_streamed_body_within_the_limit_is_read(request_for: Any) -> None:
    assert read_body(request_for(**streamed(b"x" * 10)), limit=10) == b"x" * 10


def test_default_limit_comes_from_settings(request_for: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import settings as settings_module

    monkeypatch.setenv("MAX_BODY_BYTES", "5")
    settings_module.reload_settings()
    try:
        assert rejection(read_body, request_for(method="POST", data=b"x" * 6)).status == 413
        assert read_body(request_for(method="POST", data=b"x" * 5)) == b"x" * 5
    finally:
        monkeypatch.delenv("MAX_BODY_BYTES")
        settings_module.reload_settings()


def test_parse_json_returns_the_document() -> None:
    assert parse_json(b'{"alerts": [1, 2]}') == {"alerts": [1, 2]}
    assert parse_json(b"[]") == []


@pytest.mark.parametrize("body", [b"", b"  \n\t"])
def test_parse_json_refuses_an_empty_body(body: bytes) -> None:
    error = rejection(parse_json, body)
    assert (error.status, error.error, error.detail) == (400, "invalid_json", "the body is empty")


@pytest.mark.parametrize("body", [b"{not json", b'{"a": 1', b"\xff\xfe\x00", b"alerts=1"])
def test_parse_json_refuses_invalid_json(body: bytes) -> None:
    error = rejection(parse_json, body)
    assert (error.status, error.error) == (400, "invalid_json")
    assert error.detail.startswith("the body is not valid JSON")


# -- guarded -----------------------------------------------------------------------------------------


def test_guarded_passes_a_good_response_through(request_for: Any) -> None:
    @guarded
    def handler(request: flask.Request) -> flask.Response:
        return flask.Response("ok", status=202)

    response = handler(request_for())
    assert (response.status_code, response.get_data()) == (202, b"ok")


def test_guarded_keeps_the_handler_name_and_doc() -> None:
    def ingest(request: flask.Request) -> flask.Response:
        """Receive alerts."""
        raise NotImplementedError

    wrapped = guarded(ingest)
    assert (wrapped.__name__, wrapped.__doc__) == ("ingest", "Receive alerts.")


def test_guarded_turns_http_error_into_json_and_logs_it(request_for: Any, caplog: pytest.LogCaptureFixture) -> None:
    @guarded
    def handler(request: flask.Request) -> flask.Response:
        raise HttpError(422, "invalid_payload", "is required", field="alerts[0].startsAt",
                        headers={"Retry-After": "0"})

    request = request_for("/ingest/grafana", method="POST", data=b"{}",
                          headers={"User-Agent": "Grafana/11"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    with caplog.at_level(logging.INFO):
        response = handler(request)

    assert response.status_code == 422
    assert response.mimetype == "application/json"
    assert response.headers["Retry-After"] == "0"
    assert json.loads(response.get_data()) == {"error": "invalid_payload", "detail": "is required",
                                               "field": "alerts[0].startsAt"}
    (record,) = [r for r in caplog.records if r.getMessage() == "request rejected"]
    assert record.levelno == logging.WARNING
    assert (record.http_status, record.reason, record.field) == (422, "invalid_payload", "alerts[0].startsAt")
    assert (record.path, record.method, record.remote_addr) == ("/ingest/grafana", "POST", "10.1.2.3")
    assert record.user_agent == "Grafana/11"


def test_guarded_leaves_out_empty_detail_and_field(request_for: Any) -> None:
    @guarded
    def handler(request: flask.Request) -> flask.Response:
        raise HttpError(404, "not_found")

    response = handler(request_for())
    assert response.status_code == 404
    assert json.loads(response.get_data()) == {"error": "not_found"}


def test_guarded_turns_a_crash_into_a_500_json(request_for: Any, caplog: pytest.LogCaptureFixture) -> None:
    @guarded
    def handler(request: flask.Request) -> flask.Response:
        raise RuntimeError("database on fire")

    with caplog.at_level(logging.INFO):
        response = handler(request_for("/api/incidents"))

    assert response.status_code == 500
    assert json.loads(response.get_data()) == {"error": "internal_error"}
    assert b"database on fire" not in response.get_data()
    (record,) = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert record.path == "/api/incidents"


def test_guarded_rejects_an_unauthenticated_request_end_to_end(request_for: Any) -> None:
    @guarded
    def handler(request: flask.Request) -> flask.Response:
        require_token(request, "s3cret")
        return flask.Response("ok")

    response = handler(request_for(headers={"Authorization": "Bearer wrong"}))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="incidents"')
    assert json.loads(response.get_data())["error"] == "unauthenticated"
