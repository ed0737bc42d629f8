"""Firestore reads and writes for resolution work: RCAs, review queries, metrics queries, timeline pages.

Layout (besides what FirestoreStore keeps):
  rcas/<RCA id>        one RCA (RCA-INC-2026-0042, or RCA-2025-09-14-<slug> for imported history)

Every query here is bounded (a limit, and for metrics a created_at range) so its cost does not
grow with the size of the collection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.domain.incident import Incident, TimelineEntry
from shared.domain.metrics import PageRecord
from shared.domain.rca import Rca

TXN_ATTEMPTS = 5


class Conflict(Exception):
    """The document already exists (create) or changed under us too often (update)."""


class ResolutionStore:
    def __init__(self, client: firestore.Client):
        self.db = client

    # ---- RCAs ------------------------------------------------------------------------------------

    def _rca(self, rca_id: str) -> firestore.DocumentReference:
        return self.db.collection("rcas").document(rca_id)

    def create_rca(self, rca: Rca) -> bool:
        """Create if absent. Idempotency key: the RCA id (False when it already exists)."""
        try:
            self._rca(rca.id).create(_doc(rca))
            return True
        except gexc.AlreadyExists:
            return False

    def get_rca(self, rca_id: str) -> Rca | None:
        snap = self._rca(rca_id).get()
        return Rca(**snap.to_dict()) if snap.exists else None

    def change_rca(self, rca_id: str, decide: Callable[[Rca], Rca]) -> Rca:
        """Read, decide, write in one transaction (two editors never overwrite each other's sections)."""
        ref = self._rca(rca_id)

        @firestore.transactional
        def run(txn: firestore.Transaction) -> Rca:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                raise LookupError(rca_id)
            current = Rca(**snap.to_dict())
            new = decide(current)
            if new is not current:
                txn.set(ref, _doc(new))
            return new

        return run(self.db.transaction(max_attempts=TXN_ATTEMPTS))

    def list_rcas(self, *, severity: str | None = None, status: str | None = None, since: date | None = None,
                  until: date | None = None, limit: int = 50, cursor: str | None = None
                  ) -> tuple[list[Rca], str | None]:
        """Newest first (by incident date, then id). Dates are stored as ISO text, so ranges compare as text."""
        query: Any = self.db.collection("rcas")
        for field, value in (("severity", severity), ("status", status)):
            if value:
                query = query.where(filter=firestore.FieldFilter(field, "==", value))
        if since:
            query = query.where(filter=firestore.FieldFilter("date", ">=", since.isoformat()))
        if until:
            query = query.where(filter=firestore.FieldFilter("date", "<=", until.isoformat()))
        query = query.order_by("date", direction=firestore.Query.DESCENDING).order_by(
            "id", direction=firestore.Query.DESCENDING)
        if cursor:
            after = self._rca(cursor).get()
            if after.exists:
                query = query.start_after(after)
        docs = list(query.limit(limit + 1).stream())
        rcas = [Rca(**d.to_dict()) for d in docs[:limit]]
        return rcas, (rcas[-1].id if len(docs) > limit else None)

    # ---- metrics ------------------------------------------------------------------------------------

    def incidents_between(self, since: datetime, until: datetime, limit: int = 5000) -> tuple[list[Incident], bool]:
        """Incidents opened in [since, until); True as second value when more than `limit` matched."""
        query = (self.db.collection("incidents")
                 .where(filter=firestore.FieldFilter("created_at", ">=", since))
                 .where(filter=firestore.FieldFilter("created_at", "<", until))
                 .order_by("created_at").limit(limit + 1))
        docs = list(query.stream())
        return [Incident(**d.to_dict()) for d in docs[:limit]], len(docs) > limit

    def pages_between(self, since: datetime, until: datetime, limit: int = 20000) -> list[PageRecord]:
        """Pages created in the period and actually sent (one per escalation step per person)."""
        query = (self.db.collection("pages")
                 .where(filter=firestore.FieldFilter("created_at", ">=", since))
                 .where(filter=firestore.FieldFilter("created_at", "<", until))
                 .limit(limit))
        out = []
        for d in query.stream():
            data = d.to_dict()
            if data.get("status") != "sent":
                continue
            recipient = data.get("recipient") or {}
            out.append(PageRecord(person_id=recipient.get("person_id", "?"), name=recipient.get("name", "?"),
                                  at=data["created_at"]))
        return out

    # ---- timeline -----------------------------------------------------------------------------------

    def timeline_page(self, incident_id: str, limit: int, cursor: str | None = None
                      ) -> tuple[list[tuple[str, TimelineEntry]], str | None]:
        """Entries in order (ids sort by time); the cursor is the last entry's id."""
        query = self.db.collection("incidents").document(incident_id).collection("timeline").order_by("__name__")
        if cursor:
            query = query.start_after({"__name__": self.db.collection("incidents").document(incident_id)
                                       .collection("timeline").document(cursor)})
        docs = list(query.limit(limit + 1).stream())
        entries = [(d.id, TimelineEntry(**d.to_dict())) for d in docs[:limit]]
        return entries, (entries[-1][0] if len(docs) > limit else None)

    def incident_of_channel(self, channel: str, thread_ts: str | None) -> str | None:
        """The incident a Slack message belongs to: its dedicated channel, or the thread of its message."""
        query = (self.db.collection("incidents")
                 .where(filter=firestore.FieldFilter("incident_channel", "==", channel)).limit(1))
        found = [d.id for d in query.stream()]
        if found:
            return found[0]
        if thread_ts:
            query = (self.db.collection("incidents")
                     .where(filter=firestore.FieldFilter("slack_ts", "==", thread_ts)).limit(5))
            for d in query.stream():
                if d.get("slack_channel") == channel:
                    return d.id
        return None


def _doc(model: Rca) -> dict[str, Any]:
    """JSON-mode dump: dates as ISO text (Firestore has no date type), datetimes kept as timestamps."""
    data = model.model_dump(mode="json")
    for key in ("detected_at", "acknowledged_at", "mitigated_at", "resolved_at", "review_due_at", "created_at",
                "updated_at", "published_at"):
        data[key] = getattr(model, key)
    return data
