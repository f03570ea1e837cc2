"""Bulk import: `consent-ledger import FILE.jsonl` into an empty database, in a child process, timed.

The rate counts facts (lines), as raw_batch100 counts its one-event aggregates: the import also
stores an idempotency acknowledgement per line and opens each new subject's record, and counting
those as well would flatter it. The stored-event rate is kept beside it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import history
from benchmarks.databases import MASTER_KEY
from benchmarks.history import stored_events
from ledger.application import open_ledger

if TYPE_CHECKING:
    from benchmarks.databases import Target

CLI = str(Path(sys.executable).parent / "consent-ledger")


def bulk_import(target: Target, events: int) -> dict[str, Any]:
    """Import a generated file of about `events` stored events into an empty database; facts (lines) per second."""
    source = target.workdir / f"import-{events}.jsonl"
    written = history.write_history(source, events)
    database = target.empty("import")
    env = {**os.environ, "CONSENT_LEDGER_MASTER_KEY": base64.urlsafe_b64encode(MASTER_KEY).decode()}
    started = time.perf_counter()
    subprocess.run(  # noqa: S603  (our own command, our own arguments)
        [CLI, "import", str(source), "--database-url", database.url], check=True, stdout=subprocess.DEVNULL, env=env
    )
    seconds = time.perf_counter() - started
    ledger = open_ledger(database, MASTER_KEY)
    try:
        recorded = stored_events(ledger)
    finally:
        ledger.close()
    return {
        "events_per_s": written.lines / seconds,
        "facts": written.lines,
        "stored_events": recorded,
        "stored_events_per_s": round(recorded / seconds),
        "seconds": round(seconds, 2),
    }
