"""The public status page on the local stack, read in a real headless Chromium, with real SMTP and webhooks.

A test incident opens from an alert, a person publishes an update, a security incident opens from an
alert with tell-tale internal details; the page is then opened at desktop and phone sizes (screenshots in
test-artifacts/) and every public output (HTML, JSON, Atom, emails, webhooks) is searched for leaks.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller

from local import emulators
from local.harness import StackProcess
from tests.atom_check import check_atom
from tests.e2e.chromium import BINARY, Browser, png_size
from tests.e2e.conftest import Client, eventually
from tests.fakes.slack_api import FakeSlack
from tests.statuspage_shapes import SHAPES, validate_document

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(BINARY is None, reason="needs Debian's chromium (make e2e)")]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SECRETS = ["Credential stuffing", "auth-svc-blue", "198.51.100.23", "src_ip", "Redis failover loop",
           "trading-cache-3", "INC-20"]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        mail = BytesParser(policy=default_policy).parsebytes(envelope.content)
        self.messages.append({"to": envelope.rcpt_tos, "data": f"Subject: {mail['Subject']}\n{mail.get_content()}"})
        return "250 OK"

    def to(self, address: str) -> list[str]:
        return [m["data"] for m in self.messages if address in m["to"]]


class Hooks(BaseHTTPRequestHandler):
    received: list[Any] = []

    def do_POST(self):  # noqa: N802
        Hooks.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[StackProcess, Client, Inbox, str]]:
    inbox = Inbox()
    port = emulators.free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    with FakeSlack() as slack:
        stack = StackProcess(extra_env={"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.base_url,
                                        "SMTP_URL": f"smtp://127.0.0.1:{port}?from=status@example.com",
                                        "STATUS_CACHE_SECONDS": "0"})
        stack.start()
        try:
            yield stack, Client(stack), inbox, f"http://127.0.0.1:{hooks.server_port}/status-hook"
        finally:
            stack.stop()
            smtp.stop()
            hooks.shutdown()


def get(stack: StackProcess, path: str) -> requests.Response:
    response = requests.get(f"{stack.base_url}/status{path}", timeout=10)
    assert response.status_code == 200, (path, response.text)
    return response


def summary(stack: StackProcess) -> dict:
    return get(stack, "/api/v2/summary.json").json()


def component(stack: StackProcess, cid: str) -> str:
    return next(c["status"] for c in summary(stack)["components"] if c["id"] == cid)


@pytest.fixture(scope="module")
def story(site) -> dict[str, Any]:
    """Subscribers, a technical incident with a person's update, a security incident, a maintenance."""
    stack, client, inbox, hook_url = site
    form = requests.post(f"{stack.base_url}/status/subscribe", timeout=10,
                         data={"email": "reader@example.com", "components": ["trading", "web-app"]},
                         headers={"Accept": "text/html"})
    assert form.status_code == 202 and "Check your email" in form.text
    link = eventually(lambda: re.search(r"(http\S+/subscribe/confirm\?token=\S+)",
                                        "".join(inbox.to("reader@example.com"))), what="confirmation email")
    assert requests.get(link[1], timeout=10).status_code == 200
    hook = requests.post(f"{stack.base_url}/status/subscribe", json={"webhook": hook_url}, timeout=10)
    assert hook.status_code == 201, hook.text

    alert = {"title": "Redis failover loop on trading-cache-3", "summary": "sentinel flapping", "service": "trading",
             "severity": "critical", "labels": {"alertname": "RedisFailover", "pod": "trading-cache-3"}}
    assert client.ingest("generic", alert).status_code == 200
    eventually(lambda: component(stack, "trading") == "major_outage", what="trading in major outage")
    [incident] = client.incident_titled(alert["title"])
    update = client.api("POST", f"/incidents/{incident['id']}/status-updates", json={
        "actor": "priya", "status": "identified", "body": "We found the cause and are restoring order placement."})
    assert update.status_code == 201, update.text

    security = {"title": "Credential stuffing against auth-svc-blue", "summary": "4,000 logins from 198.51.100.23",
                "service": "web", "severity": "critical", "labels": {"alertname": "CredStuffing",
                                                                      "src_ip": "198.51.100.23"}}
    assert client.ingest("generic", security).status_code == 200
    [sec] = eventually(lambda: client.incident_titled(security["title"]), what="security incident")
    assert sec["category"] == "security"
    published = client.api("POST", f"/incidents/{sec['id']}/status-updates", json={
        "actor": "cto", "status": "investigating", "body": "Some customers cannot sign in to the web app.",
        "components": {"web-app": "partial_outage"}})
    assert published.status_code == 201, published.text
    now = datetime.now(UTC)
    maintenance = client.api("POST", "/status/maintenances", json={
        "actor": "ops", "name": "Mutual fund order book upgrade", "body": "Orders will queue for 30 minutes.",
        "scheduled_for": (now + timedelta(days=1)).isoformat(),
        "scheduled_until": (now + timedelta(days=1, minutes=30)).isoformat(), "components": ["mutual-funds"]})
    assert maintenance.status_code == 201, maintenance.text
    eventually(lambda: len(inbox.to("reader@example.com")) >= 4, timeout=30, what="update emails")
    eventually(lambda: len(Hooks.received) >= 4, timeout=30, what="webhook notifications")
    return {"incident": incident, "security": sec}


def test_a_reader_sees_the_incident_and_its_updates_in_chromium(site, story):
    stack = site[0]
    browser = Browser()
    try:
        browser.open(f"{stack.base_url}/status/", 1280, 900)
        text = browser.evaluate("document.body.innerText")
        browser.screenshot(ARTIFACTS / "status-desktop.png")
        assert browser.evaluate("document.querySelector('#overall').innerText") == "Major System Outage"
        assert browser.evaluate("document.documentElement.lang") == "en"
        for expected in ("Current incidents", "A major outage of Trading", "We are investigating a major outage of "
                         "Trading", "We found the cause and are restoring order placement.", "Identified",
                         "Some customers cannot sign in to the web app.", "Scheduled maintenance",
                         "Mutual fund order book upgrade", "Get updates"):
            assert expected in text, expected
        for group in ("Customer apps", "Investing", "Partners"):  # shown in capitals
            assert group.upper() in text, group
        rows = browser.evaluate("""[...document.querySelectorAll('.component')].map(c => ({
            name: c.querySelector('.name').innerText, status: c.querySelector('.status').innerText,
            bars: c.querySelectorAll('.bars .bar').length, label: c.querySelector('.bars').getAttribute('aria-label'),
            today: getComputedStyle(c.querySelector('.bars .bar:last-child')).backgroundColor}))""")
        by_name = {r["name"]: r for r in rows}
        assert set(by_name) == {"Web app", "Mobile app", "Trading", "Mutual funds", "Partner portal", "APIs"}
        assert all(r["bars"] == 90 for r in rows)
        assert by_name["Trading"]["status"] == "Major outage" and by_name["Web app"]["status"] == "Partial outage"
        assert by_name["APIs"]["status"] == "Operational"
        assert "1 day with incidents" in by_name["Trading"]["label"]
        assert by_name["Trading"]["today"] == "rgb(207, 34, 46)"  # today's bar is red
        assert by_name["APIs"]["today"] == "rgb(26, 127, 55)"

        browser.open(f"{stack.base_url}/status/", 390, 844, mobile=True, scale=2)
        phone = browser.evaluate("""({inner: innerWidth, scroll: document.documentElement.scrollWidth,
            banner: document.querySelector('#overall').getBoundingClientRect().bottom,
            font: parseFloat(getComputedStyle(document.body).fontSize),
            narrowest: Math.min(...[...document.querySelectorAll('.bars .bar')]
                                   .map(b => b.getBoundingClientRect().width)),
            overflow: [...document.querySelectorAll('main *')]
                      .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
                      .map(e => e.tagName + '.' + e.className).slice(0, 5)})""")
        shot = browser.screenshot(ARTIFACTS / "status-phone.png")
        browser.screenshot(ARTIFACTS / "status-phone-first-screen.png", full_page=False)
    finally:
        browser.close()
    assert phone["inner"] == 390 and phone["scroll"] <= 390, phone  # no sideways scrolling on a phone
    assert phone["overflow"] == [], phone
    assert phone["banner"] < 844 and phone["font"] >= 16 and phone["narrowest"] >= 1, phone
    assert png_size(shot)[0] == 780


def test_every_json_endpoint_has_the_statuspage_shape(site, story):
    stack = site[0]
    for name in SHAPES:
        response = get(stack, f"/api/v2/{name}")
        assert response.headers["Content-Type"].startswith("application/json")
        validate_document(name, response.json())
    data = summary(stack)
    assert data["status"]["indicator"] == "critical"
    assert {i["name"] for i in data["incidents"]} == {"A major outage of Trading", "A partial outage of Web app"}
    assert [m["name"] for m in data["scheduled_maintenances"]] == ["Mutual fund order book upgrade"]


def test_the_feed_is_valid_atom(site, story):
    response = get(site[0], "/history.atom")
    assert response.headers["Content-Type"].startswith("application/atom+xml")
    entries = check_atom(response.content)
    assert {e["title"] for e in entries} >= {"A major outage of Trading", "Mutual fund order book upgrade"}


def test_subscribers_got_each_update_once(site, story):
    inbox = site[2]
    mails = inbox.to("reader@example.com")
    updates = [m for m in mails if "Unsubscribe:" in m]
    subjects = [re.search(r"^Subject: (.*)$", m, re.M)[1] for m in updates]
    # Trading's default and the person's update, and the security incident's update on the web app; not the
    # maintenance of mutual funds, which this reader did not choose
    assert len(updates) == 3, subjects
    assert sum("We found the cause and are restoring order placement." in m for m in updates) == 1
    ids = [h["meta"]["update_id"] for h in Hooks.received]
    assert len(ids) == len(set(ids)) == 4  # the webhook chose every component


def test_no_internal_detail_of_any_incident_reaches_a_public_output(site, story):
    stack, _, inbox, _ = site
    public = [get(stack, "/").text, get(stack, "/history.atom").text]
    public += [get(stack, f"/api/v2/{name}").text for name in SHAPES]
    public += inbox.to("reader@example.com") + [json.dumps(h) for h in Hooks.received]  # (not the security mailbox)
    browser = Browser()
    try:
        browser.open(f"{stack.base_url}/status/", 1280, 900)
        public.append(browser.evaluate("document.documentElement.outerHTML"))
    finally:
        browser.close()
    everything = "\n".join(public)
    for word in [*SECRETS, story["security"]["title"], story["incident"]["title"], story["security"]["id"]]:
        assert word not in everything, word


def test_caches_may_keep_the_page_briefly_and_revalidate(site, story):
    stack = site[0]
    first = get(stack, "/api/v2/summary.json")
    assert first.headers["Cache-Control"] == "public, max-age=30"
    again = requests.get(f"{stack.base_url}/status/api/v2/summary.json", timeout=10,
                         headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
