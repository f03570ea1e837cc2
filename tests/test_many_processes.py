"""Many processes on one PostgreSQL database: two HTTP workers and a projection worker that may be killed.

The projection worker resumes from its tracked position when restarted, so the read model
catches up with every write and holds each event exactly once, whoever was killed meanwhile.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from bearer import bearer
from conftest import drop_postgres_schema, fresh_postgres_database
from given import consent_body, published
from prometheus_client.parser import text_string_to_metric_families
from serving import eventually, free_port, stop, wait_for_http

from api.tokens import Scope
from ledger.application import open_ledger
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from projections.keeper import open_view

CLI = str(Path(sys.executable).parent / "consent-ledger")


class Deployment:
    """One PostgreSQL schema, its master key, and the processes started on it (stopped at the end)."""

    def __init__(self, database: Database, tmp_path: Path) -> None:
        self.database = database
        self.tmp_path = tmp_path
        self.key = new_master_key()
        self.env = {
            **os.environ,
            "CONSENT_LEDGER_DATABASE_URL": database.url,
            "CONSENT_LEDGER_MASTER_KEY": self.key,
            "CONSENT_LEDGER_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),  # PostgreSQL needs it, too
            "CONSENT_LEDGER_RECEIPT_KEY": base64.b64encode(os.urandom(32)).decode(),  # and the receipt key
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"{args[0]}-{len(self.processes)}.log").open("wb")
        self.logs.append(log)
        process = subprocess.Popen([CLI, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603  (our CLI)
        self.processes.append(process)
        return process

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("*.log")))

    def close(self) -> None:
        for process in self.processes:
            stop(process)
        for log in self.logs:
            log.close()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    database = fresh_postgres_database()
    deployment = Deployment(database, tmp_path)
    yield deployment
    deployment.close()
    drop_postgres_schema(database)


def a_consent() -> dict[str, object]:
    return consent_body(third_parties=True)


def test_two_http_workers_and_a_killed_projection_worker_lose_no_event_and_apply_none_twice(
    deployment: Deployment,
) -> None:
    ledger = open_ledger(deployment.database, parse_master_key(deployment.key))
    published(ledger)
    port = free_port()
    server = deployment.start("serve", "--workers", "2", "--port", str(port))
    projector = deployment.start("project")
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/healthz", server)
    view = open_view(deployment.database)
    headers = bearer(ledger, "orders-service", Scope.WRITE, Scope.READ)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:

            def write(subject: str) -> int:
                answer = http.post(
                    f"/v1/subjects/{subject}/consents",
                    json=a_consent(),
                    headers={"Idempotency-Key": f"consent-{subject}"},
                )
                assert answer.status_code == 201, answer.text
                return int(answer.json()["position"])

            before = [write(f"u-{n}") for n in range(4)]
            eventually(lambda: view.position() >= max(before), 20, "the projection worker applied the first writes")

            projector.send_signal(signal.SIGKILL)
            projector.wait(10)
            after = [write(f"u-{n}") for n in range(4, 8)]
            assert view.position() < max(after)  # nobody follows the log now

            deployment.start("project")
            eventually(lambda: view.position() >= max(after), 20, "the restarted projection worker caught up")

            checks = [
                http.get(
                    f"/v1/subjects/u-{n}/disclosure-check",
                    params={
                        "recipient_category": "courier",
                        "purpose": "4.1.1",
                        "wait_for_position": max(after),
                    },
                )
                for n in range(8)
            ]
            metrics = http.get("/metrics").text
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- process output ---\n{deployment.output()}") from None
    finally:
        ledger.close()

    assert [c.status_code for c in checks] == [200] * 8, [c.text for c in checks]
    assert all(c.json()["allowed"] for c in checks)
    log = open_ledger(deployment.database, None)
    try:
        facts = sorted(n.id for n in log.iter_positions() if n.topic.endswith("Subject.ConsentGranted"))
    finally:
        log.close()
    entries = sorted(r["position"] for r in view._rows(f"SELECT position FROM {view.table('subject_entries')}", ()))
    assert facts == sorted(before + after)
    assert entries == facts
    appended = {
        sample.labels["route"]: sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "consent_ledger_events_appended_total"
    }
    assert appended == {"/v1/subjects/{subject_id}/consents": 8}  # both workers' counts, added up


def test_several_workers_on_sqlite_are_refused_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603  (our own CLI)
        [CLI, "serve", "--workers", "2", "--database-url", f"sqlite:///{tmp_path}/ledger.db"],
        capture_output=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.decode().strip() == (
        "error: several workers need PostgreSQL: SQLite has one writer on one host; use --workers 1"
    )
