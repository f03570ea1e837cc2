"""Batches: many commands decided as one unit of work and saved in one transaction.

What `ledger.group_commit` and bulk imports use. Each command of a batch sees the effects of
the ones before it and gets its own answer; if the batch's transaction loses a race, it is
decided again from a fresh read, and then, if need be, one command at a time: nothing is lost
or recorded twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.acknowledgement import acknowledgement_key
from ledger.errors import IdempotencyKeyReused, LedgerError
from ledger.stamp import Stamp
from ledger.write_path import WritePath, request_digest
from ledger.writing import CURRENT_UNIT, Pending, Probe, Receipt, Request, UnitOfWork, UnsafeBatch

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from uuid import UUID


A = TypeVar("A", bound=Aggregate)


class Batches(WritePath):
    """The write path, able to run a batch of commands as one unit of work."""

    def _write(
        self,
        load: Callable[[Stamp], A],
        decide: Callable[[A, Stamp], object],
        request: Request,
        occurred_at: datetime | None,
        fingerprint: dict[str, object],
    ) -> Receipt:
        """A command of a batch is decided against the batch's state; alone, it goes the single write path."""
        unit = self._unit()
        if unit is not None:
            return self._write_in_unit(unit, load, decide, request, occurred_at, fingerprint)
        return super()._write(load, decide, request, occurred_at, fingerprint)

    def _write_in_unit(  # noqa: PLR0917  (those of _write, in order)
        self,
        unit: UnitOfWork,
        load: Callable[[Stamp], A],
        decide: Callable[[A, Stamp], object],
        request: Request,
        occurred_at: datetime | None,
        fingerprint: dict[str, object],
    ) -> Receipt:
        """Decide one command of a batch against the batch's state; its events wait for the batch's save."""
        self._probe(unit, load)
        digest = request_digest(fingerprint)
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

    def _probe(self, unit: UnitOfWork, load: Callable[[Stamp], Any]) -> None:
        """When `record_many` only asks which aggregate a command wants: load it, which stops it (`Probe`).

        Before the request's digest and its key's lookup, which a probe has no use for.
        """
        if unit.probing:
            now = self.clock()
            load(Stamp("(probe)", now, now))

    def _load_in_unit(
        self, unit: UnitOfWork, load: Callable[[Stamp], A], stamp: Stamp, request: Request, digest: str
    ) -> A | Receipt:
        """The command's record; or, when loading refuses (a breach already recorded), its key's first answer."""
        try:
            return load(stamp)
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

        Each call is a closure invoking one command (`lambda: ledger.record(request, fact)`).
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
