"""Settings in, the log's signing key, origin and witnesses out: how every command finds what the audit log needs.

The signing key is configured like the master key, beside it: CONSENT_LEDGER_SIGNING_KEY (base64
of the seed) or a key file (CONSENT_LEDGER_SIGNING_KEY_FILE, plain or wrapped by the master key).
With SQLite and neither, `signing.key` beside the database is used, and made (wrapped by the
master key) only while the log has signed nothing: a log with checkpoints whose key file is gone
is refused, since a new key could not be verified with the public key auditors hold. PostgreSQL
needs it configured, because every process must sign with the same key.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from audit.notes import NoteError, SigningKey
from audit.receipts import ReceiptKey
from audit.signing_keys import RECEIPT_PURPOSE, create_signing_key_file, read_signing_key
from audit.witnessing import WitnessPanel
from cli.settings import ENV_PREFIX, MASTER_KEY_FILE_NAME, ConfigurationError, master_key_for

if TYPE_CHECKING:
    from pathlib import Path

    from audit.log import AuditLog
    from cli.settings import Settings
    from ledger.storage import Database

SIGNING_KEY_FILE_NAME = "signing.key"
"""The generated signing key's file name, in the folder of the SQLite database whose log it signs."""

ORIGIN_HOST = "consent-ledger.local"
"""The host part of the default origin: a schema-less URL, as C2SP tlog-checkpoint recommends, that names no one."""

log = logging.getLogger(__name__)


def default_origin(database: Database) -> str:
    """`consent-ledger.local/<database name>`: the SQLite file's name, or PostgreSQL's database (and schema)."""
    return f"{ORIGIN_HOST}/{database.name}"


def log_origin(settings: Settings, audit_log: AuditLog) -> str:
    """The origin configured, else that of the checkpoints already signed, else the default one."""
    if settings.log_origin:
        return settings.log_origin
    latest = audit_log.latest_checkpoint()
    return latest.checkpoint.origin if latest is not None else default_origin(settings.database)


def known_master_key(settings: Settings) -> bytes | None:
    """The master key if one is configured or lies beside the SQLite database, else None (never one made up)."""
    database = settings.database
    beside = database.sqlite_path is not None and (database.sqlite_path.parent / MASTER_KEY_FILE_NAME).exists()
    if settings.master_key is None and settings.master_key_file is None and not beside:
        return None
    return master_key_for(settings, database, may_generate=False)


def signing_key(settings: Settings, audit_log: AuditLog, master_key: bytes | None) -> SigningKey:
    """The log's signing key under its origin; ConfigurationError in one line when it cannot be had."""
    origin = log_origin(settings, audit_log)
    try:
        if settings.signing_key is not None:
            key = SigningKey.from_base64(origin, settings.signing_key.get_secret_value())
        else:
            key = read_signing_key(_key_file(settings, audit_log, master_key), origin, master_key)
    except NoteError as e:
        raise ConfigurationError(str(e)) from None
    latest = audit_log.latest_checkpoint()
    if latest is not None:
        try:
            key.verifier.open(latest.note)
        except NoteError:
            msg = (
                f"the configured signing key ({key.verifier}) did not sign this log's checkpoints; configure the key "
                "that did: auditors verify with its public half"
            )
            raise ConfigurationError(msg) from None
    return key


def _key_file(settings: Settings, audit_log: AuditLog, master_key: bytes | None) -> Path:
    database = settings.database
    if settings.signing_key_file is not None:
        if not settings.signing_key_file.exists():
            msg = f"the signing key file {settings.signing_key_file} does not exist"
            raise ConfigurationError(msg)
        return settings.signing_key_file
    if database.sqlite_path is None:
        msg = (
            f"a PostgreSQL deployment needs its signing key: set {ENV_PREFIX}SIGNING_KEY or pass --signing-key-file "
            "(every process must sign with the same key)"
        )
        raise ConfigurationError(msg)
    path = database.sqlite_path.parent / SIGNING_KEY_FILE_NAME
    if not path.exists():
        if audit_log.latest_checkpoint() is not None:
            msg = (
                f"{database.sqlite_path} already holds signed checkpoints but {path} is missing: restore that file, "
                f"or configure the key they were signed with ({ENV_PREFIX}SIGNING_KEY or --signing-key-file)"
            )
            raise ConfigurationError(msg)
        if create_signing_key_file(path, master_key):
            log.warning(
                "generated a new signing key in %s%s; keep it with the master key and give auditors its public key "
                "(`consent-ledger audit public-key`)",
                path,
                " (wrapped by the master key)" if master_key is not None else "",
            )
    return path


RECEIPT_KEY_FILE_NAME = "receipt.key"
"""The generated receipt key's file name, beside the SQLite database whose receipts it signs."""


def receipt_key(settings: Settings, master_key: bytes | None, *, kept: str | None) -> ReceiptKey:
    """The key consent receipts are signed with, found like the signing key; ConfigurationError when it cannot be.

    With SQLite and none configured, `receipt.key` beside the database is used, and made (wrapped by
    the master key) when it is missing, unless the ledger `kept` a receipt key already: subjects hold
    receipts signed by it, and a new key would leave every one of them unverifiable.
    """
    try:
        if settings.receipt_key is not None:
            return ReceiptKey(SigningKey.from_base64("receipt", settings.receipt_key.get_secret_value()).private_key)
        path = settings.receipt_key_file
        if path is not None and not path.exists():
            msg = f"the receipt key file {path} does not exist"
            raise ConfigurationError(msg)
        if path is None:
            path = _receipt_key_file(settings.database, master_key, kept=kept)
        return ReceiptKey(read_signing_key(path, "receipt", master_key, RECEIPT_PURPOSE).private_key)
    except NoteError as e:
        raise ConfigurationError(str(e)) from None


def _receipt_key_file(database: Database, master_key: bytes | None, *, kept: str | None) -> Path:
    if database.sqlite_path is None:
        msg = (
            f"a PostgreSQL deployment needs its receipt key: set {ENV_PREFIX}RECEIPT_KEY or "
            f"{ENV_PREFIX}RECEIPT_KEY_FILE (every process must sign receipts with the same key)"
        )
        raise ConfigurationError(msg)
    path = database.sqlite_path.parent / RECEIPT_KEY_FILE_NAME
    if not path.exists() and kept is not None:
        msg = (
            f"{database.sqlite_path} signed receipts with key {kept} but {path} is missing: restore that file, or "
            f"configure that key ({ENV_PREFIX}RECEIPT_KEY or {ENV_PREFIX}RECEIPT_KEY_FILE)"
        )
        raise ConfigurationError(msg)
    if not path.exists() and create_signing_key_file(path, master_key, RECEIPT_PURPOSE):
        log.warning("generated a new receipt key in %s; keep it with the master key", path)
    return path


def witness_panel(settings: Settings) -> WitnessPanel | None:
    """The configured witnesses and quorum, or None when no witness is configured."""
    witnesses = settings.witness_list()
    return WitnessPanel(witnesses, settings.quorum) if witnesses else None
