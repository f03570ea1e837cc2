"""The audit log of one ledger: its Merkle tree, every checkpoint ever signed, and proofs against them.

Checkpoints are numbered from 1 and kept forever in `audit_checkpoints`, beside the tree, with
the witnesses' cosignatures of each in `audit_cosignatures`. A new one is signed only under the
same key and origin as the one before, and only once the log has proven, with an RFC 9162
consistency proof from its own stored tree, that the new tree extends the last one it signed
(C2SP tlog-checkpoint: "A log MUST not sign any checkpoint which is inconsistent with any
checkpoint it previously signed"). When that proof cannot be made (events or tree rows deleted,
the tree rewritten), the log raises a fork alarm (`audit.alarms`) and signs nothing more until
an operator has looked. Numbers are claimed with the table's primary key, so two processes that
sign at once cannot both take the same place in the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError

from audit.alarms import Alarm, AlarmKind, Alarms, LogHalted
from audit.cosignature import with_cosignatures
from audit.formats import ConsistencyProof, InclusionProof
from audit.merkle import verify_consistency
from audit.notes import Checkpoint, NoteError, split_note
from audit.tree import LedgerTree
from ledger.errors import LedgerError, NotFound

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from audit.notes import SigningKey, VerifierKey
    from audit.witnessing import WitnessPanel
    from ledger.application import ConsentLedger

_ATTEMPTS = 20
_PAGE = 500


class CheckpointRefused(LedgerError):
    """A checkpoint that would contradict the ones already signed, or that cannot be signed here."""

    title = "The checkpoint cannot be issued"


class NotWitnessed(CheckpointRefused):
    """The checkpoint did not get the cosignatures of the witness quorum (a witness is down or refused)."""

    title = "The checkpoint is not witnessed yet"


class ProofUnavailable(NotFound):
    """The event or checkpoint a proof was asked for is not there (yet)."""

    title = "No such proof"


@dataclass(frozen=True)
class IssuedCheckpoint:
    """A checkpoint as the log keeps it: its place in the sequence, what it says, the signed note, who cosigned."""

    number: int
    checkpoint: Checkpoint
    note: str
    """The signed note as the log signed it: its own signature only."""
    signed_at: datetime
    """When this log signed it, by its own clock (not part of the note: the witnesses' cosignatures say when)."""
    cosignatures: tuple[str, ...] = ()
    """The witnesses' cosignature lines (C2SP tlog-cosignature), each ending in a newline."""

    @property
    def size(self) -> int:
        """The tree size it commits to."""
        return self.checkpoint.size

    @property
    def published(self) -> str:
        """The note with the witnesses' cosignatures beside the log's signature: what the log serves and exports."""
        return with_cosignatures(self.note, "".join(self.cosignatures)) if self.cosignatures else self.note


class AuditLog:
    """The ledger's tamper-evident log: grows the tree, signs checkpoints, answers proofs."""

    def __init__(
        self, ledger: ConsentLedger, signing_key: SigningKey | None = None, witnesses: WitnessPanel | None = None
    ) -> None:
        """Open the audit tables on the ledger's database; `signing_key` is needed only to issue checkpoints.

        With `witnesses`, every checkpoint issued is submitted to them and their cosignatures kept.
        """
        self.ledger = ledger
        self.tree = LedgerTree(ledger)
        self.signing_key = signing_key
        self.witnesses = witnesses
        self.alarms = Alarms(self.tree)
        self._datastore: Any = self.tree.datastore
        storage = self.tree.storage
        self._p = storage.placeholder
        self.table = storage.qualify("audit_checkpoints")
        self.cosignatures_table = storage.qualify("audit_cosignatures")
        integer, blob = storage.integer, storage.blob
        with self._datastore.transaction(commit=True) as c:
            storage.creating_tables(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (number {integer} PRIMARY KEY, tree_size {integer} NOT "
                f"NULL, root_hash {blob} NOT NULL, issued_at TEXT NOT NULL, note TEXT NOT NULL)"
            )
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.cosignatures_table} (number {integer} NOT NULL, "
                "witness TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (number, witness))"
            )

    # Checkpoints.

    def issue_checkpoint(
        self, at: datetime, *, only_if_grown: bool = False, progress: Callable[[int], None] | None = None
    ) -> IssuedCheckpoint:
        """Grow the tree to the newest event, prove it extends the last checkpoint, sign and keep one, dated `at`.

        With `only_if_grown` (for periodic checkpoints), the newest checkpoint is answered
        instead when it already covers every event, so an idle ledger does not pile them up (it
        is still offered to witnesses that have not cosigned it). With witnesses, the answer
        carries the cosignatures they gave.
        """
        key = self.signing_key
        if key is None:
            msg = "this audit log was opened without the signing key; checkpoints cannot be signed"
            raise CheckpointRefused(msg)
        if at.utcoffset() is None:
            msg = f"{at.isoformat()} has no time zone; say which instant the checkpoint is signed at"
            raise ValueError(msg)
        self.require_not_halted()
        self.tree.extend(progress=progress)
        for _ in range(_ATTEMPTS):
            previous = self.latest_checkpoint()
            size = self.tree.size()
            if only_if_grown and previous is not None and previous.size == size and not previous.checkpoint.extensions:
                return self._witnessed(previous, at)  # a checkpoint with the old `time` line is signed anew once
            checkpoint = Checkpoint(key.name, size, self.tree.root(size))
            if previous is not None:
                self._require_continuation(previous, checkpoint, at)
            note = key.sign(checkpoint.text())
            number = 1 if previous is None else previous.number + 1
            try:
                with self._datastore.transaction(commit=True) as c:
                    c.execute(
                        f"INSERT INTO {self.table} (number, tree_size, root_hash, issued_at, note) "  # noqa: S608  (our own table names; every value is a bound parameter)
                        f"VALUES ({self._p}, {self._p}, {self._p}, {self._p}, {self._p})",
                        (number, size, checkpoint.root, at.isoformat(), note),
                    )
            except IntegrityError:  # another process signed number `number` first; follow it
                continue
            return self._witnessed(IssuedCheckpoint(number, checkpoint, note, at), at)
        msg = "other processes kept signing checkpoints at the same moment; try again"
        raise CheckpointRefused(msg)

    def _witnessed(self, issued: IssuedCheckpoint, at: datetime) -> IssuedCheckpoint:
        """The checkpoint with the cosignatures of the configured witnesses (asked now, unless they gave one)."""
        if self.witnesses is None:
            return issued
        return self.witnesses.cosign(self, issued, at)

    def require_not_halted(self) -> None:
        """Refuse (LogHalted) while a fork alarm is raised: an operator must look first (`audit check`)."""
        fork = self.alarms.of(AlarmKind.FORK)
        if fork is not None:
            msg = (
                f"{fork.sentence()}; the log signs and records nothing until an operator has run "
                "`consent-ledger audit check` (see the README, 'When the log halts')"
            )
            raise LogHalted(msg)

    def halt(self, reason: str, at: datetime, positions: Sequence[int] = ()) -> LogHalted:
        """Raise the fork alarm with this reason, and the refusal to answer the caller with."""
        self.alarms.raise_alarm(Alarm(AlarmKind.FORK, at, reason, tuple(positions)))
        return LogHalted(
            f"{reason}; nothing more is signed or recorded until an operator has run `consent-ledger audit check`"
        )

    def _require_continuation(self, previous: IssuedCheckpoint, checkpoint: Checkpoint, at: datetime) -> None:
        key = self.signing_key
        assert key is not None  # noqa: S101  (checked by the caller)
        if previous.checkpoint.origin != key.name:
            msg = (
                f"this log's checkpoints are issued as {previous.checkpoint.origin!r}, not {key.name!r}; "
                "configure that origin (CONSENT_LEDGER_LOG_ORIGIN)"
            )
            raise CheckpointRefused(msg)
        try:
            key.verifier.open(previous.note)
        except NoteError:
            msg = (
                f"checkpoint {previous.number} was signed with another key than {key.verifier}; "
                "restore that key: auditors hold its public half"
            )
            raise CheckpointRefused(msg) from None
        if not self.extends(previous.checkpoint, checkpoint):
            reason = (
                f"the tree of {checkpoint.size} events cannot be proven to extend checkpoint {previous.number} "
                f"({previous.size} events, root {previous.checkpoint.root.hex()[:16]}…) that this log signed: "
                "events or tree rows were deleted or rewritten"
            )
            raise self.halt(reason, at)

    def extends(self, old: Checkpoint, new: Checkpoint) -> bool:
        """Whether the stored tree proves (RFC 9162 section 2.1.4) that `new` extends `old`, as outsiders check it."""
        if old.size > new.size:
            return False
        try:
            proof = self.tree.consistency_proof(old.size, new.size)
        except (LookupError, ValueError):  # nodes missing: the tree was cut or altered
            return False
        return verify_consistency(old.size, new.size, old.root, new.root, proof)

    def checkpoints(self, *, first: int = 1, min_size: int = 0) -> Iterator[IssuedCheckpoint]:
        """Every checkpoint from number `first` on whose tree has at least `min_size` leaves, in order."""
        number = first
        while True:
            where = f"WHERE number >= {self._p} AND tree_size >= {self._p}"
            rows = self._rows(f"{where} ORDER BY number LIMIT {_PAGE}", (number, min_size))
            if not rows:
                return
            yield from rows
            number = rows[-1].number + 1

    def latest_checkpoint(self, size: int | None = None) -> IssuedCheckpoint | None:
        """The newest checkpoint (of exactly `size` leaves, if given)."""
        where = "" if size is None else f"WHERE tree_size = {self._p}"
        rows = self._rows(f"{where} ORDER BY number DESC LIMIT 1", () if size is None else (size,))
        return rows[0] if rows else None

    def latest_witnessed(self, quorum: int) -> IssuedCheckpoint | None:
        """The newest checkpoint that at least `quorum` witnesses cosigned (the newest of all when quorum is 0)."""
        if quorum <= 0:
            return self.latest_checkpoint()
        rows = self._rows(
            f"WHERE number IN (SELECT number FROM {self.cosignatures_table} GROUP BY number "  # noqa: S608  (our own table)
            f"HAVING count(*) >= {self._p}) ORDER BY number DESC LIMIT 1",
            (quorum,),
        )
        return rows[0] if rows else None

    def checkpoint(self, number: int) -> IssuedCheckpoint | None:
        """The checkpoint with this number."""
        rows = self._rows(f"WHERE number = {self._p}", (number,))
        return rows[0] if rows else None

    def number_of(self, note: str) -> int | None:
        """The number of the checkpoint whose signed note (as the log signed it) is exactly this text."""
        rows = self._rows(f"WHERE note = {self._p}", (note,))
        return rows[0].number if rows else None

    def _rows(self, clause: str, params: Sequence[object]) -> list[IssuedCheckpoint]:
        """The checkpoints a clause selects, each with its stored cosignatures, in two statements."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT number, note, issued_at FROM {self.table} {clause}", params)  # noqa: S608  (our own table names; every value is a bound parameter)
            found = [_issued(row) for row in c.fetchall()]
            if not found:
                return []
            numbers = [i.number for i in found]
            c.execute(
                f"SELECT number, line FROM {self.cosignatures_table} WHERE number >= {self._p} AND number <= {self._p} "  # noqa: S608  (same)
                "ORDER BY number, witness",
                (min(numbers), max(numbers)),
            )
            lines: dict[int, list[str]] = {}
            for row in c.fetchall():
                lines.setdefault(int(row["number"]), []).append(str(row["line"]))
        return [replace(i, cosignatures=tuple(lines.get(i.number, ()))) for i in found]

    def cosigned_size(self, witness: str, *, at_most: int) -> int:
        """The largest tree (of at most `at_most` events) this witness is known to have cosigned; 0 if none."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT max(k.tree_size) AS size FROM {self.table} k JOIN {self.cosignatures_table} w "  # noqa: S608  (our own table names; every value is a bound parameter)
                f"ON w.number = k.number WHERE w.witness = {self._p} AND k.tree_size <= {self._p}",
                (witness, at_most),
            )
            row = c.fetchone()
        return int(row["size"]) if row is not None and row["size"] is not None else 0

    def signing_key_verifier(self) -> VerifierKey | None:
        """The public key of the signing key this log was opened with, if any."""
        return None if self.signing_key is None else self.signing_key.verifier

    def tree_holds(self, checkpoint: Checkpoint) -> bool:
        """Whether the stored tree has this checkpoint's root at its size (so it extends whatever signed it)."""
        try:
            return checkpoint.size <= self.tree.size() and self.tree.root(checkpoint.size) == checkpoint.root
        except (LookupError, ValueError):
            return False

    def keep_cosignature(self, number: int, witness: str, line: str) -> None:
        """Keep a witness's (verified) cosignature line of checkpoint `number`, replacing an earlier one of it."""
        with self._datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self.cosignatures_table} (number, witness, line) "  # noqa: S608  (same)
                f"VALUES ({self._p}, {self._p}, {self._p}) "
                "ON CONFLICT (number, witness) DO UPDATE SET line = excluded.line",
                (number, witness, line),
            )

    # Proofs.

    def inclusion_proof(self, position: int, size: int | None = None) -> InclusionProof:
        """The proof that the event at `position` is in the newest checkpoint (or the newest of `size` leaves)."""
        leaf = self.tree.leaf_of(position)
        if leaf is None:
            self.tree.extend(until=position)
            leaf = self.tree.leaf_of(position)
        if leaf is None:
            msg = f"no event is recorded at position {position}"
            raise ProofUnavailable(msg)
        issued = self._checkpoint_of_size(size)
        if leaf >= issued.size:
            msg = (
                f"the event at position {position} is newer than checkpoint {issued.number} "
                f"({issued.size} events); issue a checkpoint first"
            )
            raise ProofUnavailable(msg)
        event = self.tree.event_at(position)
        assert event is not None  # noqa: S101  (the tree holds a leaf only for a stored event)
        path = self.tree.inclusion_proof(leaf, issued.size)
        return InclusionProof(event, leaf, issued.size, path, issued.published)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """The proof that the newest checkpoint (or the newest of `new_size`) extends the newest of `old_size`."""
        old = self._checkpoint_of_size(old_size)
        new = self._checkpoint_of_size(new_size)
        if old.size > new.size:
            msg = f"checkpoint {old.number} ({old.size} events) is larger than {new.number} ({new.size} events)"
            raise ProofUnavailable(msg)
        return ConsistencyProof(old.published, new.published, self.tree.consistency_proof(old.size, new.size))

    def _checkpoint_of_size(self, size: int | None) -> IssuedCheckpoint:
        issued = self.latest_checkpoint(size)
        if issued is None:
            msg = "no checkpoint has been issued yet" if size is None else f"no checkpoint has a tree of {size} events"
            raise ProofUnavailable(msg)
        return issued


def _issued(row: Mapping[str, Any]) -> IssuedCheckpoint:
    note = str(row["note"])
    text, _ = split_note(note)
    signed_at = datetime.fromisoformat(str(row["issued_at"]))
    return IssuedCheckpoint(int(row["number"]), Checkpoint.parse(text), note, signed_at)
