"""The `consent-ledger` command: serve the HTTP API, or fill a database with a demo history.

Commands parse their options, let the composition root open the ledger, call once and report.
A configuration or database problem is printed as one line on stderr with a non-zero exit code,
never as a traceback: the person starting the service needs to know which setting to fix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
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

from audit.log import AuditLog
from audit.periodic import PeriodicCheckpoints
from audit.replay import load_export, original_position
from cli import audit_commands, token_commands
from cli.composition import StartupError, open_configured_ledger, open_configured_view, url_without_password
from cli.demo import POLICY, record_demo_history
from cli.import_commands import import_command
from cli.options import DatabaseUrl, stderr
from cli.settings import ConfigurationError, Settings, load_settings
from ledger.errors import LedgerError
from ledger.sealing import MasterKeyError
from ledger.storage import Database
from projections.compliance import Finding, check_history
from projections.keeper import BackgroundKeeper, ViewKeeper, rebuild
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

    from ledger.application import ConsentLedger, Receipt

app = typer.Typer(
    name="consent-ledger",
    help=(
        "An event-sourced ledger of personal-data consent (Kazakhstan): every consent, disclosure, block, "
        "destruction, breach and claim as an immutable fact that can be proved in court.\n\n"
        "Settings come from CONSENT_LEDGER_* environment variables; an option given here wins over them."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
app.add_typer(audit_commands.app, name="audit")
app.add_typer(token_commands.app, name="token")
app.command("import")(import_command)
stdout = Console(highlight=False)

MasterKeyFile = Annotated[
    Path | None,
    typer.Option(
        help="A file holding the master key, URL-safe base64 of 32 bytes (env CONSENT_LEDGER_MASTER_KEY_FILE, "
        "or the key itself in CONSENT_LEDGER_MASTER_KEY; with SQLite, generated beside the database if absent)",
        show_default=False,
    ),
]


class _WarningsToStderr(logging.Handler):
    """Shows the composition root's warnings (a generated master key) as one line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        """Print `warning: <message>`."""
        stderr.print(f"[yellow]{record.levelname.lower()}:[/] {escape(record.getMessage())}")


@app.callback()
def main() -> None:
    """Route the CLI's own log records to stderr before any command runs."""
    logger = logging.getLogger("cli")
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, _WarningsToStderr) for h in logger.handlers):
        handler = _WarningsToStderr(level=logging.WARNING)
        logger.addHandler(handler)


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to listen on (env CONSENT_LEDGER_HOST; default 127.0.0.1)", show_default=False),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port (env CONSENT_LEDGER_PORT; default 8000)", show_default=False)
    ] = None,
    database_url: DatabaseUrl = None,
    master_key_file: MasterKeyFile = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="uvicorn worker processes (more than 1 needs PostgreSQL)")
    ] = 1,
) -> None:
    """Serve the HTTP API with uvicorn: writes and queries under /v1/, the OpenAPI document at /openapi.json.

    The database is created on first start (SQLite by default, under ./var/ of the working directory).
    With `--workers N` (PostgreSQL only) the workers keep no read model of their own: run
    `consent-ledger project` beside them.
    """
    settings = _settings(host=host, port=port, database_url=database_url, master_key_file=master_key_file)
    if workers > 1:
        _serve_workers(settings, workers)
        return
    ledger = _open(settings)
    try:
        import uvicorn  # noqa: PLC0415  (the HTTP stack is loaded only when serving)

        from api.app import create_app  # noqa: PLC0415  (same)
        from api.observability import log_json_lines  # noqa: PLC0415  (same)
        from api.server import SERVER_OPTIONS  # noqa: PLC0415  (same)

        view = open_configured_view(settings)
        http = create_app(ledger, view)
        http.state.max_view_lag = settings.max_view_lag
        keeper = BackgroundKeeper(http.state.keeper)  # the one whose failures and lag /readyz and answers see
        checkpoints = _checkpoint_timer(settings, ledger)
        http = _closing_at_shutdown(http, ledger, keeper, checkpoints)
        if checkpoints is not None:  # evidence bundles and POST /v1/audit/checkpoints sign with the same key
            http.state.signing_key = checkpoints.audit_log.signing_key
        log_json_lines()
        uvicorn.run(http, host=settings.host, port=settings.port, log_config=None, access_log=False, **SERVER_OPTIONS)
    finally:
        ledger.close()  # when uvicorn could not start; closing twice is harmless


def _serve_workers(settings: Settings, workers: int) -> None:
    """Run `workers` uvicorn processes, each building its app from the environment (`cli.asgi:create`)."""
    if not settings.database.storage.shared:
        _fail("several workers need PostgreSQL: SQLite has one writer on one host; use --workers 1")
    _open(settings).close()  # refuse a bad URL or key here, in one line, not once per worker
    import uvicorn  # noqa: PLC0415  (the HTTP stack is loaded only when serving)

    from api.observability import log_json_lines  # noqa: PLC0415  (same)
    from api.server import SERVER_OPTIONS  # noqa: PLC0415  (same)
    from cli.asgi import KEEPS_VIEW  # noqa: PLC0415  (same)

    os.environ["CONSENT_LEDGER_DATABASE_URL"] = settings.database_url
    if settings.master_key_file is not None:
        os.environ["CONSENT_LEDGER_MASTER_KEY_FILE"] = str(settings.master_key_file.resolve())
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


def _checkpoint_timer(settings: Settings, ledger: ConsentLedger) -> PeriodicCheckpoints | None:
    """Sign a checkpoint every CONSENT_LEDGER_CHECKPOINT_INTERVAL seconds (default 300; 0 turns it off)."""
    interval = float(os.environ.get("CONSENT_LEDGER_CHECKPOINT_INTERVAL", "300"))
    database = settings.database
    if interval <= 0 or (database.sqlite_path is None and not os.environ.get(audit_commands.SIGNING_KEY_ENV)):
        return None  # PostgreSQL processes sign only with the shared key from the environment
    log = AuditLog(ledger)
    log.signing_key = audit_commands.signing_key_for(database, log)
    return PeriodicCheckpoints(log, ledger.clock, interval)


def _closing_at_shutdown(
    http: FastAPI, ledger: ConsentLedger, keeper: BackgroundKeeper, checkpoints: PeriodicCheckpoints | None = None
) -> FastAPI:
    """Keep the view current (and checkpoints coming) while serving; close the ledger at shutdown.

    uvicorn ends a SIGTERM by re-raising it, past any `finally`, so the lifespan is where to stop.
    """
    serving = http.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        keeper.start()
        if checkpoints is not None:
            checkpoints.start()
        async with serving(app) as state:
            yield state
        if checkpoints is not None:
            checkpoints.stop()
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
    checkpoints = _checkpoint_timer(settings, ledger)
    stderr.print(f"following the log from position {keeper.position:,} (Ctrl-C stops)")
    stop = threading.Event()
    if checkpoints is not None:
        checkpoints.start()
    try:
        keeper.keep_following(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        if checkpoints is not None:
            checkpoints.stop()
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
    parent, one opting into 4.1.6), order deliveries, a written permission, a state request, a block
    and its lift, a correction, a refused and an accepted withdrawal, a destruction, a breach and two
    claims. Every fact carries an idempotency key: running the demo again records nothing new.
    """
    settings = _settings(database_url=database_url, master_key_file=master_key_file)
    ledger = _open(settings)
    try:
        receipts = record_demo_history(ledger)
        secret = _demo_token(ledger)
    except (LedgerError, MasterKeyError) as e:
        _fail(f"the demo history could not be recorded: {e}")
    finally:
        ledger.close()
    _print_summary(settings, receipts)
    if secret is not None:
        stdout.print(
            "A token with every scope, for trying the API (shown once; `consent-ledger token revoke demo` ends it):\n"
            f"  Authorization: Bearer {secret}"
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


def _open(settings: Settings) -> ConsentLedger:
    try:
        return open_configured_ledger(settings)
    except StartupError as e:
        _fail(str(e))


def _fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code=1)


FACT_NAMES = {
    "VersionPublished": "policy version published",
    "ConsentGranted": "consent given",
    "ConsentWithdrawn": "consent withdrawn",
    "WithdrawalRefused": "withdrawal refused (Art. 8(2))",
    "WrittenPermissionGranted": "written permission given",
    "DataDisclosed": "data disclosed",
    "DataBlocked": "data blocked",
    "BlockLifted": "block lifted",
    "DataCorrected": "data corrected",
    "DataDestroyed": "data destroyed",
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
    table = Table("fact", "recorded now", "already there", box=None, pad_edge=False)
    order = list(FACT_NAMES)
    for event_type in sorted(new | known, key=lambda t: order.index(t) if t in order else len(order)):
        table.add_row(FACT_NAMES.get(event_type, event_type), str(new[event_type]), str(known[event_type]))
    stdout.print(
        f"Demo history in [bold]{escape(url_without_password(settings.database_url))}[/]: "
        f"{new.total()} facts recorded now, {known.total()} already there.",
        soft_wrap=True,
    )
    stdout.print(table)
    stdout.print(
        f"Subjects cust-1001 to cust-1006, policy {POLICY} versions 1 and 2, January to October 2026.\n"
        f"Try it: consent-ledger serve, then open http://{settings.host}:{settings.port}/docs",
        soft_wrap=True,
    )
