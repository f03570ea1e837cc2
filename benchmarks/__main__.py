"""Issue 7's whole table: `python -m benchmarks` (100k and 1M events, SQLite and PostgreSQL).

    python -m benchmarks                          # the full table, about 30 min on 2 cores
    python -m benchmarks --sizes 100000 --backends sqlite
    python -m benchmarks --huge                   # adds 10M events (long: generated once, then reused)
    python -m benchmarks --tiny --out /tmp/b      # CI: proves it all still works, in under a minute

For each backend and size: fill the history (resumable; reused when it already holds the
size), then measure every figure beside its baseline in the same run — the questions first, the
whole-log jobs in child processes next, the writes last (they append to the history, which the
questions and the replay have already used). Progress goes to stderr, the table to stdout, the
results to OUT/bench.json and OUT/bench.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import bulk_import, over_http, phases, questions, raw, writes
from benchmarks.databases import Filled, Target, fill
from benchmarks.figures import across_sizes, rows
from benchmarks.progress import say, step
from benchmarks.report import machine, show, write

RESULTS = Path(__file__).parent / "results"
HUGE = 10_000_000
ROUNDS = 4
"""Turns taken by the single-write baseline and the ledger's single writes."""


def measure(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of one (backend, size), each baseline measured in this same run."""
    filled = fill(target)
    with step(f"{target.label}: questions in process, against the naive answer ({args.probes} probes)"):
        m: dict[str, Any] = dict(questions.in_process(target, filled, args.probes))
    for phase in phases.PHASES:
        with step(f"{target.label}: {phase} (child process)"):
            m[phase] = phases.in_child(phase, target.url("history"), target.workdir)
    with step(f"{target.label}: raw_read again (child process; the baseline is both reads together)"):
        again = phases.in_child("raw_read", target.url("history"), target.workdir)
        m["raw_read"] = phases.together(m["raw_read"], again)
    phases.export_path(target.workdir, target.database()).unlink(missing_ok=True)
    with step(f"{target.label}: raw saves and ledger writes, interleaved in {ROUNDS} rounds of {args.ops // ROUNDS}"):
        m.update(single_writes(target, filled, args.ops))
    with step(f"{target.label}: raw library saves of 100 per call (baseline, own database)"):
        events = args.ops * 10
        m["raw_batch100"] = {"events_per_s": events / raw.raw_saves(target.empty("raw"), events, raw.BATCH)}
    with (
        step(f"{target.label}: over HTTP (questions, then {args.ops} writes from {args.clients} clients)"),
        over_http.serving(target) as (base, token),
    ):
        asked = over_http.questions(base, token, filled, args.probes)
        m["http_accepted_version_at"], m["http_may_disclose"] = asked["accepted_version_at"], asked["may_disclose"]
        m["http_writes"] = over_http.writes(base, token, target, filled, count=args.ops, clients=args.clients)
    if not m["http_writes"]["exactly_once"]["ok"]:
        msg = f"HTTP writes were not recorded exactly once: {m['http_writes']['exactly_once']}"
        raise SystemExit(msg)
    with step(f"{target.label}: bulk import"):
        m["bulk_import"] = bulk_import.bulk_import(target, max(args.ops * 25, 2_000))
    return m


def single_writes(target: Target, filled: Filled, ops: int) -> dict[str, Any]:
    """raw_single and the ledger's single writes, taking turns, so that a change in the machine's load hits all."""
    raw_db = target.empty("raw")
    per = max(ops // ROUNDS, 1)
    seconds = {"raw_single": 0.0, "ledger_disclosure": 0.0, "ledger_consent": 0.0}
    refused = {"ledger_disclosure": 0, "ledger_consent": 0}
    for _ in range(ROUNDS):
        seconds["raw_single"] += raw.raw_saves(raw_db, per, 1)
        for kind, (spent, refusals) in writes.in_process(target, filled, per).items():
            seconds[f"ledger_{kind}"] += spent
            refused[f"ledger_{kind}"] += refusals
    return {
        name: {"events_per_s": per * ROUNDS / spent, "writes": per * ROUNDS, "refused": refused.get(name, 0)}
        for name, spent in seconds.items()
    }


def parse(argv: list[str]) -> argparse.Namespace:
    """The options; --tiny sets small sizes and counts unless they are given."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", help="comma-separated event counts (default 100000,1000000; --tiny: 2000)")
    parser.add_argument("--huge", action="store_true", help=f"add {HUGE:,} events to the sizes")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--tiny", action="store_true", help="a quick run for CI: 2k events, a hundred of each op")
    parser.add_argument("--ops", type=int, help="writes of each kind (default 2000; --tiny: 100)")
    parser.add_argument("--probes", type=int, help="questions of each kind (default 1000; --tiny: 100)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients (default 32)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where bench.json and bench.md go")
    parser.add_argument("--workdir", type=Path, help="where SQLite histories and exports are kept (default var/bench)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CONSENT_LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in (args.sizes or ("2000" if args.tiny else "100000,1000000")).split(",")]
    if args.huge:
        args.sizes.append(HUGE)
    args.backends = [b.strip() for b in args.backends.split(",")]
    if unknown := set(args.backends) - {"sqlite", "postgres"}:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}; use sqlite, postgres")
    args.ops = args.ops or (100 if args.tiny else 2000)
    args.probes = args.probes or (100 if args.tiny else 1000)
    args.workdir = args.workdir or Path("var/bench-tiny" if args.tiny else "var/bench")
    return args


def main(argv: list[str]) -> None:
    """Measure every (backend, size), print the table, write the results."""
    args = parse(argv)
    command = shlex.join(["python -m benchmarks", *argv]).replace("'python -m benchmarks'", "python -m benchmarks")
    started = time.monotonic()
    args.workdir.mkdir(parents=True, exist_ok=True)
    figures = []
    for backend in args.backends:
        for size in args.sizes:
            target = Target(backend, size, args.workdir.resolve(), args.postgres_url)
            figures += rows(backend, size, measure(target, args))
    figures += across_sizes(figures)
    seconds = time.monotonic() - started
    about = machine(args.postgres_url if "postgres" in args.backends else None)
    options = {"ops": args.ops, "probes": args.probes, "clients": args.clients, "rounds": ROUNDS}
    write(args.out, command, seconds, about, options, figures)
    show(figures)
    say(f"done in {seconds / 60:.1f} min; results in {args.out / 'bench.json'} and {args.out / 'bench.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
