"""The post-incident review clock on the real Cloud Tasks emulator, with second-scale deadlines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from shared import bootstrap
from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.domain.commands import Action, Actor, Command
from shared.handlers.escalation import apply
from shared.handlers.review import reconcile
from tests.integration.test_escalation_timers import open_incident, wait_for
from tests.integration.test_escalation_timers import stack as escalation_stack  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def fast_review_policy(tmp_path: Path) -> Path:
    text = DEFAULT_POLICY_PATH.read_text()
    text = text.replace("post_incident_review_within: 48h", "post_incident_review_within: 5s").replace(
        "reminders_before: [24h, 4h]", "reminders_before: [3s]")
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def stack(escalation_stack, tmp_path, monkeypatch) -> Iterator[dict]:  # noqa: F811
    from tests.integration.helpers import set_env

    path = fast_review_policy(tmp_path)
    set_env(monkeypatch, INCIDENT_CONFIG=str(path))
    yield {**escalation_stack, "policy": load_policy(path)}


def resolve(policy, incident_id: str, scheduler=None) -> None:
    command = Command(command_id=f"resolve-{incident_id}", incident_id=incident_id, action=Action.RESOLVE,
                      actor=Actor(kind="api", id="team-lead", name="team-lead"), at=datetime.now(UTC),
                      summary="Rolled back")
    apply(command, policy=policy, store=bootstrap.store(), publisher=bootstrap.publisher(), chat=bootstrap.chat(),
          scheduler=scheduler or bootstrap.scheduler(), now=datetime.now(UTC))


def review_dms(slack, incident_id: str, text: str) -> list:
    return [c for c in slack.calls_to("chat.postMessage") if incident_id in str(c.params.get("text"))
            and text in str(c.params.get("text")) and str(c.params.get("channel")).startswith("U")]


def test_the_emulator_fires_the_reminder_then_the_missed_review_once_each(stack):
    slack, policy = stack["slack"], stack["policy"]
    incident_id = open_incident(policy, "Checkout errors")
    resolved_at = time.time()
    resolve(policy, incident_id)
    rca = bootstrap.resolution_store().get_rca(f"RCA-{incident_id}")
    assert rca is not None and rca.status.value == "draft"  # the draft deadline fired with the resolution
    reminder = wait_for(lambda: review_dms(slack, incident_id, "post-incident review due"), timeout=15)
    assert {c.params["channel"] for c in reminder} == {"U0TEAMLEAD"}
    assert min(c.received_at for c in reminder) - resolved_at >= 1.9
    missed = wait_for(lambda: review_dms(slack, incident_id, "review was MISSED"), timeout=15)
    assert [c.params["channel"] for c in missed] == ["U0CTO00001"]
    assert missed[0].received_at - resolved_at >= 4.9
    for _ in range(3):  # duplicate deliveries of the same task
        answer = requests.post(f"{stack['base']}/tasks/review", json={"incident_id": incident_id},
                               headers={"X-CloudTasks-QueueName": "incident-timers"}, timeout=10)
        assert answer.json()["result"] == "not_due"
    time.sleep(1)
    assert len(review_dms(slack, incident_id, "review was MISSED")) == 1
    assert len(review_dms(slack, incident_id, "post-incident review due")) == 1
    incident = bootstrap.store().get_incident(incident_id)
    assert incident.review.missed_at is not None and incident.review_next_due_at is None
    assert slack.problems == []


def test_the_reconciler_fires_a_deadline_whose_task_was_lost(stack):
    slack, policy = stack["slack"], stack["policy"]
    incident_id = open_incident(policy, "Orders slow")

    class Lost:
        def schedule(self, *args, **kwargs) -> bool:
            return True  # the task is "created" and never fires

    resolve(policy, incident_id, scheduler=Lost())
    time.sleep(5.5)
    assert review_dms(slack, incident_id, "MISSED") == []
    now = datetime.now(UTC)
    fired = reconcile(policy=policy, store=bootstrap.store(), rcas=bootstrap.resolution_store(),
                      publisher=bootstrap.publisher(), chat=bootstrap.chat(), scheduler=Lost(), now=now)
    assert fired >= 1
    assert len(review_dms(slack, incident_id, "review was MISSED")) == 1
    assert len(review_dms(slack, incident_id, "post-incident review due")) == 1  # late, but not lost
    assert reconcile(policy=policy, store=bootstrap.store(), rcas=bootstrap.resolution_store(),
                     publisher=bootstrap.publisher(), chat=bootstrap.chat(), scheduler=Lost(),
                     now=now + timedelta(seconds=1)) == 0


def test_a_policy_that_resolves_high_incidents_when_alerts_clear_still_opens_the_review(stack, tmp_path):
    from shared.domain.classification import classify
    from shared.domain.model import Alert, AlertStatus, Severity

    path = tmp_path / "auto.yaml"
    path.write_text(fast_review_policy(tmp_path).read_text().replace(
        "    channel: incidents\n    dedicated_channel: true\n    when_all_alerts_resolve: notify_owner",
        "    channel: incidents\n    dedicated_channel: true\n    when_all_alerts_resolve: resolve"))
    policy = load_policy(path)
    assert policy.severities[Severity.HIGH].when_all_alerts_resolve == "resolve"
    incident_id = open_incident(policy, "Search slow")
    resolved = Alert(source="alertmanager", fingerprint="Search slow", status=AlertStatus.RESOLVED,
                     title="Search slow", labels={"alertname": "Search slow", "service": "checkout",
                                                   "severity": "high"}, severity=Severity.HIGH,
                     starts_at=datetime.now(UTC) - timedelta(minutes=1), ends_at=datetime.now(UTC))
    bootstrap.store().record_alerts([classify(policy, resolved)], datetime.now(UTC), policy)
    bootstrap.store().settle_alerts_resolved(incident_id, policy, datetime.now(UTC))
    incident = bootstrap.store().get_incident(incident_id)
    assert incident.status.value == "resolved" and incident.review.required
    assert bootstrap.resolution_store().get_rca(f"RCA-{incident_id}") is None  # not yet: the reconciler drafts it
    reconcile(policy=policy, store=bootstrap.store(), rcas=bootstrap.resolution_store(),
              publisher=bootstrap.publisher(), chat=bootstrap.chat(), scheduler=bootstrap.scheduler(),
              now=datetime.now(UTC))
    rca = bootstrap.resolution_store().get_rca(f"RCA-{incident_id}")
    assert rca is not None and rca.sections["resolution"] == "Every alert resolved."


def test_an_rca_already_in_review_counts_as_the_review_held_even_if_marking_it_was_lost(stack):
    from shared.domain import rca as rca_domain

    slack, policy = stack["slack"], stack["policy"]
    incident_id = open_incident(policy, "Payments timeouts")

    class Lost:
        def schedule(self, *args, **kwargs) -> bool:
            return True

    resolve(policy, incident_id, scheduler=Lost())
    now = datetime.now(UTC)

    def reviewed(rca):
        rca = rca_domain.edit(rca, by="team-lead", now=now, sections={"primary_cause": "pool exhausted"})
        return rca_domain.transition(rca, rca_domain.RcaStatus.IN_REVIEW, by="team-lead", now=now)

    bootstrap.resolution_store().change_rca(f"RCA-{incident_id}", reviewed)  # the hold itself is "lost"
    reconcile(policy=policy, store=bootstrap.store(), rcas=bootstrap.resolution_store(),
              publisher=bootstrap.publisher(), chat=bootstrap.chat(), scheduler=Lost(), now=now + timedelta(seconds=6))
    incident = bootstrap.store().get_incident(incident_id)
    assert incident.review.held_how == "rca_in_review" and incident.review.held_by == "team-lead"
    assert review_dms(slack, incident_id, "review") == []  # nobody reminded of a review that took place
