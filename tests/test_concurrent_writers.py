"""Concurrent writers and retries never lose or duplicate an event, on either backend."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from given import SERVICE, consented, published

from ledger.application import Receipt, Request, open_ledger
from ledger.errors import ConcurrentWriteConflict, NothingToAct
from ledger.subject_facts import Block, BlockLift, Correction
from ledger.terms import BlockGround, BlockOutcome, BlockRequester, DataCategory, SubjectId

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.storage import Database

THREADS = 32
WRITES_PER_THREAD = 6
SUBJECTS = [SubjectId(f"u-{n}") for n in range(5)]


def test_32_threads_writing_to_overlapping_subjects_with_retries_lose_and_duplicate_nothing(
    database: Database, master_key: bytes, clock: FakeClock
) -> None:
    # Four ledger instances stand for four processes sharing one database.
    ledgers = [open_ledger(database, master_key, clock) for _ in range(4)]
    published(ledgers[0])
    for subject in SUBJECTS:
        consented(ledgers[0], subject)
    start = ledgers[0].max_position()

    def writer(thread: int) -> list[Receipt]:
        ledger = ledgers[thread % len(ledgers)]
        receipts = []
        for n in range(WRITES_PER_THREAD):
            request = Request(f"svc-{thread}", idempotency_key=f"t{thread}-w{n}")
            subject = SUBJECTS[(thread + n) % len(SUBJECTS)]
            # A client retries on conflict, and once more after success (a lost answer).
            while True:
                try:
                    first = ledger.record(
                        request, Correction(subject_id=subject, data_categories=frozenset({DataCategory("address")}))
                    )
                    break
                except ConcurrentWriteConflict:
                    continue
            again = ledger.record(
                request, Correction(subject_id=subject, data_categories=frozenset({DataCategory("address")}))
            )
            assert again == Receipt(**{**first.__dict__, "replayed": True})
            receipts.append(first)
        return receipts

    with ThreadPoolExecutor(THREADS) as pool:
        acknowledged = [r for batch in pool.map(writer, range(THREADS)) for r in batch]

    recorded = [n for n in ledgers[0].iter_positions(start + 1) if n.topic.endswith("DataCorrected")]
    assert len(acknowledged) == THREADS * WRITES_PER_THREAD
    assert len(recorded) == len(acknowledged)
    assert {r.position for r in acknowledged} == {n.id for n in recorded}
    per_subject = Counter(n.originator_id for n in recorded)
    versions = {(n.originator_id, n.originator_version) for n in recorded}
    assert len(versions) == len(recorded)  # no two facts share a place in one subject's record
    assert sum(per_subject.values()) == THREADS * WRITES_PER_THREAD
    for ledger in ledgers:
        ledger.close()


def test_of_32_writers_racing_to_lift_one_block_exactly_one_succeeds(
    database: Database, master_key: bytes, clock: FakeClock
) -> None:
    ledgers = [open_ledger(database, master_key, clock) for _ in range(4)]
    published(ledgers[0])
    consented(ledgers[0], "u-1")
    ledgers[0].record(
        SERVICE,
        Block(
            subject_id=SubjectId("u-1"),
            block_id="B-1",
            requester=BlockRequester.SUBJECT,
            ground=BlockGround.INACCURATE_DATA,
        ),
    )
    clock.advance(hours=1)

    def lift(thread: int) -> str:
        try:
            ledgers[thread % 4].record(
                Request(f"svc-{thread}"),
                BlockLift(subject_id=SubjectId("u-1"), block_id="B-1", outcome=BlockOutcome.DATA_CORRECTED),
            )
        except NothingToAct:
            return "refused"
        return "lifted"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = Counter(pool.map(lift, range(THREADS)))

    assert outcomes == {"lifted": 1, "refused": THREADS - 1}
    lifts = [f for f in ledgers[0].subject_facts(SubjectId("u-1")) if f.event_type == "BlockLifted"]
    assert len(lifts) == 1
    for ledger in ledgers:
        ledger.close()
