"""The CERT-In clock: reportable cybersecurity incidents go to CERT-In within 6 hours of detection.

Pure rules. The clock starts at detection (the first alert's time, or when a person reported it).
Deadlines are fixed at the start from the policy (assessment due in 2 h with a reminder before,
report due in 6 h with reminders at 4 h and 5 h 30 m); each is acted on once, and only while it
still applies: an assessment deadline only until someone has assessed, a report deadline only
until the report is submitted or the incident is assessed as not reportable. A deadline that passes
while the incident is (again) reportable fires at once, so nothing passes unnoticed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.config.policy import CertInPolicy

# Annexure I of the CERT-In Directions of 28 April 2022 (No. 20(3)/2022-CERT-In).
CERT_IN_TYPES: dict[int, str] = {
    1: "Targeted scanning/probing of critical networks/systems",
    2: "Compromise of critical systems/information",
    3: "Unauthorised access of IT systems/data",
    4: "Defacement of website or intrusion into a website and unauthorised changes",
    5: "Malicious code attacks (virus/worm/Trojan/Bots/Spyware/Ransomware/Cryptominers)",
    6: "Attack on servers such as Database, Mail and DNS and network devices such as Routers",
    7: "Identity Theft, spoofing and phishing attacks",
    8: "Denial of Service (DoS) and Distributed Denial of Service (DDoS) attacks",
    9: "Attacks on Critical infrastructure, SCADA and operational technology systems and Wireless networks",
    10: "Attacks on Application such as E-Governance, E-Commerce etc.",
    11: "Data Breach",
    12: "Data Leak",
    13: "Attacks on Internet of Things (IoT) devices and associated systems, networks, software, servers",
    14: "Attacks or incident affecting Digital Payment systems",
    15: "Attacks through Malicious mobile Apps",
    16: "Fake mobile Apps",
    17: "Unauthorised access to social media accounts",
    18: "Attacks or malicious/suspicious activities affecting Cloud computing systems/servers/software/applications",
    19: "Attacks or malicious/suspicious activities affecting Big Data, Block chain, virtual assets, virtual asset "
        "exchanges, custodian wallets, Robotics, 3D and 4D Printing, additive manufacturing, Drones",
    20: "Attacks or malicious/suspicious activities affecting Artificial Intelligence and Machine Learning systems",
}

# Signals in an alert's text and labels, most specific first.
_SIGNALS: list[tuple[str, int]] = [
    (r"data ?breach|exfiltrat", 11),
    (r"data ?leak|leaked|exposed (bucket|data|records)", 12),
    (r"ransomware|malware|virus|trojan|worm|spyware|cryptomin|botnet", 5),
    (r"defac", 4),
    (r"\bddos\b|denial[ -]of[ -]service|\bdos attack|syn flood", 8),
    (r"phish|spoof|identity theft|impersonat", 7),
    (r"social media", 17),
    (r"fake (mobile )?app", 16),
    (r"malicious (mobile )?app", 15),
    (r"\bupi\b|payment|card (fraud|data)|\bpci\b", 14),
    (r"scada|\bot network|wireless", 9),
    (r"\biot\b", 13),
    (r"blockchain|virtual asset|crypto ?wallet|custodian", 19),
    (r"\bml model|machine learning|\bai model|prompt injection", 20),
    (r"compromis|rootkit|backdoor|privilege escalation", 2),
    (r"unauthori[sz]ed|brute[ -]?force|auth(entication)?[ _-]?fail|credential|account takeover", 3),
    (r"\bdns\b|database|mail server|router|\bsmtp\b", 6),
    (r"sql ?injection|\bxss\b|\bwaf\b|web attack|application attack", 10),
    (r"\bgke\b|\bgcp\b|cloud|\biam\b|bucket", 18),
    (r"scan|prob(e|ing)|port sweep|recon", 1),
]

DeadlineKind = Literal["assessment_reminder", "assessment_due", "report_reminder", "report_due"]


def suggest_type(text: str) -> int | None:
    """The Annexure I type an alert's words point to, if any."""
    for pattern, type_id in _SIGNALS:
        if re.search(pattern, text, re.IGNORECASE):
            return type_id
    return None


class Deadline(BaseModel):
    key: str  # unique within the incident, e.g. "report_reminder-14400"
    kind: DeadlineKind
    at: datetime


class Assessment(BaseModel):
    reportable: bool
    type: int | None = None
    reason: str
    by: str
    at: datetime


class Submission(BaseModel):
    at: datetime
    method: Literal["email", "phone", "fax", "portal"]
    reference: str = Field(description="CERT-In's acknowledgement reference")
    by: str
    recorded_at: datetime


class FollowUp(BaseModel):
    at: datetime
    by: str
    text: str


class CertInState(BaseModel):
    """Stored on the incident (field `cert_in`); `next_due_at` is copied to the incident for queries."""

    detected_at: datetime
    possibly_reportable: bool = True
    suggested_type: int | None = None
    marked_by: str = "system"
    deadlines: list[Deadline]
    fired: list[str] = Field(default_factory=list)
    assessment: Assessment | None = None
    report: dict[str, str] = Field(default_factory=dict)
    report_versions: list[dict] = Field(default_factory=list)
    submission: Submission | None = None
    follow_ups: list[FollowUp] = Field(default_factory=list)
    breached_at: datetime | None = None
    mailbox_notified_at: datetime | None = None

    @property
    def reportable(self) -> bool | None:
        """True or False once assessed; None while nobody has decided."""
        return None if self.assessment is None else self.assessment.reportable


def start(policy: CertInPolicy, detected_at: datetime, text: str, marked_by: str = "system") -> CertInState:
    deadlines: list[Deadline] = []
    assess_at = detected_at + policy.assessment_due
    for before in policy.assessment_reminders_before:
        deadlines.append(Deadline(key=f"assessment_reminder-{int(before.total_seconds())}",
                                  kind="assessment_reminder", at=assess_at - before))
    deadlines.append(Deadline(key="assessment_due", kind="assessment_due", at=assess_at))
    for after in policy.report_reminders_at:
        deadlines.append(Deadline(key=f"report_reminder-{int(after.total_seconds())}", kind="report_reminder",
                                  at=detected_at + after))
    deadlines.append(Deadline(key="report_due", kind="report_due", at=detected_at + policy.report_due))
    deadlines.sort(key=lambda d: d.at)
    return CertInState(detected_at=detected_at, suggested_type=suggest_type(text), deadlines=deadlines,
                       marked_by=marked_by)


def applies(state: CertInState, deadline: Deadline) -> bool:
    """Whether a deadline still matters in the state as it is now."""
    if not state.possibly_reportable and state.assessment is None:
        return False
    if deadline.kind.startswith("assessment"):
        return state.assessment is None
    return state.submission is None and state.reportable is not False


def due(state: CertInState, now: datetime) -> list[Deadline]:
    """Deadlines whose time has come, not yet acted on, and still applicable."""
    return [d for d in state.deadlines if d.at <= now and d.key not in state.fired and applies(state, d)]


def next_due_at(state: CertInState) -> datetime | None:
    """When the clock next needs attention (None when nothing is left to watch)."""
    pending = [d.at for d in state.deadlines if d.key not in state.fired and applies(state, d)]
    return min(pending) if pending else None


def fire(state: CertInState, deadlines: list[Deadline], now: datetime) -> CertInState:
    new = state.model_copy(deep=True)
    new.fired.extend(d.key for d in deadlines)
    if any(d.kind == "report_due" for d in deadlines) and new.breached_at is None:
        new.breached_at = now
    return new


def assess(state: CertInState, assessment: Assessment) -> CertInState:
    """The SRE's decision. Reportable again after 'not reportable' re-arms what still applies."""
    new = state.model_copy(deep=True)
    new.assessment = assessment
    new.possibly_reportable = assessment.reportable
    return new


def submit(state: CertInState, submission: Submission) -> CertInState:
    new = state.model_copy(deep=True)
    new.submission = submission
    return new


def unnoticed_breach(state: CertInState, now: datetime) -> bool:
    """The invariant: a reportable (or undecided) incident past its report deadline without a breach alert."""
    report_due = next(d for d in state.deadlines if d.kind == "report_due")
    live = state.submission is None and state.reportable is not False and state.possibly_reportable
    return live and now >= report_due.at and "report_due" not in state.fired
