"""Keeping the view up to date: catch-up from the tracked position, or a live subscription.

SQLite's recorder cannot `subscribe()` (eventsourcing 9.5.6), so over SQLite the keeper reads
the notification log from the view's tracked position in batches — in a background thread,
and on demand when a reader waits for a position it has not reached. Over PostgreSQL it
follows the recorder's live subscription (LISTEN/NOTIFY underneath). Either way a restarted
keeper resumes from its tracked position, and each position is applied exactly once: the
rows and the tracking record commit together, and a second keeper's attempt is refused.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, cast

from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Tracking
from eventsourcing.utils import Environment

from ledger.storage import Storage
from projections.codec import EventDecoder
from projections.projection import LedgerProjection
from projections.view import VIEWS, LedgerView

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from eventsourcing.persistence import Notification

    from ledger.application import ConsentLedger
    from ledger.storage import Database
    from projections.projection import Statement

BATCH = 500
REBUILD_BATCH = 2000
"""A generation nobody reads yet is filled in larger transactions (fewer commits, longer executemany runs)."""
SWEEP_SECONDS = 1.0
"""How often a follower on PostgreSQL reads the log even without a notification."""
log = logging.getLogger(__name__)


def open_view(database: Database, generation: int | None = None, *, indexed: bool = True) -> LedgerView:
    """The view on the ledger's database: the current generation unless one is named (see `LedgerView.bind`)."""
    env = Environment(LedgerProjection.name, {**database.env})
    view_class = VIEWS[database.storage]
    view = cast("LedgerView", InfrastructureFactory.construct(env=env).tracking_recorder(view_class))
    view.ensure_pointer()
    return view.bind(view.current_generation() if generation is None else generation, indexed=indexed)


class ViewKeeper:
    """Applies the ledger's events to one generation of the view, in log order, exactly once."""

    def __init__(self, ledger: ConsentLedger, view: LedgerView) -> None:
        """Keep `view` up to date with `ledger`'s log."""
        self.ledger = ledger
        self.view = view
        self.projection = LedgerProjection(view=view)
        self.decode = EventDecoder(ledger.mapper.transcoder)
        self._applied = -1
        """The last position this keeper applied itself; anything else means another keeper wrote."""

    @property
    def position(self) -> int:
        """The last log position the view reflects."""
        return self.view.position()

    def apply(self, notes: Sequence[Notification], after: int | None = None) -> bool:
        """Apply notifications (in log order) in one transaction; False if another keeper already had.

        `after` is the tracked position the notes follow (by default the one just before the first):
        only if this keeper applied it itself can what the projection keeps in memory be trusted.
        """
        if (notes[0].id - 1 if after is None else after) != self._applied:
            self.projection.forget()
        try:
            self.view.record(Tracking(self.view.tracking_name, notes[-1].id), self._statements(notes))
        except IntegrityError:
            self.projection.forget()
            self._applied = -1
            return False
        except BaseException:
            self.projection.forget()
            self._applied = -1
            raise
        self._applied = notes[-1].id
        self.projection.settle()
        return True

    def _statements(self, notes: Sequence[Notification]) -> list[Statement]:
        """What the notes change in the view, in log order."""
        statements: list[Statement] = []
        project, decode = self.projection.statements, self.decode  # bound once: a dispatch per event is dear
        for note in notes:
            statements.extend(project(decode(note), note.id))
        return statements

    def fill(self, *, batch: int = REBUILD_BATCH, progress: Callable[[int], None] | None = None) -> None:
        """Apply the events the view uses from the tracked position on, projecting a batch while the last commits.

        For a generation nobody reads yet: the projection's Python and the database's work overlap
        (the driver waits for the database without holding the GIL). Each batch still commits with
        its tracking record, one at a time and in order, so an interrupted fill resumes from the
        tracked position; before the projection reads the view it waits for the batch in flight.
        Only the events of the projection's topics are read, so a plain `catch_up` must follow.
        """
        pending: tuple[Future[None], int] | None = None

        def committed() -> None:
            nonlocal pending
            if pending is not None:
                writing, last = pending
                pending = None
                writing.result()
                self._applied = last
                if progress is not None:
                    progress(last)

        tracking_name, select = self.view.tracking_name, self.ledger.recorder.select_notifications
        with self.view.switching, ThreadPoolExecutor(1, thread_name_prefix="view-writer") as writer:
            position = self.position
            if position != self._applied:
                self.projection.forget()
            self.projection.before_reading = committed
            try:
                while notes := select(start=position + 1, limit=batch, topics=self.projection.topics):
                    statements = self._statements(notes)
                    committed()
                    self.projection.settle()
                    position = notes[-1].id
                    pending = (writer.submit(self.view.record, Tracking(tracking_name, position), statements), position)
                committed()
            except IntegrityError:  # another keeper wrote this generation: the catch-up after resumes where it got
                self.projection.forget()
                self._applied = -1
            except BaseException:
                self.projection.forget()
                self._applied = -1
                raise
            finally:
                self.projection.before_reading = _nothing

    def catch_up(
        self, *, until: int | None = None, batch: int = BATCH, progress: Callable[[int], None] | None = None
    ) -> int:
        """Apply every event after the tracked position (up to `until`), `batch` per transaction."""
        applied = 0
        with self.view.switching:
            self.view.follow_pointer()
            while True:
                position = self.position
                notes = self.ledger.recorder.select_notifications(start=position + 1, limit=batch, stop=until)
                if not notes:
                    return applied
                if self.apply(notes, after=position):  # else another keeper got there first: re-read the position
                    applied += len(notes)
                    if progress is not None:
                        progress(notes[-1].id)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the view reflects `position`, catching up here if it is behind."""
        return self.view.wait_for(position, timeout, on_wait=self.catch_up)

    def follow(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Keep applying new events until `stop` is set (a live subscription where there is one).

        A notification only says "read the log up to here": the events themselves are always read
        from the log in order, so one missed or reordered notification can never leave a gap. A
        slow sweep catches up whatever a lost notification would have announced.
        """
        live = Storage.of(self.ledger.recorder).live
        if live:
            threading.Thread(target=self._sweep, args=(stop, SWEEP_SECONDS), name="view-sweeper", daemon=True).start()
        while not stop.is_set():
            self.catch_up()
            if not live:
                stop.wait(interval)
                continue
            try:
                with self.ledger.recorder.subscribe(gt=self.position) as subscription:
                    stopper = threading.Thread(target=lambda s=subscription: (stop.wait(), s.stop()), daemon=True)
                    stopper.start()
                    for note in subscription:
                        if note.id > self.position:
                            self.catch_up(until=note.id)
            except Exception:  # the database went away: log, back off, resume from the tracked position
                log.exception("view keeper lost its subscription; resuming")
                stop.wait(interval)

    def _sweep(self, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            try:
                self.catch_up()
            except Exception:  # the subscription loop reports outages; the sweep just tries again
                log.debug("sweep failed; next one in %s s", every, exc_info=True)


def rebuild(ledger: ConsentLedger, database: Database, progress: Callable[[int], None] | None = None) -> LedgerView:
    """Fill a fresh generation of the view from position 0, then point readers at it.

    Readers keep using the current generation until the pointer moves; the generation before
    the current one is dropped first, so at most two exist at once. Interrupted, a rebuild
    resumes from the new generation's tracked position when run again. The new generation's
    secondary indexes are built once, after the fill and before the pointer moves.
    """
    current = open_view(database)
    previous = current.generation - 1
    if previous >= 0:
        current.drop_generation(previous)
    fresh = open_view(database, generation=current.generation + 1, indexed=False)
    keeper = ViewKeeper(ledger, fresh)
    keeper.fill(progress=progress)
    fresh.create_indexes()
    fresh.make_current()
    keeper.catch_up(progress=progress)
    return fresh


def _nothing() -> None:
    pass


class BackgroundKeeper:
    """Keeps the view current while a process runs, in one daemon thread."""

    def __init__(self, keeper: ViewKeeper) -> None:
        """Follow the log with `keeper`."""
        self.keeper = keeper
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.keeper.follow, args=(self._stop,), name="view-keeper", daemon=True)

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following; the tracked position stays where it is."""
        self._stop.set()
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=5)
