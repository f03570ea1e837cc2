"""Where the ledger keeps its events and its subject keys: a SQLite file, or PostgreSQL.

One URL chooses the backend (`sqlite:///var/ledger.db`, `postgresql://user@host/db?schema=s`).
Events go through the `eventsourcing` recorders; the few tables of our own (subject keys) use
the same datastore and connection pool, so a deployment has exactly one place to point at.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

if TYPE_CHECKING:
    from collections.abc import Collection

DEFAULT_URL = "sqlite:///var/consent-ledger.db"
"""Relative to the working directory, as `sqlite:///` URLs are by convention."""


class DatabaseUrlError(ValueError):
    """The database URL cannot be understood."""


@dataclass(frozen=True)
class Database:
    """A parsed database URL and the `eventsourcing` settings it stands for."""

    url: str
    backend: Literal["sqlite", "postgres"]
    env: dict[str, str]
    sqlite_path: Path | None = None
    schema: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Database:
        """Parse `sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://...`."""
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
                "SQLITE_LOCK_TIMEOUT": "30",
            }
            return cls(url=url, backend="sqlite", env=env, sqlite_path=path)
        if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            query = parse_qs(parts.query)
            schema = query.get("schema", [""])[0]
            env = {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
                "POSTGRES_HOST": parts.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(parts.port or 5432),
                "POSTGRES_USER": unquote(parts.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(parts.password or ""),
                "POSTGRES_SCHEMA": schema,
                "POSTGRES_CONNECT_TIMEOUT": "2",
                "POSTGRES_POOL_SIZE": "5",
                "POSTGRES_MAX_OVERFLOW": "10",
                "POSTGRES_LOCK_TIMEOUT": "10",
            }
            return cls(url=url, backend="postgres", env=env, schema=schema or None)
        msg = f"unsupported database URL {url!r}: use sqlite:///path.db or postgresql://user@host/db"
        raise DatabaseUrlError(msg)

    def prepare(self) -> None:
        """Create what the recorders expect to exist: the SQLite folder, the PostgreSQL schema."""
        if self.sqlite_path is not None:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        elif self.schema:
            import psycopg  # noqa: PLC0415  (only PostgreSQL deployments need it)

            with psycopg.connect(**self.psycopg_kwargs(), autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    def psycopg_kwargs(self) -> dict[str, Any]:
        """Connection arguments for a direct psycopg connection."""
        e = self.env
        return {
            "dbname": e["POSTGRES_DBNAME"],
            "host": e["POSTGRES_HOST"],
            "port": int(e["POSTGRES_PORT"]),
            "user": e["POSTGRES_USER"],
            "password": e["POSTGRES_PASSWORD"],
            "connect_timeout": int(e["POSTGRES_CONNECT_TIMEOUT"]),
        }


SCHEMA_LOCK = 727_274_001
"""The PostgreSQL advisory lock every `CREATE ... IF NOT EXISTS` of ours takes (see `creating_tables`)."""


def creating_tables(cursor: Any, backend: str) -> None:
    """Serialise table creation: on PostgreSQL, two processes starting at once on a new schema would deadlock.

    `CREATE TABLE IF NOT EXISTS` is not safe against a concurrent twin there (it can fail on the
    catalogue's unique index); a transaction-scoped advisory lock makes the second wait for the first.
    """
    if backend == "postgres":
        cursor.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")


class SqlKeyStore:
    """Subject keys in a table beside the events, on the recorder's own datastore."""

    def __init__(self, datastore: Any, backend: Literal["sqlite", "postgres"], schema: str | None) -> None:
        """Use the recorder's datastore (its pool and transactions) for the keys table."""
        self._datastore = datastore
        self._backend = backend
        self._table = f'"{schema}".subject_keys' if schema else "subject_keys"
        self._p = "?" if backend == "sqlite" else "%s"
        blob = "BLOB" if backend == "sqlite" else "BYTEA"
        with self._datastore.transaction(commit=True) as c:
            creating_tables(c, backend)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table} (subject_id TEXT PRIMARY KEY, wrapped_key {blob} NOT NULL)"
            )

    def wrapped_key(self, subject: UUID) -> bytes | None:
        """The stored wrapped key, if any."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT wrapped_key FROM {self._table} WHERE subject_id = {self._p}", (subject.hex,))
            row = c.fetchone()
        return None if row is None else bytes(row[0] if self._backend == "sqlite" else row["wrapped_key"])

    def add_key_if_absent(self, subject: UUID, wrapped: bytes) -> bytes:
        """Insert unless present (two first writers race harmlessly); return the stored key."""
        with self._datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self._table} (subject_id, wrapped_key) VALUES ({self._p}, {self._p}) "
                "ON CONFLICT (subject_id) DO NOTHING",
                (subject.hex, wrapped),
            )
        stored = self.wrapped_key(subject)
        if stored is None:  # pragma: no cover  (destroyed between the two statements)
            msg = "the subject's key was destroyed while it was being created"
            raise RuntimeError(msg)
        return stored

    def wrapped_keys(self, subjects: Collection[UUID]) -> dict[UUID, bytes]:
        """The stored keys (or tombstones) of those subjects that have one, read in one statement per 500."""
        found: dict[UUID, bytes] = {}
        ids = [s.hex for s in subjects]
        with self._datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                if self._backend == "sqlite":
                    marks = ", ".join("?" * len(chunk))
                    c.execute(f"SELECT subject_id, wrapped_key FROM {self._table} WHERE subject_id IN ({marks})", chunk)
                    found.update((UUID(row[0]), bytes(row[1])) for row in c.fetchall())
                else:
                    c.execute(f"SELECT subject_id, wrapped_key FROM {self._table} WHERE subject_id = ANY(%s)", (chunk,))
                    found.update((UUID(row["subject_id"]), bytes(row["wrapped_key"])) for row in c.fetchall())
        return found

    def add_keys_if_absent(self, keys: dict[UUID, bytes]) -> None:
        """Insert each key unless its subject has one (or a tombstone), all in one transaction."""
        with self._datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT INTO {self._table} (subject_id, wrapped_key) VALUES ({self._p}, {self._p}) "
                "ON CONFLICT (subject_id) DO NOTHING",
                [(subject.hex, wrapped) for subject, wrapped in keys.items()],
            )

    def any_key(self) -> tuple[UUID, bytes] | None:
        """Some stored key and its subject, to check the master key against."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT subject_id, wrapped_key FROM {self._table} WHERE length(wrapped_key) > 0 LIMIT 1")
            row = c.fetchone()
        if row is None:
            return None
        return UUID(row[0] if self._backend == "sqlite" else row["subject_id"]), bytes(
            row[1] if self._backend == "sqlite" else row["wrapped_key"]
        )

    def destroy_key(self, subject: UUID) -> None:
        """Replace the key by an empty tombstone and scrub the freed bytes from the database files.

        The tombstone (not a deleted row) is what stops a writer racing the destruction from
        creating the subject a fresh key: `add_key_if_absent` finds the row and leaves it empty.
        """
        tombstone = (
            f"INSERT INTO {self._table} (subject_id, wrapped_key) VALUES ({self._p}, {self._p}) "
            "ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = excluded.wrapped_key"
        )
        if self._backend == "sqlite":
            with self._datastore.transaction(commit=True) as c:
                c.execute("PRAGMA secure_delete = ON")
                c.execute(tombstone, (subject.hex, b""))
            with self._datastore.transaction(commit=False) as c, contextlib.suppress(Exception):
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        with self._datastore.transaction(commit=True) as c:
            c.execute(tombstone, (subject.hex, b""))
        with self._datastore.get_connection() as conn:
            conn.execute(f"VACUUM (FULL) {self._table}")


def position_of(datastore: Any, events_table: str, backend: str, originator_id: UUID, version: int) -> int | None:
    """The notification-log position of one stored event, for receipts given again on retry."""
    with datastore.transaction(commit=False) as c:
        if backend == "sqlite":
            c.execute(
                f"SELECT rowid FROM {events_table} WHERE originator_id = ? AND originator_version = ?",
                (originator_id.hex, version),
            )
            row = c.fetchone()
            return None if row is None else int(row[0])
        c.execute(
            f"SELECT notification_id FROM {events_table} WHERE originator_id = %s AND originator_version = %s",
            (originator_id, version),
        )
        row = c.fetchone()
        return None if row is None else int(row["notification_id"])


def own_connection(datastore: Any) -> Any:
    """A connection of one component's own to the recorder's database, in autocommit mode.

    For the few statements on a hot path (a question, a token lookup, the access log's grouped
    inserts) that should not pay the pool's checkout and the BEGIN and COMMIT around them: the
    same file or server, with the pool's settings. The caller closes it.
    """
    pool = datastore.pool
    if hasattr(pool, "db_name"):  # SQLite
        return sqlite3.connect(
            pool.db_name, uri=True, check_same_thread=False, isolation_level=None, timeout=pool.lock_timeout or 5
        )
    import psycopg  # noqa: PLC0415  (only a PostgreSQL ledger needs the driver)

    given = pool.kwargs
    kwargs = {k: v for k, v in given.items() if k != "row_factory"} if isinstance(given, dict) else {}
    return psycopg.connect(**kwargs, autocommit=True, connect_timeout=max(1, int(pool.timeout)))
