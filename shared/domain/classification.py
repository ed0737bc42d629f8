"""Severity, category, type and group key of an alert, from the policy's rules."""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from shared.config.policy import Classification, Matcher, Policy
from shared.domain.model import Alert, AlertCategory, Severity, stable_hash


class Classified(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert: Alert
    severity: Severity
    category: AlertCategory
    type: str
    service: str | None
    group_key: str
    rule: str | None = None

    @property
    def group_id(self) -> str:
        return group_id(self.group_key)


def group_id(key: str) -> str:
    """Storage key of a group (document ids cannot hold every character a key may)."""
    return stable_hash(key, length=24)


@lru_cache(maxsize=512)
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def matches(matcher: Matcher, alert: Alert) -> bool:
    if matcher.source and not _rx(matcher.source).search(alert.source):
        return False
    if matcher.service and not _rx(matcher.service).search(alert.service or ""):
        return False
    if matcher.text and not _rx(matcher.text).search(f"{alert.title}\n{alert.summary}"):
        return False
    return all(_rx(pattern).search(alert.labels.get(key, "")) for key, pattern in matcher.labels.items())


def classify(policy: Policy, alert: Alert) -> Classified:
    """First matching rule wins; the source's own severity wins when the policy honours it."""
    rules = policy.classification
    chosen = Classification()
    rule_name = None
    for rule in rules.rules:
        if matches(rule.match, alert):
            chosen = _merge(chosen, rule.set)
            rule_name = rule_name or rule.name
            if rule.stop:
                break
    chosen = _merge(chosen, rules.default)
    severity = chosen.severity or Severity.MEDIUM
    if rules.honour_source_severity and alert.severity is not None:
        severity = alert.severity
    service = alert.service or chosen.service
    itype = chosen.type or "system_alert"
    return Classified(
        alert=alert,
        severity=severity,
        category=chosen.category or AlertCategory.INFRASTRUCTURE,
        type=itype,
        service=service,
        group_key=group_key(rules.group_by, alert, itype, service),
        rule=rule_name,
    )


def group_key(group_by: list[str], alert: Alert, itype: str, service: str | None) -> str:
    """Alerts with the same key belong to one incident while it is open.

    Built from the policy's group_by labels; an alert with none of them is its own group.
    """
    values = []
    for key in group_by:
        value = alert.labels.get(key) or (service if key == "service" else None)
        if value:
            values.append(f"{key}={value}")
    if not values:
        values.append(f"alert={alert.source}:{alert.fingerprint}")
    return f"{itype}|" + "|".join(values)


def _merge(first: Classification, fallback: Classification) -> Classification:
    """Fields already chosen stay; missing ones come from the fallback."""
    return Classification(
        severity=first.severity or fallback.severity,
        category=first.category or fallback.category,
        type=first.type or fallback.type,
        service=first.service or fallback.service,
    )
