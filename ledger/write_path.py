"""The write path of one command: load its record, decide, save with its acknowledgement, retry if beaten.

A command usually decides on an aggregate kept from the process's last command (`ledger.writing`)
instead of reading every event again: if another process wrote since, the save loses on the
version check and the next attempt reads again. A refusal, or a command that records nothing,
first brings what it was decided on up to date, so that it never stands on a stale copy. An
idempotency key's first answer is looked up only when that could change the answer (a refusal,
nothing to record, a save that lost): a key used before makes the save collide with its
acknowledgement, so a fact is never recorded twice.

The event store is read here with statements of our own, one round trip each: the recorder's
own reads wrap each SELECT in a transaction and build a `StoredEvent` per row.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Mapper, Transcoder

from ledger.acknowledgement import Acknowledgement, acknowledgement_key
from ledger.errors import ConcurrentWriteConflict, IdempotencyKeyReused, LedgerError, VersionMismatch
from ledger.stamp import Stamp
from ledger.storage import Storage
from ledger.transcoding import OrjsonTranscoder, TypedMapper
from ledger.writing import (
    CURRENT_LOADS,
    CURRENT_UNIT,
    DEFAULT_CACHE_SIZE,
    AggregateCache,
    Loaded,
    Probe,
    Receipt,
    Request,
    UnitOfWork,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from eventsourcing.utils import EnvType

A = TypeVar("A", bound=Aggregate)
MAX_ATTEMPTS = 50
"""Lost races before a command gives up with `ConcurrentWriteConflict` (the caller may retry)."""
log = logging.getLogger(__name__)


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """`eventsourcing`'s `project_aggregate`, less its check of each event against a runtime Protocol.

    That `isinstance` costs tens of microseconds per event, more than applying it; every event
    here is an `Aggregate.Event`, which can mutate. Used by the write path only: the naive
    answer the benchmarks compare with keeps the library's own `repository.get`.
    """
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def request_digest(fingerprint: dict[str, object]) -> str:
    """The SHA-256 of a request's canonical JSON: what a retry under the same idempotency key must match."""
    return hashlib.sha256(
        orjson.dumps(fingerprint, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    ).hexdigest()


def utc_now() -> datetime:
    """The ledger's clock; the only place below the HTTP edge that reads it."""
    return datetime.now(UTC)


class WritePath(Application[Any]):
    """An event-sourced application whose commands decide on kept aggregates and never record twice."""

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        """Open the event store described by `env`; keep `cache_size` aggregates between commands (0: none)."""
        super().__init__(env)
        self.clock = clock
        self._cache = AggregateCache(cache_size)

    def construct_transcoder(self) -> Transcoder:
        """Store events as canonical orjson bytes."""
        return OrjsonTranscoder()

    def construct_mapper(self) -> Mapper[Any]:
        """Restore event fields to their annotated types."""
        return TypedMapper(transcoder=self.construct_transcoder())

    @property
    def datastore(self) -> Any:
        """The recorder's datastore (its connection pool and transactions), for our own few tables."""
        return self.recorder.datastore  # type: ignore[attr-defined]

    @cached_property
    def storage(self) -> Storage:
        """What differs between SQLite and PostgreSQL, for the events and our own tables beside them."""
        return Storage.of(self.recorder)

    def _stamp(self, request: Request, occurred_at: datetime | None) -> Stamp:
        now = self.clock()
        return Stamp(request.caller, occurred_at or now, now)

    def _write(
        self,
        load: Callable[[Stamp], A],
        decide: Callable[[A, Stamp], object],
        request: Request,
        occurred_at: datetime | None,
        fingerprint: dict[str, object],
    ) -> Receipt:
        """Decide and record one fact, retrying from a fresh read when a concurrent write won.

        The aggregate usually comes from the cache without a read: if another process wrote
        since, the save loses on the version and the next attempt reads again. An idempotency
        key is looked up only when that could change the answer (a refusal, nothing to record,
        or a save that lost): a key used before makes the save collide with its acknowledgement.
        """
        digest = request_digest(fingerprint)
        looked_up = False
        for _ in range(MAX_ATTEMPTS):
            if request.idempotency_key and looked_up and (replay := self._replay(request, digest)):
                return replay
            stamp = self._stamp(request, occurred_at)
            loaded = Loaded(self)
            token = CURRENT_LOADS.set(loaded)
            try:
                aggregate = load(stamp)
                self._check_expected_version(request, aggregate)
                decide(aggregate, stamp)
            except LedgerError:
                if self._caught_up(loaded):
                    continue
                if (first := self._first_answer(request, digest, looked_up=looked_up)) is not None:
                    return first
                raise
            finally:
                CURRENT_LOADS.reset(token)
            if not aggregate.pending_events:
                if self._caught_up(loaded):
                    continue
                return self._first_answer(request, digest, looked_up=looked_up) or self._receipt_of_current(aggregate)
            receipt = self._save_one(aggregate, loaded, request, digest, stamp)
            if receipt is not None:
                return receipt
            looked_up = True  # the key may be taken: look it up before deciding again
        msg = "the record kept changing under concurrent writes; retry the request"
        raise ConcurrentWriteConflict(msg)

    def _first_answer(self, request: Request, digest: str, *, looked_up: bool) -> Receipt | None:
        """For a command that refused or recorded nothing: the first answer to its key, unless looked up already."""
        if request.idempotency_key and not looked_up:
            return self._replay(request, digest)
        return None

    def _save_one(
        self, aggregate: Aggregate, loaded: Loaded, request: Request, digest: str, stamp: Stamp
    ) -> Receipt | None:
        """Save one command's event (with its key's acknowledgement); None if another writer won."""
        last = aggregate.pending_events[-1]
        to_save: list[Any] = [aggregate]
        if request.idempotency_key:
            to_save.append(self._acknowledgement(request, digest, last, stamp))
        try:
            recordings = self.save(*to_save)
        except IntegrityError:
            return None
        for kept, _ in loaded.aggregates.values():
            self._cache.checkin(kept)
        self._cache.checkin(aggregate)
        position = next(r.notification.id for r in recordings if r.domain_event is last)
        return Receipt(type(last).__name__, aggregate.id, last.originator_version, position, stamp.recorded_at)

    @staticmethod
    def _check_expected_version(request: Request, aggregate: Aggregate) -> None:
        if request.expected_version is not None and aggregate.version != request.expected_version:
            msg = f"the record is at version {aggregate.version}, not {request.expected_version}; read it again"
            raise VersionMismatch(msg)

    @staticmethod
    def _acknowledgement(request: Request, digest: str, last: Any, stamp: Stamp) -> Acknowledgement.Given:
        assert request.idempotency_key is not None  # noqa: S101  (checked by the caller)
        return Acknowledgement.given(
            request.caller,
            request.idempotency_key,
            digest,
            type(last).__name__,
            last.originator_id,
            last.originator_version,
            stamp.recorded_at,
        )

    def _caught_up(self, loaded: Loaded) -> bool:
        """After a refusal: bring what came unchecked from the cache up to date; True if anything was new.

        Every aggregate that is unchanged goes back to the cache; one a refused command changed anyway
        is dropped (the next read rebuilds it from the store).
        """
        changed = False
        for aggregate, unchecked in loaded.aggregates.values():
            if aggregate.pending_events:
                continue
            if unchecked and self._fast_forward(aggregate):
                changed = True
            self._cache.checkin(aggregate)
        return changed

    def _fast_forward(self, aggregate: Aggregate) -> bool:
        """Apply what other writers stored since this copy was made (one indexed query); True if anything."""
        new = self._events_after(aggregate.id, aggregate.version)
        project(aggregate, new)
        return bool(new)

    def _load(self, key: UUID) -> Any:
        """The aggregate for a command: from the batch, else the cache, else the store (AggregateNotFoundError)."""
        unit = self._unit()
        if unit is not None:
            if key in unit.overlay:
                return unit.overlay[key]
            if unit.probing:
                raise Probe(key)
            if key in unit.absent:
                raise AggregateNotFoundError(key)
        aggregate = self._cache.checkout(key)
        unchecked = aggregate is not None
        if aggregate is None:
            aggregate = self._read(key)
        if unit is not None:
            unit.overlay[key] = aggregate
            if unchecked:
                unit.unchecked.add(key)
        else:
            loaded = CURRENT_LOADS.get()
            if loaded is not None and loaded.owner is self:
                loaded.aggregates[key] = (aggregate, unchecked)
        return aggregate

    def _read(self, key: UUID) -> Any:
        """Rebuild one aggregate from its events, read in one query (AggregateNotFoundError if it has none).

        What `repository.get` does, less the recorder's `StoredEvent` per row and its parse of the
        row's originator id (known here): a subject read cold has dozens of events.
        """
        events = self._events_after(key, 0)
        if not events:
            raise AggregateNotFoundError(key)
        return project(None, events)

    def _events_after(self, key: UUID, version: int) -> list[Any]:
        """The aggregate's events after `version`, oldest first, in one statement."""
        return [self.mapper.to_domain_event(e) for e in self.storage.events_after(key, version)]

    def _read_many(self, keys: list[UUID]) -> list[Aggregate]:
        """Rebuild many aggregates from their events, read in one query per 500."""
        aggregates: list[Aggregate] = []
        current: Any = None
        for stored in self.storage.events_of(keys):
            if current is not None and current.id != stored.originator_id:
                aggregates.append(current)
                current = None
            current = project(current, [self.mapper.to_domain_event(stored)])
        if current is not None:
            aggregates.append(current)
        return aggregates

    def _unit(self) -> UnitOfWork | None:
        """The batch this ledger's command runs in, if any (another ledger's batch is not ours)."""
        unit = CURRENT_UNIT.get()
        return unit if unit is not None and unit.owner is self else None

    def _after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once what the current command recorded is stored: now, or after its batch is saved."""
        unit = self._unit()
        if unit is None:
            action()
        else:
            unit.after_commit.append(action)

    def _replay(self, request: Request, digest: str) -> Receipt | None:
        assert request.idempotency_key is not None  # noqa: S101  (checked by the caller)
        try:
            key = acknowledgement_key(request.caller, request.idempotency_key)
            ack: Acknowledgement = self.repository.get(key, projector_func=project)
        except AggregateNotFoundError:
            return None
        if (ack.caller, ack.idempotency_key) != (request.caller, request.idempotency_key):  # pragma: no cover
            msg = "idempotency key collision between callers; use another key"
            raise IdempotencyKeyReused(msg)
        if ack.request_sha256 != digest:
            msg = (
                f"idempotency key {request.idempotency_key!r} was first used on "
                f"{ack.fact_recorded_at.isoformat()} for a different request; use a new key"
            )
            raise IdempotencyKeyReused(msg)
        position = self.storage.position_of(ack.fact_id, ack.fact_version)
        return Receipt(ack.fact_type, ack.fact_id, ack.fact_version, position or 0, ack.fact_recorded_at, replayed=True)

    def _receipt_of_current(self, aggregate: Aggregate) -> Receipt:
        """For a command that found its fact already recorded (an identical policy version)."""
        position = self.storage.position_of(aggregate.id, aggregate.version)
        return Receipt(
            "Unchanged", aggregate.id, aggregate.version, position or 0, aggregate.modified_on, replayed=True
        )
