"""Where the ledger keeps its events and its own tables: a SQLite file, or PostgreSQL, behind one seam.

One URL chooses the backend (`sqlite:///var/ledger.db`, `postgresql://user@host/db?schema=s`).
Events go through the `eventsourcing` recorders; the tables of our own (subject keys, tokens,
the access log, the audit tree, the view) use the same datastore and connection pool, so a
deployment has exactly one place to point at.

Everything that differs between the two databases lives in this package, behind `Storage` and
its two subclasses (as the view does with `SQLiteLedgerView` and `PostgresLedgerView`):
placeholders, column types, table names, how a statement reads many ids, how tables are created
by processes starting at once, how an erased key is scrubbed from the files (`seam`), what a
driver's error means (`errors`: `StorageUnavailable` or `StorageFull`, so no caller above needs
a driver), and eventsourcing's datastores and recorders adapted: every wait bounded, tables created by one
process at a time (`postgres`, `sqlite`). `ledger.application` tells the backends apart by
its recorder's module name, so the PostgreSQL one stays in a module named `postgres`.
Every wait on the database is bounded by `Database.timeout`.
"""

from ledger.storage.errors import DRIVER_ERRORS, OPENING_ERRORS, translated, translating
from ledger.storage.keys import SqlKeyStore
from ledger.storage.postgres import BoundedPostgresFactory, SerialisedCreation
from ledger.storage.seam import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    SCHEMA_LOCK,
    Database,
    DatabaseUrlError,
    PostgresStorage,
    SQLiteStorage,
    Storage,
)
from ledger.storage.sqlite import SQLiteSerialisedCreation

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "DRIVER_ERRORS",
    "OPENING_ERRORS",
    "SCHEMA_LOCK",
    "BoundedPostgresFactory",
    "Database",
    "DatabaseUrlError",
    "PostgresStorage",
    "SQLiteSerialisedCreation",
    "SQLiteStorage",
    "SerialisedCreation",
    "SqlKeyStore",
    "Storage",
    "translated",
    "translating",
]
