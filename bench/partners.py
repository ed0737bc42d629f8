"""(g) Partner tickets: the Freshdesk webhook's answer time, and webhook -> first private note on the ticket.

A stack of its own runs with the Freshdesk fake (tests/fakes/freshdesk_api.py, in process, no added
latency) and the Slack fake. For each of N partner tickets, one at a time: the ticket is seeded in the
fake (as the partner's portal would), its automation webhook is POSTed to /partners/freshdesk, and the
time until freshdesk-sync posts the first private note on that ticket is taken from the fake's record of
the request. Then every webhook is delivered again three times, concurrently, as Freshdesk's retries
and ticket-updated rules would: the run counts incidents, tickets opened by us and notes posted twice.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.stats import percentile
from local.harness import StackProcess
from tests.fakes.freshdesk_api import FakeFreshdesk
from tests.fakes.slack_api import FakeSlack

SECRET = "bench-freshdesk-secret"


def webhook(ticket: dict[str, Any], base: str) -> dict[str, Any]:
    return {"freshdesk_webhook": {
        "ticket_id": ticket["id"], "ticket_subject": ticket["subject"], "ticket_description": ticket["description"],
        "ticket_status": "Open", "ticket_priority": "High", "ticket_type": "Incident", "ticket_tags": "outage",
        "ticket_source": "Portal", "ticket_url": f"{base}/a/tickets/{ticket['id']}",
        "ticket_company_name": "Kestrel Payments Pvt Ltd", "requester_email": "ops@kestrel-payments.example"}}


def partner_tickets(count: int, note_timeout: float, say) -> dict:
    with FakeSlack(latency=0.0) as slack, FakeFreshdesk() as fd:
        stack = StackProcess(extra_env={"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.base_url,
                                        "FRESHDESK_DOMAIN": fd.base_url, "FRESHDESK_API_KEY": fd.api_key,
                                        "FRESHDESK_WEBHOOK_SECRET": SECRET})
        say(f"  starting a stack with the Freshdesk fake (log: {stack.log_path}) ...")
        stack.start(timeout=180)
        try:
            return _measure(stack, fd, slack, count, note_timeout)
        finally:
            stack.stop()


def _measure(stack: StackProcess, fd: FakeFreshdesk, slack: FakeSlack, count: int, note_timeout: float) -> dict:
    session = requests.Session()
    url = f"{stack.base_url}/partners/freshdesk"
    headers = {"X-Webhook-Token": SECRET}
    answers, to_note, payloads, misses, non_2xx = [], [], [], 0, 0
    for i in range(count + 1):
        ticket = fd.create_ticket_as_partner(subject=f"Bench partner outage {i:04d}",
                                             email="ops@kestrel-payments.example", priority=3)
        payload = webhook(ticket, fd.base_url)
        payloads.append(payload)
        sent = time.time()
        response = session.post(url, json=payload, headers=headers, timeout=30)
        answered = time.time()
        if response.status_code != 200:
            non_2xx += 1
            continue
        note_path = f"/api/v2/tickets/{ticket['id']}/notes"
        deadline = time.monotonic() + note_timeout
        first = None
        while time.monotonic() < deadline and first is None:
            first = next((r for r in fd.requests_to(note_path, method="POST") if r.status == 201), None)
            if first is None:
                time.sleep(0.005)
        if i == 0:
            continue  # the first after start-up: cold clients, reported by the stack's start-up instead
        answers.append(answered - sent)
        if first is None:
            misses += 1
        else:
            to_note.append(first.received_at - sent)
    settle_notes = sum(len(fd.notes(t)) for t in fd.tickets)
    with ThreadPoolExecutor(8) as pool:  # every webhook again, three times, concurrently
        statuses = list(pool.map(lambda p: session.post(url, json=p, headers=headers, timeout=30).status_code,
                                 [p for p in payloads for _ in range(3)]))
    time.sleep(3)
    incidents = requests.get(f"{stack.base_url}/api/incidents", params={"limit": 200}, timeout=30, headers={
        "Authorization": f"Bearer {stack.env['API_TOKEN']}"}).json()["incidents"]
    doubled = 0
    for ticket_id in fd.tickets:
        bodies = Counter(n["body_text"] for n in fd.notes(ticket_id))
        doubled += sum(c - 1 for c in bodies.values() if c > 1)
    return {
        "tickets": count,
        "webhook_answer_p50_s": percentile(answers, 50), "webhook_answer_p99_s": percentile(answers, 99),
        "webhook_to_first_note_p50_s": percentile(to_note, 50), "webhook_to_first_note_p99_s": percentile(to_note, 99),
        "notes_missed": misses, "non_2xx": non_2xx + sum(s != 200 for s in statuses),
        "redeliveries": len(statuses), "incidents": len(incidents),
        "tickets_opened_by_us": len(fd.requests_to("/api/v2/tickets", method="POST")),
        "notes_before_redelivery": settle_notes, "notes_after_redelivery": sum(len(fd.notes(t)) for t in fd.tickets),
        "notes_doubled": doubled, "freshdesk_problems": fd.problems[:5], "slack_problems": slack.problems[:5],
    }
