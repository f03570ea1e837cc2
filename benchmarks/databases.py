"""Where each benchmark's data lives, and filling a sized history once so that every later run reuses it.

A history of N events is kept per backend and size: a SQLite file under the work directory,
or a PostgreSQL schema `bench_history_<N>`. Filling is resumable (the generator continues from
what is already stored), and what the fill produced is noted in the database itself, so a run
that finds the history complete starts measuring at once. Baselines get databases of their own, emptied
at every run, so that they never touch the ledger's history.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import psycopg

from audit.notes import SigningKey
from benchmarks import history
from benchmarks.history import generate
from benchmarks.progress import counter, step
from ledger.application import open_ledger
from ledger.storage import Database
from projections.keeper import ViewKeeper, open_view

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

Backend = Literal["sqlite", "postgres"]

GENERATOR: int = getattr(history, "FORMAT_VERSION", 0)
"""The kind of history `benchmarks.history` makes (0: the generator from before it had a version)."""

_SEED = hashlib.sha256(b"consent-ledger benchmarks: synthetic data, nothing secret").digest()
MASTER_KEY = hashlib.sha256(_SEED + b"master").digest()
"""Fixed, not secret: any work directory (a helper's, the integrator's, CI's) can reuse a PostgreSQL history."""
SIGNING_SEED = hashlib.sha256(_SEED + b"signing").digest()
SIGNING_KEY = SigningKey.from_seed("consent-ledger-bench", SIGNING_SEED)
"""Fixed for the same reason: the checkpoints of a reused history must all be signed by one key."""
RECEIPT_SEED = hashlib.sha256(_SEED + b"receipt").digest()
"""The receipt key's seed, fixed as well: a reused history keeps the receipt key it first had."""


@dataclass(frozen=True)
class Filled:
    """A history ready to measure: how many events the fill wrote and how many subjects they belong to."""

    events: int
    subjects: int


@dataclass(frozen=True)
class Target:
    """One (backend, size) of the table, and the databases that serve it."""

    backend: Backend
    size: int
    workdir: Path
    postgres_url: str

    @property
    def label(self) -> str:
        """How progress lines name it."""
        return f"{self.backend} {self.size:,}"

    def url(self, role: str) -> str:
        """The database of `role` ("history", or a baseline's own name) for this target.

        A history's name carries the generator's format version, so that a history made by an
        earlier generator is never taken for one of the current kind.
        """
        if role == "history":
            role = f"history_v{GENERATOR}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir / f'{role}-{self.size}.db'}"
        joiner = "&" if "?" in self.postgres_url else "?"
        return f"{self.postgres_url}{joiner}schema=bench_{role}_{self.size}"

    def database(self, role: str = "history") -> Database:
        """The parsed `url(role)`."""
        return Database.from_url(self.url(role))

    def open(self) -> ConsentLedger:
        """The ledger on this target's history."""
        return open_ledger(self.database(), MASTER_KEY)

    def empty(self, role: str) -> Database:
        """A baseline's database, emptied: a fresh SQLite file or a dropped and recreated schema."""
        database = self.database(role)
        if database.sqlite_path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database.sqlite_path}{suffix}").unlink(missing_ok=True)
        else:
            with psycopg.connect(**database.psycopg_kwargs(), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE')
        database.prepare()
        return database


def fill(target: Target) -> Filled:
    """Generate the history up to the target's size (or continue an interrupted fill), then bring the view up."""
    ledger = target.open()
    try:
        filled = _noted(ledger, target.size)
        if filled is None:
            stored = ledger.max_position()
            with step(f"{target.label}: fill the history (resumes from {stored:,} events)"):
                generated = generate(ledger, target.size, progress=counter("events", target.size, stored))
            filled = Filled(generated.events, generated.subjects)
            _note(ledger, target.size, filled)
        keeper = ViewKeeper(ledger, open_view(target.database()))
        behind = ledger.max_position() - keeper.position
        if behind:
            with step(f"{target.label}: bring the view up to date ({behind:,} events behind)"):
                keeper.catch_up(batch=2000, progress=counter("projected", ledger.max_position(), keeper.position))
    finally:
        ledger.close()
    return filled


def _filled_table(ledger: ConsentLedger) -> str:
    """Our own table beside the ledger's, noting each fill that finished.

    Kept in the database, not the work directory, so that any work directory (a helper's, the
    integrator's, CI's) reuses a PostgreSQL history without going over it again.
    """
    schema, dot, _ = ledger.storage.events_table.rpartition(".")
    return f"{schema}{dot}bench_filled"


def _noted(ledger: ConsentLedger, size: int) -> Filled | None:
    p = ledger.storage.placeholder
    with ledger.datastore.transaction(commit=True) as c:
        c.execute(
            f"CREATE TABLE IF NOT EXISTS {_filled_table(ledger)} "
            "(size BIGINT PRIMARY KEY, events BIGINT NOT NULL, subjects BIGINT NOT NULL)"
        )
        c.execute(f"SELECT events, subjects FROM {_filled_table(ledger)} WHERE size = {p}", (size,))  # noqa: S608
        row = c.fetchone()
    return None if row is None else Filled(int(row["events"]), int(row["subjects"]))


def _note(ledger: ConsentLedger, size: int, filled: Filled) -> None:
    p = ledger.storage.placeholder
    with ledger.datastore.transaction(commit=True) as c:
        c.execute(
            f"INSERT INTO {_filled_table(ledger)} (size, events, subjects) VALUES ({p}, {p}, {p})",  # noqa: S608
            (size, filled.events, filled.subjects),
        )
