"""A batch of commands is one unit of work: each gets its own answer, everything accepted is saved together."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from given import SERVICE, consented, published

from ledger.application import Receipt, Request, open_ledger
from ledger.breach import BreachFinding
from ledger.errors import (
    IdempotencyKeyReused,
    LedgerError,
    NoGroundForDisclosure,
    NothingToAct,
    SubjectBlocked,
    SubjectDestroyed,
)
from ledger.subject_facts import Block, BlockLift, Correction, Destruction, Disclosure
from ledger.terms import DataCategory, DestructionGround, SubjectId

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

ADDRESS = frozenset({DataCategory("address")})


def disclose(ledger: ConsentLedger, subject: str, reference: str, request: Request = SERVICE) -> Callable[[], Receipt]:
    return lambda: ledger.record(
        request,
        Disclosure(
            subject_id=SubjectId(subject),
            recipient="Kazpost",
            recipient_category="postal",
            purpose="4.1.1",
            data_categories=ADDRESS,
            ground="order_fulfilment",
            reference=reference,
        ),
    )


def correct(ledger: ConsentLedger, subject: str, request: Request = SERVICE) -> Callable[[], Receipt]:
    return lambda: ledger.record(request, Correction(subject_id=SubjectId(subject), data_categories=ADDRESS))


def receipts(answers: list[Receipt | LedgerError]) -> list[Receipt]:
    assert all(isinstance(a, Receipt) for a in answers), answers
    return [a for a in answers if isinstance(a, Receipt)]


def in_the_log(ledger: ConsentLedger, start: int) -> list[tuple[int, str, object, int]]:
    return [
        (n.id, n.topic.rsplit(".", 1)[-1], n.originator_id, n.originator_version)
        for n in ledger.iter_positions(start + 1)
    ]


def assert_receipts_match_the_log(ledger: ConsentLedger, answers: list[Receipt], start: int) -> None:
    log = {position: (topic, oid, version) for position, topic, oid, version in in_the_log(ledger, start)}
    for receipt in answers:
        assert log[receipt.position] == (receipt.event_type, receipt.aggregate_id, receipt.version)


def test_a_batch_can_open_a_subject_and_write_to_it_again_each_command_seeing_the_last(ledger: ConsentLedger) -> None:
    published(ledger)
    start = ledger.max_position()

    answers = receipts(
        ledger.record_many([lambda: consented(ledger, "u-1"), disclose(ledger, "u-1", "o-1"), correct(ledger, "u-1")])
    )

    assert [(r.event_type, r.version) for r in answers] == [
        ("ConsentGranted", 2),
        ("DataDisclosed", 3),
        ("DataCorrected", 4),
    ]
    assert [r.position for r in answers] == sorted({r.position for r in answers})
    assert_receipts_match_the_log(ledger, answers, start)
    assert [f.event_type for f in ledger.subject_facts(SubjectId("u-1"))] == [
        "Opened",
        "ConsentGranted",
        "DataDisclosed",
        "DataCorrected",
    ]


def test_a_refused_command_gets_its_own_error_and_records_nothing_while_the_others_are_recorded(
    ledger: ConsentLedger,
) -> None:
    published(ledger)
    consented(ledger, "u-1")
    start = ledger.max_position()

    answers = ledger.record_many(
        [
            disclose(ledger, "u-1", "o-1"),
            disclose(ledger, "u-2", "o-2"),  # never consented: no ground
            lambda: ledger.record(
                SERVICE, BlockLift(subject_id=SubjectId("u-1"), block_id="B-9", outcome="data_corrected")
            ),
            disclose(ledger, "u-1", "o-3"),
        ]
    )

    assert isinstance(answers[1], NoGroundForDisclosure)
    assert isinstance(answers[2], NothingToAct)
    first, last = receipts([answers[0], answers[3]])
    assert (first.version, last.version) == (3, 4)  # the refusal between them took no place in the record
    assert [topic for _, topic, _, _ in in_the_log(ledger, start)] == ["DataDisclosed", "DataDisclosed"]
    assert_receipts_match_the_log(ledger, [first, last], start)
    assert ledger.record_many([disclose(ledger, "u-2", "o-2")])[0].__class__ is NoGroundForDisclosure


def test_a_key_used_twice_in_a_batch_or_again_in_a_later_one_gets_the_first_receipt_and_records_nothing_new(
    ledger: ConsentLedger,
) -> None:
    published(ledger)
    consented(ledger, "u-1")
    keyed = Request("orders-service", idempotency_key="order-1-disclosed")
    start = ledger.max_position()

    first, again = receipts(
        ledger.record_many([disclose(ledger, "u-1", "o-1", keyed), disclose(ledger, "u-1", "o-1", keyed)])
    )
    end = ledger.max_position()
    later = receipts(ledger.record_many([disclose(ledger, "u-1", "o-1", keyed), correct(ledger, "u-1")]))

    assert not first.replayed
    assert again == replace(first, replayed=True)
    assert later[0] == replace(first, replayed=True)
    assert [topic for _, topic, _, _ in in_the_log(ledger, start)] == ["DataDisclosed", "Given", "DataCorrected"]
    assert end == first.position + 1  # the fact and its acknowledgement, nothing else
    again = Disclosure(
        subject_id=SubjectId("u-1"),
        recipient="Kazpost",
        recipient_category="postal",
        purpose="4.1.1",
        data_categories=ADDRESS,
        ground="order_fulfilment",
        reference="o-1",
    )
    assert ledger.record(keyed, again) == replace(first, replayed=True)


def test_a_key_reused_for_another_request_in_a_batch_is_refused_in_its_slot(ledger: ConsentLedger) -> None:
    published(ledger)
    consented(ledger, "u-1")
    keyed = Request("orders-service", idempotency_key="k-1")

    answers = ledger.record_many([disclose(ledger, "u-1", "o-1", keyed), disclose(ledger, "u-1", "o-2", keyed)])
    across = ledger.record_many([disclose(ledger, "u-1", "o-3", keyed)])

    assert isinstance(answers[0], Receipt)
    assert isinstance(answers[1], IdempotencyKeyReused)
    assert isinstance(across[0], IdempotencyKeyReused)
    assert [f.event_type for f in ledger.subject_facts(SubjectId("u-1"))].count("DataDisclosed") == 1


def test_a_destruction_in_a_batch_stops_later_commands_for_that_subject(ledger: ConsentLedger) -> None:
    published(ledger)
    consented(ledger, "u-1")

    answers = ledger.record_many(
        [
            lambda: ledger.record(
                SERVICE, Destruction(subject_id=SubjectId("u-1"), ground=DestructionGround.SUBJECT_REQUEST)
            ),
            disclose(ledger, "u-1", "o-1"),
            correct(ledger, "u-2"),
        ]
    )

    assert isinstance(answers[0], Receipt)
    assert isinstance(answers[1], SubjectDestroyed)
    assert isinstance(answers[2], Receipt)
    assert ledger.is_destroyed(SubjectId("u-1"))
    assert [f.fields.get("evidence") for f in ledger.subject_facts(SubjectId("u-1"))] == [None] * 3  # key shredded


def test_a_batch_that_loses_a_race_to_another_writer_loses_and_duplicates_nothing(
    database: Database, master_key: bytes, clock: FakeClock, ledger: ConsentLedger
) -> None:
    other = open_ledger(database, master_key, clock)  # another process on the same database
    published(ledger)
    consented(ledger, "u-1")
    consented(ledger, "u-2")
    start = ledger.max_position()
    raced: list[Receipt] = []
    taken = Request("orders-service", idempotency_key="taken-meanwhile")

    def meanwhile() -> Receipt:
        if not raced:  # only while the batch first runs: it then saves on top of a stale record
            raced.append(other.record(SERVICE, Correction(subject_id=SubjectId("u-1"), data_categories=ADDRESS)))
            raced.append(correct(other, "u-2", taken)())
        return raced[0]

    try:
        answers = receipts(
            ledger.record_many(
                [
                    disclose(ledger, "u-1", "o-1", Request("orders-service", idempotency_key="d-1")),
                    meanwhile,
                    disclose(ledger, "u-1", "o-2", Request("orders-service", idempotency_key="d-2")),
                    correct(ledger, "u-2", taken),
                ]
            )
        )
    finally:
        other.close()

    recorded = in_the_log(ledger, start)
    assert Counter(topic for _, topic, _, _ in recorded) == {"DataCorrected": 2, "DataDisclosed": 2, "Given": 3}
    assert answers[3] == replace(raced[1], replayed=True)
    assert [r.version for r in answers[:3]] == [4, 3, 5]  # decided again after the other writer's correction
    assert_receipts_match_the_log(ledger, answers, start)
    assert len({(oid, version) for _, _, oid, version in recorded}) == len(recorded)


def test_a_record_another_process_moved_on_is_read_again_so_the_answer_is_that_of_the_newest_record(
    database: Database, master_key: bytes, clock: FakeClock, ledger: ConsentLedger
) -> None:
    other = open_ledger(database, master_key, clock)  # another process on the same database
    published(ledger)
    for subject in ("u-1", "u-2", "u-3"):
        correct(ledger, subject)()  # this process now keeps each record: opened, no consent
    try:
        consented(other, "u-1")
        consented(other, "u-2")
        other.record(
            SERVICE, Block(subject_id=SubjectId("u-3"), block_id="B-1", requester="subject", ground="inaccurate_data")
        )
        consented(other, "u-3")

        alone = disclose(ledger, "u-1", "o-1")()  # kept without consent: refused, unless read again
        batch = ledger.record_many([disclose(ledger, "u-2", "o-2"), disclose(ledger, "u-3", "o-3")])
    finally:
        other.close()

    assert alone.event_type == "DataDisclosed"
    assert isinstance(batch[0], Receipt)
    assert batch[0].event_type == "DataDisclosed"
    assert isinstance(batch[1], SubjectBlocked)  # kept unblocked and unconsented: only the store knows


def test_a_kept_record_destroyed_by_another_process_takes_no_personal_value_alone_or_in_a_batch(
    database: Database, master_key: bytes, clock: FakeClock, ledger: ConsentLedger
) -> None:
    other = open_ledger(database, master_key, clock)  # another process on the same database
    published(ledger)
    consented(ledger, "u-1")
    consented(ledger, "u-2")  # this process keeps both records, not destroyed
    start = ledger.max_position()
    try:
        for subject in ("u-1", "u-2"):
            other.record(SERVICE, Destruction(subject_id=SubjectId(subject), ground=DestructionGround.SUBJECT_REQUEST))
        after_destruction = ledger.max_position()
        with pytest.raises(SubjectDestroyed):
            consented(ledger, "u-1", evidence="ip=10.0.0.8")
        batch = ledger.record_many([lambda: consented(ledger, "u-2", evidence="ip=10.0.0.9")])
    finally:
        other.close()

    assert isinstance(batch[0], SubjectDestroyed)
    assert ledger.max_position() == after_destruction == start + 2


def test_a_breach_sent_again_with_its_key_in_a_later_batch_gets_its_first_receipt(ledger: ConsentLedger) -> None:
    keyed = replace(SERVICE, idempotency_key="breach-once")

    def breach() -> Receipt:
        return ledger.record(
            keyed,
            BreachFinding(
                breach_ref="br-1", data_categories=frozenset({"contact"}), subject_ids=frozenset({SubjectId("u-1")})
            ),
        )

    [first] = ledger.record_many([breach])
    [again] = ledger.record_many([breach])

    assert isinstance(first, Receipt)
    assert isinstance(again, Receipt)
    assert again.replayed
    assert (again.aggregate_id, again.version, again.position) == (first.aggregate_id, first.version, first.position)
