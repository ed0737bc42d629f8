"""The resolution subcommands' parsing and the RCA / timeline views, checked against Slack's documented limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.adapters import slack_resolution as views
from shared.domain.model import Severity
from shared.domain.rca import SECTIONS, Rca
from tests.fakes.slack_api import check_blocks, check_view

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def rca() -> Rca:
    return Rca(id="RCA-INC-2026-0042", incident_id="INC-2026-0042", title="Checkout returns 5xx " * 20,
               date=NOW.date(), severity=Severity.CRITICAL, sections={"impact": "x" * 5000}, created_at=NOW,
               updated_at=NOW)


@pytest.mark.parametrize(("text", "verb", "incident", "rest"), [
    ("note INC-2026-0042 Error rate 38%", "note", "INC-2026-0042", "Error rate 38%"),
    ("change inc-2026-0042 Scaled the pool to 400", "change", "INC-2026-0042", "Scaled the pool to 400"),
    ("review INC-2026-0042", "review", "INC-2026-0042", ""),
    ("rca RCA-2025-09-14-gke-auto-upgrade-failure", "rca", "RCA-2025-09-14-gke-auto-upgrade-failure", ""),
])
def test_our_subcommands_are_parsed(text, verb, incident, rest):
    parsed = views.parse_slash(text)
    assert (parsed.verb, parsed.incident_id, parsed.text, parsed.problem) == (verb, incident, rest, None)


@pytest.mark.parametrize(("text", "problem"), [
    ("note", "needs an incident id"),
    ("note INC-42 hello", "is not an incident id"),
    ("change INC-2026-0042", "needs the text"),
])
def test_bad_subcommands_say_what_is_wrong(text, problem):
    assert problem in views.parse_slash(text).problem


def test_other_subcommands_are_left_to_the_main_handler():
    assert views.parse_slash("ack INC-2026-0042") is None and views.parse_slash("") is None


def test_the_views_stay_within_slacks_limits():
    assert check_blocks(views.rca_editor(rca())) == []
    for section in SECTIONS:
        assert check_view(views.section_modal(rca(), section).to_dict()) == []
    assert check_view(views.timeline_modal("INC-2026-0042", "y" * 4000, "C1", "1.2").to_dict()) == []
    assert check_view(views.timeline_modal(None, "", "C1", "1.2").to_dict()) == []
