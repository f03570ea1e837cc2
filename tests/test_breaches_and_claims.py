"""Clause 5.4 and Art. 25(2)(8): breaches and who was told; clauses 8.1-8.3: pre-trial claims."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from given import SERVICE

from ledger.breach import AuthorityNotice, BreachFinding, BreachNotice
from ledger.claim import ClaimAnswer, ClaimFiling, CourtCase
from ledger.errors import InvalidFact, NotFound, NothingToAct, SubjectDestroyed
from ledger.subject_facts import Correction, Destruction
from ledger.terms import Channel, ClaimOutcome, DataCategory, SubjectId

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

ANNA, BORIS, CAROL = SubjectId("subject-anna"), SubjectId("subject-boris"), SubjectId("subject-carol")


def breach(ledger: ConsentLedger, ref: str = "breach-2026-01", occurred_at=None, **details):
    """Record that a copy of the contacts of Anna and Boris was found on a public file share."""
    given = {"data_categories": frozenset({DataCategory("contact")}), "subject_ids": frozenset({ANNA, BORIS})}
    return ledger.record(SERVICE, BreachFinding(breach_ref=ref, **given | details), occurred_at)


def tell_subject(ledger: ConsentLedger, subject: str, occurred_at=None, **details):
    """Record that a subject was told of the breach by e-mail."""
    given = {"breach_ref": "breach-2026-01", "subject_id": SubjectId(subject), "channel": Channel.EMAIL}
    return ledger.record(SERVICE, BreachNotice(**given | details), occurred_at)


def claim(ledger: ConsentLedger, ref: str = "claim-17", occurred_at=None, **details):
    """Record a written pre-trial claim from Anna."""
    given = {"subject_id": ANNA, "claimant": "Anna Nurlanova, Almaty"}
    return ledger.record(SERVICE, ClaimFiling(claim_ref=ref, **given | details), occurred_at)


def answer(ledger: ConsentLedger, occurred_at=None, **details):
    """Record the written answer to the claim."""
    given = {"claim_ref": "claim-17", "outcome": ClaimOutcome.PARTLY_SATISFIED, "channel": Channel.PAPER}
    return ledger.record(SERVICE, ClaimAnswer(**given | details), occurred_at)


def to_court(ledger: ConsentLedger, occurred_at=None, **details):
    """Record that the claim's dispute went to court."""
    return ledger.record(
        SERVICE, CourtCase(**{"claim_ref": "claim-17", "court_case": "2-1234/2026"} | details), occurred_at
    )


# Breaches (clause 5.4).


def test_a_breach_is_recorded_with_what_was_lost_whom_it_touched_and_when_it_was_found(ledger, clock):
    found = clock.now - timedelta(hours=2)

    receipt = breach(ledger, occurred_at=found)

    recorded = ledger.breach("breach-2026-01")
    assert receipt.event_type == "Found"
    assert recorded.found_at == found
    assert recorded.subject_ids == {ANNA, BORIS}
    assert recorded.data_categories == ("contact",)
    assert recorded.told == set()


def test_a_breach_is_recorded_once_per_reference(ledger):
    breach(ledger)

    with pytest.raises(InvalidFact, match="already recorded"):
        breach(ledger, subject_ids=frozenset({CAROL}))


@pytest.mark.parametrize(
    "missing",
    [{"ref": " "}, {"data_categories": frozenset()}, {"subject_ids": frozenset()}],
    ids=["reference", "data", "subjects"],
)
def test_a_breach_names_its_reference_its_data_and_its_subjects(ledger, missing):
    with pytest.raises(InvalidFact, match="a breach names"):
        breach(ledger, **missing)

    assert ledger.max_position() == 0


def test_an_affected_subject_is_told_of_the_breach(ledger):
    breach(ledger)

    receipt = tell_subject(ledger, ANNA)

    assert receipt.event_type == "SubjectTold"
    assert ledger.breach("breach-2026-01").told == {ANNA}


def test_only_an_affected_subject_can_be_told_of_a_breach(ledger):
    breach(ledger)
    before = ledger.max_position()

    with pytest.raises(NothingToAct, match="not among those affected"):
        tell_subject(ledger, CAROL)

    assert ledger.max_position() == before


def test_nobody_is_told_of_a_breach_before_it_was_found(ledger, clock):
    breach(ledger)

    with pytest.raises(InvalidFact, match="nobody was told before"):
        tell_subject(ledger, ANNA, occurred_at=clock.now - timedelta(minutes=1))
    with pytest.raises(InvalidFact, match="nobody was told before"):
        ledger.record(
            SERVICE,
            AuthorityNotice(breach_ref="breach-2026-01", channel=Channel.EMAIL, reference="out-1"),
            clock.now - timedelta(minutes=1),
        )


def test_the_authorised_body_being_told_is_recorded(ledger, clock):
    breach(ledger)
    clock.advance(hours=5)

    receipt = ledger.record(
        SERVICE, AuthorityNotice(breach_ref="breach-2026-01", channel=Channel.EMAIL, reference="out-2026/14")
    )

    assert receipt.event_type == "AuthorityTold"
    assert ledger.breach("breach-2026-01").authority_told_at == clock.now


def test_a_notice_of_a_breach_never_recorded_is_not_found(ledger):
    with pytest.raises(NotFound):
        tell_subject(ledger, ANNA)
    with pytest.raises(NotFound):
        ledger.breach("breach-2026-01")


# Claims (clauses 8.1-8.3).


def test_a_claim_is_recorded_when_received_with_the_claimant_sealed(ledger, clock):
    received = clock.now - timedelta(days=1)

    receipt = claim(ledger, occurred_at=received)

    assert receipt.event_type == "Received"
    assert ledger.claim("claim-17").received_at == received
    assert ledger.claimant("claim-17") == "Anna Nurlanova, Almaty"
    assert b"Nurlanova" not in b"".join(n.state for n in ledger.iter_positions())


def test_a_claim_is_recorded_once_per_reference(ledger):
    claim(ledger)

    with pytest.raises(InvalidFact, match="already recorded"):
        claim(ledger)


def test_a_claim_is_answered(ledger, clock):
    claim(ledger)
    clock.advance(days=12)

    receipt = answer(ledger)

    assert receipt.event_type == "Answered"
    assert ledger.claim("claim-17").answered_at == clock.now


def test_a_claim_is_answered_once(ledger, clock):
    claim(ledger)
    answer(ledger)
    clock.advance(days=1)
    before = ledger.max_position()

    with pytest.raises(NothingToAct, match="already answered"):
        answer(ledger, outcome=ClaimOutcome.REJECTED)

    assert ledger.max_position() == before


def test_a_claim_is_not_answered_before_it_was_received(ledger, clock):
    claim(ledger)

    with pytest.raises(InvalidFact, match="nothing happened to it before"):
        answer(ledger, occurred_at=clock.now - timedelta(days=1))


def test_an_answer_outside_the_outcomes_is_refused_and_the_claim_stays_readable(ledger):
    claim(ledger)

    with pytest.raises(InvalidFact, match="ignored"):
        answer(ledger, outcome="ignored")

    assert ledger.claim("claim-17").answered_at is None
    answer(ledger)


def test_a_claim_goes_to_court_once(ledger, clock):
    claim(ledger)
    clock.advance(days=40)

    to_court(ledger)

    assert ledger.claim("claim-17").in_court_since == clock.now
    with pytest.raises(NothingToAct, match="already in court"):
        to_court(ledger, court_case="2-9999/2026")


def test_a_claim_does_not_go_to_court_before_it_was_received(ledger, clock):
    claim(ledger)

    with pytest.raises(InvalidFact, match="nothing happened to it before"):
        to_court(ledger, occurred_at=clock.now - timedelta(days=1))


def test_a_court_case_is_named(ledger):
    claim(ledger)

    with pytest.raises(InvalidFact, match="name the court case"):
        to_court(ledger, court_case=" ")


def test_answering_a_claim_never_recorded_is_not_found(ledger):
    with pytest.raises(NotFound):
        answer(ledger)
    with pytest.raises(NotFound):
        to_court(ledger)


def test_a_claim_about_a_destroyed_subject_cannot_name_its_claimant(ledger):
    claim(ledger, ref="claim-1")
    ledger.record(SERVICE, Correction(subject_id=ANNA, data_categories=frozenset({"contact"})))
    ledger.record(SERVICE, Destruction(subject_id=ANNA, ground="subject_request"))

    with pytest.raises(SubjectDestroyed):
        claim(ledger, ref="claim-2")
    assert ledger.claimant("claim-1") is None
