"""The results: a table on the terminal, and `bench.json` + `bench.md` with the machine they were measured on.

The "profile" list of `bench.json` holds before/after notes of the profiling done where a goal
was missed; a new run keeps the list it finds in the file it replaces.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import psycopg
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.figures import Figure

HEADERS = ("backend", "events", "figure", "value", "unit", "baseline", "ratio", "goal", "met")


def machine(postgres_url: str | None) -> dict[str, Any]:
    """CPU count, platform, Python and the versions of everything measured."""
    server = None
    if postgres_url is not None:
        try:
            with psycopg.connect(postgres_url.split("?")[0], connect_timeout=2) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                server = None if row is None else str(row[0])
        except psycopg.Error as e:
            server = f"unreachable: {e}".splitlines()[0]
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "eventsourcing": version("eventsourcing"),
        "sqlite": sqlite3.sqlite_version,
        "psycopg": psycopg.__version__,
        "postgresql_server": server,
    }


def _cells(f: Figure) -> tuple[str, ...]:
    value = f.note if f.value is None else (f"{f.value:,.0f}" if f.value >= 100 else f"{f.value:g}")
    base = (
        ""
        if f.baseline_value is None
        else (f"{f.baseline_value:,.0f}" if f.baseline_value >= 100 else f"{f.baseline_value:g}")
    )
    met = {True: "met", False: "MISSED", None: ""}[f.met]
    baseline = f"{f.baseline} = {base}" if f.baseline else ""
    return (
        f.backend,
        f"{f.size:,}",
        f.name,
        value,
        f.unit,
        baseline,
        "" if f.ratio is None else f"{f.ratio:g}",
        f.goal,
        met,
    )


def show(figures: list[Figure], console: Console | None = None) -> None:
    """The table on the terminal."""
    table = Table(*HEADERS, title="consent-ledger benchmarks (issue 7)")
    for f in figures:
        table.add_row(*_cells(f), style="red" if f.met is False else None)
    console = console or Console()
    if not console.is_terminal:  # a log file or a pipe: no need to squeeze the table into 80 columns
        console.width = max(console.width, 170)
    console.print(table)


def markdown(figures: list[Figure]) -> str:
    """The table in Markdown, for bench.md and the README."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|---|---:|---|---:|---|---|---:|---|---|"]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in _cells(f)) + " |" for f in figures]
    return "\n".join(lines)


def write(  # noqa: PLR0917  (one results file, everything it holds)
    out: Path, command: str, seconds: float, about: dict[str, Any], options: dict[str, Any], figures: list[Figure]
) -> None:
    """bench.json and bench.md in `out`, keeping the profile notes of the file replaced."""
    out.mkdir(parents=True, exist_ok=True)
    old = out / "bench.json"
    profile: list[Any] = json.loads(old.read_text()).get("profile", []) if old.exists() else []
    results = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": about,
        "options": options,
        "figures": [f.as_json() for f in figures],
        "profile": profile,
    }
    old.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    notes = "\n".join(f"- {json.dumps(p, ensure_ascii=False)}" for p in profile) or "- (none yet)"
    (out / "bench.md").write_text(
        f"# Benchmarks (issue 7)\n\nCommand: `{command}` — {results['date']}, {seconds / 60:.1f} min\n\n"
        f"Machine: {about['cpus']} CPUs, {about['platform']}, Python {about['python']}, "
        f"eventsourcing {about['eventsourcing']}, SQLite {about['sqlite']}, psycopg {about['psycopg']}, "
        f"PostgreSQL {about['postgresql_server']}\n\n{markdown(figures)}\n\n## Profile (before/after)\n\n{notes}\n"
    )
