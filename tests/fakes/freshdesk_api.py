"""A fake of the Freshdesk REST API v2 served over real HTTP on loopback.

Why: the Freshdesk adapter is written with ``requests`` against ``https://<domain>.freshdesk.com/api/v2/``.
Pointing it at this server (``FRESHDESK_DOMAIN=fake.base_url``) runs the production code unchanged. The
server checks each request the way Freshdesk documents it (Basic auth with the API key, JSON content type,
field types and enumerations, unknown fields) and answers violations the way Freshdesk does: 401
``invalid_credentials``, 415 ``invalid_content_type``, 400 ``invalid_json``, and 400
``{"description": "Validation failed", "errors": [{"field", "message", "code"}]}``. Every violation is
also collected in ``FakeFreshdesk.problems`` so tests can assert there were none.

In process::

    with FakeFreshdesk() as fd:
        requests.post(f"{fd.base_url}/api/v2/tickets", auth=(fd.api_key, "X"), json={...})
        fd.wait_for("/api/v2/tickets")
        assert fd.problems == []

Out of process (benchmarks, e2e)::

    python -m tests.fakes.freshdesk_api --port 0   # prints the base URL, serves until SIGINT/SIGTERM
    GET /_tickets  GET /_requests  GET /_problems  POST /_reset
    POST /_fault {"kind": "rate_limit"|"fail"|"outage", "n": 1, "retry_after": 1, "status": 503, "on": true}
    POST /_partner_ticket {...create_ticket_as_partner kwargs...}

Choices where Freshdesk's documentation is silent or was not retrievable (documented, not guessed silently):
an unknown ticket answers 404 with an empty body; an unknown URL answers 404 ``{"code": "invalid_url"}``;
a 5xx fault or an outage answers ``{"code": "service_unavailable", ...}``; group, agent, product and company
ids are not checked for existence; ``requester_id`` must be a contact the fake knows (created by email or
by ``create_ticket_as_partner``).

The small HTTP scaffolding (``LoopbackFake``) is shared with ``tests.fakes.plane_api``. Only the standard
library is used.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import html
import json
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.loopback import ServedInThread, read_request_body

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_TICKET_TYPES",
    "FakeFreshdesk",
    "LoopbackFake",
    "RecordedRequest",
    "main",
]

DEFAULT_API_KEY = "test-key"
DEFAULT_TICKET_TYPES: tuple[str, ...] = ("Question", "Incident", "Problem", "Feature Request")

STATUS_NAMES = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}
PRIORITY_NAMES = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}
SOURCES = (1, 2, 3, 7, 9, 10)
# Conversation sources as Freshdesk numbers them (not the ticket sources above).
CONVERSATION_SOURCE_REPLY = 0
CONVERSATION_SOURCE_NOTE = 2
SEARCH_PAGE_SIZE = 30
SEARCH_MAX_PAGE = 10
# Resolution / first-response targets in hours by priority, only to fill due_by and fr_due_by realistically.
_SLA_HOURS = {4: (4, 1), 3: (8, 2), 2: (24, 8), 1: (72, 24)}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|div|br|li|ul|ol|tr|td|h[1-6]|blockquote|pre)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text_of(body_html: str) -> str:
    """Freshdesk's ``*_text`` fields: the HTML with tags stripped and entities decoded."""
    return " ".join(html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", body_html))).split())


# ---------------------------------------------------------------------------------------------------------
# Shared scaffolding: a ThreadingHTTPServer in a background thread, request log, problems, faults.
# ---------------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request the fake answered (API and fault answers alike; control endpoints are not recorded)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any
    status: int
    response: Any
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "json": self.json,
            "status": self.status,
            "response": self.response,
            "received_at": self.received_at,
        }


@dataclass
class Answer:
    status: int
    payload: Any = None  # JSON-encoded unless ``raw`` is given
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: LoopbackFake) -> None:
        self.fake = fake
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._sockets_lock:
            self._sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._sockets_lock:
            self._sockets.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._sockets_lock:
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr lines; requests are recorded instead."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        return read_request_body(self)

    def _send(self, answer: Answer) -> None:
        if answer.raw is not None:
            body = answer.raw
        elif answer.payload is None:
            body = b""
        else:
            body = json.dumps(answer.payload).encode("utf-8")
        self.send_response(answer.status)
        if body or answer.raw is not None:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        try:
            body = self._read_body()
            headers = dict(self.headers.items())
            if fake.control_endpoints and url.path.startswith("/_"):
                answer = fake._control(self.command, url.path, parse_qs(url.query), body)
            else:
                answer = fake._handle(self.command, url.path, url.query, headers, body)
            if fake.latency > 0:
                time.sleep(fake.latency)
            self._send(answer)
        except Exception as exc:  # a bug in the fake must show up in tests, not as a hung client
            fake._add_problem(f"fake internal error on {self.command} {url.path}: {exc!r}")
            self._send(Answer(500, {"code": "fake_internal_error", "message": repr(exc)}))


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: int | None = None


class LoopbackFake(ServedInThread):
    """HTTP server lifecycle, request log, problems and fault injection shared by the SaaS fakes.

    Subclasses implement ``_route`` (the API itself), ``_fault_answer`` (how the service words 429/5xx) and
    ``_is_api`` (which paths count as API requests for faults and rate limits)."""

    name = "fake"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        control_endpoints: bool = True,
        limit_per_minute: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.latency = latency
        self.control_endpoints = control_endpoints
        self.limit_per_minute = limit_per_minute
        self.clock = clock
        self._address = (host, port)
        self._cond = threading.Condition(threading.RLock())
        self._requests: list[RecordedRequest] = []
        self._problems: list[str] = []
        self._faults: list[_Fault] = []
        self._outage = False
        self._window: list[float] = []  # monotonic times of API requests in the last minute
        ServedInThread.__init__(self)
        self.root_url = ""

    # -- lifecycle ------------------------------------------------------------------------------------

    thread_name = "fake-saas"

    def _new_server(self) -> _Server:
        return _Server(self._address, self)

    def _on_started(self, host: str, port: int) -> None:
        self.root_url = f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` without a trailing slash."""
        if not self.root_url:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self.root_url

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    # -- inspection -----------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def problems(self) -> list[str]:
        with self._cond:
            return list(self._problems)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        with self._cond:
            return [r for r in self._requests if r.path == path and (method is None or r.method == method)]

    def wait_for(
        self,
        what: str | Callable[[RecordedRequest], bool],
        count: int = 1,
        timeout: float = 10.0,
        method: str | None = None,
    ) -> list[RecordedRequest]:
        """Block until ``count`` requests matched (a path, or a predicate on RecordedRequest); return them."""
        if isinstance(what, str):
            path = what

            def matches(r: RecordedRequest) -> bool:
                return r.path == path and (method is None or r.method == method)
        else:
            matches = what
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self._requests if matches(r)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(f"{r.method} {r.path} -> {r.status}" for r in self._requests[-20:]) or "none"
                    raise AssertionError(
                        f"expected {count} request(s) matching {what!r} within {timeout}s, got {len(found)}; "
                        f"last requests: {seen}; problems: {self._problems}"
                    )
                self._cond.wait(remaining)

    # -- faults ---------------------------------------------------------------------------------------

    def rate_limit_next(self, n: int = 1, retry_after: int = 1) -> None:
        """The next ``n`` API requests get 429 with ``Retry-After: retry_after``."""
        with self._cond:
            self._faults.append(_Fault(n, 429, retry_after))

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """The next ``n`` API requests get ``status`` (a 5xx by default)."""
        with self._cond:
            self._faults.append(_Fault(n, status, None))

    def outage(self, on: bool = True) -> None:
        """Every API request answers 503 until ``outage(False)``; requests are still recorded."""
        with self._cond:
            self._outage = on

    def reset(self) -> None:
        """Forget requests, problems, faults and all stored data (subclasses reseed their fixtures)."""
        with self._cond:
            self._requests.clear()
            self._problems.clear()
            self._faults.clear()
            self._outage = False
            self._window.clear()
            self._reset_state()

    # -- subclass hooks -------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        raise NotImplementedError

    def _is_api(self, path: str) -> bool:
        raise NotImplementedError

    def _route(self, req: _Req) -> Answer:
        raise NotImplementedError

    def _fault_answer(self, status: int, retry_after: int | None) -> Answer:
        raise NotImplementedError

    def _decorate(self, answer: Answer) -> None:
        """Add headers every API answer carries (rate-limit headers)."""

    def _control_extra(self, method: str, path: str, body: Any) -> Answer | None:
        return None

    # -- request handling (server threads) ------------------------------------------------------------

    def _add_problem(self, problem: str) -> None:
        with self._cond:
            self._problems.append(problem)

    def _problem(self, req: _Req, message: str) -> None:
        self._problems.append(f"{req.method} {req.path}: {message}")

    def _take_fault(self) -> _Fault | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.pop(0)
        return fault

    def _over_limit(self) -> int | None:
        """Seconds to wait if the per-minute limit is exceeded (the request counts either way)."""
        now = time.monotonic()
        self._window = [t for t in self._window if now - t < 60]
        self._window.append(now)
        if self.limit_per_minute is not None and len(self._window) > self.limit_per_minute:
            return max(1, int(60 - (now - self._window[0])) + 1)
        return None

    def _handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        req = _Req(method, path, parse_qs(query, keep_blank_values=True), headers, body)
        with self._cond:
            if self._is_api(path):
                wait = self._over_limit()
                fault = self._take_fault()
                if self._outage:
                    answer = self._fault_answer(503, None)
                elif fault is not None:
                    answer = self._fault_answer(fault.status, fault.retry_after)
                elif wait is not None:
                    answer = self._fault_answer(429, wait)
                else:
                    answer = self._route(req)
                self._decorate(answer)
            else:
                answer = self._route(req)
            payload = answer.payload if answer.raw is None else answer.raw.decode("utf-8", "replace")
            parsed = req.parsed_json if req.json_ok else None
            self._requests.append(
                RecordedRequest(method, path, req.query, headers, body, parsed, answer.status, copy.deepcopy(payload))
            )
            self._cond.notify_all()
        return answer

    def _control(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Answer:
        try:
            spec = json.loads(body or b"{}")
        except ValueError:
            return Answer(400, {"error": "control body must be JSON"})
        if path == "/_requests" and method == "GET":
            return Answer(200, [r.to_json() for r in self.requests])
        if path == "/_problems" and method == "GET":
            return Answer(200, self.problems)
        if path == "/_reset" and method == "POST":
            self.reset()
            return Answer(200, {"ok": True})
        if path == "/_fault" and method == "POST":
            kind = spec.get("kind")
            if kind == "rate_limit":
                self.rate_limit_next(int(spec.get("n", 1)), int(spec.get("retry_after", 1)))
            elif kind == "fail":
                self.fail_next(int(spec.get("n", 1)), int(spec.get("status", 503)))
            elif kind == "outage":
                self.outage(bool(spec.get("on", True)))
            else:
                return Answer(400, {"error": "kind must be rate_limit, fail or outage"})
            return Answer(200, {"ok": True})
        extra = self._control_extra(method, path, spec)
        return extra if extra is not None else Answer(404, {"error": "unknown control endpoint"})


class _Req:
    """A parsed request: JSON decoded lazily so faults and auth failures never depend on the body."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes):
        self.method = method
        self.path = path
        self.query = query
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.json_ok = False
        self.parsed_json: Any = None
        if body:
            try:
                self.parsed_json = json.loads(body)
                self.json_ok = True
            except ValueError:
                pass

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


def serve_main(fake: LoopbackFake, argv_help: str) -> int:
    """Out-of-process mode: print the base URL, serve until SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with fake:
        print(fake.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


# ---------------------------------------------------------------------------------------------------------
# Freshdesk
# ---------------------------------------------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, errors: list[dict[str, str]]):
        super().__init__(errors)
        self.errors = errors


def _err(field_name: str, message: str, code: str) -> dict[str, str]:
    return {"field": field_name, "message": message, "code": code}


_TYPE_NAMES = {str: "String", int: "Integer", bool: "Boolean", list: "Array", dict: "key/value pair"}


class _Fields:
    """Collects Freshdesk-style validation errors for one body."""

    def __init__(self, body: dict[str, Any]):
        self.body = body
        self.errors: list[dict[str, str]] = []

    def typed(self, name: str, kind: type, *, required: bool = False, nullable: bool = False) -> Any:
        if name not in self.body:
            if required:
                self.errors.append(_err(name, f"It should be a/an {_TYPE_NAMES[kind]}", "missing_field"))
            return None
        value = self.body[name]
        if value is None and nullable:
            return None
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            self.errors.append(_err(name, f"It should be a/an {_TYPE_NAMES[kind]}", "datatype_mismatch"))
            return None
        if kind is str and required and not value.strip():
            self.errors.append(_err(name, "It should not be blank as this is a mandatory field", "invalid_value"))
        return value

    def choice(self, name: str, allowed: tuple[Any, ...] | list[Any], kind: type = int) -> Any:
        value = self.typed(name, kind)
        if value is not None and value not in allowed:
            listed = ",".join(str(a) for a in allowed)
            self.errors.append(_err(name, f"It should be one of these values: '{listed}'", "invalid_value"))
        return value

    def emails(self, name: str) -> None:
        value = self.typed(name, list)
        for item in value or []:
            if not isinstance(item, str):
                self.errors.append(_err(name, "It should contain elements of type String only", "datatype_mismatch"))
                return
            if not _EMAIL.match(item):
                self.errors.append(_err(name, f"It should contain elements that are in the 'valid email address' "
                                              f"format ({item!r} is not)", "invalid_value"))
                return

    def strings(self, name: str) -> None:
        value = self.typed(name, list)
        if value is not None and not all(isinstance(item, str) for item in value):
            self.errors.append(_err(name, "It should contain elements of type String only", "datatype_mismatch"))

    def iso(self, name: str) -> None:
        value = self.typed(name, str, nullable=True)
        if value:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                self.errors.append(_err(name, "It should be in the 'combined date and time ISO8601' format",
                                        "invalid_value"))

    def unknown(self, allowed: set[str]) -> None:
        for name in self.body:
            if name not in allowed:
                self.errors.append(_err(name, "Unexpected/invalid field in request", "invalid_field"))


_REQUESTER_FIELDS = ("requester_id", "phone", "email", "twitter_id", "facebook_id", "unique_external_id")
_TICKET_FIELDS = {
    "subject", "description", "name", "priority", "status", "source", "type", "tags", "cc_emails",
    "custom_fields", "group_id", "responder_id", "product_id", "company_id", "email_config_id", "due_by",
    "fr_due_by", "parent_id", *_REQUESTER_FIELDS,
}
_NOTE_FIELDS = {"body", "private", "incoming", "notify_emails", "user_id"}
_REPLY_FIELDS = {"body", "cc_emails", "bcc_emails", "from_email", "user_id"}
_TICKET_PATH = re.compile(r"^/api/v2/tickets/(\d+)(/notes|/reply|/conversations)?$")


class FakeFreshdesk(LoopbackFake):
    """Freshdesk REST API v2 fake on 127.0.0.1; see the module docstring."""

    name = "freshdesk"

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        ticket_types: tuple[str, ...] | list[str] = DEFAULT_TICKET_TYPES,
        custom_statuses: tuple[int, ...] | list[int] = (),
        custom_fields: tuple[str, ...] | list[str] | None = None,
        rate_limit_total: int = 700,
        agent_id: int = 9001,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.ticket_types = tuple(ticket_types)
        self.statuses = (2, 3, 4, 5, *custom_statuses)
        self.custom_fields = None if custom_fields is None else tuple(custom_fields)
        self.rate_limit_total = rate_limit_total
        self.agent_id = agent_id  # the user the API key belongs to: notes and replies default to it
        self._reset_state()

    def _reset_state(self) -> None:
        self._tickets: dict[int, dict[str, Any]] = {}
        self._conversations: dict[int, list[dict[str, Any]]] = {}
        self._contacts: dict[str, int] = {}  # email -> contact id
        self._agents: dict[str, int] = {}  # email -> agent id
        self._next_ticket = 48201
        self._next_contact = 8023001
        self._next_conversation = 70001
        self._next_agent = 9100

    # -- inspection -----------------------------------------------------------------------------------

    @property
    def tickets(self) -> dict[int, dict[str, Any]]:
        """Current tickets by id, each with its ``conversations`` (notes and replies, oldest first)."""
        with self._cond:
            out = copy.deepcopy(self._tickets)
            for tid, ticket in out.items():
                ticket["conversations"] = copy.deepcopy(self._conversations.get(tid, []))
            return out

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        return self.tickets[ticket_id]

    def conversations(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._cond:
            return copy.deepcopy(self._conversations.get(ticket_id, []))

    def notes(self, ticket_id: int) -> list[dict[str, Any]]:
        return [c for c in self.conversations(ticket_id) if c["source"] == CONVERSATION_SOURCE_NOTE]

    def replies(self, ticket_id: int) -> list[dict[str, Any]]:
        return [c for c in self.conversations(ticket_id) if c["source"] == CONVERSATION_SOURCE_REPLY]

    def contact_id(self, email: str) -> int:
        with self._cond:
            return self._contact(email)

    # -- seeding (as if people used the Freshdesk portal) ----------------------------------------------

    def create_ticket_as_partner(
        self,
        subject: str = "Payments failing for our customers",
        description: str = "<div>Since 10:05 IST every UPI collect request returns an error.</div>",
        *,
        email: str = "ops@partner-bank.example",
        priority: int = 4,
        status: int = 2,
        source: int = 2,
        type: str | None = "Incident",
        tags: list[str] | tuple[str, ...] = ("outage",),
        custom_fields: dict[str, Any] | None = None,
        group_id: int | None = None,
        responder_id: int | None = None,
        company_id: int | None = None,
        created_by_agent: str | None = None,
    ) -> dict[str, Any]:
        """Seed a ticket as a partner would create it in the portal (or, with ``source=3`` and
        ``created_by_agent``, as an agent logging a phone call). Not recorded as an API request."""
        with self._cond:
            body: dict[str, Any] = {
                "subject": subject, "description": description, "email": email, "priority": priority,
                "status": status, "source": source, "type": type, "tags": list(tags),
                "custom_fields": dict(custom_fields or {}), "group_id": group_id, "responder_id": responder_id,
                "company_id": company_id,
            }
            ticket = self._new_ticket(body)
            if created_by_agent:
                ticket["created_by_agent_id"] = self._agent(created_by_agent)
            return copy.deepcopy(ticket)

    def update_ticket_as_agent(self, ticket_id: int, **fields: Any) -> dict[str, Any]:
        """Change a ticket as an agent would in the portal (e.g. ``priority=4``); not recorded."""
        with self._cond:
            ticket = self._tickets[ticket_id]
            ticket.update(copy.deepcopy(fields))
            self._touch(ticket)
            return copy.deepcopy(ticket)

    def add_requester_reply(self, ticket_id: int, body: str, from_email: str | None = None) -> dict[str, Any]:
        """The requester answered by email or portal: an incoming public conversation."""
        with self._cond:
            ticket = self._tickets[ticket_id]
            contact = ticket["requester_id"]
            conv = self._new_conversation(ticket_id, CONVERSATION_SOURCE_REPLY, body, private=False, incoming=True,
                                          user_id=contact)
            conv["from_email"] = from_email or self._email_of(contact)
            return copy.deepcopy(conv)

    # -- internals --------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock()

    def _contact(self, email: str) -> int:
        key = email.lower()
        if key not in self._contacts:
            self._contacts[key] = self._next_contact
            self._next_contact += 1
        return self._contacts[key]

    def _agent(self, email: str) -> int:
        key = email.lower()
        if key not in self._agents:
            self._agents[key] = self._next_agent
            self._next_agent += 1
        return self._agents[key]

    def _email_of(self, contact_id: int) -> str | None:
        return next((e for e, i in self._contacts.items() if i == contact_id), None)

    def _touch(self, ticket: dict[str, Any]) -> None:
        ticket["updated_at"] = _iso(self._now())

    def _new_ticket(self, body: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        priority = body.get("priority") or 1
        resolve_h, first_h = _SLA_HOURS.get(priority, (24, 8))
        tid = self._next_ticket
        self._next_ticket += 1
        requester = body.get("requester_id")
        if requester is None:
            ident = next((body[k] for k in _REQUESTER_FIELDS[1:] if body.get(k)), None)
            requester = self._contact(str(ident or "unknown@requester.example"))
        description = body.get("description", "")
        ticket = {
            "id": tid,
            "subject": body["subject"],
            "description": description,
            "description_text": _text_of(description) or "",
            "status": body.get("status") or 2,
            "priority": priority,
            "source": body.get("source") or 2,
            "type": body.get("type"),
            "tags": list(body.get("tags") or []),
            "cc_emails": list(body.get("cc_emails") or []),
            "fwd_emails": [],
            "reply_cc_emails": list(body.get("cc_emails") or []),
            "custom_fields": dict(body.get("custom_fields") or {}),
            "requester_id": requester,
            "responder_id": body.get("responder_id"),
            "group_id": body.get("group_id"),
            "company_id": body.get("company_id"),
            "product_id": body.get("product_id"),
            "email_config_id": body.get("email_config_id"),
            "parent_id": body.get("parent_id"),
            "fr_escalated": False,
            "spam": False,
            "is_escalated": False,
            "due_by": body.get("due_by") or _iso(now + resolve_h * 3600),
            "fr_due_by": body.get("fr_due_by") or _iso(now + first_h * 3600),
            "created_at": _iso(now),
            "updated_at": _iso(now),
            "attachments": [],
        }
        self._tickets[tid] = ticket
        self._conversations[tid] = []
        return ticket

    def _new_conversation(
        self, ticket_id: int, source: int, body: str, *, private: bool, incoming: bool, user_id: int
    ) -> dict[str, Any]:
        now = _iso(self._now())
        cid = self._next_conversation
        self._next_conversation += 1
        conv = {
            "id": cid,
            "body": body,
            "body_text": _text_of(body) or "",
            "incoming": incoming,
            "private": private,
            "user_id": user_id,
            "support_email": None,
            "source": source,
            "category": 2 if source == CONVERSATION_SOURCE_NOTE else 3,
            "ticket_id": ticket_id,
            "to_emails": [],
            "from_email": None,
            "cc_emails": [],
            "bcc_emails": [],
            "attachments": [],
            "created_at": now,
            "updated_at": now,
        }
        self._conversations.setdefault(ticket_id, []).append(conv)
        self._touch(self._tickets[ticket_id])
        return conv

    # -- HTTP -------------------------------------------------------------------------------------------

    def _is_api(self, path: str) -> bool:
        return path.startswith("/api/v2/")

    def _decorate(self, answer: Answer) -> None:
        used = len(self._window)
        answer.headers.setdefault("X-RateLimit-Total", str(self.limit_per_minute or self.rate_limit_total))
        remaining = max(0, (self.limit_per_minute or self.rate_limit_total) - used)
        answer.headers.setdefault("X-RateLimit-Remaining", str(remaining))
        answer.headers.setdefault("X-RateLimit-Used-CurrentRequest", "1")
        answer.headers.setdefault("X-Request-Id", f"fake-{time.time_ns()}")

    def _fault_answer(self, status: int, retry_after: int | None) -> Answer:
        if status == 429:
            wait = str(retry_after or 1)
            return Answer(429, {"code": "rate_limit_exceeded", "message": "You have exceeded the limit of requests "
                                "per minute"}, {"Retry-After": wait})
        return Answer(status, {"code": "service_unavailable", "message": "Freshdesk is unavailable (injected fault)"})

    def _control_extra(self, method: str, path: str, body: Any) -> Answer | None:
        if path == "/_tickets" and method == "GET":
            return Answer(200, {str(k): v for k, v in self.tickets.items()})
        if path == "/_partner_ticket" and method == "POST":
            return Answer(201, self.create_ticket_as_partner(**body))
        return None

    def _route(self, req: _Req) -> Answer:
        if not self._is_api(req.path):
            self._problem(req, "not a Freshdesk API v2 path (expected /api/v2/...)")
            return Answer(404, {"code": "invalid_url", "message": "The requested URL is not found."})
        auth = self._check_auth(req)
        if auth is not None:
            return auth
        match = _TICKET_PATH.match(req.path)
        if req.path == "/api/v2/tickets" and req.method == "POST":
            return self._with_body(req, self._create_ticket)
        if req.path == "/api/v2/search/tickets" and req.method == "GET":
            return self._search(req)
        if match:
            tid, sub = int(match.group(1)), match.group(2)
            if tid not in self._tickets:
                self._problem(req, f"ticket {tid} does not exist")
                return Answer(404)
            if sub is None and req.method == "GET":
                return self._get_ticket(req, tid)
            if sub is None and req.method == "PUT":
                return self._with_body(req, lambda body: self._update_ticket(tid, body))
            if sub == "/notes" and req.method == "POST":
                return self._with_body(req, lambda body: self._add_note(tid, body))
            if sub == "/reply" and req.method == "POST":
                return self._with_body(req, lambda body: self._add_reply(tid, body))
            if sub == "/conversations" and req.method == "GET":
                return self._list_conversations(req, tid)
        self._problem(req, "no such Freshdesk endpoint in this fake")
        return Answer(404, {"code": "invalid_url", "message": "The requested URL is not found."})

    def _check_auth(self, req: _Req) -> Answer | None:
        header = req.headers.get("authorization", "")
        user = None
        if header.lower().startswith("basic "):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
                user = decoded.split(":", 1)[0] if ":" in decoded else None
        if user == self.api_key:
            return None
        why = "no Authorization header" if not header else "Authorization is not Basic base64(api_key:X)"
        if header and user is not None:
            why = "wrong API key"
        self._problem(req, f"401 invalid_credentials: {why}")
        message = "You have to be logged in to perform this action."
        return Answer(401, {"code": "invalid_credentials", "message": message})

    def _with_body(self, req: _Req, action: Callable[[dict[str, Any]], Answer]) -> Answer:
        ctype = req.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            self._problem(req, f"415 invalid_content_type: Content-Type is {ctype!r}")
            message = f"Content-Type header is set to {ctype}. It should be set to application/json"
            return Answer(415, {"code": "invalid_content_type", "message": message})
        if not req.json_ok or not isinstance(req.parsed_json, dict):
            self._problem(req, "400 invalid_json: body is not a JSON object")
            return Answer(400, {"code": "invalid_json", "message": "Request body has invalid json format"})
        try:
            return action(req.parsed_json)
        except _Invalid as exc:
            for e in exc.errors:
                self._problem(req, f"400 {e['code']} {e['field']}: {e['message']}")
            return Answer(400, {"description": "Validation failed", "errors": exc.errors})

    def _check_ticket_fields(self, body: dict[str, Any], *, create: bool) -> None:
        f = _Fields(body)
        f.unknown(_TICKET_FIELDS)
        f.typed("subject", str, required=create)
        f.typed("description", str, required=create)
        f.choice("priority", (1, 2, 3, 4))
        f.choice("status", self.statuses)
        f.choice("source", SOURCES)
        if "type" in body and body["type"] is not None:
            f.choice("type", self.ticket_types, str)
        f.strings("tags")
        f.emails("cc_emails")
        for name in ("group_id", "responder_id", "product_id", "company_id", "email_config_id", "parent_id"):
            f.typed(name, int, nullable=True)
        f.iso("due_by")
        f.iso("fr_due_by")
        f.typed("name", str)
        for name in ("phone", "twitter_id", "facebook_id", "unique_external_id"):
            f.typed(name, str)
        email = f.typed("email", str)
        if email is not None and not _EMAIL.match(email):
            f.errors.append(_err("email", "It should be in the 'valid email address' format", "invalid_value"))
        requester = f.typed("requester_id", int)
        if requester is not None and requester not in self._contacts.values():
            f.errors.append(_err("requester_id", "There is no contact matching the given requester_id",
                                 "invalid_value"))
        if create and not any(body.get(k) for k in _REQUESTER_FIELDS):
            listed = ", ".join(_REQUESTER_FIELDS)
            f.errors.append(_err("requester_id", f"Please fill at least 1 of {listed} fields", "missing_field"))
        custom = f.typed("custom_fields", dict)
        for key, value in (custom or {}).items():
            known = key in self.custom_fields if self.custom_fields is not None else key.startswith("cf_")
            if not known:
                f.errors.append(_err(key, "Unexpected/invalid field in request", "invalid_field"))
            elif value is not None and not isinstance(value, str | int | float | bool):
                f.errors.append(_err(key, "It should be a/an String", "datatype_mismatch"))
        if f.errors:
            raise _Invalid(f.errors)

    def _create_ticket(self, body: dict[str, Any]) -> Answer:
        self._check_ticket_fields(body, create=True)
        ticket = self._new_ticket(body)
        return Answer(201, copy.deepcopy(ticket), {"Location": f"{self.base_url}/api/v2/tickets/{ticket['id']}"})

    def _update_ticket(self, tid: int, body: dict[str, Any]) -> Answer:
        self._check_ticket_fields(body, create=False)
        ticket = self._tickets[tid]
        for key, value in body.items():
            if key == "custom_fields":
                ticket["custom_fields"].update(value)
            elif key == "description":
                ticket["description"] = value
                ticket["description_text"] = _text_of(value) or ""
            elif key == "email":
                ticket["requester_id"] = self._contact(value)
            elif key in _REQUESTER_FIELDS[1:] or key == "name":
                continue
            else:
                ticket[key] = copy.deepcopy(value)
        self._touch(ticket)
        return Answer(200, copy.deepcopy(ticket))

    def _get_ticket(self, req: _Req, tid: int) -> Answer:
        ticket = copy.deepcopy(self._tickets[tid])
        include = [i for i in (req.param("include") or "").split(",") if i]
        for item in include:
            if item == "conversations":
                ticket["conversations"] = copy.deepcopy(self._conversations[tid][:10])
            elif item == "requester":
                email = self._email_of(ticket["requester_id"])
                ticket["requester"] = {"id": ticket["requester_id"], "email": email, "name": email, "mobile": None,
                                       "phone": None}
            elif item not in ("stats", "company"):
                self._problem(req, f"400 invalid include {item!r}")
                err = _err("include", "It should be one of these values: 'conversations,requester,company,stats'",
                           "invalid_value")
                return Answer(400, {"description": "Validation failed", "errors": [err]})
        return Answer(200, ticket)

    def _add_note(self, tid: int, body: dict[str, Any]) -> Answer:
        f = _Fields(body)
        f.unknown(_NOTE_FIELDS)
        text = f.typed("body", str, required=True)
        private = f.typed("private", bool)
        incoming = f.typed("incoming", bool)
        f.emails("notify_emails")
        user = f.typed("user_id", int)
        if f.errors:
            raise _Invalid(f.errors)
        conv = self._new_conversation(
            tid, CONVERSATION_SOURCE_NOTE, text, private=True if private is None else private,
            incoming=bool(incoming), user_id=user or self.agent_id,
        )
        conv["notified_to"] = list(body.get("notify_emails") or [])
        return Answer(201, copy.deepcopy(conv))

    def _add_reply(self, tid: int, body: dict[str, Any]) -> Answer:
        f = _Fields(body)
        f.unknown(_REPLY_FIELDS)
        text = f.typed("body", str, required=True)
        f.emails("cc_emails")
        f.emails("bcc_emails")
        sender = f.typed("from_email", str)
        if sender is not None and not _EMAIL.match(sender):
            f.errors.append(_err("from_email", "It should be in the 'valid email address' format", "invalid_value"))
        user = f.typed("user_id", int)
        if f.errors:
            raise _Invalid(f.errors)
        conv = self._new_conversation(tid, CONVERSATION_SOURCE_REPLY, text, private=False, incoming=False,
                                      user_id=user or self.agent_id)
        requester_email = self._email_of(self._tickets[tid]["requester_id"])
        conv.update({
            "from_email": sender or "support@fake.freshdesk.com",
            "to_emails": [requester_email] if requester_email else [],
            "cc_emails": list(body.get("cc_emails") or []),
            "bcc_emails": list(body.get("bcc_emails") or []),
        })
        return Answer(201, copy.deepcopy(conv))

    def _page_args(self, req: _Req, max_per_page: int = 100) -> tuple[int, int] | Answer:
        errors = []
        values = {}
        for name, default, upper in (("page", 1, None), ("per_page", 30, max_per_page)):
            raw = req.param(name)
            if raw is None:
                values[name] = default
                continue
            if not raw.isdigit() or int(raw) < 1 or (upper is not None and int(raw) > upper):
                bound = f"less than or equal to {upper}" if upper else "greater than 0"
                errors.append(_err(name, f"It should be a Positive Number {bound}", "invalid_value"))
            else:
                values[name] = int(raw)
        if errors:
            for e in errors:
                self._problem(req, f"400 {e['field']}: {e['message']}")
            return Answer(400, {"description": "Validation failed", "errors": errors})
        return values["page"], values["per_page"]

    def _list_conversations(self, req: _Req, tid: int) -> Answer:
        args = self._page_args(req)
        if isinstance(args, Answer):
            return args
        page, per_page = args
        convs = self._conversations[tid]
        chunk = convs[(page - 1) * per_page : page * per_page]
        headers = {}
        if len(convs) > page * per_page:
            query = urlencode({"page": page + 1, "per_page": per_page})
            headers["Link"] = f'<{self.base_url}{req.path}?{query}>; rel="next"'
        return Answer(200, copy.deepcopy(chunk), headers)

    def _search(self, req: _Req) -> Answer:
        raw = req.param("query")
        def invalid(message: str, code: str = "invalid_value", name: str = "query") -> Answer:
            self._problem(req, f"400 search {name}: {message}")
            return Answer(400, {"description": "Validation failed", "errors": [_err(name, message, code)]})
        if raw is None:
            return invalid("It should be a/an String", "missing_field")
        if len(raw) < 2 or not (raw.startswith('"') and raw.endswith('"')):
            return invalid("It should be enclosed in double quotes, e.g. query=\"tag:'x'\"")
        if len(raw) > 512:
            return invalid("It should be at most 512 characters")
        page_raw = req.param("page") or "1"
        if not page_raw.isdigit() or not 1 <= int(page_raw) <= SEARCH_MAX_PAGE:
            return invalid(f"It should be a Positive Number less than or equal to {SEARCH_MAX_PAGE}", name="page")
        try:
            predicate = _parse_query(raw[1:-1])
        except ValueError as exc:
            return invalid(f"Given query is invalid: {exc}")
        found = [t for t in self._tickets.values() if predicate(t)]
        found.sort(key=lambda t: (t["created_at"], t["id"]), reverse=True)
        page = int(page_raw)
        chunk = found[(page - 1) * SEARCH_PAGE_SIZE : page * SEARCH_PAGE_SIZE]
        results = []
        for ticket in chunk:
            item = copy.deepcopy(ticket)
            item.pop("description", None)  # search results omit the description
            item.pop("description_text", None)
            results.append(item)
        return Answer(200, {"results": results, "total": len(found)})


# -- search query language (a subset: field:value clauses, AND/OR, parentheses) ----------------------------

_TOKEN = re.compile(r"\s*(?:(\()|(\))|(AND|OR)\b|([A-Za-z_][A-Za-z0-9_]*)\s*:\s*('(?:[^']*)'|[^\s()]+))")


def _parse_query(text: str) -> Callable[[dict[str, Any]], bool]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected text at {text[pos:]!r}")
        pos = m.end()
        if m.group(1):
            tokens.append(("(", None))
        elif m.group(2):
            tokens.append((")", None))
        elif m.group(3):
            tokens.append((m.group(3), None))
        else:
            tokens.append(("clause", (m.group(4), m.group(5))))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    if not tokens:
        raise ValueError("empty query")
    index = 0

    def peek() -> str | None:
        return tokens[index][0] if index < len(tokens) else None

    def parse_or() -> Callable[[dict[str, Any]], bool]:
        nonlocal index
        parts = [parse_and()]
        while peek() == "OR":
            index += 1
            parts.append(parse_and())
        return lambda t: any(p(t) for p in parts)

    def parse_and() -> Callable[[dict[str, Any]], bool]:
        nonlocal index
        parts = [parse_atom()]
        while peek() == "AND":
            index += 1
            parts.append(parse_atom())
        return lambda t: all(p(t) for p in parts)

    def parse_atom() -> Callable[[dict[str, Any]], bool]:
        nonlocal index
        kind = peek()
        if kind == "(":
            index += 1
            inner = parse_or()
            if peek() != ")":
                raise ValueError("unbalanced parentheses")
            index += 1
            return inner
        if kind != "clause":
            raise ValueError(f"expected field:value, got {kind}")
        name, value = tokens[index][1]
        index += 1
        return _clause(name, value)

    result = parse_or()
    if index != len(tokens):
        raise ValueError("trailing tokens")
    return result


def _clause(name: str, raw: str) -> Callable[[dict[str, Any]], bool]:
    quoted = raw.startswith("'")
    value: Any = raw[1:-1] if quoted else raw
    if not quoted and value != "null":
        if not value.lstrip("-").isdigit():
            raise ValueError(f"string values must be in single quotes ({name}:{raw})")
        value = int(value)
    if value == "null":
        value = None
    if name == "tag":
        return lambda t: isinstance(value, str) and value.lower() in (x.lower() for x in t["tags"])
    if name in ("status", "priority", "type", "group_id", "responder_id", "requester_id", "company_id"):
        return lambda t: t.get(name) == value
    if name == "agent_id":
        return lambda t: t.get("responder_id") == value
    if name == "custom_string":
        return lambda t: any(v == value for v in t["custom_fields"].values() if isinstance(v, str))
    key = name if name.startswith("cf_") else f"cf_{name}"
    return lambda t: t["custom_fields"].get(key) == value


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; the first stdout line is the base URL (use it as FRESHDESK_DOMAIN)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.freshdesk_api", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (read it from stdout)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--limit-per-minute", type=int, default=None)
    args = parser.parse_args(argv)
    fake = FakeFreshdesk(args.api_key, host=args.host, port=args.port, latency=args.latency,
                         limit_per_minute=args.limit_per_minute, control_endpoints=True)
    return serve_main(fake, main.__doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
