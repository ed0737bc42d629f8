"""A real Alertmanager (Debian's prometheus-alertmanager) delivering to our webhook: firing, then resolved."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from local import emulators
from tests.e2e.conftest import eventually, pages_mentioning

pytestmark = pytest.mark.e2e
BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

CONFIG = """
route:
  receiver: incidents
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: incidents
    webhook_configs:
      - url: {url}
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


@pytest.fixture(scope="module")
def alertmanager(stack) -> Iterator[str]:
    if BINARY is None:
        pytest.fail("prometheus-alertmanager is not installed: `make test` installs it (apt-get)")
    folder = Path(tempfile.mkdtemp(prefix="alertmanager-"))
    (folder / "alertmanager.yml").write_text(
        CONFIG.format(url=f"{stack.base_url}/ingest/alertmanager", token=stack.env["INGEST_TOKEN"]))
    port = emulators.free_port()
    process = subprocess.Popen(
        [BINARY, f"--config.file={folder / 'alertmanager.yml'}", f"--storage.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=(folder / "log").open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        emulators.wait_until(lambda: emulators.http_ok(f"{base}/-/ready"), "alertmanager", timeout=30)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def push(alertmanager: str, alerts: list[dict]) -> None:
    response = requests.post(f"{alertmanager}/api/v2/alerts", json=alerts, timeout=5)
    assert response.status_code == 200, response.text


def test_alertmanager_delivers_firing_then_resolved(alertmanager, client, slack):
    name = f"ProbeFailure{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    alerts = [{"labels": {"alertname": name, "service": "api", "instance": f"i{n}", "severity": "medium"},
               "annotations": {"summary": f"probe failing on i{n}"},
               "startsAt": now.isoformat(), "generatorURL": "http://prometheus:9090/graph"} for n in range(3)]
    push(alertmanager, alerts)
    [incident] = eventually(lambda: client.incident_titled(name), timeout=30, what="incident from Alertmanager")
    assert incident["source"] == "alertmanager" and incident["severity"] == "medium"
    eventually(lambda: client.detail(incident["id"])["alerts_total"] == 3, timeout=30)
    eventually(lambda: pages_mentioning(slack, name))
    for alert in alerts:
        alert["endsAt"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    push(alertmanager, alerts)
    detail = eventually(lambda: (d := client.detail(incident["id"]))["incident"]["status"] == "resolved" and d,
                        timeout=30, what="medium incident resolved by Alertmanager's resolved notification")
    assert detail["alerts_firing"] == 0
    assert len(client.incident_titled(name)) == 1
    assert len(pages_mentioning(slack, name)) == 1
