"""Scheduler on Cloud Tasks: one named HTTP task per future step.

A task name makes creation idempotent: ALREADY_EXISTS is a duplicate, not an error.
The emulator accepts duplicate names and cannot delete tasks, so callbacks must always
re-check state (they do); this adapter never relies on deletion to cancel anything.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import timestamp_pb2


class CloudTasksScheduler:
    def __init__(self, client: tasks_v2.CloudTasksClient, project: str, region: str,
                 service_account: str | None = None):
        self.client = client
        self.project = project
        self.region = region
        self.service_account = service_account
        self._created: OrderedDict[str, None] = OrderedDict()  # names this instance created recently

    def queue_path(self, queue: str) -> str:
        return self.client.queue_path(self.project, self.region, queue)

    def schedule(self, queue: str, task_id: str, url: str, body: dict[str, Any], at: datetime) -> bool:
        """Creates the named task unless this instance already did (several events of one step ask for it)."""
        name = f"{self.queue_path(queue)}/tasks/{task_id}"
        if name in self._created:
            return False
        created = self._create(queue, name, url, body, at)
        self._created[name] = None
        if len(self._created) > 10_000:
            self._created.popitem(last=False)
        return created

    def _create(self, queue: str, name: str, url: str, body: dict[str, Any], at: datetime) -> bool:
        when = timestamp_pb2.Timestamp()
        when.FromDatetime(at)
        http_request: dict[str, Any] = {
            "http_method": tasks_v2.HttpMethod.POST,
            "url": url,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body, default=str).encode(),
        }
        if self.service_account:  # production: the callback verifies this identity
            http_request["oidc_token"] = {"service_account_email": self.service_account, "audience": url}
        task = {
            "name": name,
            "http_request": http_request,
            "schedule_time": when,
        }
        try:
            self.client.create_task(request={"parent": self.queue_path(queue), "task": task})
        except gexc.AlreadyExists:
            return False
        return True
