"""The ledger's Merkle tree, kept in the ledger's own database and grown from its last leaf.

Two tables of our own sit beside the events, on the recorder's datastore (its pool and
transactions, as `ledger.storage.SqlKeyStore` does for subject keys): `audit_leaves` maps each
leaf to the notification-log position of its event (positions may skip numbers; leaves do
not), and `audit_nodes` keeps the hash of every complete perfect subtree, leaves included.
Growing the tree reads the roots of the perfect subtrees of the current size (at most one per
bit of the size), appends the next events in batches and writes the leaves and every node they
complete in one transaction per batch: an interrupted run resumes from the last committed
leaf, memory stays bounded by the batch, and two processes that grow the tree at once cannot
both write a leaf (the second one's batch is refused and it re-reads where the tree is).

Any root or proof for any size up to the current one is then a handful of stored nodes (RFC
9162 section 2.1; at most about log2(n)**2 / 2 of them), fetched in one query, never a rehash of
the leaves. A node is written once, when its subtree is complete, and never changes.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError

from audit.leaves import LoggedEvent
from audit.merkle import (
    CompactRange,
    Node,
    consistency_ranges,
    fold,
    inclusion_ranges,
    nodes_for,
    perfect_subtrees,
    range_hash,
)
from ledger.storage import Storage

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from eventsourcing.persistence import Notification

    from ledger.application import ConsentLedger

BATCH = 5000
"""Events hashed and written per transaction while the tree grows."""

_NODES_PER_QUERY = 200


class LedgerTree:
    """The append-only Merkle tree over the ledger's notification log, in the ledger's database."""

    def __init__(self, ledger: ConsentLedger) -> None:
        """Use the ledger's recorder and datastore; create the tree's tables if they are missing."""
        self._ledger = ledger
        self._datastore: Any = ledger.recorder.datastore  # type: ignore[attr-defined]
        self.storage = storage = Storage.of(ledger.recorder)
        self.leaves_table = storage.qualify("audit_leaves")
        self.nodes_table = storage.qualify("audit_nodes")
        self._p = storage.placeholder
        integer, blob, without_rowid = storage.integer, storage.blob, storage.without_rowid
        with self._datastore.transaction(commit=True) as c:
            storage.creating_tables(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.leaves_table} "
                f"(leaf_index {integer} PRIMARY KEY, position {integer} NOT NULL UNIQUE)"
            )
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.nodes_table} (level SMALLINT NOT NULL, "
                f"node_index {integer} NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (level, node_index)){without_rowid}"
            )

    @property
    def datastore(self) -> Any:
        """The recorder's datastore, on which the other audit tables (checkpoints, alarms) live too."""
        return self._datastore

    # Growing.

    def size(self) -> int:
        """How many events the tree holds: the size of the largest tree a checkpoint can sign now."""
        return self._head()[0]

    def extend(
        self, *, until: int | None = None, batch: int = BATCH, progress: Callable[[int], None] | None = None
    ) -> int:
        """Add every event after the last leaf (up to position `until`), a transaction per batch; the new size."""
        size, last_position = self._head()
        frontier = self._frontier(size)
        while True:
            notes = self._ledger.recorder.select_notifications(start=last_position + 1, limit=batch, stop=until)
            if not notes:
                return frontier.size
            leaves: list[tuple[int, int]] = []
            nodes: list[tuple[int, int, bytes]] = []
            for note in notes:
                event = LoggedEvent.of(note)
                leaves.append((frontier.size, event.position))
                nodes.extend((level, index, h) for (level, index), h in frontier.append(event.leaf_hash()))
            try:
                self._write(leaves, nodes)
            except IntegrityError:  # another process grew the tree first: continue from where it got to
                size, last_position = self._head()
                frontier = self._frontier(size)
                continue
            last_position = leaves[-1][1]
            if progress is not None:
                progress(frontier.size)

    def _write(self, leaves: list[tuple[int, int]], nodes: list[tuple[int, int, bytes]]) -> None:
        """Insert a batch's leaves and nodes in one transaction (PostgreSQL: one statement each, from arrays)."""
        with self._datastore.transaction(commit=True) as c:
            self.storage.insert_many(c, self.leaves_table, {"leaf_index": "bigint", "position": "bigint"}, leaves)
            self.storage.insert_many(
                c, self.nodes_table, {"level": "smallint", "node_index": "bigint", "hash": "bytea"}, nodes
            )

    def _head(self) -> tuple[int, int]:
        """(size, position of the last leaf), or (0, 0) for the empty tree."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT leaf_index, position FROM {self.leaves_table} ORDER BY leaf_index DESC LIMIT 1")  # noqa: S608  (our own table names; every value is a bound parameter)
            row = c.fetchone()
        return (0, 0) if row is None else (int(row["leaf_index"]) + 1, int(row["position"]))

    def _frontier(self, size: int) -> CompactRange:
        wanted = perfect_subtrees(0, size)
        nodes = self._nodes(wanted)
        return CompactRange(size, [nodes[n] for n in wanted])

    # Reading.

    def _nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        """The stored hashes of these perfect subtrees, in as few queries as the database allows."""
        wanted = set(wanted)
        found: dict[Node, bytes] = {}
        todo = iter(sorted(wanted))
        while chunk := list(islice(todo, _NODES_PER_QUERY)):
            where = " OR ".join([f"(level = {self._p} AND node_index = {self._p})"] * len(chunk))
            with self._datastore.transaction(commit=False) as c:
                c.execute(
                    f"SELECT level, node_index, hash FROM {self.nodes_table} WHERE {where}",  # noqa: S608  (our own table names; every value is a bound parameter)
                    [v for node in chunk for v in node],
                )
                for row in c.fetchall():
                    found[int(row["level"]), int(row["node_index"])] = bytes(row["hash"])
        if len(found) != len(wanted):
            msg = "the audit tree is missing nodes it should hold; it may have been altered"
            raise LookupError(msg)
        return found

    def _require(self, size: int) -> None:
        current = self.size()
        if not 0 <= size <= current:
            msg = f"the audit tree holds {current} events, not {size}; grow it (a checkpoint does) first"
            raise ValueError(msg)

    def root(self, size: int) -> bytes:
        """MTH(D[0:size]) (RFC 9162 section 2.1.1) for any size up to the current one."""
        self._require(size)
        wanted = perfect_subtrees(0, size)
        nodes = self._nodes(wanted)
        return fold([nodes[n] for n in wanted])

    def compact_range(self, start: int, end: int) -> list[bytes]:
        """The roots of `perfect_subtrees(start, end)`: what lets an export of a range be hashed alone."""
        self._require(end)
        wanted = perfect_subtrees(start, end)
        nodes = self._nodes(wanted)
        return [nodes[n] for n in wanted]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The audit path of leaf `index` in the tree of `size` leaves (RFC 9162 section 2.1.3.1)."""
        self._require(size)
        ranges = inclusion_ranges(index, size)
        nodes = self._nodes(nodes_for(ranges))
        return [range_hash(start, end, nodes) for start, end in ranges]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """The proof that the tree of `new` leaves extends the one of `old` (RFC 9162 section 2.1.4.1)."""
        self._require(new)
        ranges = consistency_ranges(old, new)
        nodes = self._nodes(nodes_for(ranges))
        return [range_hash(start, end, nodes) for start, end in ranges]

    def leaf_of(self, position: int) -> int | None:
        """The leaf of the event at this log position, if the tree holds it."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT leaf_index FROM {self.leaves_table} WHERE position = {self._p}", (position,))  # noqa: S608  (our own table names; every value is a bound parameter)
            row = c.fetchone()
        return None if row is None else int(row["leaf_index"])

    def first_leaf_from(self, position: int) -> tuple[int, int] | None:
        """(leaf, position) of the first event at or after this position that the tree holds."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT leaf_index, position FROM {self.leaves_table} WHERE position >= {self._p} "  # noqa: S608  (our own table names; every value is a bound parameter)
                "ORDER BY position LIMIT 1",
                (position,),
            )
            row = c.fetchone()
        return None if row is None else (int(row["leaf_index"]), int(row["position"]))

    def position_of(self, leaf: int) -> int:
        """The log position of the event that is this leaf."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position FROM {self.leaves_table} WHERE leaf_index = {self._p}", (leaf,))  # noqa: S608  (our own table names; every value is a bound parameter)
            row = c.fetchone()
        if row is None:
            msg = f"the audit tree has no leaf {leaf}"
            raise LookupError(msg)
        return int(row["position"])

    def event_at(self, position: int) -> LoggedEvent | None:
        """The stored event at this log position, if there is one."""
        notes = self._ledger.recorder.select_notifications(start=position, limit=1, stop=position)
        return LoggedEvent.of(notes[0]) if notes else None

    def events(self, start_leaf: int, end_leaf: int, batch: int = BATCH) -> Iterable[LoggedEvent]:
        """The events that are leaves [start_leaf, end_leaf), in order, read from the log a batch at a time."""
        for notes in self.notifications(start_leaf, end_leaf, batch):
            for note in notes:
                yield LoggedEvent.of(note)

    def notifications(self, start_leaf: int, end_leaf: int, batch: int = BATCH) -> Iterable[Sequence[Notification]]:
        """The stored notifications of leaves [start_leaf, end_leaf), a batch at a time, as the recorder gives them.

        For an export, which writes each straight to a line, with no `LoggedEvent` between.
        """
        if start_leaf >= end_leaf:
            return
        position = self.position_of(start_leaf)
        remaining = end_leaf - start_leaf
        while remaining > 0:
            notes = self._ledger.recorder.select_notifications(start=position, limit=min(batch, remaining))
            if not notes:
                msg = f"the log ends before leaf {end_leaf - 1} of the audit tree"
                raise LookupError(msg)
            yield notes
            remaining -= len(notes)
            position = notes[-1].id + 1
