"""`make run` itself: starts healthy, Ctrl-C leaves nothing behind, and a crash does not block the next start."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest
import requests

from local.harness import StackProcess

pytestmark = pytest.mark.e2e


def test_ctrl_c_stops_every_emulator_and_a_crash_does_not_block_the_next_start():
    data_dir = Path(tempfile.mkdtemp(prefix="lifecycle-"))
    first = StackProcess(data_dir=data_dir).start()
    assert requests.get(f"{first.base_url}/healthz", timeout=5).status_code == 200
    assert first.leftover_processes(), "the emulators should be running"
    # A crash: the stack dies without cleaning up; its emulators (and their Java children) keep running.
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    assert first.leftover_processes()
    second = StackProcess(data_dir=data_dir)
    second.env.update({k: first.env[k] for k in ("PORT", "FIRESTORE_PORT", "PUBSUB_PORT", "TASKS_PORT")})
    second.port = first.port
    second.start()
    assert requests.get(f"{second.base_url}/healthz", timeout=5).json()["status"] == "ok"
    assert second.stop() == 0
    assert second.leftover_processes() == []
    assert not list((data_dir / "run").glob("*.pid"))


def test_data_persists_between_runs(tmp_path):
    first = StackProcess(data_dir=tmp_path, extra_env={"PERSIST": "1"}).start()
    headers = {"Authorization": f"Bearer {first.env['API_TOKEN']}"}
    created = requests.post(f"{first.base_url}/api/incidents", headers=headers, timeout=10,
                            json={"title": "Persisted incident", "reporter": "test"}).json()["incident"]["id"]
    assert first.stop() == 0
    second = StackProcess(data_dir=tmp_path, extra_env={"PERSIST": "1"}).start()
    try:
        response = requests.get(f"{second.base_url}/api/incidents/{created}", headers=headers, timeout=10)
        assert response.status_code == 200 and response.json()["incident"]["title"] == "Persisted incident"
    finally:
        second.stop()
