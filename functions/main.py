"""Cloud Functions entry points: each deployed function names one of these as its entry point.

Every module imports its clients lazily (shared.bootstrap), so loading this file stays cheap.
"""

from functions.api import api
from functions.cert_in import cert_in
from functions.classify import classify
from functions.commands import commands
from functions.escalate import escalate
from functions.ingest import ingest
from functions.notify import notify
from functions.slack import slack
from functions.tasks import tasks

__all__ = ["api", "cert_in", "classify", "commands", "escalate", "ingest", "notify", "slack", "tasks"]

# issue 7: the public status page
from functions.status import status  # noqa: E402
from functions.status_update import status_update  # noqa: E402

__all__ += ["status", "status_update"]
