"""Keeping the view up to date: catch-up from the tracked position, or a live subscription.

SQLite's recorder cannot `subscribe()` (eventsourcing 9.5.6), so over SQLite the keeper reads
the notification log from the view's tracked position in batches — in a background thread,
and on demand when a reader waits for a position it has not reached. Over PostgreSQL it
follows the recorder's live subscription (LISTEN/NOTIFY underneath). Either way a restarted
keeper resumes from its tracked position, and each position is applied exactly once: the
rows and the tracking record commit together, and a second keeper's attempt is refused.

A keeper that fails (a full disk, a database gone) is started again with back-off
(`keep_following`), and says how far behind the log the view is (`lag`, in events and in the
seconds the oldest event it lacks has waited), so that readiness and answers can tell a view
that is current from one that is not.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from typing import TYPE_CHECKING, cast

import orjson
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Tracking
from eventsourcing.utils import Environment

from ledger.storage import Storage
from projections.projection import LedgerProjection
from projections.view import LedgerView
from projections.view_backends import VIEWS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from eventsourcing.persistence import Notification

    from ledger.application import ConsentLedger
    from ledger.storage import Database
    from projections.view_rows import Statement

BATCH = 500
REBUILD_BATCH = 2000
"""A generation nobody reads yet is filled in larger transactions (fewer commits, longer executemany runs)."""
SWEEP_SECONDS = 1.0
"""How often a follower on PostgreSQL reads the log even without a notification."""
FIRST_RETRY_SECONDS = 0.5
"""How long a keeper that failed waits before it starts again; doubled after each failure in a row."""
LAST_RETRY_SECONDS = 30.0
"""The longest wait between two attempts of a keeper that keeps failing."""
MAX_LAG_SECONDS = 2.0
"""How long an event may wait for the view by default: a keeper that keeps up lags by a fraction of a second."""
log = logging.getLogger(__name__)


def open_view(database: Database, generation: int | None = None, *, indexed: bool = True) -> LedgerView:
    """The view on the ledger's database: the current generation unless one is named (see `LedgerView.bind`)."""
    env = Environment(LedgerProjection.name, {**database.env})
    view_class = VIEWS[database.storage]
    view = cast("LedgerView", InfrastructureFactory.construct(env=env).tracking_recorder(view_class))
    view.ensure_pointer()
    return view.bind(view.current_generation() if generation is None else generation, indexed=indexed)


@dataclass(frozen=True)
class Lag:
    """How far the view is behind the log: in events, and how long the oldest event it lacks has waited."""

    log_position: int
    view_position: int
    seconds: float
    """By the ledger's clock: now, less when the oldest event the view lacks was recorded (0 when it lacks none)."""

    @property
    def events(self) -> int:
        """How many positions of the log the view has yet to apply."""
        return max(0, self.log_position - self.view_position)


class ViewKeeper:
    """Applies the ledger's events to one generation of the view, in log order, exactly once."""

    def __init__(self, ledger: ConsentLedger, view: LedgerView) -> None:
        """Keep `view` up to date with `ledger`'s log."""
        self.ledger = ledger
        self.view = view
        self.projection = LedgerProjection(view=view)
        self.decode = ledger.mapper.to_domain_event
        self._applied = -1
        """The last position this keeper applied itself; anything else means another keeper wrote."""
        self.failure: BaseException | None = None
        """What the last catch-up raised, until one succeeds (a full disk, a database gone)."""
        self.failures = 0
        """How many catch-ups failed in a row."""
        self._known: tuple[float, float] | None = None
        """(monotonic time, seconds the view was behind then): the newest thing known about its lag."""

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

    def fill(
        self, *, until: int | None = None, batch: int = REBUILD_BATCH, progress: Callable[[int], None] | None = None
    ) -> None:
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
                while notes := select(start=position + 1, limit=batch, stop=until, topics=self.projection.topics):
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
        try:
            with self.view.switching:
                self.view.follow_pointer()
                while True:
                    position = self.position
                    looked_at = monotonic()
                    notes = self.ledger.recorder.select_notifications(start=position + 1, limit=batch, stop=until)
                    if not notes:
                        if until is None:  # the view had every event there was when the log was read
                            self._known = (looked_at, 0.0)
                        self.failure, self.failures = None, 0
                        return applied
                    if self.apply(notes, after=position):  # else another keeper got there first: re-read
                        applied += len(notes)
                        if progress is not None:
                            progress(notes[-1].id)
        except Exception as e:
            self.failure, self.failures = e, self.failures + 1
            raise

    def lag(self) -> Lag:
        """How far behind the log the view is now (three quick reads when it is behind, two when it is not)."""
        looked_at = monotonic()
        view_position = self.position
        log_position = self.ledger.max_position()
        seconds = 0.0
        if log_position > view_position:
            oldest = self.ledger.recorder.select_notifications(start=view_position + 1, limit=1)
            if oldest:
                recorded = datetime.fromisoformat(orjson.loads(oldest[0].state)["timestamp"])
                seconds = max(0.0, (self.ledger.clock() - recorded).total_seconds())
        self._known = (looked_at, seconds)
        return Lag(log_position, view_position, seconds)

    def fresh_within(self, seconds: float) -> bool:
        """Whether no event the view lacks can be older than `seconds`, from what is known without a read.

        True when the view was last seen caught up (or at most that far behind) recently enough
        that, even had nothing been applied since, its oldest missing event is younger than
        `seconds`; a keeper that keeps up sees to that several times a second. Otherwise (or when
        its last catch-up failed) ask `lag`.
        """
        known = self._known
        if known is None or self.failure is not None:  # a keeper that failed may have fallen behind since
            return False
        at, behind = known
        return behind + (monotonic() - at) <= seconds

    def keep_following(self, stop: threading.Event, interval: float = 0.2) -> None:
        """`follow` until `stop` is set, starting it again after a failure, waiting longer after each one in a row.

        A keeper that dies leaves the view behind for good while the process answers from it; this
        one logs the failure, waits (0.5 s, then 1, 2, ... at most 30 s) and resumes from the
        tracked position, so that it comes back by itself once the disk has room or the database
        answers again.
        """
        wait = FIRST_RETRY_SECONDS
        while not stop.is_set():
            try:
                self.follow(stop, interval)
            except Exception:
                log.exception("the view keeper failed; starting it again in %.1f s", wait)
                if stop.wait(wait):
                    return
                wait = min(wait * 2, LAST_RETRY_SECONDS)
            else:
                return

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
        ended = threading.Event()  # ends this call's sweeper with it (a failed keeper is followed anew)
        if live:
            sweeper = threading.Thread(target=self._sweep, args=(stop, ended, SWEEP_SECONDS), name="view-sweeper")
            sweeper.daemon = True
            sweeper.start()
        try:
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
        finally:
            ended.set()

    def _sweep(self, stop: threading.Event, ended: threading.Event, every: float) -> None:
        while not stop.wait(every) and not ended.is_set():
            try:
                self.catch_up()
            except Exception:  # the subscription loop reports outages; the sweep just tries again
                log.debug("sweep failed; next one in %s s", every, exc_info=True)


def _nothing() -> None:
    pass


class BackgroundKeeper:
    """Keeps the view current while a process runs, in one daemon thread that outlives the keeper's failures."""

    def __init__(self, keeper: ViewKeeper) -> None:
        """Follow the log with `keeper`."""
        self.keeper = keeper
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.keeper.keep_following, args=(self._stop,), name="view-keeper", daemon=True
        )

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following; the tracked position stays where it is."""
        self._stop.set()
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=5)
