"""`consent-ledger audit evidence` and `audit verify --bundle`: the operator writes the bundle, the court checks it."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import TYPE_CHECKING

import orjson
import pytest
from test_audit_cli import KEYED, audit
from test_evidence import KEY, PAPER, PAPER_SIGNED, PUBLIC, dispute

from audit.evidence_statements import NO_KEY
from ledger.application import open_ledger

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock

    from ledger.storage import Database

MOMENT = (PAPER_SIGNED + timedelta(days=1)).isoformat()


@pytest.fixture(autouse=True)
def no_deployment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its own settings."""
    for name in ("DATABASE_URL", "SIGNING_KEY", "SIGNING_KEY_FILE", "LOG_ORIGIN", "MASTER_KEY", "MASTER_KEY_FILE"):
        monkeypatch.delenv(f"CONSENT_LEDGER_{name}", raising=False)


@pytest.fixture
def recorded(database: Database, master_key: bytes, clock: FakeClock) -> str:
    ledger = open_ledger(database, master_key, clock)
    dispute(ledger, clock)
    ledger.close()
    return database.url


def test_the_operator_writes_a_bundle_and_anyone_verifies_it_with_the_public_key(recorded: str, tmp_path: Path) -> None:
    out = tmp_path / "evidence.json"

    code, _, err = audit(
        "evidence", "--subject", PAPER, "--at", MOMENT, "--out", str(out), "--database-url", recorded, env=KEYED
    )
    checked = audit("verify", "--bundle", str(out), "--public-key", PUBLIC)

    assert code == 0, err
    bundle = orjson.loads(out.read_bytes())
    assert bundle["answer"]["policies"][0]["accepted_recorded_after_t"] is True
    assert bundle["personal_values"] == {"key": None, "values": None, "why_absent": NO_KEY}
    assert checked[0] == 0, checked
    assert "VERIFIED: every statement of the bundle follows from its" in checked[1]


def test_with_the_master_key_the_bundle_shows_the_personal_values_and_the_key_that_proves_them(
    recorded: str, master_key: bytes, tmp_path: Path
) -> None:
    out = tmp_path / "evidence.json"
    env = {**KEYED, "CONSENT_LEDGER_MASTER_KEY": base64.urlsafe_b64encode(master_key).decode()}

    code, _, err = audit(
        "evidence", "--subject", PAPER, "--at", MOMENT, "--out", str(out), "--database-url", recorded, env=env
    )

    assert code == 0, err
    [opened] = orjson.loads(out.read_bytes())["personal_values"]["values"]
    assert opened["fields"] == {"evidence": "form 17/2026, signed in the Almaty office"}
    assert audit("verify", "--bundle", str(out), "--public-key", PUBLIC)[0] == 0


def test_a_bundle_with_one_changed_byte_fails_verify_with_exit_1(recorded: str, tmp_path: Path) -> None:
    out = tmp_path / "evidence.json"
    audit("evidence", "--subject", PAPER, "--at", MOMENT, "--out", str(out), "--database-url", recorded, env=KEYED)
    bundle = orjson.loads(out.read_bytes())
    state = bytearray(base64.b64decode(bundle["events"][-1]["stored"]["state"]))
    state[5] ^= 1
    bundle["events"][-1]["stored"]["state"] = base64.b64encode(bytes(state)).decode()
    out.write_bytes(orjson.dumps(bundle))

    code, stdout, _ = audit("verify", "--bundle", str(out), "--public-key", PUBLIC)

    assert code == 1
    assert "FAILED" in stdout


def test_the_html_page_is_written_with_html(recorded: str, tmp_path: Path) -> None:
    out = tmp_path / "evidence.html"

    code, _, err = audit(
        "evidence",
        "--subject",
        PAPER,
        "--at",
        MOMENT,
        "--html",
        "--out",
        str(out),
        "--database-url",
        recorded,
        env=KEYED,
    )

    assert code == 0, err
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'id="timeline"' in page
    assert str(KEY.verifier) in page


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--at", "2026-03-05T09:00:00"], "no offset"),
        (["--at", "yesterday"], "not an ISO 8601 time"),
        (["--subject", "nobody"], "not recorded"),
    ],
)
def test_bad_input_gets_one_line_and_exit_1(recorded: str, tmp_path: Path, args: list[str], says: str) -> None:
    given = {"--subject": PAPER, "--at": MOMENT, **dict(zip(args[::2], args[1::2], strict=True))}
    flat = [part for pair in given.items() for part in pair]

    code, _, err = audit("evidence", *flat, "--out", str(tmp_path / "e.json"), "--database-url", recorded, env=KEYED)

    assert code == 1
    assert says in err
    assert not (tmp_path / "e.json").exists()


def test_verify_still_checks_exports_and_wants_exactly_one_thing_to_check(recorded: str, tmp_path: Path) -> None:
    export = tmp_path / "log.jsonl"
    audit("export", "--checkpoint", "--out", str(export), "--database-url", recorded, env=KEYED)

    assert audit("verify", str(export), "--public-key", PUBLIC)[0] == 0
    neither = audit("verify", "--public-key", PUBLIC)
    assert neither[0] == 1
    assert "either" in neither[2]
