"""Every dimension of a request is bounded, and a request one past a bound is refused in time linear in what was read.

The bounds (README, "Limits"): the head (request line and headers) 32 KiB, the body 4 MiB, items
per list 100 (10,000 subjects of a breach), strings 200 characters on one line or 4,000 of free
text. Each is sent at its bound plus one and timed; so is the same request at the bound, which
may take as long: the refusal must not take much longer than reading the request did (a
generous factor, so that a busy machine does not fail the test, while a quadratic check would).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from serving import free_port, stop, wait_for_http

from api.app import MAX_BODY_BYTES, create_app
from api.server import MAX_HEAD_BYTES
from ledger.application import ConsentLedger
from ledger.terms import MAX_ITEMS

CLI = str(Path(sys.executable).parent / "consent-ledger")
HUGE_HEADER = 50 * 1024 * 1024
"""What the server must not read into memory: 50 MB of one header (it took 50 MB and answered 200)."""


def rss_mb(pid: int) -> float:
    with Path(f"/proc/{pid}/status").open() as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "CONSENT_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.db"}
    process = subprocess.Popen(  # noqa: S603  (our own CLI)
        [CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
        yield f"127.0.0.1:{port}", process
    finally:
        stop(process)


def send_head(where: str, header_bytes: int) -> tuple[bytes, float]:
    """Send a GET with one header `header_bytes` long, as fast as the server reads; its answer and the time taken."""
    host, port = where.split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        try:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: ledger\r\nX-Padding: ")
            chunk = b"a" * 65536
            for _ in range(header_bytes // len(chunk)):
                connection.sendall(chunk)
            connection.sendall(b"a" * (header_bytes % len(chunk)) + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what it answered is waiting to be read
        answer = b""
        try:
            while part := connection.recv(65536):
                answer += part
                if b"\r\n\r\n" in answer and b"Connection: keep-alive" not in answer and answer.endswith(b"}"):
                    break
        except ConnectionResetError:
            pass
    return answer, time.monotonic() - started


HEAD = len(b"GET /healthz HTTP/1.1\r\nHost: ledger\r\nX-Padding: \r\n\r\n")
"""The bytes of `send_head`'s head besides its padding."""


def test_a_head_past_its_bound_is_refused_431_before_it_is_read_into_memory(server):
    where, process = server
    at_bound, at_bound_took = send_head(where, MAX_HEAD_BYTES - HEAD)
    past_bound, past_bound_took = send_head(where, MAX_HEAD_BYTES - HEAD + 1)
    before = rss_mb(process.pid)
    refused, took = send_head(where, HUGE_HEADER)
    grew = rss_mb(process.pid) - before
    after = httpx.get(f"http://{where}/healthz", timeout=10)

    assert at_bound.startswith(b"HTTP/1.1 200")
    assert past_bound.startswith(b"HTTP/1.1 431")
    assert past_bound_took < 10 * at_bound_took + 0.5
    assert refused.startswith(b"HTTP/1.1 431")
    assert b"application/problem+json" in refused
    assert took < 5, took
    assert grew < 10, f"the server grew by {grew:.1f} MB"
    assert after.status_code == 200


@pytest.fixture
def client(ledger: ConsentLedger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), headers=bearer(ledger, "orders-service")) as client:
        yield client


def timed(client: TestClient, path: str, body: object) -> tuple[int, float]:
    started = time.perf_counter()
    answer = client.post(path, json=body)
    return answer.status_code, time.perf_counter() - started


LISTS = [
    pytest.param("/v1/subjects/u-1/corrections", "data_categories", MAX_ITEMS, id="categories"),
    pytest.param("/v1/breaches", "subject_ids", 10_000, id="breach-subjects"),
]


def a_breach(subjects: list[str]) -> dict[str, object]:
    return {
        "breach_ref": "br-1",
        "data_categories": ["contact"],
        "subject_ids": subjects,
    }


@pytest.mark.parametrize(("path", "field", "bound"), LISTS)
def test_a_list_one_item_past_its_bound_is_refused_as_fast_as_one_at_its_bound_is_read(client, path, field, bound):
    def body(items: int) -> dict[str, object]:
        values = [f"item-{n}" for n in range(items)]
        return a_breach(values) if field == "subject_ids" else {field: values}

    _, at_bound = timed(client, path, body(bound))
    past, past_took = timed(client, path, body(bound + 1))
    huge, huge_took = timed(client, path, body(40_000))  # 389 KB: it took 26.5 s, and /healthz waited

    assert past == huge == 422
    assert past_took < 10 * at_bound + 0.5
    assert huge_took < 2, huge_took


STRINGS = [
    pytest.param("channel", 200, id="one line"),
    pytest.param("evidence", 4000, id="free text"),
]


@pytest.mark.parametrize(("field", "bound"), STRINGS)
def test_a_string_one_character_past_its_bound_is_refused_as_fast_as_one_at_its_bound(client, field, bound):
    def consent(length: int) -> dict[str, object]:
        return {
            "policy_id": "p",
            "policy_version": "1",
            "language": "en",
            "text_sha256": "0" * 64,
            "method": "registration",
            "channel": "app",
            field: "x" * length,
        }

    _, at_bound = timed(client, "/v1/subjects/u-1/consents", consent(bound))
    past, past_took = timed(client, "/v1/subjects/u-1/consents", consent(bound + 1))
    huge, huge_took = timed(client, "/v1/subjects/u-1/consents", consent(3_000_000))

    assert past == huge == 422
    assert past_took < 10 * at_bound + 0.5
    assert huge_took < 2, huge_took


def test_a_body_one_byte_past_its_bound_is_refused_413(client):
    padding = "x" * (MAX_BODY_BYTES - len('{"data_categories": [""]}') + 1)
    answer = client.post(
        "/v1/subjects/u-1/corrections",
        content=b'{"data_categories": ["' + padding.encode() + b'"]}',
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
