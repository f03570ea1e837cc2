"""The log's keys as an operator meets them, its public face as anyone meets it, and `audit check` after damage.

The signing key is a setting beside the master key: never silently made anew for a log that
already signed, refused when absent on PostgreSQL, and keepable wrapped by the master key. The
checkpoint, the public key and consistency proofs answer without a token. `audit check` names a
changed row by position and passes again once the row is restored; `replay` will not rebuild
from damaged rows.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from conftest import drop_postgres_schema, fresh_postgres_database
from fastapi.testclient import TestClient
from given import consented, published
from typer.testing import CliRunner

from api.app import create_app
from api.routes.public_log import serve_log
from audit.log import AuditLog
from audit.merkle import verify_consistency
from audit.notes import Checkpoint, SigningKey, VerifierKey, strict_b64decode
from cli.composition import StartupError, open_audit_log, open_receipt_key
from cli.main import app as main_app
from cli.settings import load_settings
from ledger.application import open_ledger
from ledger.sealing import new_master_key
from ledger.storage import Database
from projections.keeper import open_view

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock

    from ledger.application import ConsentLedger

runner = CliRunner()
KEY = SigningKey.from_seed("consent-ledger.local/public", bytes(range(32)))


@pytest.fixture(autouse=True)
def no_deployment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its own settings."""
    for name in (
        "DATABASE_URL",
        "SIGNING_KEY",
        "SIGNING_KEY_FILE",
        "LOG_ORIGIN",
        "MASTER_KEY",
        "MASTER_KEY_FILE",
        "WITNESSES",
        "WITNESS_QUORUM",
    ):
        monkeypatch.delenv(f"CONSENT_LEDGER_{name}", raising=False)


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(main_app, list(args), env={"COLUMNS": "300", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def sqlite_ledger(tmp_path: Path, master_key: bytes, clock: FakeClock) -> str:
    """A SQLite database under var/ with a policy and two consents; its URL."""
    database = Database.from_url(f"sqlite:///{tmp_path}/var/ledger.db")
    database.prepare()
    ledger = open_ledger(database, master_key, clock)
    published(ledger)
    consented(ledger, "anna")
    consented(ledger, "boris")
    ledger.close()
    return database.url


def test_a_log_that_signed_checkpoints_is_never_given_a_new_key_when_its_key_file_is_missing(
    sqlite_ledger: str, tmp_path: Path
) -> None:
    assert cli("audit", "checkpoint", "--database-url", sqlite_ledger)[0] == 0
    key_file = tmp_path / "var" / "signing.key"
    key_file.unlink()

    code, out, err = cli("audit", "checkpoint", "--database-url", sqlite_ledger)

    assert code == 1
    assert out == ""
    assert "already holds signed checkpoints but" in err
    assert "signing.key is missing: restore that file" in err
    assert len(err.strip().splitlines()) == 1
    assert not key_file.exists()


def test_a_configured_signing_key_file_that_does_not_exist_is_refused_not_made(
    sqlite_ledger: str, tmp_path: Path
) -> None:
    code, _, err = cli(
        "audit", "checkpoint", "--database-url", sqlite_ledger, "--signing-key-file", str(tmp_path / "nowhere.key")
    )
    assert code == 1
    assert f"the signing key file {tmp_path}/nowhere.key does not exist" in err
    assert not (tmp_path / "nowhere.key").exists()


def test_a_signing_key_kept_wrapped_by_the_master_key_signs_only_with_that_master_key(
    sqlite_ledger: str, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "master.key").write_text(new_master_key() + "\n")
    key_file = secrets / "signing.key"
    key_file.write_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
    before = cli("audit", "public-key", "--database-url", sqlite_ledger, "--signing-key-file", str(key_file))[1]

    code, _, err = cli(
        "audit",
        "wrap-signing-key",
        "--database-url",
        sqlite_ledger,
        "--signing-key-file",
        str(key_file),
        "--master-key-file",
        str(secrets / "master.key"),
    )

    assert code == 0, err
    assert key_file.read_text().startswith("wrapped-by-master-key:")
    assert "AAECAwQF" not in key_file.read_text()
    keyed = {"CONSENT_LEDGER_MASTER_KEY_FILE": str(secrets / "master.key")}
    assert (
        cli("audit", "public-key", "--database-url", sqlite_ledger, "--signing-key-file", str(key_file), env=keyed)[1]
        == before
    )
    code, _, err = cli("audit", "checkpoint", "--database-url", sqlite_ledger, "--signing-key-file", str(key_file))
    assert code == 1
    assert "is wrapped by the master key; configure the master key to sign" in err


def test_a_key_generated_beside_a_sqlite_database_with_its_master_key_is_wrapped(
    sqlite_ledger: str, tmp_path: Path
) -> None:
    (tmp_path / "var" / "master.key").write_text(new_master_key() + "\n")
    code, _, err = cli("audit", "checkpoint", "--database-url", sqlite_ledger)
    assert code == 0, err
    assert "(wrapped by the master key)" in err
    assert (tmp_path / "var" / "signing.key").read_text().startswith("wrapped-by-master-key:")


def test_serve_on_postgresql_without_a_signing_key_is_refused_in_one_line(master_key: bytes, clock: FakeClock) -> None:
    database = fresh_postgres_database()
    try:
        open_ledger(database, master_key, clock).close()
        code, out, err = cli(
            "serve", "--database-url", database.url, env={"CONSENT_LEDGER_MASTER_KEY": new_master_key()}
        )
    finally:
        drop_postgres_schema(database)
    assert code == 1
    assert out == ""
    assert err.strip() == (
        "error: a PostgreSQL deployment needs its signing key: set CONSENT_LEDGER_SIGNING_KEY or pass "
        "--signing-key-file (every process must sign with the same key)"
    )


@pytest.fixture
def public(ledger: ConsentLedger, database: Database) -> Iterator[tuple[TestClient, AuditLog]]:
    log = AuditLog(ledger, KEY)
    published(ledger)
    consented(ledger, "anna")
    app = create_app(ledger, open_view(database))
    serve_log(app, log, quorum=0)
    with TestClient(app) as client:
        yield client, log


def test_the_checkpoint_public_key_and_consistency_proofs_answer_without_a_token(
    public: tuple[TestClient, AuditLog], ledger: ConsentLedger, clock: FakeClock
) -> None:
    client, log = public
    first = log.issue_checkpoint(clock.now)
    consented(ledger, "boris")
    second = log.issue_checkpoint(clock.advance(minutes=5))

    checkpoint = client.get("/v1/log/checkpoint")
    key = client.get("/v1/log/public-key")
    proof = client.get("/v1/log/consistency", params={"old": first.size})

    assert checkpoint.status_code == key.status_code == proof.status_code == 200
    assert checkpoint.headers["content-type"].startswith("text/plain")
    assert checkpoint.text == second.note
    assert "time " not in checkpoint.text  # no extension line: witnesses date checkpoints
    verifier = VerifierKey.parse(key.text)
    assert Checkpoint.parse(verifier.open(checkpoint.text)) == second.checkpoint
    hashes = [strict_b64decode(line) for line in proof.text.splitlines()]
    assert verify_consistency(first.size, second.size, first.checkpoint.root, second.checkpoint.root, hashes)


def test_a_consistency_proof_from_a_size_never_signed_is_a_problem(
    public: tuple[TestClient, AuditLog], clock: FakeClock
) -> None:
    client, log = public
    log.issue_checkpoint(clock.now)
    answer = client.get("/v1/log/consistency", params={"old": 1})
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert "no checkpoint has a tree of 1 events" in answer.json()["detail"]


def test_with_a_quorum_the_public_checkpoint_is_only_one_the_witnesses_cosigned(
    public: tuple[TestClient, AuditLog], clock: FakeClock
) -> None:
    client, log = public
    log.issue_checkpoint(clock.now)
    client.app.state.quorum = 1  # type: ignore[attr-defined]
    answer = client.get("/v1/log/checkpoint")
    assert answer.status_code == 404
    assert "no checkpoint has been cosigned by 1 witness(es) yet" in answer.json()["detail"]


def test_audit_check_names_a_changed_row_and_passes_again_once_it_is_restored(
    sqlite_ledger: str, tmp_path: Path, master_key: bytes
) -> None:
    assert cli("audit", "checkpoint", "--database-url", sqlite_ledger)[0] == 0
    path = tmp_path / "var" / "ledger.db"
    with sqlite3.connect(path) as db:
        (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 4").fetchone()
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = 4", (state.replace(b'"app"', b'"apq"'),))

    code, out, _ = cli("audit", "check", "--database-url", sqlite_ledger)
    assert code == 1
    assert "DAMAGED: 1 finding(s)" in out
    assert "4" in out.split("DAMAGED")[0]
    keyed = {"CONSENT_LEDGER_MASTER_KEY": base64.urlsafe_b64encode(master_key).decode()}
    code, out, err = cli("replay", "--database-url", sqlite_ledger, env=keyed)
    assert code == 1
    assert "a replay would rebuild answers from damaged rows" in err
    assert "the stored event does not hash to the leaf logged for it" in out

    with sqlite3.connect(path) as db:
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = 4", (state,))
    code, out, _ = cli("audit", "check", "--database-url", sqlite_ledger)
    assert code == 0
    assert out.startswith("INTACT: 6 events match their leaves and 1 signed checkpoint(s).")


def test_receipts_subjects_hold_are_never_orphaned_by_a_new_key_when_receipt_key_is_missing(
    sqlite_ledger: str, tmp_path: Path, master_key: bytes
) -> None:
    settings = load_settings(database_url=sqlite_ledger, master_key_file=_master_key_file(tmp_path, master_key))
    ledger = open_ledger(settings.database, master_key)
    try:
        audit_log = open_audit_log(settings, ledger)
        first = open_receipt_key(settings, audit_log)  # the ledger had no receipt key yet: one is made and kept
        key_file = tmp_path / "var" / "receipt.key"
        assert key_file.exists()
        assert open_receipt_key(settings, audit_log).jwk == first.jwk
        key_file.unlink()

        with pytest.raises(StartupError, match=rf"signed receipts with key {first.kid} but .*receipt\.key is missing"):
            open_receipt_key(settings, audit_log)
        assert not key_file.exists()
        other = load_settings(database_url=sqlite_ledger, receipt_key=base64.b64encode(bytes(range(32))).decode())
        refused = rf"is not the key this ledger's receipts were signed with \({first.kid}\)"
        with pytest.raises(StartupError, match=refused):
            open_receipt_key(other, audit_log)
    finally:
        ledger.close()


def _master_key_file(tmp_path: Path, master_key: bytes) -> Path:
    path = tmp_path / "master.key"
    path.write_text(base64.urlsafe_b64encode(master_key).decode())
    return path
