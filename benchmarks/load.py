"""Load test on loopback: `serve --workers 4` and one `project` process on PostgreSQL, many writers and readers.

Writers record consents and disclosures, each with its own idempotency key (a write that fails
in transport is retried with the same key, as a client should); readers ask disclosure checks.
When time or the request budget runs out, the whole log is read back through the change feed
and every acknowledged write must be there exactly once, and nothing unacknowledged.

    .venv/bin/python benchmarks/load.py --seconds 30 --writers 32 --readers 16
    .venv/bin/python benchmarks/load.py --seconds 3 --writers 4 --readers 2 --workers 2   # CI smoke

Results: benchmarks/results/load.json and load.md. Not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.tokens import Scope, TokenStore  # noqa: E402
from ledger.application import Request, open_ledger, text_sha256  # noqa: E402
from ledger.sealing import new_master_key, parse_master_key  # noqa: E402
from ledger.storage import Database  # noqa: E402
from ledger.terms import Language, PolicyId, Purpose, RecipientCategory  # noqa: E402

CLI = str(Path(sys.executable).parent / "consent-ledger")
POLICY = PolicyId("load-policy")
TEXT = {Language.EN: "Load test policy", Language.RU: "Политика", Language.KK: "Саясат"}


@dataclass
class Tally:
    """What the clients saw: latencies by kind, statuses, and the receipts of acknowledged writes."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    acknowledged: dict[str, int] = field(default_factory=dict)
    """Idempotency key -> the log position its receipt named."""
    unanswered: set[str] = field(default_factory=set)
    """Keys whose every attempt failed in transport: they may or may not be in the log."""
    requests: int = 0


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def consent_body() -> dict[str, Any]:
    """A consent to the load policy, with third parties allowed (so courier disclosures are grounded)."""
    return {
        "policy_id": POLICY,
        "policy_version": "1",
        "language": "en",
        "text_sha256": text_sha256(TEXT[Language.EN]),
        "method": "order_checkout",
        "channel": "site",
        "third_parties": True,
    }


def disclosure_body(n: int) -> dict[str, Any]:
    """A delivery disclosure to a courier, grounded in the order."""
    return {
        "recipient": "Courier LLP",
        "recipient_category": "courier",
        "purpose": "4.1.2",
        "data_categories": ["contact", "address"],
        "ground": "order_fulfilment",
        "reference": f"order {n}",
    }


async def write(
    http: httpx.AsyncClient, tally: Tally, *, kind: str, path: str, body: dict[str, Any], budget: int
) -> bool:
    """POST once (retrying transport failures and 503s with the same key); True if acknowledged."""
    key = uuid.uuid4().hex
    for _ in range(3):
        if tally.requests >= budget:
            break
        tally.requests += 1
        started = time.perf_counter()
        try:
            answer = await http.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as e:
            tally.statuses[f"{kind}:{type(e).__name__}"] += 1
            continue
        tally.latencies[kind].append(time.perf_counter() - started)
        tally.statuses[f"{kind}:{answer.status_code}"] += 1
        if answer.status_code in (200, 201):
            tally.acknowledged[key] = int(answer.json()["position"])
            tally.unanswered.discard(key)
            return True
        if answer.status_code not in (503, 409):
            return False
        tally.unanswered.add(key)
    return False


async def writer(
    http: httpx.AsyncClient, tally: Tally, *, name: str, deadline: float, budget: int, subjects: list[str]
) -> None:
    """Consent a new subject, then disclose their data a few times; repeat until time or budget runs out."""
    n = 0
    while time.monotonic() < deadline and tally.requests < budget:
        subject = f"{name}-{n}"
        n += 1
        path = f"/v1/subjects/{subject}/consents"
        if not await write(http, tally, kind="consent", path=path, body=consent_body(), budget=budget):
            continue
        subjects.append(subject)
        for d in range(3):
            if time.monotonic() >= deadline:
                return
            await write(
                http,
                tally,
                kind="disclosure",
                path=f"/v1/subjects/{subject}/disclosures",
                body=disclosure_body(d),
                budget=budget,
            )


async def reader(http: httpx.AsyncClient, tally: Tally, deadline: float, budget: int, subjects: list[str]) -> None:
    """Ask whether a known subject's data may go to a courier, until time or budget runs out."""
    rng = random.Random(7)
    while time.monotonic() < deadline and tally.requests < budget:
        if not subjects:
            await asyncio.sleep(0.01)
            continue
        tally.requests += 1
        started = time.perf_counter()
        try:
            answer = await http.get(
                f"/v1/subjects/{rng.choice(subjects)}/disclosure-check",
                params={"recipient_category": "courier", "purpose": "4.1.2"},
                headers={"X-Purpose": "deliver an order"},
            )
        except httpx.HTTPError as e:
            tally.statuses[f"check:{type(e).__name__}"] += 1
            continue
        tally.latencies["check"].append(time.perf_counter() - started)
        tally.statuses[f"check:{answer.status_code}"] += 1


async def drive(base: str, token: str, args: argparse.Namespace) -> tuple[Tally, float]:
    """Run the writers and readers against `base`; the tally and the seconds they ran."""
    tally = Tally()
    subjects: list[str] = []
    limits = httpx.Limits(max_connections=args.writers + args.readers)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as http:
        started = time.monotonic()
        deadline = started + args.seconds
        await asyncio.gather(
            *(
                writer(http, tally, name=f"w{i}", deadline=deadline, budget=args.max_requests, subjects=subjects)
                for i in range(args.writers)
            ),
            *(reader(http, tally, deadline, args.max_requests, subjects) for _ in range(args.readers)),
        )
        return tally, time.monotonic() - started


def read_feed(base: str, token: str) -> list[dict[str, Any]]:
    """Every event in the log, through the change feed."""
    events: list[dict[str, Any]] = []
    after = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        while True:
            page = http.get("/v1/events", params={"after": after, "limit": 1000})
            page.raise_for_status()
            batch = page.json()["events"]
            if not batch:
                return events
            events.extend(batch)
            after = page.json()["next_after"]


def verify(tally: Tally, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Every acknowledged write is in the log exactly once; nothing was recorded that nobody acknowledged."""
    per_key = Counter(e["state"]["idempotency_key"] for e in events if e["topic"] == "Acknowledgement.Given")
    facts = {e["position"] for e in events if e["topic"] in ("Subject.ConsentGranted", "Subject.DataDisclosed")}
    missing = [k for k in tally.acknowledged if per_key[k] != 1]
    not_in_log = [k for k, p in tally.acknowledged.items() if p not in facts]
    unacknowledged = [k for k in per_key if k not in tally.acknowledged and k not in tally.unanswered]
    positions = list(tally.acknowledged.values())
    return {
        "acknowledged_writes": len(tally.acknowledged),
        "facts_in_log": len(facts),
        "keys_not_exactly_once": len(missing),
        "receipts_not_in_log": len(not_in_log),
        "recorded_but_never_acknowledged": len(unacknowledged),
        "receipts_sharing_a_position": len(positions) - len(set(positions)),
        "ok": not missing
        and not not_in_log
        and not unacknowledged
        and len(positions) == len(set(positions))
        and len(facts) == len(tally.acknowledged) + len([k for k in tally.unanswered if per_key[k]]),
    }


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    if len(values) < 2:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "count": len(values),
        "p50_ms": round(q[49] * 1000, 2),
        "p95_ms": round(q[94] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


def report(args: argparse.Namespace, tally: Tally, seconds: float, check: dict[str, Any]) -> dict[str, Any]:
    """Write load.json and load.md; give the results."""
    latencies = {kind: percentiles(values) for kind, values in sorted(tally.latencies.items())}
    answered = sum(len(v) for v in tally.latencies.values())
    results = {
        "setup": {
            "http_workers": args.workers,
            "projection_workers": 1,
            "writers": args.writers,
            "readers": args.readers,
            "seconds": args.seconds,
            "max_requests": args.max_requests,
            "database": "PostgreSQL 15 on loopback",
            "cpus": os.cpu_count(),
        },
        "ran_seconds": round(seconds, 2),
        "requests_answered": answered,
        "throughput_rps": round(answered / seconds, 1),
        "acknowledged_writes_per_second": round(len(tally.acknowledged) / seconds, 1),
        "latency": latencies,
        "statuses": dict(sorted(tally.statuses.items())),
        "verification": check,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = "\n".join(
        f"| {kind} | {p.get('count', 0)} | {p.get('p50_ms', '')} | {p.get('p95_ms', '')} | {p.get('p99_ms', '')} "
        f"| {p.get('max_ms', '')} |"
        for kind, p in latencies.items()
    )
    (out / "load.md").write_text(
        f"# Load test\n\n{args.workers} HTTP workers + 1 projection worker on PostgreSQL (loopback), "
        f"{args.writers} writers and {args.readers} readers for {seconds:.1f} s on {os.cpu_count()} CPUs.\n\n"
        f"Throughput: {results['throughput_rps']} requests/s, "
        f"{results['acknowledged_writes_per_second']} acknowledged writes/s.\n\n"
        "| request | count | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n"
        f"{rows}\n\nStatuses: {results['statuses']}\n\n"
        f"Exactly once: {'yes' if check['ok'] else 'NO'} — {check}\n"
    )
    return results


def main() -> int:
    """Set up a fresh schema, start the processes, drive the load, verify, report; 1 if verification failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CONSENT_LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--readers", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()

    schema = f"load_{uuid.uuid4().hex[:8]}"
    database = Database.from_url(f"{args.postgres_url}{'&' if '?' in args.postgres_url else '?'}schema={schema}")
    key = new_master_key()
    ledger = open_ledger(database, parse_master_key(key))
    ledger.publish_policy_version(
        Request("privacy-officer"),
        policy_id=POLICY,
        version="1",
        text_sha256={lang: text_sha256(text) for lang, text in TEXT.items()},
        purposes=frozenset({Purpose("4.1.1"), Purpose("4.1.2")}),
        optional_purposes=frozenset(),
        recipient_categories=frozenset({RecipientCategory.COURIER}),
        operator_name="Load",
        operator_bin="000000000000",
    )
    token = TokenStore(ledger).create("load-test", {Scope.WRITE, Scope.READ, Scope.AUDIT}, ledger.clock())
    ledger.close()

    port = free_port()
    env = {**os.environ, "CONSENT_LEDGER_DATABASE_URL": database.url, "CONSENT_LEDGER_MASTER_KEY": key}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    logs = Path(tempfile.mkdtemp(prefix="consent-ledger-load-"))  # the processes' JSON logs, for a post-mortem
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in (
            ("serve", ["serve", "--workers", str(args.workers), "--port", str(port)]),
            ("project", ["project"]),
        ):
            with (logs / f"{name}.log").open("wb") as log:
                processes.append(subprocess.Popen([CLI, *command], env=env, stdout=log, stderr=subprocess.STDOUT))  # noqa: S603
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or processes[0].poll() is not None:
                print((logs / "serve.log").read_text(), file=sys.stderr)
                return 1
            time.sleep(0.1)
        tally, seconds = asyncio.run(drive(base, token, args))
        check = verify(tally, read_feed(base, token))
        results = report(args, tally, seconds, check)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(**database.psycopg_kwargs(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    print(json.dumps(results, indent=2))
    print(f"process logs: {logs}", file=sys.stderr)
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
