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
from datetime import datetime
from functools import cache, cached_property
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import Tracking, TrackingRecorder

from ledger.storage import Storage
from projections import codec, verdicts
from projections.codec import utc_text
from projections.view_rows import DeadlineRow, DisclosureRow, ViewRows, deadline_row

if TYPE_CHECKING:
    from ledger.policy import PolicyVersion
    from ledger.subject_facts import Acceptance, SubjectFact

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
FORMAT = "e"
"""How a generation keeps entries: `e`, as their events' own JSON. A new format's tables start empty and are
filled from the log, so a view kept by an older version is never misread (its tables are left as they were)."""
INDEXES = {
    "policy_versions_effective": "policy_versions (policy_id, effective_from)",
    "disclosures_time": "disclosures (subject_id, occurred_at)",
    "deadlines_due": "deadlines (due_at)",
    "deadlines_open": "deadlines (met_at, due_at)",
    "breach_subjects_untold": "breach_subjects (told_at, breach_id)",
}


class LedgerView(ViewRows, TrackingRecorder):
    """Writes and reads the view tables of one generation; backend subclasses supply the SQL details.

    A generation is a complete set of view tables with its own tracking name. Rebuilding
    fills a new generation from position 0 while readers keep using the current one, then
    moves the pointer in `cl_current_view`; the previous generation is dropped at the next rebuild.
    """

    datastore: Any
    placeholder = "?"
    generation = 0
    part = ""
    """Which part of a fill in parts this view writes for (`projections.rebuild`); "" for the generation itself."""
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
        self._tables: dict[str, str] = {}
        if not hasattr(self, "switching"):
            self.switching = threading.RLock()  # made once: a rebind must not swap the lock a keeper holds
            self._idle: list[Any] = []
            self._idle_lock = threading.Lock()
            weakref.finalize(self, _close_all, self._idle)  # a view nobody closes still closes its connections
            self._terms: dict[tuple[str, str], PolicyVersion] = {}
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
            "ORDER BY effective_from DESC, recorded_at DESC LIMIT 1), s.purposes, s.acceptance, s.number "
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
        return bool(
            self._rows(f"SELECT 1 FROM {self.table('subject_entries')} WHERE kind = 'ConsentGranted' LIMIT 1", ())
        )

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
        """The table-name prefix of this generation (`FORMAT` names how its rows are kept)."""
        return f"cl{FORMAT}{self.generation}_"

    @property
    def tracking_name(self) -> str:
        """The name this generation (or this part of its fill, `projections.rebuild`) tracks its position under."""
        return f"ConsentLedger/view{FORMAT}{self.generation}{self.part}"

    @cached_property
    def storage(self) -> Storage:
        """What differs between the backends, for this view's datastore."""
        return Storage.of(self.datastore)

    def qualify(self, name: str) -> str:
        """A table name, qualified for the backend."""
        return self.storage.qualify(name)

    def table(self, name: str) -> str:
        """The name of one of this generation's tables (kept: a replay asks for one several times an event)."""
        try:
            return self._tables[name]
        except KeyError:
            table = self._tables[name] = self.qualify(f"{self.prefix}{name}")
            return table

    def create_indexes(self) -> None:
        """Create this generation's secondary indexes if missing (before readers are pointed at it)."""
        with self.datastore.transaction(commit=True) as c:
            for statement in self._create_statements(self.generation)[len(TABLES) :]:
                c.execute(statement)

    def _create_statements(self, generation: int, *, indexed: bool = True) -> list[str]:
        """CREATE statements for one generation's tables, then its indexes."""
        prefix = f"cl{FORMAT}{generation}_"
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
                c.execute(f"DROP TABLE IF EXISTS {self.qualify(f'cl{FORMAT}{generation}_{name}')}")

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

    def terms(self, policy_id: str, version: str) -> PolicyVersion | None:
        """One published version's terms; kept in memory once seen, as published terms never change."""
        key = (policy_id, version)
        found = self._terms.get(key)
        if found is None:
            rows = self._rows(
                f"SELECT terms FROM {self.table('policy_versions')} WHERE policy_id = ? AND version = ?", key
            )
            if not rows:
                return None
            found = self._terms[key] = codec.policy_version(policy_id, rows[0]["terms"])
        return found

    def standing(
        self, subject_hex: str, policy_id: str, at: datetime, as_known_at: datetime | None
    ) -> tuple[str | None, frozenset[str] | None, Acceptance | None]:
        """In one lookup: the version in effect at `at`, and the acceptance standing then with its purposes."""
        moment, known = utc_text(at), NOW_TEXT if as_known_at is None else utc_text(as_known_at)
        in_effect, purposes, entry, number = self._answer(
            "_standing_sql", (policy_id, moment, known, subject_hex, policy_id, moment, moment, known, known)
        )
        if entry is None:
            return in_effect, None, None
        acceptance = codec.entry(UUID(subject_hex), int(number), "ConsentGranted", entry)
        return in_effect, frozenset(orjson.loads(purposes)), cast("Acceptance", acceptance)

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

    # Reads.

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

    def judged_entries(self, subject: UUID) -> list[SubjectFact]:
        """The entries of a subject the pre-judged questions read, in order."""
        kinds = ", ".join(f"'{k.event}'" for k in verdicts.JUDGED)
        rows = self._rows(
            f"SELECT number, kind, entry FROM {self.table('subject_entries')} WHERE subject_id = ? "
            f"AND kind IN ({kinds}) ORDER BY number",
            (subject.hex,),
        )
        return [codec.entry(subject, r["number"], r["kind"], r["entry"]) for r in rows]

    def subject_records(self, batch: int = 5000) -> Iterator[tuple[str, list[tuple[int, SubjectFact]]]]:
        """Every subject's entries with their log positions, one subject at a time (bounded memory)."""
        after = ("", -1)
        current: tuple[str, list[tuple[int, SubjectFact]]] | None = None
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
                subject = UUID(r["subject_id"])
                current[1].append((int(r["position"]), codec.entry(subject, r["number"], r["kind"], r["entry"])))
            if len(rows) < batch:
                if current is not None:
                    yield current
                return
            after = (rows[-1]["subject_id"], int(rows[-1]["number"]))

    def entries(self, subject: UUID) -> list[SubjectFact]:
        """Every entry of a subject's record, in order (one indexed range scan)."""
        rows = self._rows(
            f"SELECT number, kind, entry FROM {self.table('subject_entries')} WHERE subject_id = ? ORDER BY number",
            (subject.hex,),
        )
        return [codec.entry(subject, r["number"], r["kind"], r["entry"]) for r in rows]

    def policy_versions(self, policy_ids: Iterable[str]) -> list[PolicyVersion]:
        """Every published version of the given policies."""
        ids = sorted(set(policy_ids))
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self._rows(
            f"SELECT policy_id, terms FROM {self.table('policy_versions')} WHERE policy_id IN ({marks}) "
            "ORDER BY effective_from",
            ids,
        )
        return [codec.policy_version(r["policy_id"], r["terms"]) for r in rows]

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
                data_categories=list(orjson.loads(r["data_categories"])),
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
        return [deadline_row(r) for r in rows]

    def deadline(self, deadline_id: str) -> DeadlineRow | None:
        """One obligation by id."""
        rows = self._rows(f"SELECT * FROM {self.table('deadlines')} WHERE deadline_id = ?", (deadline_id,))
        return deadline_row(rows[0]) if rows else None

    def untold_breach_subjects(self, at: datetime | None = None) -> dict[tuple[str, str], list[str]]:
        """Breaches (id, reference) found by `at` with affected subjects not told by then (ever, if None)."""
        params: tuple[str, ...] = ()
        where = "told_at IS NULL"
        if at is not None:
            moment = utc_text(at)
            where, params = "found_at <= ? AND (told_at IS NULL OR told_at > ?)", (moment, moment)
        rows = self._rows(
            f"SELECT breach_id, breach_ref, subject_id FROM {self.table('breach_subjects')} WHERE {where} "
            "ORDER BY breach_ref, subject_id",
            params,
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
