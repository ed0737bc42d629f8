"""Grafana unified alerting webhook (payload version "1").

It is the Alertmanager webhook body plus per-alert silence, dashboard, panel and image
links, so it reuses the Alertmanager webhook normaliser with Grafana's link set.
"""

from __future__ import annotations

from datetime import datetime

from shared.domain.model import Alert
from shared.domain.sources.alertmanager import WebhookStyle, webhook_alerts

SOURCE = "grafana"

GRAFANA_WEBHOOK = WebhookStyle(
    source=SOURCE,
    external_title="Grafana",
    link_keys=(
        ("generatorURL", "Source"),
        ("silenceURL", "Silence"),
        ("dashboardURL", "Dashboard"),
        ("panelURL", "Panel"),
        ("imageURL", "Image"),
    ),
)


def normalise(payload: object, now: datetime) -> list[Alert]:
    """One Alert per element of `alerts`, identified by Grafana's own fingerprint."""
    return webhook_alerts(payload, now, GRAFANA_WEBHOOK)
