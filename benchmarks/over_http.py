"""The ledger over HTTP: `consent-ledger serve` in a child process, real sockets, many concurrent clients.

Writes are courier disclosures on subjects of the history, sent by many asynchronous clients at
once, each with its own idempotency key (a write that fails in transport, or is answered 503 or
409 for a concurrent write, is retried with the same key, as a client should; a rule's refusal
is not: it would answer the same). Only acknowledged (2xx) writes count,
and each is then checked against the log itself: its idempotency key acknowledged exactly once,
pointing at the very event its receipt names, and nothing recorded that nobody acknowledged.
Questions are asked one at a time on one kept-alive connection, so their times are latencies.
Requests go through `benchmarks.http_client`, a lean client, so that the load generator sharing
the machine's cores takes little of what the server needs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
import orjson

from api.tokens import Scope, TokenStore
from benchmarks.databases import MASTER_KEY, RECEIPT_SEED, SIGNING_SEED
from benchmarks.history import POLICY, subject_name
from benchmarks.http_client import Answer, Connection, TransportError
from benchmarks.progress import counter
from benchmarks.questions import probes
from benchmarks.stats import Latency

if TYPE_CHECKING:
    from collections.abc import Iterator

    from benchmarks.databases import Filled, Target
    from ledger.acknowledgement import Acknowledgement

CLI = str(Path(sys.executable).parent / "consent-ledger")
ATTEMPTS = 3
CONFLICT = b"problem:concurrent-write-conflict"
"""In the problem type of a 409 worth retrying (a write lost a race), unlike a rule's refusal."""
READ_PURPOSE = {"X-Purpose": "benchmark: deliver an order"}


@dataclass
class Tally:
    """What the clients saw."""

    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Idempotency key -> the receipt its 2xx answer carried."""
    unanswered: set[str] = field(default_factory=set)
    """Keys whose attempts all failed in transport or were refused for now: they may or may not be in the log."""
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(target: Target, workers: int = 1) -> Iterator[tuple[str, str]]:
    """Run `consent-ledger serve` on the target's history; (base URL, a bearer token with read and write).

    One process, as SQLite must be served. With `workers` > 1 (PostgreSQL only), `serve --workers`
    runs beside a `consent-ledger project` process that keeps the view current, the deployment the
    product documents for several cores. On this shared 2-core machine that did not pay: the
    projector process, per-process metrics files and halved groups cost about a third more CPU per
    write than one process, and the second core was not free to take it. Either way the view has
    caught up with the log before this yields.
    """
    ledger = target.open()
    name = f"bench-{uuid.uuid4().hex[:12]}"
    try:
        token = TokenStore(ledger).create(name, {Scope.WRITE, Scope.READ}, ledger.clock())
    finally:
        ledger.close()
    port = _free_port()
    env = {
        **os.environ,
        "CONSENT_LEDGER_DATABASE_URL": target.url("history"),
        "CONSENT_LEDGER_MASTER_KEY": base64.urlsafe_b64encode(MASTER_KEY).decode(),
        "CONSENT_LEDGER_SIGNING_KEY": base64.b64encode(SIGNING_SEED).decode(),
        "CONSENT_LEDGER_RECEIPT_KEY": base64.b64encode(RECEIPT_SEED).decode(),
        "CONSENT_LEDGER_CHECKPOINT_INTERVAL": "0",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = target.workdir / f"serve-{target.backend}-{target.size}.log"
    commands = [[CLI, "serve", "--port", str(port), "--workers", str(workers)]]
    if workers > 1:
        commands.append([CLI, "project"])
    with log_path.open("wb") as log:
        processes = [
            subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603  (our own command, our own arguments)
            for command in commands
        ]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # the view first catches up with the log
        while not _ready(base):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                msg = f"the server did not start; its log: {log_path}\n{log_path.read_text()[-2000:]}"
                raise RuntimeError(msg)
            time.sleep(0.1)
        yield base, token
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ready(base: str) -> bool:
    """Whether the server answers and its view has caught up with the log."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        answer = httpx.get(f"{base}/readyz", timeout=1)
        return answer.status_code == 200 and answer.json().get("lag") == 0
    return False


def questions(base: str, token: str, filled: Filled, count: int) -> dict[str, Latency]:
    """Both questions over HTTP on the same probes as in process, one request at a time; p50/p95/p99."""
    return asyncio.run(_questions(base, token, filled, count))


async def _questions(base: str, token: str, filled: Filled, count: int) -> dict[str, Latency]:
    asked: dict[str, list[float]] = {"accepted_version_at": [], "may_disclose": []}
    show = counter("HTTP probes", count)
    http = await Connection.open(base, {"Authorization": f"Bearer {token}", **READ_PURPOSE})
    try:
        for n, (subject, at) in enumerate(probes(filled, count), start=1):
            for name, path, params in (
                ("accepted_version_at", "accepted-version", {"policy_id": POLICY}),
                ("may_disclose", "disclosure-check", {"recipient_category": "courier", "purpose": "4.1.1"}),
            ):
                started = time.perf_counter()
                url = f"/v1/subjects/{subject}/{path}"
                answer = await http.request("GET", url, params={**params, "at": at.isoformat()})
                asked[name].append(time.perf_counter() - started)
                if not answer.is_success:
                    msg = f"{path} answered {answer.status}: {answer.body[:300]!r}"
                    raise RuntimeError(msg)
            show(n)
    finally:
        await http.close()
    return {name: Latency.of(samples) for name, samples in asked.items()}


@dataclass(frozen=True)
class _Client:
    """Where one load client sends, and as whom."""

    base: str
    head: dict[str, str]
    tally: Tally


async def _write(client: _Client, http: Connection | None, subject: str, key: str, n: int) -> Connection | None:
    """One disclosure, sent again with its key after a transport failure, a 409 or a 503; the connection to go on."""
    tally = client.tally
    body = orjson.dumps(
        {
            "recipient": "CDEK",
            "recipient_category": "courier",
            "purpose": "4.1.1",
            "data_categories": ["address"],
            "ground": "order_fulfilment",
            "reference": f"http order {key} {n}",
        }
    )
    for _ in range(ATTEMPTS):
        started = time.perf_counter()
        try:
            http = http or await Connection.open(client.base, client.head)
            answer = await http.request(
                "POST", f"/v1/subjects/{subject}/disclosures", body=body, headers={"Idempotency-Key": key}
            )
        except TransportError:
            tally.statuses["TransportError"] += 1
            tally.unanswered.add(key)
            if http is not None:
                await http.close()
            http = None
            continue
        tally.statuses[str(answer.status)] += 1
        if answer.is_success:
            tally.latencies.append(time.perf_counter() - started)
            tally.acknowledged[key] = orjson.loads(answer.body)
            tally.unanswered.discard(key)
            return http
        if not _retry(answer):
            return http
        tally.unanswered.add(key)
    return http


def _retry(answer: Answer) -> bool:
    """Whether a client should send the write again: a conflict with a concurrent write (409) or 503, not a refusal.

    A rule's refusal (409 too, e.g. no ground for the disclosure) answers the same however often it is asked.
    """
    return answer.status == 503 or (answer.status == 409 and CONFLICT in answer.body)


async def _clients(base: str, token: str, subjects: list[str], run: str, clients: int) -> tuple[Tally, float]:
    tally = Tally()
    pending = iter(enumerate(subjects))
    show = counter("HTTP writes", len(subjects))
    done = 0
    client = _Client(base, {"Authorization": f"Bearer {token}"}, tally)

    async def one_client() -> None:
        nonlocal done
        http: Connection | None = None
        try:
            for n, subject in pending:
                http = await _write(client, http, subject, f"{run}-h{n}", n)
                done += 1
                show(done)
        finally:
            if http is not None:
                await http.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return tally, time.perf_counter() - started


def writes(base: str, token: str, target: Target, filled: Filled, *, count: int, clients: int) -> dict[str, Any]:
    """`count` disclosures from `clients` concurrent clients; acknowledged events/s, latencies and the log check."""
    run = uuid.uuid4().hex[:12]
    rng = random.Random(run)
    subjects = [str(subject_name(rng.randrange(filled.subjects))) for _ in range(count)]
    ledger = target.open()
    try:
        before = ledger.max_position()
    finally:
        ledger.close()
    tally, seconds = asyncio.run(_clients(base, token, subjects, run, clients))
    check = exactly_once(target, before, tally, f"{run}-")
    return {
        "events_per_s": len(tally.acknowledged) / seconds,
        "acknowledged": len(tally.acknowledged),
        "clients": clients,
        "latency": asdict(Latency.of(tally.latencies or [0.0])),
        "statuses": dict(tally.statuses),
        "exactly_once": check,
    }


def exactly_once(target: Target, before: int, tally: Tally, prefix: str) -> dict[str, Any]:
    """Read what the log gained since `before`: every acknowledged write exactly once, where its receipt says."""
    ledger = target.open()
    events: dict[int, tuple[Any, int]] = {}
    acks: dict[str, list[tuple[Any, int]]] = {}
    try:
        start = before + 1
        while notes := ledger.recorder.select_notifications(start=start, limit=1000):
            for note in notes:
                events[note.id] = (note.originator_id, note.originator_version)
                if note.topic.endswith("Acknowledgement.Given"):
                    ack = cast("Acknowledgement.Given", ledger.mapper.to_domain_event(note))
                    if ack.idempotency_key.startswith(prefix):
                        acks.setdefault(ack.idempotency_key, []).append((ack.fact_id, ack.fact_version))
            start = notes[-1].id + 1
    finally:
        ledger.close()
    not_once = [k for k in tally.acknowledged if len(acks.get(k, [])) != 1]
    misplaced = [
        k
        for k, receipt in tally.acknowledged.items()
        if (found := events.get(int(receipt["position"]))) is None
        or (str(found[0]), found[1]) != (receipt["aggregate_id"], receipt["version"])
        or [(str(i), v) for i, v in acks.get(k, [])] != [(receipt["aggregate_id"], receipt["version"])]
    ]
    unacknowledged = [k for k in acks if k not in tally.acknowledged and k not in tally.unanswered]
    return {
        "ok": not not_once and not misplaced and not unacknowledged,
        "acknowledged": len(tally.acknowledged),
        "keys_not_exactly_once": len(not_once),
        "receipts_not_matching_the_log": len(misplaced),
        "recorded_but_never_acknowledged": len(unacknowledged),
        "in_doubt": len(tally.unanswered),
    }
