"""(f) status page throughput: requests per second and latency of the public status function, one stack process.

A stack of its own (after the others stopped) is seeded with a critical incident, a person's update and a
scheduled maintenance; then client threads fetch each route in a closed loop for a few seconds. Run twice:
with the per-instance page cache off (every request reads the page document from Firestore) and with the
production default (STATUS_CACHE_SECONDS=2). Rendered bodies are cached per page version either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests

from bench.stats import ms, percentile
from local.harness import StackProcess

ROUTES = ("/status/", "/status/api/v2/summary.json", "/status/api/v2/incidents.json", "/status/history.atom")


def seed(stack: StackProcess) -> None:
    api = f"{stack.base_url}/api"
    headers = {"Authorization": f"Bearer {stack.env['API_TOKEN']}"}
    made = requests.post(f"{api}/incidents", headers=headers, timeout=15, json={
        "title": "bench: order placement failing", "severity": "critical", "service": "trading",
        "type": "system_alert", "reporter": "bench"})
    made.raise_for_status()
    incident_id = made.json()["incident"]["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        summary = requests.get(f"{stack.base_url}/status/api/v2/summary.json", timeout=10).json()
        if summary["incidents"]:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the status page never showed the seeded incident")
    requests.post(f"{api}/incidents/{incident_id}/status-updates", headers=headers, timeout=15, json={
        "actor": "bench", "status": "identified", "body": "A faulty release is being rolled back."}).raise_for_status()
    now = datetime.now(UTC)
    requests.post(f"{api}/status/maintenances", headers=headers, timeout=15, json={
        "actor": "bench", "name": "Database upgrade", "body": "Read-only for 30 minutes.",
        "scheduled_for": (now + timedelta(days=1)).isoformat(), "scheduled_until": (now + timedelta(days=1, hours=1))
        .isoformat(), "components": ["mutual-funds"]}).raise_for_status()


def closed_loop(url: str, threads: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        session = requests.Session()
        mine: list[float] = []
        bad = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            response = session.get(url, timeout=10)
            took = time.perf_counter() - started
            if response.status_code == 200 and response.content:
                mine.append(took)
            else:
                bad += 1
        with lock:
            latencies.extend(mine)
            errors += bad

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.monotonic() - started
    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / wall, 1),
            "p50_ms": ms(percentile(latencies, 50)), "p99_ms": ms(percentile(latencies, 99))}


def status_page(threads: int = 4, seconds: float = 5.0, say: Callable[..., None] = print) -> dict:
    out: dict = {"threads": threads, "seconds_per_route": seconds, "runs": {}}
    for label, cache in (("no instance cache", "0"), ("2 s instance cache", "2")):
        stack = StackProcess(extra_env={"STATUS_CACHE_SECONDS": cache})
        say(f"  (f) {label}: starting a stack (log: {stack.log_path}) ...")
        stack.start(timeout=180)
        try:
            seed(stack)
            run = {}
            for route in ROUTES:
                requests.get(stack.base_url + route, timeout=10)  # warm
                run[route] = closed_loop(stack.base_url + route, threads, seconds)
                say(f"    {route:<34} {run[route]['rps']:>8} req/s  p50 {run[route]['p50_ms']} ms  "
                    f"p99 {run[route]['p99_ms']} ms  errors {run[route]['errors']}")
            out["runs"][label] = run
        finally:
            stack.stop()
    return out


def table_lines(f: dict) -> list[str]:
    if not f:
        return []
    lines = ["", f"(f) status page from one stack process, {f.get('threads', '-')} client threads, "
                 f"{f.get('seconds_per_route', '-')} s per route"]
    if "error" in f:
        return lines + [f"    failed: {f['error']}"]
    for label, run in f["runs"].items():
        lines.append(f"    {label}")
        for route, r in run.items():
            lines.append(f"      {route:<34}{r['rps']:>9} req/s   p50 {r['p50_ms']} ms   p99 {r['p99_ms']} ms"
                         f"   errors {r['errors']}")
    return lines


if __name__ == "__main__":
    import json

    print(json.dumps(status_page(), indent=2))
