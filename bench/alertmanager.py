"""A real Alertmanager for storm (c), and a measuring pass-through between it and the stack's ingest.

Alertmanager is the HTTP client of /ingest/alertmanager in (c), so the benchmark cannot time those
requests itself. `Tap` is a minimal reverse proxy on 127.0.0.1 that forwards each webhook unchanged
and records its latency, status and accepted count (about a millisecond of overhead per request).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from bench.pipeline import Sent
from local import emulators

BINARY = "/usr/bin/prometheus-alertmanager"
HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}

CONFIG = """\
route:
  receiver: incident-bot
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: incident-bot
    webhook_configs:
      - url: {url}
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


class Tap:
    """Forward POSTs to 127.0.0.1:<upstream_port> and record each as a `Sent`."""

    def __init__(self, upstream_port: int, timeout: float = 60.0):
        self.upstream_port = upstream_port
        self.timeout = timeout
        self.records: list[Sent] = []
        self.last_request = time.monotonic()
        self._lock = threading.Lock()
        tap = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                start = time.time()
                status, data, out_headers, error = 0, b"", {}, ""
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", tap.upstream_port, timeout=tap.timeout)
                    conn.request("POST", self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    status, data = resp.status, resp.read()
                    out_headers = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP}
                    conn.close()
                except OSError as exc:
                    error = repr(exc)[:300]
                sent = Sent(start, time.time(), status, error=error or (data[:300].decode(errors="replace")
                                                                        if status >= 300 else ""))
                if 200 <= status < 300:
                    with contextlib.suppress(ValueError, AttributeError):
                        sent.accepted = int(json.loads(data).get("accepted", 0))
                tap.add(sent)
                self.send_response(status or 502)
                for key, value in out_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="bench-tap", daemon=True)

    def add(self, sent: Sent) -> None:
        with self._lock:
            self.records.append(sent)
            self.last_request = time.monotonic()

    def since(self, start: float) -> list[Sent]:
        with self._lock:
            return [r for r in self.records if r.start >= start]

    def quiet_for(self) -> float:
        with self._lock:
            return time.monotonic() - self.last_request

    def __enter__(self) -> Tap:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager:
    """/usr/bin/prometheus-alertmanager on a free loopback port, clustering off, in a temp folder."""

    def __init__(self, webhook_url: str, token: str, binary: str = BINARY):
        self.binary = binary
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-alertmanager-"))
        self.port = emulators.free_port()
        self.config_path = self.workdir / "alertmanager.yml"
        self.config_path.write_text(CONFIG.format(url=webhook_url, token=token))
        self.log_path = self.workdir / "alertmanager.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Alertmanager:
        if not Path(self.binary).exists():
            raise FileNotFoundError(f"{self.binary} is missing (Debian package prometheus-alertmanager)")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [self.binary, f"--config.file={self.config_path}", f"--storage.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=info"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"alertmanager exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"alertmanager was not ready after {timeout:.0f}s:\n{self.tail()}")

    def metrics(self) -> dict[str, float]:
        """Webhook notification counters and received alerts, summed over their labels."""
        wanted = {
            "alertmanager_notifications_total": 'integration="webhook"',
            "alertmanager_notifications_failed_total": 'integration="webhook"',
            "alertmanager_notification_requests_total": 'integration="webhook"',
            "alertmanager_notification_requests_failed_total": 'integration="webhook"',
            "alertmanager_alerts_received_total": "",
            "alertmanager_alerts_invalid_total": "",
        }
        out = dict.fromkeys(wanted, 0.0)
        try:
            text = requests.get(f"{self.url}/metrics", timeout=5).text
        except requests.RequestException:
            return {}
        for line in text.splitlines():
            match = re.match(r"^([a-z_]+)(\{[^}]*\})?\s+(\S+)$", line)
            if match and match.group(1) in wanted and wanted[match.group(1)] in (match.group(2) or ""):
                out[match.group(1)] += float(match.group(3))
        return out

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir / "data", ignore_errors=True)
