"""The public status page on Firestore: two small documents, and the subscribers.

Layout:
  status_page/open                  components' episodes, open incidents, maintenance not yet completed
                                    (everything summary.json needs: the reader's one read)
  status_page/recent                the last 50 resolved incidents and 20 completed maintenances
  status_subscribers/<id>           an email or webhook subscriber (id from kind and address)
  outbox/<incident>:status:<update> the STATUS_PAGE_UPDATED event of each public update (fan-out trigger)

Both page documents hold the page state as one JSON string (fast to parse, far below the 1 MiB limit).
Every change reads both documents (and the incident) and writes them in one transaction, with the
incident's timeline entries and the outbox events, so concurrent events never lose an update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.adapters.firestore_store import TXN_ATTEMPTS, FirestoreStore, _outbox_doc, _safe, retry_contended
from shared.domain.incident import EventType, Incident, IncidentEvent, TimelineEntry
from shared.domain.status import Outcome, PageState, merge, split

PAGE = "status_page"
SUBSCRIBERS = "status_subscribers"


def status_event(announcement_update_id: str, owner_id: str, data: dict[str, Any], at: datetime) -> IncidentEvent:
    return IncidentEvent(event_id=f"{owner_id}:status:{announcement_update_id}", type=EventType.STATUS_PAGE_UPDATED,
                         incident_id=owner_id, at=at, data=data)


class StatusStore:
    def __init__(self, store: FirestoreStore):
        self.store = store
        self.db = store.db

    # ---- the page ------------------------------------------------------------------------------

    def _refs(self) -> tuple[firestore.DocumentReference, firestore.DocumentReference]:
        return self.db.collection(PAGE).document("open"), self.db.collection(PAGE).document("recent")

    def read(self, with_recent: bool) -> tuple[PageState | None, str]:
        """The page (open part, plus the resolved past if asked) and a version for caches: one round trip."""
        open_ref, recent_ref = self._refs()
        refs = [open_ref, recent_ref] if with_recent else [open_ref]
        snaps = {s.reference.id: s for s in self.db.get_all(refs)}
        open_snap = snaps.get("open")
        if open_snap is None or not open_snap.exists:
            return None, "empty"
        state = PageState.model_validate_json(open_snap.get("state"))
        version = str(open_snap.update_time.timestamp())
        recent_snap = snaps.get("recent")
        if recent_snap is not None and recent_snap.exists:
            state = merge(state, PageState.model_validate_json(recent_snap.get("state")))
            version += f"/{recent_snap.update_time.timestamp()}"
        return state, version

    def change(self, decide: Callable[[PageState, Incident | None], Outcome], now: datetime,
               incident_id: str | None = None, owner_id: str | None = None) -> tuple[Outcome, list[IncidentEvent]]:
        """Read the page (and the incident), decide, write: one transaction, serialised within this instance.

        Writes the page documents, the incident's timeline entries and one outbox event per announcement.
        """
        with self.store._locks("status-page"):
            return self._change(decide, now, incident_id, owner_id or incident_id or "status")

    @retry_contended
    def _change(self, decide: Callable[[PageState, Incident | None], Outcome], now: datetime,
                incident_id: str | None, owner_id: str) -> tuple[Outcome, list[IncidentEvent]]:
        open_ref, recent_ref = self._refs()
        inc_ref = self.db.collection("incidents").document(incident_id) if incident_id else None

        @firestore.transactional
        def run(txn: firestore.Transaction) -> tuple[Outcome, list[IncidentEvent]]:
            refs = [open_ref, recent_ref] + ([inc_ref] if inc_ref is not None else [])
            snaps = {s.reference.path: s for s in self.db.get_all(refs, transaction=txn)}
            open_snap, recent_snap = snaps.get(open_ref.path), snaps.get(recent_ref.path)
            state = (PageState.model_validate_json(open_snap.get("state")) if open_snap and open_snap.exists
                     else PageState.empty(now))
            recent_json = recent_snap.get("state") if recent_snap and recent_snap.exists else None
            state = merge(state, PageState.model_validate_json(recent_json) if recent_json else None)
            incident = None
            if inc_ref is not None:
                inc_snap = snaps.get(inc_ref.path)
                if inc_snap is None or not inc_snap.exists:
                    raise LookupError(incident_id)
                incident = Incident(**inc_snap.to_dict())
            outcome = decide(state, incident)
            if not outcome.changed and outcome.state.applied == state.applied:
                return outcome, []
            open_part, recent = split(outcome.state, now)
            txn.set(open_ref, {"state": open_part.model_dump_json(), "updated_at": now})
            new_recent = recent.model_dump_json(exclude={"created_at", "updated_at", "applied", "episodes"})
            old_recent = (PageState.model_validate_json(recent_json).model_dump_json(
                exclude={"created_at", "updated_at", "applied", "episodes"}) if recent_json else None)
            if new_recent != old_recent:
                txn.set(recent_ref, {"state": recent.model_dump_json(), "updated_at": now})
            for i, text in enumerate(outcome.timeline if incident_id else []):
                entry = TimelineEntry(at=now, kind="status_page.updated", text=text, source="status-page",
                                      actor="system")
                txn.create(self.store._timeline_ref(incident_id, entry, i), entry.model_dump(mode="python"))
            events = [status_event(a.update_id, owner_id, a.model_dump(mode="json"), now)
                      for a in outcome.announcements]
            for event in events:
                txn.set(self.db.collection("outbox").document(_safe(event.event_id)), _outbox_doc(event))
            return outcome, events

        return run(self.db.transaction(max_attempts=TXN_ATTEMPTS))

    # ---- subscribers ---------------------------------------------------------------------------

    def subscriber(self, subscriber_id: str) -> dict[str, Any] | None:
        snap = self.db.collection(SUBSCRIBERS).document(_safe(subscriber_id)).get()
        return {"id": snap.id, **snap.to_dict()} if snap.exists else None

    def put_subscriber(self, subscriber_id: str, fields: dict[str, Any]) -> None:
        self.db.collection(SUBSCRIBERS).document(_safe(subscriber_id)).set(fields, merge=True)

    def delete_subscriber(self, subscriber_id: str) -> None:
        self.db.collection(SUBSCRIBERS).document(_safe(subscriber_id)).delete()

    def confirmed_subscribers(self, page_size: int = 300) -> Iterator[dict[str, Any]]:
        """Every confirmed subscriber, page by page (no single hot document is read or written)."""
        query = (self.db.collection(SUBSCRIBERS).where(filter=firestore.FieldFilter("confirmed", "==", True))
                 .order_by("__name__").limit(page_size))
        last = None
        while True:
            page = list((query.start_after(last) if last is not None else query).stream())
            for snap in page:
                yield {"id": snap.id, **snap.to_dict()}
            if len(page) < page_size:
                return
            last = page[-1]

