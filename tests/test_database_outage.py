"""When PostgreSQL goes away: 503 with Retry-After, nothing half-recorded, and service resumes by itself.

The test stops and starts a private, throwaway PostgreSQL cluster of its own (never the shared
server other tests use), so it runs everywhere PostgreSQL 15 is installed, CI included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import consent_body, published
from serving import PrivateCluster, eventually

from api.app import create_app
from api.problems import is_database_unavailable
from api.tokens import Scope
from ledger.application import ConsentLedger, open_ledger
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from projections.keeper import open_view

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    cluster.start()
    yield cluster
    cluster.remove()


@pytest.fixture
def ledger(cluster: PrivateCluster) -> Iterator[ConsentLedger]:
    url = f"{cluster.url}?schema=outage"
    database = Database.from_url(url)
    impatient = {**database.env, "POSTGRES_CONNECT_TIMEOUT": "1", "POSTGRES_POOL_SIZE": "2"}
    ledger = open_ledger(dataclasses.replace(database, env=impatient), parse_master_key(new_master_key()))
    yield ledger
    ledger.close()


@pytest.fixture
def client(ledger: ConsentLedger, cluster: PrivateCluster) -> Iterator[TestClient]:
    published(ledger)
    view = open_view(Database.from_url(f"{cluster.url}?schema=outage"))
    headers = bearer(ledger, "orders-service", Scope.WRITE, Scope.READ, Scope.AUDIT)
    with TestClient(create_app(ledger, view), headers=headers, raise_server_exceptions=False) as client:
        yield client


def consent(client: TestClient, subject: str) -> tuple[int, dict[str, str], dict[str, object]]:
    body = consent_body()
    answer = client.post(f"/v1/subjects/{subject}/consents", json=body, headers={"Idempotency-Key": f"k-{subject}"})
    return answer.status_code, dict(answer.headers), answer.json()


def test_while_the_database_is_down_writes_and_reads_get_503_and_the_log_keeps_exactly_the_acknowledged_writes(
    client: TestClient, ledger: ConsentLedger, cluster: PrivateCluster
) -> None:
    status, _, first = consent(client, "u-1")
    assert status == 201, first

    cluster.stop()
    try:
        refused_write, *more_refused = [consent(client, f"u-{n}") for n in (2, 3, 4)]  # more than the pool holds
        check = client.get(
            "/v1/subjects/u-1/disclosure-check", params={"recipient_category": "courier", "purpose": "4.1.1"}
        )
        refused_read = (check.status_code, dict(check.headers), check.json())
        unready = client.get("/readyz")
        alive = client.get("/healthz")
    finally:
        cluster.start()
    retried = eventually(lambda: (answer := consent(client, "u-2"))[0] != 503 and answer, 20, "the write went through")

    for status, headers, problem in (refused_write, *more_refused, refused_read):
        assert status == 503, problem
        assert headers["content-type"] == PROBLEM
        assert int(headers["retry-after"]) > 0
        assert problem["type"] == "tag:consent-ledger,2026:problem:database-unavailable"
    assert unready.status_code == 503
    assert unready.json()["detail"] == "the database does not answer"
    assert alive.status_code == 200
    assert retried[0] == 201, retried[2]
    granted = [n.id for n in ledger.iter_positions() if n.topic.endswith("Subject.ConsentGranted")]
    assert granted == [first["position"], retried[2]["position"]]


def test_a_sqlite_file_that_cannot_be_opened_is_an_outage_but_a_missing_table_is_a_fault(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError) as cannot_open:
        sqlite3.connect(tmp_path / "no-such-folder" / "ledger.db")
    with (
        contextlib.closing(sqlite3.connect(tmp_path / "ledger.db")) as connection,
        pytest.raises(sqlite3.OperationalError) as no_table,
    ):
        connection.execute("SELECT * FROM stored_events")

    assert is_database_unavailable(cannot_open.value)
    assert not is_database_unavailable(no_table.value)
