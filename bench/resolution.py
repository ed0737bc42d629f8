"""(r) Resolution work on the local stack, measured (figures from one run; part of `make bench`, or alone with
`python -m bench.resolution`):

- a timeline page (100 entries) of an incident whose timeline holds 5,000 entries, every page read in turn
- GET /api/metrics over a month of 1,000 incidents (one bounded query) and the digest chart's rendering
- POST /api/digest end to end: metrics, the Slack message and the chart upload at the fake Slack

Seeds Firestore directly (the emulator of a stack started for the run), then reads through the API.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import requests

from bench.stats import percentile
from local.harness import StackProcess
from tests.fakes.slack_api import FakeSlack


def seed(stack: StackProcess, entries: int, incidents: int) -> str:
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{stack.env['FIRESTORE_PORT']}"
    from google.cloud import firestore

    db = firestore.Client(project=stack.env["GOOGLE_CLOUD_PROJECT"])
    now = datetime.now(UTC)
    rng = random.Random(8)
    batch, n = db.batch(), 0
    for i in range(1, incidents + 1):
        created = now - timedelta(minutes=rng.randrange(1, 30 * 24 * 60))
        doc = {"id": f"INC-2025-{i:04d}", "number": i, "title": f"bench incident {i}", "severity": rng.choice(
            ["critical", "high", "medium", "low"]), "category": "infrastructure", "type": "system_alert",
            "group_key": f"bench-{i}", "source": "grafana", "service": rng.choice(["checkout", "orders", "mf"]),
            "detected_at": created, "created_at": created, "updated_at": created,
            "acknowledged_at": created + timedelta(seconds=rng.randrange(30, 1800)),
            "resolved_at": created + timedelta(seconds=rng.randrange(1800, 20000)), "status": "resolved"}
        batch.set(db.collection("incidents").document(doc["id"]), doc)
        n += 1
        if n % 400 == 0:
            batch.commit()
            batch = db.batch()
    big = "INC-2025-0001"
    start = now - timedelta(days=1)
    for k in range(entries):
        at = start + timedelta(milliseconds=k * 10)
        batch.set(db.collection("incidents").document(big).collection("timeline").document(
            f"{int(at.timestamp() * 1_000_000):017d}-000-{k:08x}"),
            {"at": at, "kind": "alert.firing", "text": f"Alert firing: disk {k}", "actor": "system",
             "source": "grafana", "data": {}})
        n += 1
        if n % 400 == 0:
            batch.commit()
            batch = db.batch()
    batch.commit()
    return big


def resolution_work(entries: int, incidents: int, samples: int, say=print) -> dict:
    results: dict = {}
    with FakeSlack() as slack:
        stack = StackProcess(extra_env={"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.base_url,
                                        "RECONCILE_EVERY_SECONDS": "3600"})
        say(f"  starting a stack for the resolution work (log: {stack.log_path}) ...")
        stack.start()
        try:
            api = f"{stack.base_url}/api"
            auth = {"Authorization": f"Bearer {stack.env['API_TOKEN']}"}
            big = seed(stack, entries, incidents)
            http = requests.Session()
            page_ms, cursor, read = [], None, 0
            while True:
                t = time.perf_counter()
                r = http.get(f"{api}/incidents/{big}/timeline", headers=auth, timeout=30,
                             params={"limit": 100, **({"cursor": cursor} if cursor else {})})
                page_ms.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
                read += len(r.json()["entries"])
                cursor = r.json()["next_cursor"]
                if not cursor:
                    break
            results["timeline_page_ms"] = {"pages": len(page_ms), "entries": read,
                                           "p50": statistics.median(page_ms), "p99": percentile(page_ms, 99)}
            metrics_ms = []
            for _ in range(samples):
                t = time.perf_counter()
                r = http.get(f"{api}/metrics", headers=auth, timeout=60)
                metrics_ms.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            results["metrics_ms"] = {"incidents": r.json()["metrics"]["incidents"],
                                     "p50": statistics.median(metrics_ms), "p99": percentile(metrics_ms, 99)}
            from shared.documents.chart import weekly_chart
            from shared.domain.metrics import Week

            weeks = [Week(start=datetime(2026, 10, 5, tzinfo=UTC) + timedelta(weeks=i), incidents=i * 3,
                          mtta_median_seconds=300.0 + i * 10, mttr_median_seconds=3600.0 - i * 60) for i in range(8)]
            t = time.perf_counter()
            png = weekly_chart(weeks, "bench")
            first = (time.perf_counter() - t) * 1000
            render = []
            for _ in range(samples):
                t = time.perf_counter()
                weekly_chart(weeks, "bench")
                render.append((time.perf_counter() - t) * 1000)
            results["chart_ms"] = {"first_with_import": first, "p50": statistics.median(render),
                                   "png_bytes": len(png)}
            digest_ms = []
            for _ in range(5):
                t = time.perf_counter()
                http.post(f"{api}/digest", headers=auth, json={}, timeout=60).raise_for_status()
                digest_ms.append((time.perf_counter() - t) * 1000)
            results["digest_ms"] = {"p50": statistics.median(digest_ms), "max": max(digest_ms),
                                    "uploads": len(slack.calls_to("files.completeUploadExternal")),
                                    "slack_problems": len(slack.problems)}
        finally:
            stack.stop()
    return results


def table_lines(r: dict) -> list[str]:
    if not r:
        return []
    lines = ["", "(r) resolution work: timeline pages, metrics, digest chart and digest (medians, one run)"]
    if "error" in r:
        return [*lines, f"    failed: {r['error']}"]
    t, m, c, d = r["timeline_page_ms"], r["metrics_ms"], r["chart_ms"], r["digest_ms"]
    rows = [(f"timeline page of 100 ({t['entries']} entries) p50 / p99", f"{t['p50']:.0f} ms / {t['p99']:.0f} ms"),
            (f"GET /api/metrics over {m['incidents']} incidents p50 / p99", f"{m['p50']:.0f} ms / {m['p99']:.0f} ms"),
            ("digest chart p50 (first, with the import)", f"{c['p50']:.0f} ms ({c['first_with_import']:.0f} ms)"),
            ("digest end to end p50 / max (uploads, problems)",
             f"{d['p50']:.0f} ms / {d['max']:.0f} ms ({d['uploads']}, {d['slack_problems']})")]
    return lines + [f"    {k:<50}{v}" for k, v in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.resolution", description=__doc__)
    p.add_argument("--entries", type=int, default=5000)
    p.add_argument("--incidents", type=int, default=1000)
    p.add_argument("--samples", type=int, default=20)
    args = p.parse_args(argv)
    results = resolution_work(args.entries, args.incidents, args.samples)
    print(json.dumps({k: {f: round(v, 1) if isinstance(v, float) else v for f, v in part.items()}
                      for k, part in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
