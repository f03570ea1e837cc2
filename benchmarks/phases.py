"""The long read-the-whole-log jobs, each in a child process of its own so that its peak memory is its own.

    python -m benchmarks.phases PHASE DATABASE_URL WORKDIR      (run by the harness, prints one JSON line)

raw_read is the baseline: every notification of the ledger's log selected in pages through the
recorder, nothing decoded. checkpoint grows the Merkle tree and signs (needed before an export);
export writes the whole log with its checkpoints; verify checks that export offline; replay
rebuilds every projection from position 0 into a fresh generation of the view.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.export import export_file
from audit.log import AuditLog
from audit.verify import verify_export_file
from benchmarks.databases import MASTER_KEY, SIGNING_KEY
from benchmarks.history import stored_events
from benchmarks.progress import counter
from ledger.application import open_ledger
from ledger.storage import Database
from projections.rebuild import rebuild

PHASES = ("raw_read", "checkpoint", "export", "verify", "replay")
PAGE = 5000


def export_path(workdir: Path, database: Database) -> Path:
    """Where the export of this database is written (and read back by verify)."""
    name = database.sqlite_path.stem if database.sqlite_path is not None else database.schema
    return workdir / f"export-{name}.jsonl"


def run(phase: str, url: str, workdir: Path) -> dict[str, Any]:
    """Run one phase here; its events, seconds, events per second and this process's peak RSS."""
    database = Database.from_url(url)
    ledger = open_ledger(database, MASTER_KEY)
    events = stored_events(ledger)
    key = SIGNING_KEY
    export = export_path(workdir, database)
    show = counter(phase, events)
    started = time.perf_counter()
    try:
        if phase == "raw_read":
            start, count = 1, 0
            while notes := ledger.recorder.select_notifications(start=start, limit=PAGE):
                count += len(notes)
                start = notes[-1].id + 1
                show(count)
            if count != events:
                msg = f"read {count} notifications of {events}"
                raise RuntimeError(msg)
        elif phase == "checkpoint":  # on a history used before, only the events since grow the tree
            log = AuditLog(ledger, key)
            grown = log.tree.size()
            log.issue_checkpoint(datetime.now(UTC), only_if_grown=True, progress=show)
            events = log.tree.size() - grown
        elif phase == "export":
            export.unlink(missing_ok=True)
            events = export_file(AuditLog(ledger, key), export, progress=lambda done, _: show(done)).events
        elif phase == "verify":
            verdict = verify_export_file(export, key.verifier, progress=lambda _, done: show(done))
            if not verdict.ok:
                raise RuntimeError(verdict.summary())
            events = verdict.events
        elif phase == "replay":
            rebuild(ledger, database, progress=show)
        else:
            msg = f"no phase {phase!r}; one of {', '.join(PHASES)}"
            raise ValueError(msg)
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds) if events else None,
        "peak_rss_mb": round(max(peak_rss_kb(), children_peak_rss_kb()) / 1024, 1),
    }


def together(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two runs of one phase as one: their events and seconds added, the larger peak."""
    events, seconds = first["events"] + second["events"], first["seconds"] + second["seconds"]
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds),
        "peak_rss_mb": max(first["peak_rss_mb"], second["peak_rss_mb"]),
        "runs": [first["events_per_s"], second["events_per_s"]],
    }


def children_peak_rss_kb() -> int:
    """The peak resident memory of the largest child this process waited for (a replay's other parts), in KiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def peak_rss_kb() -> int:
    """The peak resident memory of the running process alone, in KiB.

    Linux's VmHWM belongs to the process image, so it starts afresh at exec; `ru_maxrss` does
    not (a child spawned by a large harness would report the harness's size), so it is only
    the fallback where there is no /proc.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def in_child(phase: str, url: str, workdir: Path) -> dict[str, Any]:
    """Run one phase in a fresh Python process (its progress on our stderr); what it measured."""
    out = subprocess.run(  # noqa: S603  (our own module, our own arguments)
        [sys.executable, "-m", "benchmarks.phases", phase, url, str(workdir)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], sys.argv[2], Path(sys.argv[3]))))
