"""HTTP plumbing shared by the HTTP entry points: JSON errors, size limits, credentials.

Every rejection is a JSON body `{"error": ..., "detail": ..., "field": ...}` with a 4xx status,
and is logged with what is needed to find it (path, status, reason, remote address).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from typing import Any, TypeVar

import flask
from pydantic import BaseModel, ValidationError

from shared.log import bind_trace, get_logger
from shared.settings import settings

M = TypeVar("M", bound=BaseModel)

log = get_logger("web")

Handler = Callable[[flask.Request], flask.Response]


class HttpError(Exception):
    def __init__(self, status: int, error: str, detail: str = "", field: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail or error)
        self.status = status
        self.error = error
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    response = flask.Response(json.dumps(body, default=str), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(exc: HttpError, request: flask.Request) -> flask.Response:
    body: dict[str, Any] = {"error": exc.error}
    if exc.detail:
        body["detail"] = exc.detail
    if exc.field:
        body["field"] = exc.field
    level = log.warning if exc.status < 500 else log.error
    level("request rejected", extra={
        "http_status": exc.status, "reason": exc.error, "detail": exc.detail, "field": exc.field,
        "path": request.path, "method": request.method, "remote_addr": request.remote_addr,
        "user_agent": request.headers.get("User-Agent"), "content_length": request.content_length,
    })
    return json_response(body, exc.status, exc.headers)


def guarded(handler: Handler) -> Handler:
    """Turn HttpError into its JSON response and any other failure into a logged 500."""

    def wrapper(request: flask.Request) -> flask.Response:
        bind_trace(request.headers.get("X-Cloud-Trace-Context"), settings().project)
        try:
            return handler(request)
        except HttpError as exc:
            return error_response(exc, request)
        except Exception:
            log.exception("unhandled error", extra={"path": request.path, "method": request.method})
            return json_response({"error": "internal_error"}, 500)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def read_body(request: flask.Request, limit: int | None = None) -> bytes:
    """The raw body, refused with 413 past the limit (checked before and while reading)."""
    limit = limit or settings().max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise HttpError(413, "payload_too_large", f"body is {request.content_length} bytes; the limit is {limit}")
    data = request.stream.read(limit + 1) if request.content_length is None else request.get_data(cache=True)
    if len(data) > limit:
        raise HttpError(413, "payload_too_large", f"body is over the limit of {limit} bytes")
    return data


def parse_json(data: bytes) -> Any:
    """Valid JSON of valid Unicode, or a 400 (never a 500: recursion, huge numbers, lone surrogates)."""
    if not data.strip():
        raise HttpError(400, "invalid_json", "the body is empty")
    try:
        value = json.loads(data)
    except RecursionError:
        raise HttpError(400, "invalid_json", "the body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, integers over the digit limit
        raise HttpError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise HttpError(400, "invalid_json", "the body contains text that is not valid Unicode "
                                             "(a lone surrogate)") from None
    except RecursionError:
        raise HttpError(400, "invalid_json", "the body is nested too deeply") from None
    return value


def presented_token(request: flask.Request, *, allow_query: bool = True) -> str | None:
    """A credential from `Authorization: Bearer`, Basic auth (the password) or `?token=`."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    if allow_query:
        return request.args.get("token") or None
    return None


def require_token(request: flask.Request, expected: str | None, *, allow_query: bool = True,
                  realm: str = "incidents") -> None:
    """401 unless the request carries the expected token (constant-time comparison).

    With no token configured nobody gets in: a missing secret must never mean an open door.
    """
    given = presented_token(request, allow_query=allow_query)
    if not given:
        raise HttpError(401, "unauthenticated", "send a bearer token, basic auth or ?token=",
                        headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HttpError(401, "unauthenticated", "the token is not valid",
                        headers={"WWW-Authenticate": f'Bearer realm="{realm}", error="invalid_token"'})


def validated(model: type[M], data: Any) -> M:
    """The request body as `model`, or a 400 naming the first field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise HttpError(400, "invalid_field", err["msg"], field=field) from None
