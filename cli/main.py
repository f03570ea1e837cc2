"""The `consent-ledger` command: serve the HTTP API, or fill a database with a demo history.

Commands parse their options, let the composition root open the ledger, call once and report.
A configuration or database problem is printed as one line on stderr with a non-zero exit code,
never as a traceback: the person starting the service needs to know which setting to fix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from audit.integrity import record, sweep
from audit.log import AuditLog
from audit.periodic import IntegritySweeps, Periodic, PeriodicCheckpoints
from audit.replay import load_export, original_position
from cli import audit_commands, token_commands, witness_commands
from cli.composition import (
    StartupError,
    open_audit_log,
    open_configured_ledger,
    open_configured_view,
    open_receipt_key,
    url_without_password,
)
from cli.demo import POLICY, TIME_TRAVEL, DemoClock, record_demo_history
from cli.import_commands import import_command
from cli.options import DatabaseUrl, SigningKeyFile, stderr, warnings_to_stderr
from cli.settings import ConfigurationError, Settings, load_settings
from ledger.application import utc_now
from ledger.errors import LedgerError
from ledger.sealing import MasterKeyError
from ledger.storage import Database
from projections.compliance import Finding, check_history
from projections.keeper import BackgroundKeeper, ViewKeeper
from projections.questions import LedgerQuestions
from projections.rebuild import rebuild

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime

    from fastapi import FastAPI

    from audit.receipts import ReceiptKey
    from ledger.application import ConsentLedger, Receipt

app = typer.Typer(
    name="consent-ledger",
    help=(
        "An event-sourced ledger of personal-data consent (Kazakhstan): every consent, disclosure, block, "
        "destruction, breach and claim as an immutable fact that can be proved in court.\n\n"
        "Settings come from CONSENT_LEDGER_* environment variables; an option given here wins over them:\n\n"
        "- CONSENT_LEDGER_DATABASE_URL (--database-url), default sqlite:///var/consent-ledger.db\n"
        "- CONSENT_LEDGER_MASTER_KEY, or CONSENT_LEDGER_MASTER_KEY_FILE (--master-key-file); with SQLite "
        "generated into var/master.key if absent\n"
        "- CONSENT_LEDGER_SIGNING_KEY (base64 Ed25519 seed), or CONSENT_LEDGER_SIGNING_KEY_FILE "
        "(--signing-key-file); with SQLite generated into var/signing.key if absent\n"
        "- CONSENT_LEDGER_HOST (--host), CONSENT_LEDGER_PORT (--port): where `serve` listens\n"
        "- CONSENT_LEDGER_TIMEZONE, default Asia/Almaty: the operator's zone (deadlines, the desk's times)\n"
        "- CONSENT_LEDGER_CHECKPOINT_INTERVAL, default 300: seconds between signed checkpoints (0: none)\n"
        "- CONSENT_LEDGER_LOG_ORIGIN (--origin): the log's name in its checkpoints\n"
        "- CONSENT_LEDGER_BROWSER: a chromium the desk prints evidence PDFs with (none: no PDF)"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
app.add_typer(audit_commands.app, name="audit")
app.add_typer(token_commands.app, name="token")
app.add_typer(witness_commands.app, name="witness")
app.command("import")(import_command)
stdout = Console(highlight=False)

MasterKeyFile = Annotated[
    Path | None,
    typer.Option(
        help="A file holding the master key, URL-safe base64 of 32 bytes (env CONSENT_LEDGER_MASTER_KEY_FILE, "
        "or the key itself in CONSENT_LEDGER_MASTER_KEY; with SQLite, generated beside the database if absent)",
        show_default=False,
        metavar="FILE",
    ),
]


@app.callback()
def main() -> None:
    """Route the CLI's own log records to stderr before any command runs."""
    warnings_to_stderr()


@app.command()
def serve(  # noqa: PLR0917  (typer passes options by name; each is one the operator may need)
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on (env CONSENT_LEDGER_HOST; default 127.0.0.1)",
            show_default=False,
            metavar="HOST",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="TCP port (env CONSENT_LEDGER_PORT; default 8000)", show_default=False, metavar="PORT"),
    ] = None,
    database_url: DatabaseUrl = None,
    master_key_file: MasterKeyFile = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="uvicorn worker processes (more than 1 needs PostgreSQL)")
    ] = 1,
    signing_key_file: SigningKeyFile = None,
) -> None:
    """Serve the HTTP API with uvicorn: writes and queries under /v1/, the OpenAPI document at /openapi.json.

    The database is created on first start (SQLite by default, under ./var/ of the working directory).
    Also read from the environment: CONSENT_LEDGER_TIMEZONE (the operator's zone, default Asia/Almaty),
    CONSENT_LEDGER_SIGNING_KEY (with SQLite, var/signing.key is generated if absent),
    CONSENT_LEDGER_CHECKPOINT_INTERVAL (seconds between signed checkpoints, default 300; 0 turns them
    off) and CONSENT_LEDGER_BROWSER (a chromium for the desk's PDF). The disputes desk is at /desk/.
    With `--workers N` (PostgreSQL only) the workers keep no read model of their own: run
    `consent-ledger project` beside them. The log's public checkpoint, key and consistency proofs are
    served under /v1/log without a token; checkpoints are signed (and sent to the witnesses) every
    CONSENT_LEDGER_CHECKPOINT_INTERVAL seconds and the stored events rehashed every
    CONSENT_LEDGER_INTEGRITY_INTERVAL seconds.
    """
    settings = _settings(
        host=host,
        port=port,
        database_url=database_url,
        master_key_file=master_key_file,
        signing_key_file=signing_key_file,
    )
    if workers > 1:
        _serve_workers(settings, workers)
        return
    ledger = _open(settings)
    try:
        import uvicorn  # noqa: PLC0415  (the HTTP stack is loaded only when serving)

        from api.app import create_app  # noqa: PLC0415  (same)
        from api.observability import log_json_lines  # noqa: PLC0415  (same)
        from api.routes.public_log import serve_log  # noqa: PLC0415  (same)
        from api.routes.receipts import serve_receipts  # noqa: PLC0415  (same)
        from api.server import SERVER_OPTIONS  # noqa: PLC0415  (same)

        audit_log = _audit_log(settings, ledger)
        receipts = _receipt_key(settings, ledger, audit_log)
        view = open_configured_view(settings)
        http = create_app(ledger, view)
        http.state.max_view_lag = settings.max_view_lag
        keeper = BackgroundKeeper(http.state.keeper)  # the one whose failures and lag /readyz and answers see
        http = _closing_at_shutdown(http, ledger, keeper, _timers(settings, audit_log))
        serve_log(http, audit_log, settings.quorum)
        serve_receipts(http, receipts)
        log_json_lines()
        uvicorn.run(http, host=settings.host, port=settings.port, log_config=None, access_log=False, **SERVER_OPTIONS)
    finally:
        ledger.close()  # when uvicorn could not start; closing twice is harmless


def _serve_workers(settings: Settings, workers: int) -> None:
    """Run `workers` uvicorn processes, each building its app from the environment (`cli.asgi:create`)."""
    if not settings.database.storage.shared:
        _fail("several workers need PostgreSQL: SQLite has one writer on one host; use --workers 1")
    ledger = _open(settings)  # refuse a bad URL or key here, in one line, not once per worker
    try:
        _receipt_key(settings, ledger, _audit_log(settings, ledger))
    finally:
        ledger.close()
    import uvicorn  # noqa: PLC0415  (the HTTP stack is loaded only when serving)

    from api.observability import log_json_lines  # noqa: PLC0415  (same)
    from api.server import SERVER_OPTIONS  # noqa: PLC0415  (same)
    from cli.asgi import KEEPS_VIEW  # noqa: PLC0415  (same)

    os.environ["CONSENT_LEDGER_DATABASE_URL"] = settings.database_url
    if settings.master_key_file is not None:
        os.environ["CONSENT_LEDGER_MASTER_KEY_FILE"] = str(settings.master_key_file.resolve())
    if settings.signing_key_file is not None:
        os.environ["CONSENT_LEDGER_SIGNING_KEY_FILE"] = str(settings.signing_key_file.resolve())
    os.environ.setdefault(KEEPS_VIEW, "0")
    log_json_lines()
    with contextlib.ExitStack() as stack:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # each worker's metrics in files /metrics adds up
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = stack.enter_context(tempfile.TemporaryDirectory(prefix="metrics-"))
        uvicorn.run(
            "cli.asgi:create",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            **SERVER_OPTIONS,
        )


def _audit_log(settings: Settings, ledger: ConsentLedger) -> AuditLog:
    try:
        return open_audit_log(settings, ledger)
    except StartupError as e:
        ledger.close()
        _fail(str(e))


def _receipt_key(settings: Settings, ledger: ConsentLedger, audit_log: AuditLog) -> ReceiptKey:
    try:
        return open_receipt_key(settings, audit_log)
    except StartupError as e:
        ledger.close()
        _fail(str(e))


def _timers(settings: Settings, audit_log: AuditLog) -> list[Periodic]:
    """Checkpoints every CONSENT_LEDGER_CHECKPOINT_INTERVAL seconds and integrity sweeps every ..._INTEGRITY_INTERVAL.

    An interval of 0 turns that timer off.
    """
    clock = audit_log.ledger.clock
    timers: list[Periodic] = []
    if settings.checkpoint_interval > 0:
        timers.append(PeriodicCheckpoints(audit_log, clock, settings.checkpoint_interval))
    if settings.integrity_interval > 0:
        timers.append(IntegritySweeps(audit_log, clock, settings.integrity_interval))
    return timers


def _closing_at_shutdown(
    http: FastAPI, ledger: ConsentLedger, keeper: BackgroundKeeper, timers: list[Periodic] | None = None
) -> FastAPI:
    """Keep the view current (and checkpoints and sweeps coming) while serving; close the ledger at shutdown.

    uvicorn ends a SIGTERM by re-raising it, past any `finally`, so the lifespan is where to stop.
    """
    serving = http.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        keeper.start()
        for timer in timers or ():
            timer.start()
        async with serving(app) as state:
            yield state
        for timer in timers or ():
            timer.stop()
        keeper.stop()
        ledger.close()

    http.router.lifespan_context = lifespan
    return http


@app.command()
def project(database_url: DatabaseUrl = None, master_key_file: MasterKeyFile = None) -> None:
    """Keep the read model current in this process until stopped (Ctrl-C): a projection worker.

    Run one or more beside `serve` processes sharing one PostgreSQL database; each resumes from the
    tracked position, and a position is applied exactly once whichever worker gets to it first.
    """
    settings = _settings(database_url=database_url, master_key_file=master_key_file)
    ledger = _open(settings)
    keeper = ViewKeeper(ledger, open_configured_view(settings))
    timers = _timers(settings, _audit_log(settings, ledger))
    stderr.print(f"following the log from position {keeper.position:,} (Ctrl-C stops)")
    stop = threading.Event()
    for timer in timers:
        timer.start()
    try:
        keeper.keep_following(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        for timer in timers:
            timer.stop()
        ledger.close()
    stderr.print(f"stopped at position {keeper.position:,}")


@app.command("rebuild-view")
def rebuild_view(database_url: DatabaseUrl = None, master_key_file: MasterKeyFile = None) -> None:
    """Rebuild the read model from position 0 into fresh tables, then swap it in while reads go on.

    Interrupted, it resumes where it stopped when run again.
    """
    settings = _settings(database_url=database_url, master_key_file=master_key_file)
    ledger = _open(settings)
    try:
        with _progress("rebuilding the view") as bar:
            task = bar.add_task("events", total=ledger.max_position())
            fresh = rebuild(ledger, settings.database, progress=lambda position: bar.update(task, completed=position))
    except KeyboardInterrupt:
        _fail("interrupted; run rebuild-view again to resume")
    finally:
        ledger.close()
    stdout.print(f"the view is now generation {fresh.generation}, at position {fresh.position():,}")


@app.command()
def replay(
    database_url: DatabaseUrl = None,
    master_key_file: MasterKeyFile = None,
    report: Annotated[Path | None, typer.Option(help="Also write every finding to this JSON Lines file")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any rule was broken (notices do not count)")] = False,
    from_export: Annotated[
        Path | None,
        typer.Option(help="Replay this export (from `audit export`) into a SQLite file of your own, not our database"),
    ] = None,
) -> None:
    """Rebuild every projection from the first event, then re-check every rule over the whole history.

    Reports each finding with the log position of the fact it concerns: disclosures without a ground,
    state requests served while blocked, consents to texts never published, destruction while blocked,
    deadlines met late or missed, breaches whose subjects were not all told. With --from-export the
    events come from an export file (verify it first with `audit verify`) and are loaded into
    `<export>.replay.db` beside it. Interrupted, it resumes.
    """
    found: list[Finding] = []
    try:
        if from_export is not None:
            if not from_export.is_file():
                _fail(f"no export file at {from_export}")
            database = Database.from_url(f"sqlite:///{from_export}.replay.db")
            database.prepare()
            with _progress("loading the export") as bar:
                task = bar.add_task("events", total=None)
                ledger = load_export(from_export, database, progress=lambda p: bar.update(task, completed=p))
        else:
            settings = _settings(database_url=database_url, master_key_file=master_key_file)
            database = settings.database
            ledger = _open(settings)
            _require_intact(ledger)
        try:
            with _progress("rebuilding the view") as bar:
                task = bar.add_task("events", total=ledger.max_position())
                view = rebuild(ledger, database, progress=lambda position: bar.update(task, completed=position))
            questions = LedgerQuestions(view)
            with _progress("checking every rule") as bar:
                task = bar.add_task("subjects", total=None)
                found = list(check_history(questions, ledger.clock(), progress=lambda n: bar.update(task, completed=n)))
            if from_export is not None:
                found = [
                    replace(f, position=original_position(ledger, f.position) if f.position else None) for f in found
                ]
        finally:
            ledger.close()
    except KeyboardInterrupt:
        _fail("interrupted; run replay again to resume")
    _print_findings(found, report)
    if strict and any(f.severity == "violation" for f in found):
        raise typer.Exit(1)


def _require_intact(ledger: ConsentLedger) -> None:
    """Before a replay rebuilds anything: every stored event must still hash to its leaf of the signed log."""
    audit_log = AuditLog(ledger)
    try:
        with _progress("rehashing events") as bar:
            task = bar.add_task("events", total=audit_log.tree.size())
            report = sweep(audit_log, progress=lambda n: bar.update(task, completed=n))
        record(audit_log, report, ledger.clock())
    except BaseException:
        ledger.close()
        raise
    if not report.ok:
        ledger.close()
        audit_commands.print_integrity_findings(report)
        _fail("the stored events do not match the signed log; a replay would rebuild answers from damaged rows")


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr,
    )


def _print_findings(found: list[Finding], report: Path | None) -> None:
    if report is not None:
        report.write_bytes(b"".join(orjson.dumps(dataclasses.asdict(f)) + b"\n" for f in found))
    if not found:
        stdout.print("[green]every rule holds over the whole history[/]")
        return
    table = Table("rule", "severity", "position", "subject", "detail")
    for f in found[:50]:
        table.add_row(f.rule, f.severity, str(f.position or ""), f.subject or "", escape(f.detail))
    stdout.print(table)
    counts = Counter(f.severity for f in found)
    stdout.print(
        f"{counts['violation']} violation(s), {counts['notice']} notice(s)"
        + (f"; all {len(found)} in {report}" if report else "")
    )


@app.command()
def demo(database_url: DatabaseUrl = None, master_key_file: MasterKeyFile = None) -> None:
    """Fill the database with a small, realistic 2026 history of an online shop, to try every query at once.

    A policy in kk/ru/en with two versions, six pseudonymous customers with consents (one through a
    parent, on paper, entered weeks late; one opting into 4.1.6), order deliveries, a written
    permission, a state request, a block and its lift, a correction, a withdrawal filed under the
    wrong customer and struck out, a refused and an accepted withdrawal, a destruction, a breach and
    two claims. The demo sets the ledger's clock to each fact's recording time in 2026, so questions
    "as known at" a past moment have a past to answer from. Every fact carries an idempotency key:
    running the demo again records nothing new.
    """
    settings = _settings(database_url=database_url, master_key_file=master_key_file)
    clock = DemoClock(utc_now)
    ledger = _open(settings, clock)
    try:
        receipts = record_demo_history(ledger, clock)
        secret = _demo_token(ledger)
    except (LedgerError, MasterKeyError) as e:
        _fail(f"the demo history could not be recorded: {e}")
    finally:
        ledger.close()
    _print_summary(settings, receipts)
    if secret is not None:
        stdout.print(
            "\nA token with every scope, shown once\n"
            "(`consent-ledger token revoke demo` ends it).\n"
            "Paste it into Authorize at /docs, or sign in at /desk/:\n"
            f"  {secret}",
            soft_wrap=True,
        )


def _demo_token(ledger: ConsentLedger) -> str | None:
    """A token named `demo` with every scope, made once: the secret of an existing one cannot be shown again."""
    from api.tokens import Scope, TokenStore  # noqa: PLC0415  (only the demo hands out a token)

    store = TokenStore(ledger)
    if store.token("demo") is not None:
        return None
    return store.create("demo", set(Scope), ledger.clock())


def _settings(**options: object) -> Settings:
    try:
        return load_settings(**options)
    except ConfigurationError as e:
        _fail(str(e))


def _open(settings: Settings, clock: Callable[[], datetime] = utc_now) -> ConsentLedger:
    try:
        return open_configured_ledger(settings, clock)
    except StartupError as e:
        _fail(str(e))


def _fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code=1)


FACT_NAMES = {
    "VersionPublished": "policy version published",
    "ConsentRequested": "consent requested (a prompt shown)",
    "ConsentRefused": "consent refused at a prompt",
    "ConsentGranted": "consent given",
    "ConsentWithdrawn": "consent withdrawn",
    "WithdrawalRefused": "withdrawal refused (Art. 8(2))",
    "WrittenPermissionGranted": "written permission given",
    "DataDisclosed": "data disclosed",
    "DataBlocked": "data blocked",
    "BlockLifted": "block lifted",
    "DataCorrected": "data corrected",
    "DataDestroyed": "data destroyed",
    "EntryRetracted": "entry struck out",
    "Found": "breach found",
    "AuthorityTold": "authority told of a breach",
    "SubjectTold": "subject told of a breach",
    "Received": "claim received",
    "Answered": "claim answered",
    "TakenToCourt": "claim taken to court",
}
"""The operator's words for the facts the demo records, in the order the summary lists them."""


def _print_summary(settings: Settings, receipts: list[Receipt]) -> None:
    new = Counter(r.event_type for r in receipts if not r.replayed)
    known = Counter(r.event_type for r in receipts if r.replayed)
    table = Table("fact", "now", "already", box=None, pad_edge=False)
    order = list(FACT_NAMES)
    for event_type in sorted(new | known, key=lambda t: order.index(t) if t in order else len(order)):
        table.add_row(FACT_NAMES.get(event_type, event_type), str(new[event_type]), str(known[event_type]))
    subject, moment = TIME_TRAVEL
    base = f"http://{settings.host}:{settings.port}"
    stdout.print(
        f"Demo history in\n  [bold]{escape(url_without_password(settings.database_url))}[/]:\n"
        f"  {new.total()} facts recorded now, {known.total()} already there.\n"
        "The demo set the ledger's clock to 2026, fact by fact:\n"
        "  each fact was recorded at the time it would have been,\n"
        f"  so as_known_at has a past ({subject} at {moment[:10]}).",
        soft_wrap=True,
    )
    stdout.print(table)
    stdout.print(
        f"Subjects cust-1001 to cust-1006; policy {POLICY},\n"
        "versions 1 and 2; January to October 2026.\n"
        "Try it:\n"
        "  consent-ledger serve\n"
        f"  then open {base}/desk/\n"
        f"  or {base}/docs",
        soft_wrap=True,
    )
