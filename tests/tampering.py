"""Tampering with a ledger's database behind its back, or with what it hands out, and a tally of catches.

An insider with SQL access edits rows (`Insider`); whoever holds a bundle or an export edits its
fields one at a time (`scalars`, `changed`). Every test that tampers records here what it did and
whether it was caught (by the integrity sweep, `verify`, or a witness's refusal); the run's
summary prints the count (conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from collections.abc import Iterator

    from audit.log import AuditLog
    from ledger.application import ConsentLedger


@dataclass(frozen=True)
class Case:
    """One tampering tried, and what caught it (empty when nothing did)."""

    name: str
    caught_by: str


CASES: list[Case] = []
"""Every tampering tried in this run."""


def tally(name: str, caught_by: str) -> None:
    """Count one tampering case and what caught it."""
    CASES.append(Case(name, caught_by))


def summary() -> str | None:
    """`N tampering cases tried, N caught (by ...)` for the run's summary, or None when none ran."""
    if not CASES:
        return None
    caught = [c for c in CASES if c.caught_by]
    by: dict[str, int] = {}
    for c in caught:
        by[c.caught_by] = by.get(c.caught_by, 0) + 1
    how = ", ".join(f"{n} by {what}" for what, n in sorted(by.items()))
    return f"tampering: {len(CASES)} cases tried, {len(caught)} detected ({how})"


class Insider:
    """SQL on the ledger's own tables, with the backend's placeholder and position column."""

    def __init__(self, ledger: ConsentLedger, log: AuditLog) -> None:
        self.ledger, self.log = ledger, log
        storage = ledger.storage
        self.p = storage.placeholder
        self.position = "rowid" if storage.local else "notification_id"
        self.events = storage.events_table

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self.ledger.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
            c.execute(sql, params)
            try:
                return list(c.fetchall())
            except Exception:  # noqa: BLE001  (statements that return no rows)
                return []

    def state(self, position: int) -> bytes:
        rows = self.run(f"SELECT state FROM {self.events} WHERE {self.position} = {self.p}", (position,))
        return bytes(rows[0][0] if self.ledger.storage.local else rows[0]["state"])

    def set_state(self, position: int, state: bytes) -> None:
        self.run(f"UPDATE {self.events} SET state = {self.p} WHERE {self.position} = {self.p}", (state, position))

    def flip_byte(self, position: int, needle: bytes, offset: int = 0) -> None:
        """Change one byte of the stored state: the `offset`-th byte after `needle` becomes another letter."""
        state = bytearray(self.state(position))
        at = state.index(needle) + len(needle) + offset
        state[at] = ord("B") if state[at] != ord("B") else ord("C")
        self.set_state(position, bytes(state))

    def delete_events(self, positions: list[int]) -> None:
        for position in positions:
            self.run(f"DELETE FROM {self.events} WHERE {self.position} = {self.p}", (position,))

    def cut_tree_from(self, leaf: int) -> None:
        """Delete the leaves from `leaf` on and every node that covers any of them."""
        tree = self.log.tree
        self.run(f"DELETE FROM {tree.leaves_table} WHERE leaf_index >= {self.p}", (leaf,))
        nodes = self.run(f"SELECT level, node_index FROM {tree.nodes_table}")
        for row in nodes:
            level, index = (int(row[0]), int(row[1])) if tree.storage.local else (row["level"], row["node_index"])
            if (index + 1) << level > leaf:
                self.run(
                    f"DELETE FROM {tree.nodes_table} WHERE level = {self.p} AND node_index = {self.p}", (level, index)
                )

    def cut_checkpoints_from(self, number: int) -> None:
        self.run(f"DELETE FROM {self.log.table} WHERE number >= {self.p}", (number,))
        self.run(f"DELETE FROM {self.log.cosignatures_table} WHERE number >= {self.p}", (number,))


# Documents changed by hand: a bundle's or an export's fields, one at a time.

Path = tuple[str | int, ...]


def scalars(document: object, path: Path = ()) -> Iterator[tuple[Path, object]]:
    """Every scalar of a JSON document (each element of a list too), with where it sits."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from scalars(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from scalars(value, (*path, index))
    else:
        yield path, document


def dotted(path: Path) -> str:
    """A path as a verifier names a field: `answer.policies[0].behind`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def other(value: object) -> object:
    """Another value of the same JSON type (a string with one character changed, in the middle)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "x"
    text = str(value)
    if not text:
        return "x"
    middle = len(text) // 2
    was = text[middle]
    now = ("b" if was != "b" else "c") if was.isalpha() else ("1" if was != "1" else "2")
    return text[:middle] + now + text[middle + 1 :]


def changed(document: Any, path: Path) -> Any:
    """A deep copy of `document` with the scalar at `path` changed (`other`)."""
    copy = orjson.loads(orjson.dumps(document))
    into = copy
    for part in path[:-1]:
        into = into[part]
    into[path[-1]] = other(into[path[-1]])
    return copy
