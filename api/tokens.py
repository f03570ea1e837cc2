"""Bearer tokens: who calls the API (the name every event it writes keeps) and what it may do (its scopes).

A token's secret is shown once, when it is created, and is stored only as its SHA-256: the
secret is 32 random bytes, so a fast hash is as strong as a slow one and one indexed SELECT per
request finds it. Nothing is cached, so a token revoked from any process fails at once in
every other process sharing the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
import weakref
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidFact
from ledger.storage import Storage
from ledger.terms import NOT_ON_ONE_LINE

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from ledger.application import ConsentLedger


class Scope(StrEnum):
    """What a token may do; each route needs exactly one."""

    WRITE = "write"
    """Record facts (the services that take consents, disclose, block, destroy)."""
    READ = "read"
    """Ask the read side's questions and checks (policies, disclosure checks, deadlines)."""
    EVIDENCE = "evidence"
    """Read a subject's full history, personal fields opened, and claimants (the disputes team)."""
    AUDIT = "audit"
    """Read the whole log and who read what: export, replay, proofs, the feed, the access log (auditors)."""
    ADMIN = "admin"
    """Publish policy versions and manage tokens (the privacy officer)."""


NAME = re.compile(f"^[^{NOT_ON_ONE_LINE}]{{1,100}}$")
"""A token's name is one line of at most 100 characters: it is written into every event as the recorder."""
IDLE_LOOKUPS = 8
"""PostgreSQL connections a store keeps for lookups; more lookups at once go through the shared pool."""


@dataclass(frozen=True)
class Token:
    """A caller the ledger knows: its name (kept on every event it writes, Art. 22(1)(5)) and its scopes."""

    name: str
    scopes: frozenset[Scope]
    created_at: str
    revoked_at: str | None = None


def digest(secret: str) -> str:
    """The only form in which a secret is stored: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The `api_tokens` table beside the events, on the recorder's own datastore (as `SqlKeyStore`)."""

    def __init__(self, ledger: ConsentLedger) -> None:
        """Create the table on first use; several processes may do so at once."""
        self.ledger = ledger
        self._storage = Storage.of(ledger.recorder)
        self._datastore: Any = self._storage.datastore
        self.table = self._storage.qualify("api_tokens")
        self._p = self._storage.placeholder
        self.local = self._storage.local
        """Whether the tokens are in a file on this host (SQLite), where a lookup cannot wait on a network."""
        self._own: Any = None
        self._idle: list[Any] = []
        """PostgreSQL connections kept for lookups, waiting for the next one."""
        self._kept = 0
        """How many of those are open, idle or in use (at most `IDLE_LOOKUPS`)."""
        self._lock = threading.Lock()
        self._closer = False
        weakref.finalize(self, _close_all, self._idle)
        with self._datastore.transaction(commit=True) as c:
            self._storage.creating_tables(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (name TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL UNIQUE, "
                "scopes TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"
            )

    def create(self, name: str, scopes: set[Scope], at: datetime) -> str:
        """Keep a new token's hash and return its secret, which is never seen again; names are unique for good."""
        if not NAME.fullmatch(name):
            msg = f"a token name is one line of 1 to 100 characters, not {name!r}"
            raise InvalidFact(msg)
        if not scopes:
            msg = f"give the token {name!r} at least one scope: {', '.join(Scope)}"
            raise InvalidFact(msg)
        if self.token(name) is not None:
            msg = f"a token named {name!r} exists (revoked names are not reused: events keep them); choose another"
            raise InvalidFact(msg)
        secret = secrets.token_urlsafe(32)
        listed = " ".join(sorted(scopes))
        with self._datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self.table} (name, secret_sha256, scopes, created_at) "  # noqa: S608  (our own table name; values are bound)
                f"VALUES ({self._p}, {self._p}, {self._p}, {self._p}) ON CONFLICT (name) DO NOTHING RETURNING name",
                (name, digest(secret), listed, at.isoformat()),
            )
            created = c.fetchone()
        if created is None:
            msg = f"a token named {name!r} was created at the same moment by another process; choose another"
            raise InvalidFact(msg)
        return secret

    def authenticate(self, secret: str) -> Token | None:
        """The token this secret belongs to, unless it is unknown or revoked (one indexed SELECT, no cache)."""
        query = (
            f"SELECT name, scopes, created_at FROM {self.table} "  # noqa: S608  (our own table name; values are bound)
            f"WHERE secret_sha256 = {self._p} AND revoked_at IS NULL"
        )
        reader = self._reader()
        if reader is not None:
            row = reader.execute(query, (digest(secret),)).fetchone()
        elif not self.local and (kept := self._looked_up(query, digest(secret))) is not None:
            row = kept[0]
        else:
            with self._datastore.transaction(commit=False) as c:
                c.execute(query, (digest(secret),))
                row = c.fetchone()
        return None if row is None else _token(row)

    def _looked_up(self, query: str, hashed: str) -> tuple[tuple[object, ...] | None] | None:
        """One lookup in PostgreSQL on a kept connection: one round trip of a prepared statement.

        Through the shared pool a lookup cost a checkout and three round trips (BEGIN, the
        SELECT, ROLLBACK). In autocommit mode the SELECT is its own transaction and sees every
        commit, so a revocation from any process still holds at once. A connection that failed
        is closed, never reused. With `IDLE_LOOKUPS` lookups already in flight, None: the
        caller uses the shared pool rather than open and close a connection per request.
        """
        with self._lock:
            connection = self._idle.pop() if self._idle else None
            if connection is None and self._kept >= IDLE_LOOKUPS:
                return None
            if connection is None:
                self._kept += 1
                if self._kept == 1 and not self._closer:  # close the kept connections when the ledger closes
                    self._closer = True
                    threading.Thread(
                        target=_close_at, args=(self.ledger.closing, self._idle, self._lock), daemon=True
                    ).start()
        if connection is None:
            try:
                connection = self._storage.connect()
            except BaseException:
                with self._lock:
                    self._kept -= 1
                raise
        try:
            row = connection.execute(query, (hashed,), prepare=True).fetchone()
        except BaseException:
            with self._lock:
                self._kept -= 1
            with contextlib.suppress(Exception):
                connection.close()
            raise
        with self._lock:
            self._idle.append(connection)
        return (row,)

    def _reader(self) -> Any:
        """A connection of its own for lookups in a SQLite file (None elsewhere), opened on first use.

        Every request is authenticated, and through the shared pool a lookup cost a pooled
        connection, a BEGIN and a ROLLBACK around its one SELECT: several times the query. In
        autocommit mode the SELECT is its own read transaction and sees every commit, so a
        revocation from any process still holds at once.
        """
        if not self.local or self._storage.in_memory:
            return None
        if self._own is None:
            self._own = self._storage.connect()
            weakref.finalize(self, self._own.close)
        return self._own

    def token(self, name: str) -> Token | None:
        """The token of this name, revoked or not."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT name, scopes, created_at, revoked_at FROM {self.table} WHERE name = {self._p}",  # noqa: S608  (our own table name; values are bound)
                (name,),
            )
            row = c.fetchone()
        return None if row is None else _token(row)

    def tokens(self) -> list[Token]:
        """Every token ever created, by name: the revoked ones too, since events still name them."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT name, scopes, created_at, revoked_at FROM {self.table} ORDER BY name")  # noqa: S608  (our own table name)
            rows = c.fetchall()
        return [_token(row) for row in rows]

    def revoke(self, name: str, at: datetime) -> None:
        """Revoke the token at once, for every process; revoking one already revoked is refused."""
        with self._datastore.transaction(commit=True) as c:
            c.execute(
                f"UPDATE {self.table} SET revoked_at = {self._p} WHERE name = {self._p} AND revoked_at IS NULL "  # noqa: S608  (our own table name; values are bound)
                "RETURNING name",
                (at.isoformat(), name),
            )
            revoked = c.fetchone()
        if revoked is None:
            known = self.token(name)
            msg = f"no token is named {name!r}"
            if known is not None:
                msg = f"the token {name!r} was already revoked at {known.revoked_at}"
            raise InvalidFact(msg)


def _close_at(closing: threading.Event, connections: list[Any], lock: Any) -> None:
    """Once the ledger is closed, close the lookup connections its store kept (none are taken after that)."""
    closing.wait()
    with lock:
        _close_all(connections)


def _close_all(connections: list[Any]) -> None:
    """Close kept lookup connections (when the ledger closes, or when the store is collected)."""
    while connections:
        with contextlib.suppress(Exception):
            connections.pop().close()


def _token(row: Sequence[object] | dict[str, object]) -> Token:
    """A row as a `Token`, whether the driver hands over tuples (SQLite) or dicts (psycopg)."""
    values = tuple(row.values()) if isinstance(row, dict) else tuple(row)
    name, scopes, created_at, *rest = values
    revoked_at = str(rest[0]) if rest and rest[0] is not None else None
    return Token(str(name), frozenset(Scope(s) for s in str(scopes).split()), str(created_at), revoked_at)
