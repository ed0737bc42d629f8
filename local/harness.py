"""Run the local stack exactly as `make run` does, in a child process, for e2e tests and benchmarks.

Free ports and a throw-away data folder keep it apart from a developer's own `make run`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local import emulators
from local.emulators import StackError

ROOT = Path(__file__).resolve().parents[1]


class StackProcess:
    def __init__(self, extra_env: dict[str, str] | None = None, data_dir: Path | None = None):
        self.port = emulators.free_port()
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="incident-stack-"))
        self.env = {
            **os.environ,
            "PORT": str(self.port),
            "FIRESTORE_PORT": str(emulators.free_port()),
            "PUBSUB_PORT": str(emulators.free_port()),
            "TASKS_PORT": str(emulators.free_port()),
            "LOCAL_DATA_DIR": str(self.data_dir),
            "PERSIST": "0",
            "GOOGLE_CLOUD_PROJECT": "e2e-incidents",
            "INGEST_TOKEN": "e2e-ingest-token",
            "API_TOKEN": "e2e-api-token",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.log_path = self.data_dir / "stack.log"
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> StackProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        started = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"the stack exited with {self.process.returncode}:\n{self.tail(40)}")
            if emulators.http_ok(f"{self.base_url}/healthz"):
                self.startup_seconds = time.monotonic() - started
                return self
            time.sleep(0.2)
        self.stop()
        raise StackError(f"the stack was not healthy after {timeout:.0f}s:\n{self.tail(40)}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """Ctrl-C, as a user would; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        return code

    def leftover_processes(self) -> list[str]:
        """Emulator processes (Java children included) still running with this stack's ports."""
        ports = {self.env[k] for k in ("FIRESTORE_PORT", "PUBSUB_PORT", "TASKS_PORT")}
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(f":{p}" in cmdline or f" {p}" in cmdline or f"={p}" in cmdline for p in ports) and (
                    "emulator" in cmdline or "java" in cmdline):
                found.append(f"{entry.name}: {cmdline[:200]}")
        return found

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def __enter__(self) -> StackProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
