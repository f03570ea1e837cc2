"""The `consent-ledger` command as its users meet it: help, the demo history, errors, and a served API."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger import rules
from ledger.application import ConsentLedger, open_ledger
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from ledger.terms import Actor, ConsentState, DisclosureGround, PolicyId, SubjectId

if TYPE_CHECKING:
    from collections.abc import Iterator

runner = CliRunner()
ALMATY = timezone(timedelta(hours=5))
DEMO_FACTS = 39
SETTINGS = ("DATABASE_URL", "MASTER_KEY", "MASTER_KEY_FILE", "HOST", "PORT", "TIMEZONE")
CONSOLE_SCRIPT = shutil.which("consent-ledger", path=str(Path(sys.executable).parent)) or "consent-ledger"


@pytest.fixture(autouse=True)
def no_deployment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its own settings; none leak in from the environment that runs the suite (or its children)."""
    for name in SETTINGS:
        monkeypatch.delenv(f"CONSENT_LEDGER_{name}", raising=False)


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script the way an operator would, with no terminal and no stdin."""
    return subprocess.run(  # noqa: S603  (our own console script, fixed arguments)
        [CONSOLE_SCRIPT, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


@pytest.fixture
def demo_filled(database: Database, master_key: bytes) -> Iterator[tuple[ConsentLedger, str]]:
    """The demo history recorded by the command into an empty database (each backend), and a ledger reading it."""
    result = runner.invoke(
        app,
        ["demo", "--database-url", database.url],
        env={"CONSENT_LEDGER_MASTER_KEY": base64.urlsafe_b64encode(master_key).decode()},
    )
    assert result.exit_code == 0, result.stderr
    ledger = open_ledger(database, master_key)
    yield ledger, result.stdout
    ledger.close()


def test_help_names_each_command_and_what_it_does() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.stdout
    assert "Serve the HTTP API" in result.stdout
    assert "demo" in result.stdout
    assert "Fill the database with a small, realistic 2026 history" in result.stdout


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("serve", ["--host", "--port", "--database-url", "--master-key-file", "--signing-key-file"]),
        ("demo", ["--database-url"]),
    ],
)
def test_each_command_explains_its_options(command: str, options: list[str]) -> None:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in options:
        assert option in result.stdout
    assert "CONSENT_LEDGER_DATABASE_URL" in result.stdout


def test_the_demo_records_a_realistic_history_that_obeys_the_rules(demo_filled: tuple[ConsentLedger, str]) -> None:
    ledger, output = demo_filled
    assert ledger.max_position() >= DEMO_FACTS
    assert f"{DEMO_FACTS} facts recorded now, 0 already there" in output

    policy = ledger.policy(PolicyId("dala-market-privacy"))
    assert sorted(policy.versions) == ["1", "2"]
    assert policy.versions["1"].effective_from == datetime(2026, 1, 5, 10, tzinfo=ALMATY)
    assert policy.versions["2"].effective_from == datetime(2026, 6, 15, tzinfo=ALMATY)
    assert set(policy.versions["1"].text_sha256) == {"kk", "ru", "en"}

    opted_in = ledger.subject_facts(SubjectId("cust-1001"))[1]
    assert opted_in.event_type == "ConsentGranted"
    assert "4.1.6" in opted_in.fields["purposes"]  # type: ignore[operator]
    assert opted_in.occurred_at == datetime(2026, 1, 12, 19, 42, tzinfo=ALMATY)

    by_parent = ledger.subject_facts(SubjectId("cust-1002"))
    assert by_parent[1].fields["actor"] == Actor.LEGAL_REPRESENTATIVE
    assert by_parent[1].fields["representative"] == "father, N. Seitkali; birth certificate No. 1234567"
    assert [f.event_type for f in by_parent[3:]] == ["DataBlocked", "DataCorrected", "BlockLifted"]

    refused_then_withdrawn = [f.event_type for f in ledger.subject_facts(SubjectId("cust-1003"))]
    assert refused_then_withdrawn[-2:] == ["WithdrawalRefused", "ConsentWithdrawn"]

    facts_of_1004 = ledger.subject_facts(SubjectId("cust-1004"))
    grounds = [f.fields["ground"] for f in facts_of_1004 if f.event_type == "DataDisclosed"]
    assert grounds == [DisclosureGround.WRITTEN_PERMISSION, DisclosureGround.STATE_REQUEST]

    assert ledger.is_destroyed(SubjectId("cust-1005"))
    assert [f.event_type for f in ledger.subject_facts(SubjectId("cust-1005"))][-1] == "DataDestroyed"
    assert ledger.claim("CL-2026-014").answered_at is not None
    assert ledger.claim("CL-2026-021").in_court_since == datetime(2026, 10, 26, 9, tzinfo=ALMATY)
    assert ledger.claimant("CL-2026-021") == "D. Kassymov"
    breach = ledger.breach("BR-2026-002")
    assert breach.authority_told_at is not None
    assert breach.told == {"cust-1001", "cust-1003"} < breach.subject_ids


def test_running_the_demo_again_records_nothing_new(
    demo_filled: tuple[ConsentLedger, str], database: Database, master_key: bytes
) -> None:
    ledger, _ = demo_filled
    before = ledger.max_position()
    again = runner.invoke(
        app,
        ["demo", "--database-url", database.url],
        env={"CONSENT_LEDGER_MASTER_KEY": base64.urlsafe_b64encode(master_key).decode()},
    )
    assert again.exit_code == 0, again.stderr
    assert f"0 facts recorded now, {DEMO_FACTS} already there" in again.stdout
    assert ledger.max_position() == before


def test_by_default_the_database_and_its_generated_key_live_under_var_of_the_working_directory(tmp_path: Path) -> None:
    first = run("demo", cwd=tmp_path)
    second = run("demo", cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["consent-ledger.db", "master.key"]
    assert "generated a new master key in var/master.key" in first.stderr
    assert second.stderr == ""
    assert "sqlite:///var/consent-ledger.db:\n  0 facts recorded now" in second.stdout
    key = parse_master_key((tmp_path / "var" / "master.key").read_text())
    ledger = open_ledger(Database.from_url(f"sqlite:///{tmp_path}/var/consent-ledger.db"), key)
    try:
        evidence = ledger.subject_facts(SubjectId("cust-1006"))[1].fields["evidence"]
    finally:
        ledger.close()
    assert evidence == "ip=89.218.5.77; browser=Chrome 138", "the generated key opens what the demo sealed"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root@localhost/ledger", "error: database_url: unsupported database URL 'mysql://"),
        ("postgresql://postgres:s3cret@127.0.0.1:1/test", "error: cannot reach PostgreSQL at 127.0.0.1:1: connection"),
    ],
)
def test_a_database_that_cannot_be_used_is_reported_in_one_line_without_a_traceback(
    tmp_path: Path, url: str, says: str
) -> None:
    result = run("demo", "--database-url", url, cwd=tmp_path, env={"CONSENT_LEDGER_MASTER_KEY": new_master_key()})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(says)
    assert "s3cret" not in result.stderr
    assert not (tmp_path / "var").exists()


def test_a_file_that_is_not_a_database_is_refused_and_no_key_is_generated_beside_it(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("shopping list\n" * 100)
    result = runner.invoke(app, ["demo", "--database-url", f"sqlite:///{tmp_path}/notes.txt"])
    assert result.exit_code == 1
    said = f"error: cannot open sqlite:///{tmp_path}/notes.txt: file is not a database"
    assert result.stderr.strip().splitlines() == [said]
    assert not (tmp_path / "master.key").exists()


def test_a_master_key_other_than_the_one_the_data_were_sealed_with_is_refused_at_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    assert runner.invoke(app, ["demo", "--database-url", url]).exit_code == 0
    other = runner.invoke(app, ["demo", "--database-url", url], env={"CONSENT_LEDGER_MASTER_KEY": new_master_key()})
    assert other.exit_code == 1
    said = "error: the configured master key is not the one the subject keys were wrapped with"
    assert other.stderr.strip().splitlines() == [said]
    assert isinstance(other.exception, SystemExit)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_with_the_openapi_document_of_the_v1_api(tmp_path: Path) -> None:
    port = free_port()
    key_file = tmp_path / "secret.key"
    key_file.write_text(new_master_key())
    server = subprocess.Popen(  # noqa: S603  (our own console script, fixed arguments)
        [
            CONSOLE_SCRIPT,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--database-url",
            f"sqlite:///{tmp_path}/ledger.db",
            "--master-key-file",
            str(key_file),
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        document = None
        for _ in range(300):  # bounded: up to about a minute on a slow machine
            try:
                document = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).json()
                break
            except httpx.TransportError:
                try:
                    server.wait(timeout=0.2)  # returns only if the server died
                except subprocess.TimeoutExpired:
                    continue
                pytest.fail(f"serve exited with {server.returncode}: {server.communicate()[1]}")
        assert document is not None, "serve did not answer within the retry bound"
        assert any(path.startswith("/v1/") for path in document["paths"])
        assert (tmp_path / "ledger.db").exists()
        assert not (tmp_path / "master.key").exists(), "the key came from --master-key-file"
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert "Application shutdown complete" in errors, "SIGTERM shuts the service down gracefully"
    assert server.returncode == -signal.SIGTERM, "and uvicorn then ends as the signal asked"


def test_the_demo_hands_out_one_token_with_every_scope_once(tmp_path: Path) -> None:
    from api.tokens import Scope, TokenStore  # noqa: PLC0415

    url = f"sqlite:///{tmp_path}/ledger.db"
    first = runner.invoke(app, ["demo", "--database-url", url])
    again = runner.invoke(app, ["demo", "--database-url", url])
    secret = first.stdout.split("sign in at /desk/:\n")[1].split()[0]
    key = parse_master_key((tmp_path / "master.key").read_text())
    ledger = open_ledger(Database.from_url(url), key)
    try:
        token = TokenStore(ledger).authenticate(secret)
    finally:
        ledger.close()
    assert token is not None
    assert set(token.scopes) == set(Scope)
    assert secret not in again.stdout
    assert "Bearer" not in first.stdout, "the bare token, as Swagger's Authorize box and the desk take it"


def test_the_demo_records_each_fact_at_its_own_2026_recording_time_and_says_so(
    demo_filled: tuple[ConsentLedger, str],
) -> None:
    ledger, output = demo_filled
    paper, delivery = ledger.subject_facts(SubjectId("cust-1002"))[1:3]
    assert paper.occurred_at == datetime(2026, 1, 20, 16, tzinfo=ALMATY)
    assert paper.recorded_at == datetime(2026, 2, 16, 11, 20, tzinfo=ALMATY), "the paper form was entered weeks late"
    assert delivery.recorded_at == datetime(2026, 2, 20, 12, 0, 3, tzinfo=ALMATY)
    struck = ledger.subject_facts(SubjectId("cust-1001"))[3:5]
    assert [f.event_type for f in struck] == ["ConsentWithdrawn", "EntryRetracted"]
    assert struck[1].fields["retracted_number"] == struck[0].number
    assert "The demo set the ledger's clock to 2026" in output


def test_the_demos_output_fits_a_narrow_terminal(demo_filled: tuple[ConsentLedger, str]) -> None:
    _, output = demo_filled
    ours = [line for line in output.splitlines() if "://" not in line]  # the database URL is the operator's
    assert max(len(line) for line in ours) <= 72


def test_the_demo_history_is_import_lines_whose_consents_name_the_published_texts() -> None:
    import orjson  # noqa: PLC0415

    from cli.demo import HISTORY  # noqa: PLC0415
    from cli.import_lines import parse_line  # noqa: PLC0415
    from ledger.application import text_sha256  # noqa: PLC0415

    items = [orjson.loads(raw) for raw in HISTORY.read_bytes().splitlines()]
    times = [datetime.fromisoformat(item.pop("recorded_at")) for item in items]
    lines = [parse_line(orjson.dumps(item)) for item in items]
    published = {
        (line.body.version, language): text_sha256(text)
        for line in lines
        if line.op == "publish_policy_version"  # type: ignore[attr-defined]
        for language, text in line.body.texts.items()  # type: ignore[attr-defined]
    }
    consents = [line.body for line in lines if line.op == "grant_consent"]  # type: ignore[attr-defined]
    assert times == sorted(times), "lines in the order the ledger recorded them"
    assert len(consents) == 8
    for body in consents:
        assert body.text_sha256 == published[body.policy_version, body.language]


@pytest.mark.parametrize("command", [[], ["serve"], ["replay"], ["audit", "verify"], ["import"], ["demo"]])
def test_help_reads_well_no_bare_types_after_flags_and_no_eaten_metavars(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    assert "++" not in result.stdout


def test_help_names_every_setting_the_signing_key_included() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})

    for setting in ("DATABASE_URL", "MASTER_KEY_FILE", "SIGNING_KEY", "TIMEZONE", "CHECKPOINT_INTERVAL", "PORT"):
        assert f"CONSENT_LEDGER_{setting}" in result.stdout


def test_the_demo_shows_a_refused_prompt_and_a_consent_that_expired_at_its_term(
    demo_filled: tuple[ConsentLedger, str],
) -> None:
    ledger, _ = demo_filled
    versions = ledger.policy(PolicyId("dala-market-privacy")).versions.values()
    autumn = datetime(2026, 9, 1, tzinfo=ALMATY)

    refused = rules.consent_state(
        ledger.subject(SubjectId("cust-1007")).entries, versions, PolicyId("dala-market-privacy"), autumn
    )
    expired = rules.consent_state(
        ledger.subject(SubjectId("cust-1008")).entries, versions, PolicyId("dala-market-privacy"), autumn
    )

    assert refused is not None
    assert refused.state is ConsentState.REFUSED
    assert expired is not None
    assert (expired.state, expired.since) == (ConsentState.EXPIRED, datetime(2026, 8, 15, tzinfo=ALMATY))
