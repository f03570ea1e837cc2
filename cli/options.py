"""What every command shares: the database option and the consoles it writes to."""

from __future__ import annotations

from typing import Annotated

import typer
import typer.core
from rich.console import Console


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
