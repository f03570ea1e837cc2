"""`consent-ledger audit`: sign checkpoints, export the log, prove events, and verify with no access to us.

`checkpoint`, `export`, `prove` and `public-key` run at the operator's side, on the ledger's
database (no master key is needed: they read stored bytes, never personal values). `verify`
runs anywhere: it reads an export or a proof document and the public key given on the command
line, and nothing else, and exits 1 unless everything holds.

The signing key is CONSENT_LEDGER_SIGNING_KEY (base64 of a 32-byte Ed25519 seed), or a key
file (--signing-key-file, env CONSENT_LEDGER_SIGNING_KEY_FILE), or, with SQLite, `signing.key`
beside the database, generated on first use like the master key. The log's name (its origin)
is --origin (env CONSENT_LEDGER_LOG_ORIGIN); once checkpoints exist, it is theirs.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import psycopg
import typer
from eventsourcing.persistence import PersistenceError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from audit.export import export_file, resume_export
from audit.log import AuditLog
from audit.notes import NoteError, SigningKey, VerifierKey, load_or_create_signing_key
from audit.verify import verify_file
from cli.composition import url_without_password
from cli.settings import ConfigurationError, load_settings
from ledger.application import ConsentLedger, open_ledger
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ledger.storage import Database

SIGNING_KEY_ENV = "CONSENT_LEDGER_SIGNING_KEY"
"""The base64 of the ledger's 32-byte Ed25519 seed, for deployments that pass secrets in the environment."""

SIGNING_KEY_FILE_NAME = "signing.key"
"""The generated signing key's file name, in the folder of the SQLite database whose log it signs."""

DEFAULT_ORIGIN = "consent-ledger"
"""The log's name when none is configured and no checkpoint names it yet."""

app = typer.Typer(
    name="audit",
    help=(
        "Prove that the history shown is the history recorded: signed checkpoints of an RFC 9162 Merkle tree "
        "over every event, exports and proofs that anyone can verify offline with the ledger's public key."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="sqlite:///path.db or postgresql://user@host/db?schema=s (env CONSENT_LEDGER_DATABASE_URL)",
        show_default=False,
    ),
]
SigningKeyFile = Annotated[
    Path | None,
    typer.Option(
        envvar="CONSENT_LEDGER_SIGNING_KEY_FILE",
        help=f"A file holding the base64 Ed25519 seed (or the seed itself in {SIGNING_KEY_ENV}; with SQLite, "
        f"{SIGNING_KEY_FILE_NAME} beside the database, generated on first use)",
        show_default=False,
    ),
]
Origin = Annotated[
    str | None,
    typer.Option(
        envvar="CONSENT_LEDGER_LOG_ORIGIN",
        help=f"The log's name in its checkpoints, e.g. example.kz/consent-log (default: that of the checkpoints "
        f"already issued, else {DEFAULT_ORIGIN})",
        show_default=False,
    ),
]


@app.command()
def checkpoint(
    database_url: DatabaseUrl = None, signing_key_file: SigningKeyFile = None, origin: Origin = None
) -> None:
    """Bring the Merkle tree up to the newest event and sign a checkpoint of it now; print the signed note."""
    with _ledger(database_url) as (ledger, database):
        log = AuditLog(ledger)
        log.signing_key = _signing_key(database, _origin(log, origin), signing_key_file)
        with _bar("hashing events", total=ledger.max_position()) as advance:
            issued = log.issue_checkpoint(ledger.clock(), progress=advance)
    stderr.print(f"checkpoint {issued.number}: {issued.size} events, root {issued.checkpoint.root.hex()}")
    stdout.print(escape(issued.note), end="")


@app.command("public-key")
def public_key(
    database_url: DatabaseUrl = None, signing_key_file: SigningKeyFile = None, origin: Origin = None
) -> None:
    """Print the public key (a C2SP signed-note verifier key) that auditors check checkpoints against."""
    with _ledger(database_url) as (ledger, database):
        key = _signing_key(database, _origin(AuditLog(ledger), origin), signing_key_file)
    stdout.print(str(key.verifier))


@app.command()
def export(  # noqa: PLR0917  (typer passes options by name; each is one the operator may need)
    out: Annotated[Path, typer.Option("--out", help="The JSON Lines file to write")],
    from_position: Annotated[int, typer.Option("--from", min=1, help="The first log position to export")] = 1,
    to_position: Annotated[
        int | None, typer.Option("--to", min=1, help="The last log position (default: the newest checkpoint's)",
                                 show_default=False)
    ] = None,
    checkpoint_first: Annotated[
        bool, typer.Option("--checkpoint", help="Sign a checkpoint of every event first, so the export has them all")
    ] = False,
    resume: Annotated[bool, typer.Option(help="Continue an export that was cut short in --out")] = False,
    database_url: DatabaseUrl = None,
    signing_key_file: SigningKeyFile = None,
    origin: Origin = None,
) -> None:
    """Write the log (or positions --from..--to) with its signed checkpoints as JSON Lines, for `verify`."""
    if out.exists() and not resume:
        _fail(f"{out} exists; pass --resume to continue it, or choose another file")
    if resume and not out.exists():
        _fail(f"{out} does not exist; there is nothing to resume")
    if resume and from_position != 1:
        _fail("--resume continues the file's own range; leave out --from")
    with _ledger(database_url) as (ledger, database):
        log = AuditLog(ledger)
        if checkpoint_first:
            log.signing_key = _signing_key(database, _origin(log, origin), signing_key_file)
            with _bar("hashing events", total=ledger.max_position()) as advance:
                log.issue_checkpoint(ledger.clock(), progress=advance)
        with _bar("exporting events", total=None) as advance:
            if resume:
                plan = resume_export(log, out, to_position=to_position, progress=advance)
            else:
                plan = export_file(log, out, from_position=from_position, to_position=to_position, progress=advance)
    stderr.print(f"exported {plan.events} events (leaves {plan.start} to {plan.end - 1}) of {plan.origin} to {out}")


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="An export, or a proof document written by `prove`",
                                         exists=True, dir_okay=False, readable=True)],
    public_key: Annotated[str, typer.Option(help="The log's verifier key <name>+<key id>+<key>, or a file holding it")],
) -> None:
    """Check an export or a proof offline against the public key: exit 0 if everything holds, 1 if not.

    An export is rehashed from its events alone; every checkpoint's signature, root, date and
    consistency with the one before are checked, and a failure names the first position that
    does not match.
    """
    key = _verifier(public_key)
    total = file.stat().st_size
    with Progress(
        TextColumn("verifying"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[events]} events"),
        TransferSpeedColumn(), TimeRemainingColumn(), console=stderr, transient=True,
    ) as bar:
        task = bar.add_task("verify", total=total, events=0)
        verdict = verify_file(file, key, progress=lambda done, events: bar.update(task, completed=done, events=events))
    colour = "green" if verdict.ok else "red"
    stdout.print(f"[bold {colour}]{escape(verdict.summary())}[/]")
    if not verdict.ok:
        raise typer.Exit(code=1)


@app.command()
def prove(
    position: Annotated[int | None, typer.Option(min=1, help="Prove that the event at this log position is in the log",
                                                 show_default=False)] = None,
    since_size: Annotated[int | None, typer.Option(min=0, help="Prove the log only grew since its checkpoint of "
                                                   "this many events", show_default=False)] = None,
    size: Annotated[int | None, typer.Option(min=0, help="Against the checkpoint of this many events (default: "
                                             "the newest)", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(help="Write the proof here instead of to stdout",
                                             show_default=False)] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write an inclusion proof (--position) or a consistency proof (--since-size), with its signed checkpoints."""
    if (position is None) == (since_size is None):
        _fail("give either --position (an inclusion proof) or --since-size (a consistency proof)")
    with _ledger(database_url) as (ledger, _):
        log = AuditLog(ledger)
        if position is not None:
            document = log.inclusion_proof(position, size).to_json()
        else:
            assert since_size is not None  # noqa: S101  (checked above)
            document = log.consistency_proof(since_size, size).to_json()
    if out is None:
        stdout.print(escape(document.decode()), end="")
    else:
        out.write_bytes(document)
        stderr.print(f"proof written to {out}")


# Composition.


@contextmanager
def _ledger(database_url: str | None) -> Iterator[tuple[ConsentLedger, Database]]:
    """The ledger on the configured database, without its master key; every failure as one line."""
    try:
        settings = load_settings(database_url=database_url)
    except ConfigurationError as e:
        _fail(str(e))
    database = settings.database
    where = url_without_password(settings.database_url)
    if database.sqlite_path is not None and not database.sqlite_path.exists():
        _fail(f"no ledger at {where}: the file does not exist")
    try:
        ledger = open_ledger(database, None)
    except (OSError, sqlite3.Error, psycopg.Error, PersistenceError) as e:
        _fail(f"cannot open {where}: {_first_line(e)}")
    try:
        yield ledger, database
    except (LedgerError, NoteError) as e:
        _fail(str(e))
    except LookupError as e:
        _fail(f"the audit tables of {where} are damaged: {e}")
    except (sqlite3.Error, psycopg.Error, PersistenceError) as e:
        _fail(f"the database {where} failed: {_first_line(e)}")
    finally:
        ledger.close()


def _origin(log: AuditLog, given: str | None) -> str:
    """The origin asked for, else that of the checkpoints already issued, else the default."""
    if given:
        return given
    latest = log.latest_checkpoint()
    return latest.checkpoint.origin if latest is not None else DEFAULT_ORIGIN


def _signing_key(database: Database, origin: str, key_file: Path | None) -> SigningKey:
    """The ledger's signing key: from the environment, a key file, or (SQLite) generated beside the database."""
    try:
        seed = os.environ.get(SIGNING_KEY_ENV)
        if seed:
            return SigningKey.from_base64(origin, seed)
        if key_file is None and database.sqlite_path is None:
            _fail(
                f"a PostgreSQL deployment needs its signing key: set {SIGNING_KEY_ENV} or pass --signing-key-file "
                "(every process must sign with the same key)"
            )
        path = key_file if key_file is not None else database.sqlite_path.parent / SIGNING_KEY_FILE_NAME  # type: ignore[union-attr]
        key, created = load_or_create_signing_key(path, origin)
    except NoteError as e:
        _fail(str(e))
    if created:
        stderr.print(
            f"[yellow]warning:[/] generated a new signing key in {escape(str(path))}; keep it safe and give "
            f"auditors its public key: {key.verifier}"
        )
    return key


def _verifier(text: str) -> VerifierKey:
    candidate = Path(text)
    try:
        if "+" not in text and candidate.is_file():
            text = candidate.read_text()
        return VerifierKey.parse(text)
    except (NoteError, OSError) as e:
        _fail(f"--public-key: {e}")


@contextmanager
def _bar(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr (rate and time left); yields `advance(done, total=None)`."""
    with Progress(
        TextColumn(description), BarColumn(), MofNCompleteColumn(), _Rate(),
        TimeRemainingColumn(), console=stderr, transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(done: int, new_total: int | None = None) -> None:
            bar.update(task, completed=done, total=new_total if new_total is not None else bar.tasks[0].total)

        yield advance


class _Rate(ProgressColumn):
    """Events per second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        """`12,345 events/s`."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "")


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code=1)


def signing_key_for(database: Database, log: AuditLog) -> SigningKey:
    """The signing key a long-running process signs periodic checkpoints with (as `checkpoint` finds it)."""
    return _signing_key(database, _origin(log, None), None)
