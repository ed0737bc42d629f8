"""Task callbacks of resolution work (mounted by functions/tasks.py): review deadlines, weekly digest."""

from __future__ import annotations

from datetime import datetime

from shared import bootstrap
from shared.config.loader import current_policy
from shared.handlers import review
from shared.web import HttpError


def review_deadlines(body: dict, now: datetime) -> dict:
    incident_id = body.get("incident_id")
    if not isinstance(incident_id, str):
        raise HttpError(400, "invalid_payload", "incident_id must be a string", field="incident_id")
    try:
        result = review.run_review(incident_id, policy=current_policy(), store=bootstrap.store(),
                                   rcas=bootstrap.resolution_store(), publisher=bootstrap.publisher(),
                                   chat=bootstrap.chat(), scheduler=bootstrap.scheduler(), now=now)
    except LookupError:
        return {"result": "unknown_incident"}
    return {"result": result, "incident_id": incident_id}


def weekly_digest(body: dict, now: datetime) -> dict:
    from shared.handlers.digest import post_digest, week_key

    return post_digest(policy=current_policy(), store=bootstrap.store(), rcas=bootstrap.resolution_store(),
                       chat=bootstrap.chat(), now=now, key=week_key(now))


def reconcile_reviews(now: datetime) -> int:
    return review.reconcile(policy=current_policy(), store=bootstrap.store(), rcas=bootstrap.resolution_store(),
                            publisher=bootstrap.publisher(), chat=bootstrap.chat(), scheduler=bootstrap.scheduler(),
                            now=now)
