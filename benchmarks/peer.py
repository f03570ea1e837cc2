"""consent-ledger beside Ethyca Fides, the same workload in one run: `python -m benchmarks.peer`.

The workload is the peers' own (`../shared/peers/fides/peer_compare.py`): consent saves from one
client and from eight, and reads of one subject's current state, interleaved so that both systems
see the same machine, on the same PostgreSQL. Fides is set up and started with the peers'
`setup.sh` when it does not answer (it installs into a virtualenv of its own under `$TMPDIR`);
the ledger runs as `consent-ledger serve` from this virtualenv, in a schema of its own. A last
phase asks the ledger its questions in batches (`POST /v1/questions`), the way a service that
checks many subjects at once would, beside Fides' one-at-a-time reads.

Results go to `benchmarks/results/peer.json` and `peer.md`, each figure beside Fides' from the
same run and the goal of issue 14.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.peer_questions import batched_questions
from benchmarks.progress import say, step

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PEERS = Path(os.environ.get("CONSENT_LEDGER_PEERS", ROOT.parent / "shared" / "peers" / "fides"))
FIDES = "http://127.0.0.1:18080"
FIDES_PYTHON = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "fides-venv" / "bin" / "python"
LEDGER = Path(sys.executable).parent / "consent-ledger"

GOALS = {
    "A seq 1 client": ("throughput", 10.0),
    "B conc 8 clients": ("throughput", 30.0),
}
"""Issue 14: saves per second at least this many times Fides' (and server CPU per save at most 1/20 of it)."""
CPU_GOAL = 20.0
QUESTIONS_GOAL = 20.0
"""Answers per second over HTTP, in batches, at least this many times Fides' current-state reads."""


def fides_answers() -> bool:
    """Whether a Fides server answers its health check."""
    try:
        return httpx.get(f"{FIDES}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_fides() -> None:
    """Start Fides with the peers' `setup.sh` (installing it first if it is missing) unless it already answers."""
    if fides_answers():
        return
    with step("Fides does not answer: setting it up with the peers' setup.sh (installs once, a few minutes)"):
        subprocess.run(["bash", str(PEERS / "setup.sh")], check=True, stdout=sys.stderr)  # noqa: S603, S607
    if not fides_answers():
        msg = f"Fides did not come up at {FIDES}; see {PEERS / 'setup.sh'} and its server log"
        raise SystemExit(msg)


def peer_compare(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Run the peers' comparison script (with the Fides virtualenv's Python) and read its results."""
    env = {
        **os.environ,
        "CONSENT_LEDGER_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),  # serve on PostgreSQL needs one
    }
    command = [
        str(FIDES_PYTHON),
        str(PEERS / "peer_compare.py"),
        "--ledger-bin",
        str(LEDGER),
        "--pg",
        args.postgres_url,
        "--seq",
        str(args.seq),
        "--conc",
        str(args.conc),
        "--reads",
        str(args.reads),
        "--json",
        str(out),
    ]
    subprocess.run(command, check=True, env=env, stdout=sys.stderr)  # noqa: S603  (the peers' own script)
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def table(compared: dict[str, Any], questions: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure: Fides', the ledger's, their ratio, the goal and whether it was met."""
    phases = {(p["system"], p["phase"]): p for p in compared["phases"]}
    rows = []
    for name in sorted({p["phase"] for p in compared["phases"]}):
        fides, ledger = phases[("fides", name)], phases[("ledger", name)]
        ratio = ledger["ops_per_s"] / fides["ops_per_s"]
        cpu = fides["server_cpu_ms_per_op"] / max(1e-9, ledger["server_cpu_ms_per_op"])
        goal = GOALS.get(name, (None, None))[1]
        rows.append(
            {
                "figure": name,
                "fides": fides,
                "ledger": ledger,
                "ratio": round(ratio, 2),
                "cpu_ratio": round(cpu, 2),
                "goal": goal,
                "met": goal is None or (ratio >= goal and cpu >= CPU_GOAL),
            }
        )
    reads = phases[("fides", "C read current state")]["ops_per_s"]
    rows.append(
        {
            "figure": f"D questions in batches of {questions['batch']}",
            "fides": {"ops_per_s": reads, "note": "current-state reads, one per call"},
            "ledger": questions,
            "ratio": round(questions["answers_per_s"] / reads, 2),
            "cpu_ratio": None,
            "goal": QUESTIONS_GOAL,
            "met": questions["answers_per_s"] / reads >= QUESTIONS_GOAL,
        }
    )
    return rows


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The table as the README shows it."""
    lines = [
        (
            f"Measured {meta['date']} with `{meta['command']}` ({meta['seconds']:.0f} s), Fides {meta['fides']}, "
            "one uvicorn process each, the same PostgreSQL."
        ),
        "",
        "| same workload, PostgreSQL | Fides | consent-ledger | ratio | server CPU ratio | goal |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        f, ledger = r["fides"], r["ledger"]
        ledger_text = (
            f"{ledger['answers_per_s']:,.0f} answers/s"
            if "answers_per_s" in ledger
            else f"{ledger['ops_per_s']:,.0f}/s, p50 {ledger['p50_ms']} ms, CPU {ledger['server_cpu_ms_per_op']} ms"
        )
        fides_text = (
            f"{f['ops_per_s']:,.0f}/s"
            if "p50_ms" not in f
            else f"{f['ops_per_s']:,.0f}/s, p50 {f['p50_ms']} ms, CPU {f['server_cpu_ms_per_op']} ms"
        )
        goal = "—" if r["goal"] is None else f"≥ {r['goal']:g}x ({'met' if r['met'] else 'missed'})"
        cpu = "—" if r["cpu_ratio"] is None else f"{r['cpu_ratio']}x"
        lines.append(f"| {r['figure']} | {fides_text} | {ledger_text} | {r['ratio']}x | {cpu} | {goal} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Set Fides up if need be, run the comparison and the batched questions, write the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seq", type=int, default=500, help="saves from one client (each a new subject)")
    parser.add_argument("--conc", type=int, default=1000, help="saves from eight clients")
    parser.add_argument("--reads", type=int, default=500, help="one-at-a-time reads of one subject")
    parser.add_argument("--batches", type=int, default=20, help="batches of 1,000 questions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.time()
    ensure_fides()
    args.out.mkdir(parents=True, exist_ok=True)
    compared = peer_compare(args, args.out / "peer_compare.json")
    with step(f"the ledger's questions, in {args.batches} batches of 1,000"):
        questions = batched_questions(args.postgres_url, LEDGER, args.batches)
    fides_version = httpx.get(f"{FIDES}/health", timeout=3).json().get("version", "?")
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "command": "python -m benchmarks.peer " + " ".join(sys.argv[1:]),
        "seconds": time.time() - started,
        "fides": fides_version,
    }
    rows = table(compared, questions)
    (args.out / "peer.json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
    text = markdown(rows, meta)
    (args.out / "peer.md").write_text(text)
    say(text)


if __name__ == "__main__":
    main()
