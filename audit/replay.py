"""Replaying an export: load its events into a fresh database of the auditor's own, then rebuild and check.

An auditor who was handed an export (and verified it with `verify`) should not need our
database to rebuild every answer. The events are inserted exactly as exported — the same
aggregate ids, versions, topics and stored bytes — into a new SQLite file, in log order, with
each one's original position kept beside it so that findings name the position the auditor
saw in the export. An interrupted load resumes after the last event it inserted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from eventsourcing.persistence import StoredEvent

from audit.formats import EVENT_KEYS, event_from
from ledger.application import ConsentLedger, open_ledger
from ledger.storage import Storage

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from audit.leaves import LoggedEvent
    from ledger.storage import Database

BATCH = 2000


def _events(path: Path) -> Iterator[LoggedEvent]:
    with path.open("rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            if isinstance(record, dict) and tuple(record) == EVENT_KEYS:
                yield event_from(record)


def load_export(path: Path, database: Database, progress: Callable[[int], None] | None = None) -> ConsentLedger:
    """Insert the export's events into `database` (a fresh one, or one this function began filling)."""
    ledger = open_ledger(database, None)
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=True) as c:
        Storage.of(ledger.recorder).creating_tables(c)
        c.execute("CREATE TABLE IF NOT EXISTS replay_positions (local INTEGER PRIMARY KEY, original INTEGER NOT NULL)")
    done = ledger.max_position()
    batch: list[LoggedEvent] = []

    def flush() -> None:
        stored = [StoredEvent(e.originator_id, e.version, e.topic, e.state) for e in batch]
        ids = ledger.recorder.insert_events(stored)
        locals_ = list(ids) if ids else list(range(ledger.max_position() - len(batch) + 1, ledger.max_position() + 1))
        with datastore.transaction(commit=True) as c:
            c.executemany(
                "INSERT INTO replay_positions VALUES (?, ?)",
                [(n, e.position) for n, e in zip(locals_, batch, strict=True)],
            )
        if progress is not None:
            progress(batch[-1].position)
        batch.clear()

    for number, event in enumerate(_events(path), start=1):
        if number <= done:
            continue
        batch.append(event)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return ledger


def original_position(ledger: ConsentLedger, local: int) -> int:
    """The position an event had in the export, given its position in the auditor's database."""
    with ledger.recorder.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
        c.execute("SELECT original FROM replay_positions WHERE local = ?", (local,))
        row = c.fetchone()
    return int(row[0]) if row else local
