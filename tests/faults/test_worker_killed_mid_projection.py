"""A projection worker killed in the middle of applying a batch: nothing half-applied, nothing applied twice.

`consent-ledger project` follows the log into the view on PostgreSQL. The test holds a lock on
one of the view's tables so that the worker's next transaction stops half-way (its tracking
record and some rows written, one table waiting), kills it there with SIGKILL, and checks that
while nobody keeps the view, `/readyz` says so and a question catches the view up rather than
answer from it stale; and that once a worker runs again the view holds exactly the rows a
rebuild from the first event gives.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bearer import bearer
from conftest import drop_postgres_schema, fresh_postgres_database
from fastapi.testclient import TestClient
from given import consented, published
from serving import eventually, stop

from api.app import create_app
from api.tokens import Scope
from ledger.application import ConsentLedger, open_ledger
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from projections.keeper import open_view
from projections.rebuild import rebuild
from projections.view import TABLES, LedgerView

CLI = str(Path(sys.executable).parent / "consent-ledger")
SIGNING_KEY = base64.b64encode(os.urandom(32)).decode()
PURPOSE = {"X-Purpose": "answering the subject's request"}


@pytest.fixture
def deployment() -> Iterator[tuple[Database, str, list[subprocess.Popen[bytes]]]]:
    database = fresh_postgres_database()
    key = new_master_key()
    workers: list[subprocess.Popen[bytes]] = []
    yield database, key, workers
    for worker in workers:
        stop(worker)
    drop_postgres_schema(database)


def start_worker(database: Database, key: str, workers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CONSENT_LEDGER_DATABASE_URL": database.url,
        "CONSENT_LEDGER_MASTER_KEY": key,
        "CONSENT_LEDGER_SIGNING_KEY": SIGNING_KEY,  # a worker checkpoints too, with the deployment's one key
    }
    worker = subprocess.Popen([CLI, "project"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    workers.append(worker)
    return worker


def waiting_for_a_lock(database: Database) -> bool:
    with psycopg.connect(**database.psycopg_kwargs()) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            (f'%"{database.schema}"%',),
        ).fetchone()
    return bool(row and row[0])


def rows_of(view: LedgerView, table: str) -> list[tuple[Any, ...]]:
    rows = view._rows(f"SELECT * FROM {view.table(table)}", ())
    return sorted(tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows)


def test_a_worker_killed_mid_batch_leaves_nothing_half_applied_and_the_next_one_applies_each_event_once(deployment):
    database, key, workers = deployment
    ledger: ConsentLedger = open_ledger(database, parse_master_key(key))
    view = open_view(database)
    app = create_app(ledger, view)
    app.state.max_view_lag = 0.5
    try:
        published(ledger)
        for n in range(20):
            consented(ledger, f"u-{n}")
        start_worker(database, key, workers)
        eventually(lambda: view.position() == ledger.max_position(), 30, "the worker applied the history")

        with psycopg.connect(**database.psycopg_kwargs()) as holder:
            holder.execute(f"LOCK TABLE {view.table('subject_entries')} IN EXCLUSIVE MODE")
            consented(ledger, "u-late")
            eventually(lambda: waiting_for_a_lock(database), 10, "the worker's batch stopped half-way")
            workers[-1].send_signal(signal.SIGKILL)
            workers[-1].wait(10)
        behind_at = view.position()

        with TestClient(app, headers=bearer(ledger, "reader", Scope.READ)) as client:
            unready = eventually(lambda: (r := client.get("/readyz")).status_code == 503 and r, 10, "unready")
            answer = client.get(
                "/v1/subjects/u-late/disclosure-check",
                params={
                    "recipient_category": "courier",
                    "purpose": "4.1.1",
                },
                headers=PURPOSE,
            )

        consented(ledger, "u-after")
        start_worker(database, key, workers)
        eventually(lambda: view.position() == ledger.max_position(), 30, "a new worker caught up")
        rebuilt = rebuild(ledger, database)
    finally:
        ledger.close()

    assert behind_at < unready.json()["log_position"]  # the killed batch left no trace
    assert unready.json()["lag"] >= 1
    assert answer.status_code == 200, answer.text
    assert answer.json()["allowed"] is True  # the question caught the view up rather than answer without u-late
    for table in TABLES:
        assert rows_of(view, table) == rows_of(rebuilt, table), table
