"""Smaller holes: deadlines of one subject, breaches as they stood at T, and the consent's state in evidence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import SERVICE, consented, published
from test_evidence import KEY

from api.app import create_app
from ledger.breach import BreachFinding, BreachNotice
from ledger.subject_facts import SubjectRequest
from ledger.terms import CategoryCode, SubjectId
from projections.keeper import open_view

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

ANNA, BORIS = SubjectId("subject-anna"), SubjectId("subject-boris")


@pytest.fixture
def client(ledger: ConsentLedger, database: Database) -> Iterator[TestClient]:
    app = create_app(ledger, open_view(database))
    app.state.signing_key = KEY
    with TestClient(app, headers=bearer(ledger, "privacy-office")) as client:
        yield client


def get(client: TestClient, ledger: ConsentLedger, path: str, **params: str) -> dict:
    answer = client.get(path, params={"wait_for_position": str(ledger.max_position()), **params})
    assert answer.status_code == 200, answer.text
    body: dict = answer.json()
    return body


def test_deadlines_can_be_asked_about_one_subject(client: TestClient, ledger: ConsentLedger) -> None:
    for subject, request_id in ((ANNA, "IN-1"), (BORIS, "IN-2")):
        ledger.record(
            SERVICE, SubjectRequest(subject_id=subject, request_id=request_id, kind="access", channel="email")
        )

    everyone = get(client, ledger, "/v1/deadlines")["deadlines"]
    anna = get(client, ledger, "/v1/deadlines", subject_id=ANNA)["deadlines"]

    assert {d["subject_id"] for d in everyone} == {ANNA, BORIS}
    assert [(d["subject_id"], d["reference"]) for d in anna] == [(ANNA, "IN-1")]


def test_breaches_not_all_told_answers_as_of_t(client: TestClient, ledger: ConsentLedger, clock: FakeClock) -> None:
    before = clock.now
    clock.advance(days=2)
    found = clock.now
    ledger.record(
        SERVICE,
        BreachFinding(
            breach_ref="BR-1",
            data_categories=frozenset({CategoryCode("contact")}),
            subject_ids=frozenset({ANNA, BORIS}),
        ),
    )
    clock.advance(days=1)
    ledger.record(SERVICE, BreachNotice(breach_ref="BR-1", subject_id=ANNA, channel="sms"))

    then = get(client, ledger, "/v1/breaches-not-all-told", at=before.isoformat())["breaches"]
    on_the_day = get(client, ledger, "/v1/breaches-not-all-told", at=found.isoformat())["breaches"]
    now = get(client, ledger, "/v1/breaches-not-all-told")["breaches"]

    assert then == []
    assert [b["untold_subjects"] for b in on_the_day] == [[ANNA, BORIS]]
    assert [b["untold_subjects"] for b in now] == [[BORIS]]


def test_the_evidence_bundle_says_where_each_consent_stood_at_t(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=1))
    consented(ledger, ANNA)

    bundle = get(client, ledger, f"/v1/subjects/{ANNA}/evidence", at=clock.now.isoformat())

    assert [(s["state"], s["dpv"]) for s in bundle["consent_states"]] == [("given", "dpv:ConsentGiven")]
