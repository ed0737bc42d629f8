"""Pure normalisers: each source's real webhook payload (already JSON-decoded) -> list of Alerts.

No I/O and no clock: `now` is passed in. Every malformed payload raises `PayloadError`
naming the offending field; no other exception escapes for any JSON-decoded input.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.domain.model import Alert
from shared.domain.sources import alertmanager, generic, grafana, otel, uptime_kuma
from shared.domain.sources._common import as_utc
from shared.domain.sources.errors import PayloadError

Normaliser = Callable[[object, datetime], list[Alert]]

NORMALISERS: dict[str, Normaliser] = {
    "grafana": grafana.normalise,
    "alertmanager": alertmanager.normalise_webhook,
    "alertmanager-api": alertmanager.normalise_api_v2,
    "uptime-kuma": uptime_kuma.normalise,
    "otel": otel.normalise,
    "generic": generic.normalise,
}

SOURCES: frozenset[str] = frozenset(NORMALISERS)


def normalise(source: str, payload: object, now: datetime) -> list[Alert]:
    """The alerts in one payload from `source` (one of SOURCES); `now` should be timezone-aware."""
    normaliser = NORMALISERS.get(source)
    if normaliser is None:
        raise PayloadError("source", f"unknown source {source!r}; expected one of {sorted(SOURCES)}")
    return normaliser(payload, as_utc(now))


__all__ = ["SOURCES", "PayloadError", "normalise"]
