"""The weekly digest: last week's metrics as a Slack message and a chart of the last weeks.

Cloud Scheduler calls `POST /tasks/digest` weekly; a person can ask for one now (`POST /api/digest`,
`incidentctl digest`). Idempotency key: `digest:<ISO week>` for the scheduled run (a retried or
duplicated scheduler call posts once); a request by hand always posts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.config.policy import Policy
from shared.domain import metrics
from shared.log import get_logger

log = get_logger("digest")
LEASE = timedelta(minutes=5)


def report(rcas, since: datetime, until: datetime, weeks: int) -> tuple[metrics.Metrics, list[metrics.Week]]:
    """Metrics of [since, until) and the weekly series ending at `until`, from two bounded queries."""
    first_week = metrics.week_start(until) - timedelta(weeks=weeks - 1)
    start = min(since, first_week)
    incidents, truncated = rcas.incidents_between(start, until)
    pages = rcas.pages_between(since, until)
    return (metrics.compute(incidents, pages, since, until, truncated=truncated),
            metrics.weekly(incidents, until, weeks))


def digest_message(policy: Policy, m: metrics.Metrics) -> tuple[str, list[dict[str, Any]]]:
    h = metrics.human
    sev = ", ".join(f"{k} {v}" for k, v in m.by_severity.items())
    lines = [
        f"*Incidents* {m.incidents} ({sev}); {m.open} still open",
        f"*MTTA* median {h(m.time_to_acknowledge.median_seconds)}, mean {h(m.time_to_acknowledge.mean_seconds)}"
        f" · *MTTM* median {h(m.time_to_mitigate.median_seconds)}"
        f" · *MTTR* median {h(m.time_to_resolve.median_seconds)}, mean {h(m.time_to_resolve.mean_seconds)}",
        f"*Response-target breaches* {m.response_breaches}"
        + (f" ({', '.join(m.breached_incidents[:10])})" if m.breached_incidents else ""),
    ]
    if m.by_service:
        top = sorted(m.by_service.items(), key=lambda kv: -kv[1])[:5]
        lines.append("*Services* " + ", ".join(f"{k} {v}" for k, v in top))
    if m.pages_per_person:
        lines.append("*Pages* " + ", ".join(f"{p.name} {p.pages}" for p in m.pages_per_person[:8]))
    header = f"Weekly incident digest: {m.since:%d %b} – {m.until:%d %b %Y}"
    text = header + "\n" + "\n".join(lines)
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
              {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}}]
    return text, blocks


def post_digest(*, policy: Policy, store, rcas, chat, now: datetime, key: str | None) -> dict[str, Any]:
    """Post the digest of the 7 days before `now`. With a key, at most once per key."""
    if key is not None and not store.claim(key, now, LEASE):
        return {"result": "already_posted", "key": key}
    try:
        m, weeks = report(rcas, now - timedelta(days=7), now, policy.review.digest_weeks)
        channel = policy.channels[policy.review.digest_channel].id
        text, blocks = digest_message(policy, m)
        channel, ts = chat.post(channel, text, blocks)
        from shared.documents.chart import weekly_chart

        png = weekly_chart(weeks, f"Incidents and median MTTA/MTTR per week, to {now:%d %b %Y}")
        file_id = upload(chat, channel, f"incident-digest-{now:%Y-%m-%d}.png", png, thread_ts=ts)
    except Exception:
        if key is not None:
            store.release_claim(key)
        raise
    if key is not None:
        store.complete_claim(key, {"channel": channel, "ts": ts, "file_id": file_id})
    log.info("digest posted", extra={"incidents": m.incidents, "channel": channel})
    return {"result": "posted", "channel": channel, "ts": ts, "file_id": file_id, "incidents": m.incidents,
            "chart_bytes": len(png)}


def upload(chat, channel: str, filename: str, data: bytes, thread_ts: str | None = None) -> str | None:
    """Slack's upload flow (files.getUploadURLExternal, the bytes, files.completeUploadExternal)."""
    client = getattr(chat, "client", None)
    if client is None:  # the console chat of a stack without Slack
        print(f"[slack FILE #{channel}] {filename} ({len(data)} bytes)", flush=True)
        return None
    response = client.files_upload_v2(channel=channel, file=data, filename=filename, title=filename,
                                      thread_ts=thread_ts)
    files = response.get("files") or [response.get("file") or {}]
    return files[0].get("id")


def week_key(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"digest:{year}-W{week:02d}"
