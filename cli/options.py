"""What every command shares: the database option and the consoles it writes to."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="sqlite:///path.db or postgresql://user@host/db?schema=s "
        "(env CONSENT_LEDGER_DATABASE_URL; default sqlite:///var/consent-ledger.db)",
        show_default=False,
    ),
]
