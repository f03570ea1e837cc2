"""The change feed: every event once, in log order, page by page or live; nothing personal in clear."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import consented, published
from serving import served_in_thread

from api.app import create_app
from api.routes import feed
from api.tokens import Scope
from ledger.application import Request
from ledger.subject_facts import Block
from ledger.terms import BlockGround, BlockRequester, SubjectId

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

PASSPORT = "passport N12345678 issued 2019"
GUARDIAN = "Aigerim Nurlanovna, mother"


@pytest.fixture
def auditor(ledger: ConsentLedger) -> dict[str, str]:
    """The headers of a caller allowed to read the whole feed (the `audit` scope)."""
    return bearer(ledger, "analytics-service", Scope.AUDIT)


@pytest.fixture
def client(ledger: ConsentLedger, auditor: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), headers=auditor) as client:
        yield client


def a_history(ledger: ConsentLedger, subjects: int = 4) -> list[int]:
    """A policy and a few consenting subjects, one of them blocked; the positions the log holds."""
    published(ledger)
    for n in range(subjects):
        consented(ledger, f"u-{n}", evidence=PASSPORT)
    ledger.record(
        Request("privacy-officer"),
        Block(
            subject_id=SubjectId("u-0"),
            block_id="b-1",
            ground=BlockGround.INACCURATE_DATA,
            requester=BlockRequester.LEGAL_REPRESENTATIVE,
            request=GUARDIAN,
        ),
    )
    return [note.id for note in ledger.iter_positions()]


def follow_pages(client: TestClient, limit: int) -> list[dict[str, object]]:
    """Read the whole feed by following each page's `Link: rel="next"` until a page comes back empty."""
    seen: list[dict[str, object]] = []
    url = f"/v1/events?limit={limit}"
    for _ in range(1000):
        page = client.get(url)
        assert page.status_code == 200, page.text
        if not page.json()["events"]:
            return seen
        seen.extend(page.json()["events"])
        url = re.fullmatch(r'<([^>]+)>; rel="next"', page.headers["Link"]).group(1)  # type: ignore[union-attr]
    raise AssertionError("the feed did not end")


@pytest.mark.parametrize("limit", [1, 3, 1000])
def test_following_the_feed_page_by_page_gives_every_event_once_in_log_order(
    client: TestClient, ledger: ConsentLedger, limit: int
) -> None:
    positions = a_history(ledger)

    events = follow_pages(client, limit)

    assert [e["position"] for e in events] == positions


def test_each_event_in_the_feed_says_what_it_is_whose_it_is_and_when_it_was_recorded(
    client: TestClient, ledger: ConsentLedger
) -> None:
    published(ledger)
    receipt = consented(ledger, "u-1")

    (event,) = client.get("/v1/events", params={"after": receipt.position - 1}).json()["events"]

    assert event["position"] == receipt.position
    assert event["aggregate_id"] == str(receipt.aggregate_id)
    assert event["version"] == receipt.version
    assert event["topic"] == "Subject.ConsentGranted"
    assert event["recorded_at"] == receipt.recorded_at.isoformat()
    assert event["state"]["policy_version"] == "1"


def test_the_feed_carries_personal_fields_sealed_never_in_clear(client: TestClient, ledger: ConsentLedger) -> None:
    a_history(ledger)

    body = client.get("/v1/events", params={"limit": 1000}).text

    assert PASSPORT not in body
    assert GUARDIAN not in body
    consents = [e for e in client.get("/v1/events").json()["events"] if e["topic"] == "Subject.ConsentGranted"]
    assert consents
    assert all(set(e["state"]["evidence"]) == {"ciphertext"} for e in consents)


def test_a_follower_that_is_up_to_date_gets_an_empty_page_and_keeps_its_cursor(
    client: TestClient, ledger: ConsentLedger
) -> None:
    newest = a_history(ledger, subjects=1)[-1]

    page = client.get("/v1/events", params={"after": newest, "limit": 10})

    assert page.json() == {"events": [], "next_after": newest}
    assert page.headers["Link"] == f'</v1/events?after={newest}&limit=10>; rel="next"'


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "after=-1", "after=x"])
def test_a_cursor_or_limit_out_of_range_is_refused_as_a_problem(client: TestClient, query: str) -> None:
    answer = client.get(f"/v1/events?{query}")

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


def read_sse(lines: Iterator[str], events: int) -> list[int]:
    """Read the stream until `events` events arrived; their ids."""
    ids: list[int] = []
    for line in lines:
        if line.startswith("id: "):
            ids.append(int(line.removeprefix("id: ")))
        if len(ids) == events:
            break
    return ids


def test_the_stream_resumes_after_the_last_event_id_and_follows_new_events(
    ledger: ConsentLedger, auditor: dict[str, str]
) -> None:
    positions = a_history(ledger, subjects=2)
    timeout = httpx.Timeout(10)
    with served_in_thread(create_app(ledger)) as base, httpx.Client(base_url=base, timeout=timeout) as http:
        headers = {"Last-Event-ID": str(positions[1]), **auditor}
        with http.stream("GET", "/v1/events/stream", headers=headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            resumed = read_sse(lines, len(positions) - 2)
            later = consented(ledger, "u-late")
            followed = read_sse(lines, 2)  # the late subject's record opened, then their consent

    assert resumed == positions[2:]
    assert followed[-1] == later.position
    assert followed == sorted(set(followed))
    assert followed[0] > positions[-1]


def test_an_idle_stream_is_kept_alive_with_comments(
    ledger: ConsentLedger, auditor: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "KEEPALIVE_SECONDS", 0.3)
    newest = a_history(ledger, subjects=1)[-1]
    with (
        served_in_thread(create_app(ledger)) as base,
        httpx.Client(base_url=base, timeout=10) as http,
        http.stream("GET", f"/v1/events/stream?after={newest}", headers=auditor) as stream,
    ):
        comment = next(line for line in stream.iter_lines() if line.startswith(":"))

    assert comment == ": keep-alive"
