"""ISO/IEC TS 27560 consent records and DPV states over HTTP, checked against the standards' field lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import POLICY, SERVICE, consented, published, sha

from api.app import create_app
from ledger.subject_facts import ConsentRefusal, ConsentRequest, Withdrawal
from ledger.terms import SubjectId
from projections.keeper import open_view
from projections.records import MANDATORY

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

ANNA, BORIS = SubjectId("subject-anna"), SubjectId("subject-boris")
DPV_STATES = {
    "dpv:ConsentUnknown",
    "dpv:ConsentRequested",
    "dpv:ConsentRequestDeferred",
    "dpv:ConsentRefused",
    "dpv:ConsentGiven",
    "dpv:RenewedConsentGiven",
    "dpv:ConsentWithdrawn",
    "dpv:ConsentExpired",
    "dpv:ConsentTerminated",
    "dpv:ConsentInvalidated",
}
"""The DPV consent states (STANDARDS.md): a record names no other."""


@pytest.fixture
def client(ledger: ConsentLedger, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(ledger, open_view(database)), headers=bearer(ledger, "privacy-office")) as client:
        yield client


def history(ledger: ConsentLedger, clock: FakeClock) -> None:
    """Anna is asked, refuses, is asked again and consents, then withdraws; Boris consents for a term that ends."""
    published(ledger, at=clock.now - timedelta(days=30))
    for prompt_id in ("PR-1", "PR-2"):
        ledger.record(
            SERVICE,
            ConsentRequest(
                subject_id=ANNA,
                prompt_id=prompt_id,
                policy_id=POLICY,
                policy_version="1",
                language="en",
                text_sha256=sha("1"),
                channel="app",
            ),
        )
        clock.advance(minutes=1)
        if prompt_id == "PR-1":
            ledger.record(SERVICE, ConsentRefusal(subject_id=ANNA, prompt_id="PR-1", channel="app"))
            clock.advance(days=1)
    consented(ledger, ANNA)
    clock.advance(days=1)
    ledger.record(SERVICE, Withdrawal(subject_id=ANNA, policy_id=POLICY, channel="email"))
    consented(ledger, BORIS)
    ledger.record(SERVICE, Withdrawal(subject_id=BORIS, policy_id=POLICY, channel="email"))


def ask(client: TestClient, ledger: ConsentLedger, what: str, subject: str, **params: str) -> dict:
    wait = {"wait_for_position": str(ledger.max_position())}
    answer = client.get(f"/v1/subjects/{subject}/{what}", params={**wait, **params})
    assert answer.status_code == 200, answer.text
    body: dict = answer.json()
    return body


def present_or_explained(part: dict, fields: tuple[str, ...], path: str, absent: dict[str, str]) -> None:
    for field in fields:
        assert field in part, f"{path}.{field} missing"
        if part[field] is None or part[field] == []:
            assert absent.get(f"{path}.{field}", "").strip(), f"{path}.{field} is empty and not explained"


def test_every_record_has_every_mandatory_field_of_27560_or_says_why_not(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    history(ledger, clock)

    for subject in (ANNA, BORIS):
        answer = ask(client, ledger, "consent-records", subject)
        assert answer["@context"]["dpv"] == "https://w3id.org/dpv#"
        [record] = answer["records"]
        absent = record["absent"]
        present_or_explained(record["header"], MANDATORY["header"], "header", absent)
        present_or_explained(record["processing"], MANDATORY["processing"], "processing", absent)
        for i, purpose in enumerate(record["processing"]["purposes"]):
            present_or_explained(purpose, MANDATORY["purpose"], f"processing.purposes[{i}]", absent)
        for i, pii in enumerate(record["processing"]["pii_information"]):
            present_or_explained(pii, MANDATORY["pii"], f"processing.pii_information[{i}]", absent)
        for i, party in enumerate(record["parties"]):
            present_or_explained(party, MANDATORY["party"], f"parties[{i}]", absent)
        for i, event in enumerate(record["events"]):
            present_or_explained(event, MANDATORY["event"], f"events[{i}]", absent)
            assert event["event_state"] in DPV_STATES
            assert event["event_time"].endswith("Z")
        assert record["consent_status"] in DPV_STATES
        assert record["header"]["pii_principal_id"] == subject


def test_a_record_lists_each_change_of_state_and_as_known_at_shows_it_as_it_was_known(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    start = clock.now
    history(ledger, clock)

    now = ask(client, ledger, "consent-records", ANNA)["records"][0]
    then = ask(client, ledger, "consent-records", ANNA, as_known_at=(start + timedelta(seconds=30)).isoformat())

    assert [e["state"] for e in now["events"]] == ["requested", "refused", "requested", "given", "withdrawn"]
    assert now["consent_status"] == "dpv:ConsentWithdrawn"
    assert now["processing"]["privacy_notice"]["text_sha256"] == sha("1")
    assert now["processing"]["pii_information"] == [
        {"pii_type": c, "pii_optional": False} for c in ("address", "contact", "phone")
    ]
    assert [e["state"] for e in then["records"][0]["events"]] == ["requested"]
    assert then["records"][0]["processing"]["pii_information"] == []
    assert "processing.pii_information" in then["records"][0]["absent"]


def test_the_consent_state_answers_each_policy_at_t_as_known_at_r(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    start = clock.now
    history(ledger, clock)

    at_start = ask(client, ledger, "consent-state", ANNA, at=start.isoformat())
    refused = ask(client, ledger, "consent-state", ANNA, at=(start + timedelta(hours=1)).isoformat())
    now = ask(client, ledger, "consent-state", ANNA)

    assert [(s["state"], s["dpv"], s["valid"]) for s in at_start["states"]] == [
        ("requested", "dpv:ConsentRequested", False)
    ]
    assert [s["state"] for s in refused["states"]] == ["refused"]
    assert [(s["policy_id"], s["state"]) for s in now["states"]] == [(POLICY, "withdrawn")]
