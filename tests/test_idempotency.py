"""Every write takes a caller's idempotency key: a retry gets the first answer and records nothing new."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from given import POLICY, consented, published, sha

from ledger.application import Request
from ledger.breach import AuthorityNotice, BreachFinding, BreachNotice
from ledger.claim import ClaimAnswer, ClaimFiling, CourtCase
from ledger.errors import IdempotencyKeyReused, NothingToAct
from ledger.policy import PolicyVersion
from ledger.subject_facts import (
    Block,
    BlockLift,
    Correction,
    Destruction,
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
KEYED = Request("orders-service", idempotency_key="7f1c-0001")


def _publish(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(
        request,
        PolicyVersion(
            policy_id="qlever-cookies",
            version="1",
            text_sha256={"en": sha("2")},
            purposes=frozenset({"4.1.2"}),
            optional_purposes=frozenset(),
            recipient_categories=frozenset(),
        ),
    )


def _consent(ledger: ConsentLedger, request: Request) -> Receipt:
    return consented(ledger, ANNA, request=request)


def _withdraw(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="app", evidence="ip=10.0.0.9"))


def _refuse(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(
        request, WithdrawalRefusal(subject_id=ANNA, policy_id=POLICY, open_obligation="order-1", reason="undelivered")
    )


def _permit(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(
        request,
        Permission(
            subject_id=ANNA,
            permission_id="perm-9",
            recipient="Survey LLP",
            recipient_category="other",
            purpose="survey",
            document="scan 9",
        ),
    )


def _disclose(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(
        request,
        Disclosure(
            subject_id=ANNA,
            recipient="Kazpost",
            recipient_category="postal",
            purpose="4.1.1",
            data_categories=frozenset({"address"}),
            ground="order_fulfilment",
            reference="order-5",
        ),
    )


def _block(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(
        request,
        Block(subject_id=ANNA, block_id="block-9", requester="subject", ground="inaccurate_data", request="call"),
    )


def _lift(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, BlockLift(subject_id=ANNA, block_id="block-1", outcome="request_unfounded"))


def _correct(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, Correction(subject_id=ANNA, data_categories=frozenset({"address"})))


def _destroy(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, Destruction(subject_id=ANNA, ground="subject_request"))


def _retract(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, Retraction(subject_id=ANNA, retracted_number=3, reason="wrong subject"))


def _breach(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(
        request,
        BreachFinding(breach_ref="breach-9", data_categories=frozenset({"contact"}), subject_ids=frozenset({ANNA})),
    )


def _tell_authority(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, AuthorityNotice(breach_ref="breach-1", channel="email", reference="out-1"))


def _tell_subject(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, BreachNotice(breach_ref="breach-1", subject_id=ANNA, channel="sms"))


def _claim(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, ClaimFiling(claim_ref="claim-9", subject_id=ANNA, claimant="Anna N."))


def _answer(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, ClaimAnswer(claim_ref="claim-1", outcome="rejected", channel="paper"))


def _to_court(ledger: ConsentLedger, request: Request) -> Receipt:
    return ledger.record(request, CourtCase(claim_ref="claim-1", court_case="2-1/2026"))


COMMANDS: dict[str, Callable[[ConsentLedger, Request], Receipt]] = {
    "publish": _publish,
    "consent": _consent,
    "withdraw": _withdraw,
    "refuse-withdrawal": _refuse,
    "permit": _permit,
    "disclose": _disclose,
    "block": _block,
    "lift": _lift,
    "correct": _correct,
    "destroy": _destroy,
    "retract": _retract,
    "breach": _breach,
    "tell-authority": _tell_authority,
    "tell-subject": _tell_subject,
    "claim": _claim,
    "answer": _answer,
    "court": _to_court,
}
"""One command of each kind, each valid on the `history` below."""


def history(ledger: ConsentLedger, *, blocked: bool) -> None:
    """A subject who consented and was corrected once, with a breach and a claim open; perhaps blocked."""
    officer = Request("privacy-officer")
    published(ledger)
    consented(ledger, ANNA)  # entry 2
    ledger.record(officer, Correction(subject_id=ANNA, data_categories=frozenset({"contact"})))  # entry 3
    ledger.record(
        officer, BreachFinding(breach_ref="breach-1", data_categories=frozenset({"contact"}), subject_ids={ANNA})
    )
    ledger.record(officer, ClaimFiling(claim_ref="claim-1", subject_id=ANNA, claimant="Anna N."))
    if blocked:
        ledger.record(
            officer, Block(subject_id=ANNA, block_id="block-1", requester="subject", ground="inaccurate_data")
        )


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_a_retry_with_the_same_key_gets_the_first_receipt_and_records_nothing(ledger, clock, command):
    history(ledger, blocked=command is _lift)
    first = command(ledger, KEYED)
    before = ledger.max_position()
    clock.advance(minutes=3)

    again = command(ledger, KEYED)

    assert not first.replayed
    assert again.replayed
    assert replace(again, replayed=False) == first
    assert ledger.max_position() == before


def test_a_retry_gets_the_first_receipt_even_after_other_facts_were_recorded(ledger, clock):
    published(ledger)
    first = consented(ledger, ANNA, request=KEYED)
    clock.advance(hours=1)
    consented(ledger, "subject-boris")
    ledger.record(Request("crm"), Correction(subject_id=ANNA, data_categories=frozenset({"phone"})))

    again = consented(ledger, ANNA, request=KEYED)

    assert replace(again, replayed=False) == first
    assert len(ledger.subject(ANNA).entries) == 2


def test_a_key_used_again_for_another_request_is_refused_and_the_first_request_stands(ledger):
    published(ledger)
    consented(ledger, ANNA, request=KEYED)
    before = ledger.max_position()

    with pytest.raises(IdempotencyKeyReused, match="use a new key"):
        consented(ledger, "subject-boris", request=KEYED)
    with pytest.raises(IdempotencyKeyReused):
        _correct(ledger, KEYED)

    assert ledger.max_position() == before


def test_a_retry_that_states_another_time_is_another_request(ledger, clock):
    published(ledger)
    consented(ledger, ANNA, request=KEYED)

    with pytest.raises(IdempotencyKeyReused):
        consented(ledger, ANNA, request=KEYED, at=clock.now - timedelta(minutes=1))


def test_keys_belong_to_their_caller(ledger):
    published(ledger)
    mine = consented(ledger, ANNA, request=Request("orders-service", idempotency_key="k-1"))

    theirs = consented(ledger, "subject-boris", request=Request("crm", idempotency_key="k-1"))

    assert not theirs.replayed
    assert theirs.aggregate_id != mine.aggregate_id


def test_a_refused_request_leaves_its_key_unused(ledger):
    published(ledger)
    with pytest.raises(NothingToAct):
        _withdraw(ledger, KEYED)

    consented(ledger, ANNA)
    receipt = _withdraw(ledger, KEYED)

    assert not receipt.replayed
    assert receipt.event_type == "ConsentWithdrawn"


def test_a_write_without_a_key_is_recorded_each_time(ledger):
    published(ledger)
    consented(ledger, ANNA)

    _correct(ledger, Request("crm"))
    _correct(ledger, Request("crm"))

    assert [type(e).__name__ for e in ledger.subject(ANNA).entries] == [
        "ConsentGranted",
        "DataCorrected",
        "DataCorrected",
    ]
