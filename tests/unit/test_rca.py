"""RCA drafts, edits, the draft → in review → published cycle, and the Markdown export (exact document)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.documents.rca import file_name, rca_markdown
from shared.domain import rca as rca_domain
from shared.domain.actions import apply_command, start_escalation
from shared.domain.commands import Action, Actor, Command
from shared.domain.incident import Incident, TimelineEntry
from shared.domain.model import AlertCategory, Severity
from shared.domain.rca import RcaStatus, TransitionRefused
from shared.domain.resolution import emergency_change

POLICY = load_policy(DEFAULT_POLICY_PATH)
EXPECTED = Path(__file__).parents[1] / "fixtures" / "rca" / "INC-2026-0042.md"
T0 = datetime(2026, 12, 1, 14, 2, tzinfo=UTC)
M = timedelta(minutes=1)


def _apply(incident: Incident, change) -> Incident:
    return Incident(**(incident.model_dump() | change.updates))


def sample() -> tuple[Incident, list[TimelineEntry]]:
    """A critical checkout outage: alert, page, acknowledgement after 6 minutes, a rollback, resolution."""
    incident = Incident(id="INC-2026-0042", number=42, title="Checkout returns 5xx", summary="Error rate 38%",
                        severity=Severity.CRITICAL, category=AlertCategory.APPLICATION_PERFORMANCE,
                        type="system_alert", group_key="g", source="grafana", service="checkout",
                        detected_at=T0, created_at=T0 + M, updated_at=T0 + M)
    incident = _apply(incident, start_escalation(POLICY, incident.type, incident.severity, T0 + M))
    incident = incident.model_copy(update={"acknowledged_at": T0 + 7 * M, "acknowledged_by": "DevOps Engineer Two",
                                           "owner": "devops-2", "mitigated_at": T0 + 20 * M})
    incident = _apply(incident, emergency_change(POLICY, incident, "devops-2", "slack",
                                                 "Rolled back checkout to v41 | skipping canary", T0 + 18 * M))
    command = Command(command_id="c", incident_id=incident.id, action=Action.RESOLVE, at=T0 + 42 * M,
                      actor=Actor(kind="api", id="team-lead", name="team-lead"),
                      summary="Rolled back the 14:00 deploy of checkout v42")
    incident = _apply(incident, apply_command(POLICY, incident, command, T0 + 42 * M))
    timeline = [
        TimelineEntry(at=T0 + M, kind="incident.opened", text="Incident opened from grafana", source="grafana"),
        TimelineEntry(at=T0 + M, kind="alert.firing", text="Alert firing: Checkout 5xx rate above 5%",
                      source="grafana"),
        TimelineEntry(at=T0 + 2 * M, kind="page.sent", text="Paged DevOps Engineer One (level 1, initial)"),
        TimelineEntry(at=T0 + 7 * M, kind="incident.acknowledged", actor="DevOps Engineer Two", source="slack",
                      text="Acknowledged by DevOps Engineer Two after 6 min"),
        TimelineEntry(at=T0 + 18 * M, kind="change.recorded", actor="devops-2", source="slack",
                      text="Emergency change C1: Rolled back checkout to v41 | skipping canary"),
        TimelineEntry(at=T0 + 42 * M, kind="incident.resolved", actor="team-lead", source="api",
                      text="Resolved by team-lead: Rolled back the 14:00 deploy of checkout v42"),
    ]
    return incident, timeline


def drafted() -> rca_domain.Rca:
    incident, timeline = sample()
    return rca_domain.draft(incident, timeline, rca_id="RCA-INC-2026-0042", alerts_total=3, pages_sent=4,
                            now=T0 + 43 * M)


def completed() -> rca_domain.Rca:
    rca = rca_domain.edit(drafted(), by="team-lead", now=T0 + 60 * M, sections={
        "primary_cause": "Checkout v42 read a config key that v41's config map did not have.",
        "contributing_causes": "- The canary stage was skipped for the release.\n- No alert on config key misses.",
        "lessons_learned": "Config and code ship together, or not at all."},
        prevention_measures=[
            {"action": "Ship config with the release in one Helm chart", "owner": "devops-1", "due": "2026-12-15"},
            {"action": "Alert on missing config keys", "owner": "engineer-1", "due": "2026-12-10",
             "link": "https://plane.example.com/wealthy/issues/ENG-12"}])
    rca = rca_domain.transition(rca, RcaStatus.IN_REVIEW, by="team-lead", now=T0 + 61 * M)
    return rca_domain.transition(rca, RcaStatus.PUBLISHED, by="cto", now=T0 + 24 * 60 * M)


def test_the_draft_is_prefilled_from_the_incident_and_its_timeline():
    rca = drafted()
    assert rca.status is RcaStatus.DRAFT and rca.date == date(2026, 12, 1) and rca.severity is Severity.CRITICAL
    assert "for 42 min" in rca.sections["impact"] and "3 distinct alert(s)" in rca.sections["impact"]
    assert "First alert: Alert firing: Checkout 5xx rate above 5%" in rca.sections["detection"]
    assert rca.sections["response"].startswith("Acknowledged by DevOps Engineer Two after 6 min.")
    assert "C1 Rolled back checkout" in rca.sections["response"]
    assert rca.sections["resolution"] == "Rolled back the 14:00 deploy of checkout v42"
    assert rca.sections["went_well"] == "- Acknowledged within the response target."
    assert rca.sections["primary_cause"] == "" and rca.prevention_measures == []
    assert [e.text for e in rca.timeline][0] == "Incident opened from grafana"
    assert not any("Paged" in e.text for e in rca.timeline)  # pages are counted, not listed
    assert rca.review_due_at == T0 + 42 * M + timedelta(hours=48)


def test_the_markdown_export_of_a_sample_incident_is_exactly_the_expected_document():
    markdown = rca_markdown(completed())
    assert markdown == EXPECTED.read_text()
    assert file_name(completed()) == "2026-12-01-checkout-returns-5xx.md"


def test_prevention_measures_get_stable_ids_that_survive_edits():
    rca = completed()
    assert [m.id for m in rca.prevention_measures] == ["PM-1", "PM-2"]
    draft = rca_domain.edit(drafted(), by="x", now=T0, prevention_measures=[
        {"action": "first one", "owner": "a", "due": "2026-12-10"},
        {"action": "second one", "owner": "b", "due": "2026-12-10"}])
    again = rca_domain.edit(draft, by="x", now=T0, prevention_measures=[
        {"id": "PM-2", "action": "second one", "owner": "b", "due": "2026-12-10"},
        {"action": "third one", "owner": "c", "due": "2026-12-11"}])
    assert [(m.id, m.action) for m in again.prevention_measures] == [("PM-2", "second one"), ("PM-3", "third one")]


@pytest.mark.parametrize(("start", "to", "reason"), [
    ("draft", "published", "invalid_transition"),
    ("published", "draft", "invalid_transition"),
    ("published", "in_review", "invalid_transition"),
    ("draft", "in_review", "incomplete"),
])
def test_invalid_or_premature_transitions_are_refused(start, to, reason):
    rca = drafted() if start == "draft" else completed()
    with pytest.raises(TransitionRefused) as refused:
        rca_domain.transition(rca, RcaStatus(to), by="x", now=T0)
    assert refused.value.reason == reason


def test_review_can_send_an_rca_back_to_draft_and_published_ones_are_not_edited():
    rca = rca_domain.edit(drafted(), by="x", now=T0, sections={"primary_cause": "a cause"})
    rca = rca_domain.transition(rca, RcaStatus.IN_REVIEW, by="x", now=T0)
    back = rca_domain.transition(rca, RcaStatus.DRAFT, by="cto", now=T0)
    assert back.status is RcaStatus.DRAFT and back.history[-1].what == "moved to draft"
    with pytest.raises(TransitionRefused):
        rca_domain.edit(completed(), by="x", now=T0, sections={"impact": "more"})
    with pytest.raises(ValueError, match="unknown section"):
        rca_domain.edit(drafted(), by="x", now=T0, sections={"rootcause": "typo"})
