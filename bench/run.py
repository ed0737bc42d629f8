"""`make bench`: drive the local stack (as `make run` starts it) and measure it; see docs/benchmarks.md.

(a) time to notify: webhook POST -> chat.postMessage at an in-process fake Slack, one new group each
(b) alert storm straight into /ingest/alertmanager, as Alertmanager would batch it
(c) the same storm through a real Alertmanager (/usr/bin/prometheus-alertmanager)
(d) cold import time of each function's entry module next to the client libraries it needs
(e) escalation lateness: a level's direct page at the fake Slack minus when its step was due, on a second
    stack whose policy copy makes high incidents escalate every 5 s
(r) resolution work: timeline pages of a 5,000-entry timeline, metrics over 1,000 incidents, the digest
(g) partner tickets: the Freshdesk webhook's answer, and webhook -> first private note on the partner's
    ticket, on a stack with the Freshdesk fake; then every webhook redelivered three times

Prints a table and writes bench/results.json. Figures are from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import textwrap
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench import imports
from bench.alertmanager import BINARY, Alertmanager, Tap
from bench.escalation import escalation_lateness
from bench.partners import partner_tickets
from bench.pipeline import (
    LogWindow,
    api_v2_alert,
    generic_body,
    is_channel,
    outcome,
    send_all,
    summarise_sends,
    wait_settled,
    webhook_alert,
    webhook_body,
)
from bench.procs import CpuMeter, machine_busy_seconds
from bench.stats import percentile, rounded
from local.harness import StackProcess
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
DEFAULTS = {"notify_alerts": 200, "storm_alerts": 10_000, "groups": 50, "batch": 100, "am_push_batch": 500,
            "concurrency": 4, "import_samples": 5, "escalation_incidents": 50, "escalation_rate": 5.0,
            "partner_tickets": 100}


def say(*parts: object) -> None:
    print(*parts, flush=True)


# ---- (a) time to notify --------------------------------------------------------------------------


def time_to_notify(stack: StackProcess, slack: FakeSlack, count: int, page_timeout: float,
                   phase_timeout: float) -> dict:
    """Sequential: POST one alert of a new group, wait for its incident's message in the channel (notify)
    and for the first direct page to a person (escalate), repeat. Sources alternate generic /
    Alertmanager webhook. Alert 0 (the first after start-up, clients still cold) is reported apart and
    not in the percentiles."""
    headers = {"Authorization": f"Bearer {stack.env['INGEST_TOKEN']}", "Content-Type": "application/json"}
    session = requests.Session()
    samples: list[dict] = []
    misses = consecutive = 0
    stopped = ""
    wait_direct = True  # until three incidents in a row page nobody directly
    no_direct = 0
    deadline = time.monotonic() + phase_timeout
    for i in range(count + 1):
        if time.monotonic() > deadline:
            stopped = f"stopped after {len(samples)} alerts: phase timeout of {phase_timeout:.0f}s"
            break
        name, service = f"BenchPage-{i:04d}", f"bench-page-{i:04d}"
        if i % 2 == 0:
            source, body = "generic", generic_body(name, service)
        else:
            source = "alertmanager"
            body = webhook_body([webhook_alert(name, service, "probe-1")], {"alertname": name, "service": service})
        data = json.dumps(body).encode()
        t0 = time.time()
        try:
            resp = session.post(f"{stack.base_url}/ingest/{source}", data=data, headers=headers, timeout=30)
            status = resp.status_code
        except requests.RequestException:
            status = 0
        t1 = time.time()
        sample = {"i": i, "source": source, "status": status, "ingest_s": t1 - t0, "notify_s": None,
                  "direct_s": None}
        if 200 <= status < 300:
            for key, to_channel, timeout in (("notify_s", True, page_timeout), ("direct_s", False, 10.0)):
                if key == "direct_s" and not wait_direct:
                    break
                def names_it(c, n=name, k=to_channel) -> bool:
                    return n in str(c.params.get("text", "")) and is_channel(c.params.get("channel")) == k

                try:
                    call = slack.wait_for("chat.postMessage", 1, timeout=timeout, predicate=names_it)[0]
                    sample[key] = call.received_at - t0
                except AssertionError:
                    pass
            if sample["direct_s"] is None and wait_direct:
                no_direct += 1
                wait_direct = no_direct < 3 or any(s["direct_s"] is not None for s in samples)
        samples.append(sample)
        if sample["notify_s"] is None:
            misses += 1
            consecutive += 1
            if consecutive >= 3:
                stopped = f"stopped after {len(samples)} alerts: 3 pages in a row did not arrive"
                break
        else:
            consecutive = 0
        if i and i % 50 == 0:
            done = [s["notify_s"] for s in samples[1:] if s["notify_s"] is not None]
            say(f"    {i}/{count} alerts, p50 so far {percentile(done, 50) * 1000:.0f} ms")
    measured = samples[1:]
    times = [s["notify_s"] for s in measured if s["notify_s"] is not None]
    direct = [s["direct_s"] for s in measured if s["direct_s"] is not None]
    by_source = {src: [s["notify_s"] for s in measured if s["source"] == src and s["notify_s"] is not None]
                 for src in ("generic", "alertmanager")}
    ingest = [s["ingest_s"] for s in measured if s["status"]]
    return {
        "alerts": len(measured),
        "pages": len(times),
        "missed_pages": misses,
        "non_2xx": sum(1 for s in samples if not 200 <= s["status"] < 300),
        "p50_s": percentile(times, 50),
        "p99_s": percentile(times, 99),
        "min_s": min(times) if times else None,
        "max_s": max(times) if times else None,
        "p50_by_source_s": {k: percentile(v, 50) for k, v in by_source.items()},
        "direct_pages": len(direct),
        "direct_p50_s": percentile(direct, 50),
        "direct_p99_s": percentile(direct, 99),
        "ingest_p50_s": percentile(ingest, 50),
        "ingest_p99_s": percentile(ingest, 99),
        "first_after_start_s": samples[0]["notify_s"] if samples else None,
        "stopped_early": stopped,
    }


# ---- (b) storm straight into the ingest webhook --------------------------------------------------


def storm_direct(stack: StackProcess, slack: FakeSlack, args: argparse.Namespace) -> dict:
    groups, total, per_request = args.groups, args.storm_alerts, args.batch
    per_group = total // groups
    bodies: list[bytes] = []
    for start in range(0, per_group, per_request):  # round-robin over groups, like many groups flushing at once
        for g in range(groups):
            alerts = [webhook_alert(f"Storm{g}", f"svc{g}", f"host-{i:04d}")
                      for i in range(start, min(per_group, start + per_request))]
            bodies.append(json.dumps(webhook_body(alerts, {"alertname": f"Storm{g}", "service": f"svc{g}"})).encode())
    headers = {"Authorization": f"Bearer {stack.env['INGEST_TOKEN']}", "Content-Type": "application/json"}
    window = LogWindow.from_now(stack.log_path)
    pages_since = len(slack.calls_to("chat.postMessage"))
    updates_since = len(slack.calls_to("chat.update"))
    say(f"    sending {total} alerts in {len(bodies)} webhooks with {args.concurrency} threads")
    meter = CpuMeter(stack.process.pid).start()
    started = time.time()
    sent = send_all(f"{stack.base_url}/ingest/alertmanager", headers, bodies, args.concurrency)
    ingest = summarise_sends(sent)
    say(f"    ingest done in {ingest['seconds']:.1f}s ({ingest['accepted_per_second']:.0f} alerts/s); "
        "waiting for the pipeline to settle")
    settled = wait_settled(base_url=stack.base_url, api_token=stack.env["API_TOKEN"], slack=slack, window=window,
                           title=re.compile(r"Storm\d+"), name=re.compile(r"\bStorm\d+\b"), pages_since=pages_since,
                           expect=groups, min_alerts=total, quiet_s=args.quiet, timeout=args.storm_timeout, log=say)
    cpu = meter.stop()
    return {"alerts": total, "groups": groups, "alerts_per_request": per_request, "concurrency": args.concurrency,
            "ingest": ingest, "cpu": cpu,
            **outcome(settled, started=started, ingest_end=ingest["last_end"], alerts=total, window=window,
                      expect=groups, updates=len(slack.calls_to("chat.update")) - updates_since)}


# ---- (c) the same storm through a real Alertmanager ----------------------------------------------


def wait_for_binary(path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(5)
    return True


def storm_alertmanager(stack: StackProcess, slack: FakeSlack, args: argparse.Namespace) -> dict:
    groups, total = args.groups, args.storm_alerts
    if not wait_for_binary(BINARY, args.am_wait):
        raise FileNotFoundError(f"{BINARY} did not appear within {args.am_wait:.0f}s")
    with Tap(stack.port) as tap:
        am = Alertmanager(f"http://127.0.0.1:{tap.port}/ingest/alertmanager", stack.env["INGEST_TOKEN"])
        try:
            am.start()
            alerts = [api_v2_alert(f"AmStorm{j % groups}", f"svc{j % groups}", f"host-{j // groups:04d}")
                      for j in range(total)]
            step = args.am_push_batch
            bodies = [json.dumps(alerts[k:k + step]).encode() for k in range(0, total, step)]
            window = LogWindow.from_now(stack.log_path)
            pages_since = len(slack.calls_to("chat.postMessage"))
            updates_since = len(slack.calls_to("chat.update"))
            meter = CpuMeter(stack.process.pid, {"alertmanager": am.process.pid}).start()
            say(f"    pushing {total} alerts to Alertmanager {am.url} in {len(bodies)} requests")
            started = time.time()
            pushed = summarise_sends(send_all(f"{am.url}/api/v2/alerts", {"Content-Type": "application/json"},
                                              bodies, args.concurrency))
            pushed["alerts_pushed"] = total if not pushed["status_5xx"] and set(pushed["statuses"]) == {"200"} else None
            pushed["pushed_per_second"] = total / pushed["seconds"] if pushed["seconds"] else None
            say(f"    pushed in {pushed['seconds']:.2f}s; waiting for Alertmanager's webhooks and the pipeline")
            settled = wait_settled(base_url=stack.base_url, api_token=stack.env["API_TOKEN"], slack=slack,
                                   window=window, title=re.compile(r"AmStorm\d+"), name=re.compile(r"\bAmStorm\d+\b"),
                                   pages_since=pages_since, expect=groups, min_alerts=total, quiet_s=args.quiet,
                                   timeout=args.storm_timeout, extra_quiet=tap.quiet_for, log=say)
            cpu = meter.stop()
            webhooks = summarise_sends(tap.since(started))
            metrics = am.metrics()
        finally:
            am.stop()
            am_log = am.tail(200)
    am_errors = [line for line in am_log.splitlines() if "level=error" in line or "level=warn" in line]
    return {"alerts": total, "groups": groups, "alertmanager_push": pushed, "ingest": webhooks, "cpu": cpu,
            "alertmanager_metrics": metrics, "alertmanager_log_warnings": am_errors[-5:],
            **outcome(settled, started=started, ingest_end=webhooks.get("last_end", started), alerts=total,
                      window=window, expect=groups, updates=len(slack.calls_to("chat.update")) - updates_since)}


# ---- the report ----------------------------------------------------------------------------------


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if unit == "ms":
            return f"{value * 1000:.0f} ms"
        if unit == "s":
            return f"{value:.2f} s"
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return str(value)


def table(results: dict) -> str:
    lines: list[str] = []
    meta = results["meta"]
    lines.append(f"Benchmark of the local stack, one run, {meta['cpus']} CPUs, Python {meta['python']}, "
                 f"{meta['finished_at']}")
    lines.append(f"load average at start {meta['load_average_at_start'][0]:.2f}")
    busy = results.get("machine_cores_busy") or {}
    if busy:
        part = {"imports": "(d)", "notify": "(a)", "storm_direct": "(b)", "storm_alertmanager": "(c)",
                "escalation": "(e)", "status_page": "(f)", "resolution": "(r)", "partners": "(g)"}
        lines.append("whole-machine CPU cores busy per part, this run included: "
                     + ", ".join(f"{part.get(k, k)} {v:.2f}" for k, v in busy.items()))
    a = results.get("notify") or {}
    if a:
        lines.append("")
        lines.append(f"(a) time to notify: webhook POST -> chat.postMessage at the fake Slack, "
                     f"{a.get('alerts', '-')} new groups one at a time")
        lines.append("    page = the incident's message in its channel (notify); direct = first DM to a person "
                     "(escalate)")
        if "error" in a:
            lines.append(f"    failed: {a['error']}")
        else:
            src = a["p50_by_source_s"]
            rows = [("page p50", _fmt(a["p50_s"], "ms")), ("page p99", _fmt(a["p99_s"], "ms")),
                    ("min / max", f"{_fmt(a['min_s'], 'ms')} / {_fmt(a['max_s'], 'ms')}"),
                    ("page p50 generic / alertmanager",
                     f"{_fmt(src['generic'], 'ms')} / {_fmt(src['alertmanager'], 'ms')}"),
                    ("direct page p50 / p99 (count)",
                     f"{_fmt(a['direct_p50_s'], 'ms')} / {_fmt(a['direct_p99_s'], 'ms')} ({a['direct_pages']})"),
                    ("ingest request p50 / p99", f"{_fmt(a['ingest_p50_s'], 'ms')} / {_fmt(a['ingest_p99_s'], 'ms')}"),
                    ("first page after start-up (not in p50)", _fmt(a["first_after_start_s"], "ms")),
                    ("pages missed / non-2xx", f"{a['missed_pages']} / {a['non_2xx']}")]
            lines += [f"    {k:<42}{v}" for k, v in rows]
    b, c = results.get("storm_direct") or {}, results.get("storm_alertmanager") or {}
    if b or c:
        lines.append("")
        n = (b or c).get("alerts", "-")
        g = (b or c).get("groups", "-")
        lines.append(f"(b) storm straight to /ingest/alertmanager vs (c) through a real Alertmanager: {n} alerts, "
                     f"{g} groups")
        width = 46
        lines.append(f"    {'':<{width}}{'(b) direct':>18}{'(c) Alertmanager':>20}")

        def row(label: str, fb, fc) -> None:
            vb = "error" if "error" in b else (fb(b) if b else "-")
            vc = "error" if "error" in c else (fc(c) if c else "-")
            lines.append(f"    {label:<{width}}{vb:>18}{vc:>20}")

        def both(fn) -> tuple:
            return fn, fn

        ing = lambda r, k, u="": _fmt((r.get("ingest") or {}).get(k), u)  # noqa: E731
        row("client: requests / seconds to send all",
            lambda r: f"{r['ingest']['requests']} / {_fmt(r['ingest']['seconds'], 's')}",
            lambda r: f"{r['alertmanager_push']['requests']} / {_fmt(r['alertmanager_push']['seconds'], 's')}")
        row("ingest: webhook requests", *both(lambda r: ing(r, "requests")))
        row("ingest: alerts accepted (re-sends included)", *both(lambda r: ing(r, "accepted_alerts")))
        row("ingest: accepted alerts per second", *both(lambda r: ing(r, "accepted_per_second")))
        row("ingest: request latency p50", *both(lambda r: ing(r, "latency_p50_s", "ms")))
        row("ingest: request latency p99", *both(lambda r: ing(r, "latency_p99_s", "ms")))
        row("ingest: 5xx answers", *both(lambda r: ing(r, "status_5xx")))
        row(f"incidents created (want {g})", *both(lambda r: _fmt(r["incidents_created"])))
        row(f"pages: channel messages (want {g})", *both(lambda r: _fmt(r["pages_sent"])))
        row("direct pages to people / people",
            *both(lambda r: f"{r['direct_pages_sent']} / {r['direct_pages_people']}"))
        row("duplicates: incidents / pages / direct",
            *both(lambda r: f"{r['duplicate_incidents']} / {r['duplicate_pages']} / {r['duplicate_direct_pages']}"))
        row("first page after start", *both(lambda r: _fmt(r["first_page_after_s"], "s")))
        row("all pages after start (end to end)", *both(lambda r: _fmt(r["all_pages_after_s"], "s")))
        row("every incident's first direct page after start", *both(lambda r: _fmt(r["all_direct_pages_after_s"], "s")))
        row("last classify batch after start", *both(lambda r: _fmt(r["last_batch_after_s"], "s")))
        row("drain: last batch after ingest ended", *both(lambda r: _fmt(r["drain_after_ingest_s"], "s")))
        row("incidents opened per second (from the log)", *both(lambda r: _fmt(r["incidents_opened_per_second"])))
        row("classify throughput, alerts per second", *both(lambda r: _fmt(r["classify_alerts_per_second"])))
        row("classify batches / redelivered", *both(lambda r: f"{r['classify_batches']} / {r['redelivered_batches']}"))
        row("Firestore writes per alert", *both(lambda r: _fmt(r["firestore_writes_per_alert"])))
        row("chat.update calls (message refreshes)", *both(lambda r: _fmt(r["chat_updates"])))
        row("CPU cores busy: stack+bench / whole machine",
            *both(lambda r: f"{_fmt(r['cpu']['cores_busy'])} / {_fmt(r['cpu']['machine_cores_busy'])}"))
        row("ERROR lines in the stack log", *both(lambda r: _fmt(r["error_lines"])))
        row("settled", *both(lambda r: "yes" if r["settled"] else r["settle_reason"]))
        for key, label in (("storm_direct", "(b)"), ("storm_alertmanager", "(c)")):
            cpu = (results.get(key) or {}).get("cpu")
            if cpu:
                split = ", ".join(f"{role} {sec:.1f}" for role, sec in cpu["cpu_s"].items() if sec >= 0.05)
                lines += textwrap.wrap(f"{label} CPU seconds over {cpu['wall_s']:.1f}s: {split}", 116,
                                       initial_indent="    ", subsequent_indent="        ")
        ratio = results.get("ratio_c_to_b_all_pages")
        lines.append(f"    ratio (c)/(b), end-to-end time to all pages: {_fmt(ratio)}")
    d = results.get("imports") or {}
    if d:
        lines.append("")
        lines.append(f"(d) cold import, new interpreter each time, median of {d.get('samples', '-')}")
        if "error" in d:
            lines.append(f"    failed: {d['error']}")
        else:
            head = f"{'function':<10}{'entry module':>14}  {'clients it loads':<18}{'its clients':>12}  needs"
            lines.append(f"    {head}")
            for fn, f in d["functions"].items():
                loaded = ",".join(f["entry_loads_clients"]) or "none"
                lines.append(f"    {fn:<10}{_fmt(f['entry_import_s'], 'ms'):>14}  {loaded:<18}"
                             f"{_fmt(f['clients_import_s'], 'ms'):>12}  {'+'.join(f['clients'])}")
            lines.append(f"    all four clients together: {_fmt(d['all_clients']['import_s'], 'ms')}; functions.main: "
                         f"{_fmt(d['functions_main']['import_s'], 'ms')} (loads "
                         f"{','.join(d['functions_main']['loads_clients']) or 'none'})")
    lines += _escalation_table(results.get("escalation") or {})
    from bench.status import table_lines

    lines += table_lines(results.get("status_page") or {})
    from bench.resolution import table_lines as resolution_lines

    lines += resolution_lines(results.get("resolution") or {})
    lines += _partners_table(results.get("partners") or {})
    notes = results.get("notes") or []
    if notes:
        lines.append("")
        lines.append("Notes:")
        for note in notes:
            lines += textwrap.wrap(note, 116, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines)


def _escalation_table(e: dict) -> list[str]:
    if not e:
        return []
    lines = ["", "(e) escalation lateness: a level's direct page at the fake Slack - when its step was due"]
    if "error" in e:
        return lines + [f"    failed: {e['error']}"]
    lines[-1] += f", {e['escalations']} escalations"
    lines.append(f"    levels 2 and 3 of {e['incidents']} high incidents opened at {e['rate_per_s']:g}/s via the API; "
                 "second stack, policy copy with response_target 5s")
    lv = e["p50_by_level_s"]
    tasks = e["tasks"]
    copies = "; ".join(f"step {k}: " + ", ".join(f"{n}x{c}" for n, c in v.items())
                       for k, v in tasks["copies_by_step"].items())
    rows = [("lateness p50", _fmt(e["p50_s"], "ms")), ("lateness p99", _fmt(e["p99_s"], "ms")),
            ("min / max", f"{_fmt(e['min_s'], 'ms')} / {_fmt(e['max_s'], 'ms')}"),
            ("p50 level 2 / level 3", f"{_fmt(lv.get('2'), 'ms')} / {_fmt(lv.get('3'), 'ms')}"),
            ("timer: step started - due, p50 / p99",
             f"{_fmt(e['timer_p50_s'], 'ms')} / {_fmt(e['timer_p99_s'], 'ms')}"),
            ("delivery: DM - step started, p50 / p99",
             f"{_fmt(e['delivery_p50_s'], 'ms')} / {_fmt(e['delivery_p99_s'], 'ms')}"),
            ("p50 of the first 20 / last 20 by due time",
             f"{_fmt(e['first_20_p50_s'], 'ms')} / {_fmt(e['last_20_p50_s'], 'ms')}"),
            ("pages later than 1 s", _fmt(e["late_over_1s"])),
            ("paged exactly once / duplicate DMs / missing",
             f"{e['exactly_once']} / {e['duplicate_dms']} / {e['missing']}"),
            ("level-1 DMs (want 2 per incident) / duplicates",
             f"{e['level1']['pages']} / {e['level1']['duplicates']}"),
            ("repeat pages of the last level", _fmt(e["repeat_pages"])),
            ("timer tasks per step: mean / max", f"{_fmt(tasks['tasks_per_step_mean'])} / "
                                                  f"{_fmt(tasks['tasks_per_step_max'])}"),
            ("a not-due task callback, p50 (idle stack)", _fmt(e["not_due_callback_p50_s"], "ms")),
            ("reconciler steps advanced", _fmt(e["reconciler_steps_advanced"])),
            ("CPU cores busy: stack+bench / whole machine",
             f"{_fmt(e['cpu']['cores_busy'])} / {_fmt(e['cpu']['machine_cores_busy'])}"),
            ("ERROR lines in the stack log", _fmt(e["error_lines"]))]
    lines += [f"    {k:<48}{v}" for k, v in rows]
    lines += textwrap.wrap(f"task copies seen in the queue (copies x steps): {copies}", 116,
                           initial_indent="    ", subsequent_indent="        ")
    split = ", ".join(f"{role} {sec:.1f}" for role, sec in e["cpu"]["cpu_s"].items() if sec >= 0.05)
    lines += textwrap.wrap(f"CPU seconds over {e['cpu']['wall_s']:.1f}s: {split}", 116,
                           initial_indent="    ", subsequent_indent="        ")
    return lines


def _round_floats(value: object) -> object:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round_floats(v) for v in value]
    return value


def _notes(results: dict, args: argparse.Namespace) -> list[str]:
    notes = list(results.get("notes") or [])
    for key, label in (("storm_direct", "(b)"), ("storm_alertmanager", "(c)")):
        cpu = (results.get(key) or {}).get("cpu") or {}
        if cpu and cpu["machine_cores_busy"] - cpu["cores_busy"] > 0.25:
            notes.append(f"{label} other processes kept {cpu['machine_cores_busy'] - cpu['cores_busy']:.1f} cores "
                         "busy meanwhile: figures are slower than on a quiet machine")
    load = results["meta"].get("load_average_at_start") or [0.0]
    if load[0] > 1.0:
        notes.append(f"load average at start was {load[0]:.1f}: something else was running")
    changed = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) != DEFAULTS[k]}
    if changed:
        notes.append(f"non-default sizes: {changed} (defaults {DEFAULTS})")
    a = results.get("notify") or {}
    if a.get("stopped_early"):
        notes.append(f"(a) {a['stopped_early']}")
    for key, label in (("storm_direct", "(b)"), ("storm_alertmanager", "(c)")):
        r = results.get(key) or {}
        if "error" in r:
            notes.append(f"{label} failed: {r['error']}")
            continue
        if not r:
            continue
        if not r["settled"]:
            notes.append(f"{label} did not settle ({r['settle_reason']}); figures are what was measured by then")
        if r["incidents_created"] != r["groups"] or r["pages_sent"] != r["groups"]:
            notes.append(f"{label} expected {r['groups']} incidents and channel pages, got {r['incidents_created']} "
                         f"and {r['pages_sent']}")
        if r["duplicate_direct_pages"]:
            notes.append(f"{label} {r['duplicate_direct_pages']} direct pages went twice to the same person")
        if r["error_lines"]:
            notes.append(f"{label} stack log ERROR lines: {r['error_messages']}")
    c = results.get("storm_alertmanager") or {}
    if c.get("ingest"):
        notes.append("(c) ingest figures are timed by a pass-through proxy between Alertmanager and the stack")
        if (c["ingest"].get("accepted_alerts") or 0) > c["alerts"]:
            notes.append(f"(c) Alertmanager re-sent whole groups at group_interval: ingest accepted "
                         f"{c['ingest']['accepted_alerts']} alerts for {c['alerts']} pushed")
    e = results.get("escalation") or {}
    if "error" in e:
        notes.append(f"(e) failed: {e['error']}")
    elif e:
        if e["wait"] != "settled":
            notes.append(f"(e) not every incident reached its last level: {e['wait']}")
        if e["missing"] or e["duplicate_dms"] or e["exactly_once"] != e["escalations"]:
            notes.append(f"(e) of {e['escalations']} escalations {e['exactly_once']} were paged exactly once, "
                         f"{e['missing']} missing, {e['duplicate_dms']} duplicate DMs")
        if e["reconciler_steps_advanced"]:
            notes.append(f"(e) the reconciler advanced {e['reconciler_steps_advanced']} steps whose task was late")
        checks = e["due_check_max_diff_s"]
        if (checks["api_next_at"] or 0) > 0.001 or (checks["task_schedule_time"] or 0) > 0.001:
            notes.append(f"(e) due times differ from the system's own next_at / task schedule_time: {checks}")
        if e["error_lines"]:
            notes.append(f"(e) stack log ERROR lines: {e['error_messages']}")
        if e["slack_problems"]:
            notes.append(f"(e) fake Slack contract problems: {e['slack_problems'][:3]}")
        if e["leftover_processes"] or e["stack_exit_code"] not in (0, None):
            notes.append(f"(e) the second stack exited with {e['stack_exit_code']}; left: {e['leftover_processes']}")
    if results.get("slack_problems"):
        notes.append(f"fake Slack contract problems: {results['slack_problems'][:3]}")
    if results.get("leftover_processes"):
        notes.append(f"emulator processes left after stopping the stack: {results['leftover_processes']}")
    if results.get("stack_exit_code") not in (0, None):
        notes.append(f"the stack exited with {results['stack_exit_code']} when stopped")
    return notes


def _partners_table(g: dict) -> list[str]:
    if not g:
        return []
    lines = ["", f"(g) partner tickets: {g.get('tickets', '-')} Freshdesk webhooks one at a time, then each again "
                 "three times at once"]
    if "error" in g:
        return [*lines, f"    failed: {g['error']}"]
    rows = [("webhook answer p50 / p99", f"{_fmt(g['webhook_answer_p50_s'], 'ms')} / "
                                         f"{_fmt(g['webhook_answer_p99_s'], 'ms')}"),
            ("webhook -> first note on the ticket p50 / p99", f"{_fmt(g['webhook_to_first_note_p50_s'], 'ms')} / "
                                                               f"{_fmt(g['webhook_to_first_note_p99_s'], 'ms')}"),
            ("incidents / tickets opened by us", f"{g['incidents']} / {g['tickets_opened_by_us']}"),
            ("notes before / after the redeliveries", f"{g['notes_before_redelivery']} / "
                                                      f"{g['notes_after_redelivery']}"),
            ("notes doubled / missed / non-2xx", f"{g['notes_doubled']} / {g['notes_missed']} / {g['non_2xx']}")]
    return lines + [f"    {k:<46}{v}" for k, v in rows]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--notify-alerts", type=int, default=DEFAULTS["notify_alerts"], help="(a) alerts, one at a time")
    p.add_argument("--storm-alerts", type=int, default=DEFAULTS["storm_alerts"], help="(b) and (c) alerts")
    p.add_argument("--groups", type=int, default=DEFAULTS["groups"], help="(b) and (c) alert groups")
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"], help="(b) alerts per webhook request")
    p.add_argument("--am-push-batch", type=int, default=DEFAULTS["am_push_batch"],
                   help="(c) alerts per POST /api/v2/alerts")
    p.add_argument("--concurrency", type=int, default=DEFAULTS["concurrency"], help="client threads in (b), (c)")
    p.add_argument("--import-samples", type=int, default=DEFAULTS["import_samples"], help="(d) samples per figure")
    p.add_argument("--escalation-incidents", type=int, default=DEFAULTS["escalation_incidents"],
                   help="(e) high incidents; each gives two escalations")
    p.add_argument("--escalation-rate", type=float, default=DEFAULTS["escalation_rate"],
                   help="(e) incidents opened per second")
    p.add_argument("--escalation-timeout", type=float, default=60.0,
                   help="(e) max seconds after the last incident opened to wait for the last levels")
    p.add_argument("--quiet", type=float, default=3.0, help="seconds without a classify batch that mean settled")
    p.add_argument("--storm-timeout", type=float, default=240.0, help="max seconds to wait for a storm to settle")
    p.add_argument("--am-wait", type=float, default=180.0, help="max seconds to wait for the alertmanager binary")
    p.add_argument("--partner-tickets", type=int, default=DEFAULTS["partner_tickets"],
                   help="(g) partner tickets, one at a time")
    p.add_argument("--skip", action="append", default=[], choices=["a", "b", "c", "d", "e", "f", "g", "r"],
                   help="skip a part")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.storm_alerts % args.groups:
        p.error("--storm-alerts must be a multiple of --groups")
    return args


def _phase(results: dict, key: str, label: str, fn, *fn_args) -> None:
    say(f"{label} ...")
    started, busy = time.monotonic(), machine_busy_seconds()
    try:
        results[key] = fn(*fn_args)
    except Exception as exc:  # one failed part must not lose the others' figures
        results[key] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
        traceback.print_exc()
    wall = time.monotonic() - started
    results.setdefault("phase_seconds", {})[key] = round(wall, 1)
    results.setdefault("machine_cores_busy", {})[key] = round((machine_busy_seconds() - busy) / wall, 2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    begun = time.monotonic()
    results: dict = {"meta": {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                              "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                              "python": platform.python_version(), "machine": platform.machine(),
                              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}},
                     "notes": []}
    if "d" not in args.skip:
        _phase(results, "imports", "(d) cold imports, before the stack starts so nothing else runs",
               lambda: imports.measure(args.import_samples, log=say))
    if {"a", "b", "c"} - set(args.skip):
        with FakeSlack(latency=0.0) as slack:
            stack = StackProcess(extra_env={"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.base_url})
            say(f"starting the local stack (log: {stack.log_path}) ...")
            try:
                stack.start(timeout=180)
                results["meta"]["stack_startup_s"] = rounded(stack.startup_seconds, 1)
                results["meta"]["stack_log"] = str(stack.log_path)
                say(f"  up in {stack.startup_seconds:.1f}s at {stack.base_url}")
                if "a" not in args.skip:
                    _phase(results, "notify", f"(a) time to notify, {args.notify_alerts} alerts", time_to_notify,
                           stack, slack, args.notify_alerts, 30.0, 240.0)
                    time.sleep(2)
                if "b" not in args.skip:
                    _phase(results, "storm_direct", "(b) storm straight to the ingest webhook", storm_direct,
                           stack, slack, args)
                if "c" not in args.skip:
                    _phase(results, "storm_alertmanager", "(c) storm through a real Alertmanager",
                           storm_alertmanager, stack, slack, args)
            except Exception as exc:
                results["notes"].append(f"the run stopped early: {type(exc).__name__}: {exc}"[:1000])
                traceback.print_exc()
            finally:
                say("stopping the stack ...")
                results["stack_exit_code"] = stack.stop()
                results["leftover_processes"] = stack.leftover_processes()
                results["slack_problems"] = slack.problems[:10]
    if "e" not in args.skip:  # after the first stack stopped: nothing else runs
        _phase(results, "escalation", "(e) escalation lateness, on a second stack", escalation_lateness,
               args.escalation_incidents, args.escalation_rate, args.escalation_timeout, say)
    if "f" not in args.skip:  # the public status page, on a stack of its own
        from bench.status import status_page

        _phase(results, "status_page", "(f) status page requests per second", status_page, 4, 5.0, say)
    if "r" not in args.skip:
        from bench.resolution import resolution_work

        _phase(results, "resolution", "(r) resolution work, on a stack of its own", resolution_work, 5000, 1000, 20,
               say)
    if "g" not in args.skip:
        _phase(results, "partners", "(g) partner tickets, on a stack with the Freshdesk fake", partner_tickets,
               args.partner_tickets, 30.0, say)
    b, c = results.get("storm_direct") or {}, results.get("storm_alertmanager") or {}
    if b.get("all_pages_after_s") and c.get("all_pages_after_s"):
        results["ratio_c_to_b_all_pages"] = c["all_pages_after_s"] / b["all_pages_after_s"]
    results["meta"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["meta"]["total_seconds"] = round(time.monotonic() - begun, 1)
    results["meta"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["notes"] = _notes(results, args)
    args.output.write_text(json.dumps(_round_floats(results), indent=2) + "\n")
    say("")
    say(table(results))
    say(f"\nTotal {results['meta']['total_seconds']:.0f}s; results in {args.output}")
    parts = ("imports", "notify", "storm_direct", "storm_alertmanager", "escalation", "status_page", "resolution",
             "partners")
    return 0 if not any("error" in (results.get(k) or {}) for k in parts) else 1


if __name__ == "__main__":
    sys.exit(main())
