"""`consent-ledger audit`: sign checkpoints, export the log, prove events, and verify with no access to us.

`checkpoint`, `export`, `prove` and `public-key` run at the operator's side, on the ledger's
database (no master key is needed: they read stored bytes, never personal values). `verify`
runs anywhere: it reads an export or a proof document and the public key given on the command
line, and nothing else, and exits 1 unless everything holds.

The signing key, the origin and the witnesses are found as `cli.signing` says (the same
settings `serve` reads); a checkpoint signed here is submitted to the configured witnesses too.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import orjson
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
from rich.table import Table
from rich.text import Text

from audit.alarms import AlarmKind
from audit.cosignature import Trust, WitnessKey
from audit.evidence import build_bundle, bundle_bytes, verify_bundle
from audit.evidence_html import render
from audit.export import export_file, resume_export
from audit.integrity import IntegrityReport, record, sweep
from audit.log import AuditLog
from audit.notes import NoteError, VerifierKey
from audit.receipts import verify_receipt
from audit.signing_keys import wrap_signing_key_file
from audit.verify import verify_file
from cli.composition import url_without_password
from cli.options import DatabaseUrl, SigningKeyFile, stderr, stdout, warnings_to_stderr
from cli.settings import ConfigurationError, load_settings, master_key_for
from cli.signing import SIGNING_KEY_FILE_NAME, known_master_key, signing_key, witness_panel
from ledger.application import ConsentLedger, open_ledger
from ledger.errors import LedgerError
from ledger.sealing import MasterKeyError
from ledger.storage import DRIVER_ERRORS, OPENING_ERRORS
from ledger.terms import SubjectId

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ledger.storage import Database

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

Origin = Annotated[
    str | None,
    typer.Option(
        help="The log's name in its checkpoints, e.g. example.kz/consent-log (env CONSENT_LEDGER_LOG_ORIGIN; "
        "default: that of the checkpoints already signed, else consent-ledger.local/<database name>)",
        show_default=False,
    ),
]


@app.callback()
def main() -> None:
    """Route the CLI's warnings (a generated signing key) to stderr."""
    warnings_to_stderr()


@app.command()
def checkpoint(
    database_url: DatabaseUrl = None, signing_key_file: SigningKeyFile = None, origin: Origin = None
) -> None:
    """Bring the Merkle tree up to the newest event and sign a checkpoint of it now; print the signed note."""
    with _ledger(database_url) as (ledger, _):
        log = _signing_log(ledger, database_url, signing_key_file, origin)
        with _bar("hashing events", total=ledger.max_position()) as advance:
            issued = log.issue_checkpoint(ledger.clock(), progress=advance)
    cosigned = f", cosigned by {len(issued.cosignatures)} witness(es)" if log.witnesses else ""
    stderr.print(f"checkpoint {issued.number}: {issued.size} events, root {issued.checkpoint.root.hex()}{cosigned}")
    stdout.print(escape(issued.published), end="")


@app.command("public-key")
def public_key(
    database_url: DatabaseUrl = None, signing_key_file: SigningKeyFile = None, origin: Origin = None
) -> None:
    """Print the public key (a C2SP signed-note verifier key) that auditors check checkpoints against."""
    with _ledger(database_url) as (ledger, _):
        key = _signing_log(ledger, database_url, signing_key_file, origin).signing_key
    assert key is not None  # noqa: S101  (found or refused above)
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
    with _ledger(database_url) as (ledger, _):
        log = AuditLog(ledger)
        if checkpoint_first:
            log = _signing_log(ledger, database_url, signing_key_file, origin)
            with _bar("hashing events", total=ledger.max_position()) as advance:
                log.issue_checkpoint(ledger.clock(), progress=advance)
        with _bar("exporting events", total=None) as advance:
            if resume:
                plan = resume_export(log, out, to_position=to_position, progress=advance)
            else:
                plan = export_file(log, out, from_position=from_position, to_position=to_position, progress=advance)
    stderr.print(f"exported {plan.events} events (leaves {plan.start} to {plan.end - 1}) of {plan.origin} to {out}")


@app.command()
def verify(  # noqa: PLR0917  (typer passes options by name; each is one the verifier may need)
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
        str,
        typer.Option(
            help="The log's verifier key (NAME+KEYID+KEY, as `audit public-key` prints it), or a file holding it",
            metavar="KEY",
        ),
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
    receipt: Annotated[
        Path | None,
        typer.Option(
            help="A consent receipt (the compact JWS a consent write or GET .../receipts/{position} answered)",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    receipt_key: Annotated[
        Path | None,
        typer.Option(
            help="The receipt key as a JWK file (what GET /v1/log/receipt-key answers), for --receipt",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            help="A witness's verifier key NAME+KEYID+KEY (or a file holding it) whose cosignature counts; "
            "repeat for several",
            show_default=False,
        ),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="How many of the --witness keys must have cosigned the (newest) checkpoint (default: all given)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check an export, a proof, an evidence bundle or a receipt offline: exit 0 if all holds, 1 if not.

    An export is rehashed from its events alone; every checkpoint's signature, root and
    consistency with the one before are checked, and a failure names the first position that
    does not match. A bundle's every event is rehashed and proven against its signed checkpoint,
    its records must be whole from their first event, and every statement in it (the answer, the
    blocks, disclosures, deadlines, summaries, times and personal values) is recomputed from those
    events with the ledger's own rules; a failure names the first field that differs.
    With `--witness`, the newest checkpoint (a bundle's or a proof's) must carry valid
    cosignatures of at least `--quorum` of those witnesses (C2SP tlog-cosignature). A receipt's
    JWS is checked with `--receipt-key`, its event against the stored one it carries, and its
    inclusion in the checkpoint it carries (once one covered it) with the public key.
    """
    if sum(given is not None for given in (file, bundle, receipt)) != 1:
        _fail(
            "give either a FILE (an export or a proof), --bundle (an evidence bundle) or --receipt (a consent receipt)"
        )
    if not public_key:
        _fail("--public-key is required: the log's verifier key, or a file holding it")
    trust = _trust(public_key, witness or [], quorum)
    if receipt is not None:
        _verify_receipt(receipt, receipt_key, trust)
        return
    if bundle is not None:
        found = verify_bundle(bundle.read_bytes(), trust)
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
        verdict = verify_file(
            file, trust, progress=lambda done, events: bar.update(task, completed=done, events=events)
        )
    _verdict(verdict.ok, verdict.summary())


def _verify_receipt(receipt: Path, receipt_key: Path | None, trust: Trust) -> None:
    """Check a consent receipt: its JWS with the receipt key, its event and its inclusion with the log's key."""
    if receipt_key is None:
        _fail("--receipt needs --receipt-key: the JWK that GET /v1/log/receipt-key answers, saved to a file")
    try:
        jwk = orjson.loads(receipt_key.read_bytes())
    except orjson.JSONDecodeError:
        _fail(f"--receipt-key {receipt_key}: not a JWK (JSON)")
    found = verify_receipt(receipt.read_text(), jwk, trust)
    _verdict(found.ok, found.summary())


def _trust(public_key: str, witnesses: list[str], quorum: int | None) -> Trust:
    """The log's key and the witnesses' keys given, with the quorum (all of them by default)."""
    keys: list[WitnessKey] = []
    for text in witnesses:
        try:
            keys.append(WitnessKey.parse(_key_text(text)))
        except (NoteError, OSError) as e:
            _fail(f"--witness {text}: {e}")
    if quorum is not None and quorum > len(keys):
        _fail(f"--quorum {quorum} needs at least {quorum} --witness keys (given {len(keys)})")
    return Trust(_verifier(public_key), tuple(keys), len(keys) if quorum is None else quorum)


def _key_text(text: str) -> str:
    """A key given as it is, or the content of the file it names."""
    candidate = Path(text)
    return candidate.read_text() if "+" not in text and candidate.is_file() else text


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
            help="Show the subject's personal values, with the subject's key so that a court opens each "
            "from its sealed bytes; without a master key they are left out",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    signing_key_file: SigningKeyFile = None,
    origin: Origin = None,
) -> None:
    """Write the evidence bundle for one subject at T: the answer and every event it rests on, proven and bound."""
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
            log = _signing_log(ledger, database_url, signing_key_file, origin)
            bundle = build_bundle(ledger, log, SubjectId(subject), at=moment, now=ledger.clock())
        finally:
            if keyed is not None:
                keyed.close()
    out.write_bytes(render(bundle).encode() if html else bundle_bytes(bundle))
    stderr.print(f"evidence for {escape(subject)} at {moment.isoformat()} written to {escape(str(out))}")


@app.command("wrap-signing-key")
def wrap_signing_key(
    database_url: DatabaseUrl = None,
    signing_key_file: SigningKeyFile = None,
    master_key_file: Annotated[
        Path | None,
        typer.Option(help="A file holding the master key (env CONSENT_LEDGER_MASTER_KEY_FILE)", show_default=False),
    ] = None,
) -> None:
    """Keep the signing key file wrapped by the master key, so a copy of the file alone signs nothing.

    Rewrites the file in place (same key, same public key); every command then needs the master
    key to sign, as `serve` already has it.
    """
    try:
        settings = load_settings(
            database_url=database_url, signing_key_file=signing_key_file, master_key_file=master_key_file
        )
        path = settings.signing_key_file
        if path is None and settings.database.sqlite_path is not None:
            path = settings.database.sqlite_path.parent / SIGNING_KEY_FILE_NAME
        if path is None or not path.exists():
            _fail(f"no signing key file to wrap{f' at {path}' if path else ''}: give --signing-key-file")
        master_key = known_master_key(settings)
        if master_key is None:
            _fail("no master key is configured to wrap the signing key with")
        wrapped = wrap_signing_key_file(path, "log", master_key)
    except (ConfigurationError, MasterKeyError, NoteError) as e:
        _fail(str(e))
    stderr.print(f"{escape(str(path))} is {'now' if wrapped else 'already'} wrapped by the master key")


@app.command()
def check(database_url: DatabaseUrl = None, signing_key_file: SigningKeyFile = None, origin: Origin = None) -> None:
    """Rehash every stored event against the tree and the signed checkpoints (and the witnesses' view of the log).

    Names each event whose row was changed, deleted or slipped in, by log position, and says when
    the log cannot prove it extends what it signed (a fork). Exits 1 if anything does not hold.
    When everything holds, a fork alarm raised earlier is lowered and the log signs and records
    again: run this after restoring the database from a backup.
    """
    with _ledger(database_url) as (ledger, _):
        log = _checking_log(ledger, database_url, signing_key_file, origin)
        with _bar("rehashing events", total=log.tree.size()) as advance:
            report = sweep(log, progress=advance)
        now = ledger.clock()
        record(log, report, now)
        if report.ok:
            was_halted = log.alarms.of(AlarmKind.FORK) is not None
            log.alarms.clear(AlarmKind.FORK)
            lowered = " The fork alarm is lowered: the log signs and records again." if was_halted else ""
            intact = f"INTACT: {report.events} events match their leaves and {report.checkpoints} signed checkpoint(s)."
            stdout.print(f"[bold green]{escape(intact + lowered)}[/]")
            return
    print_integrity_findings(report)
    raise typer.Exit(code=1)


def _checking_log(
    ledger: ConsentLedger, database_url: str | None, key_file: Path | None, origin: str | None
) -> AuditLog:
    """The audit log with the witnesses and, when it can be found, the signing key (to read the witnesses' view)."""
    try:
        settings = load_settings(database_url=database_url, signing_key_file=key_file, log_origin=origin)
        log = AuditLog(ledger, witnesses=witness_panel(settings))
    except ConfigurationError as e:
        _fail(str(e))
    try:
        log.signing_key = signing_key(settings, log, known_master_key(settings))
    except (ConfigurationError, MasterKeyError):
        log.signing_key = None  # the check holds the events against the tree without it
    return log


def print_integrity_findings(report: IntegrityReport) -> None:
    """The findings of a sweep as a table on stdout, then what to do."""
    table = Table("position", "leaf", "what does not hold", box=None, pad_edge=False)
    for finding in report.findings[:100]:
        table.add_row(
            "" if finding.position is None else str(finding.position),
            "" if finding.leaf is None else str(finding.leaf),
            escape(finding.what),
        )
    stdout.print(table)
    forks = " (the log cannot prove it extends what it signed: it is halted)" if report.forks else ""
    stdout.print(
        f"[bold red]DAMAGED: {len(report.findings)} finding(s) over {report.events} events{escape(forks)}.[/] "
        "Restore the rows from a backup (or the database), then run `consent-ledger audit check` again."
    )


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


def _signing_log(
    ledger: ConsentLedger, database_url: str | None, key_file: Path | None, origin: str | None
) -> AuditLog:
    """The audit log with its signing key and witnesses, as the settings (and these options) configure them."""
    try:
        settings = load_settings(database_url=database_url, signing_key_file=key_file, log_origin=origin)
        log = AuditLog(ledger, witnesses=witness_panel(settings))
        log.signing_key = signing_key(settings, log, known_master_key(settings))
    except (ConfigurationError, MasterKeyError) as e:
        _fail(str(e))
    return log


def _verifier(text: str) -> VerifierKey:
    try:
        return VerifierKey.parse(_key_text(text))
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
