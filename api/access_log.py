"""Who read which subject's data, when, through which route, and for which declared purpose.

The Kazakh protection rules for personal data ask the operator to log the actions of users on
personal data, so every read of one subject's data through the API leaves a row here, which
auditors query (`GET /v1/access-log`).

It is a table of its own, not events in the ledger's log: reads outnumber writes many times
over, and putting them in the event log would make the proof-bearing history of facts (its
Merkle tree, its exports, the change feed, every projection) grow and slow with traffic that
changes no fact. The table is append-only: the API has no way to change or delete a row, and
the database refuses UPDATE and DELETE on it (a trigger on each backend).

A row is written once a read has passed its token, scope and purpose checks, and its commit
starts while the answer is worked out; the answer leaves only after the row is durable. A read
whose question then fails (a 500) therefore still leaves its row: the log errs toward recording
an attempt, never toward an answer without a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ledger.storage import Storage

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ledger.application import ConsentLedger

Row = tuple[str, str, str, str, str]
"""One access as the table's columns: at, caller, subject_id, route, purpose."""

Done = Future[None] | asyncio.Future[None]
"""Where a row's outcome goes: a thread's future (`record`) or an event loop's (`recording`)."""

COLUMNS = ("number", "at", "caller", "subject_id", "route", "purpose")
"""The table's columns, in the order an `Access` lists them."""
MAX_ROWS = 500
"""Rows per commit at most: far more reads than one commit's wait ever gathers, few enough for one statement."""
IDLE_SECONDS = 5.0
"""How long the writer thread waits for a row before it ends (the next read starts it again)."""
CLOSED_CHECK_SECONDS = 0.25
"""How often an idle writer looks whether the ledger was closed, to close its connection with it."""


@dataclass(frozen=True)
class Access:
    """One read of one subject's data."""

    number: int
    at: datetime
    caller: str
    subject_id: str
    route: str
    purpose: str


def _stamp(at: datetime) -> str:
    """Times in UTC with microseconds, so that text order is time order on both backends."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class AccessLog:
    """The append-only `access_log` table beside the events, on the recorder's own datastore."""

    def __init__(self, ledger: ConsentLedger) -> None:
        """Create the table, its indexes and its append-only guard on first use."""
        self.ledger = ledger
        self._storage = Storage.of(ledger.recorder)
        self._datastore: Any = self._storage.datastore
        self.table = self._storage.qualify("access_log")
        self.local = self._storage.local
        """Whether the log is in a file on this host (SQLite), where a statement cannot wait on a network."""
        self._p = self._storage.placeholder
        self._own: Any = None
        self._writer = _GroupWriter(self._insert, self._disconnect, ledger.closing.is_set)
        with self._datastore.transaction(commit=True) as c:
            self._storage.creating_tables(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (number {self._storage.serial_key}, at TEXT NOT NULL, "
                "caller TEXT NOT NULL, subject_id TEXT NOT NULL, route TEXT NOT NULL, purpose TEXT NOT NULL)"
            )
            c.execute(f"CREATE INDEX IF NOT EXISTS access_log_by_subject ON {self.table} (subject_id, at)")
            c.execute(f"CREATE INDEX IF NOT EXISTS access_log_by_time ON {self.table} (at)")
            for statement in self._storage.append_only(self.table, "access_log", "the access log is append-only"):
                c.execute(statement)

    def record(self, *, at: datetime, caller: str, subject_id: str, route: str, purpose: str) -> None:
        """Append one read, returning once it is committed; if this raises, the read must not be answered."""
        done: Future[None] = Future()
        self._writer.submit((_stamp(at), caller, subject_id, route, purpose), done)
        done.result()

    def recording(
        self, *, at: datetime, caller: str, subject_id: str, route: str, purpose: str
    ) -> asyncio.Future[None]:
        """Start committing one read's row (from a coroutine); the read is answered only once this is done."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writer.submit((_stamp(at), caller, subject_id, route, purpose), done)
        return done

    def _insert(self, rows: list[Row]) -> None:
        """Commit `rows` in one statement, so in one transaction: one disk flush (or round trip) for them all.

        On a connection of the log's own, in autocommit mode: a pooled connection cost a checkout,
        a BEGIN and a COMMIT around the INSERT. SQLite's is `synchronous = FULL` (WAL flushed at
        each commit) and PostgreSQL's `synchronous_commit = on`, set here rather than trusted to
        the defaults: a row must be on disk before the read it records is answered.
        """
        columns = f"({', '.join([self._p] * 5)})"
        statement = (
            f"INSERT INTO {self.table} (at, caller, subject_id, route, purpose) "  # noqa: S608  (our own table name; values are bound)
            f"VALUES {', '.join([columns] * len(rows))}"
        )
        values = [value for row in rows for value in row]
        if self._storage.in_memory:  # only the datastore's own connections reach an in-memory database
            with self._datastore.transaction(commit=True) as c:
                c.execute(statement, values)
            return
        if self._own is None:
            self._own = self._storage.connect(durable=True)
        try:
            self._own.execute(statement, values)
        except BaseException:
            self._disconnect()  # a connection that failed is not reused: the next group opens another
            raise

    def _disconnect(self) -> None:
        """Close the log's own connection, if open (when it failed, or when the writer has been idle a while)."""
        own, self._own = self._own, None
        if own is not None:
            with contextlib.suppress(Exception):
                own.close()

    def entries(
        self,
        *,
        subject_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[Access]:
        """Reads in the order they were logged, after row `after`, optionally of one subject and in a time range."""
        where: list[str] = [f"number > {self._p}"]
        values: list[object] = [after]
        if subject_id is not None:
            where.append(f"subject_id = {self._p}")
            values.append(subject_id)
        if since is not None:
            where.append(f"at >= {self._p}")
            values.append(_stamp(since))
        if until is not None:
            where.append(f"at <= {self._p}")
            values.append(_stamp(until))
        with self._datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT number, at, caller, subject_id, route, purpose FROM {self.table} "  # noqa: S608  (our own table name; values are bound)
                f"WHERE {' AND '.join(where)} ORDER BY number LIMIT {int(limit)}",
                tuple(values),
            )
            rows = c.fetchall()
        return [_access(row) for row in rows]

    def count(self) -> int:
        """How many reads were logged, ever."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT count(*) AS n FROM {self.table}")  # noqa: S608  (our own table name)
            row = c.fetchone()
        return int(row["n"])


def _access(row: Any) -> Access:
    """A row as an `Access` (rows of both backends are addressable by column name)."""
    number, at, caller, subject_id, route, purpose = (row[c] for c in COLUMNS)
    when = datetime.fromisoformat(str(at))
    return Access(int(str(number)), when, str(caller), str(subject_id), str(route), str(purpose))


class _GroupWriter:
    """A group commit for reads: the rows of concurrent reads committed together, each read waiting for its own.

    One thread takes every row waiting and commits them in one transaction, then answers each
    caller; rows queue up only while the previous commit is on its way to disk, so a lone read
    waits for nothing but its own commit, and concurrent reads share a disk flush (or a round
    trip) instead of queueing for one each. A commit that fails fails every read of its group.
    The thread ends after `IDLE_SECONDS` without a row, or soon after the ledger was closed,
    closing the connection, so that an idle log (or one a test left behind) holds neither.
    """

    def __init__(
        self, insert: Callable[[list[Row]], None], idle: Callable[[], None], closed: Callable[[], bool]
    ) -> None:
        self._insert, self._idle, self._closed = insert, idle, closed
        self._waiting: deque[tuple[Row, Done]] = deque()
        self._changed = threading.Condition()
        self._running = False

    def submit(self, row: Row, done: Done) -> None:
        """Queue `row` for the next commit; `done` gets its outcome (None once committed, or the error)."""
        with self._changed:
            self._waiting.append((row, done))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="access-log", daemon=True).start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                idle = 0.0
                while not self._waiting and idle < IDLE_SECONDS and not self._closed():
                    self._changed.wait(CLOSED_CHECK_SECONDS)
                    idle += CLOSED_CHECK_SECONDS
                if not self._waiting:
                    self._running = False
                    self._idle()
                    return
                group = [self._waiting.popleft() for _ in range(min(MAX_ROWS, len(self._waiting)))]
            error: BaseException | None = None
            try:
                self._insert([row for row, _ in group])
            except BaseException as e:  # noqa: BLE001  (each waiting read gets it, and is refused)
                error = e
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for _, done in group:
                if isinstance(done, Future):
                    _settle([done], error)
                else:
                    by_loop.setdefault(done.get_loop(), []).append(done)
            for loop, answers in by_loop.items():  # one wake-up of each loop for its group's reads, not one per read
                with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits there any more
                    loop.call_soon_threadsafe(_settle, answers, error)


def _settle(answers: Sequence[Done], error: BaseException | None) -> None:
    """Tell each waiting read how its row's commit went (unless it stopped waiting)."""
    for done in answers:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
