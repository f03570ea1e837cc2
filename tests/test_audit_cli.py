"""`consent-ledger audit` as operators and auditors meet it: sign, export, prove, verify, on each backend."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import orjson
import pytest
from conftest import drop_postgres_schema, fresh_postgres_database
from given import consented, published
from typer.testing import CliRunner

from audit.notes import VerifierKey
from cli.audit_commands import app
from ledger.application import open_ledger

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock

    from ledger.storage import Database

runner = CliRunner()
SEED = base64.b64encode(bytes(range(32))).decode()
ORIGIN = "example.kz/consent-log"


@pytest.fixture(autouse=True)
def no_deployment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its own settings."""
    for name in ("DATABASE_URL", "SIGNING_KEY", "SIGNING_KEY_FILE", "LOG_ORIGIN"):
        monkeypatch.delenv(f"CONSENT_LEDGER_{name}", raising=False)


@pytest.fixture
def recorded(database: Database, master_key: bytes, clock: FakeClock) -> str:
    """A database (each backend) holding a policy and three consents; its URL."""
    ledger = open_ledger(database, master_key, clock)
    published(ledger)
    for n in range(3):
        consented(ledger, f"subject-{n}")
    ledger.close()
    return database.url


def audit(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


KEYED = {"CONSENT_LEDGER_SIGNING_KEY": SEED, "CONSENT_LEDGER_LOG_ORIGIN": ORIGIN}


def test_an_operator_signs_and_exports_and_an_auditor_verifies_with_the_public_key(
    recorded: str, tmp_path: Path
) -> None:
    code, note, _ = audit("checkpoint", "--database-url", recorded, env=KEYED)
    assert code == 0
    assert note.startswith(f"{ORIGIN}\n8\n")
    code, public_key, _ = audit("public-key", "--database-url", recorded, env=KEYED)
    assert code == 0
    assert VerifierKey.parse(public_key).open(note).startswith(ORIGIN)

    out = tmp_path / "log.jsonl"
    code, _, err = audit("export", "--out", str(out), "--database-url", recorded)
    assert code == 0, err
    assert f"exported 8 events (leaves 0 to 7) of {ORIGIN}" in err
    code, verdict, _ = audit("verify", str(out), "--public-key", public_key.strip())
    assert code == 0
    assert verdict.startswith("VERIFIED: 8 events and 1 signed checkpoint agree.")


def test_a_tampered_export_fails_verification_and_names_where(recorded: str, tmp_path: Path) -> None:
    audit("checkpoint", "--database-url", recorded, env=KEYED)
    public_key = audit("public-key", "--database-url", recorded, env=KEYED)[1].strip()
    out = tmp_path / "log.jsonl"
    audit("export", "--out", str(out), "--database-url", recorded)
    lines = out.read_bytes().splitlines(keepends=True)
    event = orjson.loads(lines[4])
    event["version"] += 1
    lines[4] = orjson.dumps(event) + b"\n"
    out.write_bytes(b"".join(lines))

    code, verdict, _ = audit("verify", str(out), "--public-key", public_key)
    assert code == 1
    assert "FAILED" in verdict
    assert "first position that does not match: 1" in verdict


def test_proofs_are_written_by_the_operator_and_verified_by_anyone(recorded: str, tmp_path: Path) -> None:
    audit("checkpoint", "--database-url", recorded, env=KEYED)
    key_file = tmp_path / "log.pub"
    key_file.write_text(audit("public-key", "--database-url", recorded, env=KEYED)[1])
    code, proof, _ = audit("prove", "--position", "3", "--database-url", recorded)
    assert code == 0
    assert orjson.loads(proof)["leaf_index"] == 2
    (tmp_path / "inclusion.json").write_text(proof)
    code, verdict, _ = audit("verify", str(tmp_path / "inclusion.json"), "--public-key", str(key_file))
    assert code == 0
    assert verdict.startswith("VERIFIED: the event at position 3 is leaf 2 of the 8 events")

    audit("checkpoint", "--database-url", recorded, env=KEYED)
    consistency = tmp_path / "consistency.json"
    code, _, _ = audit("prove", "--since-size", "8", "--out", str(consistency), "--database-url", recorded)
    assert code == 0
    assert audit("verify", str(consistency), "--public-key", str(key_file))[0] == 0


def test_with_sqlite_the_signing_key_is_generated_beside_the_database_once(tmp_path: Path, clock: FakeClock) -> None:
    from ledger.storage import Database  # noqa: PLC0415

    database = Database.from_url(f"sqlite:///{tmp_path}/var/ledger.db")
    open_ledger(database, None, clock).close()
    code, _, err = audit("checkpoint", "--database-url", database.url)
    assert code == 0
    assert f"generated a new signing key in {tmp_path}/var/signing.key" in err
    code, _, err = audit("checkpoint", "--database-url", database.url)
    assert code == 0
    assert "generated" not in err
    public_key = audit("public-key", "--database-url", database.url)[1]
    assert public_key.startswith("consent-ledger.local/ledger+")  # the default origin: a URL-like name of this database


def test_a_postgresql_ledger_without_a_signing_key_is_refused_in_one_line(clock: FakeClock) -> None:
    database = fresh_postgres_database()
    try:
        open_ledger(database, None, clock).close()
        code, out, err = audit("checkpoint", "--database-url", database.url)
    finally:
        drop_postgres_schema(database)
    assert code == 1
    assert out == ""
    assert err.strip() == (
        "error: a PostgreSQL deployment needs its signing key: set CONSENT_LEDGER_SIGNING_KEY or pass "
        "--signing-key-file (every process must sign with the same key)"
    )


def test_an_export_with_checkpoint_first_covers_every_event_and_resumes(recorded: str, tmp_path: Path) -> None:
    out = tmp_path / "log.jsonl"
    code, _, err = audit("export", "--out", str(out), "--checkpoint", "--database-url", recorded, env=KEYED)
    assert code == 0, err
    whole = out.read_bytes()
    out.write_bytes(whole[: len(whole) // 2])
    code, _, err = audit("export", "--out", str(out), "--resume", "--database-url", recorded)
    assert code == 0, err
    assert out.read_bytes() == whole


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--out", "{tmp}/exists.jsonl"], "exists.jsonl exists; pass --resume to continue it"),
        (["export", "--out", "{tmp}/log.jsonl"], "no checkpoint has been issued yet"),
        (["prove", "--position", "1"], "no checkpoint has been issued yet"),
        (["prove"], "give either --position (an inclusion proof) or --since-size"),
        (["verify", "{tmp}/exists.jsonl", "--public-key", "not-a-key"], "--public-key: a public key reads"),
    ],
)
def test_bad_requests_get_one_line_and_change_nothing(
    recorded: str, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "exists.jsonl").write_text("{}\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if argv[0] != "verify":
        argv += ["--database-url", recorded]
    code, out, err = audit(*argv)
    assert code == 1
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "exists.jsonl").read_text() == "{}\n"
    assert not (tmp_path / "log.jsonl").exists()


def test_a_database_file_that_does_not_exist_is_not_created(tmp_path: Path) -> None:
    code, _, err = audit("export", "--out", str(tmp_path / "x.jsonl"), "--database-url", f"sqlite:///{tmp_path}/no.db")
    assert code == 1
    assert f"no ledger at sqlite:///{tmp_path}/no.db: the file does not exist" in err
    assert not (tmp_path / "no.db").exists()


def test_help_names_each_command() -> None:
    code, out, _ = audit("--help")
    assert code == 0
    for command in ("checkpoint", "export", "verify", "prove", "public-key"):
        assert command in out
