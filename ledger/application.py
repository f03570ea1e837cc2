"""The consent ledger as an event-sourced application: facts in, receipts out.

`record` is its one command. It loads the record the fact belongs to (opening one where the
fact allows), lets the record's aggregate decide (raising a typed refusal, or answering the fact
as it is to be recorded), seals the fact's personal values with the subject's key, and saves
the event, together with the idempotency acknowledgement when the caller gave a key. How that
save is made safe against concurrent writers and retries is `ledger.write_path`'s; how a batch
of facts shares one transaction is `ledger.batches`'.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson
from eventsourcing.application import AggregateNotFoundError

from ledger.batches import Batches
from ledger.breach import Breach, BreachFact, breach_key
from ledger.claim import Claim, ClaimFact, claim_key
from ledger.errors import InvalidFact, NotFound, SubjectDestroyed
from ledger.facts import Fact, fingerprint, refuse_personal_in_clear, sealed, terms
from ledger.policy import Policy, PolicyVersion, policy_key
from ledger.rules import destruction
from ledger.sealing import KeyStore, MasterKeyError, Sealer
from ledger.storage import SqlKeyStore
from ledger.subject import Subject
from ledger.subject_facts import Acceptance, Destruction, SubjectFact, subject_key
from ledger.terms import Sealed, SubjectId
from ledger.write_path import project, utc_now
from ledger.writing import CURRENT_LOADS, DEFAULT_CACHE_SIZE, Receipt, Request

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime
    from uuid import UUID

    from eventsourcing.domain import Aggregate
    from eventsourcing.utils import EnvType

    from ledger.stamp import Stamp
    from ledger.storage import Database
    from ledger.terms import PolicyId

__all__ = ["FACTS", "ConsentLedger", "Receipt", "RecordedFact", "Request", "open_ledger", "text_sha256", "utc_now"]

RECORDS: dict[type[Fact], type[Any]] = {
    SubjectFact: Subject,
    PolicyVersion: Policy,
    BreachFact: Breach,
    ClaimFact: Claim,
}
"""The aggregate that decides and keeps each family of facts."""

FACTS: tuple[type[Fact], ...] = (
    PolicyVersion,
    *SubjectFact.__subclasses__(),
    *BreachFact.__subclasses__(),
    *ClaimFact.__subclasses__(),
)
"""Every fact a writer may state, in the order the API documents them."""


def text_sha256(text: str) -> str:
    """The address of a policy text: SHA-256 of its exact UTF-8 bytes (clause 9.1)."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RecordedFact:
    """One stored event as a reader sees it: personal fields opened, or None once destroyed."""

    number: int
    event_type: str
    occurred_at: datetime | None
    recorded_at: datetime
    recorded_by: str | None
    fields: dict[str, object]


class _AboutSubject(Protocol):
    subject_id: SubjectId


class ConsentLedger(Batches):
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
        """Open the event store described by `env`; `master_key` is needed only to seal and open."""
        super().__init__(env, clock=clock, cache_size=cache_size)
        self._master_key = master_key
        self._sealer: Sealer | None = None
        self._policies: dict[UUID, Policy] = {}
        self._policies_lock = threading.Lock()

    @property
    def sealer(self) -> Sealer:
        """Seals personal values; needs the master key."""
        if self._sealer is None:
            if self._master_key is None:
                msg = "this ledger was opened without a master key; personal values cannot be sealed or opened"
                raise RuntimeError(msg)
            keys: KeyStore = SqlKeyStore(self.storage)
            self._sealer = Sealer(self._master_key, keys)
        return self._sealer

    # The command.

    def record(self, request: Request, fact: Fact, occurred_at: datetime | None = None) -> Receipt:
        """Record `fact` (it happened at `occurred_at`, default now) if its record's rules allow it.

        Refused, it raises the `LedgerError` that says why and records nothing.
        """
        refuse_personal_in_clear(fact)
        write = fingerprint(fact, occurred_at, self._personal)
        if not isinstance(fact, Destruction):
            return self._write(self._loader(fact), self._decider(fact), request, occurred_at, write)
        try:
            receipt = self._write(self._loader(fact), self._decider(fact), request, occurred_at, write)
        except SubjectDestroyed:
            self.sealer.shred(fact.key())  # finish a destruction whose key deletion was interrupted
            raise
        self._after_commit(lambda: self.sealer.shred(fact.key()))
        return receipt

    def _loader(self, fact: Fact) -> Callable[[Stamp], Aggregate]:
        """How `record` finds the fact's record: kept or stored, opened or created where the fact may."""
        kind, key = type(fact), fact.key()
        record = next(r for family, r in RECORDS.items() if isinstance(fact, family))

        def load(stamp: Stamp) -> Aggregate:
            try:
                found: Aggregate = self._load(key)
            except AggregateNotFoundError:
                if kind.creates:
                    created = record.decide_new(fact, stamp)
                    return cast("Aggregate", record._create(kind.recorded, id=key, **self._recorded(created, stamp)))  # noqa: SLF001  (the library's way to create from an event class)
                if kind.opens:
                    return cast("Aggregate", record.opened_for(fact, stamp))
                raise NotFound(f"{fact.record_name()} is not recorded") from None
            if kind.creates:
                raise InvalidFact(f"{fact.record_name()} is already recorded (on {found.created_on.isoformat()})")
            return found

        return load

    def _decider(self, fact: Fact) -> Callable[[Any, Stamp], None]:
        """How `record` decides the fact on its record, then adds it as its event."""
        if type(fact).creates:
            return _nothing_more

        def decide(aggregate: Any, stamp: Stamp) -> None:
            decided = aggregate.decide(fact, stamp, self)
            if decided is not None:
                aggregate.trigger_event(type(decided).recorded, **self._recorded(decided, stamp))

        return decide

    def _recorded(self, fact: Fact, stamp: Stamp) -> dict[str, Any]:
        """The event's fields: the fact's terms, personal ones sealed, with who recorded it and both times."""
        values = terms(fact)
        for name in sealed(type(fact)):
            if values[name] is not None:
                values[name] = self.seal(cast("_AboutSubject", fact).subject_id, name, values[name])
        values.update(recorded_by=stamp.recorded_by, occurred_at=stamp.occurred_at, timestamp=stamp.recorded_at)
        return values

    def _personal(self, values: list[str | None]) -> str:
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
        return hmac.new(key, orjson.dumps(values), hashlib.sha256).hexdigest()

    # Sealing.

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
        return destruction(subject.entries) is not None

    # What decisions consult: the published policies.

    def policy(self, policy_id: PolicyId) -> Policy:
        """The policy with every version published."""
        try:
            policy: Policy = self.repository.get(policy_key(policy_id))
        except AggregateNotFoundError:
            raise NotFound(f"policy {policy_id!r} is not recorded") from None
        return policy

    def policy_versions(self, subject: Subject) -> dict[tuple[PolicyId, str], PolicyVersion]:
        """The terms of every version of every policy the subject has accepted."""
        policy_ids = {e.policy_id for e in subject.entries if isinstance(e, Acceptance)}
        found: dict[tuple[PolicyId, str], PolicyVersion] = {}
        for pid in policy_ids:
            for v in self.policy(pid).versions.values():
                found[(pid, v.version)] = v
        return found

    def current_policy(self, policy_id: PolicyId, *, fresh: bool = False) -> Policy:
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

    def accepted_terms(self, subject: Subject, *, fresh: bool = False) -> dict[tuple[PolicyId, str], PolicyVersion]:
        """`policy_versions`, from the kept policies: read again only if a version the subject accepted is missing.

        `fresh` reads what was published since in any case: a disclosure is judged against every
        version by then, since one that requires re-consent invalidates the consents before it.
        """
        accepted: dict[PolicyId, set[str]] = {}
        for e in subject.entries:
            if isinstance(e, Acceptance):
                accepted.setdefault(e.policy_id, set()).add(e.policy_version)
        found: dict[tuple[PolicyId, str], PolicyVersion] = {}
        for pid, versions in accepted.items():
            policy = self.current_policy(pid, fresh=fresh)
            if not versions <= policy.versions.keys():
                policy = self.current_policy(pid, fresh=True)
            for v in policy.versions.values():
                found[(pid, v.version)] = v
        return found

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
                "subject_id",
            ):
                continue
            if isinstance(value, Sealed):
                fields[name] = None if destroyed else self.sealer.open(key, name, value)
            elif isinstance(value, frozenset):
                fields[name] = tuple(sorted(value))  # shown in a stable order
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
        return cast("Claim", self._existing(claim_key(claim_ref), f"claim {claim_ref!r}"))

    def claimant(self, claim_ref: str) -> str | None:
        """The claimant's name in clear, or None once the subject was destroyed."""
        claim = self.claim(claim_ref)
        subject = SubjectId(claim.subject_id)
        if self.is_destroyed(subject):
            return None
        return self.sealer.open(subject_key(subject), "claimant", claim.claimant)

    def breach(self, breach_ref: str) -> Breach:
        """One breach."""
        return cast("Breach", self._existing(breach_key(breach_ref), f"breach {breach_ref!r}"))

    def _existing(self, key: UUID, what: str) -> Aggregate:
        try:
            found: Aggregate = self.repository.get(key, projector_func=project)
        except AggregateNotFoundError:
            raise NotFound(f"{what} is not recorded") from None
        return found

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


def _nothing_more(_aggregate: Any, _stamp: Stamp) -> None:
    """A fact that creates its record was decided and recorded when the record was made."""


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
