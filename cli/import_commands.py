"""`consent-ledger import FILE.jsonl`: record a file of writes, as if each line had been POSTed.

The format is in `cli.import_lines`; batching, exactly-once and resuming in `cli.import_file`.
This module parses the options, shows progress, and says in one line what went wrong and where.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from audit.alarms import LogHalted
from audit.log import AuditLog
from cli.composition import StartupError, open_configured_ledger
from cli.import_file import DEFAULT_BATCH, FileImport, Outcome, Refused
from cli.options import DatabaseUrl, stderr, stdout
from cli.settings import ConfigurationError, load_settings
from ledger.errors import StorageFull, StorageUnavailable
from ledger.sealing import MasterKeyError

if TYPE_CHECKING:
    from typing import NoReturn

    from ledger.application import ConsentLedger


class _LinesPerSecond(ProgressColumn):
    """Lines recorded per second since the run began (the bar itself moves with bytes read)."""

    def render(self, task: Task) -> Text:
        """`1,234 lines/s`."""
        lines = int(task.fields.get("lines", 0))
        elapsed = task.elapsed or 0.0
        rate = lines / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.0f} lines/s")


def import_command(
    file: Annotated[
        Path, typer.Argument(help="A JSON Lines file, one write per line", exists=True, dir_okay=False, readable=True)
    ],
    *,
    database_url: DatabaseUrl = None,
    master_key_file: Annotated[
        Path | None,
        typer.Option(help="A file holding the master key (as for `serve`)", show_default=False),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Lines recorded per transaction")] = DEFAULT_BATCH,
    recorded_by: Annotated[
        str | None,
        typer.Option(help="The caller to record for lines that name no `recorded_by`", show_default=False),
    ] = None,
    keep_going: Annotated[
        bool,
        typer.Option(help="Report a bad or refused line and go on with the next (exit 1 at the end), not stop"),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="With --keep-going, also copy every bad line to this file, to fix and import again"),
    ] = None,
) -> None:
    """Record every line of FILE: each one write as the HTTP API takes it, checked by the same rules.

    A line: `{"op": "record_disclosure", "recorded_by": "orders", "subject_id": "s-1", "body": {...}}`,
    with `op` the route's name, the route's path parameters beside it, the POST body under `body`
    and an optional `idempotency_key`. Lines go in batches, one transaction each. Interrupted
    (Ctrl-C), run the same command again: it skips what was done and records every line exactly
    once. At a bad line it stops, saying which; every line before it stays recorded.
    """
    ledger = _opened(database_url, master_key_file)
    sink = rejects.open("ab") if rejects is not None else None
    try:
        job = FileImport(ledger, file, batch=batch, recorded_by=recorded_by, keep_going=keep_going, rejects=sink)
        outcome = _run(job)
    except Refused as e:
        _fail(f"{file}:{e.number}: {e.reason}; every line before it is recorded, none after it")
    except KeyboardInterrupt:
        done = job.outcome.lines if "job" in locals() else 0
        _fail(f"interrupted; run the same command again to resume from line {done + 1:,}")
    except MasterKeyError as e:
        _fail(str(e))
    except (StorageUnavailable, StorageFull) as e:
        done = job.outcome.lines if "job" in locals() else 0
        _fail(f"{e}; run the same command again once it is mended, to resume from line {done + 1:,}")
    finally:
        ledger.close()
        if sink is not None:
            sink.close()
    _summary(file, outcome, job.restarted)
    if outcome.refused_count:
        for number, reason in outcome.refused[:20]:
            stderr.print(f"[red]refused:[/] {escape(str(file))}:{number}: {escape(reason)}")
        more = outcome.refused_count - 20
        if more > 0:
            stderr.print(f"... and {more:,} more" + (f", all in {rejects}" if rejects else ""))
        raise typer.Exit(1)


def _opened(database_url: str | None, master_key_file: Path | None) -> ConsentLedger:
    """The configured ledger, unless it cannot be opened or its log is halted (it then records nothing)."""
    try:
        settings = load_settings(database_url=database_url, master_key_file=master_key_file)
        ledger = open_configured_ledger(settings)
    except (ConfigurationError, StartupError) as e:
        _fail(str(e))
    try:
        AuditLog(ledger).require_not_halted()  # a log that cannot prove it extends what it signed records nothing
    except LogHalted as e:
        ledger.close()
        _fail(str(e))
    return ledger


def _run(job: FileImport) -> Outcome:
    size = job.path.stat().st_size
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        TextColumn("{task.fields[lines]:,} lines"),
        _LinesPerSecond(),
        TimeRemainingColumn(),
        console=stderr,
    ) as bar:
        task = bar.add_task("import", total=size, lines=0)
        start = 0

        def show(outcome: Outcome, offset: int) -> None:
            nonlocal start
            if not start:
                start = outcome.skipped_ahead
            bar.update(task, completed=offset, lines=outcome.lines - start)

        job.progress = show
        return job.run()


def _summary(file: Path, outcome: Outcome, restarted: bool) -> None:
    if restarted:
        stderr.print(
            "[yellow]warning:[/] the file changed before where the last run stopped; every line was checked again "
            "(idempotency keys kept what was recorded from being recorded twice)"
        )
    skipped = f", {outcome.skipped_ahead:,} done by an earlier run" if outcome.skipped_ahead else ""
    stdout.print(
        f"{escape(str(file))}: {outcome.lines:,} lines; {outcome.recorded:,} facts recorded now, "
        f"{outcome.already_there:,} already there{skipped}, {outcome.refused_count:,} refused"
        + (f"; last position {outcome.last_position:,}" if outcome.last_position else "")
    )


def _fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code=1)
