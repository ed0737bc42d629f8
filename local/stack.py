"""`make run`: the whole system on one machine, on the real Google emulators.

Starts the Firestore, Pub/Sub and Cloud Tasks emulators, creates every topic, push
subscription and queue production has, and serves every function on one port. Ctrl-C
(SIGINT or SIGTERM) stops all it started; Firestore data is exported on the way out
(and every minute) and imported at the next start, unless `make reset` removed it.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import shutil
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from local import emulators
from local.emulators import Emulator, StackError
from shared.config.loader import PolicyError

ROOT = Path(__file__).resolve().parents[1]
DEV_TOKENS = {"INGEST_TOKEN": "dev-ingest-token", "API_TOKEN": "dev-api-token",
              "SLACK_SIGNING_SECRET": "dev-slack-signing-secret", "FRESHDESK_WEBHOOK_SECRET": "dev-freshdesk-secret"}
EXPORT_EVERY_SECONDS = 60


@dataclass
class StackConfig:
    port: int
    firestore_port: int
    pubsub_port: int
    tasks_port: int
    project: str
    region: str
    data_dir: Path
    persist: bool = True

    @classmethod
    def from_env(cls) -> StackConfig:
        env = os.environ
        return cls(
            port=int(env.get("PORT", 8080)),
            firestore_port=int(env.get("FIRESTORE_PORT", 8681)),
            pubsub_port=int(env.get("PUBSUB_PORT", 8682)),
            tasks_port=int(env.get("TASKS_PORT", 8683)),
            project=env.get("GOOGLE_CLOUD_PROJECT", "local-incidents"),
            region=env.get("REGION", "asia-south1"),
            data_dir=Path(env.get("LOCAL_DATA_DIR", ROOT / ".local")),
            persist=env.get("PERSIST", "1") != "0",
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "firestore"


class Stack:
    def __init__(self, config: StackConfig):
        self.config = config
        self.emulators: list[Emulator] = []
        self.server = None
        self._stopping = threading.Event()

    # ---- start --------------------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        emulators.check_prerequisites()
        _refuse_second_stack(cfg.run_dir / "stack.pid")
        if emulators.port_in_use(cfg.port):
            raise StackError(f"port {cfg.port} is in use; stop what holds it or run with PORT=<another port>")
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        (cfg.run_dir / "stack.pid").write_text(str(os.getpid()))
        self._set_environment()
        started = time.monotonic()
        latest_export = self._latest_export() if cfg.persist else None
        self.emulators = [
            emulators.firestore(cfg.firestore_port, cfg.run_dir, latest_export),
            emulators.pubsub(cfg.pubsub_port, cfg.run_dir, cfg.project),
            emulators.cloud_tasks(cfg.tasks_port, cfg.run_dir),
        ]
        for emulator in self.emulators:
            emulator.start()
        checks = self._health_checks()
        with ThreadPoolExecutor(len(self.emulators)) as pool:
            list(pool.map(lambda e: emulators.wait_until(checks[e.name], f"the {e.name} emulator", e),
                          self.emulators))
        from local.resources import create_all

        create_all(cfg.project, cfg.region, cfg.base_url)
        self._serve(checks)
        emulators.wait_until(lambda: emulators.http_ok(f"{cfg.base_url}/healthz"), "the function server")
        self.startup_seconds = time.monotonic() - started

    def _set_environment(self) -> None:
        cfg = self.config
        os.environ.update({
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{cfg.firestore_port}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{cfg.pubsub_port}",
            "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{cfg.tasks_port}",
            "GOOGLE_CLOUD_PROJECT": cfg.project,
            "REGION": cfg.region,
            "PUBLIC_BASE_URL": cfg.base_url,
            "PORT": str(cfg.port),
        })
        for name, value in DEV_TOKENS.items():
            os.environ.setdefault(name, value)
        from shared import bootstrap
        from shared.settings import reload_settings

        reload_settings()
        bootstrap.reset()

    def _health_checks(self):
        cfg = self.config
        return {
            "firestore": lambda: emulators.http_ok(f"http://127.0.0.1:{cfg.firestore_port}/"),
            "pubsub": lambda: emulators.http_ok(f"http://127.0.0.1:{cfg.pubsub_port}/"),
            "tasks": lambda: _tcp_ok(cfg.tasks_port),
        }

    def _serve(self, checks) -> None:
        from werkzeug.serving import make_server

        from local.server import CachedHealth, build_app
        from shared.config.loader import current_policy

        current_policy()  # an invalid policy stops the start with its file:line errors
        app = build_app(CachedHealth(checks))
        self.server = make_server("127.0.0.1", self.config.port, app, threaded=True)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="functions", daemon=True).start()

    # ---- run and stop -------------------------------------------------------------------------

    def wait(self) -> None:
        next_export = time.monotonic() + EXPORT_EVERY_SECONDS
        reconcile_every = float(os.environ.get("RECONCILE_EVERY_SECONDS", 60))
        next_reconcile = time.monotonic() + reconcile_every
        while not self._stopping.wait(1.0):
            if time.monotonic() > next_reconcile:  # what Cloud Scheduler does in production
                self._reconcile()
                next_reconcile = time.monotonic() + reconcile_every
            for emulator in self.emulators:
                if not emulator.alive():
                    print(f"\n{emulator.name} emulator stopped unexpectedly:\n{emulator.tail()}", file=sys.stderr)
                    return
            if self.config.persist and time.monotonic() > next_export:
                self._export()
                next_export = time.monotonic() + EXPORT_EVERY_SECONDS

    def _reconcile(self) -> None:
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 (loopback only)
            f"{self.config.base_url}/tasks/reconcile", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json", "X-CloudScheduler": "true"})
        try:
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (loopback only)
                pass
        except OSError as exc:
            print(f"reconciler call failed: {exc}", file=sys.stderr)

    def request_stop(self, *_: object) -> None:
        self._stopping.set()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None
        firestore = next((e for e in self.emulators if e.name == "firestore"), None)
        if self.config.persist and firestore is not None and firestore.alive():
            self._export()
        for emulator in self.emulators:
            emulator.stop()
        (self.config.run_dir / "stack.pid").unlink(missing_ok=True)

    def _export(self) -> None:
        """Export to a fresh folder, then drop older ones: a crash mid-export keeps the previous copy."""
        target = self.config.export_dir / f"snapshot-{int(time.time() * 1000)}"
        metadata = emulators.export_firestore(f"127.0.0.1:{self.config.firestore_port}", self.config.project, target)
        if metadata is None:
            shutil.rmtree(target, ignore_errors=True)
            return
        for old in self.config.export_dir.glob("snapshot-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def _latest_export(self) -> Path | None:
        found = sorted(self.config.export_dir.glob("snapshot-*/*/*.overall_export_metadata"))
        return found[-1] if found else None

    def banner(self) -> str:
        base = self.config.base_url
        env = os.environ
        slack = (f"SLACK_BOT_TOKEN set, messages go to {env.get('SLACK_API_URL') or 'Slack'}"
                 if env.get("SLACK_BOT_TOKEN") else "no SLACK_BOT_TOKEN, messages are printed here")
        freshdesk = (f"tickets kept at {env['FRESHDESK_DOMAIN']}" if env.get("FRESHDESK_DOMAIN")
                     else "no FRESHDESK_DOMAIN, tickets are not kept")
        plane = f"work items at {env['PLANE_API_URL']}" if env.get("PLANE_API_URL") else "no PLANE_API_URL, items wait"
        lines = [
            f"Incident management is running on {base} (started in {self.startup_seconds:.1f}s)",
            "",
            "Webhook URLs (monitoring tools):",
            f"  Grafana        {base}/ingest/grafana",
            f"  Alertmanager   {base}/ingest/alertmanager",
            f"  vmalert/Prom.  {base}/ingest/alertmanager   (as -notifier.url; it posts to /api/v2/alerts)",
            f"  Uptime Kuma    {base}/ingest/uptime-kuma",
            f"  OpenTelemetry  {base}/ingest/otel/v1/logs",
            f"  Generic JSON   {base}/ingest/generic",
            "",
            "Partner webhooks:",
            f"  Freshdesk      {base}/partners/freshdesk   (header X-Webhook-Token: $FRESHDESK_WEBHOOK_SECRET)",
            f"  Freshchat      {base}/partners/freshchat   (RSA-signed; needs FRESHCHAT_PUBLIC_KEY)",
            "",
            f"Slack app        interactivity {base}/slack/interactions, slash command /incident {base}/slack/commands",
            f"API              {base}/api/incidents   (OpenAPI: {base}/api/openapi.json)",
            f"Health           {base}/healthz",
            f"Status page      {base}/status/   (JSON: /status/api/v2/summary.json, Atom: /status/history.atom)",
            "",
            "Tokens in use (set the variables to change them):",
            f"  INGEST_TOKEN={env['INGEST_TOKEN']}   (Authorization: Bearer ..., basic auth password, or ?token=)",
            f"  API_TOKEN={env['API_TOKEN']}",
            f"  FRESHDESK_WEBHOOK_SECRET={env['FRESHDESK_WEBHOOK_SECRET']}",
            f"  Slack: {slack}",
            f"  Freshdesk: {freshdesk}; Plane: {plane}",
            "",
            f"Emulators: Firestore {env['FIRESTORE_EMULATOR_HOST']}, Pub/Sub {env['PUBSUB_EMULATOR_HOST']}, "
            f"Cloud Tasks {env['CLOUD_TASKS_EMULATOR_HOST']}; data in {self.config.data_dir}"
            + ("" if self.config.persist else " (not persisted)"),
            "Try:  curl -H 'Authorization: Bearer $INGEST_TOKEN' -d '{\"title\":\"Checkout down\"}' "
            f"{base}/ingest/generic",
            "Press Ctrl-C to stop.",
        ]
        return "\n".join(lines)


def _refuse_second_stack(pid_file: Path) -> None:
    """A live stack is left alone (say so); a pid file from a crashed one is simply removed."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    if pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pid_file.unlink(missing_ok=True)
            return
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if Path(f"/proc/{pid}/cmdline").exists() else b""
        if b"local.stack" in cmdline:
            raise StackError(f"the local stack is already running (pid {pid}); stop it with Ctrl-C or kill {pid}")
    pid_file.unlink(missing_ok=True)


def _tcp_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    from shared.log import setup_logging

    setup_logging()
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack: for a hang
    stack = Stack(StackConfig.from_env())
    signal.signal(signal.SIGINT, stack.request_stop)
    signal.signal(signal.SIGTERM, stack.request_stop)
    try:
        stack.start()
        print(stack.banner(), flush=True)
        stack.wait()
    except (StackError, PolicyError) as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping...", file=sys.stderr, flush=True)
        stack.stop()
        print("stopped.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
