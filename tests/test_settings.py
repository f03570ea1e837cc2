"""What a deployment configures, and what happens to the master key when it configures none."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.settings import ConfigurationError, load_settings, master_key_for
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import DEFAULT_URL

runner = CliRunner()
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def no_deployment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its own settings; none leak in from the environment that runs the suite."""
    for name in ("DATABASE_URL", "MASTER_KEY", "MASTER_KEY_FILE", "HOST", "PORT", "TIMEZONE"):
        monkeypatch.delenv(f"CONSENT_LEDGER_{name}", raising=False)


def test_with_nothing_configured_the_service_uses_sqlite_under_var_on_localhost_in_almaty_time() -> None:
    settings = load_settings()
    assert settings.database_url == DEFAULT_URL == "sqlite:///var/consent-ledger.db"
    assert settings.database.sqlite_path == Path("var/consent-ledger.db")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.timezone == ZoneInfo("Asia/Almaty")
    assert settings.master_key is None


def test_environment_variables_with_the_prefix_configure_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_LEDGER_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("CONSENT_LEDGER_PORT", "9100")
    monkeypatch.setenv("CONSENT_LEDGER_HOST", "0.0.0.0")  # noqa: S104  (a value under test, not a bind)
    monkeypatch.setenv("CONSENT_LEDGER_TIMEZONE", "Asia/Aqtobe")
    settings = load_settings()
    assert settings.database.backend == "postgres"
    assert (settings.host, settings.port) == ("0.0.0.0", 9100)  # noqa: S104
    assert settings.timezone == ZoneInfo("Asia/Aqtobe")


def test_a_command_line_option_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_LEDGER_PORT", "9100")
    monkeypatch.setenv("CONSENT_LEDGER_DATABASE_URL", POSTGRES)
    settings = load_settings(port=9200, database_url="sqlite:///elsewhere.db", host=None)
    assert settings.port == 9200
    assert settings.database.sqlite_path == Path("elsewhere.db")
    assert settings.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("name", "value", "named", "says"),
    [
        ("DATABASE_URL", "mysql://root@db/ledger", "database_url", "use sqlite:///path.db or postgresql://"),
        ("DATABASE_URL", "sqlite://", "database_url", "no file in"),
        ("MASTER_KEY", "not-a-key", "master_key", "URL-safe base64 of 32 random bytes"),
        ("MASTER_KEY", base64.urlsafe_b64encode(b"short").decode(), "master_key", "must be 32 bytes, got 5"),
        ("PORT", "eighty", "port", "valid integer"),
        ("PORT", "70000", "port", "less than or equal to 65535"),
        ("TIMEZONE", "Asia/Atlantis", "timezone", "invalid timezone"),
    ],
)
def test_a_setting_that_cannot_be_used_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str, says: str
) -> None:
    monkeypatch.setenv(f"CONSENT_LEDGER_{name}", value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(f"{named}: ")
    assert says in message
    assert "\n" not in message


def test_the_master_key_is_never_shown_in_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_master_key()
    monkeypatch.setenv("CONSENT_LEDGER_MASTER_KEY", key)
    settings = load_settings()
    assert key not in repr(settings)
    assert key not in str(settings)


def test_a_master_key_and_a_master_key_file_together_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONSENT_LEDGER_MASTER_KEY", new_master_key())
    with pytest.raises(ConfigurationError, match="not both"):
        load_settings(master_key_file=tmp_path / "master.key")


def test_without_a_configured_key_sqlite_gets_one_generated_beside_its_database_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/data/ledger.db")
    first = master_key_for(settings, settings.database)
    warnings_after_first = [r.getMessage() for r in caplog.records]
    second = master_key_for(settings, settings.database)

    key_file = tmp_path / "data" / "master.key"
    assert first == second == parse_master_key(key_file.read_text())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(warnings_after_first) == 1
    assert "production deployment must supply its own" in warnings_after_first[0]
    assert len(caplog.records) == 1, "reusing the key file is not worth a warning"
    assert [p.name for p in key_file.parent.iterdir()] == ["master.key"], "no temporary file is left behind"


def test_a_configured_master_key_is_used_and_no_key_file_is_written(tmp_path: Path) -> None:
    key = new_master_key()
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/ledger.db", master_key=key)
    assert master_key_for(settings, settings.database) == parse_master_key(key)
    assert not (tmp_path / "master.key").exists()


def test_a_master_key_file_is_read_for_either_backend(tmp_path: Path) -> None:
    key = new_master_key()
    (tmp_path / "secret").write_text(key + "\n")
    settings = load_settings(database_url=POSTGRES, master_key_file=tmp_path / "secret")
    assert master_key_for(settings, settings.database) == parse_master_key(key)


@pytest.mark.parametrize(("content", "says"), [(None, "cannot read the master key file"), ("xyz", "is not usable")])
def test_a_missing_or_malformed_master_key_file_is_refused(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/ledger.db", master_key_file=path)
    with pytest.raises(ConfigurationError, match=says):
        master_key_for(settings, settings.database)
    assert not (tmp_path / "master.key").exists(), "a broken key file is not silently replaced by a new key"


def test_postgresql_without_a_configured_master_key_is_refused() -> None:
    settings = load_settings(database_url=POSTGRES)
    with pytest.raises(ConfigurationError, match="PostgreSQL deployment needs its master key"):
        master_key_for(settings, settings.database)


def test_two_starts_on_sqlite_share_one_generated_key_and_only_the_first_warns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    first = runner.invoke(app, ["demo", "--database-url", url])
    key = (tmp_path / "master.key").read_text()
    second = runner.invoke(app, ["demo", "--database-url", url])

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert "warning: generated a new master key" in first.stderr
    assert "CONSENT_LEDGER_MASTER_KEY or --master-key-file" in first.stderr
    assert "warning" not in second.stderr
    assert (tmp_path / "master.key").read_text() == key
    assert "0 facts recorded now" in second.stdout, "the second start read what the first one sealed"


def test_a_database_sealed_with_a_configured_key_is_not_given_a_new_one_when_the_key_is_left_out(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    sealed = runner.invoke(app, ["demo", "--database-url", url], env={"CONSENT_LEDGER_MASTER_KEY": new_master_key()})
    assert sealed.exit_code == 0, sealed.stderr
    without_key = runner.invoke(app, ["demo", "--database-url", url])
    assert without_key.exit_code == 1
    said = (
        f"error: {tmp_path}/ledger.db already holds a ledger but {tmp_path}/master.key is missing: restore that "
        "file, or configure the key its data were sealed with (CONSENT_LEDGER_MASTER_KEY or --master-key-file)"
    )
    assert without_key.stderr.strip().splitlines() == [said]
    assert not (tmp_path / "master.key").exists()


def test_a_start_on_postgresql_without_a_master_key_is_refused_in_one_line() -> None:
    result = runner.invoke(app, ["demo", "--database-url", POSTGRES])
    assert result.exit_code == 1
    said = (
        "error: a PostgreSQL deployment needs its master key: set CONSENT_LEDGER_MASTER_KEY or pass "
        "--master-key-file (every process must use the same key)"
    )
    assert result.stderr.strip().splitlines() == [said]
