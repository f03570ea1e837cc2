"""The materialised view: indexed tables plus tracking, one implementation per backend.

The SQL is shared; only placeholders, table qualification and how each backend's tracking
recorder creates its tables differ. Every write method runs in one transaction with the
tracking record of the event it reflects, so a view row exists exactly when its position does.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from ledger import history
from ledger.storage import PostgresStorage, SerialisedCreation, SQLiteSerialisedCreation, SQLiteStorage, Storage
from ledger.terms import Actor, ConsentMethod, Language
from projections import verdicts
from projections.codec import dump, load_entry, load_terms, utc_text

if TYPE_CHECKING:
    from uuid import UUID

TABLES = {
    "policy_versions": (
        "policy_id TEXT NOT NULL, version TEXT NOT NULL, effective_from TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, terms TEXT NOT NULL, PRIMARY KEY (policy_id, version)"
    ),
    "subject_entries": (
        "subject_id TEXT NOT NULL, number INTEGER NOT NULL, kind TEXT NOT NULL, occurred_at TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, entry TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (subject_id, number)"
    ),
    "disclosures": (
        "subject_id TEXT NOT NULL, number INTEGER NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, "
        "recipient TEXT NOT NULL, recipient_category TEXT NOT NULL, purpose TEXT NOT NULL, ground TEXT NOT NULL, "
        "reference TEXT NOT NULL, legal_basis TEXT NOT NULL, flagged_while_blocked INTEGER NOT NULL, "
        "data_categories TEXT NOT NULL, PRIMARY KEY (subject_id, number)"
    ),
    "deadlines": (
        "deadline_id TEXT PRIMARY KEY, obligation TEXT NOT NULL, subject_id TEXT, reference TEXT NOT NULL, "
        "triggered_at TEXT NOT NULL, due_at TEXT NOT NULL, recorded_at TEXT NOT NULL, "
        "met_at TEXT, met_by TEXT, met_recorded_at TEXT"
    ),
    "names": "aggregate_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL",
    "breach_subjects": (
        "breach_id TEXT NOT NULL, breach_ref TEXT NOT NULL, subject_id TEXT NOT NULL, found_at TEXT NOT NULL, "
        "told_at TEXT, PRIMARY KEY (breach_id, subject_id)"
    ),
    "standing_consents": (
        "subject_id TEXT NOT NULL, policy_id TEXT NOT NULL, occurred_from TEXT NOT NULL, occurred_to TEXT NOT NULL, "
        "recorded_from TEXT NOT NULL, recorded_to TEXT NOT NULL, number INTEGER NOT NULL, purposes TEXT NOT NULL, "
        "acceptance TEXT NOT NULL, PRIMARY KEY (subject_id, policy_id, recorded_from, occurred_from)"
    ),
    "disclosure_grants": (
        "subject_id TEXT NOT NULL, grant_key TEXT NOT NULL, occurred_from TEXT NOT NULL, occurred_to TEXT NOT NULL, "
        "recorded_from TEXT NOT NULL, recorded_to TEXT NOT NULL, purposes TEXT NOT NULL, "
        "PRIMARY KEY (subject_id, grant_key, recorded_from, occurred_from)"
    ),
}
JUDGED_TABLES = ("standing_consents", "disclosure_grants")
"""The pre-judged answers (projections/verdicts.py), rewritten per subject when a judged fact arrives."""
INDEXES = {
    "policy_versions_effective": "policy_versions (policy_id, effective_from)",
    "disclosures_time": "disclosures (subject_id, occurred_at)",
    "deadlines_due": "deadlines (due_at)",
    "deadlines_open": "deadlines (met_at, due_at)",
    "breach_subjects_untold": "breach_subjects (told_at, breach_id)",
}


@dataclass(frozen=True)
class DeadlineRow:
    """One obligation an event started, as the view keeps it."""

    deadline_id: str
    obligation: str
    subject_id: str | None
    reference: str
    triggered_at: datetime
    due_at: datetime
    recorded_at: datetime
    met_at: datetime | None
    met_by: str | None


@dataclass(frozen=True)
class DisclosureRow:
    """One disclosure of a subject's data, as the view keeps it."""

    number: int
    occurred_at: datetime
    recorded_at: datetime
    recipient: str
    recipient_category: str
    purpose: str
    ground: str
    reference: str
    legal_basis: str
    flagged_while_blocked: bool
    data_categories: list[str]


class LedgerView(TrackingRecorder):
    """Writes and reads the view tables of one generation; backend subclasses supply the SQL details.

    A generation is a complete set of view tables with its own tracking name. Rebuilding
    fills a new generation from position 0 while readers keep using the current one, then
    moves the pointer in `cl_current_view`; the previous generation is dropped at the next rebuild.
    """

    datastore: Any
    placeholder = "?"
    generation = 0
    refresh_interval = 1.0
    """How often (seconds) a long-lived view checks whether a rebuild moved the pointer."""

    def bind(self, generation: int, *, indexed: bool = True) -> LedgerView:
        """Point this view at one generation's tables, creating them if missing.

        `indexed=False` leaves out the secondary indexes (a generation being filled that nobody
        reads yet: building each index once at the end costs less than keeping it up row by row).
        """
        with self.datastore.transaction(commit=True) as c:
            self.storage.creating_tables(c)
            for statement in self._create_statements(generation, indexed=indexed):
                c.execute(statement)
        self.generation = generation
        if not hasattr(self, "switching"):
            self.switching = threading.RLock()  # made once: a rebind must not swap the lock a keeper holds
            self._idle: list[Any] = []
            self._idle_lock = threading.Lock()
            weakref.finalize(self, _close_all, self._idle)  # a view nobody closes still closes its connections
            self._terms: dict[tuple[str, str], history.PolicyVersionTerms] = {}
        self._checked_at = monotonic()
        self._prepare_questions()
        if self._judgements_missing():
            self.backfill_judgements()
        return self

    def _prepare_questions(self) -> None:
        """The two point-in-time questions' SQL for this generation, made once per bind."""
        standing, versions = self.table("standing_consents"), self.table("policy_versions")
        self._standing_sql = self._sql(
            f"SELECT (SELECT version FROM {versions} WHERE policy_id = ? AND effective_from <= ? AND recorded_at <= ? "
            "ORDER BY effective_from DESC, recorded_at DESC LIMIT 1), s.purposes, s.acceptance "
            f"FROM (SELECT 1 AS one) AS q LEFT JOIN {standing} s ON s.subject_id = ? AND s.policy_id = ? "
            "AND s.occurred_from <= ? AND s.occurred_to > ? AND s.recorded_from <= ? AND s.recorded_to > ?"
        )
        self._grant_sql = self._sql(
            f"SELECT grant_key, purposes FROM {self.table('disclosure_grants')} WHERE subject_id = ? "
            "AND grant_key IN (?, '*') AND occurred_from <= ? AND occurred_to > ? "
            "AND recorded_from <= ? AND recorded_to > ? LIMIT 1"  # a block and a grant never overlap (verdicts.py)
        )

    def _judgements_missing(self) -> bool:
        """Whether this generation has entries but no pre-judged rows: it was built before they existed."""
        judged = self._rows(f"SELECT 1 FROM {self.table('standing_consents')} LIMIT 1", ())
        if judged:
            return False
        return bool(self._rows(f"SELECT 1 FROM {self.table('subject_entries')} WHERE kind = 'Acceptance' LIMIT 1", ()))

    def backfill_judgements(self) -> None:
        """Judge every subject's entries once (a generation built by a version without pre-judged rows).

        Idempotent: each subject's rows are replaced in one transaction, so a second run or a
        racing process ends with the same rows.
        """
        versions = {(v.policy_id, v.version): v for v in self.policy_versions(self.names_of_kind("policy"))}
        log.warning("view generation %s predates pre-judged answers: judging every subject once", self.generation)
        for done, (subject_hex, numbered) in enumerate(self.subject_records(), start=1):
            if done % BACKFILL_REPORT_EVERY == 0:
                log.warning("judged %s subjects of view generation %s", done, self.generation)
            judged = [e for _, e in numbered if isinstance(e, verdicts.JUDGED)]
            if not judged:
                continue
            with self.datastore.transaction(commit=True) as c:
                for statement, params in self.put_judgements(subject_hex, verdicts.judge(judged, versions), None):
                    c.execute(self._sql(statement), params)

    def ensure_pointer(self) -> None:
        """Create the pointer to the current generation (generation 0 at first)."""
        pointer = self.qualify("cl_current_view")
        with self.datastore.transaction(commit=True) as c:
            self.storage.creating_tables(c)  # processes starting together on a new schema take turns
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {pointer} (singleton INTEGER PRIMARY KEY, generation INTEGER NOT NULL)"
            )
            c.execute(self._sql(f"INSERT INTO {pointer} VALUES (1, 0) ON CONFLICT DO NOTHING"))

    def follow_pointer(self) -> None:
        """Move to the current generation if a rebuild swapped it in (checked at most once a second)."""
        if monotonic() - self._checked_at < self.refresh_interval:
            return
        with self.switching:
            current = self.current_generation()
            self._checked_at = monotonic()
            if current != self.generation:
                self.bind(current)

    @property
    def prefix(self) -> str:
        """The table-name prefix of this generation."""
        return f"cl{self.generation}_"

    @property
    def tracking_name(self) -> str:
        """The name this generation tracks its position under."""
        return f"ConsentLedger/view{self.generation}"

    @property
    def storage(self) -> Storage:
        """What differs between the backends, for this view's datastore."""
        return Storage.of(self.datastore)

    def qualify(self, name: str) -> str:
        """A table name, qualified for the backend."""
        return self.storage.qualify(name)

    def table(self, name: str) -> str:
        """The name of one of this generation's tables."""
        return self.qualify(f"{self.prefix}{name}")

    def create_indexes(self) -> None:
        """Create this generation's secondary indexes if missing (before readers are pointed at it)."""
        with self.datastore.transaction(commit=True) as c:
            for statement in self._create_statements(self.generation)[len(TABLES) :]:
                c.execute(statement)

    def _create_statements(self, generation: int, *, indexed: bool = True) -> list[str]:
        """CREATE statements for one generation's tables, then its indexes."""
        prefix = f"cl{generation}_"
        statements = [f"CREATE TABLE IF NOT EXISTS {self.qualify(prefix + n)} ({cols})" for n, cols in TABLES.items()]
        for name, target in INDEXES.items() if indexed else ():
            table, columns = target.split(" ", 1)
            statements.append(f"CREATE INDEX IF NOT EXISTS {prefix}{name} ON {self.qualify(prefix + table)} {columns}")
        return statements

    def drop_generation(self, generation: int) -> None:
        """Drop an old generation's tables (never the current one)."""
        if generation == self.current_generation():
            msg = "the current generation of the view cannot be dropped"
            raise ValueError(msg)
        with self._dropping() as c:
            for name in TABLES:
                c.execute(f"DROP TABLE IF EXISTS {self.qualify(f'cl{generation}_{name}')}")

    def _dropping(self) -> contextlib.AbstractContextManager[Any]:
        """The transaction that drops an old generation."""
        dropping: contextlib.AbstractContextManager[Any] = self.datastore.transaction(commit=True)
        return dropping

    def current_generation(self) -> int:
        """The generation readers should use, as the pointer says now."""
        rows = self._rows(f"SELECT generation FROM {self.qualify('cl_current_view')} WHERE singleton = 1", ())
        return int(rows[0]["generation"])

    def make_current(self) -> None:
        """Point readers at this generation."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self._sql(f"UPDATE {self.qualify('cl_current_view')} SET generation = ? WHERE singleton = 1"),
                (self.generation,),
            )

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.placeholder)

    def record(self, tracking: Tracking, writes: Iterable[tuple[str, Sequence[object]]]) -> None:
        """Apply the rows one event (or a batch) implies, and its tracking record, in one transaction.

        INSERTs are collected per statement and sent with one `executemany` each; an UPDATE or
        DELETE first sends the INSERTs before it into its own table, so each statement sees the
        rows it would have seen one by one (statements on different tables, and INSERTs in their
        own order, commute).
        """
        with self._writing() as c:
            pending: Pending = {}
            with self._sending(c):
                self._send(c, writes, pending)
            self._insert_all(c, pending)
            self._insert_tracking(c, tracking)  # type: ignore[attr-defined]

    def _send(self, c: Any, writes: Iterable[tuple[str, Sequence[object]]], pending: Pending) -> None:
        """Send the UPDATEs and DELETEs (and the INSERTs they must see); leave the other INSERTs in `pending`."""
        for statement, params in writes:
            if statement.startswith("INSERT"):
                rows = pending.get(statement)
                if rows is None:
                    rows = pending[statement] = []
                rows.append(params)
                continue
            table = _table_of(statement)
            for waiting in [s for s in pending if _table_of(s) == table]:
                c.executemany(self._sql(waiting), pending.pop(waiting))
            c.execute(self._sql(statement), params)

    def _sending(self, c: Any) -> contextlib.AbstractContextManager[object]:
        """Where the statements of one batch go out (PostgreSQL: one pipeline, not a round trip each)."""
        del c
        return contextlib.nullcontext()

    def _insert_all(self, c: Any, pending: Pending) -> None:
        """Send the INSERTs no later statement of the batch has to see."""
        _flush(c, pending, self._sql)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        """A write transaction that need not wait for the disk.

        A crash can lose only the newest batches, their rows and tracking record together (never
        one without the other), and the keeper then applies them again: the view is derived data.
        """
        with self.datastore.transaction(commit=True) as c:
            yield c

    def _rows(self, statement: str, params: Sequence[object]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._sql(statement), params)
            return list(c.fetchall())

    def _connect(self) -> Any:
        """A connection of the view's own for the hot questions (autocommit, statements cached)."""
        raise NotImplementedError

    def _ask(self, statement: str, params: Sequence[object]) -> Any:
        """The first row of one read-only statement, on a reused connection (no pool checkout, no BEGIN).

        Each statement runs in its own implicit transaction, so it reads one consistent snapshot.
        A connection that failed is dropped, never reused: the next question opens a fresh one.
        """
        with self._idle_lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
        try:
            row = connection.execute(statement, params).fetchone()
        except BaseException:
            with contextlib.suppress(Exception):
                connection.close()
            raise
        with self._idle_lock:
            if len(self._idle) < IDLE_READERS:
                self._idle.append(connection)
                connection = None
        if connection is not None:
            connection.close()
        return row

    def _answer(self, statement: str, params: Sequence[object]) -> Any:
        """`_ask` one of the prepared questions; once more on the new generation if a rebuild swapped it.

        A reader that checked the pointer just before a rebuild swapped it, and asks just after the
        next rebuild dropped the old tables, would find them gone: it follows the pointer and asks again.
        """
        try:
            return self._ask(getattr(self, statement), params)
        except Exception:
            with self.switching:
                current = self.current_generation()
                if current == self.generation:
                    raise
                self.bind(current)
        return self._ask(getattr(self, statement), params)

    def close_readers(self) -> None:
        """Close the question connections (a later question opens new ones)."""
        with self._idle_lock:
            _close_all(self._idle)

    def terms(self, policy_id: str, version: str) -> history.PolicyVersionTerms | None:
        """One published version's terms; kept in memory once seen, as published terms never change."""
        key = (policy_id, version)
        found = self._terms.get(key)
        if found is None:
            rows = self._rows(
                f"SELECT terms FROM {self.table('policy_versions')} WHERE policy_id = ? AND version = ?", key
            )
            if not rows:
                return None
            found = self._terms[key] = load_terms(rows[0]["terms"])
        return found

    def standing(
        self, subject_hex: str, policy_id: str, at: datetime, as_known_at: datetime | None
    ) -> tuple[str | None, frozenset[str] | None, history.Acceptance | None]:
        """In one lookup: the version in effect at `at`, and the acceptance standing then with its purposes."""
        moment, known = utc_text(at), NOW_TEXT if as_known_at is None else utc_text(as_known_at)
        in_effect, purposes, entry = self._answer(
            "_standing_sql", (policy_id, moment, known, subject_hex, policy_id, moment, moment, known, known)
        )
        if entry is None:
            return in_effect, None, None
        return in_effect, frozenset(orjson.loads(purposes)), load_acceptance(entry)

    def grant(
        self, subject_hex: str, category: str, purpose: str, at: datetime, as_known_at: datetime | None
    ) -> tuple[str, str] | None:
        """In one lookup: the ground and basis allowing a disclosure, ("", "") if blocked, None if neither."""
        moment, known = utc_text(at), NOW_TEXT if as_known_at is None else utc_text(as_known_at)
        row = self._answer("_grant_sql", (subject_hex, category, moment, moment, known, known))
        if row is None:
            return None
        if row[0] == verdicts.BLOCKED:
            return ("", "")
        found: list[str] | None = orjson.loads(row[1]).get(purpose)
        return None if found is None else (found[0], found[1])

    # Writes (statements for `record`).

    def put_policy_version(self, terms: history.PolicyVersionTerms) -> tuple[str, Sequence[object]]:
        """Keep a published version's terms."""
        return (
            f"INSERT INTO {self.table('policy_versions')} VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (terms.policy_id, terms.version, utc_text(terms.effective_from), utc_text(terms.recorded_at), dump(terms)),
        )

    def put_entry(self, subject: UUID, entry: history.Entry, position: int) -> tuple[str, Sequence[object]]:
        """Keep one entry of a subject's record, with its position in the log (for audit reports)."""
        return (
            f"INSERT INTO {self.table('subject_entries')} VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                subject.hex,
                entry.number,
                type(entry).__name__,
                utc_text(entry.occurred_at),
                utc_text(entry.recorded_at),
                dump(entry),
                position,
            ),
        )

    def put_disclosure(
        self, subject: UUID, entry: history.Disclosure, legal_basis: str
    ) -> tuple[str, Sequence[object]]:
        """Keep one disclosure for range queries."""
        return (
            f"INSERT INTO {self.table('disclosures')} VALUES ({', '.join('?' * 12)}) ON CONFLICT DO NOTHING",
            (
                subject.hex,
                entry.number,
                utc_text(entry.occurred_at),
                utc_text(entry.recorded_at),
                entry.recipient,
                str(entry.recipient_category),
                entry.purpose,
                str(entry.ground),
                entry.reference,
                legal_basis,
                int(entry.flagged_while_blocked),
                dump(sorted(entry.data_categories)),
            ),
        )

    def put_deadline(self, row: DeadlineRow) -> tuple[str, Sequence[object]]:
        """Keep an obligation an event started."""
        return (
            (
                f"INSERT INTO {self.table('deadlines')} VALUES ({', '.join('?' * 7)}, NULL, NULL, NULL) "
                "ON CONFLICT DO NOTHING"
            ),
            (
                row.deadline_id,
                row.obligation,
                row.subject_id,
                row.reference,
                utc_text(row.triggered_at),
                utc_text(row.due_at),
                utc_text(row.recorded_at),
            ),
        )

    def meet_deadline(
        self, deadline_id: str, met_at: datetime, met_by: str, recorded_at: datetime
    ) -> tuple[str, Sequence[object]]:
        """Mark an obligation met by a later fact (the first such fact counts)."""
        return (
            (
                f"UPDATE {self.table('deadlines')} SET met_at = ?, met_by = ?, met_recorded_at = ? "
                "WHERE deadline_id = ? AND met_at IS NULL"
            ),
            (utc_text(met_at), met_by, utc_text(recorded_at), deadline_id),
        )

    def drop_deadline(self, deadline_id: str) -> tuple[str, Sequence[object]]:
        """Forget an obligation whose triggering fact was struck out: it never arose."""
        return (f"DELETE FROM {self.table('deadlines')} WHERE deadline_id = ?", (deadline_id,))

    def put_name(self, aggregate_id: object, kind: str, name: str) -> tuple[str, Sequence[object]]:
        """Remember the operator's name (subject id, policy id, reference) of an aggregate."""
        return (
            f"INSERT INTO {self.table('names')} VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (str(aggregate_id), kind, name),
        )

    def name_of(self, aggregate_id: object) -> str:
        """The operator's name of an aggregate the view has seen created."""
        rows = self._rows(f"SELECT name FROM {self.table('names')} WHERE aggregate_id = ?", (str(aggregate_id),))
        if not rows:
            msg = f"the view has not seen aggregate {aggregate_id} created; it is behind or was built out of order"
            raise LookupError(msg)
        name: str = rows[0]["name"]
        return name

    def names_of_kind(self, kind: str) -> list[str]:
        """The operator's names of every aggregate of one kind (e.g. every policy id)."""
        rows = self._rows(f"SELECT name FROM {self.table('names')} WHERE kind = ? ORDER BY name", (kind,))
        return [r["name"] for r in rows]

    def put_breach_subject(
        self, breach: UUID, breach_ref: str, subject_id: str, found_at: datetime
    ) -> tuple[str, Sequence[object]]:
        """Keep one affected subject of a breach, not yet told."""
        return (
            f"INSERT INTO {self.table('breach_subjects')} VALUES (?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING",
            (breach.hex, breach_ref, subject_id, utc_text(found_at)),
        )

    def tell_breach_subject(self, breach: UUID, subject_id: str, told_at: datetime) -> tuple[str, Sequence[object]]:
        """Mark an affected subject told (the first notice counts)."""
        return (
            (
                f"UPDATE {self.table('breach_subjects')} SET told_at = ? "
                "WHERE breach_id = ? AND subject_id = ? AND told_at IS NULL"
            ),
            (utc_text(told_at), breach.hex, subject_id),
        )

    def put_judgements(
        self,
        subject_hex: str,
        rows: Sequence[verdicts.Standing | verdicts.Grant],
        since: datetime | None,
        *,
        known_later: bool = True,
    ) -> list[tuple[str, Sequence[object]]]:
        """Replace a subject's pre-judged rows known from `since` on (all if None) with `rows`.

        Rows known before `since` stay, closed at `since`: that is what the ledger knew then.
        Unless `known_later` says some row may start at or after `since`, there is none to delete.
        """
        writes: list[tuple[str, Sequence[object]]] = []
        for name in JUDGED_TABLES:
            table = self.table(name)
            if since is None:
                writes.append((f"DELETE FROM {table} WHERE subject_id = ?", (subject_hex,)))
            else:
                cut = utc_text(since)
                if known_later:
                    writes.append(
                        (f"DELETE FROM {table} WHERE subject_id = ? AND recorded_from >= ?", (subject_hex, cut))
                    )
                writes.append(
                    (
                        f"UPDATE {table} SET recorded_to = ? WHERE subject_id = ? AND recorded_to > ?",
                        (cut, subject_hex, cut),
                    )
                )
        writes.extend(self.insert_judgements(subject_hex, rows))
        return writes

    def insert_judgements(
        self, subject_hex: str, rows: Sequence[verdicts.Standing | verdicts.Grant]
    ) -> list[tuple[str, Sequence[object]]]:
        """INSERTs of pre-judged rows (for a subject with none yet, nothing needs replacing)."""
        standing = f"INSERT INTO {self.table('standing_consents')} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        grant = f"INSERT INTO {self.table('disclosure_grants')} VALUES (?, ?, ?, ?, ?, ?, ?)"
        writes: list[tuple[str, Sequence[object]]] = []
        texts: dict[datetime, str] = {}  # the rows of one subject share a handful of moments

        def text(moment: datetime) -> str:
            found = texts.get(moment)
            if found is None:
                found = texts[moment] = utc_text(moment)
            return found

        for r in rows:
            times = (text(r.occurred_from), text(r.occurred_to), text(r.recorded_from), text(r.recorded_to))
            if isinstance(r, verdicts.Standing):
                purposes = dump(sorted(r.purposes))
                writes.append(
                    (standing, (subject_hex, r.policy_id, *times, r.acceptance.number, purposes, dump(r.acceptance)))
                )
            else:
                purposes = dump({p: [ground, basis] for p, ground, basis in r.purposes})
                writes.append((grant, (subject_hex, r.key, *times, purposes)))
        return writes

    # Reads.

    def judged_entries(self, subject: UUID) -> list[history.Entry]:
        """The entries of a subject the pre-judged questions read, in order."""
        kinds = ", ".join(f"'{k.__name__}'" for k in verdicts.JUDGED)
        rows = self._rows(
            f"SELECT kind, entry FROM {self.table('subject_entries')} WHERE subject_id = ? AND kind IN ({kinds}) "
            "ORDER BY number",
            (subject.hex,),
        )
        return [load_entry(r["kind"], r["entry"]) for r in rows]

    def subject_records(self, batch: int = 5000) -> Iterator[tuple[str, list[tuple[int, history.Entry]]]]:
        """Every subject's entries with their log positions, one subject at a time (bounded memory)."""
        after = ("", -1)
        current: tuple[str, list[tuple[int, history.Entry]]] | None = None
        while True:
            rows = self._rows(
                f"SELECT subject_id, number, kind, entry, position FROM {self.table('subject_entries')} "
                "WHERE subject_id > ? OR (subject_id = ? AND number > ?) ORDER BY subject_id, number LIMIT ?",
                (after[0], after[0], after[1], batch),
            )
            for r in rows:
                if current is not None and current[0] != r["subject_id"]:
                    yield current
                    current = None
                if current is None:
                    current = (r["subject_id"], [])
                current[1].append((int(r["position"]), load_entry(r["kind"], r["entry"])))
            if len(rows) < batch:
                if current is not None:
                    yield current
                return
            after = (rows[-1]["subject_id"], int(rows[-1]["number"]))

    def entries(self, subject: UUID) -> list[history.Entry]:
        """Every entry of a subject's record, in order (one indexed range scan)."""
        rows = self._rows(
            f"SELECT kind, entry FROM {self.table('subject_entries')} WHERE subject_id = ? ORDER BY number",
            (subject.hex,),
        )
        return [load_entry(r["kind"], r["entry"]) for r in rows]

    def policy_versions(self, policy_ids: Iterable[str]) -> list[history.PolicyVersionTerms]:
        """Every published version of the given policies."""
        ids = sorted(set(policy_ids))
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self._rows(
            f"SELECT terms FROM {self.table('policy_versions')} WHERE policy_id IN ({marks}) ORDER BY effective_from",
            ids,
        )
        return [load_terms(r["terms"]) for r in rows]

    def disclosures(self, subject: UUID, since: datetime | None, until: datetime | None) -> list[DisclosureRow]:
        """A subject's disclosures that happened in [since, until], in time order."""
        rows = self._rows(
            f"SELECT * FROM {self.table('disclosures')} WHERE subject_id = ? AND occurred_at >= ? AND occurred_at <= ? "
            "ORDER BY occurred_at, number",
            (subject.hex, utc_text(since) if since else "", utc_text(until) if until else "9999"),
        )
        return [
            DisclosureRow(
                number=r["number"],
                occurred_at=datetime.fromisoformat(r["occurred_at"]),
                recorded_at=datetime.fromisoformat(r["recorded_at"]),
                recipient=r["recipient"],
                recipient_category=r["recipient_category"],
                purpose=r["purpose"],
                ground=r["ground"],
                reference=r["reference"],
                legal_basis=r["legal_basis"],
                flagged_while_blocked=bool(r["flagged_while_blocked"]),
                data_categories=list(load_json_list(r["data_categories"])),
            )
            for r in rows
        ]

    def deadlines(
        self, *, at: datetime, open_only: bool, subject_id: str | None = None, limit: int
    ) -> list[DeadlineRow]:
        """Obligations started and known by `at`, by due date; only those not met by `at` if asked."""
        moment = utc_text(at)
        where = ["triggered_at <= ?", "recorded_at <= ?"]
        params: list[object] = [moment, moment]
        if open_only:
            where.append("(met_at IS NULL OR met_at > ?)")
            params.append(moment)
        if subject_id is not None:
            where.append("subject_id = ?")
            params.append(subject_id)
        rows = self._rows(
            f"SELECT * FROM {self.table('deadlines')} WHERE {' AND '.join(where)} ORDER BY due_at, deadline_id LIMIT ?",
            [*params, limit],
        )
        return [_deadline(r) for r in rows]

    def deadline(self, deadline_id: str) -> DeadlineRow | None:
        """One obligation by id."""
        rows = self._rows(f"SELECT * FROM {self.table('deadlines')} WHERE deadline_id = ?", (deadline_id,))
        return _deadline(rows[0]) if rows else None

    def untold_breach_subjects(self) -> dict[tuple[str, str], list[str]]:
        """Breaches (id, reference) with affected subjects not yet told, and who they are."""
        rows = self._rows(
            f"SELECT breach_id, breach_ref, subject_id FROM {self.table('breach_subjects')} WHERE told_at IS NULL "
            "ORDER BY breach_ref, subject_id",
            (),
        )
        found: dict[tuple[str, str], list[str]] = {}
        for r in rows:
            found.setdefault((r["breach_id"], r["breach_ref"]), []).append(r["subject_id"])
        return found

    def position(self) -> int:
        """The log position this generation reflects (0 before the first event)."""
        return self.max_tracking_id(self.tracking_name) or 0

    def wait_for(self, position: int, timeout: float, on_wait: Callable[[], object] | None = None) -> bool:
        """Block until the view reflects `position`, at most `timeout` seconds; True if it does."""
        deadline = monotonic() + timeout
        pause = 0.002
        while self.position() < position:
            if on_wait is not None:
                on_wait()
                if self.position() >= position:
                    return True
            if monotonic() >= deadline:
                return False
            sleep(min(pause, max(0.0, deadline - monotonic())))
            pause = min(pause * 2, 0.1)
        return True


def _close_all(connections: list[Any]) -> None:
    while connections:
        with contextlib.suppress(Exception):
            connections.pop().close()


@cache
def _table_of(statement: str) -> str:
    """The table an INSERT, UPDATE or DELETE writes to (the view's statements are few, so kept)."""
    words = statement.split(maxsplit=3)
    return words[2] if words[0] in {"INSERT", "DELETE"} else words[1]


@cache
def _columns(name: str) -> tuple[str, ...]:
    """The column names of one of the view's tables, in order (read off its definition in TABLES)."""
    parts = [part.split() for part in TABLES[name].split(", ")]
    return tuple(words[0] for words in parts if len(words) > 1 and words[1] in {"TEXT", "INTEGER", "BIGINT"})


COPY_ROWS = 64
"""From how many rows of one INSERT PostgreSQL is sent them by COPY (fewer go in the batch's pipeline)."""

Pending = dict[str, list[Sequence[object]]]
"""INSERT statements not sent yet, each with its rows in order."""


def _flush(cursor: Any, pending: Pending, sql: Callable[[str], str]) -> None:
    for statement, rows in pending.items():
        cursor.executemany(sql(statement), rows)
    pending.clear()


NOW_TEXT = utc_text(verdicts.NOW)

BACKFILL_REPORT_EVERY = 10_000
log = logging.getLogger(__name__)

WAL_CHECKPOINT_PAGES = 16384
"""A view batch writes thousands of pages: checkpoint (and sync the file) every 64 MB, not every 4 MB."""

READER_MMAP_BYTES = 1 << 30
"""SQLite question connections map up to this much of the file instead of copying pages in."""

SECURE_DELETE = {0: "OFF", 1: "ON", 2: "FAST"}
"""SQLite's answers to `PRAGMA secure_delete`, as the pragma is set."""

IDLE_READERS = 8
"""Question connections kept open per view (more are opened under load, and closed after use)."""


def load_acceptance(text: str | bytes) -> history.Acceptance:
    """An acceptance from its JSON text, without the generic restorer (the hot path of a question)."""
    d = orjson.loads(text)
    valid_until = d["valid_until"]
    return history.Acceptance(
        number=d["number"],
        occurred_at=datetime.fromisoformat(d["occurred_at"]),
        recorded_at=datetime.fromisoformat(d["recorded_at"]),
        policy_id=d["policy_id"],
        policy_version=d["policy_version"],
        language=Language(d["language"]),
        text_sha256=d["text_sha256"],
        method=ConsentMethod(d["method"]),
        purposes=frozenset(d["purposes"]),
        data_categories=frozenset(d["data_categories"]),
        third_parties=d["third_parties"],
        cross_border=d["cross_border"],
        publication=d["publication"],
        valid_until=None if valid_until is None else datetime.fromisoformat(valid_until),
        actor=Actor(d["actor"]),
    )


def load_json_list(text: str) -> list[str]:
    """A JSON list of strings stored in a view column."""
    import orjson  # noqa: PLC0415  (kept local: the only JSON read outside codec)

    value: list[str] = orjson.loads(text)
    return value


def _deadline(r: Any) -> DeadlineRow:
    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return DeadlineRow(
        deadline_id=r["deadline_id"],
        obligation=r["obligation"],
        subject_id=r["subject_id"],
        reference=r["reference"],
        triggered_at=datetime.fromisoformat(r["triggered_at"]),
        due_at=datetime.fromisoformat(r["due_at"]),
        recorded_at=datetime.fromisoformat(r["recorded_at"]),
        met_at=when(r["met_at"]),
        met_by=r["met_by"],
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
            "AND recorded_at <= $3 ORDER BY effective_from DESC, recorded_at DESC LIMIT 1), s.purposes, s.acceptance "
            f"FROM (SELECT 1 AS one) AS q LEFT JOIN (SELECT purposes, acceptance FROM {standing} "
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
