"""The SQLite recorders of eventsourcing, adapted so that processes starting at once create their tables in turn."""

from __future__ import annotations

from typing import Any

from eventsourcing import persistence as es

from ledger.storage.seam import SQLiteStorage


class SQLiteSerialisedCreation:
    """A SQLite recorder whose tables are created as one writer, looking again if a twin got there first.

    eventsourcing's tracking recorder looks for its migration row, then records it in a later
    transaction: a process starting at the same moment can record it in between. The transaction
    that creates takes the write lock first (`SQLiteStorage.creating_tables`); a recorder that
    lost the race looks again, and finds everything made.
    """

    datastore: Any

    def _create_table(self, cursor: Any) -> None:
        """Take the write lock before the first statement, so that a twin waits instead of failing."""
        SQLiteStorage(self.datastore).creating_tables(cursor)
        super()._create_table(cursor)  # type: ignore[misc]

    def create_table(self) -> None:
        """The recorder's own `create_table`, once more if a process starting beside it won."""
        try:
            super().create_table()  # type: ignore[misc]
        except es.IntegrityError:
            super().create_table()  # type: ignore[misc]
