"""CERT-In documents: the report draft (Markdown and e-mail) and the compliance record, from the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.config.policy import Policy
from shared.documents.certin import (
    REPORT_FIELDS,
    REQUIRED_FIELDS,
    evidence_markdown,
    format_local_utc,
    format_utc_local,
    report_email,
    report_markdown,
)
from shared.domain import certin
from shared.domain.certin import Assessment, CertInState, FollowUp, Submission
from shared.domain.incident import Incident, IncidentStatus, TimelineEntry
from shared.domain.model import AlertCategory
from tests.unit.factories import default_policy, incident

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "expected" / "certin_evidence.md"
T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)  # 2026-12-05 01:30 IST
IST = ZoneInfo("Asia/Kolkata")
H = timedelta(hours=1)
MIN = timedelta(minutes=1)

COMPLETE = {
    "occurred_at": "2026-12-04T15:10:00+05:30",
    "affected_systems": "partner-portal login service (GKE, asia-south1), 3 pods",
    "description": "Credential stuffing against the partner portal login",
    "indicators": "203.0.113.7, 198.51.100.23",
    "impact": "No data accessed; logins throttled for 10 minutes",
    "security_systems": "Cloud Armor WAF, reCAPTCHA Enterprise, GKE audit logs",
    "actions_taken": "Blocked the source IPs; forced password resets for 12 partners",
}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


def security_incident(detected_at: datetime = T0, **changes) -> Incident:
    fields = {
        "id": "INC-2026-0042",
        "number": 42,
        "title": "Brute-force login attempts on partner portal",
        "summary": "1,200 failed logins from 203.0.113.7 in 5 minutes",
        "severity": "critical",
        "category": AlertCategory.SECURITY,
        "type": "system_security",
        "service": "partner-portal",
        "labels": {"alertname": "BruteForce", "instance": "portal-7f9c:8080", "src_ip": "203.0.113.7"},
        "detected_at": detected_at,
        "created_at": detected_at,
        "updated_at": detected_at,
    }
    fields.update(changes)
    return incident(**fields)


def fresh_state(policy: Policy, inc: Incident) -> CertInState:
    return certin.start(policy.cert_in, inc.detected_at, f"{inc.title}\n{inc.summary}")


def entry(at: datetime, kind: str, text: str, actor: str = "system", **data) -> TimelineEntry:
    return TimelineEntry(at=at, kind=kind, text=text, actor=actor, data=data)


def lifecycle(policy: Policy) -> tuple[Incident, CertInState, list[TimelineEntry]]:
    """Detected 10:00 UTC, reminded, assessed at 1h45m, two report versions, submitted at 4h20m, resolved."""
    inc = security_incident(status=IncidentStatus.RESOLVED, resolved_at=T0 + 5 * H)
    state = fresh_state(policy, inc)
    state = certin.fire(state, certin.due(state, T0 + 90 * MIN), T0 + 90 * MIN)
    state = certin.assess(state, Assessment(reportable=True, type=3, by="sre-1", at=T0 + 105 * MIN,
                                            reason="Unauthorised login attempts on a production system"))
    state = certin.fire(state, certin.due(state, T0 + 4 * H), T0 + 4 * H)
    state = state.model_copy(update={
        "report": {"impact": "No data accessed; logins throttled for 10 minutes",
                   "security_systems": "Cloud Armor WAF\nreCAPTCHA Enterprise"},
        "report_versions": [
            {"at": (T0 + 150 * MIN).isoformat(), "by": "sre-1", "fields": {"impact": "No data accessed"}},
            {"at": T0 + 3 * H, "by": "devops-1",
             "fields": {"impact": "No data accessed; logins throttled for 10 minutes",
                        "security_systems": "Cloud Armor WAF\nreCAPTCHA Enterprise"}},
        ],
        "mailbox_notified_at": T0 + MIN,
        "follow_ups": [FollowUp(at=T0 + 24 * H, by="cto", text="Root cause: leaked test credentials, rotated.")],
    })
    state = certin.submit(state, Submission(at=T0 + 260 * MIN, method="email", reference="CERTIn-2026-0077",
                                            by="sre-1", recorded_at=T0 + 265 * MIN))
    timeline = [
        entry(T0, "incident.opened", "Incident opened from Grafana alert BruteForce"),
        entry(T0 + 4 * MIN, "incident.acknowledged", "Acknowledged", "sre-1"),
        entry(T0 + 50 * MIN, "note", "Blocked 203.0.113.7 in Cloud Armor", "devops-1"),
        entry(T0 + 90 * MIN, "cert_in.assessment_reminder", "CERT-In: assess reportability before 12:00 UTC",
              deadline="assessment_reminder-1800"),
        entry(T0 + 105 * MIN, "cert_in.assessed", "Assessed reportable as type 3", "sre-1"),
        entry(T0 + 4 * H, "cert_in.report_reminder", "CERT-In: report due at 16:00 UTC",
              deadline="report_reminder-14400"),
        entry(T0 + 260 * MIN, "cert_in.submitted", "Report e-mailed to CERT-In", "sre-1"),
        entry(T0 + 5 * H, "incident.resolved", "Resolved: source blocked, credentials rotated", "sre-1"),
    ]
    return inc, state, timeline


def missing_section(markdown: str) -> str:
    return markdown.split("## Missing fields\n\n", 1)[1]


# ---- the compliance record -------------------------------------------------------------------------------------

def test_evidence_matches_the_expected_document(policy: Policy) -> None:
    inc, state, timeline = lifecycle(policy)
    assert evidence_markdown(policy, inc, state, timeline) == EXPECTED.read_text(encoding="utf-8")


def test_evidence_ignores_the_order_of_the_timeline(policy: Policy) -> None:
    inc, state, timeline = lifecycle(policy)
    assert evidence_markdown(policy, inc, state, timeline[::-1]) == evidence_markdown(policy, inc, state, timeline)


def test_evidence_of_a_breach_across_midnight(policy: Policy) -> None:
    inc = security_incident(MIDNIGHT)
    state = fresh_state(policy, inc)
    state = certin.fire(state, certin.due(state, MIDNIGHT + 6 * H), MIDNIGHT + 6 * H + 30 * MIN)
    text = evidence_markdown(policy, inc, state, [])
    assert "- **Detected (clock started):** 2026-12-04 20:00:00 UTC (2026-12-05 01:30:00 IST)\n" in text
    assert "- **Report was due:** 2026-12-05 02:00:00 UTC (07:30:00 IST)\n" in text
    assert "- **Breach raised:** 2026-12-05 02:30:00 UTC (08:00:00 IST)\n" in text
    # Fired deadlines without a timeline entry say so; the breach time stands in for the report deadline.
    assert "| 4h | 2026-12-05 00:00:00 UTC (05:30:00 IST) | fired (time not in the timeline) |" in text
    assert "| 6h | 2026-12-05 02:00:00 UTC (07:30:00 IST) | fired at 2026-12-05 02:30:00 UTC (08:00:00 IST) |" in text
    assert "Not assessed yet." in text and "Not submitted." in text and "No versions recorded." in text


def test_evidence_of_an_incident_assessed_not_reportable(policy: Policy) -> None:
    inc = security_incident()
    state = certin.assess(fresh_state(policy, inc), Assessment(reportable=False, reason="Blocked scan, no access",
                                                               by="U0SLACKONLY", at=T0 + 30 * MIN))
    text = evidence_markdown(policy, inc, state, [])
    assert "- **Reportable:** no\n- **Type:** not given\n" in text
    assert "- **Assessed by:** U0SLACKONLY\n" in text  # not a person of the policy: shown as it is
    assert "| not needed: assessed |" in text and "| not needed: assessed not reportable |" in text
    assert "- **Timeliness:** 30m after detection, within the 2h limit\n" in text


def test_a_late_submission_is_recorded_as_late(policy: Policy) -> None:
    inc = security_incident()
    state = certin.submit(fresh_state(policy, inc), Submission(at=T0 + 6 * H + 10 * MIN, method="portal",
                                                               reference="ACK-1", by="sre-1", recorded_at=T0 + 7 * H))
    text = evidence_markdown(policy, inc, state, [])
    assert "- **Method:** portal\n" in text
    assert "- **Timeliness:** 6h10m after detection, 10m past the 6h limit\n" in text


def test_report_versions_may_list_only_the_keys_changed(policy: Policy) -> None:
    inc = security_incident()
    state = fresh_state(policy, inc).model_copy(update={"report_versions": [
        {"at": "2026-12-04T11:00:00+00:00", "by": "sre-1", "fields": ["impact", "custom"]}]})
    text = evidence_markdown(policy, inc, state, [])
    assert "### Version 1: 2026-12-04 11:00:00 UTC (16:30:00 IST) by Site Reliability Engineer (sre-1)\n" in text
    assert "- **Impact** (`impact`)\n- **custom** (`custom`)\n" in text


# ---- the report draft ----------------------------------------------------------------------------------------

def test_the_draft_lists_missing_fields_until_they_are_completed(policy: Policy) -> None:
    inc = security_incident(labels={}, summary="")
    state = fresh_state(policy, inc)
    draft = report_markdown(policy, inc, state, [])
    missing = missing_section(draft)
    for key in REQUIRED_FIELDS:
        if key not in ("affected_systems", "description"):  # drafted from the service and the title
            assert f"- {REPORT_FIELDS[key]}: set `{key}` in the report" in missing, key
    assert "- **Missing fields:** 5\n" in draft
    assert "## 7. Impact\n\n_To be completed._\n" in draft

    partly = state.model_copy(update={"report": {"impact": "No data accessed", "indicators": "  "}})
    missing = missing_section(report_markdown(policy, inc, partly, []))
    assert "`impact`" not in missing and "`indicators`" in missing  # blank is still missing

    done = state.model_copy(update={"report": COMPLETE})
    draft = report_markdown(policy, inc, done, [])
    assert missing_section(draft) == "None: every required field is complete.\n"
    assert "- **Missing fields:** none\n" in draft
    for value in COMPLETE.values():
        if "T15:10" not in value:
            assert value in draft


def test_the_draft_follows_the_reporting_form(policy: Policy) -> None:
    inc, state, timeline = lifecycle(policy)
    draft = report_markdown(policy, inc, state, timeline)
    headings = [line for line in draft.splitlines() if line.startswith("## ")]
    assert headings == ["## 1. Reporter and point of contact", "## 2. Organisation", "## 3. Incident",
                        "## 4. Affected systems and services", "## 5. Description and symptoms observed",
                        "## 6. Indicators", "## 7. Impact", "## 8. Security systems deployed",
                        "## 9. Actions taken so far", "## 10. Logs and evidence", "## 11. Other information",
                        "## Missing fields"]
    for line in ["- **Name:** Site Reliability Engineer", "- **E-mail:** sre1@example.com",
                 "- **Phone:** +91 90000 00008", "- **Name:** Wealthy", "- **Sector:** BFSI",
                 "- **Type (Annexure I):** 3. Unauthorised access of IT systems/data",
                 "- **Date and time of detection:** 2026-12-04 15:30:00 IST (10:00:00 UTC)"
                 " _(starts the 6-hour reporting clock)_",
                 "- **Report due:** 2026-12-04 21:30:00 IST (16:00:00 UTC)",
                 "- **Ongoing:** No, resolved at 2026-12-04 20:30:00 IST (15:00:00 UTC)",
                 "- **Reportability:** reportable, assessed by Site Reliability Engineer (sre-1)"
                 " at 2026-12-04 17:15:00 IST (11:45:00 UTC)",
                 "- **Submitted:** by email at 2026-12-04 19:50:00 IST (14:20:00 UTC) by Site Reliability Engineer"
                 " (sre-1), reference CERTIn-2026-0077"]:
        assert line + "\n" in draft, line
    # Drafted from the alert: service and host labels, indicator labels; the report's own values win.
    assert "## 4. Affected systems and services\n\n- service: partner-portal\n- instance: portal-7f9c:8080\n\n" \
           "_(drafted from the alert)_\n" in draft
    assert "## 6. Indicators\n\n- src_ip: 203.0.113.7\n\n_(drafted from the alert)_\n" in draft
    assert "## 8. Security systems deployed\n\nCloud Armor WAF\nreCAPTCHA Enterprise\n" in draft
    assert "## 5. Description and symptoms observed\n\nBrute-force login attempts on partner portal\n\n" \
           "1,200 failed logins from 203.0.113.7 in 5 minutes\n" in draft


def test_actions_are_drafted_from_the_timeline_without_the_clock_entries(policy: Policy) -> None:
    inc, state, timeline = lifecycle(policy)
    actions = report_markdown(policy, inc, state, timeline).split("## 9. Actions taken so far\n\n")[1].split("\n## ")[0]
    assert actions == (
        "- 2026-12-04 15:30:00 IST (10:00:00 UTC): Incident opened from Grafana alert BruteForce (system)\n"
        "- 2026-12-04 15:34:00 IST (10:04:00 UTC): Acknowledged (Site Reliability Engineer)\n"
        "- 2026-12-04 16:20:00 IST (10:50:00 UTC): Blocked 203.0.113.7 in Cloud Armor (DevOps Engineer One)\n"
        "- 2026-12-04 20:30:00 IST (15:00:00 UTC): Resolved: source blocked, credentials rotated"
        " (Site Reliability Engineer)\n\n"
        "_(drafted from the incident timeline)_\n")
    overridden = state.model_copy(update={"report": {**state.report, "actions_taken": "Blocked; rotated"}})
    assert "## 9. Actions taken so far\n\nBlocked; rotated\n\n## 10." in report_markdown(policy, inc, overridden,
                                                                                        timeline)


def test_ist_conversion_across_midnight(policy: Policy) -> None:
    assert format_local_utc(MIDNIGHT, IST) == "2026-12-05 01:30:00 IST (2026-12-04 20:00:00 UTC)"
    assert format_utc_local(MIDNIGHT, IST) == "2026-12-04 20:00:00 UTC (2026-12-05 01:30:00 IST)"
    assert format_utc_local(T0, IST) == "2026-12-04 10:00:00 UTC (15:30:00 IST)"
    assert format_utc_local(datetime(2026, 12, 4, 10, 0), IST) == "2026-12-04 10:00:00 UTC (15:30:00 IST)"  # naive: UTC
    inc = security_incident(MIDNIGHT)
    draft = report_markdown(policy, inc, fresh_state(policy, inc), [])
    assert "- **Date and time of detection:** 2026-12-05 01:30:00 IST (2026-12-04 20:00:00 UTC)" in draft
    assert "- **Date and time of occurrence:** 2026-12-05 01:30:00 IST (2026-12-04 20:00:00 UTC)" \
           " _(not known yet: shown as the time of detection)_\n" in draft
    assert "- **Report due:** 2026-12-05 07:30:00 IST (02:00:00 UTC)\n" in draft


@pytest.mark.parametrize(("given", "shown"), [
    ("2026-12-05T01:10:00+05:30", "2026-12-05 01:10:00 IST (2026-12-04 19:40:00 UTC)"),
    ("2026-12-04T19:40:00Z", "2026-12-05 01:10:00 IST (2026-12-04 19:40:00 UTC)"),
    ("2026-12-05 01:10", "2026-12-05 01:10:00 IST (2026-12-04 19:40:00 UTC)"),  # no offset: local time
    ("around 1 am on 5 December", "around 1 am on 5 December"),
])
def test_the_time_of_occurrence_a_person_gives(policy: Policy, given: str, shown: str) -> None:
    inc = security_incident(MIDNIGHT)
    state = fresh_state(policy, inc).model_copy(update={"report": {"occurred_at": given}})
    draft = report_markdown(policy, inc, state, [])
    assert f"- **Date and time of occurrence:** {shown}\n" in draft
    assert "`occurred_at`" not in missing_section(draft)


def test_without_any_type_the_type_is_to_be_completed(policy: Policy) -> None:
    inc = incident(detected_at=T0, created_at=T0, updated_at=T0)  # "Disk usage above 90%": no CERT-In signal
    state = fresh_state(policy, inc)
    assert state.suggested_type is None
    draft = report_markdown(policy, inc, state, [])
    assert "- **Type (Annexure I):** _to be completed_\n" in draft
    assert "- Incident type (Annexure I): record the assessment with its type\n" in missing_section(draft)
    subject, body = report_email(policy, inc, state, [])
    assert subject == "Cyber security incident report: Wealthy – INC-2026-0001 – type to be determined"
    assert "   Type (Annexure I): Not yet available (to follow in an update)\n" in body


def test_a_suggested_type_is_marked_until_assessed(policy: Policy) -> None:
    inc = security_incident()
    state = fresh_state(policy, inc)
    note = "3. Unauthorised access of IT systems/data _(suggested from the alert; to be confirmed in the assessment)_"
    assert f"- **Type (Annexure I):** {note}\n" in report_markdown(policy, inc, state, [])
    assessed = certin.assess(state, Assessment(reportable=True, type=7, reason="phishing", by="sre-1", at=T0 + H))
    assert "- **Type (Annexure I):** 7. Identity Theft, spoofing and phishing attacks\n" in report_markdown(
        policy, inc, assessed, [])


def test_a_point_of_contact_without_a_phone_is_a_missing_field(policy: Policy) -> None:
    cert_in = policy.cert_in.model_copy(update={"point_of_contact": "engineer-1"})
    no_phone = policy.model_copy(update={"cert_in": cert_in})
    inc = security_incident()
    draft = report_markdown(no_phone, inc, fresh_state(no_phone, inc), [])
    assert "- **Phone:** _to be completed_\n" in draft
    assert "- Point of contact phone: add `phone` to person 'engineer-1' in the policy\n" in missing_section(draft)


# ---- the e-mail --------------------------------------------------------------------------------------------------

def test_the_email_subject_and_body(policy: Policy) -> None:
    inc, state, timeline = lifecycle(policy)
    subject, body = report_email(policy, inc, state, timeline)
    assert subject == ("Cyber security incident report: Wealthy – INC-2026-0042 – "
                       "Unauthorised access of IT systems/data")
    assert body.startswith("Dear CERT-In team,\n\nWealthy reports the following cyber security incident under the "
                           "CERT-In Directions of 28 April 2022\n")
    for line in ["   Name: Site Reliability Engineer", "   E-mail: sre1@example.com", "   Sector: BFSI",
                 "   Type (Annexure I): 3. Unauthorised access of IT systems/data",
                 "   Date and time of detection: 2026-12-04 15:30:00 IST (10:00:00 UTC)",
                 "   Ongoing: No, resolved at 2026-12-04 20:30:00 IST (15:00:00 UTC)",
                 "   Our reference: INC-2026-0042",
                 "7. IMPACT\n   No data accessed; logins throttled for 10 minutes",
                 "8. SECURITY SYSTEMS DEPLOYED\n   Cloud Armor WAF\n   reCAPTCHA Enterprise",
                 "   - 2026-12-04 16:20:00 IST (10:50:00 UTC): Blocked 203.0.113.7 in Cloud Armor"
                 " (DevOps Engineer One)",
                 "INFORMATION TO FOLLOW\n   - Date and time of occurrence\n"]:
        assert line in body, line
    assert body.endswith("Regards,\nSite Reliability Engineer\nPoint of contact for CERT-In, Wealthy\n"
                         "sre1@example.com\n+91 90000 00008\n")
    assert "**" not in body and "_(" not in body and "`" not in body  # plain text, no Markdown
    assert "cert_in." not in body  # the clock's own entries are not actions


def test_a_complete_email_has_nothing_to_follow(policy: Policy) -> None:
    inc = security_incident()
    state = fresh_state(policy, inc).model_copy(update={"report": COMPLETE})
    subject, body = report_email(policy, inc, state, [])
    assert "INFORMATION TO FOLLOW" not in body and "Not yet available" not in body
    assert "will follow in an update" not in body
    assert "   Date and time of occurrence: 2026-12-04 15:10:00 IST (09:40:00 UTC)\n" in body
    assert "\n" not in subject


def test_documents_are_pure_functions_of_their_inputs(policy: Policy) -> None:
    inc, state, timeline = lifecycle(policy)
    before = state.model_dump()
    assert report_markdown(policy, inc, state, timeline) == report_markdown(policy, inc, state, timeline)
    assert report_email(policy, inc, state, timeline) == report_email(policy, inc, state, timeline)
    assert state.model_dump() == before
