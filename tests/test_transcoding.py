"""Events are stored as canonical orjson bytes and come back with exactly the types they were written with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from given import DELIVERY, POLICY, SERVICE, published, sha
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.acknowledgement import Acknowledgement, acknowledgement_key
from ledger.application import Request
from ledger.subject import Subject, subject_key
from ledger.subject_facts import Acceptance, Block, Correction, Disclosure
from ledger.terms import (
    Actor,
    BlockRequester,
    ConsentMethod,
    DisclosureGround,
    Language,
    RecipientCategory,
    Sealed,
    SubjectId,
)
from ledger.transcoding import OrjsonTranscoder, restore

ANNA = SubjectId("subject-anna")
ALMATY = timezone(timedelta(hours=5))
TRANSCODER = OrjsonTranscoder()


def round_trip(value: object, annotation: object) -> object:
    """What a field of this type reads back as after being stored."""
    return restore(TRANSCODER.decode(TRANSCODER.encode({"field": value}))["field"], annotation)


# Through storage, on each backend.


def test_a_consent_reads_back_from_storage_with_every_field_of_its_type(ledger, clock):
    signed = datetime(2026, 3, 1, 14, 5, 9, 123456, tzinfo=ALMATY)
    published(ledger, at=signed - timedelta(days=1))
    until = datetime(2027, 3, 1, 0, 0, 0, 1, tzinfo=UTC)

    receipt = ledger.record(
        SERVICE,
        Acceptance(
            subject_id=ANNA,
            policy_id=POLICY,
            policy_version="1",
            language=Language.KK,
            text_sha256=sha("1", Language.KK),
            method=ConsentMethod.WRITTEN,
            channel="paper",
            data_categories=frozenset({"contact", "address"}),
            third_parties=True,
            cross_border=False,
            valid_until=until,
            actor=Actor.LEGAL_REPRESENTATIVE,
            representative="guardian",
            evidence="form 7",
        ),
        signed,
    )

    stored = list(ledger.events.get(receipt.aggregate_id))[-1]
    assert isinstance(stored, Subject.ConsentGranted)
    assert stored.originator_id == subject_key(ANNA)
    assert isinstance(stored.originator_id, UUID)
    assert stored.occurred_at == signed
    assert stored.occurred_at.utcoffset() == timedelta(hours=5)
    assert stored.occurred_at.microsecond == 123456
    assert stored.valid_until == until
    assert stored.timestamp == clock.now
    assert stored.language is Language.KK
    assert stored.method is ConsentMethod.WRITTEN
    assert stored.actor is Actor.LEGAL_REPRESENTATIVE
    assert stored.data_categories == frozenset({"address", "contact"})
    assert stored.third_parties is True
    assert isinstance(stored.representative, Sealed)
    assert isinstance(stored.evidence, Sealed)


def test_a_policy_version_reads_back_with_its_texts_keyed_by_language(ledger, clock):
    starts = clock.now + timedelta(days=3, microseconds=7)

    receipt = published(ledger, effective_from=starts)

    stored = list(ledger.events.get(receipt.aggregate_id))[-1]
    assert stored.text_sha256 == {language: sha("1", language) for language in Language}
    assert all(type(language) is Language for language in stored.text_sha256)
    assert stored.recipient_categories == DELIVERY
    assert all(type(category) is RecipientCategory for category in stored.recipient_categories)
    assert stored.effective_from == starts


def test_a_disclosure_and_a_block_read_back_with_their_closed_list_values(ledger):
    ledger.record(
        SERVICE, Block(subject_id=ANNA, block_id="b-1", requester=BlockRequester.AKIMAT, ground="unlawful_processing")
    )
    ledger.record(
        SERVICE,
        Disclosure(
            subject_id=ANNA,
            recipient="Court",
            recipient_category=RecipientCategory.STATE_AUTHORITY,
            purpose="case",
            data_categories=frozenset({"contact"}),
            ground=DisclosureGround.STATE_REQUEST,
            reference="2-1",
        ),
    )

    block, disclosure = list(ledger.events.get(subject_key(ANNA)))[1:]
    assert block.requester is BlockRequester.AKIMAT
    assert block.request is None
    assert disclosure.ground is DisclosureGround.STATE_REQUEST
    assert disclosure.recipient_category is RecipientCategory.STATE_AUTHORITY
    assert disclosure.flagged_while_blocked is True


def test_an_acknowledgement_reads_back_with_the_id_of_the_fact_it_answered(ledger):
    published(ledger)
    receipt = ledger.record(
        Request("crm", idempotency_key="k-1"), Correction(subject_id=ANNA, data_categories=frozenset({"phone"}))
    )

    [stored] = ledger.events.get(acknowledgement_key("crm", "k-1"))
    assert isinstance(stored, Acknowledgement.Given)
    assert stored.fact_id == receipt.aggregate_id
    assert isinstance(stored.fact_id, UUID)
    assert stored.fact_recorded_at == receipt.recorded_at


def test_the_same_event_is_always_the_same_bytes(ledger):
    published(ledger)
    first = [n.state for n in ledger.iter_positions()]

    again = [TRANSCODER.encode(TRANSCODER.decode(state)) for state in first]

    assert again == first


# As a property of the transcoder, for generated values.

offsets = st.integers(min_value=-(24 * 3600 - 1), max_value=24 * 3600 - 1).map(
    lambda seconds: timezone(timedelta(seconds=seconds))
)
aware_times = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001  (bounds are naive by hypothesis' contract)
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=offsets,
)
texts = st.text(max_size=30)


@settings(max_examples=200)
@given(aware_times)
def test_any_aware_time_reads_back_as_the_same_instant_with_the_same_offset(value):
    restored = round_trip(value, datetime)

    assert restored == value
    assert restored.utcoffset() == value.utcoffset()
    assert restored.microsecond == value.microsecond


@settings(max_examples=100)
@given(st.uuids(), st.decimals(allow_nan=False, allow_infinity=False))
def test_any_uuid_and_decimal_read_back_exactly(uuid, decimal):
    assert round_trip(uuid, UUID) == uuid
    restored = round_trip(decimal, Decimal)
    assert restored == decimal
    assert str(restored) == str(decimal)


@settings(max_examples=100)
@given(
    st.dictionaries(st.sampled_from(Language), texts),
    st.lists(st.sampled_from(RecipientCategory)).map(tuple),
    st.one_of(st.none(), st.builds(Sealed, texts)),
    st.one_of(st.none(), aware_times),
)
def test_any_texts_categories_sealed_values_and_optional_times_read_back_exactly(
    texts_by_language, categories, sealed, maybe
):
    restored_texts = round_trip(texts_by_language, dict[Language, str])
    restored_categories = round_trip(categories, tuple[RecipientCategory, ...])

    assert restored_texts == texts_by_language
    assert all(type(language) is Language for language in restored_texts)
    assert restored_categories == categories
    assert all(type(category) is RecipientCategory for category in restored_categories)
    assert round_trip(sealed, Sealed | None) == sealed
    assert round_trip(maybe, datetime | None) == maybe
