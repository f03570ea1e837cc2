"""What is wrong with the log, kept in its database so that every process sees it and a restart forgets nothing.

Two kinds of alarm. A **fork**: the log cannot prove its tree consistent with a checkpoint it
signed, or a witness holds a tree the log cannot prove it extends (rows deleted, the tree
rewritten, a database restored from an old backup). Then the log signs nothing more and writes
stop, until an operator has looked (`consent-ledger audit check`) and the log is whole again:
signing on would sign a fork, which a log must never do (C2SP tlog-checkpoint). **Damage**:
stored events whose bytes no longer hash to the leaves the tree holds, found by the integrity
sweep; the positions are named, readiness fails, and no evidence is built on the log until it
is mended. Each alarm says where, in words an operator can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import orjson

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from audit.tree import LedgerTree


class AlarmKind(StrEnum):
    """What an alarm is about."""

    FORK = "fork"
    DAMAGE = "damage"


class LogHalted(LedgerError):
    """The log cannot prove it extends what it signed: it signs nothing and records nothing until an operator acts."""

    title = "The log is halted: it cannot prove it extends what it signed"


class LogDamaged(LedgerError):
    """Stored events no longer match the leaves the log signed; nothing is proven from them until they are mended."""

    title = "Stored events do not match the signed log"


@dataclass(frozen=True)
class Alarm:
    """One raised alarm: its kind, when it was raised, what was found and at which log positions."""

    kind: AlarmKind
    raised_at: datetime
    reason: str
    positions: tuple[int, ...] = ()

    def sentence(self) -> str:
        """The alarm in one line for an operator, positions first."""
        where = ""
        if self.positions:
            shown = ", ".join(str(p) for p in self.positions[:10])
            more = f" and {len(self.positions) - 10} more" if len(self.positions) > 10 else ""  # noqa: PLR2004
            where = f" (log position{'s' if len(self.positions) > 1 else ''} {shown}{more})"
        return f"{self.reason}{where}"


class Alarms:
    """The `audit_alarms` table: at most one alarm of each kind, raised and cleared by whoever checks the log."""

    def __init__(self, tree: LedgerTree) -> None:
        """Create the table beside the tree's, on the same datastore."""
        self._datastore = tree.datastore
        storage = tree.storage
        self._p = storage.placeholder
        self.table = storage.qualify("audit_alarms")
        with self._datastore.transaction(commit=True) as c:
            storage.creating_tables(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} "
                "(kind TEXT PRIMARY KEY, raised_at TEXT NOT NULL, reason TEXT NOT NULL, positions TEXT NOT NULL)"
            )

    def raise_alarm(self, alarm: Alarm) -> None:
        """Keep `alarm`, replacing an earlier one of its kind (the newest finding says most)."""
        with self._datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self.table} (kind, raised_at, reason, positions) "  # noqa: S608  (our own table; values bound)
                f"VALUES ({self._p}, {self._p}, {self._p}, {self._p}) ON CONFLICT (kind) DO UPDATE SET "
                "raised_at = excluded.raised_at, reason = excluded.reason, positions = excluded.positions",
                (str(alarm.kind), alarm.raised_at.isoformat(), alarm.reason, orjson.dumps(alarm.positions).decode()),
            )

    def clear(self, kind: AlarmKind) -> None:
        """Lower the alarm of this kind: whoever calls has just checked that it no longer holds."""
        with self._datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {self.table} WHERE kind = {self._p}", (str(kind),))  # noqa: S608  (same)

    def raised(self) -> list[Alarm]:
        """Every alarm raised and not cleared, forks first."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT kind, raised_at, reason, positions FROM {self.table} ORDER BY kind DESC")  # noqa: S608  (same)
            rows = c.fetchall()
        return [
            Alarm(
                AlarmKind(str(row["kind"])),
                datetime.fromisoformat(str(row["raised_at"])),
                str(row["reason"]),
                tuple(orjson.loads(str(row["positions"]))),
            )
            for row in rows
        ]

    def of(self, kind: AlarmKind) -> Alarm | None:
        """The raised alarm of this kind, if any."""
        return next((a for a in self.raised() if a.kind is kind), None)
