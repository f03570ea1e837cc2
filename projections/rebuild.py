"""Rebuilding the view: a fresh generation filled from position 0, in parts by subject, then swapped in.

Each subject's record is judged alone, so a long fill splits by subject: several processes
each project the subjects whose id falls in their part and write those rows themselves. Every
part also writes the policies' rows (inserted once, whoever comes first), since judging a
consent reads its version's terms; breaches and claims go to part 0. Each part tracks its own
position in the generation, so an interrupted fill resumes part by part; once all have reached
the same position, the generation's own tracking record says so and the keeper carries on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, cast

from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from ledger.application import open_ledger
from ledger.policy import Policy
from ledger.storage import Database
from ledger.subject import Subject
from projections.keeper import ViewKeeper, open_view

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from uuid import UUID

    from eventsourcing.persistence import Notification

    from ledger.application import ConsentLedger
    from projections.view import LedgerView
    from projections.view_rows import Statement

PART_EVENTS = 50_000
"""Events a part is worth starting a process for: below this a fill is quicker in one process."""
MAX_PARTS = 8
SUBJECT_TOPIC = get_topic(Subject) + "."
POLICY_TOPIC = get_topic(Policy) + "."


class PartFailed(RuntimeError):
    """A part's process ended without filling its part (its own error went to its stderr)."""


def rebuild(
    ledger: ConsentLedger,
    database: Database,
    progress: Callable[[int], None] | None = None,
    parts: int | None = None,
) -> LedgerView:
    """Fill a fresh generation of the view from position 0, then point readers at it.

    Readers keep using the current generation until the pointer moves; the generation before
    the current one is dropped first, so at most two exist at once. Interrupted, a rebuild
    resumes from the new generation's tracked position when run again. The new generation's
    secondary indexes are built once, after the fill and before the pointer moves. `parts`
    processes fill it (by default one per core, one per `PART_EVENTS` events at most).
    """
    current = open_view(database)
    previous = current.generation - 1
    if previous >= 0:
        current.drop_generation(previous)
    fresh = open_view(database, generation=current.generation + 1, indexed=False)
    keeper = ViewKeeper(ledger, fresh)
    end = ledger.max_position()
    if parts is None:
        parts = max(1, min(os.cpu_count() or 1, MAX_PARTS, end // PART_EVENTS))
    if parts > 1 and keeper.position == 0:  # (a fill begun in one process goes on in one)
        fill_in_parts(fresh, database, parts, end, progress)
    keeper.fill(progress=progress)
    fresh.create_indexes()
    fresh.make_current()
    keeper.catch_up(progress=progress)
    return fresh


def fill_in_parts(
    view: LedgerView, database: Database, parts: int, end: int, progress: Callable[[int], None] | None = None
) -> None:
    """Fill `view`'s generation up to position `end` with `parts` processes (this one included), then track `end`."""
    others = [
        subprocess.Popen(  # noqa: S603  (this module, with arguments of our own)
            [
                sys.executable,
                "-m",
                __name__,
                database.url,
                str(database.timeout),
                str(view.generation),
                str(part),
                str(parts),
                str(end),
            ]
        )
        for part in range(1, parts)
    ]
    try:
        fill_part(database, view.generation, (0, parts), end, progress)
    finally:
        for process in others:
            process.wait()
    failed = [str(n) for n, process in enumerate(others, start=1) if process.returncode != 0]
    if failed:
        msg = f"part(s) {', '.join(failed)} of {parts} of the view's fill failed; run the rebuild again to resume"
        raise PartFailed(msg)
    view.record(Tracking(view.tracking_name, end), [])


def fill_part(
    database: Database, generation: int, part: tuple[int, int], end: int, progress: Callable[[int], None] | None = None
) -> None:
    """Fill one part of a generation up to `end`, resuming from the part's own tracked position."""
    ledger = open_ledger(database, None)
    try:
        view = open_view(database, generation, indexed=False)
        view.part = f"/part{part[0]}of{part[1]}"
        PartKeeper(ledger, view, part).fill(until=end, progress=progress)
    finally:
        ledger.close()


class PartKeeper(ViewKeeper):
    """A keeper of one part: its subjects' events, every policy event, and (part 0) breaches and claims."""

    def __init__(self, ledger: ConsentLedger, view: LedgerView, part: tuple[int, int]) -> None:
        """Keep part `part[0]` of `part[1]` of `view`'s generation."""
        super().__init__(ledger, view)
        self.part, self.parts = part

    def _statements(self, notes: Sequence[Notification]) -> list[Statement]:
        mine = [note for note in notes if self._holds(note)]
        return super()._statements(mine) if mine else []

    def _holds(self, note: Notification) -> bool:
        if note.topic.startswith(SUBJECT_TOPIC):
            return cast("UUID", note.originator_id).int % self.parts == self.part
        return self.part == 0 or note.topic.startswith(POLICY_TOPIC)


if __name__ == "__main__":  # one part, in a process of its own: URL TIMEOUT GENERATION PART PARTS END
    url, timeout, generation, part, parts, end = sys.argv[1:]
    fill_part(Database.from_url(url, float(timeout)), int(generation), (int(part), int(parts)), int(end))
