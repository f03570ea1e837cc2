"""How fast can an auditor replay, export and verify the whole history, and in how much memory?

    python -m benchmarks.replay --events 1000000

Builds (or resumes) a generated history, then runs each long job in its own child process so
that its peak memory is its own: grow the Merkle tree and sign a checkpoint, export the log,
verify the export offline, rebuild every projection from position 0, re-check every rule.
A raw read of the notification log is the baseline each rate is compared with. Results go
to benchmarks/results/replay-<backend>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
PHASES = ("raw_read", "checkpoint", "export", "verify", "rebuild_view", "check_rules")


def run_phase(phase: str, url: str, workdir: Path) -> dict[str, float]:
    """Run one phase in this process and report its rate and peak memory (called in a child)."""
    from datetime import UTC, datetime  # noqa: PLC0415  (children import what they need)

    from audit.export import export_file  # noqa: PLC0415
    from audit.log import AuditLog  # noqa: PLC0415
    from audit.notes import load_or_create_signing_key  # noqa: PLC0415
    from audit.verify import verify_export_file  # noqa: PLC0415
    from ledger.application import open_ledger  # noqa: PLC0415
    from ledger.storage import Database  # noqa: PLC0415
    from projections.compliance import check_history  # noqa: PLC0415
    from projections.keeper import rebuild  # noqa: PLC0415
    from projections.questions import LedgerQuestions  # noqa: PLC0415

    database = Database.from_url(url)
    ledger = open_ledger(database, None)
    events = ledger.max_position()
    key, _ = load_or_create_signing_key(workdir / "signing.key", "consent-ledger-bench")
    export = workdir / "export.jsonl"
    started = time.monotonic()
    if phase == "raw_read":
        count = sum(1 for _ in ledger.iter_positions(batch=5000))
        assert count == events  # noqa: S101
    elif phase == "checkpoint":
        log = AuditLog(ledger, key)
        log.issue_checkpoint(datetime.now(UTC), only_if_grown=True)
    elif phase == "export":
        export.unlink(missing_ok=True)
        export_file(AuditLog(ledger, key), export)
    elif phase == "verify":
        verdict = verify_export_file(export, key.verifier)
        assert verdict.ok, verdict.summary()  # noqa: S101
    elif phase == "rebuild_view":
        rebuild(ledger, database)
    elif phase == "check_rules":
        from projections.keeper import open_view  # noqa: PLC0415

        list(check_history(LedgerQuestions(open_view(database)), datetime.now(UTC)))
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ledger.close()
    return {
        "events": events,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
        "peak_rss_mb": round(peak_mb, 1),
    }


def main() -> None:
    """Build the history, run every phase in a child process, write the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workdir", default="var/bench-replay")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="results file stem (default benchmarks/results/replay-sqlite)")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    if args.phase:
        print(json.dumps(run_phase(args.phase, args.url, workdir)))
        return
    from benchmarks.history import MASTER_KEY, generate  # noqa: PLC0415
    from ledger.application import open_ledger  # noqa: PLC0415
    from ledger.storage import Database  # noqa: PLC0415

    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir}/history-{args.events}.db"
    ledger = open_ledger(Database.from_url(url), MASTER_KEY)
    generate(ledger, args.events)
    ledger.close()
    results = {}
    for phase in PHASES:
        print(f"{phase} ...", file=sys.stderr, flush=True)
        out = subprocess.run(  # noqa: S603  (our own module, our own arguments)
            [sys.executable, "-m", "benchmarks.replay", "--phase", phase, "--url", url, "--workdir", str(workdir)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[phase] = json.loads(out.strip().splitlines()[-1])
        print(f"  {results[phase]}", file=sys.stderr, flush=True)
    raw = results["raw_read"]["events_per_s"]
    ratios = {p: round(results[p]["events_per_s"] / raw, 3) for p in PHASES}
    report = {
        "benchmark": "replay, export and offline verify of the whole history",
        "command": " ".join(["python -m benchmarks.replay", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "eventsourcing": version("eventsourcing"),
        },
        "phases": results,
        "rate_over_raw_read": ratios,
    }
    stem = Path(args.out) if args.out else RESULTS / "replay-sqlite"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    lines = [
        "# Replay, export and verify (sqlite)",
        "",
        f"Command: `{report['command']}`",
        "",
        "| phase | events | seconds | events/s | vs raw read | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {p} | {r['events']:,.0f} | {r['seconds']} | {r['events_per_s']:,.0f} | {ratios[p]} | {r['peak_rss_mb']} |"
        for p, r in results.items()
    ]
    stem.with_suffix(".md").write_text("\n".join([*lines, ""]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
