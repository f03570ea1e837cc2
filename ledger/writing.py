"""The write path's memory: aggregates kept between commands, and the unit of work of a batch.

Rebuilding a subject from all its events on every command costs a query and a decode per
event, and most writes touch a record the process wrote a moment ago. So aggregates are kept
after a command in an `AggregateCache`, *checked out* (removed) by the command that uses them
and checked back in only when that command saved or decided nothing: two threads never hold
the same object, and a command that failed half-way cannot leave a mutated aggregate behind.

A kept aggregate may be stale when another process wrote since. That is safe for a command
that records something, because the event store refuses an event at a version already taken
(the command then starts again from a fresh read); a command that refuses or records nothing
re-reads only what was appended since (`gt=version`) before its answer stands.

Why not the library's own repository cache: its `get` reads the store again to fast-forward a
cached aggregate and hands out a deep copy of it, which are the read and the copy this cache
exists to skip (the version check on save makes a stale copy safe, and checkout makes the copy
unnecessary).

`UnitOfWork` is what `ledger.batches` runs a batch of commands in: their aggregates held in one
overlay, their events collected in call order and saved in one transaction.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from collections.abc import Callable

    from eventsourcing.domain import Aggregate


@dataclass(frozen=True)
class Request:
    """Who is writing, and the idempotency key they gave (if any)."""

    caller: str
    idempotency_key: str | None = None
    expected_version: int | None = None
    """Optimistic concurrency: refuse unless the record is still at this version."""


@dataclass(frozen=True)
class Receipt:
    """What a write answers: which event it recorded and where it sits in the log."""

    event_type: str
    """The fact recorded, e.g. `ConsentGranted`; `Unchanged` if nothing new was."""
    aggregate_id: UUID
    """The record the fact was appended to."""
    version: int
    """The record's version after the write; send it back as `If-Match`."""
    position: int
    """The fact's position in the ledger's log; reads can wait for it."""
    recorded_at: datetime
    """When the ledger recorded the fact."""
    replayed: bool = False
    """True when nothing new was recorded: a retry got the first answer (or the fact was already on record)."""


DEFAULT_CACHE_SIZE = 10_000
"""Aggregates kept per process: a few KB each for a subject of ordinary length."""


class AggregateCache:
    """The aggregates the last commands left, least recently used evicted first; thread-safe."""

    def __init__(self, maxsize: int = DEFAULT_CACHE_SIZE) -> None:
        """Keep at most `maxsize` aggregates (0 keeps none)."""
        self._maxsize = maxsize
        self._kept: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._lock = threading.Lock()

    def checkout(self, key: UUID) -> Aggregate | None:
        """Take the aggregate out, so no other thread can use (and mutate) it meanwhile."""
        with self._lock:
            return self._kept.pop(key, None)

    def checkin(self, aggregate: Aggregate) -> None:
        """Keep an aggregate whose every event is stored; of two copies, the newer one stays."""
        if self._maxsize <= 0 or aggregate.pending_events:
            return
        with self._lock:
            other = self._kept.get(aggregate.id)
            if other is not None and other.version > aggregate.version:
                return
            self._kept[aggregate.id] = aggregate
            self._kept.move_to_end(aggregate.id)
            while len(self._kept) > self._maxsize:
                self._kept.popitem(last=False)

    def holds(self, key: UUID) -> bool:
        """Whether an aggregate is kept (another thread may take it the next moment)."""
        with self._lock:
            return key in self._kept

    def clear(self) -> None:
        """Forget everything (the next commands read from the store again)."""
        with self._lock:
            self._kept.clear()


@dataclass
class Loaded:
    """What one command attempt checked out: each aggregate, and whether it came unchecked from the cache."""

    owner: object
    """The ledger running the command."""
    aggregates: dict[UUID, tuple[Aggregate, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class Pending:
    """A receipt whose log position is known only once the batch is saved: that of `event`."""

    receipt: Receipt
    event: Any


class Probe(Exception):
    """Stops a command at its first load, to learn which aggregate it needs (see `record_many`)."""

    def __init__(self, key: UUID) -> None:
        """Name the aggregate the command asked for."""
        super().__init__(key)
        self.key = key


class UnsafeBatch(Exception):
    """A refused command changed its aggregate anyway: the batch is redone one command at a time."""


@dataclass
class UnitOfWork:
    """One batch of commands: each sees the earlier ones' effects; all are saved together."""

    owner: object
    """The ledger whose commands belong to this batch."""
    look_up_keys: bool
    """Look each idempotency key up in the store first (else a reused key shows up as a conflict at save)."""
    probing: bool = False
    """Stop each command at its first load (`Probe`), before it decides anything."""
    absent: set[UUID] = field(default_factory=set)
    """Aggregates read a moment ago and not found: a command needs no query to learn they are new."""
    overlay: dict[UUID, Aggregate] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)
    queued: dict[UUID, int] = field(default_factory=dict)
    """How many of each aggregate's pending events are already in `events`."""
    keys: dict[UUID, tuple[str, Pending]] = field(default_factory=dict)
    unchecked: set[UUID] = field(default_factory=set)
    """Aggregates taken from the cache and not read again since: checked only if a refusal depends on them."""
    fresh_policies: set[UUID] = field(default_factory=set)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    result: Pending | None = None


CURRENT_UNIT: ContextVar[UnitOfWork | None] = ContextVar("consent_ledger_unit", default=None)
"""The batch the commands running on this thread (or task) belong to, if any."""

CURRENT_LOADS: ContextVar[Loaded | None] = ContextVar("consent_ledger_loads", default=None)
"""The aggregates the single command running here has checked out so far (of whichever ledger runs it)."""
