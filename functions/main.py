"""Cloud Functions entry points: each deployed function names one of these as its entry point.

Every module imports its clients lazily (shared.bootstrap), so loading this file stays cheap.
"""

from functions.api import api
from functions.cert_in import cert_in
from functions.classify import classify
from functions.commands import commands
from functions.escalate import escalate
from functions.freshdesk_sync import freshdesk_sync
from functions.ingest import ingest
from functions.notify import notify
from functions.partners import partners
from functions.slack import slack
from functions.status import status
from functions.status_update import status_update
from functions.tasks import tasks

__all__ = ["api", "cert_in", "classify", "commands", "escalate", "freshdesk_sync", "ingest", "notify", "partners",
           "slack", "status", "status_update", "tasks"]
