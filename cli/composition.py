"""Settings in, a ready ledger out: the one place that decides how the parts are put together.

Everything a start can trip over (a URL that points nowhere, a key that is not one, a database
file that is not a database) becomes a `StartupError` whose message names the setting to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit.log import AuditLog
from audit.receipts import ReceiptKeyMismatch, ReceiptKeys
from cli.settings import ConfigurationError, master_key_for
from cli.signing import known_master_key, receipt_key, signing_key, witness_panel
from ledger.application import ConsentLedger, open_ledger, utc_now
from ledger.deadlines import KazakhCalendar
from ledger.sealing import MasterKeyError
from ledger.storage import DRIVER_ERRORS, OPENING_ERRORS, DatabaseUrlError
from projections.keeper import open_view
from projections.projection import LedgerProjection

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from audit.receipts import ReceiptKey
    from cli.settings import Settings
    from ledger.storage import Database
    from projections.view import LedgerView


class StartupError(RuntimeError):
    """The service cannot start with this configuration; the message is one line a person can act on."""


def open_configured_ledger(settings: Settings, clock: Callable[[], datetime] = utc_now) -> ConsentLedger:
    """Open the ledger on the configured database with the configured (or generated) master key.

    `clock` is the ledger's: the real one, except for the demo, which records its history at 2026's times.
    """
    try:
        database = settings.database
        if database.sqlite_path is None:
            master_key = master_key_for(settings, database)  # refused when none is configured
            _require_reachable(database)
        else:
            database.prepare()
            empty = database.holds_nothing()
            master_key = master_key_for(settings, database, may_generate=empty)  # generated beside an empty file
        return open_ledger(database, master_key, clock)
    except (ConfigurationError, DatabaseUrlError, MasterKeyError) as e:
        raise StartupError(str(e)) from None
    except OPENING_ERRORS as e:
        raise StartupError(f"cannot open {url_without_password(settings.database_url)}: {_first_line(e)}") from None


def open_audit_log(settings: Settings, ledger: ConsentLedger) -> AuditLog:
    """The ledger's audit log with its signing key and witnesses; StartupError when the key cannot be had.

    A serving process refuses to start without the key, as without the master key: evidence and
    checkpoints need it, and on PostgreSQL every process must sign with the one key.
    """
    try:
        audit_log = AuditLog(ledger, witnesses=witness_panel(settings))
        audit_log.signing_key = signing_key(settings, audit_log, known_master_key(settings))
    except (ConfigurationError, MasterKeyError) as e:
        raise StartupError(str(e)) from None
    return audit_log


def open_receipt_key(settings: Settings, audit_log: AuditLog) -> ReceiptKey:
    """The key consent receipts are signed with, pinned in the ledger's database; StartupError when it cannot be had."""
    keys = ReceiptKeys(audit_log.tree)
    try:
        return keys.pin(receipt_key(settings, known_master_key(settings), kept=keys.kept()))
    except (ConfigurationError, MasterKeyError, ReceiptKeyMismatch) as e:
        raise StartupError(str(e)) from None


def open_configured_view(settings: Settings) -> LedgerView:
    """Open the read model on the configured database, judging deadlines in the configured time zone."""
    LedgerProjection.calendar = KazakhCalendar(str(settings.timezone))
    return open_view(settings.database)


def _require_reachable(database: Database) -> None:
    """Ask PostgreSQL directly, so that a wrong host or password is reported as such, at once."""
    try:
        database.answers()
    except DRIVER_ERRORS as e:
        where = f"{database.env['POSTGRES_HOST']}:{database.env['POSTGRES_PORT']}"
        raise StartupError(f"cannot reach PostgreSQL at {where}: {_first_line(e)}") from None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def url_without_password(url: str) -> str:
    """Mask the password in a database URL, for messages and summaries that may end up in logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"
