"""What a database error means: the database is out of reach for now, it is full, or something of ours is wrong.

Callers above the seam see `StorageUnavailable` and `StorageFull` (domain errors, in
`ledger.errors`) rather than a driver's exceptions, so the HTTP edge needs no driver to answer
503 or 507; an error that means neither (a missing table, a bug) is left as it is, a fault.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
from eventsourcing import persistence as es

from ledger.errors import LedgerError, StorageFull, StorageUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

DRIVER_ERRORS: tuple[type[Exception], ...] = (es.PersistenceError, sqlite3.Error, psycopg.Error)
"""Every error a database call can raise that is not one of ours: what `translated` is asked about."""

OPENING_ERRORS: tuple[type[Exception], ...] = (OSError, *DRIVER_ERRORS)
"""What opening a database can raise besides: a file or folder that cannot be made or read."""

SQLITE_UNAVAILABLE = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY}
)
"""SQLite's primary result codes for a file it cannot use now; the others (no such table...) are faults of ours."""


def translated(error: BaseException) -> LedgerError | None:
    """The availability error a database error stands for, or None when it is a fault (a bug, a missing table).

    Looks through the exceptions `eventsourcing` wraps a driver's in. Full storage is told apart
    from an unreachable database: the first needs an operator to free space, the second may clear
    by itself.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, LedgerError):
            return cause
        if isinstance(cause, sqlite3.Error):
            return _sqlite_error(cause)
        if isinstance(cause, psycopg.Error):
            return _postgres_error(cause)
        if isinstance(cause, OSError) and cause.errno == 28:  # noqa: PLR2004  (ENOSPC)
            return StorageFull("the ledger's disk is full")
        if cause.__cause__ is None and isinstance(cause, (es.OperationalError, es.InterfaceError)):
            return StorageUnavailable(f"the ledger's database gave up on the request: {_first_line(cause)}")
        cause = cause.__cause__
    return None


SQLITE_UNAVAILABLE_WORDS = ("unable to open", "disk I/O error", "database is locked", "readonly database")
"""The same, in words: errors made before a statement ran (opening the file) carry no result code."""


def _sqlite_error(error: sqlite3.Error) -> LedgerError | None:
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(error)
    if primary == sqlite3.SQLITE_FULL or "database or disk is full" in text:
        return StorageFull("the ledger's disk is full")
    if primary in SQLITE_UNAVAILABLE or any(words in text for words in SQLITE_UNAVAILABLE_WORDS):
        return StorageUnavailable(f"the ledger's database file cannot be used now: {_first_line(error)}")
    return None


def _postgres_error(error: psycopg.Error) -> LedgerError | None:
    if isinstance(error, psycopg.errors.DiskFull):
        return StorageFull("the ledger's database server's disk is full")
    if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
        return StorageUnavailable(f"the ledger's database did not answer: {_first_line(error)}")
    return None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


@contextmanager
def translating() -> Iterator[None]:
    """Raise a database error as the `StorageUnavailable` or `StorageFull` it stands for (faults unchanged)."""
    try:
        yield
    except DRIVER_ERRORS as e:
        meaning = translated(e)
        if meaning is None or meaning is e:
            raise
        raise meaning from e
