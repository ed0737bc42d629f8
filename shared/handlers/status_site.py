"""The public status site: the HTML page, Statuspage v2 JSON, the Atom feed and subscriptions.

Read-only and fast: a request reads the open page document (plus the recent one for incident lists
and the feed), at most once per STATUS_CACHE_SECONDS per instance; rendered bodies are kept per page
version and minute. Every answer carries a short max-age and an ETag, and If-None-Match gives a 304,
so a CDN can serve it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import flask

from shared.config.policy import Policy
from shared.documents.status import atom_feed, html_page, message_page
from shared.domain import subscribers as subs
from shared.domain.status import PageState
from shared.domain.statuspage import DOCUMENTS, NEEDS_RECENT
from shared.handlers import status as status_handler
from shared.log import get_logger
from shared.web import HttpError, json_response, parse_json, read_body

log = get_logger("status")

MAX_AGE = 30
SUBSCRIBE_BODY_LIMIT = 16_384


def cache_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("STATUS_CACHE_SECONDS") or 2))
    except ValueError:
        return 2.0


class PageCache:
    """The page state per instance for a moment, and rendered bodies per (version, route, minute)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[bool, tuple[float, PageState | None, str]] = {}
        self._bodies: OrderedDict[tuple[str, str, str], tuple[bytes, str]] = OrderedDict()

    def state(self, status_store, with_recent: bool) -> tuple[PageState | None, str]:
        now = time.monotonic()
        hit = self._states.get(with_recent)
        if hit is not None and now - hit[0] < cache_seconds():
            return hit[1], hit[2]
        try:
            state, version = status_store.read(with_recent=with_recent)
        except Exception:
            if hit is None:
                raise
            log.exception("the page could not be read; serving the last one read")  # stale beats an error
            return hit[1], hit[2]
        with self._lock:
            self._states[with_recent] = (now, state, version)
        return state, version

    def body(self, key: tuple[str, str, str], render: Callable[[], bytes]) -> tuple[bytes, str]:
        hit = self._bodies.get(key)
        if hit is not None:
            return hit
        body = render()
        value = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        with self._lock:
            self._bodies[key] = value
            while len(self._bodies) > 64:
                self._bodies.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._states.clear()
            self._bodies.clear()


CACHE = PageCache()

CONTENT_TYPES = {"html": "text/html; charset=utf-8", "json": "application/json; charset=utf-8",
                 "atom": "application/atom+xml; charset=utf-8"}


def handle(request: flask.Request, *, policy: Policy, status_store, mailer) -> flask.Response:
    path = "/" + request.path.strip("/")
    method = request.method
    if path in ("/subscribe", "/subscribe/confirm", "/unsubscribe"):
        return _subscriptions(request, path, policy=policy, status_store=status_store, mailer=mailer)
    if method not in ("GET", "HEAD"):
        raise HttpError(405, "method_not_allowed", "the status page is read-only: use GET",
                        headers={"Allow": "GET, HEAD"})
    if path in ("/", "/index.html"):
        return _cached(request, "html", "/", False, policy, status_store, lambda view: html_page(view).encode())
    if path == "/history.atom":
        return _cached(request, "atom", path, True, policy, status_store, atom_feed)
    if path.startswith("/api/v2/"):
        name = path.removeprefix("/api/v2/")
        if name not in DOCUMENTS:
            raise HttpError(404, "not_found", f"no document {name!r}; known: {', '.join(DOCUMENTS)}")
        return _cached(request, "json", path, name in NEEDS_RECENT, policy, status_store,
                       lambda view: json.dumps(view.document(name), separators=(",", ":")).encode())
    raise HttpError(404, "not_found", f"no page {path}; see / , /api/v2/summary.json or /history.atom")


def _cached(request: flask.Request, kind: str, route: str, with_recent: bool, policy: Policy, status_store,
            render: Callable[[Any], bytes]) -> flask.Response:
    now = datetime.now(UTC)
    state, version = CACHE.state(status_store, with_recent)
    minute = now.strftime("%Y%m%d%H%M")

    def build() -> bytes:
        return render(status_handler.view_of(policy, state, now))

    body, etag = CACHE.body((version, route, minute), build)
    headers = {"Cache-Control": f"public, max-age={MAX_AGE}", "ETag": etag, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff"}
    if kind == "json":
        headers["Access-Control-Allow-Origin"] = "*"
    if kind == "html":
        headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                                              "form-action *; base-uri 'none'; frame-ancestors 'none'")
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")] or \
            request.headers.get("If-None-Match", "").strip() == "*":
        return flask.Response(status=304, headers=headers)
    return flask.Response(body, status=200, content_type=CONTENT_TYPES[kind], headers=headers)


# ---- subscriptions -------------------------------------------------------------------------------


def _wants_html(request: flask.Request) -> bool:
    if request.mimetype == "application/json":
        return False
    accept = request.accept_mimetypes
    return request.method == "GET" or accept.best_match(["application/json", "text/html"]) == "text/html" \
        or request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _answer(request: flask.Request, policy: Policy, status: int, heading: str, message: str,
            data: dict[str, Any], headers: dict[str, str] | None = None) -> flask.Response:
    headers = {"Cache-Control": "no-store", **(headers or {})}
    if _wants_html(request):
        body = message_page(policy.status_page.title, status_handler.page_url(policy), heading, message)
        return flask.Response(body, status=status, content_type=CONTENT_TYPES["html"], headers=headers)
    return json_response(data, status, headers)


def _subscriptions(request: flask.Request, path: str, *, policy: Policy, status_store, mailer) -> flask.Response:
    now = datetime.now(UTC)
    try:
        if path == "/subscribe":
            if request.method != "POST":
                raise HttpError(405, "method_not_allowed", "subscribe with POST", headers={"Allow": "POST"})
            email, webhook, components = _subscribe_fields(request)
            wanted = subs.validate(policy.status_page, email, webhook, components,
                                   allow_http=status_handler.settings().local)
            result = status_handler.subscribe(wanted, policy=policy, status_store=status_store, mailer=mailer,
                                              now=now)
            if wanted.kind == "email":
                return _answer(request, policy, 202, "Check your email",
                               f"If {wanted.address} is not subscribed yet, we sent it a link to confirm.", result)
            return _answer(request, policy, 201, "Subscribed",
                           "The webhook will receive a JSON POST for each update.", result)
        if request.method not in ("GET", "POST"):
            raise HttpError(405, "method_not_allowed", "use GET", headers={"Allow": "GET, POST"})
        token = request.args.get("token") or request.form.get("token")
        if path == "/subscribe/confirm":
            status_handler.confirm(token, status_store=status_store, now=now)
            return _answer(request, policy, 200, "Subscription confirmed",
                           "You will receive an email for each update.", {"result": "confirmed"})
        removed = status_handler.unsubscribe(token, status_store=status_store)
        return _answer(request, policy, 200, "Unsubscribed", "You will not receive any more updates.",
                       {"result": "unsubscribed" if removed else "not_subscribed"})
    except subs.Invalid as exc:
        return _answer(request, policy, 400, "That did not work", str(exc),
                       {"error": "invalid_field", "detail": str(exc), "field": exc.field})
    except status_handler.TooSoon as exc:
        return _answer(request, policy, 429, "Please wait a moment", str(exc),
                       {"error": "too_many_requests", "detail": str(exc)}, {"Retry-After": str(exc.retry_after)})
    except HttpError as exc:
        body = {"error": exc.error, "detail": exc.detail, **({"field": exc.field} if exc.field else {})}
        return _answer(request, policy, exc.status, "That did not work", exc.detail or exc.error, body, exc.headers)


def _subscribe_fields(request: flask.Request) -> tuple[str | None, str | None, list[str]]:
    raw = read_body(request, SUBSCRIBE_BODY_LIMIT)
    if request.mimetype == "application/json":
        data = parse_json(raw)
        if not isinstance(data, dict):
            raise HttpError(400, "invalid_payload", "the body must be a JSON object")
        unknown = set(data) - {"email", "webhook", "components"}
        if unknown:
            raise HttpError(400, "invalid_field", f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
        components = data.get("components") or []
        if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
            raise HttpError(400, "invalid_field", "components must be a list of component ids", field="components")
        for name in ("email", "webhook"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise HttpError(400, "invalid_field", f"{name} must be a string", field=name)
        return data.get("email"), data.get("webhook"), components
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = request.form
        return form.get("email"), form.get("webhook"), form.getlist("components")
    raise HttpError(415, "unsupported_media_type", "send JSON or a form (application/x-www-form-urlencoded)")
