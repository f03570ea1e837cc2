"""The view on each backend: how SQLite and PostgreSQL write a batch, drop a generation, and answer a question.

The SQL of the view is shared (`projections.view`); what differs is here: SQLite writes without
waiting for the disk and frees pages cheaply; PostgreSQL sends a batch in one pipeline, copies
large INSERTs in, and answers the hot questions through prepared statements on libpq directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from ledger.storage import PostgresStorage, SerialisedCreation, SQLiteSerialisedCreation, SQLiteStorage, Storage
from projections import verdicts
from projections.view import (
    COPY_ROWS,
    READER_MMAP_BYTES,
    SECURE_DELETE,
    WAL_CHECKPOINT_PAGES,
    LedgerView,
    Pending,
    _columns,
    _flush,
    _table_of,
)


class SQLiteLedgerView(SQLiteSerialisedCreation, LedgerView, SQLiteTrackingRecorder):
    """The view in the SQLite file beside the events (its tracking table created as one writer)."""

    datastore: SQLiteDatastore

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            cursor.execute("PRAGMA synchronous = NORMAL")  # (WAL: still atomic, never corrupt)
            cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            with connection.transaction(commit=True) as c:
                yield c

    @contextlib.contextmanager
    def _dropping(self) -> Iterator[Any]:
        """A transaction that frees an old generation's pages without first writing zeros over each one.

        SQLite as built here zeroes every freed page (secure_delete), so dropping a generation wrote
        as much as filling it had. The view holds nothing that the log does not hold in clear (sealed
        values never reach it), so those zeros protected nothing; FAST still zeroes deleted content
        where that costs no extra I/O. The ledger scrubs a destroyed key on its own connection.
        """
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            cursor.execute("PRAGMA secure_delete")
            before = SECURE_DELETE[int(cursor.fetchone()[0])]
            cursor.execute("PRAGMA secure_delete = FAST")
            try:
                with connection.transaction(commit=True) as c:
                    yield c
            finally:
                cursor.execute(f"PRAGMA secure_delete = {before}")  # the connection goes back to the pool

    def _connect(self) -> Any:
        pool = self.datastore.pool
        if pool.is_sqlite_memory_mode:
            return _PooledSQLite(self.datastore)
        connection = self.storage.connect()
        connection.execute("PRAGMA query_only = ON")
        connection.execute(f"PRAGMA mmap_size = {READER_MMAP_BYTES}")  # random subjects: no read() per page
        return connection


class _PooledSQLite:
    """An in-memory database is only reachable through the datastore's own connections."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def execute(self, statement: str, params: Sequence[object]) -> Any:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return _Fetched(c.fetchone())

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Fetched:
    row: Any

    def fetchone(self) -> Any:
        return None if self.row is None else tuple(self.row)


class PostgresLedgerView(SerialisedCreation, LedgerView, PostgresTrackingRecorder):
    """The view in PostgreSQL, in the ledger's schema (its tracking table created one process at a time)."""

    datastore: PostgresDatastore
    placeholder = "%s"

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as c:
            c.execute("SET LOCAL synchronous_commit = off")
            yield c

    def _sending(self, c: Any) -> contextlib.AbstractContextManager[object]:
        """One round trip per batch, not per statement: nothing sent here reads a result."""
        pipeline: contextlib.AbstractContextManager[object] = c.connection.pipeline()
        return pipeline

    def _insert_all(self, c: Any, pending: Pending) -> None:
        """Many rows of one INSERT are copied into a temporary table and inserted from there in one statement.

        COPY costs the server and the driver a fraction of one INSERT per row; the INSERT ... SELECT
        keeps the statement's own conflict rule, so the rows that land are the same.
        """
        few = {statement: rows for statement, rows in pending.items() if len(rows) < COPY_ROWS}
        with c.connection.pipeline():
            _flush(c, few, self._sql)
        for statement, rows in pending.items():
            if len(rows) >= COPY_ROWS:
                self._copy_insert(c, statement, rows)
        pending.clear()

    def _copy_insert(self, c: Any, statement: str, rows: list[Sequence[object]]) -> None:
        table = _table_of(statement)
        own = table.rpartition(".")[2]
        staging = f"stage_{own}"
        columns = _columns(own.removeprefix(self.prefix))[: len(rows[0])]
        c.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS")
        with c.copy(f"COPY {staging} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conflict = " ON CONFLICT DO NOTHING" if statement.endswith("ON CONFLICT DO NOTHING") else ""
        c.execute(f"INSERT INTO {table} SELECT * FROM {staging}{conflict}")

    def _prepare_questions(self) -> None:
        """The same two questions, each judged row found by a backward index scan.

        The primary keys order a subject's rows by `recorded_from`, so a forward scan (the shared
        SQL) fetches every superseded row from the heap before the ones known now, which come
        last. Newest knowledge first, the first row that fits is the answer: fewer heap pages,
        and no row count that grows with a subject's history. A grant and a block never
        overlap, so each key gets its own ordered scan (a scan for both keys could not be ordered).
        The parameters are those of the shared SQL, in the same order.
        """
        standing, versions = self.table("standing_consents"), self.table("policy_versions")
        self._standing_sql = (
            f"SELECT (SELECT version FROM {versions} WHERE policy_id = $1 AND effective_from <= $2 "
            "AND recorded_at <= $3 ORDER BY effective_from DESC, recorded_at DESC LIMIT 1), s.purposes, s.acceptance, "
            f"s.number FROM (SELECT 1 AS one) AS q LEFT JOIN (SELECT purposes, acceptance, number FROM {standing} "
            "WHERE subject_id = $4 AND policy_id = $5 AND occurred_from <= $6 AND occurred_to > $7 "
            "AND recorded_from <= $8 AND recorded_to > $9 ORDER BY recorded_from DESC, occurred_from DESC LIMIT 1) "
            "AS s ON TRUE"
        )
        grants = self.table("disclosure_grants")
        one_key = (
            f"(SELECT grant_key, purposes FROM {grants} WHERE subject_id = $1 AND grant_key = {{key}} "
            "AND occurred_from <= $3 AND occurred_to > $4 AND recorded_from <= $5 AND recorded_to > $6 "
            "ORDER BY recorded_from DESC, occurred_from DESC LIMIT 1)"
        )
        blocked = f"'{verdicts.BLOCKED}'"
        self._grant_sql = f"{one_key.format(key='$2')} UNION ALL {one_key.format(key=blocked)} LIMIT 1"

    def _connect(self) -> Any:
        return _PreparedPostgres(self.storage.connect())


VIEWS: dict[type[Storage], type[LedgerView]] = {SQLiteStorage: SQLiteLedgerView, PostgresStorage: PostgresLedgerView}
"""The view's implementation for each backend's seam."""


class _PreparedPostgres:
    """A question connection that sends each statement straight through libpq, prepared once.

    A question is one round trip of Bind/Execute on a named prepared statement. Going through
    psycopg's cursor cost about 50 µs of client CPU per question (query conversion, parameter
    dumpers, the prepared-statement manager, row building, its wait loop): more than the round
    trip itself on loopback. A rebuild's new generation has new SQL, hence new names.
    Only the view's own read-only questions come here; their parameters and columns are all
    text, so values go as UTF-8 bytes and come back as `str` (None for NULL). libpq drops the
    GIL while it waits for the server, as psycopg does.
    """

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection
        self._names: dict[str, bytes] = {}

    def execute(self, statement: str, params: Sequence[str]) -> _Fetched:
        pgconn = self.connection.pgconn
        name = self._names.get(statement)
        if name is None:
            name = f"cl_question_{len(self._names)}".encode()
            _check(pgconn.prepare(name, _numbered(statement).encode()), pgconn)
            self._names[statement] = name
        result = _check(pgconn.exec_prepared(name, [p.encode() for p in params]), pgconn)
        if not result.ntuples:
            return _Fetched(None)
        values = (result.get_value(0, i) for i in range(result.nfields))
        return _Fetched(tuple(None if v is None else v.decode() for v in values))

    def close(self) -> None:
        self.connection.close()


def _numbered(statement: str) -> str:
    """`%s` placeholders as libpq's `$1, $2, ...`."""
    parts = statement.split("%s")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


def _check(result: psycopg.pq.abc.PGresult, pgconn: psycopg.pq.abc.PGconn) -> psycopg.pq.abc.PGresult:
    """The result, or the error psycopg itself would raise for it (a lost connection: OperationalError)."""
    if result.status in (psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.TUPLES_OK):
        return result
    if pgconn.status != psycopg.pq.ConnStatus.OK or not result.error_field(psycopg.pq.DiagnosticField.SQLSTATE):
        raise psycopg.OperationalError(psycopg.pq.error_message(result))
    raise psycopg.errors.error_from_result(result)
