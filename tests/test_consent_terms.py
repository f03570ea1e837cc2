"""Art. 8(4): the terms a consent names bound what its version covers, and what a disclosure on it may carry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import POLICY, SERVICE, TEXTS, consent_body, consented, sha

from api.app import create_app
from ledger.application import Request, text_sha256
from ledger.errors import InvalidFact, OutsideConsentTerms, OutsideVersionTerms, PolicyVersionConflict
from ledger.policy import PolicyVersion
from ledger.subject_facts import Acceptance, Disclosure, Permission
from ledger.terms import DataCategory, Purpose, RecipientCategory, SubjectId
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from ledger.application import ConsentLedger
    from ledger.storage import Database

ANNA = SubjectId("subject-anna")
COVERED = frozenset({"contact", "address", "phone"})
PROBLEM = "application/problem+json"


def publish(ledger: ConsentLedger, version: str = "1", **terms: object) -> None:
    """The sample policy, stating what it covers: contact, address and phone, to third parties, never abroad."""
    stated: dict[str, object] = {
        "data_categories": COVERED,
        "third_parties": True,
        "cross_border": False,
    } | terms
    ledger.record(
        Request("privacy-officer"),
        PolicyVersion(
            policy_id=POLICY,
            version=version,
            text_sha256={lang: text_sha256(text) for lang, text in TEXTS[version].items()},
            purposes=frozenset({Purpose("4.1.1"), Purpose("4.1.8")}),
            recipient_categories=frozenset({RecipientCategory.COURIER}),
            **stated,  # type: ignore[arg-type]
        ),
    )


def disclosure(*categories: str, **terms: object) -> Disclosure:
    stated: dict[str, object] = {
        "recipient": "Tez Courier LLP",
        "recipient_category": RecipientCategory.COURIER,
        "purpose": Purpose("4.1.1"),
        "ground": "order_fulfilment",
        "reference": "ORD-1",
    } | terms
    return Disclosure(
        subject_id=ANNA,
        data_categories=frozenset(DataCategory(c) for c in categories),
        **stated,  # type: ignore[arg-type]
    )


def test_a_version_keeps_the_data_categories_and_transfers_it_allows(ledger: ConsentLedger) -> None:
    publish(ledger, cross_border=True, reconsent_required=True)

    version = ledger.policy(POLICY).versions["1"]

    assert (version.data_categories, version.third_parties, version.cross_border) == (COVERED, True, True)
    assert version.reconsent_required is True


def test_publishing_a_version_again_with_other_art_8_4_terms_is_a_conflict(ledger: ConsentLedger) -> None:
    publish(ledger)

    with pytest.raises(PolicyVersionConflict, match="publish a new version number"):
        publish(ledger, cross_border=True)


def test_a_consent_that_names_no_data_categories_is_refused(ledger: ConsentLedger) -> None:
    publish(ledger)

    with pytest.raises(InvalidFact, match=r"names the data categories .* \(Art. 8\(4\)\): give data_categories"):
        consented(ledger, ANNA, data_categories=frozenset())


def test_a_consent_to_data_its_version_does_not_cover_is_refused_and_names_them(ledger: ConsentLedger) -> None:
    publish(ledger)

    with pytest.raises(OutsideVersionTerms, match=r"does not allow data categories health \(it covers address"):
        consented(ledger, ANNA, data_categories=frozenset({"contact", "health"}))
    assert ledger.max_position() == 2  # the policy's adoption and its version


def test_a_consent_to_third_parties_under_a_version_that_allows_none_is_refused(ledger: ConsentLedger) -> None:
    publish(ledger, third_parties=False)

    with pytest.raises(OutsideVersionTerms, match="transfer to third parties"):
        consented(ledger, ANNA)
    consented(ledger, ANNA, third_parties=False)


def test_a_disclosure_of_data_the_consent_did_not_name_is_refused_as_beyond_its_terms(ledger: ConsentLedger) -> None:
    publish(ledger)
    consented(ledger, ANNA, data_categories=frozenset({"address"}))

    with pytest.raises(OutsideConsentTerms, match=r"names the data categories address, not phone \(Art. 8\(4\)\)"):
        ledger.record(SERVICE, disclosure("address", "phone"))
    ledger.record(SERVICE, disclosure("address"))


def test_a_transfer_abroad_needs_a_consent_and_a_version_that_allow_it(ledger: ConsentLedger) -> None:
    publish(ledger, "1")
    consented(ledger, ANNA)

    with pytest.raises(OutsideConsentTerms, match="does not allow cross-border transfer"):
        ledger.record(SERVICE, disclosure("address", cross_border=True))
    with pytest.raises(OutsideVersionTerms, match="cross-border transfer"):
        ledger.record(SERVICE, consent_abroad())


def consent_abroad() -> Acceptance:
    return Acceptance(
        subject_id=ANNA,
        policy_id=POLICY,
        policy_version="1",
        language="en",
        text_sha256=sha("1"),
        method="registration",
        channel="app",
        data_categories=frozenset({DataCategory("address")}),
        third_parties=True,
        cross_border=True,
    )


def test_a_written_permission_naming_the_recipient_is_a_ground_beyond_the_consent(ledger: ConsentLedger) -> None:
    publish(ledger)
    consented(ledger, ANNA, data_categories=frozenset({"address"}))
    ledger.record(SERVICE, permission("PartnerX LLP"))

    ledger.record(
        SERVICE,
        disclosure(
            "address",
            "phone",
            recipient="PartnerX LLP",
            recipient_category=RecipientCategory.OTHER,
            purpose=Purpose("4.1.8"),
            ground="written_permission",
            reference="WP-1",
            cross_border=True,
        ),
    )


def permission(recipient: str) -> Permission:
    return Permission(
        subject_id=ANNA,
        permission_id="WP-1",
        recipient=recipient,
        recipient_category=RecipientCategory.OTHER,
        purpose=Purpose("4.1.8"),
        document="scan 2026/1",
    )


@pytest.fixture
def client(ledger: ConsentLedger, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(ledger, open_view(database)), headers=bearer(ledger, "orders-service")) as client:
        yield client


def check(client: TestClient, ledger: ConsentLedger, **asked: object) -> dict[str, object]:
    """The disclosure check, once the view has every fact recorded so far."""
    wait = {"wait_for_position": ledger.max_position()}
    answer = client.get(f"/v1/subjects/{ANNA}/disclosure-check", params={"purpose": "4.1.1", **wait, **asked})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_the_disclosure_check_answers_for_a_named_recipient_as_its_permission_names_it(
    client: TestClient, ledger: ConsentLedger
) -> None:
    publish(ledger)
    consented(ledger, ANNA)
    ledger.record(SERVICE, permission("PartnerX LLP"))
    asked = {"recipient_category": "other", "purpose": "4.1.8"}

    partner_x = check(client, ledger, recipient="PartnerX LLP", **asked)
    partner_y = check(client, ledger, recipient="PartnerY LLP", **asked)

    assert (partner_x["allowed"], partner_x["basis"]) == (True, "written permission WP-1")
    assert partner_x["recipient"] == "PartnerX LLP"
    assert partner_y["allowed"] is False
    assert partner_y["reason"] == "no consent or written permission allows 'PartnerY LLP' (other) for purpose '4.1.8'"


def test_the_disclosure_check_and_the_write_refuse_data_beyond_the_consent_in_the_same_words(
    client: TestClient, ledger: ConsentLedger
) -> None:
    publish(ledger)
    consented(ledger, ANNA, data_categories=frozenset({"address"}))

    asked = check(client, ledger, recipient_category="courier", data_categories=["address", "phone"])
    written = client.post(
        f"/v1/subjects/{ANNA}/disclosures",
        json={
            "recipient": "Tez Courier LLP",
            "recipient_category": "courier",
            "purpose": "4.1.1",
            "data_categories": ["address", "phone"],
            "ground": "order_fulfilment",
            "reference": "ORD-1",
        },
    )

    assert asked["allowed"] is False
    assert asked["data_categories"] == ["address", "phone"]
    assert (written.status_code, written.headers["content-type"]) == (409, PROBLEM)
    assert written.json()["type"].endswith(":outside-consent-terms")
    assert written.json()["detail"] == f"disclosure to Tez Courier LLP refused: {asked['reason']}"
    assert check(client, ledger, recipient_category="courier", data_categories=["address"])["allowed"] is True


def test_a_consent_over_http_without_data_categories_is_refused_before_anything_is_recorded(
    client: TestClient, ledger: ConsentLedger
) -> None:
    publish(ledger)
    body = consent_body()
    del body["data_categories"]

    answer = client.post(f"/v1/subjects/{ANNA}/consents", json=body)

    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
    assert "data_categories" in answer.text
    assert ledger.max_position() == 2


def test_the_view_and_the_rules_agree_on_a_consent_without_its_categories_asked(
    ledger: ConsentLedger, database: Database
) -> None:
    publish(ledger)
    consented(ledger, ANNA, data_categories=frozenset({"address"}))
    view = open_view(database)
    ViewKeeper(ledger, view).catch_up()
    questions = LedgerQuestions(view)
    now = ledger.clock()

    quick = questions.may_disclose(ANNA, RecipientCategory.COURIER, Purpose("4.1.1"), now)
    judged = questions.may_disclose(
        ANNA, RecipientCategory.COURIER, Purpose("4.1.1"), now, data_categories=frozenset({DataCategory("address")})
    )

    assert quick == judged
