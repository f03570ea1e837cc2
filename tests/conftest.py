"""Fixtures shared by every tier: one ledger per test, on each storage backend, with a clock we hold.

PostgreSQL is never skipped: every test run gets schemas of its own in the `test` database
(or CONSENT_LEDGER_TEST_POSTGRES_URL), dropped afterwards, so runs never see each other's events.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from ledger.application import ConsentLedger, open_ledger
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database

if TYPE_CHECKING:
    from playwright.sync_api import Browser

POSTGRES_URL = os.environ.get("CONSENT_LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RUN_ID = uuid.uuid4().hex[:8]
_schemas = itertools.count()


class FakeClock:
    """A clock the test moves by hand; the ledger never reads the real one in tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def fresh_postgres_database() -> Database:
    """A new, empty schema for one test."""
    schema = f"cl_{RUN_ID}_{next(_schemas)}"
    sep = "&" if "?" in POSTGRES_URL else "?"
    database = Database.from_url(f"{POSTGRES_URL}{sep}schema={schema}")
    database.prepare()
    return database


def drop_postgres_schema(database: Database) -> None:
    with psycopg.connect(**database.psycopg_kwargs(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database on each backend."""
    if request.param == "sqlite":
        yield Database.from_url(f"sqlite:///{tmp_path}/ledger.db")
        return
    database = fresh_postgres_database()
    yield database
    drop_postgres_schema(database)


@pytest.fixture
def master_key() -> bytes:
    return parse_master_key(new_master_key())


@pytest.fixture
def ledger(database: Database, master_key: bytes, clock: FakeClock) -> Iterator[ConsentLedger]:
    """A ledger on an empty database, on each backend, reading the fake clock."""
    app = open_ledger(database, master_key, clock)
    yield app
    app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium from the project's own cache (`tests/browser.py`), one per test module."""
    from browser import launched  # noqa: PLC0415  (same)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  (only browser tests load Playwright)

    with sync_playwright() as playwright, launched(playwright) as started:
        yield started


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many tampering cases the run tried and how many were detected (tests/tampering.py)."""
    import tampering  # noqa: PLC0415  (a helper module of the tests, imported once they ran)

    line = tampering.summary()
    if line is not None:
        terminalreporter.write_sep("=", line)
