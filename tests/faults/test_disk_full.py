"""A full disk: writes and reads say so (507), the view keeper survives it, and nothing stale passes for current.

The ledger lives on a tmpfs of a few megabytes that the test mounts for itself and fills with a
file of its own: the SQLite file, or the tablespace every table of a private PostgreSQL cluster
goes to (its write-ahead log stays on the cluster's own disk, as a DBA would have it). Mounting
needs root (CAP_SYS_ADMIN): where the test cannot mount one, it is skipped and says why.
Before the fix, writes and reads answered 500, the thread keeping the view died for good,
`/readyz` said ready, and `block-status` said `blocked: false` for a subject blocked moments
before.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import consent_body, published
from serving import PrivateCluster, eventually

from api.app import create_app
from api.tokens import Scope
from ledger.application import ConsentLedger, open_ledger
from ledger.storage import Database
from projections.keeper import BackgroundKeeper, ViewKeeper, open_view

SIZE = "4m"
PURPOSE = {"X-Purpose": "answering the subject's request"}
FULL = "tag:consent-ledger,2026:problem:storage-full"


@contextlib.contextmanager
def small_disk(where: Path, owner: str = "root") -> Iterator[Path]:
    """A tmpfs of a few megabytes, mounted for this test alone; skipped, with the reason, where that cannot be done."""
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small filesystem of the test's own: mounting a tmpfs needs root")
    ids = f"uid={pwd.getpwnam(owner).pw_uid},gid={pwd.getpwnam(owner).pw_gid}"
    mounted = subprocess.run(  # noqa: S603  (fixed arguments)
        ["/usr/bin/mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=700,{ids}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a small filesystem of the test's own; mount said: {mounted.stderr.decode()}")
    try:
        yield where
    finally:
        subprocess.run(["/usr/bin/umount", "--lazy", str(where)], check=False)  # noqa: S603  (fixed arguments)


@pytest.fixture(params=["sqlite", "postgres"])
def on_a_small_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, Path]]:
    """A database whose tables live on a small disk of the test's own, and that disk."""
    if request.param == "sqlite":
        with small_disk(tmp_path / "disk") as disk:
            yield Database.from_url(f"sqlite:///{disk}/ledger.db", timeout=2), disk
        return
    cluster = PrivateCluster()
    try:
        with small_disk(cluster.root / "disk", owner="postgres") as disk:  # where the server may reach
            cluster.start()
            with psycopg.connect(cluster.url, autocommit=True) as admin:
                admin.execute(f"CREATE TABLESPACE small LOCATION '{disk}'")
                admin.execute("ALTER DATABASE postgres SET default_tablespace = small")
            yield Database.from_url(f"{cluster.url}?schema=full", timeout=2), disk
            cluster.stop()
    finally:
        cluster.remove()


def fill(disk: Path) -> Path:
    """Write a file until the disk has no room left; the file, to free the space again."""
    filler = disk / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


def a_consent() -> dict[str, object]:
    return consent_body()


def topics(database: Database) -> list[str]:
    log = open_ledger(database, None)
    try:
        return [n.topic.rpartition(".")[2] for n in log.iter_positions()]
    finally:
        log.close()


def first_refused(client: TestClient) -> tuple[int, Any]:
    """Consents to new subjects until one is refused (PostgreSQL fills the room left in its pages first)."""
    for n in range(2, 500):
        answer = client.post(f"/v1/subjects/s-{n}/consents", json=a_consent(), headers={"Idempotency-Key": f"k-{n}"})
        if answer.status_code != 201:
            return n, answer
    raise AssertionError("the disk never filled up")


def while_full(client: TestClient, background: BackgroundKeeper) -> dict[str, Any]:
    """What a client and an operator see while the disk is full."""
    return {
        "status": client.get("/v1/subjects/s-1/block-status", headers=PURPOSE),
        "deadlines": client.get("/v1/deadlines"),
        "ready": client.get("/readyz"),
        "alive": client.get("/healthz"),
        "keeper still trying": background._thread.is_alive(),
    }


def test_on_a_full_disk_nothing_stale_is_answered_and_everything_recovers_once_space_is_freed(
    on_a_small_disk, master_key, clock
):
    database, disk = on_a_small_disk
    ledger: ConsentLedger = open_ledger(database, master_key, clock)
    app = create_app(ledger, open_view(database))
    app.state.max_view_lag = 2.0
    keeper: ViewKeeper = app.state.keeper
    background = BackgroundKeeper(keeper)
    published(ledger)
    headers = bearer(ledger, "orders-service", Scope.WRITE, Scope.READ)
    try:
        with TestClient(app, headers=headers, raise_server_exceptions=False) as client:
            assert client.post("/v1/subjects/s-1/consents", json=a_consent()).status_code == 201
            keeper.catch_up()
            block = {"block_id": "blk-1", "requester": "subject", "ground": "inaccurate_data"}
            blocked = client.post("/v1/subjects/s-1/blocks", json=block)
            assert blocked.status_code == 201, blocked.text  # in the log; the view has not applied it yet

            filler = fill(disk)
            background.start()
            eventually(lambda: keeper.failure is not None, 10, "the keeper tried to apply the block, and failed")
            refused, write = first_refused(client)
            clock.advance(seconds=10)  # the block was recorded 10 s ago
            full = while_full(client, background)

            filler.unlink()
            eventually(lambda: client.get("/readyz").status_code == 200, 40, "the keeper came back by itself")
            status_after = client.get("/v1/subjects/s-1/block-status", headers=PURPOSE)
            retried = client.post(
                f"/v1/subjects/s-{refused}/consents", json=a_consent(), headers={"Idempotency-Key": f"k-{refused}"}
            )
    finally:
        background.stop()
        ledger.close()

    for answer in (write, full["status"], full["deadlines"]):
        assert answer.status_code == 507, answer.text
        assert answer.json()["type"] == FULL
        assert "disk is full" in answer.json()["detail"]
        assert int(answer.headers["retry-after"]) > 0
    assert full["ready"].status_code == 503
    assert full["ready"].json()["lag"] >= refused - 1  # the block, and the consents that still fitted
    assert full["ready"].json()["lag_seconds"] >= 10
    assert "disk is full" in full["ready"].json()["keeper"]
    assert full["alive"].status_code == 200
    assert full["keeper still trying"]
    assert status_after.status_code == 200
    assert status_after.json()["blocked"] is True
    assert retried.status_code == 201
    assert topics(database).count("DataBlocked") == 1
    assert topics(database).count("ConsentGranted") == refused  # s-1 to s-<refused>, each once
