"""Talking to the running stack: payloads, a timed sender, the stack log, the API and "has it settled?"."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.stats import percentile

# ---- payloads ------------------------------------------------------------------------------------


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fingerprint(*parts: object) -> str:
    """16 hex digits, like Alertmanager's own fingerprints."""
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()[:16]


def webhook_alert(alertname: str, service: str, instance: str) -> dict:
    labels = {"alertname": alertname, "service": service, "instance": instance, "job": "bench"}
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{alertname} on {instance}"},
        "startsAt": now_rfc3339(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"http://prometheus.bench.local:9090/graph?g0.expr={alertname}",
        "fingerprint": fingerprint(alertname, service, instance),
    }


def webhook_body(alerts: list[dict], group_labels: dict[str, str]) -> dict:
    """An Alertmanager webhook (version 4) notification for one alert group."""
    return {
        "receiver": "incident-bot",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": group_labels,
        "commonLabels": {**group_labels, "job": "bench"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.bench.local:9093",
        "version": "4",
        "groupKey": "{}:{" + ",".join(f'{k}="{v}"' for k, v in group_labels.items()) + "}",
        "truncatedAlerts": 0,
    }


def generic_body(title: str, service: str) -> dict:
    return {"title": title, "service": service, "summary": f"{title}: time-to-notify probe",
            "labels": {"alertname": title}, "fingerprint": fingerprint("generic", title)}


def api_v2_alert(alertname: str, service: str, instance: str) -> dict:
    """A PostableAlert for Alertmanager's POST /api/v2/alerts (no endsAt: it applies resolve_timeout)."""
    return {
        "labels": {"alertname": alertname, "service": service, "instance": instance, "job": "bench"},
        "annotations": {"summary": f"{alertname} on {instance}"},
        "startsAt": now_rfc3339(),
        "generatorURL": f"http://prometheus.bench.local:9090/graph?g0.expr={alertname}",
    }


# ---- a timed sender ------------------------------------------------------------------------------


@dataclass
class Sent:
    start: float  # time.time()
    end: float
    status: int  # 0 = no answer (connection error or timeout)
    accepted: int = 0
    attempt: int = 1
    error: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start


def send_all(url: str, headers: dict[str, str], bodies: list[bytes], concurrency: int,
             timeout: float = 60.0, retries: int = 3) -> list[Sent]:
    """POST every body as fast as `concurrency` threads of one process can; 5xx and errors are retried
    (as Alertmanager would) up to `retries` times, and every attempt is recorded."""
    local = threading.local()
    results: list[Sent] = []
    lock = threading.Lock()

    def one(body: bytes) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        for attempt in range(1, retries + 2):
            start = time.time()
            try:
                resp = session.post(url, data=body, headers=headers, timeout=timeout)
                sent = Sent(start, time.time(), resp.status_code, attempt=attempt)
                if resp.ok:
                    try:
                        sent.accepted = int(resp.json().get("accepted", 0))
                    except (ValueError, AttributeError):
                        sent.accepted = 0
                else:
                    sent.error = resp.text[:300]
            except requests.RequestException as exc:
                sent = Sent(start, time.time(), 0, attempt=attempt, error=repr(exc)[:300])
            with lock:
                results.append(sent)
            if sent.status and sent.status < 500:
                return
            time.sleep(0.5 * attempt)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-send") as pool:
        list(pool.map(one, bodies))
    return results


def summarise_sends(sent: list[Sent]) -> dict:
    if not sent:
        return {"requests": 0}
    latencies = [s.seconds for s in sent if s.status]
    start, end = min(s.start for s in sent), max(s.end for s in sent)
    accepted = sum(s.accepted for s in sent)
    statuses = Counter(str(s.status) for s in sent)
    return {
        "requests": len(sent),
        "retried_requests": sum(1 for s in sent if s.attempt > 1),
        "statuses": dict(sorted(statuses.items())),
        "status_5xx": sum(1 for s in sent if s.status >= 500),
        "no_answer": sum(1 for s in sent if s.status == 0),
        "accepted_alerts": accepted,
        "first_start": start,
        "last_end": end,
        "seconds": end - start,
        "accepted_per_second": accepted / (end - start) if end > start else None,
        "latency_p50_s": percentile(latencies, 50),
        "latency_p99_s": percentile(latencies, 99),
        "latency_max_s": max(latencies) if latencies else None,
        "errors_sample": sorted({s.error for s in sent if s.error})[:3],
    }


# ---- the stack log -------------------------------------------------------------------------------


def log_time(entry: dict) -> float | None:
    try:
        return datetime.fromisoformat(entry["time"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class LogWindow:
    """What the stack logged from a point on: classify batches, errors, pages."""

    path: Path
    offset: int = 0
    partial: bytes = b""
    batches: int = 0
    alerts_processed: int = 0
    writes: int = 0
    message_ids: Counter = field(default_factory=Counter)
    last_batch_at: float | None = None  # the log line's own time
    last_batch_seen: float = field(default_factory=time.monotonic)  # when this reader saw it
    accepted_lines: int = 0
    accepted_alerts: int = 0
    incidents_opened: int = 0
    opened_at: list[float] = field(default_factory=list)
    first_pages: int = 0
    direct_pages: int = 0
    severities: Counter = field(default_factory=Counter)
    error_messages: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    tracebacks: int = 0
    reconciler_runs: int = 0  # "reconciler caught up" lines: only runs that found work to do log one
    reconciler_advanced: int = 0  # escalation steps the reconciler advanced (their timer was late or lost)

    @classmethod
    def from_now(cls, path: Path) -> LogWindow:
        offset = path.stat().st_size if path.exists() else 0
        return cls(path=path, offset=offset)

    def poll(self) -> int:
        """Read what was appended since the last poll; returns the number of new lines."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return 0
        self.offset += len(chunk)
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for raw in lines:
            self._line(raw.decode(errors="replace"))
        return len(lines)

    def _line(self, line: str) -> None:
        if not line.strip():
            return
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if not isinstance(entry, dict):
            if line.startswith("Traceback"):
                self.tracebacks += 1
                self._sample(line)
            return
        message = str(entry.get("message", ""))
        severity = str(entry.get("severity", ""))
        self.severities[severity] += 1
        if severity in ("ERROR", "CRITICAL"):
            self.error_messages[message[:120]] += 1
            self._sample(line)
        if message == "alert batch processed":
            self.batches += 1
            self.alerts_processed += int(entry.get("alerts") or 0)
            self.writes += int(entry.get("writes") or 0)
            self.message_ids[str(entry.get("message_id"))] += 1
            self.last_batch_at = log_time(entry) or time.time()
            self.last_batch_seen = time.monotonic()
        elif message == "alerts accepted":
            self.accepted_lines += 1
            self.accepted_alerts += int(entry.get("count") or 0)
        elif message == "incident opened":
            self.incidents_opened += 1
            self.opened_at.append(log_time(entry) or time.time())
        elif message == "first page sent":
            self.first_pages += 1
        elif message == "paged":
            self.direct_pages += 1
        elif message == "reconciler caught up":
            self.reconciler_runs += 1
            self.reconciler_advanced += int(entry.get("advanced") or 0)

    def _sample(self, line: str) -> None:
        if len(self.error_samples) < 5:
            self.error_samples.append(line[:600])

    def summary(self) -> dict:
        return {
            "classify_batches": self.batches,
            "classify_alerts_processed": self.alerts_processed,
            "redelivered_batches": sum(n - 1 for n in self.message_ids.values() if n > 1),
            "firestore_writes": self.writes,
            "ingest_requests_logged": self.accepted_lines,
            "ingest_alerts_logged": self.accepted_alerts,
            "incidents_opened_logged": self.incidents_opened,
            "first_pages_logged": self.first_pages,
            "direct_pages_logged": self.direct_pages,
            "log_lines_by_severity": dict(self.severities),
            "error_lines": sum(self.error_messages.values()) + self.tracebacks,
            "error_messages": dict(self.error_messages.most_common(5)),
            "error_samples": self.error_samples,
        }


# ---- the API and Slack ---------------------------------------------------------------------------


def list_incidents(base_url: str, api_token: str, timeout: float = 30.0, max_pages: int = 100) -> list[dict]:
    headers = {"Authorization": f"Bearer {api_token}"}
    out: list[dict] = []
    cursor = None
    for _ in range(max_pages):
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        resp = requests.get(f"{base_url}/api/incidents", params=params, headers=headers, timeout=timeout)
        resp.raise_for_status()
        body = resp.json()
        out.extend(body["incidents"])
        cursor = body.get("next_cursor")
        if not cursor:
            return out
    raise RuntimeError(f"more than {max_pages} pages of incidents")


def matching_incidents(incidents: list[dict], title: re.Pattern[str]) -> list[dict]:
    return [i for i in incidents if title.fullmatch(str(i.get("title", "")))]


@dataclass(frozen=True)
class Post:
    """One chat.postMessage that names an incident of the run."""

    name: str  # the alert group's name found in the text
    channel: str
    at: float  # received_at at the fake Slack

    @property
    def to_channel(self) -> bool:
        """The incident's message in a channel (notify); otherwise a direct page to a person (escalate)."""
        return is_channel(self.channel)


def is_channel(channel: object) -> bool:
    return str(channel)[:1] in ("C", "G") or str(channel).startswith("#")


def posts_for(slack, name: re.Pattern[str], since: int = 0) -> list[Post]:
    """Every chat.postMessage after the first `since` ones whose text names a group of the run."""
    found = []
    for call in slack.calls_to("chat.postMessage")[since:]:
        match = name.search(str(call.params.get("text", "")))
        if match:
            found.append(Post(match.group(0), str(call.params.get("channel", "")), call.received_at))
    return found


# ---- settling ------------------------------------------------------------------------------------


@dataclass
class Settled:
    settled: bool
    reason: str
    waited_s: float
    incidents: list[dict]
    posts: list[Post]


def wait_settled(*, base_url: str, api_token: str, slack, window: LogWindow, title: re.Pattern[str],
                 name: re.Pattern[str], pages_since: int, expect: int, min_alerts: int, quiet_s: float,
                 timeout: float, stall_s: float = 75.0, extra_quiet=None, log=print) -> Settled:
    """Until the expected incidents and channel messages exist, classify has handled at least `min_alerts`,
    for `quiet_s` no batch was processed and no chat.postMessage arrived, and the incident count did not
    change between two looks; or until the timeout, or until nothing happened for `stall_s` while
    expectations are unmet."""
    started = time.monotonic()
    deadline = started + timeout
    incidents: list[dict] = []
    previous: int | None = None
    next_check = 0.0
    next_report = started + 15
    posted, posted_changed = -1, started
    while True:
        window.poll()
        now = time.monotonic()
        posts = posts_for(slack, name, pages_since)
        pages = [p for p in posts if p.to_channel]
        if len(posts) != posted:
            posted, posted_changed = len(posts), now
        if now >= next_check:
            previous = len(incidents) if next_check else None
            incidents = matching_incidents(list_incidents(base_url, api_token), title)
            next_check = now + 2.0
        quiet = min(now - window.last_batch_seen, now - posted_changed)
        if extra_quiet is not None:
            quiet = min(quiet, extra_quiet())
        met = len(incidents) >= expect and len(pages) >= expect and window.alerts_processed >= min_alerts
        if met and quiet >= quiet_s and previous == len(incidents):
            return Settled(True, "settled", now - started, incidents, posts)
        if now > deadline:
            return Settled(False, f"timeout after {timeout:.0f}s", now - started, incidents, posts)
        if not met and quiet >= stall_s:
            return Settled(False, f"stalled: nothing processed for {stall_s:.0f}s", now - started, incidents,
                           posts)
        if now >= next_report:
            log(f"    ... {now - started:.0f}s: {len(incidents)}/{expect} incidents, {len(pages)}/{expect} channel "
                f"messages, {len(posts) - len(pages)} direct pages, {window.alerts_processed} alerts through "
                f"classify in {window.batches} batches")
            next_report = now + 15
        time.sleep(0.5)


def _first_at(posts: list[Post]) -> dict[str, float]:
    first: dict[str, float] = {}
    for p in posts:
        first[p.name] = min(p.at, first.get(p.name, p.at))
    return first


def outcome(settled: Settled, *, started: float, ingest_end: float, alerts: int, window: LogWindow,
            expect: int, updates: int = 0) -> dict:
    """The figures both storms report, from what settled and the log window."""
    channel = [p for p in settled.posts if p.to_channel]
    direct = [p for p in settled.posts if not p.to_channel]
    per_name = Counter(p.name for p in channel)
    per_person = Counter((p.name, p.channel) for p in direct)
    first_page_at, first_direct_at = _first_at(channel), _first_at(direct)
    titles = Counter(str(i.get("title")) for i in settled.incidents)
    all_pages_at = max(first_page_at.values()) if len(first_page_at) >= expect else None
    all_direct_at = max(first_direct_at.values()) if len(first_direct_at) >= expect else None
    last_batch = window.last_batch_at
    opened = window.opened_at
    return {
        "settled": settled.settled,
        "settle_reason": settled.reason,
        "incidents_created": len(settled.incidents),
        "incident_titles_distinct": len(titles),
        "duplicate_incidents": sum(n - 1 for n in titles.values() if n > 1),
        "pages_sent": len(channel),
        "pages_distinct": len(per_name),
        "duplicate_pages": sum(n - 1 for n in per_name.values() if n > 1),
        "direct_pages_sent": len(direct),
        "direct_pages_people": len({p.channel for p in direct}),
        "direct_pages_incidents": len(first_direct_at),
        "duplicate_direct_pages": sum(n - 1 for n in per_person.values() if n > 1),
        "first_page_after_s": (min(first_page_at.values()) - started) if first_page_at else None,
        "all_pages_after_s": (all_pages_at - started) if all_pages_at else None,
        "all_direct_pages_after_s": (all_direct_at - started) if all_direct_at else None,
        "last_batch_after_s": (last_batch - started) if last_batch else None,
        "drain_after_ingest_s": (last_batch - ingest_end) if last_batch else None,
        "incidents_opened_per_second": ((len(opened) - 1) / (max(opened) - min(opened)))
        if len(opened) > 1 and max(opened) > min(opened) else None,
        "classify_alerts_per_second": (alerts / (last_batch - started)) if last_batch and last_batch > started
        else None,
        "firestore_writes_per_alert": window.writes / alerts if alerts else None,
        "chat_updates": updates,
        **window.summary(),
    }
