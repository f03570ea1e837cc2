"""A mistake is mended by a later entry that strikes it out by number; the entry itself stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from given import POLICY, SERVICE, consented, published, recorded

from ledger import rules
from ledger.errors import InvalidFact, NoGroundForDisclosure, NotFound, NothingToAct, SubjectDestroyed
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
from ledger.terms import DataCategory, DisclosureGround, RecipientCategory, SubjectId

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

ANNA = SubjectId("subject-anna")


def retract(ledger: ConsentLedger, number: int, reason: str = "recorded for the wrong subject", occurred_at=None):
    """Strike out entry `number` of the subject's record."""
    return ledger.record(SERVICE, Retraction(subject_id=ANNA, retracted_number=number, reason=reason), occurred_at)


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


def consent_stands(ledger: ConsentLedger) -> bool:
    """Whether a consent to the sample policy stands now, as the ledger knows it."""
    entries = rules.known_entries(ledger.subject(ANNA).entries)
    return rules.standing_consent(entries, POLICY, ledger.clock()) is not None


def test_a_mistaken_consent_stops_counting_once_retracted(ledger):
    published(ledger)
    mistaken = consented(ledger, ANNA)

    receipt = retract(ledger, mistaken.version)

    assert receipt.event_type == "EntryRetracted"
    assert not consent_stands(ledger)
    with pytest.raises(NoGroundForDisclosure):
        deliver(ledger)
    with pytest.raises(NothingToAct):
        ledger.record(SERVICE, Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="app"))


def test_a_retracted_entry_stays_in_the_history_and_the_retraction_names_it(ledger):
    published(ledger)
    mistaken = consented(ledger, ANNA)

    retract(ledger, mistaken.version, reason="the form belonged to another customer")

    facts = ledger.subject_facts(ANNA)
    assert [f.event_type for f in facts] == ["Opened", "ConsentGranted", "EntryRetracted"]
    assert facts[1].fields["evidence"] == "ip=10.0.0.7 device=android"
    assert facts[2].fields == facts[2].fields | {
        "retracted_number": mistaken.version,
        "reason": "the form belonged to another customer",
    }


def test_a_mistaken_withdrawal_once_retracted_restores_the_consent(ledger):
    published(ledger)
    consented(ledger, ANNA)
    mistaken = ledger.record(SERVICE, Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="app"))
    assert not consent_stands(ledger)

    retract(ledger, mistaken.version, reason="another customer's request")

    assert consent_stands(ledger)
    deliver(ledger)


def test_a_mistaken_permission_once_retracted_covers_nothing(ledger):
    mistaken = ledger.record(
        SERVICE,
        Permission(
            subject_id=ANNA,
            permission_id="perm-1",
            recipient="Survey LLP",
            recipient_category="other",
            purpose="survey",
            document="scan 77",
        ),
    )
    retract(ledger, mistaken.version)

    with pytest.raises(NoGroundForDisclosure):
        ledger.record(
            SERVICE,
            Disclosure(
                subject_id=ANNA,
                recipient="Survey LLP",
                recipient_category="other",
                purpose="survey",
                data_categories=frozenset({"contact"}),
                ground="written_permission",
                reference="perm-1",
            ),
        )


def test_a_mistaken_disclosure_and_correction_can_be_struck_out(ledger):
    published(ledger)
    consented(ledger, ANNA)
    disclosure = deliver(ledger)
    correction = ledger.record(SERVICE, Correction(subject_id=ANNA, data_categories=frozenset({"address"})))

    retract(ledger, disclosure.version)
    retract(ledger, correction.version)

    known = rules.known_entries(ledger.subject(ANNA).entries)
    assert [type(e).__name__ for e in known] == ["ConsentGranted", "EntryRetracted", "EntryRetracted"]


def test_an_entry_is_retracted_once(ledger):
    published(ledger)
    mistaken = consented(ledger, ANNA)
    retract(ledger, mistaken.version)
    before = ledger.max_position()

    with pytest.raises(NothingToAct, match="already retracted"):
        retract(ledger, mistaken.version)

    assert ledger.max_position() == before


@pytest.mark.parametrize(
    "entry",
    ["opening", "block", "lift", "retraction", "no-such-entry"],
)
def test_only_a_retractable_entry_can_be_struck_out(ledger, entry):
    published(ledger)
    consented(ledger, ANNA)  # 2
    ledger.record(SERVICE, Block(subject_id=ANNA, block_id="b-1", requester="subject", ground="inaccurate_data"))  # 3
    ledger.record(SERVICE, BlockLift(subject_id=ANNA, block_id="b-1", outcome="data_corrected"))  # 4
    retract(ledger, 2)  # 5
    number = {"opening": 1, "block": 3, "lift": 4, "retraction": 5, "no-such-entry": 99}[entry]

    with pytest.raises(NothingToAct, match="no retractable entry"):
        retract(ledger, number)


def test_a_destruction_cannot_be_retracted(ledger):
    published(ledger)
    consented(ledger, ANNA)
    destroyed = ledger.record(SERVICE, Destruction(subject_id=ANNA, ground="subject_request"))

    with pytest.raises(SubjectDestroyed):
        retract(ledger, destroyed.version)

    assert ledger.is_destroyed(ANNA)


def test_a_retraction_says_why_the_entry_was_a_mistake(ledger):
    published(ledger)
    mistaken = consented(ledger, ANNA)

    with pytest.raises(InvalidFact, match="say why"):
        retract(ledger, mistaken.version, reason=" ")


def test_retracting_for_a_subject_never_recorded_is_not_found(ledger):
    with pytest.raises(NotFound):
        retract(ledger, 2)


# As known at a moment: a retraction recorded later is not seen before it was recorded.

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_an_entry_counts_until_the_moment_its_retraction_was_recorded():
    struck_at = T0 + timedelta(days=5)
    correction = recorded(Correction(subject_id=ANNA, data_categories=frozenset({DataCategory("address")})), 2, T0)
    retraction = recorded(Retraction(subject_id=ANNA, retracted_number=2, reason="wrong subject"), 3, struck_at)

    assert rules.known_entries([correction, retraction], as_known_at=struck_at - timedelta(seconds=1)) == [correction]
    assert rules.known_entries([correction, retraction], as_known_at=struck_at) == [retraction]
    assert rules.known_entries([correction, retraction]) == [retraction]
