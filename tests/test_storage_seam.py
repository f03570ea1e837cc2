"""The storage seam: one interface over SQLite and PostgreSQL, and a driver's errors as availability errors."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from eventsourcing import persistence as es
from given import consented, published
from psycopg_pool import PoolTimeout

from cli.settings import ConfigurationError, load_settings
from ledger.application import ConsentLedger
from ledger.errors import StorageFull, StorageUnavailable
from ledger.storage import Database, SQLiteStorage, Storage, translated, translating

ROOT = Path(__file__).parent.parent
PACKAGES = ("ledger", "projections", "audit", "api", "cli")


@pytest.fixture
def storage(ledger: ConsentLedger) -> Storage:
    return Storage.of(ledger.recorder)


def stored(ledger: ConsentLedger, originator_id: object) -> list[tuple[object, int, str, bytes]]:
    return [
        (e.originator_id, e.originator_version, e.topic, e.state)
        for e in ledger.recorder.select_events(originator_id)  # type: ignore[arg-type]
    ]


def test_an_aggregates_events_read_through_the_seam_are_those_the_recorder_stored(ledger, storage):
    published(ledger, "1")
    published(ledger, "2")
    first = consented(ledger, "u-1", "1")
    consented(ledger, "u-2", "1")
    again = consented(ledger, "u-1", "2")
    third = consented(ledger, "u-3", "1")

    everything = storage.events_after(first.aggregate_id, 0)
    later = storage.events_after(first.aggregate_id, first.version)
    some = storage.events_of([first.aggregate_id, uuid4(), third.aggregate_id])

    assert [(e.originator_id, e.originator_version, e.topic, e.state) for e in everything] == stored(
        ledger, first.aggregate_id
    )
    assert [e.originator_version for e in later] == list(range(first.version + 1, again.version + 1))
    assert [(e.originator_id, e.originator_version) for e in some] == sorted(  # by id, then version
        [(e.originator_id, e.originator_version) for e in everything]
        + [(e[0], e[1]) for e in stored(ledger, third.aggregate_id)]
    )


def test_a_stored_events_position_is_the_one_its_receipt_gave(ledger, storage):
    published(ledger)
    receipt = consented(ledger, "u-1")

    assert storage.position_of(receipt.aggregate_id, receipt.version) == receipt.position
    assert storage.position_of(receipt.aggregate_id, receipt.version + 1) is None


def test_a_query_written_with_question_marks_runs_on_either_backend(ledger, storage):
    published(ledger)
    consented(ledger, "u-1")

    rows = storage.query(f"SELECT count(*) AS n FROM {storage.events_table} WHERE originator_version >= ?", (1,))

    assert rows[0]["n"] == ledger.max_position()


def test_rows_inserted_many_at_once_and_an_append_only_table_refuses_changes(storage):
    table = storage.qualify("seam_probe")
    with storage.datastore.transaction(commit=True) as c:
        storage.creating_tables(c)
        c.execute(f"CREATE TABLE {table} (n {storage.integer} PRIMARY KEY, b {storage.blob} NOT NULL)")
        for statement in storage.append_only(table, "seam_probe", "the probe is append-only"):
            c.execute(statement)
        storage.insert_many(c, table, {"n": "bigint", "b": "bytea"}, [(1, b"a"), (2, b"b")])

    with (
        pytest.raises(es.PersistenceError, match="the probe is append-only"),
        translating(),
        storage.datastore.transaction(commit=True) as c,
    ):
        c.execute(f"DELETE FROM {table}")
    assert [tuple(storage.values(r)) for r in storage.query(f"SELECT n, b FROM {table} ORDER BY n", ())] == [
        (1, b"a"),
        (2, b"b"),
    ]


def test_a_full_disk_and_an_unreachable_database_are_told_apart_from_faults_of_ours(tmp_path):
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.OperationalError) as cannot_open:
        sqlite3.connect(tmp_path / "no-such-folder" / "ledger.db")
    with pytest.raises(sqlite3.OperationalError) as no_table:
        sqlite3.connect(tmp_path / "ledger.db").execute("SELECT * FROM stored_events")
    wrapped = es.OperationalError("wrapped")
    wrapped.__cause__ = full

    assert isinstance(translated(full), StorageFull)
    assert isinstance(translated(wrapped), StorageFull)  # as eventsourcing raises it
    assert isinstance(translated(psycopg.errors.DiskFull("could not extend file")), StorageFull)
    assert isinstance(translated(cannot_open.value), StorageUnavailable)
    assert isinstance(translated(psycopg.OperationalError("server closed the connection")), StorageUnavailable)
    assert isinstance(translated(PoolTimeout("couldn't get a connection after 5 s")), StorageUnavailable)
    assert translated(no_table.value) is None
    assert translated(psycopg.errors.UndefinedTable("no such table")) is None
    assert translated(ValueError("a bug")) is None


def test_the_seam_of_a_database_is_the_one_of_its_recorders(ledger, database, storage):
    assert type(storage) is database.storage
    assert ledger.storage.local == (database.backend == "sqlite")
    assert storage.local == isinstance(storage, SQLiteStorage) == (not storage.shared) == (not storage.live)


def test_no_code_outside_the_storage_seam_names_a_backend():
    named = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "storage" not in path.relative_to(ROOT).parts
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in {"sqlite", "postgres"}
    ]

    assert named == []


def test_a_database_url_names_the_longest_wait_on_it_in_every_setting_the_drivers_read():
    sqlite = Database.from_url("sqlite:///x.db", timeout=3)
    postgres = Database.from_url("postgresql://u@h/db?schema=s", timeout=2.5)

    assert sqlite.env["SQLITE_LOCK_TIMEOUT"] == "3"
    assert postgres.env["POSTGRES_CONNECT_TIMEOUT"] == postgres.env["POSTGRES_LOCK_TIMEOUT"] == "3"
    assert postgres.psycopg_kwargs()["tcp_user_timeout"] == 3000
    with pytest.raises(ValueError, match="positive"):
        Database.from_url("sqlite:///x.db", timeout=0)


def test_the_database_timeout_setting_reaches_the_database_it_bounds(monkeypatch):
    monkeypatch.setenv("CONSENT_LEDGER_DATABASE_TIMEOUT", "2.5")
    monkeypatch.setenv("CONSENT_LEDGER_DATABASE_URL", "postgresql://u@h/db")

    assert load_settings().database.timeout == 2.5
    assert load_settings().database.env["POSTGRES_CONNECT_TIMEOUT"] == "3"
    with pytest.raises(ConfigurationError, match="database_timeout"):
        load_settings(database_timeout=0)
