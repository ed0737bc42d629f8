"""Small builders for the unit tests: alerts, classified alerts, incidents and policies.

Everything here is pure and fast: no network, no emulators, no clock (times are fixed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import yaml

from shared.config.loader import DEFAULT_POLICY_PATH, load_policy
from shared.config.policy import Policy
from shared.domain.classification import Classified
from shared.domain.incident import Incident
from shared.domain.model import Alert, AlertCategory, AlertStatus, Severity

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
DEFAULT_GROUP_KEY = "system_alert|alertname=DiskFull|service=api"


@cache
def default_policy() -> Policy:
    """config/policy.yaml, loaded once for the whole test session (it is frozen)."""
    return load_policy(DEFAULT_POLICY_PATH)


def policy_with(change: Callable[[dict[str, Any]], None]) -> Policy:
    """The default policy with one change applied to its raw YAML data, validated again."""
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    change(data)
    return Policy.model_validate(data)


def alert(
    title: str = "Disk usage above 90%",
    *,
    fingerprint: str = "fp-1",
    status: AlertStatus | str = AlertStatus.FIRING,
    source: str = "grafana",
    labels: dict[str, str] | None = None,
    summary: str = "",
    service: str | None = None,
    severity: Severity | str | None = None,
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    annotations: dict[str, str] | None = None,
) -> Alert:
    """A normalised alert. Like the source normalisers, a `severity` label sets the alert's severity."""
    labels = dict(labels or {})
    if severity is None:
        severity = Severity.parse(labels.get("severity"))
    return Alert(
        source=source,
        fingerprint=fingerprint,
        status=AlertStatus(status),
        title=title,
        summary=summary,
        labels=labels,
        annotations=annotations or {},
        service=service or labels.get("service"),
        severity=Severity(severity) if severity is not None else None,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def classified(
    fingerprint: str = "fp-1",
    *,
    status: AlertStatus | str = AlertStatus.FIRING,
    severity: Severity | str = Severity.MEDIUM,
    category: AlertCategory = AlertCategory.INFRASTRUCTURE,
    type: str = "system_alert",
    group_key: str = DEFAULT_GROUP_KEY,
    title: str | None = None,
    source: str = "grafana",
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    service: str | None = "api",
) -> Classified:
    """An alert as the classifier would hand it to grouping, without going through the policy."""
    return Classified(
        alert=alert(
            title or f"Alert {fingerprint}", fingerprint=fingerprint, status=status, source=source,
            labels={"alertname": "DiskFull", "service": service or "", "fp": fingerprint},
            service=service, severity=severity, starts_at=starts_at, ends_at=ends_at,
        ),
        severity=Severity(severity),
        category=category,
        type=type,
        service=service,
        group_key=group_key,
    )


def incident(
    *,
    severity: Severity | str = Severity.MEDIUM,
    type: str = "system_alert",
    category: AlertCategory = AlertCategory.INFRASTRUCTURE,
    **changes: Any,
) -> Incident:
    """An open incident with a readable id; keyword arguments override any field."""
    fields: dict[str, Any] = {
        "id": "INC-2026-0001",
        "number": 1,
        "title": "Disk usage above 90%",
        "severity": Severity(severity),
        "category": category,
        "type": type,
        "service": "api",
        "group_key": DEFAULT_GROUP_KEY,
        "source": "grafana",
        "detected_at": T0,
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(changes)
    return Incident(**fields)
