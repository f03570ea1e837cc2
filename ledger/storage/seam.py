"""The database a URL names (`Database`), and `Storage`: what differs between SQLite and PostgreSQL, per backend."""

from __future__ import annotations

import contextlib
import math
import sqlite3
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore

from ledger.storage.errors import translating

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

DEFAULT_URL = "sqlite:///var/consent-ledger.db"
"""Relative to the working directory, as `sqlite:///` URLs are by convention."""

DEFAULT_TIMEOUT = 5.0
"""Seconds any request waits on the database at most (a lock, a connection, an answer) before a 503."""

SCHEMA_LOCK = 727_274_001
"""The PostgreSQL advisory lock every `CREATE ... IF NOT EXISTS` of ours takes (see `Storage.creating_tables`)."""

APPLICATION_ID = 0x436C6564
"""What a SQLite file of ours says it is in its header ("Cled"), written as tables are created (`application_id`)."""

CHUNK = 500
"""Ids per statement when many are read at once: far under either backend's limit on parameters."""


class DatabaseUrlError(ValueError):
    """The database URL cannot be understood."""


@dataclass(frozen=True)
class Database:
    """A parsed database URL, the longest wait allowed on it, and the `eventsourcing` settings they stand for."""

    url: str
    backend: Literal["sqlite", "postgres"]
    env: dict[str, str]
    sqlite_path: Path | None = None
    schema: str | None = None
    timeout: float = field(default=DEFAULT_TIMEOUT, compare=False)

    @classmethod
    def from_url(cls, url: str, timeout: float = DEFAULT_TIMEOUT) -> Database:
        """Parse `sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://...`; wait at most `timeout` s."""
        if not timeout > 0:
            msg = f"the database timeout must be a positive number of seconds, not {timeout!r}"
            raise DatabaseUrlError(msg)
        seconds = str(math.ceil(timeout))
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            raw = unquote(parts.path)[1:] if parts.path.startswith("/") else unquote(parts.path)
            if not raw:
                msg = f"no file in {url!r}; write sqlite:///path/to/file.db"
                raise DatabaseUrlError(msg)
            path = Path(raw)
            env = {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(path),
                "SQLITE_LOCK_TIMEOUT": seconds,
            }
            return cls(url=url, backend="sqlite", env=env, sqlite_path=path, timeout=timeout)
        if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            schema = parse_qs(parts.query).get("schema", [""])[0]
            env = {
                "PERSISTENCE_MODULE": "ledger.storage.postgres:BoundedPostgresFactory",
                "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
                "POSTGRES_HOST": parts.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(parts.port or 5432),
                "POSTGRES_USER": unquote(parts.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(parts.password or ""),
                "POSTGRES_SCHEMA": schema,
                "POSTGRES_CONNECT_TIMEOUT": seconds,
                "POSTGRES_POOL_SIZE": "5",
                "POSTGRES_MAX_OVERFLOW": "10",
                "POSTGRES_LOCK_TIMEOUT": seconds,
            }
            return cls(url=url, backend="postgres", env=env, schema=schema or None, timeout=timeout)
        msg = f"unsupported database URL {url!r}: use sqlite:///path.db or postgresql://user@host/db"
        raise DatabaseUrlError(msg)

    @property
    def name(self) -> str:
        """What the database is called: the SQLite file's name, or PostgreSQL's database and schema (`test/s`)."""
        if self.sqlite_path is not None:
            return self.sqlite_path.stem
        return self.env["POSTGRES_DBNAME"] + (f"/{self.schema}" if self.schema else "")

    @property
    def storage(self) -> type[Storage]:
        """The seam's class for this backend (its class attributes say what the backend can do)."""
        return SQLiteStorage if self.backend == "sqlite" else PostgresStorage

    def prepare(self) -> None:
        """Create what the recorders expect to exist: the SQLite folder and file in WAL mode, the PostgreSQL schema."""
        if self.sqlite_path is not None:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            _write_ahead(self.sqlite_path, self.timeout)
        elif self.schema:
            with psycopg.connect(**self.psycopg_kwargs(), autocommit=True) as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))  # processes starting together
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    def answers(self) -> None:
        """Ask the server for a connection, so that a wrong host or password is reported as such (a driver error)."""
        if self.sqlite_path is None:
            psycopg.connect(**self.psycopg_kwargs()).close()

    def holds_nothing(self) -> bool:
        """Whether a SQLite file holds no table yet (a driver error if it is not a database); PostgreSQL: False."""
        if self.sqlite_path is None:
            return False
        with contextlib.closing(sqlite3.connect(self.sqlite_path)) as connection:
            (tables,) = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return bool(tables == 0)

    def psycopg_kwargs(self) -> dict[str, Any]:
        """Connection arguments for a direct psycopg connection."""
        e = self.env
        return {
            "dbname": e["POSTGRES_DBNAME"],
            "host": e["POSTGRES_HOST"],
            "port": int(e["POSTGRES_PORT"]),
            "user": e["POSTGRES_USER"],
            "password": e["POSTGRES_PASSWORD"],
            **network_bounds(max(2, int(e["POSTGRES_CONNECT_TIMEOUT"]))),
        }


def _write_ahead(path: Path, timeout: float) -> None:
    """Put the SQLite file in WAL mode (once: the mode is kept in the file), however many processes try at once.

    eventsourcing's pool does it on its first connection, but a process that finds the file not
    yet in WAL mode while a twin switches it is refused at once ("database is locked"), whatever
    the lock timeout. Here a refused switch is tried again until the file says WAL, within `timeout`.
    """
    deadline = time.monotonic() + timeout
    with contextlib.closing(sqlite3.connect(path, timeout=timeout, isolation_level=None)) as connection:
        while True:
            try:
                if str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() == "wal":
                    return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:  # it would not switch: eventsourcing's pool tries, and says why
                return
            time.sleep(0.01)  # a twin is switching it: look again


def network_bounds(seconds: int) -> dict[str, Any]:
    """The libpq settings that turn a silent network or a dead server into an error within about `seconds`."""
    return {
        "connect_timeout": max(2, seconds),  # libpq counts less than 2 as 2
        "keepalives": 1,
        "keepalives_idle": max(1, seconds // 2),
        "keepalives_interval": 1,
        "keepalives_count": 2,
        "tcp_user_timeout": seconds * 1000,  # unacknowledged data for this long: the peer is gone
    }


class Storage(ABC):
    """What differs between SQLite and PostgreSQL, for the tables of one datastore; one subclass per backend.

    Statements given to `query` use `?` placeholders; `placeholder` is the driver's own, for
    statements run on a cursor of the datastore. Rows come back addressable by column name on
    both backends (a `sqlite3.Row`, a psycopg dict row); `values` gives a row's values in order.
    """

    placeholder: ClassVar[str]
    integer: ClassVar[str]
    """A 64-bit integer column."""
    blob: ClassVar[str]
    """A byte-string column."""
    serial_key: ClassVar[str]
    """An integer primary key the database numbers itself, in insertion order."""
    without_rowid: ClassVar[str]
    """What follows a table with a composite primary key and no other use for a row id."""
    local: ClassVar[bool]
    """Whether the database is a file on this host: no statement waits on a network (so one may run on the loop)."""
    live: ClassVar[bool]
    """Whether the recorder can push new events to a follower (`subscribe`), or the log has to be polled."""
    shared: ClassVar[bool]
    """Whether several servers (processes, hosts) may write to it at once."""

    def __init__(self, datastore: Any, events_table_name: str | None = None) -> None:
        """Speak for `datastore`; `events_table_name` is the application recorder's table, if it is one."""
        self.datastore = datastore
        self.events_table_name = events_table_name

    @staticmethod
    def of(recorder_or_datastore: Any) -> Storage:
        """The seam for a recorder (which also names the events table) or a datastore (cheap: make one per user)."""
        datastore = getattr(recorder_or_datastore, "datastore", recorder_or_datastore)
        kind = PostgresStorage if isinstance(datastore, PostgresDatastore) else SQLiteStorage
        return kind(datastore, getattr(recorder_or_datastore, "events_table_name", None))

    # Names and shapes.

    @abstractmethod
    def qualify(self, name: str) -> str:
        """A table of ours by its full name (in the datastore's schema, on PostgreSQL)."""

    @property
    def events_table(self) -> str:
        """The qualified name of the table the application recorder stores events in."""
        if self.events_table_name is None:
            msg = "this storage was made from a datastore, not from the application recorder: no events table"
            raise RuntimeError(msg)
        return self.qualify(self.events_table_name)

    @property
    def in_memory(self) -> bool:
        """Whether the database lives in this process only (reachable through the datastore's connections alone)."""
        return False

    @property
    @abstractmethod
    def timeout(self) -> float:
        """Seconds a statement waits on the database at most (for a lock, a connection): `Database.timeout`."""

    @staticmethod
    @abstractmethod
    def values(row: Any) -> tuple[Any, ...]:
        """A row's values in column order."""

    @abstractmethod
    def among(self, ids: Sequence[object]) -> tuple[str, list[object]]:
        """A condition `column <among> ` matching any of `ids`, with its parameters (`?` placeholders)."""

    @abstractmethod
    def id_param(self, originator_id: UUID) -> object:
        """An originator id as the events table stores it."""

    # Tables of our own.

    @abstractmethod
    def creating_tables(self, cursor: Any) -> None:
        """Make processes that create the same tables at the same moment take turns (in the cursor's transaction)."""

    @abstractmethod
    def append_only(self, table: str, name: str, message: str) -> list[str]:
        """Statements making the database refuse UPDATE and DELETE on `table`, saying `message`; `name` names them."""

    @abstractmethod
    def insert_many(
        self, cursor: Any, table: str, columns: Mapping[str, str], rows: Sequence[Sequence[object]]
    ) -> None:
        """Insert `rows` into `table`'s `columns` (name: SQL type) in as few statements as the backend allows."""

    @abstractmethod
    def erasing(self, cursor: Any) -> None:
        """Before a statement that overwrites a secret: make the database zero the freed bytes (in that transaction)."""

    @abstractmethod
    def scrub(self, table: str) -> None:
        """After a secret was overwritten: rewrite `table`'s files so that no old copy of a row remains."""

    @abstractmethod
    def connect(self, *, durable: bool = False) -> Any:
        """A connection of one component's own, in autocommit mode (`durable`: each commit reaches the disk first).

        For the few statements on a hot path (a question, a token lookup, the access log's grouped
        inserts) that should not pay the pool's checkout and the BEGIN and COMMIT around them: the
        same file or server, with the pool's settings and its bounded waits. The caller closes it.
        """

    # Reading the events (what the write side reads instead of going through `repository.get`).

    def query(self, statement: str, params: Sequence[object]) -> list[Any]:
        """The rows of one read-only statement written with `?` placeholders, in one round trip."""
        with translating():
            return self._query(statement, params)

    @abstractmethod
    def _query(self, statement: str, params: Sequence[object]) -> list[Any]: ...

    def events_after(self, originator_id: UUID, version: int) -> list[StoredEvent]:
        """One aggregate's stored events after `version`, oldest first, in one statement."""
        rows = self.query(
            f"SELECT originator_version, topic, state FROM {self.events_table} "
            "WHERE originator_id = ? AND originator_version > ? ORDER BY originator_version",
            (self.id_param(originator_id), version),
        )
        return [StoredEvent(originator_id, r["originator_version"], r["topic"], bytes(r["state"])) for r in rows]

    def events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """The stored events of many aggregates, each one's together and oldest first, one statement per 500."""
        found: list[StoredEvent] = []
        for start in range(0, len(originator_ids), CHUNK):
            among, params = self.among([self.id_param(key) for key in originator_ids[start : start + CHUNK]])
            rows = self.query(
                f"SELECT originator_id, originator_version, topic, state FROM {self.events_table} "
                f"WHERE originator_id {among} ORDER BY originator_id, originator_version",
                params,
            )
            last: tuple[object, UUID] | None = None
            for row in rows:
                raw = row["originator_id"]
                if last is None or last[0] != raw:  # ids repeat row after row: parse each once
                    last = (raw, raw if isinstance(raw, UUID) else UUID(raw))
                found.append(StoredEvent(last[1], row["originator_version"], row["topic"], bytes(row["state"])))
        return found

    @abstractmethod
    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The notification-log position of one stored event, for receipts given again on retry."""


class SQLiteStorage(Storage):
    """A SQLite file (or an in-memory database, for tests): one host, one writer at a time."""

    placeholder = "?"
    integer = "INTEGER"
    blob = "BLOB"
    serial_key = "INTEGER PRIMARY KEY AUTOINCREMENT"
    without_rowid = " WITHOUT ROWID"
    local = True
    live = False  # eventsourcing's SQLite recorder cannot subscribe
    shared = False

    def qualify(self, name: str) -> str:
        """A SQLite file has no schemas."""
        return name

    @property
    def in_memory(self) -> bool:
        """Whether the database is SQLite's `:memory:` (only its pool's connections reach it)."""
        return bool(getattr(self.datastore.pool, "is_sqlite_memory_mode", True))

    @property
    def timeout(self) -> float:
        """How long a statement waits for another connection's lock on the file."""
        return float(self.datastore.pool.lock_timeout or 5)

    @staticmethod
    def values(row: Any) -> tuple[Any, ...]:
        """A `sqlite3.Row` or a tuple, as a tuple."""
        return tuple(row)

    def among(self, ids: Sequence[object]) -> tuple[str, list[object]]:
        """`IN (?, ?, ...)`: one parameter per id."""
        return f"IN ({', '.join('?' * len(ids))})", list(ids)

    def id_param(self, originator_id: UUID) -> object:
        """The events table keeps SQLite's originator ids as 32 hex digits."""
        return originator_id.hex

    def creating_tables(self, cursor: Any) -> None:
        """Write first (the file's application id), so that the transaction holds the write lock from its start.

        A transaction that only read before its first write cannot wait for a twin's lock: SQLite
        fails it at once ("database is locked"). One that writes first waits, as long as the pool's
        lock timeout allows.
        """
        cursor.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def append_only(self, table: str, name: str, message: str) -> list[str]:
        """A trigger per refused statement, raising an error."""
        return [
            f"CREATE TRIGGER IF NOT EXISTS {name}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for action in ("UPDATE", "DELETE")
        ]

    def insert_many(
        self, cursor: Any, table: str, columns: Mapping[str, str], rows: Sequence[Sequence[object]]
    ) -> None:
        """`executemany`: SQLite runs in process, so a statement per row costs no round trip."""
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def erasing(self, cursor: Any) -> None:
        """`secure_delete` zeroes what the transaction frees or overwrites."""
        cursor.execute("PRAGMA secure_delete = ON")

    def scrub(self, table: str) -> None:  # noqa: ARG002  (the whole file is checkpointed)
        """Copy the write-ahead log into the file and truncate it: the old page is gone from both."""
        with self.datastore.transaction(commit=False) as c, contextlib.suppress(Exception):
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def connect(self, *, durable: bool = False) -> sqlite3.Connection:
        """The same file, waiting for a lock no longer than the pool does."""
        pool = self.datastore.pool
        connection = sqlite3.connect(
            pool.db_name, uri=True, check_same_thread=False, isolation_level=None, timeout=pool.lock_timeout or 5
        )
        if durable:
            connection.execute("PRAGMA synchronous = FULL")  # the WAL is flushed at each commit
        return connection

    def _query(self, statement: str, params: Sequence[object]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return list(c.fetchall())

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The events table's row id is the notification id."""
        rows = self.query(
            f"SELECT rowid FROM {self.events_table} WHERE originator_id = ? AND originator_version = ?",
            (originator_id.hex, version),
        )
        return int(rows[0][0]) if rows else None


class PostgresStorage(Storage):
    """A PostgreSQL schema: many processes on many hosts, every statement a round trip."""

    placeholder = "%s"
    integer = "BIGINT"
    blob = "BYTEA"
    serial_key = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    without_rowid = ""
    local = False
    live = True
    shared = True

    def qualify(self, name: str) -> str:
        """In the datastore's schema (`public` unless the URL names one)."""
        return f'"{self.datastore.schema}".{name}'

    @property
    def timeout(self) -> float:
        """How long a statement waits for a pooled connection (and a lock, and an unanswered packet)."""
        return float(getattr(self.datastore, "patience", self.datastore.pool.timeout))

    @staticmethod
    def values(row: Any) -> tuple[Any, ...]:
        """A psycopg dict row or a tuple, as a tuple."""
        return tuple(row.values()) if isinstance(row, dict) else tuple(row)

    def among(self, ids: Sequence[object]) -> tuple[str, list[object]]:
        """`= ANY(?)`: one array parameter, whatever the number of ids."""
        return "= ANY(?)", [list(ids)]

    def id_param(self, originator_id: UUID) -> object:
        """A `uuid` column."""
        return originator_id

    def creating_tables(self, cursor: Any) -> None:
        """`CREATE ... IF NOT EXISTS` can fail against a concurrent twin: a transaction-scoped advisory lock."""
        cursor.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")

    def append_only(self, table: str, name: str, message: str) -> list[str]:
        """A function that raises, and a statement trigger calling it."""
        function = self.qualify(f"{name}_is_append_only")
        raising = (
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        trigger = (
            f"CREATE OR REPLACE TRIGGER {name}_is_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
        return [raising, trigger]

    def insert_many(
        self, cursor: Any, table: str, columns: Mapping[str, str], rows: Sequence[Sequence[object]]
    ) -> None:
        """One statement from one array per column (`unnest`): one round trip, however many rows."""
        arrays = ", ".join(f"%b::{kind}[]" for kind in columns.values())
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})",
            [list(column) for column in zip(*rows, strict=True)],
        )

    def erasing(self, cursor: Any) -> None:
        """PostgreSQL never overwrites a row in place: `scrub` does the work."""

    def scrub(self, table: str) -> None:
        """`VACUUM FULL` rewrites the table, leaving no dead copy of an overwritten row in its files."""
        with self.datastore.get_connection() as conn:
            conn.execute(f"VACUUM (FULL) {table}")

    def connect(self, *, durable: bool = False) -> psycopg.Connection[Any]:
        """The pool's server and settings (its row factory aside: plain tuples), with its bounded waits."""
        pool = self.datastore.pool
        given = pool.kwargs
        kwargs = {k: v for k, v in given.items() if k != "row_factory"} if isinstance(given, dict) else {}
        kwargs.setdefault("connect_timeout", max(2, math.ceil(pool.timeout)))
        connection = psycopg.connect(**kwargs, autocommit=True)
        if durable:
            connection.execute("SET synchronous_commit = on")
        return connection

    def _query(self, statement: str, params: Sequence[object]) -> list[Any]:
        """Without the BEGIN and ROLLBACK the recorder wraps its SELECTs in: one statement sees one snapshot."""
        with self.datastore.cursor() as c:
            c.execute(statement.replace("?", "%s"), params)
            return list(c.fetchall())

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The `notification_id` column eventsourcing adds to the events table."""
        rows = self.query(
            f"SELECT notification_id FROM {self.events_table} WHERE originator_id = ? AND originator_version = ?",
            (originator_id, version),
        )
        return int(rows[0]["notification_id"]) if rows else None
