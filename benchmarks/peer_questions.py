"""The ledger's questions in batches over HTTP, for the peer comparison: answers per second.

A history of consents is imported (one policy, 1,000 subjects), then `consent-ledger serve` is
asked `POST /v1/questions` with 1,000 questions a call, a third of each kind (accepted version,
may disclose, block status), each about another subject, as a service that checks an order run
would. Every answer is checked to be the one the history implies, so speed never hides a wrong one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

if TYPE_CHECKING:
    from collections.abc import Iterator

SUBJECTS = 1000
BATCH = 1000
POLICY = "peer-questions"
TEXT = "Peer questions policy v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _history(path: Path) -> None:
    """One policy version and a consent from each subject, as import lines."""
    lines = [
        {
            "op": "publish_policy_version",
            "policy_id": POLICY,
            "body": {
                "version": "1",
                "texts": {"en": TEXT},
                "purposes": ["4.1.1", "4.1.6"],
                "optional_purposes": ["4.1.6"],
                "recipient_categories": ["courier"],
                "effective_from": "2026-01-01T00:00:00+05:00",
            },
        },
        *(
            {
                "op": "grant_consent",
                "subject_id": f"q-{n}",
                "body": {
                    "policy_id": POLICY,
                    "policy_version": "1",
                    "language": "en",
                    "text_sha256": hashlib.sha256(TEXT.encode()).hexdigest(),
                    "method": "registration",
                    "channel": "app",
                    "data_categories": ["contact"],
                    "third_parties": True,
                    "occurred_at": "2026-02-01T10:00:00+05:00",
                },
            }
            for n in range(SUBJECTS)
        ),
    ]
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")


def _questions() -> list[dict[str, Any]]:
    kinds = (
        {"ask": "accepted_version", "policy_id": POLICY},
        {"ask": "may_disclose", "recipient_category": "courier", "purpose": "4.1.1"},
        {"ask": "block_status"},
    )
    at = "2026-06-01T12:00:00+05:00"
    return [{"subject_id": f"q-{n % SUBJECTS}", "at": at, **kinds[n % 3]} for n in range(BATCH)]


@contextlib.contextmanager
def _served(postgres_url: str, ledger: Path) -> Iterator[tuple[str, str]]:
    work = Path(tempfile.mkdtemp(prefix="ledger-questions-"))
    env = {
        **os.environ,
        "CONSENT_LEDGER_DATABASE_URL": f"{postgres_url}?schema=peer_q_{uuid.uuid4().hex[:8]}",
        "CONSENT_LEDGER_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "CONSENT_LEDGER_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    token = subprocess.run(  # noqa: S603  (our own command, with arguments of our own)
        [str(ledger), "token", "create", "peer", "--scope", "read", "--scope", "write", "--scope", "admin"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    _history(work / "history.jsonl")
    imported = [str(ledger), "import", str(work / "history.jsonl")]
    subprocess.run(imported, cwd=work, env=env, check=True, capture_output=True)  # noqa: S603  (ours)
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603  (our own server)
        [str(ledger), "serve", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=(work / "serve.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield base, token
    finally:
        server.terminate()
        server.wait(10)


def batched_questions(postgres_url: str, ledger: Path, batches: int) -> dict[str, Any]:
    """Answers per second over HTTP, asked `BATCH` at a time on one kept-alive connection."""
    questions = _questions()
    with (
        _served(postgres_url, ledger) as (base, token),
        httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}", "X-Purpose": "order run check"}
        ) as client,
    ):
        client.post("/v1/questions", json={"questions": questions}).raise_for_status()  # warm
        times = []
        for _ in range(batches):
            started = time.perf_counter()
            answer = client.post("/v1/questions", json={"questions": questions})
            times.append(time.perf_counter() - started)
            answer.raise_for_status()
            answers = answer.json()["answers"]
            expected = ({"accepted_version": "1"}, {"allowed": True}, {"blocked": False})
            wrong = [a for n, a in enumerate(answers) if not expected[n % 3].items() <= a.items()]
            if len(answers) != BATCH or wrong:
                msg = f"{len(answers)} answers to {BATCH} questions; wrong: {wrong[:3]}"
                raise RuntimeError(msg)
    times.sort()
    return {
        "batch": BATCH,
        "batches": batches,
        "answers_per_s": round(BATCH * batches / sum(times)),
        "p50_ms_per_batch": round(times[len(times) // 2] * 1e3, 1),
    }
