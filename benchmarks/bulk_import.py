"""Bulk import: `consent-ledger import FILE.jsonl` into an empty database, in a child process, timed.

The file comes from the history generator's JSON Lines writer; until that and the `import`
command are on this branch, `bulk_import` answers None and the table says "not yet available".
"""

from __future__ import annotations

import base64
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import history
from benchmarks.databases import MASTER_KEY
from benchmarks.phases import stored_events
from ledger.application import open_ledger

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.databases import Target

CLI = str(Path(sys.executable).parent / "consent-ledger")


def available() -> bool:
    """Whether both the command and the generator's file writer exist here."""
    return importlib.util.find_spec("cli.import_commands") is not None and hasattr(history, "write_jsonl")


def bulk_import(target: Target, events: int) -> dict[str, Any] | None:
    """Import a generated file of about `events` events into an empty database; events/s, or None if unavailable."""
    if not available():
        return None
    source = target.workdir / f"import-{events}.jsonl"
    if not source.exists():
        write_jsonl: Callable[[Path, int], object] = history.write_jsonl  # type: ignore[attr-defined,unused-ignore]
        write_jsonl(source, events)
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
    return {"events_per_s": recorded / seconds, "events": recorded, "seconds": round(seconds, 2)}
