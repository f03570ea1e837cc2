"""Every fact says who recorded it, when it happened (stated by the writer) and when it was recorded (the ledger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from given import POLICY, PURPOSES, SERVICE, consented, published, sha

from ledger.application import Request
from ledger.breach import AuthorityNotice, BreachFinding, BreachNotice
from ledger.claim import ClaimAnswer, ClaimFiling, CourtCase
from ledger.errors import InvalidFact
from ledger.policy import PolicyVersion
from ledger.stamp import CLOCK_SKEW, Stamp
from ledger.subject_facts import (
    Block,
    BlockLift,
    Correction,
    Disclosure,
    Permission,
    Retraction,
    Withdrawal,
    WithdrawalRefusal,
)
from ledger.terms import SubjectId

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.application import ConsentLedger, Receipt

ANNA = SubjectId("subject-anna")
ALMATY = timezone(timedelta(hours=5))
NAIVE = datetime(2026, 3, 1, 10, 0)  # noqa: DTZ001  (the naive time under test)

WRITES: dict[str, Callable[[ConsentLedger, datetime], Receipt]] = {
    "publish": lambda ledger, at: ledger.record(
        SERVICE,
        PolicyVersion(
            policy_id=POLICY,
            version="2",
            text_sha256={"en": sha("2")},
            purposes=PURPOSES,
            optional_purposes=frozenset(),
            recipient_categories=frozenset(),
        ),
        at,
    ),
    "consent": lambda ledger, at: consented(ledger, "subject-boris", at=at),
    "withdraw": lambda ledger, at: ledger.record(
        SERVICE, Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="app"), at
    ),
    "refuse-withdrawal": lambda ledger, at: ledger.record(
        SERVICE,
        WithdrawalRefusal(subject_id=ANNA, policy_id=POLICY, open_obligation="order-1", reason="undelivered"),
        at,
    ),
    "permit": lambda ledger, at: ledger.record(
        SERVICE,
        Permission(
            subject_id=ANNA,
            permission_id="p-1",
            recipient="R",
            recipient_category="other",
            purpose="survey",
            document="scan",
        ),
        at,
    ),
    "disclose": lambda ledger, at: ledger.record(
        SERVICE,
        Disclosure(
            subject_id=ANNA,
            recipient="KNB",
            recipient_category="state_authority",
            purpose="investigation",
            data_categories=frozenset({"contact"}),
            ground="state_request",
            reference="req-1",
        ),
        at,
    ),
    "block": lambda ledger, at: ledger.record(
        SERVICE, Block(subject_id=ANNA, block_id="b-2", requester="subject", ground="inaccurate_data"), at
    ),
    "lift": lambda ledger, at: ledger.record(
        SERVICE, BlockLift(subject_id=ANNA, block_id="b-1", outcome="data_corrected"), at
    ),
    "correct": lambda ledger, at: ledger.record(
        SERVICE, Correction(subject_id=ANNA, data_categories=frozenset({"address"})), at
    ),
    "retract": lambda ledger, at: ledger.record(
        SERVICE, Retraction(subject_id=ANNA, retracted_number=3, reason="wrong subject"), at
    ),
    "breach": lambda ledger, at: ledger.record(
        SERVICE,
        BreachFinding(breach_ref="br-2", data_categories=frozenset({"contact"}), subject_ids=frozenset({ANNA})),
        at,
    ),
    "tell-authority": lambda ledger, at: ledger.record(
        SERVICE, AuthorityNotice(breach_ref="br-1", channel="email", reference="out-1"), at
    ),
    "tell-subject": lambda ledger, at: ledger.record(
        SERVICE, BreachNotice(breach_ref="br-1", subject_id=ANNA, channel="sms"), at
    ),
    "claim": lambda ledger, at: ledger.record(
        SERVICE, ClaimFiling(claim_ref="c-2", subject_id=ANNA, claimant="A. N."), at
    ),
    "answer": lambda ledger, at: ledger.record(
        SERVICE, ClaimAnswer(claim_ref="c-1", outcome="rejected", channel="paper"), at
    ),
    "court": lambda ledger, at: ledger.record(SERVICE, CourtCase(claim_ref="c-1", court_case="2-1"), at),
}
"""One write of each kind, each valid on `history` when its time is sound."""


def history(ledger: ConsentLedger) -> None:
    """A consenting, corrected, blocked subject with a breach and a claim, all a day before the clock."""
    day_before = ledger.clock() - timedelta(days=1)
    published(ledger, at=day_before)
    consented(ledger, ANNA, at=day_before)  # entry 2
    ledger.record(SERVICE, Correction(subject_id=ANNA, data_categories=frozenset({"contact"})), day_before)  # 3
    ledger.record(
        SERVICE, Block(subject_id=ANNA, block_id="b-1", requester="subject", ground="inaccurate_data"), day_before
    )
    ledger.record(
        SERVICE,
        BreachFinding(breach_ref="br-1", data_categories=frozenset({"contact"}), subject_ids=frozenset({ANNA})),
        day_before,
    )
    ledger.record(SERVICE, ClaimFiling(claim_ref="c-1", subject_id=ANNA, claimant="A. N."), day_before)


@pytest.mark.parametrize("write", list(WRITES.values()), ids=list(WRITES))
def test_a_write_with_a_naive_time_is_refused_and_nothing_is_recorded(ledger, write):
    history(ledger)
    before = ledger.max_position()

    with pytest.raises(InvalidFact, match="UTC offset"):
        write(ledger, NAIVE)

    assert ledger.max_position() == before


@pytest.mark.parametrize("write", list(WRITES.values()), ids=list(WRITES))
def test_a_write_dated_beyond_the_clock_skew_is_refused(ledger, clock, write):
    history(ledger)
    before = ledger.max_position()

    with pytest.raises(InvalidFact, match="in the future"):
        write(ledger, clock.now + CLOCK_SKEW + timedelta(microseconds=1))

    assert ledger.max_position() == before


@pytest.mark.parametrize("write", list(WRITES.values()), ids=list(WRITES))
def test_a_write_keeps_both_of_its_times(ledger, clock, write):
    history(ledger)
    happened = (clock.now - timedelta(hours=3, microseconds=250)).astimezone(ALMATY)
    clock.advance(minutes=7)

    receipt = write(ledger, happened)

    stored = next(e for e in ledger.events.get(receipt.aggregate_id) if e.originator_version == receipt.version)
    assert receipt.recorded_at == clock.now
    assert stored.timestamp == clock.now
    assert stored.occurred_at == happened
    assert stored.occurred_at.utcoffset() == timedelta(hours=5)
    assert stored.recorded_by == SERVICE.caller


def test_a_fact_dated_just_within_the_clock_skew_is_accepted(ledger, clock):
    published(ledger)

    consented(ledger, ANNA, at=clock.now + CLOCK_SKEW)

    assert ledger.subject_facts(ANNA)[-1].occurred_at == clock.now + CLOCK_SKEW


def test_a_fact_without_a_stated_time_happened_when_it_was_recorded(ledger, clock):
    published(ledger)

    consented(ledger, ANNA)

    fact = ledger.subject_facts(ANNA)[-1]
    assert fact.occurred_at == fact.recorded_at == clock.now


def test_the_recorded_time_is_the_ledgers_and_the_stated_time_the_writers(ledger, clock):
    signed = datetime(2026, 2, 20, 15, 30, tzinfo=ALMATY)
    published(ledger, at=signed - timedelta(days=30))
    clock.advance(days=3)

    receipt = consented(ledger, ANNA, at=signed)

    fact = ledger.subject_facts(ANNA)[-1]
    assert (fact.occurred_at, fact.recorded_at) == (signed, clock.now)
    assert receipt.recorded_at == clock.now


def test_a_fact_names_who_recorded_it(ledger):
    published(ledger)

    consented(ledger, ANNA, request=Request("kiosk-42"))

    assert ledger.subject_facts(ANNA)[-1].recorded_by == "kiosk-42"


def test_a_fact_recorded_by_nobody_is_refused(ledger):
    published(ledger)

    with pytest.raises(InvalidFact, match="recorded_by"):
        consented(ledger, ANNA, request=Request(" "))


# The stamp itself.

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_stamp_refuses_a_naive_recorded_time():
    with pytest.raises(InvalidFact, match="recorded_at"):
        Stamp("svc", NOW, NOW.replace(tzinfo=None))


def test_a_stamp_accepts_any_offset_and_compares_instants():
    stamp = Stamp("svc", NOW.astimezone(ALMATY) + CLOCK_SKEW, NOW)

    assert stamp.occurred_at - stamp.recorded_at == CLOCK_SKEW
