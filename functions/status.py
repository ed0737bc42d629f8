"""`status` (HTTP, public, read-only): the status page, Statuspage v2 JSON, the Atom feed, subscriptions."""

from __future__ import annotations

import flask

from shared import bootstrap
from shared.config.loader import current_policy
from shared.handlers.status_site import handle
from shared.web import guarded


@guarded
def status(request: flask.Request) -> flask.Response:
    from shared.adapters.status_store import StatusStore

    return handle(request, policy=current_policy(), status_store=StatusStore(bootstrap.store()),
                  mailer=bootstrap.mailer())
