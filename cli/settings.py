"""What a deployment configures: the database, the keys, the log's witnesses, where to listen, the time zone.

Every setting is read from the environment with the prefix `CONSENT_LEDGER_` (for example
`CONSENT_LEDGER_DATABASE_URL`), and a command-line option of the same name wins over it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from audit.witnessing import Witness
from ledger.sealing import MasterKeyError, new_master_key, parse_master_key
from ledger.storage import DEFAULT_TIMEOUT, DEFAULT_URL, Database
from projections.keeper import MAX_LAG_SECONDS

ENV_PREFIX = "CONSENT_LEDGER_"
MASTER_KEY_FILE_NAME = "master.key"
"""The generated key's file name, in the folder of the SQLite database it protects."""

log = logging.getLogger(__name__)


class ConfigurationError(ValueError):
    """The configuration cannot be used; the message says which setting to fix and how."""


class Settings(BaseSettings):
    """The settings of one deployment, validated before anything is opened."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    database_url: str = DEFAULT_URL
    """`sqlite:///path.db` (default: a file under ./var/) or `postgresql://user@host/db?schema=s`."""

    master_key: SecretStr | None = None
    """URL-safe base64 of 32 random bytes; wraps every subject key (crypto-shredding, Art. 1(6))."""

    master_key_file: Path | None = None
    """A file holding the master key, for deployments that mount secrets as files."""

    host: str = "127.0.0.1"
    """The interface the HTTP API listens on."""

    port: int = Field(default=8000, ge=1, le=65535)
    """The TCP port the HTTP API listens on."""

    database_timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=300)
    """Seconds any request waits on the database at most (a lock, a connection, an answer) before it gets a 503."""

    max_view_lag: float = Field(default=MAX_LAG_SECONDS, gt=0, le=3600)
    """Seconds the read model may lag the log: beyond, /readyz says not ready and questions wait, then get a 503."""

    timezone: ZoneInfo = ZoneInfo("Asia/Almaty")
    """The operator's time zone: working-day deadlines (Art. 8(7), 25(2)(8)) count its calendar days."""

    signing_key: SecretStr | None = None
    """Base64 of the log's 32-byte Ed25519 seed: it signs the checkpoints auditors verify with its public half."""

    signing_key_file: Path | None = None
    """A file holding the signing key (plain, or wrapped by the master key: `audit wrap-signing-key`)."""

    receipt_key: SecretStr | None = None
    """Base64 of the 32-byte Ed25519 seed that signs consent receipts (public half: GET /v1/log/receipt-key)."""

    receipt_key_file: Path | None = None
    """A file holding the receipt key (plain, or wrapped by the master key)."""

    log_origin: str | None = Field(default=None, pattern=r"^[^\s+]+$")
    """The log's name in its checkpoints, a schema-less URL (default: consent-ledger.local/<database name>)."""

    witnesses: str = ""
    """Witnesses every checkpoint is submitted to: `<URL>=<witness verifier key>`, separated by commas."""

    witness_quorum: int | None = Field(default=None, ge=0)
    """How many witnesses must cosign a checkpoint before it is served and used (default: 1 when any are set)."""

    checkpoint_interval: float = Field(default=300, ge=0)
    """Seconds between periodic checkpoints by `serve` and `project` (0: none)."""

    integrity_interval: float = Field(default=3600, ge=0)
    """Seconds between integrity sweeps (every stored event rehashed against the tree) by `serve` and `project`."""

    @field_validator("database_url")
    @classmethod
    def _database_url_is_understood(cls, url: str) -> str:
        Database.from_url(url)  # raises DatabaseUrlError, a ValueError, with a message to act on
        return url

    @field_validator("master_key")
    @classmethod
    def _master_key_is_well_formed(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            parse_master_key(key.get_secret_value())  # raises MasterKeyError, a ValueError
        return key

    @model_validator(mode="after")
    def _one_source_of_each_key(self) -> Settings:
        if self.master_key is not None and self.master_key_file is not None:
            msg = f"give {ENV_PREFIX}MASTER_KEY or a master key file, not both"
            raise ValueError(msg)
        if self.signing_key is not None and self.signing_key_file is not None:
            msg = f"give {ENV_PREFIX}SIGNING_KEY or a signing key file, not both"
            raise ValueError(msg)
        if self.receipt_key is not None and self.receipt_key_file is not None:
            msg = f"give {ENV_PREFIX}RECEIPT_KEY or a receipt key file, not both"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _witnesses_can_meet_the_quorum(self) -> Settings:
        witnesses = self.witness_list()  # raises ValueError naming the entry that cannot be read
        if self.witness_quorum is not None and self.witness_quorum > len(witnesses):
            msg = f"{ENV_PREFIX}WITNESS_QUORUM is {self.witness_quorum}, but {len(witnesses)} witness(es) are set"
            raise ValueError(msg)
        return self

    def witness_list(self) -> list[Witness]:
        """The configured witnesses, in order."""
        entries = [e for e in self.witnesses.replace("\n", ",").split(",") if e.strip()]
        return [Witness.parse(e) for e in entries]

    @property
    def quorum(self) -> int:
        """The witness quorum in force: as configured, else 1 when any witness is set, else 0."""
        if self.witness_quorum is not None:
            return self.witness_quorum
        return 1 if self.witnesses.strip() else 0

    @property
    def database(self) -> Database:
        """The parsed database URL."""
        return Database.from_url(self.database_url, timeout=self.database_timeout)


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with command-line values (those not None) on top."""
    given: dict[str, Any] = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as e:
        raise ConfigurationError(_one_line(e)) from None


def _one_line(error: ValidationError) -> str:
    """Say the first problem pydantic found as `setting: what is wrong`."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def master_key_for(settings: Settings, database: Database, *, may_generate: bool = True) -> bytes:
    """Find the master key: configured, read from its file, or (SQLite only) generated beside the database.

    Several PostgreSQL clients must share one key, so a PostgreSQL deployment without one is refused
    rather than left to generate a key per process that the others could not read. A key is generated
    only `may_generate` (for a database with nothing in it yet): a new key could not open what an
    existing database holds.
    """
    if settings.master_key is not None:
        return parse_master_key(settings.master_key.get_secret_value())
    if settings.master_key_file is not None:
        return _read_key_file(settings.master_key_file)
    if database.sqlite_path is None:
        msg = (
            f"a PostgreSQL deployment needs its master key: set {ENV_PREFIX}MASTER_KEY "
            "or pass --master-key-file (every process must use the same key)"
        )
        raise ConfigurationError(msg)
    path = database.sqlite_path.parent / MASTER_KEY_FILE_NAME
    if not may_generate and not path.exists():
        msg = (
            f"{database.sqlite_path} already holds a ledger but {path} is missing: restore that file, or configure "
            f"the key its data were sealed with ({ENV_PREFIX}MASTER_KEY or --master-key-file)"
        )
        raise ConfigurationError(msg)
    if _create_key_file(path):
        log.warning(
            "generated a new master key in %s; a production deployment must supply its own "
            "(%sMASTER_KEY or --master-key-file) and keep it safe: without it no personal value can be read",
            path,
            ENV_PREFIX,
        )
    return _read_key_file(path)


def _create_key_file(path: Path) -> bool:
    """Put a fresh key, readable by its owner only, at `path`; False if a key was already there.

    The key is written to a private temporary file first and then linked into place, so a
    process starting at the same moment reads either no file or a whole key, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".master-key-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(new_master_key() + "\n")
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        Path(temporary).unlink()
    return True


def _read_key_file(path: Path) -> bytes:
    try:
        text = path.read_text()
    except OSError as e:
        msg = f"cannot read the master key file {path}: {e.strerror}"
        raise ConfigurationError(msg) from None
    try:
        return parse_master_key(text)
    except MasterKeyError as e:
        msg = f"the master key file {path} is not usable: {e}"
        raise ConfigurationError(msg) from None
