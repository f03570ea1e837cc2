"""The audit log of one ledger: its Merkle tree, every checkpoint ever signed, and proofs against them.

Checkpoints are numbered from 1 and kept forever in `audit_checkpoints`, beside the tree. A new
one is refused unless it is signed by the same key, under the same origin, at a time no earlier
than the one before, so the sequence an auditor receives never contradicts itself: each has a
tree at least as large as the last (the tree only grows), and consistency between any two is
provable (C2SP tlog-checkpoint: "A log MUST not sign any checkpoint which is inconsistent with
any checkpoint it previously signed"). Numbers are claimed with the table's primary key, so two
processes that sign at once cannot both take the same place in the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError

from audit.formats import ConsistencyProof, InclusionProof
from audit.notes import Checkpoint, NoteError, split_note
from audit.tree import LedgerTree
from ledger.errors import LedgerError, NotFound
from ledger.storage import Storage

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from datetime import datetime

    from audit.notes import SigningKey
    from ledger.application import ConsentLedger

_ATTEMPTS = 20
_PAGE = 500


class CheckpointRefused(LedgerError):
    """A checkpoint that would contradict the ones already signed, or that cannot be signed here."""

    title = "The checkpoint cannot be issued"


class ProofUnavailable(NotFound):
    """The event or checkpoint a proof was asked for is not there (yet)."""

    title = "No such proof"


@dataclass(frozen=True)
class IssuedCheckpoint:
    """A checkpoint as the log keeps it: its place in the sequence, what it says and the signed note."""

    number: int
    checkpoint: Checkpoint
    note: str

    @property
    def size(self) -> int:
        """The tree size it commits to."""
        return self.checkpoint.size


class AuditLog:
    """The ledger's tamper-evident log: grows the tree, signs checkpoints, answers proofs."""

    def __init__(self, ledger: ConsentLedger, signing_key: SigningKey | None = None) -> None:
        """Open the audit tables on the ledger's database; `signing_key` is needed only to issue checkpoints."""
        self.ledger = ledger
        self.tree = LedgerTree(ledger)
        self.signing_key = signing_key
        self._datastore: Any = ledger.recorder.datastore  # type: ignore[attr-defined]
        storage = Storage.of(ledger.recorder)
        self._p = storage.placeholder
        self.table = storage.qualify("audit_checkpoints")
        integer, blob = storage.integer, storage.blob
        with self._datastore.transaction(commit=True) as c:
            storage.creating_tables(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (number {integer} PRIMARY KEY, "
                f"tree_size {integer} NOT NULL, root_hash {blob} NOT NULL, issued_at TEXT NOT NULL, note TEXT NOT NULL)"
            )

    # Checkpoints.

    def issue_checkpoint(
        self, at: datetime, *, only_if_grown: bool = False, progress: Callable[[int], None] | None = None
    ) -> IssuedCheckpoint:
        """Grow the tree to the newest event, then sign and keep a checkpoint of it, dated `at`.

        With `only_if_grown` (for periodic checkpoints), the newest checkpoint is answered
        instead when it already covers every event, so an idle ledger does not pile them up.
        """
        key = self.signing_key
        if key is None:
            msg = "this audit log was opened without the signing key; checkpoints cannot be signed"
            raise CheckpointRefused(msg)
        self.tree.extend(progress=progress)
        for _ in range(_ATTEMPTS):
            previous = self.latest_checkpoint()
            size = self.tree.size()
            if only_if_grown and previous is not None and previous.size == size:
                return previous
            checkpoint = Checkpoint(key.name, size, self.tree.root(size), at)
            if previous is not None:
                self._require_continuation(previous, checkpoint)
            note = key.sign(checkpoint.text())
            number = 1 if previous is None else previous.number + 1
            try:
                with self._datastore.transaction(commit=True) as c:
                    c.execute(
                        f"INSERT INTO {self.table} (number, tree_size, root_hash, issued_at, note) "  # noqa: S608  (our own table names; every value is a bound parameter)
                        f"VALUES ({self._p}, {self._p}, {self._p}, {self._p}, {self._p})",
                        (number, size, checkpoint.root, checkpoint.issued_at.isoformat(), note),
                    )
            except IntegrityError:  # another process signed number `number` first; follow it
                continue
            return IssuedCheckpoint(number, checkpoint, note)
        msg = "other processes kept signing checkpoints at the same moment; try again"
        raise CheckpointRefused(msg)

    def _require_continuation(self, previous: IssuedCheckpoint, checkpoint: Checkpoint) -> None:
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
        if checkpoint.issued_at < previous.checkpoint.issued_at:
            msg = (
                f"checkpoint {previous.number} is dated {previous.checkpoint.issued_at.isoformat()}, "
                f"later than {checkpoint.issued_at.isoformat()}; check the clock"
            )
            raise CheckpointRefused(msg)

    def checkpoints(self, *, first: int = 1, min_size: int = 0) -> Iterator[IssuedCheckpoint]:
        """Every checkpoint from number `first` on whose tree has at least `min_size` leaves, in order."""
        number = first
        while True:
            with self._datastore.transaction(commit=False) as c:
                c.execute(
                    f"SELECT number, note FROM {self.table} WHERE number >= {self._p} AND tree_size >= {self._p} "  # noqa: S608  (our own table names; every value is a bound parameter)
                    f"ORDER BY number LIMIT {_PAGE}",
                    (number, min_size),
                )
                rows = c.fetchall()
            if not rows:
                return
            for row in rows:
                yield _issued(row)
            number = int(rows[-1]["number"]) + 1

    def latest_checkpoint(self, size: int | None = None) -> IssuedCheckpoint | None:
        """The newest checkpoint (of exactly `size` leaves, if given)."""
        where = "" if size is None else f"WHERE tree_size = {self._p}"
        with self._datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT number, note FROM {self.table} {where} ORDER BY number DESC LIMIT 1",  # noqa: S608  (our own table names; every value is a bound parameter)
                () if size is None else (size,),
            )
            row = c.fetchone()
        return None if row is None else _issued(row)

    def checkpoint(self, number: int) -> IssuedCheckpoint | None:
        """The checkpoint with this number."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT number, note FROM {self.table} WHERE number = {self._p}", (number,))  # noqa: S608  (our own table names; every value is a bound parameter)
            row = c.fetchone()
        return None if row is None else _issued(row)

    def number_of(self, note: str) -> int | None:
        """The number of the checkpoint whose signed note is exactly this text."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT number FROM {self.table} WHERE note = {self._p}", (note,))  # noqa: S608  (our own table names; every value is a bound parameter)
            row = c.fetchone()
        return None if row is None else int(row["number"])

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
        return InclusionProof(event, leaf, issued.size, path, issued.note)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """The proof that the newest checkpoint (or the newest of `new_size`) extends the newest of `old_size`."""
        old = self._checkpoint_of_size(old_size)
        new = self._checkpoint_of_size(new_size)
        if old.size > new.size:
            msg = f"checkpoint {old.number} ({old.size} events) is larger than {new.number} ({new.size} events)"
            raise ProofUnavailable(msg)
        return ConsistencyProof(old.note, new.note, self.tree.consistency_proof(old.size, new.size))

    def _checkpoint_of_size(self, size: int | None) -> IssuedCheckpoint:
        issued = self.latest_checkpoint(size)
        if issued is None:
            msg = "no checkpoint has been issued yet" if size is None else f"no checkpoint has a tree of {size} events"
            raise ProofUnavailable(msg)
        return issued


def _issued(row: Mapping[str, Any]) -> IssuedCheckpoint:
    note = str(row["note"])
    text, _ = split_note(note)
    return IssuedCheckpoint(int(row["number"]), Checkpoint.parse(text), note)
