"""Clauses 2.1-2.2, 3.1, 4.1.6; Art. 8: consent given to a version with its terms, and withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from given import POLICY, SERVICE, TEXTS, published, recorded, sha

from ledger import rules
from ledger.application import ConsentLedger, text_sha256
from ledger.errors import InvalidFact, NoGroundForDisclosure, NotFound, NothingToAct, SubjectDestroyed
from ledger.policy import PolicyVersion
from ledger.subject_facts import Acceptance, Destruction, Disclosure, Withdrawal, WithdrawalRefusal
from ledger.terms import (
    Actor,
    Channel,
    ConsentMethod,
    DataCategory,
    DisclosureGround,
    Language,
    PolicyId,
    Purpose,
    RecipientCategory,
    SubjectId,
)

ANNA = SubjectId("subject-anna")
BORIS = SubjectId("subject-boris")
ACCOUNT = Purpose("4.1.6")
ORDERS, PERSONAL, FEEDBACK = Purpose("4.1.1"), Purpose("4.1.2"), Purpose("4.1.3")


def consent(ledger: ConsentLedger, subject: str = ANNA, version: str = "1", occurred_at=None, **terms):
    """Consent with the defaults of an app registration in English, overridden by `terms`."""
    given = {
        "policy_id": POLICY,
        "policy_version": version,
        "language": Language.EN,
        "text_sha256": sha(version),
        "method": ConsentMethod.REGISTRATION,
        "channel": "app",
        "data_categories": frozenset({"contact", "address", "phone"}),
        "third_parties": True,
    }
    return ledger.record(SERVICE, Acceptance(subject_id=SubjectId(subject), **given | terms), occurred_at)


def withdraw(ledger: ConsentLedger, subject: str = ANNA, occurred_at=None, **terms):
    """Withdraw consent to the sample policy in the app, overridden by `terms`."""
    return ledger.record(
        SERVICE,
        Withdrawal(subject_id=SubjectId(subject), **{"policy_id": POLICY, "channel": "app"} | terms),
        occurred_at,
    )


def standing(ledger: ConsentLedger, subject: str = ANNA, at: datetime | None = None) -> rules.StandingConsent | None:
    """The consent that stands for the subject at `at` (now by default), as the rules judge it."""
    entries = rules.known_entries(ledger.subject(SubjectId(subject)).entries)
    return rules.standing_consent(entries, POLICY, at or ledger.clock())


def deliver(ledger: ConsentLedger, subject: str = ANNA, purpose: str = ORDERS, at: datetime | None = None):
    """Hand the subject's address to a courier to fulfil an order (clause 5.2)."""
    return ledger.record(
        SERVICE,
        Disclosure(
            subject_id=SubjectId(subject),
            recipient="Kazpost Courier",
            recipient_category=RecipientCategory.COURIER,
            purpose=purpose,
            data_categories=frozenset({DataCategory("address")}),
            ground=DisclosureGround.ORDER_FULFILMENT,
            reference="order-1001",
        ),
        at,
    )


# Consent names a version that exists, is in effect or about to be, as the subject saw it.


def test_consent_to_a_version_in_effect_is_recorded_against_that_version(ledger):
    published(ledger)

    receipt = consent(ledger)

    stands = standing(ledger)
    assert receipt.event_type == "ConsentGranted"
    assert stands is not None
    assert (stands.acceptance.policy_version, stands.acceptance.text_sha256) == ("1", sha("1"))


def test_consent_to_a_policy_never_published_is_not_found(ledger):
    with pytest.raises(NotFound, match="never-published"):
        consent(ledger, policy_id=PolicyId("never-published"))


def test_consent_to_a_version_never_published_is_not_found_and_nothing_is_recorded(ledger):
    published(ledger)
    before = ledger.max_position()

    with pytest.raises(NotFound, match="no published version '7'"):
        consent(ledger, version="1", policy_version="7")

    assert ledger.max_position() == before


def test_consent_to_a_superseded_version_is_refused(ledger, clock):
    published(ledger, "1")
    clock.advance(days=30)
    published(ledger, "2")

    with pytest.raises(InvalidFact, match="superseded"):
        consent(ledger, version="1")


def test_a_late_recorded_consent_to_the_version_then_in_effect_is_accepted(ledger, clock):
    signed = clock.now
    published(ledger, "1")
    clock.advance(days=30)
    published(ledger, "2")

    consent(ledger, version="1", occurred_at=signed + timedelta(days=1), method=ConsentMethod.WRITTEN)

    stands = standing(ledger, at=signed + timedelta(days=2))
    assert stands is not None
    assert stands.acceptance.policy_version == "1"


def test_consent_to_a_version_about_to_take_effect_is_accepted(ledger, clock):
    published(ledger, "1")
    published(ledger, "2", effective_from=clock.now + timedelta(days=14))

    consent(ledger, version="2")

    stands = standing(ledger)
    assert stands is not None
    assert stands.acceptance.policy_version == "2"


def test_consent_to_the_version_in_effect_while_the_next_is_only_announced_is_accepted(ledger, clock):
    published(ledger, "1")
    published(ledger, "2", effective_from=clock.now + timedelta(days=14))

    consent(ledger, version="1")

    assert standing(ledger) is not None


def test_consent_dated_before_the_version_was_posted_is_refused(ledger, clock):
    published(ledger, "1")
    clock.advance(days=30)
    published(ledger, "2")

    with pytest.raises(InvalidFact, match="posted"):
        consent(ledger, version="2", occurred_at=clock.now - timedelta(days=10))


def test_the_text_hash_shown_must_be_the_text_of_that_language(ledger):
    published(ledger)

    with pytest.raises(InvalidFact, match="not the kk text"):
        consent(ledger, language=Language.KK, text_sha256=sha("1", Language.EN))
    consent(ledger, language=Language.KK, text_sha256=sha("1", Language.KK))

    assert standing(ledger) is not None


def test_a_text_the_version_never_had_is_refused(ledger):
    published(ledger)

    with pytest.raises(InvalidFact, match="not the en text"):
        consent(ledger, text_sha256=text_sha256(TEXTS["2"][Language.EN]))


def test_consent_in_a_language_the_version_was_not_published_in_is_refused(ledger):
    ledger.record(
        SERVICE,
        PolicyVersion(
            policy_id=POLICY,
            version="1",
            text_sha256={Language.KK: sha("1", Language.KK)},
            purposes=frozenset({ORDERS}),
            optional_purposes=frozenset(),
            recipient_categories=frozenset(),
        ),
    )

    with pytest.raises(InvalidFact, match="not published in en"):
        consent(ledger)


# Clause 4.1.6 is opt-in.


def test_an_optional_purpose_is_not_consented_to_unless_opted_in(ledger):
    published(ledger)

    consent(ledger, subject=ANNA)
    consent(ledger, subject=BORIS, optional_purposes=frozenset({ACCOUNT}))

    anna, boris = standing(ledger, ANNA), standing(ledger, BORIS)
    assert anna is not None
    assert boris is not None
    assert anna.purposes == {ORDERS, PERSONAL, FEEDBACK}
    assert boris.purposes == {ORDERS, PERSONAL, FEEDBACK, ACCOUNT}


def test_opting_in_to_a_purpose_that_is_not_optional_is_refused(ledger):
    published(ledger)

    with pytest.raises(InvalidFact, match=r"4\.1\.8 are not optional"):
        consent(ledger, optional_purposes=frozenset({Purpose("4.1.8")}))


# Art. 8(4): the terms of a consent are kept.


def test_a_consent_keeps_every_term_article_8_4_asks_it_to_name(ledger, clock):
    published(ledger)
    until = clock.now + timedelta(days=365)

    consent(
        ledger,
        method=ConsentMethod.WRITTEN,
        channel="paper",
        data_categories=frozenset({"contact", "address"}),
        third_parties=True,
        cross_border=True,
        publication=False,
        valid_until=until,
        actor=Actor.LEGAL_REPRESENTATIVE,
        representative="Aigerim K., mother, birth certificate 123",
        evidence="paper form 77, signed",
        optional_purposes=frozenset({ACCOUNT}),
    )

    fact = ledger.subject_facts(ANNA)[-1]
    assert fact.event_type == "ConsentGranted"
    assert fact.fields == fact.fields | {
        "policy_id": POLICY,
        "policy_version": "1",
        "language": Language.EN,
        "text_sha256": sha("1"),
        "method": ConsentMethod.WRITTEN,
        "channel": "paper",
        "data_categories": ("address", "contact"),
        "purposes": ("4.1.1", "4.1.2", "4.1.3", "4.1.6"),
        "third_parties": True,
        "cross_border": True,
        "publication": False,
        "valid_until": until,
        "actor": Actor.LEGAL_REPRESENTATIVE,
        "representative": "Aigerim K., mother, birth certificate 123",
        "evidence": "paper form 77, signed",
    }


def test_the_evidence_and_the_representative_are_never_stored_in_clear(ledger):
    published(ledger)

    consent(ledger, actor=Actor.LEGAL_REPRESENTATIVE, representative="Aigerim Karimova", evidence="ip=10.9.8.7")

    stored = b"".join(n.state for n in ledger.iter_positions())
    assert b"Aigerim" not in stored
    assert b"10.9.8.7" not in stored


def test_a_consent_expires_at_the_end_of_its_validity_term(ledger, clock):
    published(ledger)
    until = clock.now + timedelta(days=30)
    consent(ledger, valid_until=until)
    clock.advance(days=31)

    deliver(ledger, at=until - timedelta(seconds=1))
    with pytest.raises(NoGroundForDisclosure):
        deliver(ledger, at=until)
    with pytest.raises(NothingToAct):
        withdraw(ledger)


def test_a_validity_term_that_ends_before_the_consent_is_refused(ledger, clock):
    published(ledger)

    with pytest.raises(InvalidFact, match="valid_until must be after"):
        consent(ledger, valid_until=clock.now)


def test_a_naive_validity_term_is_refused(ledger):
    published(ledger)

    with pytest.raises(InvalidFact, match="UTC offset"):
        consent(ledger, valid_until=datetime(2027, 1, 1))  # noqa: DTZ001  (the naive time under test)


@pytest.mark.parametrize("actor", [Actor.LEGAL_REPRESENTATIVE, "legal_representative"])
def test_a_consent_given_by_a_legal_representative_must_name_them(ledger, actor):
    published(ledger)

    with pytest.raises(InvalidFact, match="legal representative acted"):
        consent(ledger, actor=actor)

    assert ledger.max_position() == 2


@pytest.mark.parametrize(
    ("term", "value"),
    [("method", "telepathy"), ("language", "fr"), ("actor", "neighbour")],
)
def test_a_term_outside_its_closed_list_is_refused_and_the_subject_stays_readable(ledger, term, value):
    published(ledger)
    consent(ledger)

    with pytest.raises(InvalidFact, match=value):
        consent(ledger, **{term: value})

    assert len(ledger.subject(ANNA).entries) == 1


def test_terms_given_as_plain_words_are_recorded_as_the_closed_list_values(ledger):
    published(ledger)

    consent(ledger, method="order_checkout", language="en", actor="subject")

    acceptance = ledger.subject(ANNA).entries[-1]
    assert isinstance(acceptance, Acceptance)
    assert acceptance.method is ConsentMethod.ORDER_CHECKOUT
    assert acceptance.actor is Actor.SUBJECT


def test_no_consent_is_recorded_for_a_destroyed_subject(ledger):
    published(ledger)
    consent(ledger)
    ledger.record(SERVICE, Destruction(subject_id=ANNA, ground="subject_request"))

    with pytest.raises(SubjectDestroyed):
        consent(ledger, evidence=None)


# Withdrawal (clause 2.2; Art. 8(2), 8(7)).


def test_a_withdrawal_ends_the_consent(ledger, clock):
    published(ledger)
    consent(ledger)
    clock.advance(days=1)

    withdraw(ledger)

    assert standing(ledger) is None
    assert standing(ledger, at=clock.now - timedelta(seconds=1)) is not None
    with pytest.raises(NoGroundForDisclosure):
        deliver(ledger)


def test_a_withdrawal_needs_a_standing_consent_and_records_nothing_without_one(ledger):
    published(ledger)

    with pytest.raises(NothingToAct, match="no standing consent"):
        withdraw(ledger)

    assert ledger.max_position() == 2


def test_a_consent_cannot_be_withdrawn_twice(ledger):
    published(ledger)
    consent(ledger)
    withdraw(ledger)

    with pytest.raises(NothingToAct):
        withdraw(ledger)


def test_a_withdrawal_dated_before_the_consent_is_refused(ledger, clock):
    published(ledger)
    clock.advance(days=1)
    consent(ledger)

    with pytest.raises(NothingToAct):
        withdraw(ledger, occurred_at=clock.now - timedelta(hours=1))


def test_a_partial_withdrawal_keeps_the_other_purposes(ledger):
    published(ledger)
    consent(ledger, optional_purposes=frozenset({ACCOUNT}))

    withdraw(ledger, purposes=frozenset({ACCOUNT, FEEDBACK}))

    stands = standing(ledger)
    assert stands is not None
    assert stands.purposes == {ORDERS, PERSONAL}
    deliver(ledger, purpose=ORDERS)
    with pytest.raises(NoGroundForDisclosure):
        deliver(ledger, purpose=FEEDBACK)


def test_withdrawing_the_remaining_purposes_one_by_one_ends_the_consent(ledger):
    published(ledger)
    consent(ledger)

    withdraw(ledger, purposes=frozenset({ORDERS}))
    withdraw(ledger, purposes=frozenset({PERSONAL, FEEDBACK}))

    assert standing(ledger) is None


@pytest.mark.parametrize("purpose", [ACCOUNT, Purpose("4.1.8")], ids=["not-opted-in", "not-in-the-policy"])
def test_withdrawing_a_purpose_never_consented_to_is_refused(ledger, purpose):
    published(ledger)
    consent(ledger)

    with pytest.raises(NothingToAct, match="were not consented to"):
        withdraw(ledger, purposes=frozenset({purpose}))


def test_withdrawing_an_already_withdrawn_purpose_is_refused(ledger):
    published(ledger)
    consent(ledger)
    withdraw(ledger, purposes=frozenset({FEEDBACK}))

    with pytest.raises(NothingToAct):
        withdraw(ledger, purposes=frozenset({FEEDBACK}))


@pytest.mark.parametrize("actor", [Actor.LEGAL_REPRESENTATIVE, "legal_representative"])
def test_a_withdrawal_by_a_legal_representative_must_name_them(ledger, actor):
    published(ledger)
    consent(ledger)

    with pytest.raises(InvalidFact, match="legal representative acted"):
        withdraw(ledger, actor=actor)
    withdraw(ledger, actor=actor, representative="Aigerim K., guardian")

    assert ledger.subject_facts(ANNA)[-1].fields["representative"] == "Aigerim K., guardian"


def test_a_new_consent_after_a_withdrawal_stands_again(ledger, clock):
    published(ledger)
    consent(ledger)
    withdraw(ledger)
    clock.advance(days=1)

    consent(ledger)

    assert standing(ledger) is not None


def test_a_withdrawal_refused_for_an_open_order_keeps_the_consent_standing(ledger):
    published(ledger)
    consent(ledger)

    receipt = ledger.record(
        SERVICE,
        WithdrawalRefusal(
            subject_id=ANNA,
            policy_id=POLICY,
            open_obligation="order-1001 not yet delivered",
            reason="the order must be delivered first (Art. 8(2))",
        ),
    )

    assert receipt.event_type == "WithdrawalRefused"
    assert standing(ledger) is not None
    assert not any(isinstance(e, Withdrawal) for e in ledger.subject(ANNA).entries)
    deliver(ledger)
    assert ledger.subject_facts(ANNA)[-2].fields["open_obligation"] == "order-1001 not yet delivered"


def test_a_refusal_to_withdraw_must_name_the_open_obligation_and_its_reason(ledger):
    published(ledger)
    consent(ledger)

    with pytest.raises(InvalidFact, match=r"Art\. 8\(2\)"):
        ledger.record(
            SERVICE, WithdrawalRefusal(subject_id=ANNA, policy_id=POLICY, open_obligation=" ", reason="open order")
        )


def test_a_refusal_to_withdraw_needs_a_standing_consent(ledger):
    published(ledger)

    with pytest.raises(NothingToAct):
        ledger.record(
            SERVICE,
            WithdrawalRefusal(subject_id=ANNA, policy_id=POLICY, open_obligation="order-1", reason="open order"),
        )


# The same rule as a pure function over entries.

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _accepted(number: int, at: datetime, purposes: set[str], until: datetime | None = None) -> Acceptance:
    accepted = Acceptance(
        subject_id=ANNA,
        policy_id=POLICY,
        policy_version="1",
        language=Language.EN,
        text_sha256=sha("1"),
        method=ConsentMethod.APP_USE,
        channel=Channel.APP,
        purposes=frozenset(Purpose(p) for p in purposes),
        data_categories=frozenset({"contact"}),
        third_parties=True,
        valid_until=until,
    )
    return recorded(accepted, number, at)


def _withdrawn(number: int, at: datetime, purposes: set[str], recorded_at: datetime | None = None) -> Withdrawal:
    withdrawn = Withdrawal(
        subject_id=ANNA, policy_id=POLICY, purposes=frozenset(Purpose(p) for p in purposes), channel=Channel.APP
    )
    return recorded(withdrawn, number, at, recorded_at)


def test_standing_consent_follows_the_order_things_happened_not_the_order_they_were_recorded():
    day = timedelta(days=1)
    entries = [
        _accepted(2, T0, {"4.1.1", "4.1.2"}),
        _withdrawn(3, T0 + 3 * day, set()),
        _accepted(4, T0 + 2 * day, {"4.1.1"}),  # a paper consent recorded after the withdrawal
    ]

    assert rules.standing_consent(entries, POLICY, T0 + 2 * day + timedelta(hours=1)) == rules.StandingConsent(
        entries[2], frozenset({Purpose("4.1.1")})
    )
    assert rules.standing_consent(entries, POLICY, T0 + 3 * day) is None


def test_standing_consent_sees_nothing_of_another_policy():
    entries = [_accepted(2, T0, {"4.1.1"})]

    assert rules.standing_consent(entries, PolicyId("qlever-cookies"), T0 + timedelta(days=1)) is None


def test_a_withdrawal_recorded_later_is_not_known_before_it_was_recorded():
    recorded = T0 + timedelta(days=10)
    entries = [_accepted(2, T0, {"4.1.1"}), _withdrawn(3, T0 + timedelta(days=1), set(), recorded_at=recorded)]
    at = T0 + timedelta(days=2)

    assert rules.standing_consent(rules.known_entries(entries, as_known_at=recorded - timedelta(seconds=1)), POLICY, at)
    assert rules.standing_consent(rules.known_entries(entries, as_known_at=recorded), POLICY, at) is None
