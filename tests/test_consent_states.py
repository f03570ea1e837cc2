"""The W3C DPV consent states: a prompt shown, refused, consent given, renewed, withdrawn, expired, invalidated."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from given import POLICY, SERVICE, TEXTS, consented, published, recorded, sha

from ledger import rules
from ledger.application import Request, text_sha256
from ledger.errors import InvalidFact, NoGroundForDisclosure, NotFound, NothingToAct
from ledger.policy import PolicyVersion
from ledger.subject_facts import Acceptance, ConsentRefusal, ConsentRequest, Disclosure, Withdrawal
from ledger.terms import ConsentState, DataCategory, Purpose, RecipientCategory, SubjectId
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

ANNA = SubjectId("subject-anna")
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def prompt(prompt_id: str = "PR-1", version: str = "1") -> ConsentRequest:
    return ConsentRequest(
        subject_id=ANNA,
        prompt_id=prompt_id,
        policy_id=POLICY,
        policy_version=version,
        language="en",
        text_sha256=sha(version),
        channel="app",
    )


def refusal(prompt_id: str = "PR-1") -> ConsentRefusal:
    return ConsentRefusal(subject_id=ANNA, prompt_id=prompt_id, channel="app")


def acceptance(version: str = "1", until: datetime | None = None) -> Acceptance:
    return Acceptance(
        subject_id=ANNA,
        policy_id=POLICY,
        policy_version=version,
        language="en",
        text_sha256=sha(version),
        method="registration",
        channel="app",
        data_categories=frozenset({DataCategory("contact")}),
        purposes=frozenset({Purpose("4.1.1")}),
        third_parties=True,
        valid_until=until,
    )


def version(number: str, takes_effect: datetime, *, reconsent: bool = False) -> PolicyVersion:
    terms = PolicyVersion(
        policy_id=POLICY,
        version=number,
        text_sha256={"en": sha(number)},
        purposes=frozenset({Purpose("4.1.1")}),
        recipient_categories=frozenset({RecipientCategory.COURIER}),
        effective_from=takes_effect,
        reconsent_required=reconsent,
    )
    return recorded(terms, int(number), takes_effect - DAY)


V1, V2 = version("1", T0 - 10 * DAY), version("2", T0 + 5 * DAY, reconsent=True)


def state_at(entries: list, at: datetime, versions: list[PolicyVersion] | None = None) -> ConsentState | None:
    found = rules.consent_state(entries, versions or [V1, V2], POLICY, at)
    return None if found is None else found.state


def test_a_prompt_shown_and_not_answered_is_a_request_and_a_refusal_answers_it() -> None:
    entries = [recorded(prompt(), 1, T0), recorded(refusal(), 2, T0 + DAY)]

    assert state_at(entries, T0 - DAY) is None
    assert state_at(entries, T0) is ConsentState.REQUESTED
    assert state_at(entries, T0 + DAY) is ConsentState.REFUSED


def test_consent_given_again_for_a_new_version_is_renewed_and_for_the_same_one_is_given() -> None:
    entries = [
        recorded(acceptance("1"), 1, T0),
        recorded(Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="app"), 2, T0 + DAY),
        recorded(acceptance("1"), 3, T0 + 2 * DAY),
        recorded(acceptance("2"), 4, T0 + 6 * DAY),
    ]

    assert state_at(entries, T0) is ConsentState.GIVEN
    assert state_at(entries, T0 + DAY) is ConsentState.WITHDRAWN
    assert state_at(entries, T0 + 2 * DAY) is ConsentState.GIVEN
    assert state_at(entries, T0 + 6 * DAY) is ConsentState.RENEWED


def test_a_consent_expires_at_its_valid_until_not_when_someone_asks() -> None:
    until = T0 + 2 * DAY
    entries = [recorded(acceptance("1", until), 1, T0)]

    found = rules.consent_state(entries, [V1], POLICY, T0 + 30 * DAY)

    assert state_at(entries, until - timedelta(microseconds=1), [V1]) is ConsentState.GIVEN
    assert found is not None
    assert (found.state, found.since) == (ConsentState.EXPIRED, until)


def test_a_version_requiring_re_consent_invalidates_earlier_consents_when_it_takes_effect() -> None:
    entries = [recorded(acceptance("1"), 1, T0)]

    found = rules.consent_state(entries, [V1, V2], POLICY, T0 + 7 * DAY)

    assert state_at(entries, V2.takes_effect - timedelta(microseconds=1)) is ConsentState.GIVEN
    assert found is not None
    assert (found.state, found.since, found.invalidated_by) == (ConsentState.INVALIDATED, V2.takes_effect, V2)
    assert rules.valid_consent(entries, {(POLICY, "1"): V1, (POLICY, "2"): V2}, POLICY, T0 + 7 * DAY) is None


def test_while_a_valid_consent_stands_a_prompt_or_a_refusal_changes_nothing() -> None:
    entries = [recorded(acceptance("1"), 1, T0), recorded(prompt("PR-2"), 2, T0 + DAY)]
    entries.append(recorded(refusal("PR-2"), 3, T0 + 2 * DAY))

    assert state_at(entries, T0 + 3 * DAY) is ConsentState.GIVEN


def test_after_invalidation_a_refused_prompt_is_the_state() -> None:
    entries = [recorded(acceptance("1"), 1, T0), recorded(prompt("PR-2", "2"), 2, T0 + 6 * DAY)]
    entries.append(recorded(refusal("PR-2"), 3, T0 + 7 * DAY))

    assert state_at(entries, T0 + 6 * DAY) is ConsentState.REQUESTED
    assert state_at(entries, T0 + 7 * DAY) is ConsentState.REFUSED


def test_a_prompt_and_its_refusal_are_recorded_and_the_state_follows(ledger: ConsentLedger, clock: FakeClock) -> None:
    published(ledger)
    ledger.record(SERVICE, prompt())
    clock.advance(minutes=2)
    ledger.record(SERVICE, refusal())

    answer = rules.consent_policies(ledger.subject(ANNA).entries)
    versions = ledger.policy(POLICY).versions.values()
    found = rules.consent_state(ledger.subject(ANNA).entries, versions, POLICY, clock.now)

    assert answer == [POLICY]
    assert found is not None
    assert found.state is ConsentState.REFUSED


def test_a_prompt_must_show_a_published_version_as_published(ledger: ConsentLedger) -> None:
    published(ledger)

    with pytest.raises(NotFound, match="no published version '9'"):
        ledger.record(SERVICE, replace(prompt(), policy_version="9"))
    with pytest.raises(InvalidFact, match="is not the en text of version 1"):
        ledger.record(SERVICE, replace(prompt(), text_sha256=sha("2")))


def test_a_prompt_id_is_used_once_per_subject(ledger: ConsentLedger) -> None:
    published(ledger)
    ledger.record(SERVICE, prompt())

    with pytest.raises(InvalidFact, match="give a new prompt_id"):
        ledger.record(SERVICE, prompt())


def test_a_refusal_answers_a_prompt_shown_before_it_and_only_once(ledger: ConsentLedger, clock: FakeClock) -> None:
    published(ledger)
    ledger.record(SERVICE, prompt())

    with pytest.raises(NothingToAct, match="record the prompt first"):
        ledger.record(SERVICE, refusal("PR-9"))
    with pytest.raises(InvalidFact, match="nobody refused it before"):
        ledger.record(SERVICE, refusal(), clock.now - timedelta(minutes=1))
    ledger.record(SERVICE, refusal())
    with pytest.raises(NothingToAct, match="already refused"):
        ledger.record(SERVICE, refusal())


def test_once_a_re_consent_version_takes_effect_no_order_rests_on_the_old_consent(
    ledger: ConsentLedger, clock: FakeClock
) -> None:
    published(ledger, "1", at=clock.now - DAY)
    consented(ledger, ANNA)
    ledger.record(
        Request("privacy-officer"),
        PolicyVersion(
            policy_id=POLICY,
            version="2",
            text_sha256={lang: text_sha256(text) for lang, text in TEXTS["2"].items()},
            purposes=frozenset({Purpose("4.1.1")}),
            recipient_categories=frozenset({RecipientCategory.COURIER}),
            effective_from=clock.now + DAY,
            reconsent_required=True,
        ),
    )
    order = Disclosure(
        subject_id=ANNA,
        recipient="Courier LLP",
        recipient_category="courier",
        purpose=Purpose("4.1.1"),
        data_categories=frozenset({DataCategory("address")}),
        ground="order_fulfilment",
        reference="ORD-1",
    )
    ledger.record(SERVICE, order)
    clock.advance(days=2)

    with pytest.raises(NoGroundForDisclosure, match="no consent standing at that time allows courier"):
        ledger.record(SERVICE, order)


def test_the_view_says_an_invalidated_consent_allows_nothing_as_the_write_does(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    test_once_a_re_consent_version_takes_effect_no_order_rests_on_the_old_consent(ledger, clock)
    view = open_view(database)
    ViewKeeper(ledger, view).catch_up()
    questions = LedgerQuestions(view)
    courier, orders = RecipientCategory.COURIER, Purpose("4.1.1")

    before = questions.may_disclose(ANNA, courier, orders, clock.now - 2 * DAY)
    after = questions.may_disclose(ANNA, courier, orders, clock.now)
    [state] = questions.consent_states(ANNA, clock.now)

    assert before.allowed is True
    assert after.allowed is False
    assert after.reason == "no consent or written permission allows courier recipients for purpose '4.1.1'"
    assert state.state is ConsentState.INVALIDATED
