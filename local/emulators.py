"""Start and stop the real Google emulators as process groups.

Each emulator runs in its own session (process group), so stopping it kills the gcloud
wrapper and its Java child together. A pid file per emulator lets the next start clean
up after a crash; a port still held by something else is reported, not fought over.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS_EMULATOR = ROOT / ".venv-tasks" / "bin" / "gcloud-tasks-emulator"


class StackError(RuntimeError):
    """Something the user must fix (install Java, free a port...); the message says what."""


@dataclass
class Emulator:
    name: str
    port: int
    command: list[str]
    run_dir: Path
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def start(self) -> None:
        kill_stale(self.pid_file)
        deadline = time.monotonic() + 10
        while port_in_use(self.port) and time.monotonic() < deadline:  # a killed server may take a moment
            time.sleep(0.2)
        if port_in_use(self.port):
            raise StackError(f"{self.name}: port {self.port} is in use by another program; stop it or choose "
                             f"another port (see the README's environment variables)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(str(self.process.pid))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        stop_group(self.process.pid, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)
        self.pid_file.unlink(missing_ok=True)
        self.process = None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def stop_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGTERM the whole group (gcloud and its Java child), then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return
            time.sleep(0.1)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader with no other members counts as gone.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def kill_stale(pid_file: Path) -> None:
    """A pid file left by a crashed run: stop that group if it still runs."""
    try:
        pgid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    if group_alive(pgid):
        stop_group(pgid, timeout=5)
    pid_file.unlink(missing_ok=True)


def port_in_use(port: int) -> bool:
    """Something is listening there. (A bind test would also trip over closing connections of a
    just-killed process, which do not stop a server from binding with SO_REUSEADDR.)"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_prerequisites() -> None:
    missing = []
    if not shutil.which("java"):
        missing.append("Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)")
    gcloud = shutil.which("gcloud")
    if not gcloud:
        missing.append("the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) with the "
                       "cloud-firestore-emulator, pubsub-emulator and beta components")
    else:
        sdk = Path(gcloud).resolve().parent.parent
        for component, folder in (("cloud-firestore-emulator", "cloud-firestore-emulator"),
                                  ("pubsub-emulator", "pubsub-emulator")):
            candidates = [sdk / "platform" / folder, sdk / "lib" / "google-cloud-sdk" / "platform" / folder,
                          Path("/usr/lib/google-cloud-sdk/platform") / folder]
            if not any(c.exists() for c in candidates):
                missing.append(f"the gcloud component {component} (gcloud components install {component}, "
                               f"or apt-get install google-cloud-cli-{component.replace('cloud-', '')})")
    if not TASKS_EMULATOR.exists():
        missing.append(f"gcloud-tasks-emulator in {TASKS_EMULATOR.parent.parent} (run: make .venv-tasks)")
    if missing:
        raise StackError("missing prerequisites:\n  - " + "\n  - ".join(missing))


def firestore(port: int, run_dir: Path, import_from: Path | None = None) -> Emulator:
    cmd = ["gcloud", "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}", "--quiet"]
    if import_from is not None:
        cmd.append(f"--import-data={import_from}")
    return Emulator("firestore", port, cmd, run_dir, run_dir / "logs" / "firestore.log")


def pubsub(port: int, run_dir: Path, project: str) -> Emulator:
    cmd = ["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}",
           f"--project={project}", "--quiet"]
    return Emulator("pubsub", port, cmd, run_dir, run_dir / "logs" / "pubsub.log")


def cloud_tasks(port: int, run_dir: Path) -> Emulator:
    cmd = [str(TASKS_EMULATOR), "start", "-p", str(port), "-q"]
    return Emulator("tasks", port, cmd, run_dir, run_dir / "logs" / "tasks.log")


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(check, what: str, emulator: Emulator | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if emulator is not None and not emulator.alive():
            raise StackError(f"{what} exited during start-up; its log says:\n{emulator.tail()}")
        time.sleep(0.2)
    raise StackError(f"{what} was not ready after {timeout:.0f}s" + (f"; log:\n{emulator.tail()}" if emulator else ""))


def export_firestore(host: str, project: str, directory: Path) -> Path | None:
    """Ask the running Firestore emulator to export everything; returns the metadata file."""
    directory.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"database": f"projects/{project}/databases/(default)",
                       "export_directory": str(directory)}).encode()
    request = urllib.request.Request(f"http://{host}/emulator/v1/projects/{project}:export", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (loopback only)
            pass
    except (urllib.error.URLError, OSError):
        return None
    found = sorted(directory.glob("*/*.overall_export_metadata"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None
