"""Processes that start at the same moment on a new database all come up: creating tables takes turns.

Each process does what `serve` and `project` do before they take traffic (create the schema,
open the ledger and the view, the tokens, the access log, the audit tables, import progress),
released together by a barrier, on a database nobody has created yet.
"""

from __future__ import annotations

import multiprocessing
import traceback
from typing import TYPE_CHECKING

import pytest
from conftest import POSTGRES_URL, RUN_ID, drop_postgres_schema

from ledger.storage import Database

if TYPE_CHECKING:
    from multiprocessing.synchronize import Barrier
    from pathlib import Path

START_SECONDS = 60
"""Bound on one round: every process has started (or failed) by then."""

CONTEXT = multiprocessing.get_context("forkserver")
"""Children forked from a clean server that imported the ledger once: fast starts, and no thread of the test's."""
CONTEXT.set_forkserver_preload(["api.access_log", "api.tokens", "audit.log", "cli.import_file", "projections.keeper"])


def start(url: str, key: bytes, barrier: Barrier, failures: multiprocessing.Queue[str]) -> None:
    """What a process does before it serves: open every table it uses (creating them if missing)."""
    from api.access_log import AccessLog  # noqa: PLC0415  (imported once by the fork server)
    from api.tokens import TokenStore  # noqa: PLC0415
    from audit.log import AuditLog  # noqa: PLC0415
    from cli.import_file import ProgressRecords  # noqa: PLC0415
    from ledger.application import open_ledger  # noqa: PLC0415
    from projections.keeper import open_view  # noqa: PLC0415

    database = Database.from_url(url, timeout=START_SECONDS / 2)  # 20 processes on 2 busy cores connect slowly
    barrier.wait(START_SECONDS)
    try:
        database.prepare()
        ledger = open_ledger(database, key)
        try:
            open_view(database).close_readers()
            TokenStore(ledger)
            AccessLog(ledger)
            AuditLog(ledger)
            ProgressRecords(ledger)
        finally:
            ledger.close()
    except Exception:  # noqa: BLE001  (reported to the test, which fails with it)
        failures.put(traceback.format_exc())


def start_together(url: str, processes: int, key: bytes) -> list[str]:
    """Start `processes` processes at once on `url`; what each that failed printed."""
    barrier = CONTEXT.Barrier(processes)
    failures: multiprocessing.Queue[str] = CONTEXT.Queue()
    started = [CONTEXT.Process(target=start, args=(url, key, barrier, failures)) for _ in range(processes)]
    for process in started:
        process.start()
    for process in started:
        process.join(START_SECONDS)
    hung = [p for p in started if p.exitcode is None]
    for process in hung:
        process.kill()
    found = []
    while not failures.empty():
        found.append(failures.get(timeout=5))
    return found + [f"a process did not finish within {START_SECONDS} s" for _ in hung]


@pytest.mark.parametrize(("rounds", "processes"), [(20, 2), (1, 20)])
def test_processes_starting_together_on_a_new_postgresql_schema_all_come_up(rounds, processes, master_key):
    failures = []
    for n in range(rounds):
        database = Database.from_url(f"{POSTGRES_URL}?schema=cl_{RUN_ID}_together_{processes}_{n}")
        try:
            failures += start_together(database.url, processes, master_key)
        finally:
            drop_postgres_schema(database)

    assert failures == []


@pytest.mark.parametrize(("rounds", "processes"), [(20, 2), (1, 20)])
def test_processes_starting_together_on_a_new_sqlite_file_all_come_up(rounds, processes, master_key, tmp_path: Path):
    failures = []
    for n in range(rounds):
        failures += start_together(f"sqlite:///{tmp_path}/{n}/ledger.db", processes, master_key)

    assert failures == []
