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
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
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

from audit.evidence import build_bundle, bundle_bytes, verify_bundle
from audit.evidence_html import render
from audit.export import export_file, resume_export
from audit.log import AuditLog
from audit.notes import NoteError, SigningKey, VerifierKey, load_or_create_signing_key
from audit.verify import verify_file
from cli.composition import url_without_password
from cli.options import DatabaseUrl, stderr, stdout
from cli.settings import ConfigurationError, load_settings, master_key_for
from ledger.application import ConsentLedger, open_ledger
from ledger.errors import LedgerError
from ledger.storage import DRIVER_ERRORS, OPENING_ERRORS
from ledger.terms import SubjectId
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

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
        int | None,
        typer.Option(
            "--to", min=1, help="The last log position (default: the newest checkpoint's)", show_default=False
        ),
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
    file: Annotated[
        Path | None,
        typer.Argument(
            help="An export, or a proof document written by `prove`",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    public_key: Annotated[
        str, typer.Option(help="The log's verifier key <name>+<key id>+<key>, or a file holding it")
    ] = "",
    bundle: Annotated[
        Path | None,
        typer.Option(
            help="An evidence bundle written by `evidence` (JSON)",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check an export, a proof or an evidence bundle offline against the public key: exit 0 if all holds, 1 if not.

    An export is rehashed from its events alone; every checkpoint's signature, root, date and
    consistency with the one before are checked, and a failure names the first position that
    does not match. A bundle's every event is rehashed and proven against its signed checkpoint.
    """
    if (file is None) == (bundle is None):
        _fail("give either a FILE (an export or a proof) or --bundle (an evidence bundle)")
    if not public_key:
        _fail("--public-key is required: the log's verifier key, or a file holding it")
    key = _verifier(public_key)
    if bundle is not None:
        found = verify_bundle(bundle.read_bytes(), key)
        _verdict(found.ok, found.summary())
        return
    assert file is not None  # noqa: S101  (checked above)
    total = file.stat().st_size
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[events]} events"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task("verify", total=total, events=0)
        verdict = verify_file(file, key, progress=lambda done, events: bar.update(task, completed=done, events=events))
    _verdict(verdict.ok, verdict.summary())


def _verdict(ok: bool, summary: str) -> None:
    colour = "green" if ok else "red"
    stdout.print(f"[bold {colour}]{escape(summary)}[/]")
    if not ok:
        raise typer.Exit(code=1)


@app.command()
def evidence(  # noqa: PLR0917  (typer passes options by name; each is one the operator may need)
    subject: Annotated[str, typer.Option(help="The subject's pseudonymous id")],
    at: Annotated[str, typer.Option(help="The moment T the dispute is about, with offset: 2026-03-02T09:00:00+05:00")],
    out: Annotated[Path, typer.Option("--out", help="The file to write (refused if it exists)")],
    html: Annotated[
        bool, typer.Option("--html", help="Write the printable HTML page instead of the JSON bundle")
    ] = False,
    master_key_file: Annotated[
        Path | None,
        typer.Option(
            envvar="CONSENT_LEDGER_MASTER_KEY_FILE",
            help="Open the subject's personal values for the court "
            "(set apart, not part of the proof); without a master key they are left out",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    signing_key_file: SigningKeyFile = None,
    origin: Origin = None,
) -> None:
    """Write the evidence bundle for one subject at T: the answer, every event proven, a signed checkpoint."""
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        _fail(f"--at {at!r} is not an ISO 8601 time, e.g. 2026-03-02T09:00:00+05:00")
    if moment.tzinfo is None:
        _fail(f"--at {at!r} has no offset: say which instant it is, e.g. 2026-03-02T09:00:00+05:00")
    if out.exists():
        _fail(f"{out} exists; choose another file")
    with _ledger(database_url) as (plain, database):
        keyed = _keyed_ledger(database_url, database, master_key_file)
        ledger = keyed or plain
        try:
            log = AuditLog(ledger)
            log.signing_key = _signing_key(database, _origin(log, origin), signing_key_file)
            view = open_view(database)
            ViewKeeper(ledger, view).catch_up()
            bundle = build_bundle(ledger, LedgerQuestions(view), log, SubjectId(subject), at=moment, now=ledger.clock())
        finally:
            if keyed is not None:
                keyed.close()
    out.write_bytes(render(bundle).encode() if html else bundle_bytes(bundle))
    stderr.print(f"evidence for {escape(subject)} at {moment.isoformat()} written to {escape(str(out))}")


@app.command()
def prove(
    position: Annotated[
        int | None,
        typer.Option(min=1, help="Prove that the event at this log position is in the log", show_default=False),
    ] = None,
    since_size: Annotated[
        int | None,
        typer.Option(
            min=0, help="Prove the log only grew since its checkpoint of this many events", show_default=False
        ),
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(
            min=0, help="Against the checkpoint of this many events (default: the newest)", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the proof here instead of to stdout", show_default=False)
    ] = None,
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


def _keyed_ledger(database_url: str | None, database: Database, key_file: Path | None) -> ConsentLedger | None:
    """The ledger opened with its master key, when one is configured, so personal values can be opened."""
    if key_file is None and not os.environ.get("CONSENT_LEDGER_MASTER_KEY"):
        return None
    try:
        settings = load_settings(database_url=database_url, master_key_file=key_file)
        return open_ledger(database, master_key_for(settings, database, may_generate=False))
    except (ConfigurationError, ValueError) as e:
        _fail(str(e))


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
    except OPENING_ERRORS as e:
        _fail(f"cannot open {where}: {_first_line(e)}")
    try:
        yield ledger, database
    except (LedgerError, NoteError) as e:
        _fail(str(e))
    except LookupError as e:
        _fail(f"the audit tables of {where} are damaged: {e}")
    except DRIVER_ERRORS as e:
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
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
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
