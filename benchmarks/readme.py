"""Put a results table into the README's Performance section: `python -m benchmarks.readme [bench.json]`.

Everything from the "## Performance" heading to the next "## " heading (or the end) is
replaced; the rest of the README, its first screen above all, is left as it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure
from benchmarks.report import markdown

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Performance\n"


def huge_part(results: dict[str, Any] | None) -> str:
    """The 10M-event rows of a `--huge` run, with the goals that compare sizes; empty without one."""
    if results is None:
        return ""
    figures = [Figure(**f) for f in results["figures"]]
    rows = [f for f in figures if f.size >= 10_000_000]  # the --huge size
    if not rows:
        return ""
    return f"""
At 10M events, from a run of its own (`{results["command"]}`, {results["date"]},
{float(results["seconds"]) / 60:.1f} min on histories generated before; the 100k and 1M rows it compares
with are in `benchmarks/results/huge/bench.md`). {results.get("note", "")} Making the 10M SQLite history took 68 min and
at most 330 MB of memory; a 10M PostgreSQL history was not made (several hours on this machine):

{markdown(rows)}
"""


def section(results: dict[str, Any], huge: dict[str, Any] | None = None) -> str:
    """The Performance section for these results (and, if given, a `--huge` run's 10M rows)."""
    about, options = results["machine"], results.get("options", {})
    assert isinstance(about, dict)  # noqa: S101  (written by report.write)
    assert isinstance(options, dict)  # noqa: S101  (same)
    figures = [Figure(**f) for f in results["figures"]]
    return f"""{HEADING}
Issue 7's table, made by one command; every figure stands beside its baseline, measured in the
same run on the same backend (a separate database or schema), because only those ratios mean
anything on a machine whose 2 cores other work shares:

```sh
python -m benchmarks                       # 100k and 1M events, SQLite and PostgreSQL (~25 min on 2 cores)
python -m benchmarks --sizes 100000 --backends sqlite   # one size, one backend
python -m benchmarks --huge                # adds 10M events
python -m benchmarks --tiny --out DIR      # what CI runs: 2k events, under a minute
```

Histories are generated once per backend and size (resumable) and reused by later runs. The
baselines: **raw_single** and **raw_batch100**, a plain `eventsourcing` Application saving an
aggregate whose created event carries a disclosure's fields, one (or 100) per `save()`, taking
turns with the ledger's single writes; **raw_read**, every notification of the ledger's log
selected in pages, nothing decoded (read before and after the other log jobs); **naive**,
rebuilding the subject and its policy from their events and judging with `ledger.rules`. HTTP
writes come from {options.get("clients", "many")} concurrent clients against `consent-ledger serve`, and every
acknowledged write is checked against the log (exactly once, where its receipt says).
Writes run last: they append to the history the questions and the replay used. Results, with
the machine, the versions and the profiling notes: `benchmarks/results/bench.json` and
`bench.md`.

`{results["command"]}` — {results["date"]}, {float(results["seconds"]) / 60:.1f} min
({about["cpus"]} CPUs, Python {about["python"]}, eventsourcing {about["eventsourcing"]},
SQLite {about["sqlite"]}, psycopg {about["psycopg"]}, PostgreSQL {about["postgresql_server"]}):

{markdown(figures)}
{huge_part(huge)}
A run reuses generated histories; making them (import of the generated JSON Lines, then the
view) took 20 s and 341 s on SQLite, 42 s and 579 s on PostgreSQL, for 100k and 1M events, with
other work on the machine. Where a goal is missed, the profiles (`bench.json`, "profile") say
why; in short:

- every ledger write is a command with its own rule check on the subject's whole record plus an
  idempotency acknowledgement, which the raw baselines have not; a subject not written recently
  is first read back from its events (about 30, about 0.5 ms): snapshots of subjects are next;
- an import stores about two events per fact (the fact and its acknowledgement) and checks each
  line with the HTTP API's own pydantic model; its time includes starting the CLI (about 1 s);
- over HTTP a write costs the server about 2.1 ms of CPU, all on one core (Python's GIL): about
  0.9 ms the group committer reading random subjects back and deciding, 0.6 ms the HTTP stack,
  0.2 ms the view keeper; a raw save costs about 0.5 ms, so no grouping of commits can make up
  the difference;
- a question over HTTP costs more than the naive answer in process: writing the response,
  FastAPI's routing and dependencies, and the access-log row the law asks for (committed
  durably, in groups, before the answer leaves) each cost more than the question itself; the
  naive baseline is measured in process, so 10x over HTTP would need an HTTP stack under 0.2 ms;
- on PostgreSQL every answer pays a network round trip: the server executes the question in
  about 0.05 ms, but a bare prepared `SELECT 1` takes 44 µs back to back and 97 µs when other
  work runs between questions (the backend sleeps and is woken), as in this benchmark, which
  asks each question between two naive answers;
- a replay spends about 80-95 µs of Python per event (decoding, statements for five tables,
  judging, row texts) against the raw read's 7-8 µs; it re-judges a subject's answers at every
  fact that can change them, and keeping the judged cells between facts was measured and gave
  nothing at 1M (at 100k a re-judged timeline has about 2.5 cuts: little to reuse).

"""


def main(argv: list[str]) -> None:
    """Rewrite README.md's Performance section from a bench.json (and `huge/bench.json` beside it, if there)."""
    source = Path(argv[0]) if argv else Path(__file__).parent / "results" / "bench.json"
    readme = ROOT / "README.md"
    text = readme.read_text()
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    rest = "" if end == -1 else text[end + 1 :]
    huge = source.parent / "huge" / "bench.json"
    extra = json.loads(huge.read_text()) if huge.exists() else None
    new = section(json.loads(source.read_text()), extra).rstrip("\n") + "\n"
    readme.write_text(text[:start] + new + ("\n" + rest if rest else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
