"""Concurrent HTTP writes are committed in groups, and each caller still gets exactly its own answer."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
import pytest
from bearer import bearer
from given import SERVICE, consented, published
from serving import eventually, served_in_thread

from api.app import create_app
from ledger.application import Receipt
from ledger.group_commit import GroupCommitter
from ledger.subject import subject_key
from ledger.subject_facts import Correction
from ledger.terms import DataCategory, SubjectId

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from ledger.application import ConsentLedger
    from ledger.errors import LedgerError

CLIENTS = 40
NOBODY = UUID(int=0)
TOMORROW = "2026-03-03T09:00:00+00:00"
"""A day after the tests' clock: beyond the clock skew the ledger allows."""
DISCLOSURE = {
    "recipient": "Kazpost",
    "recipient_category": "postal",
    "purpose": "4.1.1",
    "data_categories": ["address"],
    "ground": "order_fulfilment",
}


class HeldCommitter:
    """The app's committer, which can be held busy so that the writes arriving meanwhile form one group."""

    def __init__(self, ledger: ConsentLedger) -> None:
        self.committer = GroupCommitter(ledger)
        self.groups: list[int] = []
        self._release = threading.Event()
        record_many = ledger.record_many

        def counted(calls: Sequence[Callable[[], Receipt]]) -> list[Receipt | LedgerError]:
            self.groups.append(len(calls))
            return record_many(calls)

        ledger.record_many = counted  # type: ignore[method-assign]

    def hold(self) -> None:
        def busy() -> Receipt:
            self._release.wait(10)
            return Receipt("Held", NOBODY, 0, 0, datetime(2026, 1, 1, tzinfo=UTC))

        self.committer.submit(busy)

    def release_when_queued(self, count: int) -> None:
        eventually(lambda: self.committer.queued >= count, 10, f"{count} writes queued")
        self._release.set()

    def grouping(self, count: int) -> threading.Thread:
        """Hold the committer until `count` writes wait, so that they are committed as one group."""
        self.hold()
        releaser = threading.Thread(target=self.release_when_queued, args=(count,))
        releaser.start()
        return releaser


@pytest.fixture
def served(ledger: ConsentLedger) -> Iterator[tuple[str, dict[str, str], HeldCommitter]]:
    published(ledger)
    for n in range(5):
        consented(ledger, f"u-{n}")
    app = create_app(ledger)
    held = HeldCommitter(ledger)
    app.state.committer = held.committer
    headers = bearer(ledger, "orders-service")
    with served_in_thread(app) as base:
        yield base, headers, held
    held.committer.close()


def post_all(
    base: str, headers: dict[str, str], posts: list[tuple[str, dict[str, Any], str | None]]
) -> list[httpx.Response]:
    """Send every POST at once, each from its own connection."""

    def post(item: tuple[str, dict[str, Any], str | None]) -> httpx.Response:
        path, body, key = item
        extra = {"Idempotency-Key": key} if key else {}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            return http.post(path, json=body, headers=extra)

    with ThreadPoolExecutor(len(posts)) as pool:
        return list(pool.map(post, posts))


def test_concurrent_writes_each_get_their_own_receipt_at_its_own_place_in_the_log(
    ledger: ConsentLedger, served: tuple[str, dict[str, str], HeldCommitter]
) -> None:
    base, headers, held = served
    start = ledger.max_position()
    posts = [
        (f"/v1/subjects/u-{n % 5}/disclosures", {**DISCLOSURE, "reference": f"o-{n}"}, f"k-{n}") for n in range(CLIENTS)
    ]

    releaser = held.grouping(CLIENTS)

    answers = post_all(base, headers, posts)
    releaser.join()

    assert held.groups == [CLIENTS]
    assert Counter(a.status_code for a in answers) == {201: CLIENTS}
    receipts = [a.json() for a in answers]
    log = {n.id: n for n in ledger.iter_positions(start + 1)}
    assert len({r["position"] for r in receipts}) == CLIENTS
    for (path, _, _), receipt in zip(posts, receipts, strict=True):
        note = log[receipt["position"]]
        assert note.topic.endswith("DataDisclosed")
        assert note.originator_id == subject_key(SubjectId(path.split("/")[3]))
        assert (str(note.originator_id), note.originator_version) == (receipt["aggregate_id"], receipt["version"])
    assert sum(1 for n in log.values() if n.topic.endswith("DataDisclosed")) == CLIENTS


def test_a_refused_write_gets_its_own_problem_while_the_rest_of_its_group_is_recorded(
    ledger: ConsentLedger, served: tuple[str, dict[str, str], HeldCommitter]
) -> None:
    base, headers, held = served
    start = ledger.max_position()
    posts: list[tuple[str, dict[str, Any], str | None]] = [
        ("/v1/subjects/u-0/disclosures", {**DISCLOSURE, "reference": "o-1"}, None),
        ("/v1/subjects/never-consented/disclosures", {**DISCLOSURE, "reference": "o-2"}, None),  # no ground: 409
        ("/v1/subjects/u-1/disclosures", {**DISCLOSURE, "reference": "o-3", "occurred_at": TOMORROW}, None),  # 422
        ("/v1/subjects/u-2/corrections", {"data_categories": ["address"]}, None),
    ]
    releaser = held.grouping(len(posts))

    answers = post_all(base, headers, posts)
    releaser.join()

    assert [a.status_code for a in answers] == [201, 409, 422, 201]
    assert answers[1].json()["type"].endswith("no-ground-for-disclosure")
    assert answers[2].json()["type"].endswith("invalid-fact")
    assert "in the future" in answers[2].json()["detail"]
    assert held.groups == [4]
    recorded = {n.id: n.topic.rsplit(".", 1)[-1] for n in ledger.iter_positions(start + 1)}
    assert recorded == {answers[0].json()["position"]: "DataDisclosed", answers[3].json()["position"]: "DataCorrected"}


def test_the_same_idempotency_key_sent_many_times_at_once_is_recorded_once_and_answered_alike(
    ledger: ConsentLedger, served: tuple[str, dict[str, str], HeldCommitter]
) -> None:
    base, headers, held = served
    start = ledger.max_position()
    same = ("/v1/subjects/u-3/disclosures", {**DISCLOSURE, "reference": "o-9"}, "order-9-disclosed")
    releaser = held.grouping(10)

    in_one_group = post_all(base, headers, [same] * 10)
    releaser.join()
    one_at_a_time = post_all(base, headers, [same] * 10)

    answers = in_one_group + one_at_a_time
    assert Counter(a.status_code for a in answers) == {201: 1, 200: 19}
    assert len({(a.json()["position"], a.json()["version"]) for a in answers}) == 1
    assert all(a.headers.get("Idempotent-Replayed") == "true" for a in answers if a.status_code == 200)
    recorded = [n.topic.rsplit(".", 1)[-1] for n in ledger.iter_positions(start + 1)]
    assert recorded == ["DataDisclosed", "Given"]


def test_closing_the_committer_commits_every_write_already_queued_and_later_ones_run_alone(
    ledger: ConsentLedger,
) -> None:
    published(ledger)
    consented(ledger, "u-0")
    committer = GroupCommitter(ledger)
    gate = threading.Event()

    def held() -> Receipt:
        gate.wait(10)
        return Receipt("Held", NOBODY, 0, 0, datetime(2026, 1, 1, tzinfo=UTC))

    def correct() -> Receipt:
        return ledger.record(
            SERVICE, Correction(subject_id=SubjectId("u-0"), data_categories=frozenset({DataCategory("address")}))
        )

    committer.submit(held)
    queued = [committer.submit(correct) for _ in range(5)]
    closing = threading.Thread(target=committer.close)
    closing.start()
    gate.set()
    closing.join(10)
    after = committer.submit(correct)

    assert [f.result(0).version for f in queued] == [3, 4, 5, 6, 7]
    assert after.result(0).version == 8
    assert [f.event_type for f in ledger.subject_facts(SubjectId("u-0"))].count("DataCorrected") == 6
