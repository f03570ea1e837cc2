"""`consent-ledger token`: make, list and revoke the bearer tokens that callers of the HTTP API present.

A token's secret is printed once, by `create`, and stored only as its SHA-256; whoever loses it
gets a new token. A revoked token fails at once in every server process on the same database.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from api.tokens import Scope, TokenStore
from cli.composition import url_without_password
from cli.options import DatabaseUrl, stderr, stdout
from cli.settings import ConfigurationError, load_settings
from ledger.application import open_ledger
from ledger.errors import LedgerError
from ledger.storage import DRIVER_ERRORS, OPENING_ERRORS

if TYPE_CHECKING:
    from collections.abc import Iterator

app = typer.Typer(
    name="token",
    help="Make, list and revoke the bearer tokens of the HTTP API: each has a name (recorded on every fact it "
    "writes) and scopes (write, read, evidence, audit, admin).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)

Name = Annotated[str, typer.Argument(help="The caller's name, e.g. orders-service; events keep it", show_default=False)]


@app.command()
def create(
    name: Name,
    scope: Annotated[
        list[Scope], typer.Option("--scope", help="A scope to grant; repeat for several", show_default=False)
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Make a token and print its secret, once: it is stored only as a hash and cannot be shown again."""
    with _tokens(database_url, must_exist=False) as tokens:
        secret = tokens.create(name, set(scope), tokens.ledger.clock())
    stderr.print(f"token {escape(name)!r} with {', '.join(sorted(scope))}; keep this secret, it is not shown again:")
    stdout.print(secret)


@app.command("list")
def list_tokens(database_url: DatabaseUrl = None) -> None:
    """List every token: name, scopes, when made, when revoked (never a secret: none is kept)."""
    with _tokens(database_url) as tokens:
        rows = tokens.tokens()
    table = Table("name", "scopes", "created", "revoked", box=None, pad_edge=False)
    for t in rows:
        table.add_row(escape(t.name), " ".join(sorted(t.scopes)), _utc(t.created_at), _utc(t.revoked_at))
    stdout.print(table)


@app.command()
def revoke(name: Name, database_url: DatabaseUrl = None) -> None:
    """Revoke a token: every server on this database refuses it from its next request on."""
    with _tokens(database_url) as tokens:
        tokens.revoke(name, tokens.ledger.clock())
    stderr.print(f"token {escape(name)!r} revoked")


@contextmanager
def _tokens(database_url: str | None, *, must_exist: bool = True) -> Iterator[TokenStore]:
    """The token table of the configured database (no master key needed); every failure as one line."""
    try:
        settings = load_settings(database_url=database_url)
    except ConfigurationError as e:
        _fail(str(e))
    database = settings.database
    where = url_without_password(settings.database_url)
    if must_exist and database.sqlite_path is not None and not database.sqlite_path.exists():
        _fail(f"no ledger at {where}: the file does not exist")
    try:
        ledger = open_ledger(database, None)
    except OPENING_ERRORS as e:
        _fail(f"cannot open {where}: {_first_line(e)}")
    try:
        yield TokenStore(ledger)
    except LedgerError as e:
        _fail(str(e))
    except DRIVER_ERRORS as e:
        _fail(f"the database {where} failed: {_first_line(e)}")
    finally:
        ledger.close()


def _utc(stamp: str | None) -> str:
    """A stored time as the operator reads it: UTC to the second."""
    return "" if stamp is None else datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code=1)
