"""A database that dies under writes in flight: each is answered within the configured bound, none hangs.

The ledger talks to PostgreSQL through a proxy process (`proxy.py`) that the test kills with
SIGKILL while clients write continuously: every connection drops at once, and new ones are
refused, as when the server dies. To be sure writes are in the middle of being stored when it
dies, another session holds the events table's lock for a moment, so that their inserts wait
for it. Every write in flight gets a 503 with `Retry-After` within a few seconds of
`Database.timeout` (each of the recorder's ten retries waited for a connection before that
bound: 14 to 28 s), writes go through again soon after the proxy comes back, and nothing
acknowledged is lost or doubled.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx
import psycopg
import pytest
from bearer import bearer
from conftest import drop_postgres_schema, fresh_postgres_database
from given import consent_body, published
from serving import eventually, free_port, served_in_thread

from api.app import create_app
from api.tokens import Scope
from ledger.application import ConsentLedger, open_ledger
from ledger.storage import Database, Storage

TIMEOUT = 2.0
"""The database timeout the test configures: short, so the test is too."""
BOUND = TIMEOUT * 2 + 2
"""How long any write may take to be answered while the database dies: the pool's wait, the retries, the grace."""
PROXY = Path(__file__).with_name("proxy.py")


class Proxy:
    """The proxy process between the ledger and PostgreSQL, on a port of its own."""

    def __init__(self, target: int) -> None:
        self.port, self.target = free_port(), target
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603  (our own script)
            [sys.executable, str(PROXY), str(self.port), str(self.target)], stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        with self.process.stdout as said:  # it prints nothing more
            assert said.readline().strip() == b"ready"

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@dataclass(frozen=True)
class Answer:
    subject: str
    started: float
    took: float
    status: int
    retry_after: str | None
    body: dict[str, object]


@pytest.fixture
def proxied() -> Iterator[tuple[Database, Proxy]]:
    database = fresh_postgres_database()
    proxy = Proxy(int(database.env["POSTGRES_PORT"]))
    proxy.start()
    url = database.url.replace(f":{proxy.target}/", f":{proxy.port}/")
    try:
        yield Database.from_url(url, timeout=TIMEOUT), proxy
    finally:
        if proxy.process is not None and proxy.process.poll() is None:
            proxy.kill()
        drop_postgres_schema(database)


def waiting_for_the_lock(database: Database) -> int:
    """How many sessions of the test's schema wait for a lock now."""
    with psycopg.connect(**database.psycopg_kwargs()) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            (f'%"{database.schema}"%',),
        ).fetchone()
    return int(row[0]) if row else 0


def consent(http: httpx.Client, subject: str) -> Answer:
    body = consent_body()
    started = time.monotonic()
    answer = http.post(f"/v1/subjects/{subject}/consents", json=body, headers={"Idempotency-Key": f"k-{subject}"})
    return Answer(
        subject,
        started,
        time.monotonic() - started,
        answer.status_code,
        answer.headers.get("retry-after"),
        answer.json(),
    )


class Writers:
    """Clients writing consents continuously, each to subjects of its own, keeping every answer."""

    def __init__(self, base: str, headers: dict[str, str], clients: int = 8) -> None:
        self.base, self.headers = base, headers
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(n,)) for n in range(clients)]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _write(self, n: int) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=60) as http:
            for i in range(10_000):
                if self._stop.is_set():
                    return
                self.answers.append(answer := consent(http, f"w{n}-{i}"))
                if answer.status != 201:
                    self._stop.wait(0.1)  # a client backs off a little when refused

    def acknowledged(self, since: float = 0.0) -> int:
        return sum(a.status == 201 and a.started > since for a in self.answers)


def granted(database: Database) -> list[int]:
    log = open_ledger(database, None)
    try:
        return sorted(n.id for n in log.iter_positions() if n.topic.endswith("Subject.ConsentGranted"))
    finally:
        log.close()


def test_writes_in_flight_when_the_database_dies_get_a_503_within_the_bound_and_nothing_acknowledged_is_lost(
    proxied, master_key
):
    database, proxy = proxied
    direct = Database.from_url(database.url.replace(f":{proxy.port}/", f":{proxy.target}/"))
    ledger: ConsentLedger = open_ledger(database, master_key)
    published(ledger)
    headers = bearer(ledger, "orders-service", Scope.WRITE)
    try:
        with served_in_thread(create_app(ledger)) as base:
            with Writers(base, headers) as writers:
                eventually(lambda: writers.acknowledged() >= 40, 30, "writes went through")
                with psycopg.connect(**direct.psycopg_kwargs()) as holder:  # not through the proxy
                    holder.execute(f"LOCK TABLE {Storage.of(ledger.recorder).events_table} IN EXCLUSIVE MODE")
                    eventually(lambda: waiting_for_the_lock(direct) >= 1, 10, "a group's insert waits for the table")
                    killed_at = time.monotonic()
                    proxy.kill()
                eventually(lambda: any(a.started > killed_at + BOUND for a in writers.answers), 30, "writes went on")
                proxy.start()
                back_at = time.monotonic()
                eventually(lambda: writers.acknowledged(since=back_at), 30, "writes went through again")
            answers = writers.answers
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                retried = [consent(http, a.subject) for a in answers if a.status != 201]
    finally:
        ledger.close()

    in_flight = [a for a in answers if a.started < killed_at < a.started + a.took]
    refused = [a for a in answers if a.status != 201]
    assert in_flight
    assert max(a.took for a in answers) < BOUND, sorted(a.took for a in answers)[-5:]
    assert {a.status for a in refused} == {503}
    assert all(a.retry_after and int(a.retry_after) > 0 for a in refused)
    assert {a.body["type"] for a in refused} == {"tag:consent-ledger,2026:problem:database-unavailable"}
    assert {a.status for a in retried} <= {200, 201}
    acknowledged = {int(a.body["position"]) for a in [*answers, *retried] if a.status in {200, 201}}
    assert granted(direct) == sorted(acknowledged)  # every acknowledged write once, and nothing else
    assert len(acknowledged) == len({a.subject for a in answers})
