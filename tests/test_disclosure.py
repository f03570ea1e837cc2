"""Clauses 5.2, 6.2.2, 6.2.4; Art. 9: a disclosure needs a ground that holds when it happens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from given import POLICY, SERVICE, consented, published, recorded

from ledger import rules
from ledger.errors import InvalidFact, NoGroundForDisclosure, SubjectBlocked, SubjectDestroyed
from ledger.subject_facts import Acceptance, Block, BlockLift, Destruction, Disclosure, Permission, Withdrawal
from ledger.terms import (
    BlockGround,
    BlockOutcome,
    BlockRequester,
    DataCategory,
    DisclosureGround,
    Purpose,
    RecipientCategory,
    SubjectId,
)

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

ANNA = SubjectId("subject-anna")
ORDERS = Purpose("4.1.1")
SURVEY = Purpose("market-survey")
COURIER, POSTAL, TELECOM = RecipientCategory.COURIER, RecipientCategory.POSTAL, RecipientCategory.TELECOM
STATE, OTHER = RecipientCategory.STATE_AUTHORITY, RecipientCategory.OTHER
ORDER, STATE_REQUEST, WRITTEN = (
    DisclosureGround.ORDER_FULFILMENT,
    DisclosureGround.STATE_REQUEST,
    DisclosureGround.WRITTEN_PERMISSION,
)
TO_SURVEY = {"ground": WRITTEN, "category": OTHER, "recipient": "Survey LLP", "purpose": SURVEY, "reference": "perm-1"}
"""The disclosure the sample written permission covers."""


def disclose(
    ledger: ConsentLedger,
    *,
    ground: str = ORDER,
    category: str = COURIER,
    recipient: str = "Kazpost Courier",
    purpose: str = ORDERS,
    reference: str = "order-1001",
    at: datetime | None = None,
    data: frozenset[str] = frozenset({DataCategory("address"), DataCategory("phone")}),
):
    """Record that the subject's address and phone went to a recipient."""
    return ledger.record(
        SERVICE,
        Disclosure(
            subject_id=ANNA,
            recipient=recipient,
            recipient_category=category,
            purpose=purpose,
            data_categories=data,
            ground=ground,
            reference=reference,
        ),
        at,
    )


def permit(
    ledger: ConsentLedger,
    *,
    permission_id: str = "perm-1",
    recipient: str = "Survey LLP",
    category: str = OTHER,
    purpose: str = SURVEY,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    at: datetime | None = None,
):
    """Record the subject's prior written permission (clause 6.2.2)."""
    return ledger.record(
        SERVICE,
        Permission(
            subject_id=ANNA,
            permission_id=permission_id,
            recipient=recipient,
            recipient_category=category,
            purpose=purpose,
            document="scan 2026-0042, signed by A. Nurlanova",
            valid_from=valid_from,
            valid_until=valid_until,
        ),
        at,
    )


def block(ledger: ConsentLedger, block_id: str = "block-1", at: datetime | None = None):
    """Block the subject's data at their request while inaccurate data are verified (clause 6.2.4)."""
    return ledger.record(
        SERVICE,
        Block(subject_id=ANNA, block_id=block_id, requester=BlockRequester.SUBJECT, ground=BlockGround.INACCURATE_DATA),
        at,
    )


def refused_without_a_trace(ledger: ConsentLedger, error: type[Exception], **disclosure) -> None:
    """The disclosure is refused with `error` and the log is as it was."""
    before = ledger.max_position()
    with pytest.raises(error):
        disclose(ledger, **disclosure)
    assert ledger.max_position() == before


# Order fulfilment (clause 5.2): only couriers, post and telecom, under a consent that allows them.


@pytest.mark.parametrize("category", [COURIER, POSTAL, TELECOM])
def test_an_order_is_fulfilled_through_a_delivery_recipient_under_a_standing_consent(ledger, category):
    published(ledger)
    consented(ledger, ANNA)

    receipt = disclose(ledger, category=category)

    fact = ledger.subject_facts(ANNA)[-1]
    assert receipt.event_type == "DataDisclosed"
    assert fact.fields == fact.fields | {
        "recipient_category": category,
        "ground": ORDER,
        "reference": "order-1001",
        "purpose": ORDERS,
        "data_categories": ("address", "phone"),
        "legal_basis": "consent to qlever-privacy version 1",
        "flagged_while_blocked": False,
    }


@pytest.mark.parametrize("category", [OTHER, STATE])
def test_an_order_is_never_fulfilled_through_another_kind_of_recipient(ledger, category):
    published(ledger, recipients=frozenset(RecipientCategory))
    consented(ledger, ANNA)

    refused_without_a_trace(ledger, NoGroundForDisclosure, category=category)


def test_an_order_fulfilment_without_any_consent_is_refused(ledger):
    published(ledger)

    refused_without_a_trace(ledger, NoGroundForDisclosure)


def test_an_order_fulfilment_needs_the_version_consented_to_to_allow_that_recipient(ledger):
    published(ledger, recipients=frozenset({COURIER}))
    consented(ledger, ANNA)

    disclose(ledger, category=COURIER)
    refused_without_a_trace(ledger, NoGroundForDisclosure, category=POSTAL)


def test_an_order_fulfilment_needs_a_consent_that_allows_third_parties(ledger):
    published(ledger)
    consented(ledger, ANNA, third_parties=False)

    refused_without_a_trace(ledger, NoGroundForDisclosure)


def test_an_order_fulfilment_needs_its_purpose_consented_to(ledger):
    published(ledger)
    consented(ledger, ANNA)

    refused_without_a_trace(ledger, NoGroundForDisclosure, purpose=Purpose("4.1.6"))


def test_an_order_fulfilment_names_its_order(ledger):
    published(ledger)
    consented(ledger, ANNA)

    refused_without_a_trace(ledger, NoGroundForDisclosure, reference=" ")


def test_an_order_fulfilment_after_the_consent_was_withdrawn_is_refused(ledger, clock):
    published(ledger)
    consented(ledger, ANNA)
    clock.advance(days=1)
    ledger.record(SERVICE, Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="app"))

    refused_without_a_trace(ledger, NoGroundForDisclosure)


def test_a_late_recorded_disclosure_is_judged_at_the_moment_it_happened(ledger, clock):
    published(ledger)
    consented(ledger, ANNA)
    handed_over = clock.advance(days=1)
    withdrawn = clock.advance(days=1)
    ledger.record(SERVICE, Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="app"))
    clock.advance(days=5)

    disclose(ledger, at=handed_over)
    refused_without_a_trace(ledger, NoGroundForDisclosure, at=withdrawn)
    assert ledger.subject_facts(ANNA)[-1].occurred_at == handed_over


def test_a_disclosure_dated_before_the_consent_is_refused(ledger, clock):
    published(ledger)
    clock.advance(days=1)
    consented(ledger, ANNA)

    refused_without_a_trace(ledger, NoGroundForDisclosure, at=clock.now - timedelta(hours=1))


def test_an_order_fulfilment_is_refused_once_the_consent_expired(ledger, clock):
    published(ledger)
    ledger.record(
        SERVICE,
        Acceptance(
            subject_id=ANNA,
            policy_id=POLICY,
            policy_version="1",
            language="en",
            text_sha256=ledger.policy(POLICY).versions["1"].text_sha256["en"],
            method="order_checkout",
            channel="site",
            data_categories=frozenset({"contact", "address"}),
            third_parties=True,
            valid_until=clock.now + timedelta(days=30),
        ),
    )
    clock.advance(days=30)

    refused_without_a_trace(ledger, NoGroundForDisclosure)


# State authorities (Art. 9): only on a request reference; recorded and flagged while blocked.


def test_a_state_authority_receives_data_on_its_request_without_consent(ledger):
    receipt = disclose(ledger, ground=STATE_REQUEST, category=STATE, recipient="Almaty police", reference="req 7/123")

    fact = ledger.subject_facts(ANNA)[-1]
    assert receipt.event_type == "DataDisclosed"
    assert fact.fields["legal_basis"] == "state request req 7/123"
    assert fact.fields["flagged_while_blocked"] is False


def test_a_state_request_without_its_reference_is_refused(ledger):
    refused_without_a_trace(ledger, NoGroundForDisclosure, ground=STATE_REQUEST, category=STATE, reference=" ")


@pytest.mark.parametrize("category", [COURIER, OTHER])
def test_a_state_request_ground_is_only_for_state_authorities(ledger, category):
    refused_without_a_trace(ledger, NoGroundForDisclosure, ground=STATE_REQUEST, category=category, reference="r-1")


def test_a_state_request_while_blocked_is_recorded_and_flagged(ledger):
    block(ledger)

    disclose(ledger, ground=STATE_REQUEST, category=STATE, recipient="Court of Almaty", reference="case 2-77")

    assert ledger.subject_facts(ANNA)[-1].fields["flagged_while_blocked"] is True


def test_a_malformed_state_request_while_blocked_is_refused_for_what_is_wrong_with_it(ledger):
    block(ledger)

    refused_without_a_trace(ledger, NoGroundForDisclosure, ground=STATE_REQUEST, category=COURIER, reference="r-1")
    refused_without_a_trace(ledger, NoGroundForDisclosure, ground=STATE_REQUEST, category=STATE, reference="")


def test_grounds_given_as_plain_words_are_understood(ledger):
    disclose(ledger, ground="state_request", category="state_authority", recipient="Tax office", reference="t-9")

    assert ledger.subject_facts(ANNA)[-1].fields["ground"] is STATE_REQUEST


def test_an_unknown_ground_is_refused_and_the_subject_stays_readable(ledger):
    disclose(ledger, ground=STATE_REQUEST, category=STATE, reference="r-1")

    with pytest.raises(InvalidFact, match="goodwill"):
        disclose(ledger, ground="goodwill", category=STATE, reference="r-2")
    with pytest.raises(InvalidFact, match="friend"):
        disclose(ledger, ground=STATE_REQUEST, category="friend", reference="r-3")

    assert len(ledger.subject(ANNA).entries) == 1


# Prior written permission (clause 6.2.2): that recipient, that purpose, within its validity.


def test_a_written_permission_allows_its_recipient_and_purpose(ledger):
    permit(ledger)

    disclose(ledger, **TO_SURVEY)

    assert ledger.subject_facts(ANNA)[-1].fields["legal_basis"] == "written permission perm-1"


@pytest.mark.parametrize(
    "other",
    [
        {"recipient": "Other LLP"},
        {"purpose": Purpose("advertising")},
        {"category": COURIER},
        {"reference": "perm-2"},
    ],
    ids=["recipient", "purpose", "category", "permission"],
)
def test_a_written_permission_allows_nothing_it_does_not_name(ledger, other):
    permit(ledger)

    refused_without_a_trace(ledger, NoGroundForDisclosure, **(TO_SURVEY | other))


def test_a_written_permission_holds_only_within_its_validity(ledger, clock):
    start, end = clock.now + timedelta(days=1), clock.now + timedelta(days=10)
    permit(ledger, valid_from=start, valid_until=end)
    clock.advance(days=20)

    refused_without_a_trace(ledger, NoGroundForDisclosure, at=start - timedelta(seconds=1), **TO_SURVEY)
    disclose(ledger, at=start, **TO_SURVEY)
    disclose(ledger, at=end - timedelta(seconds=1), **TO_SURVEY)
    refused_without_a_trace(ledger, NoGroundForDisclosure, at=end, **TO_SURVEY)


def test_a_permission_given_after_the_disclosure_does_not_cover_it(ledger, clock):
    disclosed = clock.now
    clock.advance(days=1)
    permit(ledger, valid_from=disclosed - timedelta(days=1))

    refused_without_a_trace(ledger, NoGroundForDisclosure, at=disclosed, **TO_SURVEY)


def test_a_permission_is_recorded_once_per_id(ledger):
    permit(ledger)

    with pytest.raises(InvalidFact, match="already recorded"):
        permit(ledger, recipient="Other LLP")


def test_a_permission_must_end_after_it_starts(ledger, clock):
    with pytest.raises(InvalidFact, match="after valid_from"):
        permit(ledger, valid_from=clock.now, valid_until=clock.now)


def test_a_permission_names_its_recipient_and_purpose(ledger):
    with pytest.raises(InvalidFact, match="names its id"):
        permit(ledger, recipient=" ")


def test_a_permissions_document_reads_back_in_clear_and_is_stored_sealed(ledger):
    permit(ledger)

    assert ledger.subject_facts(ANNA)[-1].fields["document"] == "scan 2026-0042, signed by A. Nurlanova"
    assert b"Nurlanova" not in b"".join(n.state for n in ledger.iter_positions())


# Nothing else while blocked (clause 6.2.4; Art. 1(3)); nothing after destruction (Art. 1(6)).


def test_an_order_fulfilment_while_blocked_is_refused_and_allowed_again_once_lifted(ledger):
    published(ledger)
    consented(ledger, ANNA)
    block(ledger)

    refused_without_a_trace(ledger, SubjectBlocked)
    ledger.record(SERVICE, BlockLift(subject_id=ANNA, block_id="block-1", outcome=BlockOutcome.REQUEST_UNFOUNDED))
    disclose(ledger)


def test_a_disclosure_under_written_permission_while_blocked_is_refused(ledger):
    permit(ledger)
    block(ledger)

    refused_without_a_trace(ledger, SubjectBlocked, **TO_SURVEY)


def test_a_late_recorded_disclosure_that_happened_before_the_block_is_accepted(ledger, clock):
    published(ledger)
    consented(ledger, ANNA)
    handed_over = clock.advance(hours=1)
    clock.advance(hours=1)
    block(ledger)

    disclose(ledger, at=handed_over)

    assert ledger.subject_facts(ANNA)[-1].fields["flagged_while_blocked"] is False


def test_a_disclosure_after_destruction_is_refused(ledger):
    published(ledger)
    consented(ledger, ANNA)
    ledger.record(SERVICE, Destruction(subject_id=ANNA, ground="purpose_achieved"))

    refused_without_a_trace(ledger, SubjectDestroyed)
    refused_without_a_trace(ledger, SubjectDestroyed, ground=STATE_REQUEST, category=STATE, reference="r-1")


def test_a_disclosure_names_its_recipient_and_what_data_went(ledger):
    with pytest.raises(InvalidFact, match="at least one data category"):
        disclose(ledger, ground=STATE_REQUEST, category=STATE, reference="r-1", data=frozenset())


# The same rule as a pure function, as the read side will ask it.

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_decision_names_the_blocks_that_stop_a_disclosure():
    entries = [
        recorded(
            Permission(
                subject_id=ANNA,
                permission_id="p",
                recipient="R",
                recipient_category=OTHER,
                purpose=SURVEY,
                document="d",
                valid_from=T0,
            ),
            2,
            T0,
        ),
        recorded(
            Block(
                subject_id=ANNA,
                block_id="b-9",
                requester=BlockRequester.AUTHORISED_BODY,
                ground=BlockGround.UNLAWFUL_PROCESSING,
            ),
            3,
            T0,
        ),
    ]

    decision = rules.decide_disclosure(
        entries,
        {},
        recipient="R",
        category=OTHER,
        purpose=SURVEY,
        ground=WRITTEN,
        reference="p",
        at=T0,
    )

    assert not decision.allowed
    assert "b-9" in decision.reason


def test_a_question_about_a_state_authority_is_never_answered_yes_without_a_request():
    decision = rules.may_disclose([], {}, category=STATE, purpose=ORDERS, at=T0)

    assert not decision.allowed
    assert "Art. 9" in decision.reason
