"""(e) Escalation lateness: when a level's page arrived at Slack minus when that escalation step was due.

A separate stack runs with a copy of config/policy.yaml in which high incidents have a 5 s response
target (and a 1 h repeat interval), so a high `system_alert` incident escalates every 5 s: level 1
(DevOps engineers) at once, level 2 (CTO) 5 s later, level 3 (Product Manager) 5 s after the level-2
step ran. Incidents are opened through the API at a steady pace; each is acknowledged as soon as its
level-3 page arrives, because past the last level the engine keeps paging that level at every target.

Due time of an escalation (what the engine itself sets as `escalation.next_at`, and what the Cloud
Task is scheduled for): the start of the previous level plus min(target, repeat interval) from the
incident's frozen plan. Level 1 starts when the incident is created (`escalation.level_started_at`
in the API's 201 answer); a later level starts at the `at` of its "escalation.escalated" timeline
entry, which is the `now` of the step that escalated to it. Lateness = the fake Slack's `received_at` of
the level's direct message - that due time. It splits into "timer" (the step's `now` - due: Cloud
Tasks dispatch) and "delivery" (the DM - the step's `now`: the callback's transaction and the Slack
post). The due times are cross-checked against the `schedule_time` of the named tasks in the queue.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests

from bench.pipeline import LogWindow, is_channel
from bench.procs import CpuMeter
from bench.stats import percentile
from local.harness import StackProcess
from shared.domain.escalation import EscalationState
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "config" / "policy.yaml"
REPLACE = (("response_target: 1h", "response_target: 5s"), ("repeat_page_every: 15m", "repeat_page_every: 1h"))
PAGE_TEXT = re.compile(r"^:rotating_light: (INC-\d{4}-\d{4,}) \[\w+\] .* \(([^()]*)\)$", re.S)
TASK_NAME = re.compile(r"(INC-\d{4}-\d{4,})-(\d+)$")
SETTLE_S = 6.0  # after the last page: longer than the 5 s target, so a repeat or a late duplicate shows


def fast_policy(target: Path) -> Path:
    """config/policy.yaml with high incidents escalating every 5 s and not repeating within a level."""
    text = POLICY.read_text(encoding="utf-8")
    for old, new in REPLACE:
        if text.count(old) != 1:
            raise ValueError(f"expected exactly one {old!r} in {POLICY}, found {text.count(old)}")
        text = text.replace(old, new)
    target.write_text(text, encoding="utf-8")
    return target


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def _level_of(reason: str) -> int | str:
    """The level a page names, from its text; 'repeat', 'parallel' or 'manual' when it names none."""
    if reason == "you are on the first level":
        return 1
    match = re.fullmatch(r"escalated to level (\d+)", reason)
    if match:
        return int(match.group(1))
    return {"still not acknowledged": "repeat", "critical incident: emergency escalation": "parallel"}.get(
        reason, "manual")


class DirectPages:
    """Every direct message (chat.postMessage to a user id) that pages an incident, read from the fake."""

    def __init__(self, slack: FakeSlack):
        self.slack = slack
        self.seen = 0
        self.pages: list[dict] = []  # {"incident", "level", "channel", "at", "reason", "ok"}
        self.levels: dict[str, set] = defaultdict(set)  # incident -> the levels its pages named
        self.last_at = 0.0

    def poll(self) -> list[dict]:
        calls = self.slack.calls_to("chat.postMessage")
        new = []
        for call in calls[self.seen:]:
            channel = str(call.params.get("channel", ""))
            match = PAGE_TEXT.match(str(call.params.get("text", "")))
            if match is None or is_channel(channel):
                continue
            page = {"incident": match.group(1), "level": _level_of(match.group(2)), "channel": channel,
                    "at": call.received_at, "reason": match.group(2), "ok": call.ok}
            new.append(page)
            self.levels[page["incident"]].add(page["level"])
            self.last_at = max(self.last_at, call.received_at)
        self.seen = len(calls)
        self.pages += new
        return new


class TaskSampler:
    """Looks at the timer queue of the Cloud Tasks emulator every `every` seconds (ListTasks).

    A step's task waits about 5 s in the queue, so every task is seen: how many tasks each
    (incident, step) got, their schedule_time, and the longest queue.
    """

    def __init__(self, stack: StackProcess, every: float = 1.0):
        import grpc
        from google.cloud import tasks_v2
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        from shared.topology import QUEUE_TIMERS

        self.channel = grpc.insecure_channel(f"127.0.0.1:{stack.env['TASKS_PORT']}")
        self.client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=self.channel))
        region = stack.env.get("REGION", "asia-south1")
        self.parent = self.client.queue_path(stack.env["GOOGLE_CLOUD_PROJECT"], region, QUEUE_TIMERS)
        self.every = every
        self.copies: dict[str, int] = {}  # task name -> most copies seen at once
        self.schedule: dict[tuple[str, int], float] = {}  # (incident, step) -> schedule_time
        self.longest = 0
        self.samples = self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-task-sampler", daemon=True)

    def start(self) -> TaskSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.channel.close()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                tasks = list(self.client.list_tasks(request={"parent": self.parent}, timeout=5))
            except Exception:  # the emulator serialises a list it is changing; a failed look is skipped
                self.failures += 1
                continue
            self.samples += 1
            self.longest = max(self.longest, len(tasks))
            names = Counter(t.name.rsplit("/", 1)[-1] for t in tasks)
            for name, n in names.items():
                self.copies[name] = max(n, self.copies.get(name, 0))
            for t in tasks:
                match = TASK_NAME.search(t.name)
                if match and t.schedule_time:
                    self.schedule[(match.group(1), int(match.group(2)))] = t.schedule_time.timestamp()

    def summary(self, ours: set[str]) -> dict:
        """Copies per named task of the measured incidents, by step (1 = the timer of level 2, ...)."""
        by_step: dict[int, list[int]] = defaultdict(list)
        for name, n in self.copies.items():
            match = TASK_NAME.search(name)
            if match and match.group(1) in ours:
                by_step[int(match.group(2))].append(n)
        per_step = [n for copies in by_step.values() for n in copies]
        return {"samples": self.samples, "failed_samples": self.failures, "longest_queue": self.longest,
                "steps_seen": len(per_step), "tasks_seen": sum(per_step),
                "tasks_per_step_mean": sum(per_step) / len(per_step) if per_step else None,
                "tasks_per_step_max": max(per_step) if per_step else None,
                "copies_by_step": {str(step): dict(sorted(Counter(c).items())) for step, c in sorted(by_step.items())}}


def escalation_lateness(incidents: int, rate: float, timeout: float, log=print) -> dict:
    """Own stack (fast policy, fake Slack); see the module docstring."""
    workdir = Path(tempfile.mkdtemp(prefix="incident-bench-escalation-"))
    policy = fast_policy(workdir / "policy.yaml")
    with FakeSlack(latency=0.0) as slack:
        stack = StackProcess(extra_env={"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.base_url,
                                        "INCIDENT_CONFIG": str(policy)}, data_dir=workdir / "stack")
        log(f"    starting a second stack with {policy} (log: {stack.log_path}) ...")
        try:
            stack.start(timeout=180)
            log(f"    up in {stack.startup_seconds:.1f}s at {stack.base_url}")
            result = _measure(stack, slack, incidents, rate, timeout, log)
        finally:
            code = stack.stop()
        result.update({"stack_startup_s": stack.startup_seconds, "stack_log": str(stack.log_path),
                       "policy": str(policy), "stack_exit_code": code,
                       "leftover_processes": stack.leftover_processes(), "slack_problems": slack.problems[:10]})
        return result


def _measure(stack: StackProcess, slack: FakeSlack, count: int, rate: float, timeout: float, log) -> dict:
    base = f"{stack.base_url}/api/incidents"
    headers = {"Authorization": f"Bearer {stack.env['API_TOKEN']}", "Content-Type": "application/json"}
    local = threading.local()

    def session() -> requests.Session:
        if getattr(local, "session", None) is None:
            local.session = requests.Session()
        return local.session

    def create(title: str) -> dict:
        body = {"title": title, "severity": "high", "type": "system_alert", "reporter": "bench"}
        t0 = time.time()
        try:
            resp = session().post(base, json=body, headers=headers, timeout=30)
        except requests.RequestException as exc:
            return {"title": title, "status": 0, "request_s": time.time() - t0, "detail": None, "error": repr(exc)}
        return {"title": title, "status": resp.status_code, "request_s": time.time() - t0,
                "detail": resp.json() if resp.status_code == 201 else None, "error": resp.text[:300]}

    def acknowledge(incident_id: str) -> int:
        resp = session().post(f"{base}/{incident_id}/acknowledge", json={"actor": "bench"}, headers=headers,
                              timeout=30)
        return resp.status_code

    dms = DirectPages(slack)
    tag = f"{int(time.time()) % 100000:05d}"
    # Warm-up: clients are built lazily, so the first incident after start-up is slow. It is
    # acknowledged once paged, so it never escalates, and is left out of every figure.
    warm = create(f"BenchEsc-{tag}-warmup")
    if warm["detail"] is None:
        raise RuntimeError(f"creating an incident failed: {warm['status']} {warm['error']}")
    warm_id = warm["detail"]["incident"]["id"]
    warm_deadline = time.monotonic() + 30
    while not any(p["incident"] == warm_id for p in dms.pages) and time.monotonic() < warm_deadline:
        dms.poll()
        time.sleep(0.05)
    warm_page = next((p["at"] for p in dms.pages if p["incident"] == warm_id), None)
    acknowledge(warm_id)
    time.sleep(1.0)

    window = LogWindow.from_now(stack.log_path)
    sampler = TaskSampler(stack).start()
    meter = CpuMeter(stack.process.pid).start()
    created: dict[int, dict] = {}
    acks: dict[str, object] = {}
    log(f"    opening {count} high incidents at {rate:g}/s through the API; each escalates twice, 5 s apart")
    creators = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bench-create")
    ackers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bench-ack")
    last_level: dict[str, int] = {}
    try:
        started, started_wall = time.monotonic(), time.time()
        pending = {}
        for i in range(count):
            while time.monotonic() < started + i / rate:
                _ack_last_levels(dms, last_level, acks, ackers, acknowledge)
                time.sleep(0.01)
            pending[i] = creators.submit(create, f"BenchEsc-{tag}-{i:03d}")
            for j in [j for j, f in pending.items() if f.done()]:
                created[j] = pending.pop(j).result()
                _note_plan(created[j], last_level)
        for j, f in pending.items():
            created[j] = f.result()
            _note_plan(created[j], last_level)
        creation_s = time.monotonic() - started
        ids = {c["detail"]["incident"]["id"] for c in created.values() if c["detail"]}
        log(f"    {len(ids)}/{count} created in {creation_s:.1f}s; waiting for the escalations")
        deadline = time.monotonic() + timeout
        next_report = time.monotonic() + 10
        while time.monotonic() < deadline:
            _ack_last_levels(dms, last_level, acks, ackers, acknowledge)
            done = all(i in acks and acks[i].done() for i in ids)
            if done and time.time() - dms.last_at >= SETTLE_S:
                break
            if time.monotonic() >= next_report:
                log(f"    ... {len(acks)}/{len(ids)} incidents reached their last level")
                next_report = time.monotonic() + 10
            time.sleep(0.05)
        waited = "settled" if all(i in acks for i in ids) else f"timeout after {timeout:.0f}s"
    finally:
        creators.shutdown(wait=True)
        ackers.shutdown(wait=True)
        sampler.stop()
    cpu = meter.stop()
    dms.poll()
    window.poll()
    ack_status = Counter(str(f.result() if f.done() and not f.exception() else 0) for f in acks.values())
    details = _details(base, headers, sorted(ids))
    not_due = _not_due_callbacks(stack, sorted(ids)[:20])
    return {"incidents": count, "rate_per_s": rate, "creation_s": creation_s, "wait": waited,
            "create_non_201": sum(1 for c in created.values() if c["status"] != 201),
            "create_request_p50_s": percentile([c["request_s"] for c in created.values()], 50),
            "create_request_p99_s": percentile([c["request_s"] for c in created.values()], 99),
            "warmup_first_page_s": warm_page - _ts(warm["detail"]["incident"]["created_at"]) if warm_page else None,
            "acknowledgements": dict(ack_status),
            **_figures(created, details, dms.pages, sampler, started_wall),
            "tasks": sampler.summary(ids), "not_due_callback_p50_s": percentile(not_due, 50),
            "not_due_callback_max_s": max(not_due) if not_due else None, "cpu": cpu,
            "reconciler_steps_advanced": window.reconciler_advanced,
            "reconciler_runs_logged": window.reconciler_runs,
            "error_lines": window.summary()["error_lines"], "error_messages": window.summary()["error_messages"]}


def _note_plan(created: dict, last_level: dict[str, int]) -> None:
    if created["detail"]:
        incident = created["detail"]["incident"]
        last_level[incident["id"]] = len(incident["escalation"]["plan"])


def _ack_last_levels(dms: DirectPages, last_level: dict[str, int], acks: dict, pool, acknowledge) -> None:
    """Acknowledge each incident as soon as its last level is paged, so that level is not paged again."""
    dms.poll()
    for incident, level in last_level.items():
        if incident not in acks and level in dms.levels.get(incident, ()):
            acks[incident] = pool.submit(acknowledge, incident)


def _not_due_callbacks(stack: StackProcess, ids: list[str]) -> list[float]:
    """What a duplicate timer task costs: POST /tasks/escalate for a step that is no longer active,
    as the emulator would send it, once per incident, with the stack otherwise idle."""
    headers = {"Content-Type": "application/json", "X-CloudTasks-QueueName": "bench"}
    session, took = requests.Session(), []
    for incident_id in ids:
        t0 = time.perf_counter()
        resp = session.post(f"{stack.base_url}/tasks/escalate", json={"incident_id": incident_id, "step": 1},
                            headers=headers, timeout=30)
        if resp.ok and resp.json().get("result") == "not_due":
            took.append(time.perf_counter() - t0)
    return took


def _details(base: str, headers: dict, ids: list[str]) -> dict[str, dict]:
    def one(incident_id: str) -> tuple[str, dict]:
        resp = requests.get(f"{base}/{incident_id}", headers=headers, timeout=30)
        resp.raise_for_status()
        return incident_id, resp.json()

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="bench-detail") as pool:
        return dict(pool.map(one, ids))


def _figures(created: dict[int, dict], details: dict[str, dict], pages: list[dict], sampler: TaskSampler,
             t0: float) -> dict:
    """One record per escalation (incident, level >= 2), and the percentiles over them."""
    by_key: dict[tuple[str, object, str], list[float]] = defaultdict(list)
    for p in pages:
        by_key[(p["incident"], p["level"], p["channel"])].append(p["at"])
    ours = set(details)
    records: list[dict] = []
    level1 = {"pages": 0, "duplicates": 0, "missing": 0}
    due_vs_answer, due_vs_task = [], []
    for c in created.values():
        if not c["detail"]:
            continue
        first = c["detail"]["incident"]
        state = EscalationState.model_validate(first["escalation"])
        detail = details[first["id"]]
        timeline = detail["timeline"]
        escalated = defaultdict(list)
        for entry in timeline:
            if entry["kind"] == "escalation.escalated":
                escalated[int(re.search(r"level (\d+)", entry["text"]).group(1))].append(_ts(entry["at"]))
        sent = Counter(int(e["data"].get("level", 0)) for e in timeline if e["kind"] == "page.sent")
        level_start = state.level_started_at.timestamp()
        for r in state.plan[0].people:
            n = len(by_key.get((first["id"], 1, r.slack_user_id), []))
            level1["pages"] += n
            level1["duplicates"] += max(0, n - 1)
            level1["missing"] += n == 0
        for index in range(1, len(state.plan)):
            level = index + 1
            hold = state.plan[index - 1].target
            if state.repeat_every:
                hold = min(hold, state.repeat_every)
            due = level_start + hold.total_seconds() if level_start is not None else None
            if level == 2 and state.next_at is not None:
                due_vs_answer.append(abs(state.next_at.timestamp() - due))
            task_at = sampler.schedule.get((first["id"], index))
            if task_at is not None and due is not None:
                due_vs_task.append(abs(task_at - due))
            fired = escalated.get(level, [])
            people = [r.slack_user_id for r in state.plan[index].people]
            counts = [len(by_key.get((first["id"], level, u), [])) for u in people]
            arrivals = [min(by_key[(first["id"], level, u)]) for u, n in zip(people, counts, strict=True) if n]
            dm = min(arrivals) if arrivals else None
            records.append({
                "incident": first["id"], "level": level, "due": due, "fired": fired[0] if fired else None,
                "dm": dm, "lateness_s": dm - due if dm is not None and due is not None else None,
                "timer_s": fired[0] - due if fired and due is not None else None,
                "delivery_s": dm - fired[0] if fired and dm is not None else None,
                "steps": len(fired), "dms": sum(counts), "people": len(people), "sent_logged": sent.get(level, 0),
                "exactly_once": len(fired) == 1 and all(n == 1 for n in counts) and sent.get(level, 0) == len(people),
            })
            level_start = fired[0] if fired else None
    repeats = sum(len(a) for (i, lv, _), a in by_key.items() if i in ours and lv == "repeat")
    other = sum(len(a) for (i, lv, _), a in by_key.items() if i in ours and lv in ("parallel", "manual"))
    late = [r["lateness_s"] for r in records if r["lateness_s"] is not None]
    timer = [r["timer_s"] for r in records if r["timer_s"] is not None]
    delivery = [r["delivery_s"] for r in records if r["delivery_s"] is not None]
    ordered = [r["lateness_s"] for r in sorted(records, key=lambda r: r["due"] or 0) if r["lateness_s"] is not None]
    head, tail = ordered[:20], ordered[-20:]
    return {
        "escalations": len(records),
        "paged": len(late),
        "exactly_once": sum(1 for r in records if r["exactly_once"]),
        "missing": sum(1 for r in records if r["dm"] is None),
        "duplicate_dms": sum(max(0, r["dms"] - r["people"]) for r in records),
        "duplicate_steps": sum(max(0, r["steps"] - 1) for r in records),
        "repeat_pages": repeats,
        "other_pages": other,
        "level1": level1,
        "p50_s": percentile(late, 50), "p99_s": percentile(late, 99),
        "min_s": min(late) if late else None, "max_s": max(late) if late else None,
        "p50_by_level_s": {str(lv): percentile([r["lateness_s"] for r in records
                                                if r["level"] == lv and r["lateness_s"] is not None], 50)
                           for lv in sorted({r["level"] for r in records})},
        "timer_p50_s": percentile(timer, 50), "timer_p99_s": percentile(timer, 99),
        "delivery_p50_s": percentile(delivery, 50), "delivery_p99_s": percentile(delivery, 99),
        "first_20_p50_s": percentile(head, 50), "last_20_p50_s": percentile(tail, 50),
        "late_over_1s": sum(1 for x in late if x > 1.0),
        "due_check_max_diff_s": {"api_next_at": max(due_vs_answer) if due_vs_answer else None,
                                 "task_schedule_time": max(due_vs_task) if due_vs_task else None,
                                 "tasks_matched": len(due_vs_task)},
        "records": [{**r, **{k: r[k] - t0 for k in ("due", "fired", "dm") if r[k] is not None}} for r in records],
        "records_times": "due, fired (the step's now) and dm are seconds after the first POST was sent",
    }
