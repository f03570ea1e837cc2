"""Terms the ledger keeps in clear never hold personal data: an e-mail, a phone or an IIN there is refused.

Sealed terms (evidence, a representative, a document, a claimant) may hold anything a person wrote;
ids, recipients, references and reasons are kept in clear forever, so what looks like someone's own
data is refused before anything is recorded, on every path a fact comes in.
"""

from __future__ import annotations

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import SERVICE, consented, published
from hypothesis import given
from hypothesis import strategies as st

from api.app import create_app
from ledger.errors import PersonalDataInClear
from ledger.facts import PERSONAL_IN_CLEAR
from ledger.subject_facts import Disclosure, Retraction, WithdrawalRefusal
from ledger.terms import DataCategory, DisclosureGround, RecipientCategory, SubjectId

ANNA = SubjectId("subject-anna")


def deliver(recipient: str, reference: str = "order-1") -> Disclosure:
    return Disclosure(
        subject_id=ANNA,
        recipient=recipient,
        recipient_category=RecipientCategory.COURIER,
        purpose="4.1.1",
        data_categories=frozenset({DataCategory("address")}),
        ground=DisclosureGround.ORDER_FULFILMENT,
        reference=reference,
    )


@pytest.mark.parametrize(
    ("fact", "what"),
    [
        pytest.param(deliver("courier.desk@mail.kz"), "recipient looks like it holds an e-mail address", id="e-mail"),
        pytest.param(
            deliver("Kazpost", "call +7 701 123 45 67"), "reference looks like it holds a phone number", id="phone"
        ),
        pytest.param(
            deliver("Kazpost", "8 (701) 123-45-67"), "reference looks like it holds a phone number", id="local"
        ),
        pytest.param(
            WithdrawalRefusal(
                subject_id=ANNA, policy_id="qlever-privacy", open_obligation="o-1", reason="IIN 870112350421"
            ),
            "reason looks like it holds an IIN",
            id="iin",
        ),
        pytest.param(
            Retraction(subject_id=SubjectId("a.nurlanova@mail.kz"), retracted_number=2, reason="wrong"),
            "subject_id looks like it holds an e-mail address",
            id="subject-id",
        ),
    ],
)
def test_a_term_kept_in_clear_that_holds_personal_data_is_refused_and_nothing_is_recorded(ledger, fact, what):
    published(ledger)
    consented(ledger, ANNA)
    before = ledger.max_position()

    with pytest.raises(PersonalDataInClear, match=what):
        ledger.record(SERVICE, fact)

    assert ledger.max_position() == before


def test_a_company_bin_and_ordinary_references_are_not_taken_for_personal_data(ledger):
    published(ledger)
    consented(ledger, ANNA)

    receipt = ledger.record(SERVICE, deliver("Kazpost JSC, BIN 990140000385", "order ORD-2026-00417 of 11.05.2026"))

    assert receipt.event_type == "DataDisclosed"


def test_a_sealed_term_may_hold_what_a_person_wrote(ledger):
    published(ledger)

    consented(ledger, ANNA, evidence="confirmed by SMS to +7 701 123 45 67, a.nurlanova@mail.kz")

    assert (
        ledger.subject_facts(ANNA)[-1].fields["evidence"] == "confirmed by SMS to +7 701 123 45 67, a.nurlanova@mail.kz"
    )


def test_over_http_it_is_a_422_problem_that_names_the_term(ledger):
    published(ledger)
    with TestClient(create_app(ledger), headers=bearer(ledger, "orders-service")) as client:
        answer = client.post("/v1/subjects/subject-anna/corrections", json={"data_categories": ["address"]})
        refused = client.post("/v1/subjects/anna@mail.kz/corrections", json={"data_categories": ["address"]})

    assert answer.status_code == 201
    assert refused.status_code == 422
    assert refused.json()["type"].endswith(":personal-data-in-clear")
    assert "subject_id looks like it holds an e-mail address" in refused.json()["detail"]


@given(
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=28),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=99999),
)
def test_every_iin_shape_is_seen_and_no_bin_is(year, month, day, century, rest):
    iin = f"{year:02d}{month:02d}{day:02d}{century}{rest:05d}"
    bin_ = f"{year:02d}{month:02d}{4 + century % 3}{rest:05d}0"  # a BIN: YYMM, then 4, 5 or 6 for its kind

    assert any(what == "an IIN" and p.search(f"ref {iin}") for p, what in PERSONAL_IN_CLEAR)
    assert not any(p.search(f"BIN {bin_}") for p, _ in PERSONAL_IN_CLEAR)
