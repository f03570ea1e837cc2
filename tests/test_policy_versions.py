"""Clauses 9.1-9.2: a policy version is addressed by its texts, never changes, and takes effect when posted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from given import DELIVERY, OPTIONAL, POLICY, PURPOSES, TEXTS, consented, recorded

from ledger import rules
from ledger.application import ConsentLedger, Request, text_sha256
from ledger.errors import InvalidFact, NotFound, PolicyVersionConflict
from ledger.policy import PolicyVersion
from ledger.terms import Language, PolicyId, Purpose, RecipientCategory

OFFICER = Request("privacy-officer")
OTHER_TEXT = {Language.KK: "Басқа мәтін", Language.RU: "Другой текст", Language.EN: "Another text"}


def publish(
    ledger: ConsentLedger,
    version: str = "1",
    *,
    texts: dict[Language, str] | dict[str, str] | None = None,
    purposes: frozenset[str] = PURPOSES,
    optional: frozenset[str] = OPTIONAL,
    recipients: frozenset[str] = DELIVERY,
    effective_from: datetime | None = None,
    at: datetime | None = None,
    policy_id: str = POLICY,
):
    """Publish a version of a policy with the given texts and terms."""
    chosen = TEXTS[version] if texts is None else texts
    return ledger.record(
        OFFICER,
        PolicyVersion(
            policy_id=PolicyId(policy_id),
            version=version,
            text_sha256={language: text_sha256(text) for language, text in chosen.items()},
            purposes=purposes,
            optional_purposes=optional,
            recipient_categories=recipients,
            effective_from=effective_from,
            operator_name="Qlever",
            operator_bin="000000000000",
        ),
        at,
    )


# Publishing.


def test_a_published_version_keeps_the_hash_of_each_languages_text_and_its_terms(ledger, clock):
    receipt = publish(ledger)

    terms = ledger.policy(POLICY).versions["1"]
    assert receipt.event_type == "VersionPublished"
    assert terms.text_sha256 == {language: text_sha256(text) for language, text in TEXTS["1"].items()}
    assert terms.purposes == PURPOSES
    assert terms.optional_purposes == OPTIONAL
    assert terms.recipient_categories == DELIVERY
    assert terms.recorded_at == clock.now


def test_the_first_version_adopts_the_policy_in_the_operators_name(ledger):
    publish(ledger)

    policy = ledger.policy(POLICY)
    assert (policy.operator_name, policy.operator_bin) == ("Qlever", "000000000000")
    assert list(policy.versions) == ["1"]


def test_an_unknown_policy_is_not_found(ledger):
    with pytest.raises(NotFound):
        ledger.policy(PolicyId("never-published"))


def test_a_version_takes_effect_the_moment_it_is_posted_by_default(ledger, clock):
    publish(ledger)

    assert ledger.policy(POLICY).versions["1"].effective_from == clock.now


def test_a_version_posted_earlier_takes_effect_when_it_was_posted(ledger, clock):
    posted = clock.now - timedelta(days=3)

    publish(ledger, at=posted)

    assert ledger.policy(POLICY).versions["1"].effective_from == posted


def test_a_future_effective_from_is_honoured(ledger, clock):
    publish(ledger, "1")
    starts = clock.now + timedelta(days=14)

    publish(ledger, "2", effective_from=starts)

    versions = ledger.policy(POLICY).versions
    assert versions["2"].effective_from == starts
    assert rules.version_in_effect(versions.values(), starts - timedelta(seconds=1)) == versions["1"]
    assert rules.version_in_effect(versions.values(), starts) == versions["2"]


def test_a_naive_effective_from_is_refused(ledger):
    with pytest.raises(InvalidFact, match="UTC offset"):
        publish(ledger, effective_from=datetime(2026, 4, 1))  # noqa: DTZ001  (the naive time under test)


# A published version never changes.


def test_publishing_a_version_again_with_another_text_is_refused_and_the_first_text_stands(ledger):
    publish(ledger)
    before = ledger.max_position()

    with pytest.raises(PolicyVersionConflict, match="publish a new version number"):
        publish(ledger, texts=OTHER_TEXT)

    assert ledger.max_position() == before
    assert ledger.policy(POLICY).versions["1"].text_sha256[Language.EN] == text_sha256(TEXTS["1"][Language.EN])


def test_publishing_a_version_again_with_one_language_changed_is_refused(ledger):
    publish(ledger)
    changed = {**TEXTS["1"], Language.KK: "Өзгертілген мәтін"}

    with pytest.raises(PolicyVersionConflict):
        publish(ledger, texts=changed)


def test_publishing_a_version_again_without_one_of_its_languages_is_refused(ledger):
    publish(ledger)

    with pytest.raises(PolicyVersionConflict):
        publish(ledger, texts={Language.EN: TEXTS["1"][Language.EN]})


@pytest.mark.parametrize(
    "change",
    [
        {"purposes": PURPOSES | {Purpose("4.1.8")}},
        {"optional": frozenset()},
        {"recipients": frozenset({RecipientCategory.COURIER})},
    ],
    ids=["purposes", "optional-purposes", "recipients"],
)
def test_publishing_a_version_again_with_other_terms_is_refused(ledger, change):
    publish(ledger)

    with pytest.raises(PolicyVersionConflict):
        publish(ledger, **change)


def test_publishing_a_version_again_with_another_effective_from_is_refused(ledger, clock):
    publish(ledger, effective_from=clock.now + timedelta(days=10))

    with pytest.raises(PolicyVersionConflict):
        publish(ledger, effective_from=clock.now + timedelta(days=20))

    assert ledger.policy(POLICY).versions["1"].effective_from == clock.now + timedelta(days=10)


def test_publishing_the_same_version_with_the_same_text_succeeds_and_records_nothing(ledger, clock):
    first = publish(ledger)
    before = ledger.max_position()
    clock.advance(hours=1)

    again = publish(ledger)

    assert again.replayed
    assert again.aggregate_id == first.aggregate_id
    assert ledger.max_position() == before
    assert ledger.policy(POLICY).versions["1"].recorded_at == first.recorded_at


def test_republishing_an_identical_version_without_restating_its_effective_from_succeeds(ledger, clock):
    publish(ledger, effective_from=clock.now + timedelta(days=10))
    before = ledger.max_position()

    assert publish(ledger).replayed
    assert ledger.max_position() == before


def test_the_same_version_number_may_be_published_by_two_policies(ledger):
    publish(ledger, policy_id="qlever-privacy")
    publish(ledger, policy_id="qlever-cookies", texts=OTHER_TEXT)

    cookies = ledger.policy(PolicyId("qlever-cookies")).versions["1"]
    assert cookies.text_sha256[Language.EN] == text_sha256("Another text")


# A version is well formed.


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": " ", "texts": TEXTS["1"]}, "version must not be empty"),
        ({"texts": {}}, "at least one language"),
        ({"purposes": frozenset()}, "at least one purpose"),
        ({"optional": frozenset({Purpose("4.1.9")})}, "among the version's purposes"),
    ],
    ids=["no-version", "no-text", "no-purpose", "optional-not-a-purpose"],
)
def test_a_malformed_version_is_refused_and_nothing_is_recorded(ledger, change, message):
    with pytest.raises(InvalidFact, match=message):
        publish(ledger, **change)

    assert ledger.max_position() == 0


@pytest.mark.parametrize("digest", ["abc", "A" * 64, "g" * 64, ""])
def test_a_text_hash_must_be_64_lowercase_hex_digits(ledger, digest):
    with pytest.raises(InvalidFact, match="64 lowercase hex"):
        ledger.record(
            OFFICER,
            PolicyVersion(
                policy_id=POLICY,
                version="1",
                text_sha256={Language.EN: digest},
                purposes=PURPOSES,
                optional_purposes=OPTIONAL,
                recipient_categories=DELIVERY,
            ),
        )


def test_a_text_in_a_language_the_policy_is_not_published_in_is_refused_and_the_policy_stays_readable(ledger):
    publish(ledger)

    with pytest.raises(InvalidFact, match="fr"):
        publish(ledger, "2", texts={"fr": "Politique de confidentialité"})

    assert list(ledger.policy(POLICY).versions) == ["1"]


def test_an_unknown_recipient_category_is_refused_and_the_policy_stays_readable(ledger):
    publish(ledger)

    with pytest.raises(InvalidFact, match="carrier-pigeon"):
        publish(ledger, "2", recipients=frozenset({"carrier-pigeon"}))

    assert list(ledger.policy(POLICY).versions) == ["1"]


def test_languages_and_categories_given_as_plain_words_are_understood(ledger):
    publish(ledger, texts={"en": TEXTS["1"][Language.EN]}, recipients=frozenset({"courier"}))

    terms = ledger.policy(POLICY).versions["1"]
    assert terms.text_sha256 == {Language.EN: text_sha256(TEXTS["1"][Language.EN])}
    assert terms.recipient_categories == frozenset({RecipientCategory.COURIER})


# Which version is in effect (clause 9.2), as a pure rule.


def _terms(version: str, effective_from: datetime, recorded_at: datetime | None = None) -> PolicyVersion:
    posted = PolicyVersion(
        policy_id=POLICY,
        version=version,
        text_sha256={Language.EN: "0" * 64},
        purposes=PURPOSES,
        optional_purposes=OPTIONAL,
        recipient_categories=DELIVERY,
        effective_from=effective_from,
    )
    return recorded(posted, 2, effective_from, recorded_at)


JAN, FEB, MAR = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3))


def test_no_version_is_in_effect_before_the_first_takes_effect():
    assert rules.version_in_effect([_terms("1", FEB)], JAN) is None


def test_the_version_in_effect_is_the_one_that_took_effect_latest():
    v1, v2, v3 = _terms("1", JAN), _terms("2", FEB), _terms("3", MAR)

    assert rules.version_in_effect([v3, v1, v2], FEB + timedelta(days=3)) == v2
    assert rules.version_in_effect([v3, v1, v2], MAR) == v3


def test_a_version_is_superseded_only_once_a_later_one_has_taken_effect():
    v1, v2 = _terms("1", JAN), _terms("2", MAR)

    assert v1.is_in_effect_or_upcoming(FEB, [v1, v2])
    assert not v1.is_in_effect_or_upcoming(MAR, [v1, v2])
    assert v2.is_in_effect_or_upcoming(FEB, [v1, v2])


def test_consent_is_judged_against_the_version_in_effect_when_it_was_given(ledger, clock):
    publish(ledger, "1")
    publish(ledger, "2", effective_from=clock.now + timedelta(days=7))

    early = consented(ledger, "subject-early", "1")
    clock.advance(days=8)
    with pytest.raises(InvalidFact, match="superseded"):
        consented(ledger, "subject-late", "1")

    assert early.event_type == "ConsentGranted"
