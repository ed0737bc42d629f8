"""Incident store on Firestore (native mode). The only module that imports google.cloud.firestore.

Layout:
  incidents/<id>                      the incident (written on create and on real changes only)
  incidents/<id>/timeline/<auto>      timeline entries
  incidents/<id>/counters/<shard>     alert counters, sharded so a storm never hits one document
  alerts/<alert_id>                   the state of each alert
  groups/<group_id>                   the open incident of a group key (the uniqueness guard)
  sequences/incidents-<year>          readable incident numbers
  outbox/<event_id>                   incident events until they are confirmed published
  claims/<key>                        one-time side effects (first Slack page, ...) with a lease
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import tenacity
from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.config.policy import Policy
from shared.domain.actions import Change, escalation_fields, start_cert_in, start_escalation
from shared.domain.classification import Classified, group_id
from shared.domain.escalation import Page, replan
from shared.domain.grouping import AlertRecord, GroupState, decide, on_all_alerts_resolved
from shared.domain.incident import (
    EventType,
    Incident,
    IncidentEvent,
    IncidentStatus,
    TimelineEntry,
    incident_id,
)
from shared.domain.ports import GroupOutcome, IncidentPage

COUNTER_SHARDS = 10
CLAIM_RETENTION = timedelta(days=30)
OUTBOX_RETENTION = timedelta(days=7)
TXN_ATTEMPTS = 5


def _contended(exc: BaseException) -> bool:
    """The client gives up on a contended transaction with ValueError (wrapping Aborted)."""
    return isinstance(exc, gexc.Aborted | gexc.Conflict) or (
        isinstance(exc, ValueError) and "Failed to commit transaction" in str(exc))


# Concurrent transactions on one document abort each other; retrying at once only collides again,
# so whole transactions are retried with jittered exponential backoff.
retry_contended = tenacity.retry(
    retry=tenacity.retry_if_exception(_contended),
    wait=tenacity.wait_random_exponential(multiplier=0.02, max=2.0),
    stop=tenacity.stop_after_attempt(12),
    reraise=True,
)


class KeyedLocks:
    """In-process locks by key.

    Correctness comes from the transactions; these only stop the threads of one instance from
    aborting each other's transactions on the same document (the emulator resolves such
    read-then-write conflicts slowly, by lock timeouts).
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class FirestoreStore:
    def __init__(self, client: firestore.Client):
        self.db = client
        self._locks = KeyedLocks()

    def record_alerts(self, batch: list[Classified], now: datetime, policy: Policy | None = None) -> GroupOutcome:
        """Serialised per group in this instance; new incidents serialised (they share the sequence).

        With a policy, a new incident's escalation starts in the same transaction (plan frozen, first pages
        in the outbox), and a severity raised by an alert re-plans it.
        """
        group = self.db.collection("groups").document(batch[0].group_id).get()
        opening = not (group.exists and group.get("open_incident_id"))
        with self._locks("new-incident" if opening else f"group:{batch[0].group_id}"):
            return self._record_alerts(batch, now, policy)

    # ---- grouping ------------------------------------------------------------------------------

    @retry_contended
    def _record_alerts(self, batch: list[Classified], now: datetime, policy: Policy | None) -> GroupOutcome:
        """One transaction per group: read group + known alerts, decide, write.

        Idempotency key: the alert id (source + fingerprint); a redelivered batch decides "no change".
        """
        group_ref = self.db.collection("groups").document(batch[0].group_id)
        alert_refs = {c.alert.alert_id: self.db.collection("alerts").document(c.alert.alert_id) for c in batch}

        @firestore.transactional
        def run(txn: firestore.Transaction) -> GroupOutcome:
            snaps = list(self.db.get_all([group_ref, *alert_refs.values()], transaction=txn))
            by_path = {s.reference.path: s for s in snaps}
            gsnap = by_path.get(group_ref.path)
            group = GroupState(**gsnap.to_dict()) if gsnap and gsnap.exists else None
            known = {
                aid: AlertRecord(**by_path[ref.path].to_dict())
                for aid, ref in alert_refs.items()
                if ref.path in by_path and by_path[ref.path].exists
            }
            decision = decide(group, known, batch, now)
            if not decision.changes_anything:
                return GroupOutcome(incident_id=group.open_incident_id if group else None)

            inc_id = group.open_incident_id if group else None
            writes = 0
            created = False
            if decision.create_incident is not None:
                inc_id, number = self._next_incident_id(txn, now)
                incident = decision.create_incident.model_copy(update={"id": inc_id, "number": number})
                doc = _doc(incident)
                if policy is not None:
                    start = start_escalation(policy, incident.type, incident.severity, now)
                    doc |= start.updates
                    writes += self._write_pages(txn, inc_id, start.pages, now)
                    if policy.cert_in.enabled and policy.incident_types[incident.type].kind == "security":
                        clock = start_cert_in(policy, incident.model_copy(update={"id": inc_id}), now)
                        doc |= clock.updates
                        writes += self._write_pages(txn, inc_id, clock.pages, now)
                        decision.timeline.extend(clock.timeline)
                txn.create(self._incident(inc_id), doc)
                writes += 2
                created = True
            for record in decision.alert_writes:
                if record.incident_id == "__new__":
                    record = record.model_copy(update={"incident_id": inc_id})
                txn.set(alert_refs[record.alert_id], _doc(record))
                writes += 1
            if inc_id and (decision.firing_delta or decision.added):
                shard = self._incident(inc_id).collection("counters").document(str(random.randrange(COUNTER_SHARDS)))
                txn.set(shard, {"firing": firestore.Increment(decision.firing_delta),
                                "total": firestore.Increment(decision.added)}, merge=True)
                writes += 1
            if decision.raise_severity_to and inc_id:
                update: dict[str, Any] = {"severity": decision.raise_severity_to.value, "updated_at": now}
                current = self._incident(inc_id).get(transaction=txn) if policy is not None else None
                if current is not None and current.exists:
                    incident = Incident(**current.to_dict())
                    if incident.escalation is not None and incident.status is IncidentStatus.OPEN:
                        step = replan(policy, incident.escalation, incident.type, incident.severity,
                                      decision.raise_severity_to, now)
                        update |= escalation_fields(step.state)
                        writes += self._write_pages(txn, inc_id, step.pages, now)
                txn.update(self._incident(inc_id), update)
                writes += 1
            if decision.group is not None:
                state = decision.group
                if state.open_incident_id == "__new__":
                    state = state.model_copy(update={"open_incident_id": inc_id})
                txn.set(group_ref, _doc(state))
                writes += 1
            for i, entry in enumerate(decision.timeline):
                if inc_id:
                    txn.create(self._timeline_ref(inc_id, entry, i), _doc(entry))
                    writes += 1
            events = [self._event(inc_id, et, now, decision) for et in decision.events if inc_id]
            for event in events:
                txn.set(self.db.collection("outbox").document(_safe(event.event_id)), _outbox_doc(event))
                writes += 1
            return GroupOutcome(incident_id=inc_id, created=created, events=events,
                                maybe_all_resolved=decision.firing_delta < 0, writes=writes)

        return run(self.db.transaction(max_attempts=TXN_ATTEMPTS))

    def _next_incident_id(self, txn: firestore.Transaction, now: datetime) -> tuple[str, int]:
        ref = self.db.collection("sequences").document(f"incidents-{now.year}")
        snap = ref.get(transaction=txn)
        number = (snap.get("next") if snap.exists else 0) + 1
        txn.set(ref, {"next": number})
        return incident_id(now.year, number), number

    @staticmethod
    def _event(inc_id: str, event_type: EventType, now: datetime, decision: Any) -> IncidentEvent:
        suffix = {
            EventType.OPENED: "opened",
            EventType.SEVERITY_RAISED: f"severity-{decision.raise_severity_to}",
            EventType.ALERTS_UPDATED: f"alerts-{int(now.timestamp() * 1000)}",
        }.get(event_type, event_type.value)
        return IncidentEvent(event_id=f"{inc_id}:{suffix}", type=event_type, incident_id=inc_id, at=now)

    @retry_contended
    def settle_alerts_resolved(self, incident_id: str, policy: Policy, now: datetime) -> list[IncidentEvent]:
        """If no alert of the incident is firing any more, resolve it or tell the owner (policy)."""
        inc_ref = self._incident(incident_id)

        @firestore.transactional
        def run(txn: firestore.Transaction) -> list[IncidentEvent]:
            snap = inc_ref.get(transaction=txn)
            if not snap.exists:
                return []
            shards = list(inc_ref.collection("counters").stream(transaction=txn))
            if sum(int(s.get("firing") or 0) for s in shards) > 0:
                return []
            incident = Incident(**snap.to_dict())
            outcome = on_all_alerts_resolved(policy, incident, now)
            if outcome is None:
                return []
            update: dict[str, Any] = {"alerts_resolved_at": now, "updated_at": now}
            if outcome.resolve:
                update |= {"status": IncidentStatus.RESOLVED.value, "resolved_at": now,
                           "resolution_summary": "Every alert resolved."}
                from shared.domain.resolution import schedule_review  # a policy may auto-resolve high incidents

                review = schedule_review(policy, incident, now)  # the reconciler drafts the RCA (due now)
                update |= review.updates
                for i, entry in enumerate(review.timeline, start=1):
                    txn.create(self._timeline_ref(incident_id, entry, i), _doc(entry))
                group_ref = self.db.collection("groups").document(group_id(incident.group_key))
                txn.set(group_ref, {"open_incident_id": None, "incident_severity": None, "alerts_in_timeline": 0},
                        merge=True)
            txn.update(inc_ref, update)
            txn.create(self._timeline_ref(incident_id, outcome.timeline), _doc(outcome.timeline))
            event = IncidentEvent(event_id=f"{incident_id}:{outcome.event.value}", type=outcome.event,
                                  incident_id=incident_id, at=now)
            txn.set(self.db.collection("outbox").document(_safe(event.event_id)), _outbox_doc(event))
            return [event]

        return run(self.db.transaction(max_attempts=TXN_ATTEMPTS))

    # ---- changes to one incident (commands, escalation steps) ----------------------------------

    def change_incident(self, incident_id: str, decide_change: Callable[[Incident], Change | None],
                        now: datetime) -> tuple[Change | None, list[IncidentEvent]]:
        """Read the incident, ask what changes, write it with its timeline, events and pages: one transaction.

        Idempotency: `decide_change` sees the state as committed, so a repeated command or step finds nothing
        left to do (a step names its number; a command on a state it already produced changes nothing).
        """
        with self._locks(f"incident:{incident_id}"):
            return self._change_incident(incident_id, decide_change, now)

    @retry_contended
    def _change_incident(self, incident_id: str, decide_change: Callable[[Incident], Change | None],
                         now: datetime) -> tuple[Change | None, list[IncidentEvent]]:
        ref = self._incident(incident_id)

        @firestore.transactional
        def run(txn: firestore.Transaction) -> tuple[Change | None, list[IncidentEvent]]:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                raise LookupError(incident_id)
            incident = Incident(**snap.to_dict())
            change = decide_change(incident)
            if change is None or not (change.updates or change.timeline or change.pages):
                return change, []
            if change.updates:
                txn.update(ref, change.updates)
            for i, entry in enumerate(change.timeline):
                txn.create(self._timeline_ref(incident_id, entry, i), _doc(entry))
            self._write_pages(txn, incident_id, change.pages, now)
            if change.free_group:
                txn.set(self.db.collection("groups").document(group_id(incident.group_key)),
                        {"open_incident_id": None, "incident_severity": None, "alerts_in_timeline": 0}, merge=True)
            step = (change.updates.get("escalation") or {}).get("step", "")
            events = [IncidentEvent(event_id=f"{incident_id}:{et.value}:{step}:{int(now.timestamp() * 1000)}",
                                    type=et, incident_id=incident_id, at=now) for et in change.events]
            for event in events:
                txn.set(self.db.collection("outbox").document(_safe(event.event_id)), _outbox_doc(event))
            return change, events

        return run(self.db.transaction(max_attempts=TXN_ATTEMPTS))

    def _write_pages(self, txn: firestore.Transaction, incident_id: str, pages: list[Page], now: datetime) -> int:
        for page in pages:
            txn.create(self.db.collection("pages").document(_safe(f"{incident_id}:{page.key}")),
                       {**page.model_dump(mode="python"), "incident_id": incident_id, "status": "pending",
                        "created_at": now})
        return len(pages)

    def pending_pages(self, incident_id: str) -> list[tuple[str, Page]]:
        query = (self.db.collection("pages").where(filter=firestore.FieldFilter("incident_id", "==", incident_id))
                 .where(filter=firestore.FieldFilter("status", "==", "pending")))
        fields = Page.model_fields
        return [(d.id, Page(**{k: v for k, v in d.to_dict().items() if k in fields})) for d in query.stream()]

    def mark_page(self, page_id: str, status: str, now: datetime, detail: dict[str, Any] | None = None) -> None:
        fields = {"status": status, "sent_at": now, **(detail or {})}
        self.db.collection("pages").document(page_id).update(fields)

    def pages_of(self, incident_id: str) -> list[dict[str, Any]]:
        query = self.db.collection("pages").where(filter=firestore.FieldFilter("incident_id", "==", incident_id))
        return sorted((d.to_dict() for d in query.stream()), key=lambda p: (p["step"], p["recipient"]["person_id"]))

    def overdue_cert_in(self, now: datetime, limit: int = 100) -> list[str]:
        """Incidents whose next CERT-In deadline is past (its timer was lost), whatever their status."""
        return self.incidents_due("cert_in_next_due_at", now, limit)

    def running_cert_in_clocks(self, now: datetime, limit: int = 50) -> list[Incident]:
        """Incidents whose CERT-In clock still has a deadline ahead (their Slack countdown is refreshed)."""
        query = (self.db.collection("incidents").where(filter=firestore.FieldFilter("cert_in_next_due_at", ">", now))
                 .order_by("cert_in_next_due_at").limit(limit))
        return [Incident(**d.to_dict()) for d in query.stream()]

    def overdue_escalations(self, now: datetime, limit: int = 100) -> list[Incident]:
        """Open incidents whose next escalation step is past due (its task was lost or failed)."""
        query = (self.db.collection("incidents")
                 .where(filter=firestore.FieldFilter("status", "==", IncidentStatus.OPEN.value))
                 .where(filter=firestore.FieldFilter("next_escalation_at", "<=", now))
                 .order_by("next_escalation_at").limit(limit))
        return [Incident(**d.to_dict()) for d in query.stream()]

    def stale_outbox_incidents(self, older_than: datetime, limit: int = 200) -> list[str]:
        """Incidents with events still unpublished since before `older_than` (a publish failed after commit)."""
        query = (self.db.collection("outbox").where(filter=firestore.FieldFilter("published", "==", False))
                 .where(filter=firestore.FieldFilter("at", "<=", older_than)).limit(limit))
        return sorted({d.get("incident_id") for d in query.stream()})

    def stale_page_incidents(self, older_than: datetime, limit: int = 200) -> list[str]:
        """Incidents with pages still unsent since before `older_than` (a delivery failed or crashed)."""
        query = (self.db.collection("pages").where(filter=firestore.FieldFilter("status", "==", "pending"))
                 .where(filter=firestore.FieldFilter("created_at", "<=", older_than)).limit(limit))
        return sorted({d.get("incident_id") for d in query.stream()})

    # ---- manual incidents -----------------------------------------------------------------------

    def create_incident(self, draft: Incident, timeline: TimelineEntry, now: datetime) -> IncidentEvent:
        with self._locks("new-incident"):
            return self._create_incident(draft, timeline, now)

    @retry_contended
    def _create_incident(self, draft: Incident, timeline: TimelineEntry, now: datetime) -> IncidentEvent:
        """A person's report: a new incident with its readable id, opened event in the outbox."""

        @firestore.transactional
        def run(txn: firestore.Transaction) -> IncidentEvent:
            inc_id, number = self._next_incident_id(txn, now)
            incident = draft.model_copy(update={"id": inc_id, "number": number})
            txn.create(self._incident(inc_id), _doc(incident))
            txn.create(self._timeline_ref(inc_id, timeline), _doc(timeline))
            event = IncidentEvent(event_id=f"{inc_id}:opened", type=EventType.OPENED, incident_id=inc_id, at=now)
            txn.set(self.db.collection("outbox").document(_safe(event.event_id)), _outbox_doc(event))
            return event

        return run(self.db.transaction(max_attempts=TXN_ATTEMPTS))

    # ---- reads ---------------------------------------------------------------------------------

    def get_incident(self, incident_id: str) -> Incident | None:
        snap = self._incident(incident_id).get()
        return Incident(**snap.to_dict()) if snap.exists else None

    def list_incidents(self, *, status: str | None = None, severity: str | None = None,
                       type: str | None = None, limit: int = 50, cursor: str | None = None) -> IncidentPage:
        query: Any = self.db.collection("incidents")
        for field, value in (("status", status), ("severity", severity), ("type", type)):
            if value:
                query = query.where(filter=firestore.FieldFilter(field, "==", value))
        query = query.order_by("created_at", direction=firestore.Query.DESCENDING).order_by(
            "number", direction=firestore.Query.DESCENDING)
        if cursor:
            after = self._incident(cursor).get()
            if after.exists:
                query = query.start_after(after)
        docs = list(query.limit(limit + 1).stream())
        incidents = [Incident(**d.to_dict()) for d in docs[:limit]]
        next_cursor = incidents[-1].id if len(docs) > limit else None
        return IncidentPage(incidents=incidents, next_cursor=next_cursor)

    def get_alert(self, alert_id: str) -> AlertRecord | None:
        snap = self.db.collection("alerts").document(alert_id).get()
        return AlertRecord(**snap.to_dict()) if snap.exists else None

    def alerts_of(self, incident_id: str, limit: int = 100) -> list[AlertRecord]:
        query = (self.db.collection("alerts").where(filter=firestore.FieldFilter("incident_id", "==", incident_id))
                 .limit(limit))
        return sorted((AlertRecord(**d.to_dict()) for d in query.stream()), key=lambda a: a.first_seen)

    def timeline_of(self, incident_id: str, limit: int = 500) -> list[TimelineEntry]:
        query = self._incident(incident_id).collection("timeline").order_by("__name__").limit(limit)
        return [TimelineEntry(**d.to_dict()) for d in query.stream()]

    def alert_counts(self, incident_id: str) -> tuple[int, int]:
        """(firing, total distinct alerts) summed over the counter shards."""
        firing = total = 0
        for shard in self._incident(incident_id).collection("counters").stream():
            firing += int(shard.get("firing") or 0)
            total += int(shard.get("total") or 0)
        return firing, total

    # ---- outbox and claims ---------------------------------------------------------------------

    def pending_events(self, incident_id: str) -> list[IncidentEvent]:
        query = (self.db.collection("outbox")
                 .where(filter=firestore.FieldFilter("incident_id", "==", incident_id))
                 .where(filter=firestore.FieldFilter("published", "==", False)))
        return [IncidentEvent(**_event_fields(d.to_dict())) for d in query.stream()]

    def mark_published(self, event_ids: list[str]) -> None:
        if not event_ids:
            return
        batch = self.db.batch()
        expire_at = datetime.now(UTC) + OUTBOX_RETENTION  # Firestore TTL deletes published events after this
        for event_id in event_ids:
            batch.update(self.db.collection("outbox").document(_safe(event_id)),
                         {"published": True, "expire_at": expire_at})
        batch.commit()

    def claim(self, key: str, now: datetime, lease: timedelta) -> bool:
        """Take the right to perform a one-time side effect.

        True for exactly one caller until the claim completes; a claim whose lease expired
        (its holder crashed) can be taken again, so the effect is retried, not lost. The common
        case is one create() with a must-not-exist precondition; only a takeover needs a transaction.
        """
        ref = self.db.collection("claims").document(_safe(key))
        try:
            ref.create({"done": False, "lease_until": now + lease, "attempts": 1})
            return True
        except gexc.AlreadyExists:
            pass
        snap = ref.get()
        if not snap.exists or snap.get("done") or snap.get("lease_until") > now:
            return bool(not snap.exists and self.claim(key, now, lease))
        with self._locks(f"claim:{key}"):
            return self._take_over(ref, now, lease)

    @retry_contended
    def _take_over(self, ref: firestore.DocumentReference, now: datetime, lease: timedelta) -> bool:
        @firestore.transactional
        def run(txn: firestore.Transaction) -> bool:
            snap = ref.get(transaction=txn)
            data = snap.to_dict() if snap.exists else {}
            if data.get("done") or ("lease_until" in data and data["lease_until"] > now):
                return False
            # set() replaces the document, so the count is carried over by hand (an Increment would start at 0)
            txn.set(ref, {"done": False, "lease_until": now + lease, "attempts": int(data.get("attempts") or 0) + 1})
            return True

        return run(self.db.transaction(max_attempts=TXN_ATTEMPTS))

    def release_claim(self, key: str) -> None:
        self.db.collection("claims").document(_safe(key)).delete()

    def complete_claim(self, key: str, result: dict[str, Any]) -> None:
        """Done claims are kept a month (Firestore TTL on `expire_at`): long after any redelivery could come."""
        self.db.collection("claims").document(_safe(key)).set(
            {"done": True, "result": result, "expire_at": datetime.now(UTC) + CLAIM_RETENTION}, merge=True)

    def claim_result(self, key: str) -> dict[str, Any] | None:
        snap = self.db.collection("claims").document(_safe(key)).get()
        return snap.get("result") if snap.exists and snap.get("done") else None

    def claim_attempts(self, key: str) -> int:
        """How many holders took this claim: more than one means an earlier one may have half-done the work."""
        snap = self.db.collection("claims").document(_safe(key)).get()
        return int(snap.get("attempts") or 0) if snap.exists else 0

    def timeline_after(self, incident_id: str, after_id: str | None, limit: int = 500
                       ) -> list[tuple[str, TimelineEntry]]:
        """Timeline entries with their ids, oldest first, after a watermark (ids sort by time)."""
        query: Any = self._incident(incident_id).collection("timeline").order_by("__name__")
        if after_id:
            query = query.start_after({"__name__": self._incident(incident_id).collection("timeline")
                                       .document(after_id)})
        return [(d.id, TimelineEntry(**d.to_dict())) for d in query.limit(limit).stream()]

    def incidents_due(self, field: str, now: datetime, limit: int = 100) -> list[str]:
        """Ids of incidents whose `field` (a `*_due_at` time kept for this query) has passed."""
        query = (self.db.collection("incidents").where(filter=firestore.FieldFilter(field, "<=", now))
                 .order_by(field).limit(limit))
        return [d.id for d in query.stream()]

    def set_fields(self, incident_id: str, fields: dict[str, Any]) -> None:
        self._incident(incident_id).update(fields)

    def set_slack_message(self, incident_id: str, channel: str, ts: str) -> None:
        self._incident(incident_id).update({"slack_channel": channel, "slack_ts": ts})

    def append_timeline(self, incident_id: str, entry: TimelineEntry) -> None:
        self._timeline_ref(incident_id, entry).create(_doc(entry))

    def ping(self) -> None:
        """Cheap round trip used by health checks."""
        self.db.collection("health").document("ping").get(timeout=2)

    def _timeline_ref(self, incident_id: str, entry: TimelineEntry, seq: int = 0) -> firestore.DocumentReference:
        """Ids sort by time, then by order within one change, so the timeline reads in order by id."""
        micros = int(entry.at.timestamp() * 1_000_000)
        doc_id = f"{micros:017d}-{seq:03d}-{uuid.uuid4().hex[:8]}"
        return self._incident(incident_id).collection("timeline").document(doc_id)

    def _incident(self, incident_id: str) -> firestore.DocumentReference:
        return self.db.collection("incidents").document(incident_id)


def _doc(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="python")


def _outbox_doc(event: IncidentEvent) -> dict[str, Any]:
    return {**event.model_dump(mode="python"), "published": False}


def _event_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "published"}


def _safe(key: str) -> str:
    """Firestore ids may not contain '/'."""
    return key.replace("/", "_")
