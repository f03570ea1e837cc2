"""The consent ledger as an event-sourced application: commands in, receipts out.

Each command loads the aggregate it concerns, lets the aggregate decide (raising a typed
refusal, or recording one event), and saves — together with the idempotency acknowledgement
when the caller gave a key. A save that loses a race on the aggregate's version is retried
from a fresh read, so two writers never both pass a rule only one of them may pass.

That version check is also what lets a command decide on the aggregate the process kept from
its last command (`ledger.writing`) instead of reading every event again: a stale copy can
only lose the race. `record_many` runs many commands as one unit of work and one transaction
(what `ledger.group_commit` and bulk imports use).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent, Transcoder

from ledger.acknowledgement import Acknowledgement, acknowledgement_key
from ledger.breach import Breach, breach_key
from ledger.claim import Claim, claim_key
from ledger.errors import (
    ConcurrentWriteConflict,
    IdempotencyKeyReused,
    LedgerError,
    NotFound,
    SubjectDestroyed,
    VersionMismatch,
)
from ledger.policy import Policy, policy_key
from ledger.sealing import KeyStore, MasterKeyError, Sealer
from ledger.stamp import Stamp
from ledger.storage import Database, SqlKeyStore, position_of
from ledger.subject import Subject, subject_key
from ledger.terms import (
    Actor,
    BlockGround,
    BlockOutcome,
    BlockRequester,
    Channel,
    ClaimOutcome,
    ConsentMethod,
    DataCategory,
    DestructionGround,
    DisclosureGround,
    Language,
    Purpose,
    RecipientCategory,
    RequestKind,
    RequestOutcome,
    Sealed,
)
from ledger.transcoding import OrjsonTranscoder, TypedMapper
from ledger.writing import (
    CURRENT_LOADS,
    CURRENT_UNIT,
    DEFAULT_CACHE_SIZE,
    AggregateCache,
    Loaded,
    Pending,
    Probe,
    UnitOfWork,
    UnsafeBatch,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from eventsourcing.utils import EnvType

    from ledger.history import PolicyVersionTerms
    from ledger.terms import PolicyId, SubjectId

A = TypeVar("A", bound=Aggregate)
STALE = "stale"
"""What `_settle` answers when a refusal was decided on a kept aggregate another writer had moved on."""
MAX_ATTEMPTS = 50
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


def _digest(fingerprint: dict[str, object]) -> str:
    """The SHA-256 of a request's canonical JSON: what a retry under the same idempotency key must match."""
    return hashlib.sha256(
        orjson.dumps(fingerprint, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    ).hexdigest()


def utc_now() -> datetime:
    """The ledger's clock; the only place below the HTTP edge that reads it."""
    return datetime.now(UTC)


def text_sha256(text: str) -> str:
    """The address of a policy text: SHA-256 of its exact UTF-8 bytes (clause 9.1)."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What a write answers: which event it recorded and where it sits in the log."""

    event_type: str
    aggregate_id: UUID
    version: int
    position: int
    recorded_at: datetime
    replayed: bool = False
    """True when an idempotent retry got the first request's answer and nothing new was recorded."""


@dataclass(frozen=True)
class Request:
    """Who is writing, and the idempotency key they gave (if any)."""

    caller: str
    idempotency_key: str | None = None
    expected_version: int | None = None
    """Optimistic concurrency: refuse unless the record is still at this version."""


@dataclass(frozen=True)
class RecordedFact:
    """One stored event as a reader sees it: personal fields opened, or None once destroyed."""

    number: int
    event_type: str
    occurred_at: datetime | None
    recorded_at: datetime
    recorded_by: str | None
    fields: dict[str, object]


class ConsentLedger(Application[Any]):
    """Records every fact of the policy and enforces its rules on write."""

    name = "ConsentLedger"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        master_key: bytes | None = None,
        clock: Callable[[], datetime] = utc_now,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        """Open the event store described by `env`; `master_key` is needed only to seal and open.

        `cache_size` aggregates are kept between commands (see `ledger.writing`); 0 reads every
        command's aggregate from the store.
        """
        super().__init__(env)
        self.clock = clock
        self._master_key = master_key
        self._sealer: Sealer | None = None
        self._cache = AggregateCache(cache_size)
        self._policies: dict[UUID, Policy] = {}
        self._policies_lock = threading.Lock()

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

    @property
    def backend(self) -> Literal["sqlite", "postgres"]:
        """`sqlite` or `postgres`, as the recorder in use."""
        return "postgres" if "postgres" in type(self.recorder).__module__ else "sqlite"

    @property
    def events_table(self) -> str:
        """The qualified name of the table the recorder stores events in."""
        table: str = self.recorder.events_table_name  # type: ignore[attr-defined]
        schema = getattr(self.datastore, "schema", None)
        return f'"{schema}".{table}' if self.backend == "postgres" and schema else table

    @property
    def sealer(self) -> Sealer:
        """Seals personal values; needs the master key."""
        if self._sealer is None:
            if self._master_key is None:
                msg = "this ledger was opened without a master key; personal values cannot be sealed or opened"
                raise RuntimeError(msg)
            schema = getattr(self.datastore, "schema", None)
            keys: KeyStore = SqlKeyStore(self.datastore, self.backend, schema if self.backend == "postgres" else None)
            self._sealer = Sealer(self._master_key, keys)
        return self._sealer

    # Writing.

    def _personal(self, *values: str | None) -> str:
        """A keyed digest of the personal values of a request, for its idempotency fingerprint.

        A retry must carry the same personal values as the first request, but a plain hash of
        them would let anyone holding the events guess them back; an HMAC under a key derived
        from the master key does not.
        """
        if all(v is None for v in values):
            return ""
        if self._master_key is None:
            msg = "this ledger was opened without a master key; personal values cannot be recorded"
            raise RuntimeError(msg)
        key = hmac.new(self._master_key, b"consent-ledger:idempotency-fingerprint", hashlib.sha256).digest()
        return hmac.new(key, orjson.dumps(list(values)), hashlib.sha256).hexdigest()

    def _stamp(self, request: Request, occurred_at: datetime | None) -> Stamp:
        now = self.clock()
        return Stamp(request.caller, occurred_at or now, now)

    def _write(
        self,
        load: Callable[[datetime], A],
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
        unit = self._unit()
        if unit is not None:
            return self._write_in_unit(unit, load, decide, request, occurred_at, fingerprint)
        digest = _digest(fingerprint)
        looked_up = False
        for _ in range(MAX_ATTEMPTS):
            if request.idempotency_key and looked_up and (replay := self._replay(request, digest)):
                return replay
            stamp = self._stamp(request, occurred_at)
            loaded = Loaded(self)
            token = CURRENT_LOADS.set(loaded)
            try:
                aggregate = load(stamp.recorded_at)
                self._check_expected_version(request, aggregate)
                decide(aggregate, stamp)
            except LedgerError:
                settled = self._settle(loaded, request, digest, looked_up=looked_up)
                if settled is None:
                    raise
                if settled == STALE:
                    continue
                return cast("Receipt", settled)
            finally:
                CURRENT_LOADS.reset(token)
            if not aggregate.pending_events:
                settled = self._settle(loaded, request, digest, looked_up=looked_up)
                if settled == STALE:
                    continue
                return cast("Receipt", settled) if settled is not None else self._receipt_of_current(aggregate)
            receipt = self._save_one(aggregate, loaded, request, digest, stamp)
            if receipt is not None:
                return receipt
            looked_up = True  # the key may be taken: look it up before deciding again
        msg = "the record kept changing under concurrent writes; retry the request"
        raise ConcurrentWriteConflict(msg)

    def _settle(self, loaded: Loaded, request: Request, digest: str, *, looked_up: bool) -> Receipt | str | None:
        """A command refused or recorded nothing: STALE to decide again, the first answer to its key, or None."""
        if self._caught_up(loaded):
            return STALE
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

    def _write_in_unit(  # noqa: PLR0917  (those of _write, in order)
        self,
        unit: UnitOfWork,
        load: Callable[[datetime], A],
        decide: Callable[[A, Stamp], object],
        request: Request,
        occurred_at: datetime | None,
        fingerprint: dict[str, object],
    ) -> Receipt:
        """Decide one command of a batch against the batch's state; its events wait for the batch's save."""
        self._probe(unit, load)
        digest = _digest(fingerprint)
        if request.idempotency_key and (replay := self._earlier_answer(unit, request, digest)) is not None:
            return replay
        while True:
            stamp = self._stamp(request, occurred_at)
            aggregate = self._load_in_unit(unit, load, stamp, request, digest)
            if isinstance(aggregate, Receipt):
                return aggregate
            version, before = aggregate.version, unit.queued.get(aggregate.id, 0)
            try:
                self._check_expected_version(request, aggregate)
                decide(aggregate, stamp)
            except LedgerError:
                if aggregate.version != version:
                    raise UnsafeBatch from None
                if self._caught_up_in_unit(unit, aggregate):
                    continue
                if (replay := self._replay_in_unit(unit, request, digest)) is not None:
                    return replay
                raise
            new = aggregate.pending_events[before:]
            if new:
                break
            if self._caught_up_in_unit(unit, aggregate):
                continue
            return self._replay_in_unit(unit, request, digest) or self._unchanged_in_unit(unit, aggregate)
        return self._queue_in_unit(unit, aggregate, new, request, digest, stamp)

    def _probe(self, unit: UnitOfWork, load: Callable[[datetime], Any]) -> None:
        """When `record_many` only asks which aggregate a command wants: load it, which stops it (`Probe`).

        Before the request's digest and its key's lookup, which a probe has no use for.
        """
        if unit.probing:
            load(self.clock())

    def _load_in_unit(
        self, unit: UnitOfWork, load: Callable[[datetime], A], stamp: Stamp, request: Request, digest: str
    ) -> A | Receipt:
        """The command's record; or, when loading refuses (a breach already recorded), its key's first answer."""
        try:
            return load(stamp.recorded_at)
        except LedgerError:
            if (replay := self._replay_in_unit(unit, request, digest)) is not None:
                return replay
            raise

    def _queue_in_unit(  # noqa: PLR0917  (what one accepted command of a batch leaves)
        self, unit: UnitOfWork, aggregate: Aggregate, new: list[Any], request: Request, digest: str, stamp: Stamp
    ) -> Receipt:
        """Keep an accepted command's events (and its key's acknowledgement) for the batch's save."""
        unit.overlay[aggregate.id] = aggregate
        unit.queued[aggregate.id] = len(aggregate.pending_events)
        unit.events.extend(new)
        last = new[-1]
        receipt = Receipt(type(last).__name__, aggregate.id, last.originator_version, 0, stamp.recorded_at)
        unit.result = Pending(receipt, last)
        if request.idempotency_key:
            unit.events.append(self._acknowledgement(request, digest, last, stamp))
            unit.keys[acknowledgement_key(request.caller, request.idempotency_key)] = (digest, unit.result)
        return receipt

    def _replay_in_unit(self, unit: UnitOfWork, request: Request, digest: str) -> Receipt | None:
        """For a command of a batch that records nothing: the first answer to its key, if not looked up already."""
        if request.idempotency_key and not unit.look_up_keys:
            return self._replay(request, digest)
        return None

    def _unchanged_in_unit(self, unit: UnitOfWork, aggregate: Aggregate) -> Receipt:
        """The receipt of a command whose fact is already on record (or pending in this batch)."""
        if not aggregate.pending_events:
            return self._receipt_of_current(aggregate)
        # Unchanged since an earlier command of this batch changed it: its position comes with the batch.
        receipt = Receipt("Unchanged", aggregate.id, aggregate.version, 0, aggregate.modified_on, replayed=True)
        unit.result = Pending(receipt, aggregate.pending_events[-1])
        return receipt

    def _caught_up_in_unit(self, unit: UnitOfWork, aggregate: Aggregate) -> bool:
        """Before a refusal stands: bring a kept aggregate up to date, once; True if anything was new.

        One that earlier commands of the batch changed needs no read: if it was stale, the batch's
        save collides with what was stored since, and the whole batch is decided again.
        """
        if aggregate.id not in unit.unchecked:
            return False
        unit.unchecked.discard(aggregate.id)
        return not unit.queued.get(aggregate.id) and self._fast_forward(aggregate)

    def _earlier_answer(self, unit: UnitOfWork, request: Request, digest: str) -> Receipt | None:
        """The answer already given to this idempotency key in this batch (or, if looked up, in the store)."""
        assert request.idempotency_key is not None  # noqa: S101  (checked by the caller)
        earlier = unit.keys.get(acknowledgement_key(request.caller, request.idempotency_key))
        if earlier is not None:
            first_digest, first = earlier
            if first_digest != digest:
                msg = (
                    f"idempotency key {request.idempotency_key!r} was first used in this batch "
                    "for a different request; use a new key"
                )
                raise IdempotencyKeyReused(msg)
            unit.result = Pending(replace(first.receipt, replayed=True), first.event)
            return unit.result.receipt
        return self._replay(request, digest) if unit.look_up_keys else None

    def record_many(self, calls: Sequence[Callable[[], Receipt]]) -> list[Receipt | LedgerError]:
        """Run commands as one unit of work and save everything they record in one transaction.

        Each call is a closure invoking one command method (`lambda: ledger.record_disclosure(...)`).
        Each sees the effects of the calls before it and gets its own answer: its receipt, with
        its real log position, or the `LedgerError` that refused it (and recorded nothing). If
        the transaction loses a race to another writer, the batch is decided again from a fresh
        read with every idempotency key looked up, and if that loses too, the calls run one at a
        time as ordinary commands: nothing is lost or recorded twice.

        A call may therefore be invoked more than once (first up to its first read, to fetch every
        aggregate of the batch in one query; again after a lost race): it must do nothing but
        invoke the command.
        """
        if self._unit() is not None:
            msg = "record_many cannot be nested"
            raise RuntimeError(msg)
        absent = self._prefetch(calls)
        for look_up_keys in (False, True):
            answers = self._run_unit(calls, look_up_keys=look_up_keys, absent=absent)
            if answers is not None:
                return answers
            absent = set()
        return [self._one(call) for call in calls]

    def _prefetch(self, calls: Sequence[Callable[[], Receipt]]) -> set[UUID]:
        """Read in one query the aggregate each call decides on, unless kept; return the ids found absent.

        Loading them one call at a time would cost a round trip each. Each call is run up to its
        first load, which stops it (`Probe`): commands do nothing else before they load.
        """
        probe = UnitOfWork(self, look_up_keys=False, probing=True)
        wanted: dict[UUID, None] = {}
        token = CURRENT_UNIT.set(probe)
        try:
            for call in calls:
                try:
                    call()
                except Probe as p:
                    wanted[p.key] = None
                except Exception:  # noqa: BLE001, S110  (it fails again, and is answered, when run for real)
                    pass
        finally:
            CURRENT_UNIT.reset(token)
        missing = [key for key in wanted if not self._cache.holds(key)]
        found = self._read_many(missing)
        for aggregate in found:
            self._cache.checkin(aggregate)
        return set(missing) - {a.id for a in found}

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
        rows = self._query(
            f"SELECT originator_version, topic, state FROM {self.events_table} "  # noqa: S608  (our own table name; values bound)
            "WHERE originator_id = ? AND originator_version > ? ORDER BY originator_version",
            (key.hex if self.backend == "sqlite" else key, version),
        )
        return [self._event(key, row) for row in rows]

    def _read_many(self, keys: list[UUID]) -> list[Aggregate]:
        """Rebuild many aggregates from their events, read in one query per 500."""
        aggregates: list[Aggregate] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            params: list[object]
            if self.backend == "sqlite":
                among, params = f"IN ({', '.join('?' * len(chunk))})", [key.hex for key in chunk]
            else:
                among, params = "= ANY(?)", [chunk]
            rows = self._query(
                f"SELECT originator_id, originator_version, topic, state FROM {self.events_table} "  # noqa: S608  (our own table name; every value is a bound parameter)
                f"WHERE originator_id {among} ORDER BY originator_id, originator_version",
                params,
            )
            current: Any = None
            for row in rows:
                originator = row["originator_id"]
                event = self._event(originator if isinstance(originator, UUID) else UUID(originator), row)
                if current is None or current.id != event.originator_id:
                    if current is not None:
                        aggregates.append(current)
                    current = None
                current = project(current, [event])
            if current is not None:
                aggregates.append(current)
        return aggregates

    def _query(self, statement: str, params: Sequence[object]) -> list[Any]:
        """The rows of one read-only statement written with `?` placeholders (as the view writes its own).

        The recorder wraps its SELECTs in a transaction: on PostgreSQL, BEGIN and ROLLBACK are
        two more round trips than one statement needs (the connections autocommit, and a single
        SELECT sees one snapshot anyway).
        """
        if self.backend == "sqlite":
            with self.datastore.transaction(commit=False) as c:
                c.execute(statement, params)
                return list(c.fetchall())
        with self.datastore.cursor() as c:
            c.execute(statement.replace("?", "%s"), params)
            return list(c.fetchall())

    def _event(self, originator_id: UUID, row: Any) -> Any:
        """The domain event of a stored row (its originator known to the caller)."""
        return self.mapper.to_domain_event(
            StoredEvent(originator_id, row["originator_version"], row["topic"], bytes(row["state"]))
        )

    @staticmethod
    def _one(call: Callable[[], Receipt]) -> Receipt | LedgerError:
        try:
            return call()
        except LedgerError as e:
            return e

    def _run_unit(
        self, calls: Sequence[Callable[[], Receipt]], *, look_up_keys: bool, absent: set[UUID]
    ) -> list[Receipt | LedgerError] | None:
        """One attempt at a batch; None when it has to be redone (a lost race, an unsafe refusal)."""
        unit = UnitOfWork(self, look_up_keys, absent=absent)
        answers: list[Receipt | Pending | LedgerError] = []
        token = CURRENT_UNIT.set(unit)
        try:
            for call in calls:
                unit.result = None
                try:
                    receipt = call()
                except LedgerError as e:
                    answers.append(e)
                    continue
                answers.append(unit.result if unit.result is not None else receipt)
        except UnsafeBatch:
            return None
        finally:
            CURRENT_UNIT.reset(token)
        positions: dict[int, int] = {}
        if unit.events:
            try:
                recordings = self.save(*unit.events)
            except IntegrityError:
                return None
            positions = {id(r.domain_event): r.notification.id for r in recordings}
            for aggregate in unit.overlay.values():
                aggregate.collect_events()
        for aggregate in unit.overlay.values():
            self._cache.checkin(aggregate)
        for action in unit.after_commit:
            action()
        return [replace(a.receipt, position=positions[id(a.event)]) if isinstance(a, Pending) else a for a in answers]

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
        position = position_of(self.datastore, self.events_table, self.backend, ack.fact_id, ack.fact_version)
        return Receipt(ack.fact_type, ack.fact_id, ack.fact_version, position or 0, ack.fact_recorded_at, replayed=True)

    def _receipt_of_current(self, aggregate: Aggregate) -> Receipt:
        """For a command that found its fact already recorded (an identical policy version)."""
        position = position_of(self.datastore, self.events_table, self.backend, aggregate.id, aggregate.version)
        return Receipt(
            "Unchanged", aggregate.id, aggregate.version, position or 0, aggregate.modified_on, replayed=True
        )

    def _subject(self, subject_id: SubjectId) -> Callable[[datetime], Subject]:
        def load(now: datetime) -> Subject:
            try:
                subject: Subject = self._load(subject_key(subject_id))
            except AggregateNotFoundError:
                return Subject.open(subject_id, now)
            return subject

        return load

    def _existing(self, key: UUID, what: str) -> Callable[[datetime], Any]:
        def load(_: datetime) -> Any:
            try:
                return self._load(key)
            except AggregateNotFoundError:
                raise NotFound(f"{what} is not recorded") from None

        return load

    def seal(self, subject_id: SubjectId, field: str, value: str | None) -> Sealed | None:
        """Seal a personal value with the subject's key; refused once the subject is destroyed."""
        if value is None:
            return None
        destroyed = self._destroyed_as_decided(subject_key(subject_id))
        if destroyed is None:
            destroyed = self.is_destroyed(subject_id)
        if destroyed:
            self.sealer.shred(subject_key(subject_id))
            msg = f"subject {subject_id}'s data were destroyed; nothing personal can be recorded for them"
            raise SubjectDestroyed(msg)
        return self.sealer.seal(subject_key(subject_id), field, value)

    def _seal_required(self, subject_id: SubjectId, field: str, value: str) -> Sealed:
        sealed = self.seal(subject_id, field, value)
        if sealed is None:  # pragma: no cover  (a required value is never None)
            msg = f"{field} is required"
            raise TypeError(msg)
        return sealed

    def _destroyed_as_decided(self, key: UUID) -> bool | None:
        """Whether the subject the running command decides on was destroyed, without a read (None: not known).

        The copy may be stale, and that is safe here: a destroyed subject's key is a tombstone the
        sealer refuses to use, and the refusal then makes the command read the record again.
        """
        unit = self._unit()
        if unit is not None:
            if key in unit.overlay:
                subject: Any = unit.overlay[key]
            elif key in unit.absent:
                return False
            else:
                return None
        else:
            loaded = CURRENT_LOADS.get()
            if loaded is None or loaded.owner is not self or key not in loaded.aggregates:
                return None
            subject = loaded.aggregates[key][0]
        from ledger.rules import destruction  # noqa: PLC0415

        return isinstance(subject, Subject) and destruction(subject.entries) is not None

    def is_destroyed(self, subject_id: SubjectId) -> bool:
        """Whether the subject's data were destroyed (as recorded now, or earlier in the current batch)."""
        key = subject_key(subject_id)
        unit = self._unit()
        try:
            found = unit.overlay.get(key) if unit is not None else None
            subject = cast("Subject", found) if found is not None else self.repository.get(key)
        except AggregateNotFoundError:
            return False
        from ledger.rules import destruction  # noqa: PLC0415

        return destruction(subject.entries) is not None

    # Commands: policies.

    def publish_policy_version(
        self,
        request: Request,
        *,
        policy_id: PolicyId,
        version: str,
        text_sha256: dict[Language, str],
        purposes: frozenset[Purpose],
        optional_purposes: frozenset[Purpose],
        recipient_categories: frozenset[RecipientCategory],
        effective_from: datetime | None = None,
        operator_name: str = "",
        operator_bin: str = "",
        notifies_transfers: bool = False,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Publish a policy version (adopting the policy on its first version)."""

        def load(now: datetime) -> Policy:
            try:
                policy: Policy = self._load(policy_key(policy_id))
            except AggregateNotFoundError:
                return Policy.adopt(policy_id, operator_name, operator_bin, Stamp(request.caller, now, now))
            return policy

        return self._write(
            load,
            lambda p, s: p.publish_version(
                version,
                text_sha256,
                purposes,
                optional_purposes,
                recipient_categories,
                effective_from,
                s,
                notifies_transfers=notifies_transfers,
            ),
            request,
            occurred_at,
            {
                "cmd": "publish",
                "policy": policy_id,
                "version": version,
                "sha": text_sha256,
                "purposes": sorted(purposes),
                "optional": sorted(optional_purposes),
                "categories": sorted(recipient_categories),
                "effective_from": effective_from,
                "notifies": notifies_transfers,
            },
        )

    def policy(self, policy_id: PolicyId) -> Policy:
        """The policy with every version published."""
        try:
            policy: Policy = self.repository.get(policy_key(policy_id))
        except AggregateNotFoundError:
            raise NotFound(f"policy {policy_id!r} is not recorded") from None
        return policy

    def policy_versions(self, subject: Subject) -> dict[tuple[PolicyId, str], PolicyVersionTerms]:
        """The terms of every version of every policy the subject has accepted."""
        from ledger.history import Acceptance  # noqa: PLC0415

        policy_ids = {e.policy_id for e in subject.entries if isinstance(e, Acceptance)}
        terms: dict[tuple[PolicyId, str], PolicyVersionTerms] = {}
        for pid in policy_ids:
            for v in self.policy(pid).versions.values():
                terms[(pid, v.version)] = v
        return terms

    def _current_policy(self, policy_id: PolicyId, *, fresh: bool) -> Policy:
        """A policy for deciding a command, kept between commands; `fresh` first reads what was published since.

        Published versions never change, so a kept policy can only lack versions: a command that
        needs every version (a consent is judged against the versions after it) asks for `fresh`.
        The kept object is never mutated (a newer one replaces it), so readers may share it.
        """
        key = policy_key(policy_id)
        unit = self._unit()
        if unit is not None:
            if key in unit.overlay:
                return cast("Policy", unit.overlay[key])
            fresh = fresh and key not in unit.fresh_policies
        with self._policies_lock:
            kept = self._policies.get(key)
        if kept is not None and not fresh:
            return kept
        if kept is None:
            try:
                kept = cast("Policy", self._read(key))
            except AggregateNotFoundError:
                raise NotFound(f"policy {policy_id!r} is not recorded") from None
        else:
            new = self._events_after(key, kept.version)
            if new:
                kept = cast("Policy", project(copy.deepcopy(kept), new))
        with self._policies_lock:
            other = self._policies.get(key)
            if other is None or other.version < kept.version:
                self._policies[key] = kept
        if unit is not None:
            unit.fresh_policies.add(key)
        return kept

    def _accepted_terms(self, subject: Subject) -> dict[tuple[PolicyId, str], PolicyVersionTerms]:
        """`policy_versions`, from the kept policies: read again only if a version the subject accepted is missing."""
        from ledger.history import Acceptance  # noqa: PLC0415

        accepted: dict[PolicyId, set[str]] = {}
        for e in subject.entries:
            if isinstance(e, Acceptance):
                accepted.setdefault(e.policy_id, set()).add(e.policy_version)
        terms: dict[tuple[PolicyId, str], PolicyVersionTerms] = {}
        for pid, versions in accepted.items():
            policy = self._current_policy(pid, fresh=False)
            if not versions <= policy.versions.keys():
                policy = self._current_policy(pid, fresh=True)
            for v in policy.versions.values():
                terms[(pid, v.version)] = v
        return terms

    # Commands: a subject's record.

    def grant_consent(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        policy_id: PolicyId,
        policy_version: str,
        language: Language,
        text_sha256: str,
        method: ConsentMethod,
        channel: str,
        optional_purposes: frozenset[Purpose] = frozenset(),
        data_categories: frozenset[DataCategory] = frozenset(),
        third_parties: bool = False,
        cross_border: bool = False,
        publication: bool = False,
        valid_until: datetime | None = None,
        actor: Actor = Actor.SUBJECT,
        representative: str | None = None,
        evidence: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record consent to a policy version (clauses 2.1, 3.1, 4.1.6; Art. 8(4))."""
        policy = self._current_policy(policy_id, fresh=True)
        terms = policy.versions.get(policy_version)
        if terms is None:
            raise NotFound(f"policy {policy_id!r} has no published version {policy_version!r}")
        return self._write(
            self._subject(subject_id),
            lambda s, st: s.grant_consent(
                terms,
                list(policy.versions.values()),
                language=language,
                text_sha256=text_sha256,
                method=method,
                channel=channel,
                optional_purposes=optional_purposes,
                data_categories=data_categories,
                third_parties=third_parties,
                cross_border=cross_border,
                publication=publication,
                valid_until=valid_until,
                actor=actor,
                representative=self.seal(subject_id, "representative", representative),
                evidence=self.seal(subject_id, "evidence", evidence),
                stamp=st,
            ),
            request,
            occurred_at,
            {
                "personal": self._personal(representative, evidence),
                "cmd": "consent",
                "subject": subject_id,
                "policy": policy_id,
                "version": policy_version,
                "language": language,
                "sha": text_sha256,
                "method": method,
                "channel": channel,
                "optional": sorted(optional_purposes),
                "categories": sorted(data_categories),
                "flags": [third_parties, cross_border, publication],
                "valid_until": valid_until,
                "actor": actor,
                "occurred_at": occurred_at,
            },
        )

    def withdraw_consent(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        policy_id: PolicyId,
        purposes: frozenset[Purpose] = frozenset(),
        channel: str,
        actor: Actor = Actor.SUBJECT,
        representative: str | None = None,
        evidence: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record a withdrawal of consent (clause 2.2; Art. 8(7))."""
        return self._write(
            self._subject(subject_id),
            lambda s, st: s.withdraw_consent(
                policy_id,
                purposes,
                channel=channel,
                actor=actor,
                representative=self.seal(subject_id, "representative", representative),
                evidence=self.seal(subject_id, "evidence", evidence),
                stamp=st,
            ),
            request,
            occurred_at,
            {
                "personal": self._personal(representative, evidence),
                "cmd": "withdraw",
                "subject": subject_id,
                "policy": policy_id,
                "purposes": sorted(purposes),
                "channel": channel,
                "actor": actor,
                "occurred_at": occurred_at,
            },
        )

    def refuse_withdrawal(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        policy_id: PolicyId,
        open_obligation: str,
        reason: str,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record a reasoned refusal to withdraw while an obligation is open (Art. 8(2))."""
        return self._write(
            self._subject(subject_id),
            lambda s, st: s.refuse_withdrawal(policy_id, open_obligation, reason, st),
            request,
            occurred_at,
            {
                "cmd": "refuse",
                "subject": subject_id,
                "policy": policy_id,
                "obligation": open_obligation,
                "reason": reason,
                "occurred_at": occurred_at,
            },
        )

    def grant_written_permission(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        permission_id: str,
        recipient: str,
        recipient_category: RecipientCategory,
        purpose: Purpose,
        document: str,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record prior written permission for a disclosure (clause 6.2.2)."""
        return self._write(
            self._subject(subject_id),
            lambda s, st: s.grant_written_permission(
                permission_id,
                recipient=recipient,
                recipient_category=recipient_category,
                purpose=purpose,
                valid_from=valid_from,
                valid_until=valid_until,
                document=self._seal_required(subject_id, "document", document),
                stamp=st,
            ),
            request,
            occurred_at,
            {
                "personal": self._personal(document),
                "cmd": "permit",
                "subject": subject_id,
                "id": permission_id,
                "recipient": recipient,
                "category": recipient_category,
                "purpose": purpose,
                "from": valid_from,
                "until": valid_until,
                "occurred_at": occurred_at,
            },
        )

    def record_disclosure(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        recipient: str,
        recipient_category: RecipientCategory,
        purpose: Purpose,
        data_categories: frozenset[DataCategory],
        ground: DisclosureGround,
        reference: str,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record a disclosure, only if a ground holds at its time (clauses 5.2, 6.2.2; Art. 9)."""

        def decide(s: Subject, st: Stamp) -> object:
            return s.disclose(
                self._accepted_terms(s),
                recipient=recipient,
                recipient_category=recipient_category,
                purpose=purpose,
                data_categories=data_categories,
                ground=ground,
                reference=reference,
                stamp=st,
            )

        return self._write(
            self._subject(subject_id),
            decide,
            request,
            occurred_at,
            {
                "cmd": "disclose",
                "subject": subject_id,
                "recipient": recipient,
                "category": recipient_category,
                "purpose": purpose,
                "data": sorted(data_categories),
                "ground": ground,
                "ref": reference,
                "occurred_at": occurred_at,
            },
        )

    def block_data(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        block_id: str,
        requester: BlockRequester,
        ground: BlockGround,
        request_details: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Block the subject's data from the moment of the request (clause 6.2.4)."""
        return self._write(
            self._subject(subject_id),
            lambda s, st: s.block(block_id, requester, ground, self.seal(subject_id, "request", request_details), st),
            request,
            occurred_at,
            {
                "personal": self._personal(request_details),
                "cmd": "block",
                "subject": subject_id,
                "id": block_id,
                "requester": requester,
                "ground": ground,
                "occurred_at": occurred_at,
            },
        )

    def lift_block(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        block_id: str,
        outcome: BlockOutcome,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Lift a block with the verification's outcome (clause 6.2.4)."""
        return self._write(
            self._existing(subject_key(subject_id), f"subject {subject_id}"),
            lambda s, st: s.lift_block(block_id, outcome, st),
            request,
            occurred_at,
            {"cmd": "lift", "subject": subject_id, "id": block_id, "outcome": outcome, "occurred_at": occurred_at},
        )

    def record_disclosure_notice(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        disclosure_number: int,
        channel: str,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record that the subject was told of a disclosure (Art. 19), which stops its 10 WD deadline."""
        return self._write(
            self._existing(subject_key(subject_id), f"subject {subject_id}"),
            lambda s, st: s.tell_of_disclosure(disclosure_number, channel, st),
            request,
            occurred_at,
            {
                "cmd": "told-of-disclosure",
                "subject": subject_id,
                "number": disclosure_number,
                "channel": channel,
                "occurred_at": occurred_at,
            },
        )

    def complete_verification(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        block_id: str,
        violation_found: bool,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record the end of a block's verification (clause 6.2.4); no violation starts the 1 WD to unblock."""
        return self._write(
            self._existing(subject_key(subject_id), f"subject {subject_id}"),
            lambda s, st: s.complete_verification(block_id, violation_found, st),
            request,
            occurred_at,
            {
                "cmd": "verified",
                "subject": subject_id,
                "id": block_id,
                "violation": violation_found,
                "occurred_at": occurred_at,
            },
        )

    def record_correction(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        data_categories: frozenset[DataCategory],
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record which categories of the subject's data were corrected (clause 6.1.2)."""
        return self._write(
            self._subject(subject_id),
            lambda s, st: s.correct(data_categories, st),
            request,
            occurred_at,
            {"cmd": "correct", "subject": subject_id, "data": sorted(data_categories), "occurred_at": occurred_at},
        )

    def destroy_data(
        self, request: Request, subject_id: SubjectId, *, ground: DestructionGround, occurred_at: datetime | None = None
    ) -> Receipt:
        """Record destruction, then destroy the subject's key (clause 5.3; Art. 1(6))."""
        key = subject_key(subject_id)
        try:
            receipt = self._write(
                self._existing(key, f"subject {subject_id}"),
                lambda s, st: s.destroy(ground, st),
                request,
                occurred_at,
                {"cmd": "destroy", "subject": subject_id, "ground": ground, "occurred_at": occurred_at},
            )
        except SubjectDestroyed:
            self.sealer.shred(key)  # finish a destruction whose key deletion was interrupted
            raise
        self._after_commit(lambda: self.sealer.shred(key))
        return receipt

    def retract_entry(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        number: int,
        reason: str,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Strike out an entry recorded by mistake; the entry stays in the history."""
        return self._write(
            self._existing(subject_key(subject_id), f"subject {subject_id}"),
            lambda s, st: s.retract(number, reason, st),
            request,
            occurred_at,
            {"cmd": "retract", "subject": subject_id, "number": number, "reason": reason, "occurred_at": occurred_at},
        )

    def receive_request(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        request_id: str,
        kind: RequestKind,
        channel: str,
        actor: Actor = Actor.SUBJECT,
        details: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record a subject's request; its deadline (Art. 8(7), 19-1, 24, 25(2)(8)) runs from `occurred_at`."""
        return self._write(
            self._subject(subject_id),
            lambda s, st: s.receive_request(
                request_id, kind, channel, actor, self.seal(subject_id, "details", details), st
            ),
            request,
            occurred_at,
            {
                "personal": self._personal(details),
                "cmd": "request",
                "subject": subject_id,
                "id": request_id,
                "kind": kind,
                "channel": channel,
                "actor": actor,
                "occurred_at": occurred_at,
            },
        )

    def answer_request(
        self,
        request: Request,
        subject_id: SubjectId,
        *,
        request_id: str,
        outcome: RequestOutcome,
        by_entry: int | None = None,
        reason: str = "",
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record how a subject's request was met, which stops its deadline."""
        return self._write(
            self._existing(subject_key(subject_id), f"subject {subject_id}"),
            lambda s, st: s.answer_request(request_id, outcome, by_entry, reason, st),
            request,
            occurred_at,
            {
                "cmd": "answer-request",
                "subject": subject_id,
                "id": request_id,
                "outcome": outcome,
                "by": by_entry,
                "reason": reason,
                "occurred_at": occurred_at,
            },
        )

    # Commands: breaches and claims.

    def record_breach(
        self,
        request: Request,
        *,
        breach_ref: str,
        data_categories: frozenset[DataCategory],
        subject_ids: frozenset[SubjectId],
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record a breach found (clause 5.4); its authority notice is due in 1 working day."""

        def load(_now: datetime) -> Breach:
            try:
                existing: Breach = self._load(breach_key(breach_ref))
            except AggregateNotFoundError:
                return Breach.find(breach_ref, data_categories, subject_ids, self._stamp(request, occurred_at))
            from ledger.errors import InvalidFact  # noqa: PLC0415

            raise InvalidFact(f"breach {breach_ref!r} is already recorded (found {existing.found_at.isoformat()})")

        return self._write(
            load,
            lambda _b, _s: None,
            request,
            occurred_at,
            {
                "cmd": "breach",
                "ref": breach_ref,
                "data": sorted(data_categories),
                "subjects": sorted(subject_ids),
                "occurred_at": occurred_at,
            },
        )

    def record_authority_notice(
        self,
        request: Request,
        *,
        breach_ref: str,
        channel: Channel,
        reference: str,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record that the authorised body was told of a breach (Art. 25(2)(8))."""
        return self._write(
            self._existing(breach_key(breach_ref), f"breach {breach_ref!r}"),
            lambda b, st: b.tell_authority(channel, reference, st),
            request,
            occurred_at,
            {
                "cmd": "tell-authority",
                "ref": breach_ref,
                "channel": channel,
                "reference": reference,
                "occurred_at": occurred_at,
            },
        )

    def record_subject_notice(
        self,
        request: Request,
        *,
        breach_ref: str,
        subject_id: SubjectId,
        channel: Channel,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record that an affected subject was told of a breach (clause 5.4)."""
        return self._write(
            self._existing(breach_key(breach_ref), f"breach {breach_ref!r}"),
            lambda b, st: b.tell_subject(subject_id, channel, st),
            request,
            occurred_at,
            {
                "cmd": "tell-subject",
                "ref": breach_ref,
                "subject": subject_id,
                "channel": channel,
                "occurred_at": occurred_at,
            },
        )

    def receive_claim(
        self,
        request: Request,
        *,
        claim_ref: str,
        subject_id: SubjectId,
        claimant: str,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record a pre-trial claim received (clause 8.1); the claimant's name is sealed."""

        def load(_now: datetime) -> Claim:
            try:
                existing: Claim = self._load(claim_key(claim_ref))
            except AggregateNotFoundError:
                sealed = self._seal_required(subject_id, "claimant", claimant)
                return Claim.receive(claim_ref, subject_id, sealed, self._stamp(request, occurred_at))
            from ledger.errors import InvalidFact  # noqa: PLC0415

            raise InvalidFact(f"claim {claim_ref!r} is already recorded (received {existing.received_at.isoformat()})")

        return self._write(
            load,
            lambda _c, _s: None,
            request,
            occurred_at,
            {
                "personal": self._personal(claimant),
                "cmd": "claim",
                "ref": claim_ref,
                "subject": subject_id,
                "occurred_at": occurred_at,
            },
        )

    def answer_claim(
        self,
        request: Request,
        *,
        claim_ref: str,
        outcome: ClaimOutcome,
        channel: Channel,
        occurred_at: datetime | None = None,
    ) -> Receipt:
        """Record the written answer to a claim (clause 8.2)."""
        return self._write(
            self._existing(claim_key(claim_ref), f"claim {claim_ref!r}"),
            lambda c, st: c.answer(outcome, channel, st),
            request,
            occurred_at,
            {"cmd": "answer", "ref": claim_ref, "outcome": outcome, "channel": channel, "occurred_at": occurred_at},
        )

    def take_claim_to_court(
        self, request: Request, *, claim_ref: str, court_case: str, occurred_at: datetime | None = None
    ) -> Receipt:
        """Record that a claim's dispute went to court (clause 8.3)."""
        return self._write(
            self._existing(claim_key(claim_ref), f"claim {claim_ref!r}"),
            lambda c, st: c.take_to_court(court_case, st),
            request,
            occurred_at,
            {"cmd": "court", "ref": claim_ref, "case": court_case, "occurred_at": occurred_at},
        )

    # Reading back.

    def subject(self, subject_id: SubjectId) -> Subject:
        """The subject's record as the aggregate holds it."""
        try:
            subject: Subject = self.repository.get(subject_key(subject_id))
        except AggregateNotFoundError:
            raise NotFound(f"subject {subject_id!r} is not recorded") from None
        return subject

    def subject_facts(self, subject_id: SubjectId) -> list[RecordedFact]:
        """Every event of the subject, personal fields opened (None once destroyed)."""
        key = subject_key(subject_id)
        self.subject(subject_id)  # NotFound if never recorded
        destroyed = self.is_destroyed(subject_id)
        return [self._as_fact(e, key, destroyed) for e in self.events.get(key)]

    def _as_fact(self, event: Any, key: UUID, destroyed: bool) -> RecordedFact:
        fields: dict[str, object] = {}
        for name, value in vars(event).items():
            if name in (
                "originator_id",
                "originator_version",
                "timestamp",
                "originator_topic",
                "recorded_by",
                "occurred_at",
            ):
                continue
            if isinstance(value, Sealed):
                fields[name] = None if destroyed else self.sealer.open(key, name, value)
            else:
                fields[name] = value
        return RecordedFact(
            number=event.originator_version,
            event_type=type(event).__name__,
            occurred_at=getattr(event, "occurred_at", None),
            recorded_at=event.timestamp,
            recorded_by=getattr(event, "recorded_by", None),
            fields=fields,
        )

    def claim(self, claim_ref: str) -> Claim:
        """One claim."""
        return self._existing(claim_key(claim_ref), f"claim {claim_ref!r}")(self.clock())  # type: ignore[no-any-return]

    def claimant(self, claim_ref: str) -> str | None:
        """The claimant's name in clear, or None once the subject was destroyed."""
        claim = self.claim(claim_ref)
        if self.is_destroyed(claim.subject_id):  # type: ignore[arg-type]
            return None
        return self.sealer.open(subject_key(claim.subject_id), "claimant", claim.claimant)  # type: ignore[arg-type]

    def breach(self, breach_ref: str) -> Breach:
        """One breach."""
        return self._existing(breach_key(breach_ref), f"breach {breach_ref!r}")(self.clock())  # type: ignore[no-any-return]

    def max_position(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def iter_positions(self, start: int = 1, batch: int = 500) -> Iterator[Any]:
        """Notifications from `start` on, in log order."""
        while True:
            notes = self.recorder.select_notifications(start=start, limit=batch)
            if not notes:
                return
            yield from notes
            start = notes[-1].id + 1


def open_ledger(database: Database, master_key: bytes | None, clock: Callable[[], datetime] = utc_now) -> ConsentLedger:
    """Compose the ledger on a database: create what is missing, then open the event store."""
    database.prepare()
    ledger = ConsentLedger(env=database.env, master_key=master_key, clock=clock)
    if master_key is not None:
        try:
            ledger.sealer.check_master_key()
        except MasterKeyError:
            ledger.close()
            raise
    return ledger
