"""The Cloud Tasks scheduler on the real emulator: named HTTP tasks delivered at their time."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.serving import make_server

from local.resources import create_queues
from shared import bootstrap
from shared.domain.model import Alert, AlertStatus
from shared.domain.names import task_id
from shared.handlers.timers import schedule_alert_expiry
from shared.settings import settings
from shared.topology import QUEUE_TIMERS
from tests.integration.helpers import function_app, set_env

pytestmark = pytest.mark.integration


@dataclass
class Hit:
    at: float
    method: str
    path: str
    headers: dict[str, str]  # lower-case names (urllib in the emulator re-cases them)
    body: bytes


class Receiver:
    """A tiny HTTP server on loopback that records every request it gets."""

    def __init__(self) -> None:
        hits: queue.Queue[Hit] = queue.Queue()
        self.hits = hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hits.put(Hit(at, self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_PUT = do_POST  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def next(self, timeout: float) -> Hit:
        try:
            return self.hits.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no request reached {self.url} within {timeout}s") from None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def queues(project: str) -> None:
    create_queues(project, settings().region)


def test_the_timers_queue_is_created_in_the_emulator(project, queues):
    client = bootstrap.scheduler().client
    names = [q.name for q in client.list_queues(parent=f"projects/{project}/locations/{settings().region}")]
    assert names == [bootstrap.scheduler().queue_path(QUEUE_TIMERS)]
    create_queues(project, settings().region)  # idempotent
    assert len(list(client.list_queues(parent=f"projects/{project}/locations/{settings().region}"))) == 1


def test_a_task_arrives_no_earlier_than_its_schedule_as_a_post_with_the_body_and_headers(project, queues, receiver):
    name = task_id("alert-expiry", uuid.uuid4().hex)
    body = {"alert_id": "0123456789abcdef", "at": datetime(2026, 1, 2, tzinfo=UTC)}
    at = datetime.now(UTC) + timedelta(seconds=2)

    created = bootstrap.scheduler().schedule(QUEUE_TIMERS, name, f"{receiver.url}/alert-expiry", body, at)

    assert created is True
    hit = receiver.next(timeout=15)
    assert hit.at >= at.timestamp(), f"arrived {at.timestamp() - hit.at:.3f}s before its schedule time"
    assert hit.at < at.timestamp() + 10
    assert hit.method == "POST" and hit.path == "/alert-expiry"
    assert json.loads(hit.body) == {"alert_id": "0123456789abcdef", "at": "2026-01-02 00:00:00+00:00"}
    assert hit.headers["content-type"] == "application/json"
    # Cloud Tasks sends the short queue name; the emulator sends the full queue path.
    assert hit.headers["x-cloudtasks-queuename"].rsplit("/", 1)[-1] == QUEUE_TIMERS
    assert hit.headers["x-cloudtasks-taskname"] == name
    assert "authorization" not in hit.headers  # no service account configured: no OIDC token


def test_task_ids_keep_only_the_characters_cloud_tasks_allows():
    assert task_id("alert expiry", "a/b") == "alert-expiry-a-b"
    for parts in [("alert expiry", "a/b"), ("x.y", "ä€/\\:?#", "1 2"), ("",), ("a" * 700,)]:
        name = task_id(*parts)
        assert re.fullmatch(r"[A-Za-z0-9_-]*", name), name
        assert len(name) <= 500
    assert task_id("a" * 700) == "a" * 500


def test_a_sanitised_id_names_the_delivered_task(project, queues, receiver):
    name = task_id("alert expiry", f"grafana/{uuid.uuid4().hex}", "1700000000")
    scheduler = bootstrap.scheduler()
    assert scheduler.schedule(QUEUE_TIMERS, name, f"{receiver.url}/alert-expiry", {"alert_id": "x"},
                              datetime.now(UTC)) is True

    hit = receiver.next(timeout=10)
    assert hit.headers["x-cloudtasks-taskname"] == name
    assert re.fullmatch(r"[A-Za-z0-9_-]+", hit.headers["x-cloudtasks-taskname"])
    tasks = list(scheduler.client.list_tasks(parent=scheduler.queue_path(QUEUE_TIMERS)))
    assert all(t.name.startswith(scheduler.queue_path(QUEUE_TIMERS) + "/tasks/") for t in tasks)


class Recorder:
    """WSGI middleware that records each (path, status, body) the wrapped function answered."""

    def __init__(self, app) -> None:
        self.app = app
        self.answers: queue.Queue[tuple[str, int, bytes]] = queue.Queue()

    def __call__(self, environ, start_response):
        status: list[int] = []

        def recording_start(status_line, headers, exc_info=None):
            status.append(int(status_line.split()[0]))
            return start_response(status_line, headers, exc_info)

        body = b"".join(self.app(environ, recording_start))
        self.answers.put((environ["PATH_INFO"], status[0], body))
        return [body]


def test_an_alert_expiry_timer_reaches_the_tasks_function_which_accepts_it(project, queues, monkeypatch):
    """The production path: schedule_alert_expiry -> emulator -> `tasks` served by functions-framework."""
    recorder = Recorder(function_app("tasks"))
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        set_env(monkeypatch, TASKS_URL=f"http://127.0.0.1:{server.server_port}")
        now = datetime.now(UTC)
        alert = Alert(source="alertmanager-api", fingerprint=uuid.uuid4().hex, status=AlertStatus.FIRING,
                      title="HighLatencyP99", starts_at=now, ends_at=now)
        schedule_alert_expiry(alert, now)
        path, status, body = recorder.answers.get(timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert (path, status) == ("/alert-expiry", 200)
    assert json.loads(body) == {"result": "not_due"}  # never stored, so nothing to resolve
