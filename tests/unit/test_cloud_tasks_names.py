"""Task naming and the one Cloud Tasks behaviour the emulator lacks (ALREADY_EXISTS on a duplicate name).

The emulator accepts duplicate names, so the duplicate case is shown with a stand-in client that
raises what the real API raises (google.api_core's AlreadyExists, gRPC 6); everything else about
task creation is tested against the emulator in tests/integration/test_cloud_tasks.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2

from shared.adapters.cloud_tasks import CloudTasksScheduler
from shared.domain.names import task_id


class DuplicateRefusingClient:
    """Behaves like Cloud Tasks for named tasks: a second create with the same name is ALREADY_EXISTS."""

    queue_path = staticmethod(tasks_v2.CloudTasksClient.queue_path)

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.requests: list[dict] = []

    def create_task(self, request: dict) -> None:
        name = request["task"]["name"]
        if name in self.names:
            raise gexc.AlreadyExists(f"Requested entity already exists: {name}")
        self.names.add(name)
        self.requests.append(request)


def test_a_duplicate_task_name_is_success_not_an_error():
    client = DuplicateRefusingClient()
    first, second = (CloudTasksScheduler(client, "acme", "asia-south1") for _ in range(2))  # two instances
    at = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert first.schedule("incident-timers", "esc-1", "https://tasks.example/escalate", {"a": 1}, at) is True
    assert second.schedule("incident-timers", "esc-1", "https://tasks.example/escalate", {"a": 1}, at) is False
    assert len(client.requests) == 1


def test_the_same_name_is_created_once_per_instance_even_when_asked_for_again():
    client = DuplicateRefusingClient()
    scheduler = CloudTasksScheduler(client, "acme", "asia-south1")
    at = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    for _ in range(3):  # the step's callback and each event of the step all ask for the next timer
        scheduler.schedule("incident-timers", "esc-2", "https://tasks.example/escalate", {}, at)
    assert len(client.requests) == 1
    assert scheduler.schedule("incident-timers", "esc-3", "https://tasks.example/escalate", {}, at) is True


def test_production_tasks_carry_an_oidc_token_for_the_callback_audience():
    client = DuplicateRefusingClient()
    scheduler = CloudTasksScheduler(client, "acme", "asia-south1", service_account="tasks@acme.iam.gserviceaccount.com")
    scheduler.schedule("incident-timers", "t1", "https://tasks.example/alert-expiry", {}, datetime.now(UTC))
    http = client.requests[0]["task"]["http_request"]
    assert http["oidc_token"] == {"service_account_email": "tasks@acme.iam.gserviceaccount.com",
                                  "audience": "https://tasks.example/alert-expiry"}
    assert client.requests[0]["task"]["name"] == "projects/acme/locations/asia-south1/queues/incident-timers/tasks/t1"


def test_local_tasks_carry_no_token():
    client = DuplicateRefusingClient()
    CloudTasksScheduler(client, "p", "r").schedule("q", "t", "http://127.0.0.1/tasks/x", {}, datetime.now(UTC))
    assert "oidc_token" not in client.requests[0]["task"]["http_request"]


def test_task_ids_keep_only_the_characters_cloud_tasks_allows():
    assert task_id("alert expiry", "a/b:c", "123") == "alert-expiry-a-b-c-123"
    assert len(task_id("x" * 600)) == 500
