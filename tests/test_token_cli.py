"""`consent-ledger token`: an operator makes, lists and revokes tokens; the secret is shown once and never kept."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app
from ledger.application import open_ledger

if TYPE_CHECKING:
    from pathlib import Path

    from ledger.storage import Database

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_deployment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENT_LEDGER_DATABASE_URL", raising=False)


def token(*args: str, url: str):
    return runner.invoke(app, ["token", *args, "--database-url", url])


def test_a_token_made_on_the_command_line_is_printed_once_and_lets_its_holder_in(database: Database, master_key):
    made = token("create", "orders-service", "--scope", "write", "--scope", "read", url=database.url)
    assert made.exit_code == 0, made.stderr
    secret = made.stdout.strip()
    assert len(secret) >= 43
    assert "not shown again" in made.stderr

    ledger = open_ledger(database, master_key)
    try:
        with TestClient(create_app(ledger)) as client:
            answer = client.get("/v1/deadlines", headers={"Authorization": f"Bearer {secret}"})
            audit = client.get("/v1/access-log", headers={"Authorization": f"Bearer {secret}"})
    finally:
        ledger.close()
    assert answer.status_code == 503  # let in: the server was started without a read model to answer from
    assert audit.status_code == 403
    listed = token("list", url=database.url)
    assert "orders-service" in listed.stdout
    assert "read write" in listed.stdout
    assert secret not in listed.stdout


def test_the_secret_is_never_stored_in_clear(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    made = token("create", "disputes-team", "--scope", "evidence", url=url)
    assert made.exit_code == 0, made.stderr
    secret = made.stdout.strip()

    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert b"disputes-team" in stored  # the table is there, in these files
    assert secret.encode() not in stored


def test_a_revoked_token_is_listed_as_revoked_and_refused(database: Database, master_key):
    secret = token("create", "old-service", "--scope", "read", url=database.url).stdout.strip()

    revoked = token("revoke", "old-service", url=database.url)

    assert revoked.exit_code == 0, revoked.stderr
    ledger = open_ledger(database, master_key)
    try:
        with TestClient(create_app(ledger)) as client:
            answer = client.get("/v1/deadlines", headers={"Authorization": f"Bearer {secret}"})
    finally:
        ledger.close()
    assert answer.status_code == 401
    listed = token("list", url=database.url).stdout
    assert "old-service" in listed
    row = next(line for line in listed.splitlines() if "old-service" in line)
    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", row)) == 2  # made, and revoked


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "x", "--scope", "root"], "'root' is not one of"),
        (["create", "x"], "Missing option '--scope'"),
        (["create", "a\tb", "--scope", "read"], "one line of 1 to 100 characters"),
        (["create", "y" * 101, "--scope", "read"], "one line of 1 to 100 characters"),
        (["revoke", "nobody"], "no token is named 'nobody'"),
    ],
)
def test_a_bad_token_command_is_one_line_on_stderr_and_changes_nothing(tmp_path: Path, args, message):
    url = f"sqlite:///{tmp_path}/ledger.db"
    assert token("create", "existing", "--scope", "read", url=url).exit_code == 0

    result = token(*args, url=url)

    assert result.exit_code != 0
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert token("list", url=url).stdout.count("\n") == 2  # the header and `existing`


def test_a_name_cannot_be_made_twice_nor_revoked_twice(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    token("create", "svc", "--scope", "read", url=url)
    again = token("create", "svc", "--scope", "write", url=url)
    assert again.exit_code == 1
    assert "exists" in again.stderr
    token("revoke", "svc", url=url)
    twice = token("revoke", "svc", url=url)
    assert twice.exit_code == 1
    assert "already revoked" in twice.stderr
    assert "error:" in twice.stderr
    assert len(twice.stderr.strip().splitlines()) == 1


def test_listing_the_tokens_of_a_ledger_that_does_not_exist_is_a_one_line_error(tmp_path: Path):
    result = token("list", url=f"sqlite:///{tmp_path}/nowhere.db")

    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nowhere.db").exists()
