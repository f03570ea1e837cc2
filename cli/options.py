"""What every command shares: the database option and the consoles it writes to."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from rich.console import Console
from rich.markup import escape


def _flag_shows_no_type(self: typer.core.TyperOption, ctx: object) -> str | None:
    """A flag takes no value, so `--help` shows no `<bool>` after it; other options name their value."""
    if self.is_flag and self.metavar is None:
        return ""
    return _option_type(self, ctx)  # type: ignore[arg-type]


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_shows_no_type  # type: ignore[method-assign]

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="sqlite:///path.db or postgresql://user@host/db?schema=s "
        "(env CONSENT_LEDGER_DATABASE_URL; default sqlite:///var/consent-ledger.db)",
        show_default=False,
        metavar="URL",
    ),
]

SigningKeyFile = Annotated[
    Path | None,
    typer.Option(
        help="A file holding the log's signing key: base64 of a 32-byte Ed25519 seed, or wrapped by the master key "
        "(env CONSENT_LEDGER_SIGNING_KEY_FILE, or the key itself in CONSENT_LEDGER_SIGNING_KEY; with SQLite, "
        "signing.key beside the database, made while the log has signed nothing)",
        show_default=False,
    ),
]


class _WarningsToStderr(logging.Handler):
    """Shows the composition root's warnings (a generated master or signing key) as one line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        """Print `warning: <message>`."""
        stderr.print(f"[yellow]{record.levelname.lower()}:[/] {escape(record.getMessage())}")


def warnings_to_stderr() -> None:
    """Route the CLI's own log records (logger `cli`) to stderr, once."""
    logger = logging.getLogger("cli")
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, _WarningsToStderr) for h in logger.handlers):
        logger.addHandler(_WarningsToStderr(level=logging.WARNING))
