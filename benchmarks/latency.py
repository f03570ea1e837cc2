"""Does answer latency grow with history length?  Point-in-time questions at several sizes.

    python -m benchmarks.latency --sizes 100000,10000000 --backend sqlite

For each size: generate the history (resumable: an interrupted run continues where it
stopped), bring the view up to date, then time `accepted_version_at` and `may_disclose` for
random subjects at random moments, in process, against the naive answer (rebuild the subject
from its events, as eventsourcing's searchable-timestamps example does). Results go to
benchmarks/results/latency-<backend>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.history import MASTER_KEY, POLICY, START, generate, subject_name
from ledger.application import ConsentLedger, open_ledger
from ledger.rules import standing_consent
from ledger.storage import Database
from ledger.subject import subject_key
from ledger.terms import Purpose, RecipientCategory, SubjectId
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

RESULTS = Path(__file__).parent / "results"


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 in microseconds."""
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6  # noqa: E731
    return {"p50_us": round(pick(0.50), 1), "p95_us": round(pick(0.95), 1), "p99_us": round(pick(0.99), 1)}


def progress_line(label: str, total: int) -> Callable[[int], None]:
    """A one-line progress report on stderr: count, rate and time left."""
    started = time.monotonic()

    def show(done: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        eta = (total - done) / rate if rate else 0
        print(f"\r{label}: {done:>11,}/{total:,}  {rate:9,.0f}/s  eta {eta:6.0f}s", end="", file=sys.stderr, flush=True)

    return show


def measure(database_url: str, size: int, queries: int) -> dict[str, object]:
    """Build (or resume) a history of `size` events and time the questions on it."""
    database = Database.from_url(database_url)
    ledger = open_ledger(database, MASTER_KEY)
    t0 = time.monotonic()
    generated = generate(ledger, size, progress=progress_line(f"generate {size:,}", size))
    print(file=sys.stderr)
    generate_seconds = time.monotonic() - t0
    view = open_view(database)
    keeper = ViewKeeper(ledger, view)
    t0 = time.monotonic()
    keeper.catch_up(batch=2000, progress=progress_line(f"project  {size:,}", ledger.max_position()))
    print(file=sys.stderr)
    project_seconds = time.monotonic() - t0
    questions = LedgerQuestions(view)
    rng = random.Random(11)
    probes = [
        (subject_name(rng.randrange(generated.subjects)), START + timedelta(days=rng.randrange(0, 800)))
        for _ in range(queries)
    ]
    passes = {"cold": _time_questions(ledger, questions, probes), "warm": _time_questions(ledger, questions, probes)}
    ledger.close()
    return {
        "events": generated.events,
        "subjects": generated.subjects,
        "generate_events_per_s": round(generated.events / max(generate_seconds, 1e-9)),
        "project_events_per_s": round(generated.events / max(project_seconds, 1e-9)),
        **{
            f"{name} ({label})": percentiles(samples)
            for label, timings in passes.items()
            for name, samples in timings.items()
        },
        "median_us": {
            f"{name} ({label})": round(statistics.median(s) * 1e6, 1)
            for label, timings in passes.items()
            for name, s in timings.items()
        },
    }


QUESTIONS = ("accepted_version_at", "may_disclose", "naive_accepted_version_at")


def _time_questions(
    ledger: ConsentLedger, questions: LedgerQuestions, probes: list[tuple[SubjectId, datetime]]
) -> dict[str, list[float]]:
    """One pass over the probes: the first pass meets cold pages, the second the operating system's cache."""
    timings: dict[str, list[float]] = {name: [] for name in QUESTIONS}
    for subject, at in probes:
        t = time.perf_counter()
        questions.accepted_version_at(subject, POLICY, at)
        timings["accepted_version_at"].append(time.perf_counter() - t)
        t = time.perf_counter()
        questions.may_disclose(subject, RecipientCategory.COURIER, Purpose("4.1.1"), at)
        timings["may_disclose"].append(time.perf_counter() - t)
        t = time.perf_counter()
        naive = ledger.repository.get(subject_key(subject))  # rebuild from every event, then judge
        standing_consent([e for e in naive.entries if e.occurred_at <= at], POLICY, at)
        timings["naive_accepted_version_at"].append(time.perf_counter() - t)
    return timings


def main() -> None:
    """Run the benchmark at each size and write the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated event counts")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workdir", default="var/bench", help="where SQLite databases are kept (and resumed)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--out", default=None, help="results file stem (default benchmarks/results/latency-<backend>)")
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        if args.backend == "sqlite":
            Path(args.workdir).mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{args.workdir}/history-{size}.db"
        else:
            url = f"{args.postgres_url}?schema=bench_{size}"
        print(f"size {size:,} on {args.backend}", file=sys.stderr)
        results.append(measure(url, size, args.queries))
    first, last = results[0], results[-1]
    growth = {
        q: round(last["median_us"][q] / first["median_us"][q], 2)  # type: ignore[index]
        for q in first["median_us"]  # type: ignore[attr-defined]
    }
    report = {
        "benchmark": "point-in-time answer latency vs history length",
        "command": " ".join(["python -m benchmarks.latency", *sys.argv[1:]]),
        "backend": args.backend,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "eventsourcing": version("eventsourcing"),
        },
        "sizes": results,
        "p50_growth_largest_over_smallest": growth,
    }
    stem = Path(args.out) if args.out else RESULTS / f"latency-{args.backend}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    lines = [
        f"# Answer latency vs history length ({args.backend})",
        "",
        f"Command: `{report['command']}`",
        "",
        "| events | subjects | question | p50 µs | p95 µs | p99 µs |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        for q in r["median_us"]:  # type: ignore[attr-defined]
            p = r[q]
            lines.append(
                f"| {r['events']:,} | {r['subjects']:,} | {q} | {p['p50_us']} | {p['p95_us']} | {p['p99_us']} |"
            )  # type: ignore[index]
    lines += ["", f"p50 growth, largest over smallest size: {growth}", ""]
    stem.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
