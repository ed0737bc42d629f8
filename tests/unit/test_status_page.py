"""The status page's pure rules: component status, public text, history bars, Statuspage shapes, Atom, HTML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.documents.status import TemplateTexts, atom_feed, html_page
from shared.domain import subscribers as subs
from shared.domain.maintenance import MaintenanceRequest, maintenance_update, schedule_maintenance
from shared.domain.model import Severity
from shared.domain.status import (
    ComponentStatus,
    IncidentFacts,
    MaintenanceStatus,
    PageState,
    PersonUpdate,
    PublicStatus,
    StatusRefused,
    component_status,
    merge,
    overall,
    person_update,
    public_id,
    split,
    sync_incident,
)
from shared.domain.status_history import daily_bars, uptime_percent
from shared.domain.statuspage import DOCUMENTS, View
from tests.atom_check import check_atom
from tests.statuspage_shapes import validate_document

POLICY = load_policy(DEFAULT_POLICY_PATH)
PAGE = POLICY.status_page
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TEXTS = TemplateTexts()


def facts(n: int = 1, severity: Severity = Severity.CRITICAL, service: str | None = "trading", security: bool = False,
          resolved: bool = False) -> IncidentFacts:
    return IncidentFacts(id=f"INC-2026-{n:04d}", severity=severity, security=security, service=service,
                         resolved=resolved, detected_at=T0)


def sync(state: PageState, f: IncidentFacts, at: datetime = T0, event_id: str | None = None) -> PageState:
    return sync_incident(state, PAGE, f, at, TEXTS, event_id).state


def person(state: PageState, f: IncidentFacts, body: str, status: PublicStatus = PublicStatus.IDENTIFIED,
           at: datetime = T0, update_id: str = "u1", **kw) -> PageState:
    return person_update(state, PAGE, f, PersonUpdate(update_id=update_id, body=body, status=status, actor="priya",
                                                      **kw), at, TEXTS).state


def test_severity_sets_the_component_status_and_critical_and_high_get_a_neutral_default():
    cases = {Severity.CRITICAL: ("major_outage", True), Severity.HIGH: ("partial_outage", True),
             Severity.MEDIUM: ("degraded_performance", False), Severity.LOW: ("operational", False)}
    for severity, (status, published) in cases.items():
        state = sync(PageState.empty(T0), facts(severity=severity))
        assert component_status(state, "trading", T0).value == status, severity
        record = state.incidents.get(public_id("INC-2026-0001"))
        assert bool(record and record.published) is published, severity
    state = sync(PageState.empty(T0), facts(severity=Severity.MEDIUM))
    assert "degraded" in TEXTS.investigating(["Trading"], ComponentStatus.DEGRADED_PERFORMANCE)
    assert TEXTS.investigating(["Trading"], ComponentStatus.DEGRADED_PERFORMANCE).startswith(
        "We are investigating degraded performance of Trading")
    [record] = sync(PageState.empty(T0), facts()).incidents.values()
    assert record.name == "A major outage of Trading" and record.impact == "critical"
    assert record.updates[0].body.startswith("We are investigating a major outage of Trading.")


def test_an_incident_of_no_public_component_changes_nothing():
    for service in (None, "billing-batch"):
        outcome = sync_incident(PageState.empty(T0), PAGE, facts(service=service), T0, TEXTS)
        assert not outcome.changed and outcome.state.incidents == {}


def test_the_rules_never_see_internal_text():
    assert set(IncidentFacts.model_fields) == {"id", "severity", "security", "service", "resolved", "detected_at"}


def test_components_follow_the_worst_open_incident():
    state = sync(PageState.empty(T0), facts(1, Severity.MEDIUM))
    state = sync(state, facts(2, Severity.CRITICAL, service="orders"))
    assert component_status(state, "trading", T0) is ComponentStatus.MAJOR_OUTAGE
    state = sync(state, facts(2, Severity.CRITICAL, service="orders", resolved=True), T0 + timedelta(hours=1))
    assert component_status(state, "trading", T0) is ComponentStatus.DEGRADED_PERFORMANCE
    state = sync(state, facts(1, Severity.MEDIUM, resolved=True), T0 + timedelta(hours=2))
    assert component_status(state, "trading", T0) is ComponentStatus.OPERATIONAL
    assert overall(state, PAGE, T0) == ("none", "All Systems Operational")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(list(Severity)), st.booleans()), max_size=12))
def test_component_status_is_the_worst_mapped_severity_of_open_incidents(steps):
    state = PageState.empty(T0)
    open_now: dict[int, Severity] = {}
    for i, (pick, severity, resolve) in enumerate(steps):
        at = T0 + timedelta(minutes=i)
        if resolve and open_now:
            n = sorted(open_now)[pick % len(open_now)]
            state = sync(state, facts(n, open_now.pop(n), resolved=True), at)
        elif not resolve:
            open_now[i + 1] = severity
            state = sync(state, facts(i + 1, severity), at)
    ranks = {Severity.CRITICAL: ComponentStatus.MAJOR_OUTAGE, Severity.HIGH: ComponentStatus.PARTIAL_OUTAGE,
             Severity.MEDIUM: ComponentStatus.DEGRADED_PERFORMANCE, Severity.LOW: ComponentStatus.OPERATIONAL}
    expected = max((ranks[s] for s in open_now.values()), key=lambda s: s.rank, default=ComponentStatus.OPERATIONAL)
    assert component_status(state, "trading", T0) is expected


def test_duplicates_change_nothing():
    once = sync_incident(PageState.empty(T0), PAGE, facts(), T0, TEXTS, "e1")
    twice = sync_incident(once.state, PAGE, facts(), T0 + timedelta(seconds=5), TEXTS, "e1")
    assert not twice.changed and twice.state == once.state
    again = sync_incident(once.state, PAGE, facts(), T0 + timedelta(seconds=5), TEXTS, "e2")
    assert not again.changed and len(again.state.incidents[public_id("INC-2026-0001")].updates) == 1
    by_person = person(once.state, facts(), "Fixing it")
    assert person(by_person, facts(), "Fixing it", at=T0 + timedelta(minutes=1)) == by_person


def test_a_security_incident_shows_only_what_a_person_published():
    state = sync(PageState.empty(T0), facts(security=True))
    assert state.incidents == {} and component_status(state, "trading", T0) is ComponentStatus.OPERATIONAL
    state = person(state, facts(security=True), "Some customers cannot log in.", PublicStatus.INVESTIGATING)
    [record] = state.incidents.values()
    assert record.restricted and record.name == "Service disruption" and record.components == {}
    state = person(state, facts(security=True), "Logins fail for some.", update_id="u2",
                   components={"web-app": ComponentStatus.PARTIAL_OUTAGE})
    assert component_status(state, "web-app", T0) is ComponentStatus.PARTIAL_OUTAGE
    state = sync(state, facts(security=True, severity=Severity.HIGH), T0 + timedelta(minutes=5))  # severity change
    assert [u.body for u in state.incidents[record.id].updates] == ["Logins fail for some.",
                                                                     "Some customers cannot log in."]
    state = sync(state, facts(security=True, resolved=True), T0 + timedelta(hours=1))
    record = state.incidents[record.id]
    assert record.status is PublicStatus.RESOLVED and len(record.updates) == 2  # no automatic text
    assert component_status(state, "web-app", T0) is ComponentStatus.OPERATIONAL


def test_a_person_sets_a_component_and_severity_changes_do_not_override_it():
    state = sync(PageState.empty(T0), facts(severity=Severity.HIGH))
    state = person(state, facts(severity=Severity.HIGH), "Orders are slow", components={
        "trading": ComponentStatus.DEGRADED_PERFORMANCE, "apis": ComponentStatus.MAJOR_OUTAGE})
    state = sync(state, facts(severity=Severity.CRITICAL), T0 + timedelta(minutes=3))
    assert component_status(state, "trading", T0) is ComponentStatus.DEGRADED_PERFORMANCE
    assert component_status(state, "apis", T0) is ComponentStatus.MAJOR_OUTAGE
    record = state.incidents[public_id("INC-2026-0001")]
    assert record.impact == "critical"
    [update] = [u for u in record.updates if u.id == "u1"]
    assert {(a.code, a.old_status, a.new_status) for a in update.affected_components} == {
        ("trading", ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.DEGRADED_PERFORMANCE),
        ("apis", ComponentStatus.OPERATIONAL, ComponentStatus.MAJOR_OUTAGE)}


def test_severity_raised_on_a_published_incident_adds_a_neutral_update():
    state = sync(PageState.empty(T0), facts(severity=Severity.HIGH))
    state = sync(state, facts(severity=Severity.CRITICAL), T0 + timedelta(minutes=2))
    record = state.incidents[public_id("INC-2026-0001")]
    assert record.updates[0].body.startswith("We are now seeing a major outage of Trading")
    assert component_status(state, "trading", T0) is ComponentStatus.MAJOR_OUTAGE


def test_a_severity_lowered_to_low_gives_the_component_back():
    state = sync(PageState.empty(T0), facts(severity=Severity.MEDIUM))
    state = sync(state, facts(severity=Severity.LOW), T0 + timedelta(minutes=1))
    assert component_status(state, "trading", T0) is ComponentStatus.OPERATIONAL
    state = sync(PageState.empty(T0), facts(severity=Severity.HIGH))
    state = sync(state, facts(severity=Severity.LOW), T0 + timedelta(minutes=1))
    assert component_status(state, "trading", T0) is ComponentStatus.OPERATIONAL
    assert state.incidents[public_id("INC-2026-0001")].status is PublicStatus.INVESTIGATING  # a person closes it


def test_a_medium_incident_is_written_about_only_by_a_person():
    state = sync(PageState.empty(T0), facts(severity=Severity.MEDIUM))
    assert not state.incidents[public_id("INC-2026-0001")].published
    state = person(state, facts(severity=Severity.MEDIUM), "Slow charts", PublicStatus.MONITORING)
    record = state.incidents[public_id("INC-2026-0001")]
    assert record.published and record.monitoring_at == T0 and record.impact == "minor"
    assert record.name == "Degraded performance of Trading"


def test_bad_person_updates_are_refused():
    with pytest.raises(StatusRefused) as err:
        person(PageState.empty(T0), facts(), "x", components={"nope": ComponentStatus.MAJOR_OUTAGE})
    assert err.value.field == "components"
    with pytest.raises(StatusRefused):
        person(PageState.empty(T0), facts(), "x", components={"trading": ComponentStatus.UNDER_MAINTENANCE})


def maintenance(state: PageState, start: datetime, end: datetime, components=("mutual-funds",)) -> PageState:
    return schedule_maintenance(state, PAGE, MaintenanceRequest(
        maintenance_id="mnt-000000000001", name="DB upgrade", body="Read-only for an hour.", scheduled_for=start,
        scheduled_until=end, components=list(components), actor="ops"), T0).state


def test_maintenance_runs_on_its_schedule_and_an_outage_outranks_it():
    state = maintenance(PageState.empty(T0), T0 + timedelta(hours=1), T0 + timedelta(hours=2),
                        ("mutual-funds", "trading"))
    item = state.maintenances["mnt-000000000001"]
    assert item.status_at(T0) is MaintenanceStatus.SCHEDULED
    during = T0 + timedelta(hours=1, minutes=5)
    assert item.status_at(during) is MaintenanceStatus.IN_PROGRESS
    assert component_status(state, "mutual-funds", during) is ComponentStatus.UNDER_MAINTENANCE
    assert overall(state, PAGE, during) == ("maintenance", "Service Under Maintenance")
    state = sync(state, facts(), during)
    assert component_status(state, "trading", during) is ComponentStatus.MAJOR_OUTAGE
    assert item.status_at(T0 + timedelta(hours=3)) is MaintenanceStatus.COMPLETED
    done = maintenance_update(state, "mnt-000000000001", "m2", MaintenanceStatus.COMPLETED, "Done early", True,
                              during + timedelta(minutes=1)).state
    assert component_status(done, "mutual-funds", during + timedelta(minutes=2)) is ComponentStatus.OPERATIONAL
    with pytest.raises(StatusRefused):
        maintenance(PageState.empty(T0), T0 + timedelta(hours=2), T0 + timedelta(hours=1))
    with pytest.raises(StatusRefused):
        maintenance(PageState.empty(T0), T0 - timedelta(hours=2), T0 - timedelta(hours=1))


def test_ninety_daily_bars_show_each_days_worst_status():
    state = PageState.empty(T0 - timedelta(days=100))
    state = sync(state, facts(1, Severity.MEDIUM), T0)  # degraded from day 0 09:00 ...
    state = sync(state, facts(2, Severity.CRITICAL, service="orders"), T0 + timedelta(days=1, hours=2))
    state = sync(state, facts(2, Severity.CRITICAL, service="orders", resolved=True), T0 + timedelta(days=1, hours=3))
    state = sync(state, facts(1, Severity.MEDIUM, resolved=True), T0 + timedelta(days=2, hours=1))  # ... to day 2
    state = maintenance(state, T0 + timedelta(days=4, hours=1), T0 + timedelta(days=4, hours=2), ("trading",))
    now = T0 + timedelta(days=5)
    bars = daily_bars(state, "trading", now)
    assert len(bars) == 90 and bars[-1].day == now.date() and bars[0].day == now.date() - timedelta(days=89)
    by_day = {b.day: b.status for b in bars}
    d0 = T0.date()
    assert by_day[d0 - timedelta(days=1)] is ComponentStatus.OPERATIONAL
    assert by_day[d0] is ComponentStatus.DEGRADED_PERFORMANCE
    assert by_day[d0 + timedelta(days=1)] is ComponentStatus.MAJOR_OUTAGE
    assert by_day[d0 + timedelta(days=2)] is ComponentStatus.DEGRADED_PERFORMANCE
    assert by_day[d0 + timedelta(days=3)] is ComponentStatus.OPERATIONAL
    assert by_day[d0 + timedelta(days=4)] is ComponentStatus.UNDER_MAINTENANCE
    minutes = {b.day: b.minutes_affected for b in bars}
    assert [minutes[d0 + timedelta(days=i)] for i in range(5)] == [15 * 60, 24 * 60, 10 * 60, 0, 0]
    assert uptime_percent(bars) == round(100 * (1 - (15 * 60 + 24 * 60 + 10 * 60) / (90 * 24 * 60)), 2)
    young = daily_bars(PageState.empty(now - timedelta(days=3)), "trading", now)
    assert sum(b.no_data for b in young) == 86 and uptime_percent(young) == 100.0  # 4 days tracked


def test_the_stored_halves_hold_the_open_page_and_the_recent_past():
    state = PageState.empty(T0)
    for n in range(1, 60):
        state = sync(state, facts(n, Severity.HIGH), T0 + timedelta(minutes=n))
        state = sync(state, facts(n, Severity.HIGH, resolved=True), T0 + timedelta(minutes=n, seconds=30))
    state = sync(state, facts(99, Severity.CRITICAL), T0 + timedelta(hours=2))
    open_part, recent = split(state, T0 + timedelta(hours=2))
    assert list(open_part.incidents) == [public_id("INC-2026-0099")]
    assert len(recent.incidents) == 50 and public_id("INC-2026-0059") in recent.incidents
    assert public_id("INC-2026-0001") not in recent.incidents
    assert len(merge(open_part, recent).incidents) == 51
    assert len(open_part.model_dump_json()) < 100_000 and len(recent.model_dump_json()) < 300_000


def busy_state() -> tuple[PageState, datetime]:
    state = sync(PageState.empty(T0 - timedelta(days=30)), facts(1))
    state = person(state, facts(1), "<script>alert('x')</script> & more", components={
        "trading": ComponentStatus.MAJOR_OUTAGE})
    state = sync(state, facts(2, Severity.HIGH, service="web"), T0 + timedelta(minutes=1))
    state = sync(state, facts(2, Severity.HIGH, service="web", resolved=True), T0 + timedelta(minutes=30))
    state = maintenance(state, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    state = schedule_maintenance(state, PAGE, MaintenanceRequest(
        maintenance_id="mnt-000000000002", name="Portal deploy", body="Short blips.",
        scheduled_for=T0 - timedelta(minutes=10), scheduled_until=T0 + timedelta(hours=3),
        components=["partner-portal"], actor="ops"), T0).state
    return state, T0 + timedelta(minutes=45)


def test_every_document_has_the_statuspage_shape():
    state, now = busy_state()
    view = View(PAGE, state, now, "https://status.example.com", "Asia/Kolkata")
    for name in DOCUMENTS:
        validate_document(name, view.document(name))
    summary = view.document("summary.json")
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    assert [i["name"] for i in summary["incidents"]] == ["A major outage of Trading"]
    assert [m["status"] for m in summary["scheduled_maintenances"]] == ["in_progress", "scheduled"]
    assert [i["status"] for i in view.document("incidents.json")["incidents"]] == ["resolved", "identified"]
    ids = [c["id"] for c in summary["components"]]
    assert ids == ["apps", "web-app", "mobile-app", "investing", "trading", "mutual-funds", "partners",
                   "partner-portal", "apis"]
    assert [c["position"] for c in summary["components"]] == list(range(1, 10))
    assert summary["page"]["updated_at"].endswith("Z")
    assert view.document("nope.json") is None


def test_the_feed_is_valid_atom_and_escapes_text():
    state, now = busy_state()
    feed = atom_feed(View(PAGE, state, now, "https://status.example.com", "Etc/UTC"))
    entries = check_atom(feed)
    assert [e["title"] for e in entries][:2] == ["Portal deploy", "DB upgrade"] or len(entries) == 4
    assert {e["title"] for e in entries} == {"A major outage of Trading", "A partial outage of Web app", "DB upgrade",
                                             "Portal deploy"}
    assert b"<script>" not in feed


def test_the_html_page_escapes_what_people_write():
    state, now = busy_state()
    html = html_page(View(PAGE, state, now, "https://status.example.com", "Etc/UTC"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('class="bars"') == 6 and 'lang="en"' in html and 'name="viewport"' in html


def test_subscriber_input_is_validated():
    ok = subs.validate(PAGE, " Reader@Example.COM ", None, ["trading"], allow_http=False)
    assert ok.kind == "email" and ok.address == "Reader@example.com" and ok.components == ["trading"]
    assert subs.validate(PAGE, None, "https://hooks.example.com/x", [], allow_http=False).kind == "webhook"
    bad = [("no-at", None, [], "email"), (None, "http://hooks.example.com", [], "webhook"),
           (None, "https://127.0.0.1/x", [], "webhook"), (None, "https://localhost/x", [], "webhook"),
           (None, "https://user:pw@hooks.example.com", [], "webhook"), ("a@b.co", None, ["x"], "components"),
           (None, None, [], "email"), ("a@b.co", "https://h.example", [], "webhook")]
    for email, hook, comps, field in bad:
        with pytest.raises(subs.Invalid) as err:
            subs.validate(PAGE, email, hook, comps, allow_http=False)
        assert err.value.field == field, (email, hook)
    assert subs.validate(PAGE, None, "http://127.0.0.1:9/x", [], allow_http=True).kind == "webhook"


def test_tokens_and_component_choices():
    sid = subs.subscriber_id("email", "a@b.co")
    assert sid == subs.subscriber_id("email", "A@B.CO") and len(sid) == 24
    token = subs.token(sid, "s" * 32)
    assert subs.parse_token(token) == (sid, "s" * 32)
    for bad in (None, "", "x.y", sid + ".short", "../" + token):
        with pytest.raises(subs.Invalid):
            subs.parse_token(bad)
    assert subs.secret_matches("abc", "abc") and not subs.secret_matches("abc", "abd")
    assert not subs.secret_matches(None, "abc")
    assert subs.wants([], ["trading"]) and subs.wants(["trading"], ["trading", "apis"])
    assert not subs.wants(["web-app"], ["trading"])
    assert subs.may_resend(None, T0) and not subs.may_resend(T0, T0 + timedelta(seconds=30))


def test_webhooks_to_internal_addresses_are_refused_in_production():
    from shared.adapters.webhook import WebhookError, WebhookSender

    with pytest.raises(WebhookError) as err:
        WebhookSender(allow_internal=False).post("http://127.0.0.1:9/hook", {"x": 1})
    assert not err.value.retryable and "internal address" in str(err.value)
