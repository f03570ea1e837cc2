"""Clause 6.2.4, 6.1.2, 5.3; Art. 1(3), 1(6): blocks, corrections and destruction of a subject's data."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from given import POLICY, SERVICE, consented, published, sha

from ledger import rules
from ledger.claim import ClaimFiling
from ledger.errors import InvalidFact, NotFound, NothingToAct, SubjectBlocked, SubjectDestroyed
from ledger.subject_facts import (
    Block,
    BlockLift,
    Correction,
    Destruction,
    Disclosure,
    Permission,
    Retraction,
    Withdrawal,
)
from ledger.terms import (
    BlockGround,
    BlockOutcome,
    BlockRequester,
    DataCategory,
    DestructionGround,
    DisclosureGround,
    RecipientCategory,
    SubjectId,
)

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

ANNA = SubjectId("subject-anna")
BORIS = SubjectId("subject-boris")
EVIDENCE = "ip=10.0.0.7 device=android"


def block(ledger: ConsentLedger, block_id: str = "block-1", subject: str = ANNA, occurred_at=None, **details):
    """Block the subject's data at their request while their data are verified (clause 6.2.4)."""
    given = {"block_id": block_id, "requester": BlockRequester.SUBJECT, "ground": BlockGround.INACCURATE_DATA}
    return ledger.record(SERVICE, Block(subject_id=SubjectId(subject), **given | details), occurred_at)


def lift(ledger: ConsentLedger, block_id: str = "block-1", occurred_at=None, **details):
    """Lift a block with the verification's outcome."""
    given = {"block_id": block_id, "outcome": BlockOutcome.DATA_CORRECTED}
    return ledger.record(SERVICE, BlockLift(subject_id=ANNA, **given | details), occurred_at)


def destroy(ledger: ConsentLedger, subject: str = ANNA, occurred_at=None, **details):
    """Destroy the subject's data at their request (clause 5.3)."""
    return ledger.record(
        SERVICE,
        Destruction(subject_id=SubjectId(subject), **{"ground": DestructionGround.SUBJECT_REQUEST} | details),
        occurred_at,
    )


def blocked_now(ledger: ConsentLedger) -> list[str]:
    """The ids of the blocks in force on the subject now."""
    return [b.block_id for b in rules.open_blocks(ledger.subject(ANNA).entries, ledger.clock())]


def deliver(ledger: ConsentLedger):
    """Hand the subject's address to a courier to fulfil an order (clause 5.2)."""
    return ledger.record(
        SERVICE,
        Disclosure(
            subject_id=ANNA,
            recipient="Kazpost Courier",
            recipient_category=RecipientCategory.COURIER,
            purpose="4.1.1",
            data_categories=frozenset({DataCategory("address")}),
            ground=DisclosureGround.ORDER_FULFILMENT,
            reference="order-1001",
        ),
    )


# Blocks.


def test_a_block_takes_effect_from_the_moment_of_the_request(ledger, clock):
    requested = clock.now - timedelta(hours=3)

    receipt = block(
        ledger,
        requester=BlockRequester.AUTHORISED_BODY,
        ground=BlockGround.UNLAWFUL_PROCESSING,
        request="letter 12-04/551 of the ministry",
        occurred_at=requested,
    )

    fact = ledger.subject_facts(ANNA)[-1]
    assert receipt.event_type == "DataBlocked"
    assert fact.occurred_at == requested
    assert fact.fields == fact.fields | {
        "block_id": "block-1",
        "requester": BlockRequester.AUTHORISED_BODY,
        "ground": BlockGround.UNLAWFUL_PROCESSING,
        "request": "letter 12-04/551 of the ministry",
    }
    assert rules.open_blocks(ledger.subject(ANNA).entries, requested - timedelta(seconds=1)) == []
    assert blocked_now(ledger) == ["block-1"]


def test_a_block_id_is_recorded_once_per_subject(ledger):
    block(ledger)

    with pytest.raises(InvalidFact, match="already recorded"):
        block(ledger)
    block(ledger, subject=BORIS)


def test_a_block_names_its_request(ledger):
    with pytest.raises(InvalidFact, match="block_id"):
        block(ledger, block_id=" ")


@pytest.mark.parametrize(("term", "value"), [("requester", "neighbour"), ("ground", "dislike")])
def test_a_block_outside_the_closed_lists_is_refused_and_the_subject_stays_readable(ledger, term, value):
    block(ledger, block_id="block-0")

    with pytest.raises(InvalidFact, match=value):
        block(ledger, **{term: value})

    assert blocked_now(ledger) == ["block-0"]


def test_a_block_is_lifted_by_its_id_with_the_outcome_of_the_verification(ledger, clock):
    block(ledger)
    clock.advance(hours=20)

    receipt = lift(ledger, outcome=BlockOutcome.REQUEST_UNFOUNDED)

    assert receipt.event_type == "BlockLifted"
    assert ledger.subject_facts(ANNA)[-1].fields["outcome"] is BlockOutcome.REQUEST_UNFOUNDED
    assert blocked_now(ledger) == []


def test_lifting_one_block_leaves_the_others_in_force(ledger):
    published(ledger)
    consented(ledger, ANNA)
    block(ledger, "block-1")
    block(ledger, "block-2")

    lift(ledger, "block-1")

    assert blocked_now(ledger) == ["block-2"]
    with pytest.raises(SubjectBlocked, match="block-2"):
        deliver(ledger)


def test_lifting_needs_a_block_in_force(ledger):
    block(ledger, "block-1")

    with pytest.raises(NothingToAct, match="no block 'block-9'"):
        lift(ledger, "block-9")


def test_a_block_is_lifted_once(ledger):
    block(ledger)
    lift(ledger)

    with pytest.raises(NothingToAct):
        lift(ledger)


def test_a_block_lifted_later_cannot_be_lifted_again_at_an_earlier_time(ledger, clock):
    requested = clock.now
    block(ledger)
    clock.advance(days=2)
    lift(ledger)
    before = ledger.max_position()

    with pytest.raises(NothingToAct, match="already lifted"):
        lift(ledger, outcome=BlockOutcome.REQUEST_UNFOUNDED, occurred_at=requested + timedelta(days=1))

    assert ledger.max_position() == before


def test_a_block_cannot_be_lifted_before_it_was_requested(ledger, clock):
    block(ledger)

    with pytest.raises(NothingToAct):
        lift(ledger, occurred_at=clock.now - timedelta(minutes=1))


def test_lifting_a_block_of_a_subject_never_recorded_is_not_found(ledger):
    with pytest.raises(NotFound):
        lift(ledger)


def test_a_lift_with_an_unknown_outcome_is_refused_and_the_block_stays(ledger):
    block(ledger)

    with pytest.raises(InvalidFact, match="forgotten"):
        lift(ledger, outcome="forgotten")

    assert blocked_now(ledger) == ["block-1"]


# Corrections (clause 6.1.2): which categories changed, never the values.


def test_a_correction_records_which_categories_changed(ledger):
    ledger.record(SERVICE, Correction(subject_id=ANNA, data_categories=frozenset({DataCategory("address")})))

    assert ledger.subject_facts(ANNA)[-1].fields["data_categories"] == ("address",)


def test_a_correction_names_at_least_one_category(ledger):
    with pytest.raises(InvalidFact, match="at least one"):
        ledger.record(SERVICE, Correction(subject_id=ANNA, data_categories=frozenset()))


# Destruction (clause 5.3; Art. 1(3), 1(6)).


def test_destruction_is_refused_while_the_data_are_blocked(ledger):
    published(ledger)
    consented(ledger, ANNA)
    block(ledger)

    with pytest.raises(SubjectBlocked, match=r"Art\. 1\(3\)"):
        destroy(ledger)
    lift(ledger)
    destroy(ledger)

    assert ledger.is_destroyed(ANNA)


def test_destruction_dated_before_a_block_still_in_force_is_refused(ledger, clock):
    published(ledger)
    consented(ledger, ANNA)
    clock.advance(days=2)
    block(ledger)

    with pytest.raises(SubjectBlocked):
        destroy(ledger, occurred_at=clock.now - timedelta(days=1))

    assert not ledger.is_destroyed(ANNA)
    assert ledger.subject_facts(ANNA)[-2].fields["evidence"] == EVIDENCE


def test_destruction_dated_before_facts_already_recorded_is_refused(ledger, clock):
    published(ledger)
    consented(ledger, ANNA)
    clock.advance(days=2)
    deliver(ledger)

    with pytest.raises(InvalidFact, match="before"):
        destroy(ledger, occurred_at=clock.now - timedelta(days=1))

    assert not ledger.is_destroyed(ANNA)


def test_destroying_a_subject_never_recorded_is_not_found(ledger):
    with pytest.raises(NotFound):
        destroy(ledger)


def test_destruction_with_an_unknown_ground_is_refused_and_nothing_is_destroyed(ledger):
    published(ledger)
    consented(ledger, ANNA)

    with pytest.raises(InvalidFact, match="boredom"):
        destroy(ledger, ground="boredom")

    assert ledger.subject_facts(ANNA)[-1].fields["evidence"] == EVIDENCE


def test_after_destruction_the_personal_fields_read_back_as_nothing_and_the_rest_stays(ledger):
    published(ledger)
    consented(ledger, ANNA)
    ledger.record(
        SERVICE,
        Permission(
            subject_id=ANNA,
            permission_id="perm-1",
            recipient="Survey LLP",
            recipient_category="other",
            purpose="survey",
            document="scan signed by A. Nurlanova",
        ),
    )
    block(ledger, request="call from A. Nurlanova")
    lift(ledger)
    ledger.record(SERVICE, ClaimFiling(claim_ref="claim-1", subject_id=ANNA, claimant="Anna Nurlanova"))
    before = [(f.number, f.event_type, f.recorded_at) for f in ledger.subject_facts(ANNA)]

    destroy(ledger)

    facts = ledger.subject_facts(ANNA)
    assert [(f.number, f.event_type, f.recorded_at) for f in facts[:-1]] == before
    assert facts[-1].event_type == "DataDestroyed"
    assert facts[1].fields["evidence"] is None
    assert facts[2].fields["document"] is None
    assert facts[3].fields["request"] is None
    assert ledger.claimant("claim-1") is None
    assert (facts[1].fields["policy_version"], facts[1].fields["text_sha256"]) == ("1", sha("1"))
    assert facts[2].fields["recipient"] == "Survey LLP"


def test_destruction_leaves_other_subjects_readable(ledger):
    published(ledger)
    consented(ledger, ANNA)
    consented(ledger, BORIS, evidence="ip=10.1.1.1")
    ledger.record(SERVICE, ClaimFiling(claim_ref="claim-b", subject_id=BORIS, claimant="Boris B."))

    destroy(ledger, ANNA)

    assert ledger.subject_facts(BORIS)[-1].fields["evidence"] == "ip=10.1.1.1"
    assert ledger.claimant("claim-b") == "Boris B."
    assert not ledger.is_destroyed(BORIS)


def test_reading_a_destroyed_subject_records_nothing(ledger):
    published(ledger)
    consented(ledger, ANNA)
    destroy(ledger)
    before = ledger.max_position()

    ledger.subject_facts(ANNA)
    ledger.is_destroyed(ANNA)

    assert ledger.max_position() == before


@pytest.mark.parametrize(
    "command",
    [
        lambda ledger: consented(ledger, ANNA, evidence=None),
        lambda ledger: consented(ledger, ANNA),
        lambda ledger: ledger.record(SERVICE, Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="app")),
        lambda ledger: ledger.record(
            SERVICE,
            Permission(
                subject_id=ANNA, permission_id="p", recipient="R", recipient_category="other", purpose="x", document="d"
            ),
        ),
        deliver,
        lambda ledger: block(ledger, "block-2"),
        lift,
        lambda ledger: ledger.record(SERVICE, Correction(subject_id=ANNA, data_categories=frozenset({"address"}))),
        destroy,
        lambda ledger: ledger.record(
            SERVICE, Retraction(subject_id=ANNA, retracted_number=2, reason="recorded for the wrong subject")
        ),
        lambda ledger: ledger.record(SERVICE, ClaimFiling(claim_ref="claim-2", subject_id=ANNA, claimant="A. N.")),
    ],
    ids=[
        "consent",
        "consent-with-evidence",
        "withdraw",
        "permit",
        "disclose",
        "block",
        "lift",
        "correct",
        "destroy-again",
        "retract",
        "claim",
    ],
)
def test_nothing_new_is_recorded_about_a_destroyed_subject(ledger, command):
    published(ledger)
    consented(ledger, ANNA)
    block(ledger)
    lift(ledger)
    destroy(ledger)
    before = ledger.max_position()

    with pytest.raises(SubjectDestroyed):
        command(ledger)

    assert ledger.max_position() == before
