"""`classify` (Pub/Sub on alerts): classify, group into incidents, publish incident events."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework

from shared import bootstrap
from shared.config.loader import current_policy
from shared.handlers.alerts import process_alerts
from shared.handlers.timers import schedule_alert_expiry
from shared.log import get_logger
from shared.messages import decode_alert_batch, decode_or_drop, message_id

log = get_logger("classify")


@functions_framework.cloud_event
def classify(cloud_event) -> None:
    batch = decode_or_drop(cloud_event, decode_alert_batch, log)
    if batch is None:
        return
    result = process_alerts(
        batch.alerts, policy=current_policy(), store=bootstrap.store(), publisher=bootstrap.publisher(),
        now=datetime.now(UTC), schedule_expiry=schedule_alert_expiry,
    )
    log.info("alert batch processed", extra={"message_id": message_id(cloud_event), "alerts": len(batch.alerts),
                                              "incidents": sorted(result.incidents), "writes": result.writes})
