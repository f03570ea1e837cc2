"""Who read which subject's data, when, through which route, and for which declared purpose.

The Kazakh protection rules for personal data ask the operator to log the actions of users on
personal data, so every read of one subject's data through the API leaves a row here, which
auditors query (`GET /v1/access-log`).

It is a table of its own, not events in the ledger's log: reads outnumber writes many times
over, and putting them in the event log would make the proof-bearing history of facts (its
Merkle tree, its exports, the change feed, every projection) grow and slow with traffic that
changes no fact. The table is append-only: the API has no way to change or delete a row, and
the database refuses UPDATE and DELETE on it (a trigger on each backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ledger.storage import creating_tables

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ledger.application import ConsentLedger


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
        self._datastore: Any = ledger.recorder.datastore  # type: ignore[attr-defined]
        postgres = ledger.backend == "postgres"
        schema = getattr(self._datastore, "schema", None) if postgres else None
        prefix = f'"{schema}".' if schema else ""
        self.table = f"{prefix}access_log"
        self._p = "%s" if postgres else "?"
        number = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        with self._datastore.transaction(commit=True) as c:
            creating_tables(c, ledger.backend)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (number {number}, at TEXT NOT NULL, caller TEXT NOT NULL, "
                "subject_id TEXT NOT NULL, route TEXT NOT NULL, purpose TEXT NOT NULL)"
            )
            c.execute(f"CREATE INDEX IF NOT EXISTS access_log_by_subject ON {self.table} (subject_id, at)")
            c.execute(f"CREATE INDEX IF NOT EXISTS access_log_by_time ON {self.table} (at)")
            if postgres:
                c.execute(
                    f"CREATE OR REPLACE FUNCTION {prefix}access_log_is_append_only() RETURNS trigger "
                    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$"
                )
                c.execute(
                    f"CREATE OR REPLACE TRIGGER access_log_is_append_only BEFORE UPDATE OR DELETE ON {self.table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {prefix}access_log_is_append_only()"
                )
            else:
                for action in ("UPDATE", "DELETE"):
                    c.execute(
                        f"CREATE TRIGGER IF NOT EXISTS access_log_no_{action.lower()} BEFORE {action} ON {self.table} "
                        "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END"
                    )

    def record(self, *, at: datetime, caller: str, subject_id: str, route: str, purpose: str) -> None:
        """Append one read; the request fails if this fails, so no data leaves without its row."""
        with self._datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self.table} (at, caller, subject_id, route, purpose) "  # noqa: S608  (our own table name; values are bound)
                f"VALUES ({self._p}, {self._p}, {self._p}, {self._p}, {self._p})",
                (_stamp(at), caller, subject_id, route, purpose),
            )

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
        return int(row["n"] if isinstance(row, dict) else row[0])


def _access(row: Sequence[object] | dict[str, object]) -> Access:
    """A row as an `Access`, whether the driver hands over tuples (SQLite) or dicts (psycopg)."""
    number, at, caller, subject_id, route, purpose = tuple(row.values()) if isinstance(row, dict) else tuple(row)
    when = datetime.fromisoformat(str(at))
    return Access(int(str(number)), when, str(caller), str(subject_id), str(route), str(purpose))
