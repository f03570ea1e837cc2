"""Subject keys in a table beside the events: what `ledger.sealing` wraps and crypto-shredding deletes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from ledger.storage.seam import CHUNK, Storage

if TYPE_CHECKING:
    from collections.abc import Collection


class SqlKeyStore:
    """Subject keys in a table beside the events, on the recorder's own datastore."""

    def __init__(self, storage: Storage) -> None:
        """Keep the keys on `storage`'s datastore; create the table on first use."""
        self._storage = storage
        self._datastore = self._storage.datastore
        self._table = self._storage.qualify("subject_keys")
        self._p = self._storage.placeholder
        with self._datastore.transaction(commit=True) as c:
            self._storage.creating_tables(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table} "
                f"(subject_id TEXT PRIMARY KEY, wrapped_key {self._storage.blob} NOT NULL)"
            )

    def wrapped_key(self, subject: UUID) -> bytes | None:
        """The stored wrapped key, if any."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT wrapped_key FROM {self._table} WHERE subject_id = {self._p}", (subject.hex,))
            row = c.fetchone()
        return None if row is None else bytes(row["wrapped_key"])

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
            for start in range(0, len(ids), CHUNK):
                among, params = self._storage.among(ids[start : start + CHUNK])
                statement = f"SELECT subject_id, wrapped_key FROM {self._table} WHERE subject_id {among}"
                c.execute(statement.replace("?", self._p), params)
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
        return None if row is None else (UUID(row["subject_id"]), bytes(row["wrapped_key"]))

    def destroy_key(self, subject: UUID) -> None:
        """Replace the key by an empty tombstone and scrub the freed bytes from the database files.

        The tombstone (not a deleted row) is what stops a writer racing the destruction from
        creating the subject a fresh key: `add_key_if_absent` finds the row and leaves it empty.
        """
        with self._datastore.transaction(commit=True) as c:
            self._storage.erasing(c)
            c.execute(
                f"INSERT INTO {self._table} (subject_id, wrapped_key) VALUES ({self._p}, {self._p}) "
                "ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = excluded.wrapped_key",
                (subject.hex, b""),
            )
        self._storage.scrub(self._table)
