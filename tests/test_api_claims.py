from collections.abc import Iterator

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import consented, published

from api.app import create_app
from ledger.application import ConsentLedger, Request
from ledger.subject_facts import Destruction
from ledger.terms import SubjectId

CLAIM = "/v1/claims/in-311"
RECEIVED = "2026-03-01T09:30:00+05:00"
PROBLEM = "tag:consent-ledger,2026:problem:"


@pytest.fixture
def client(ledger: ConsentLedger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), headers=bearer(ledger, "disputes-team")) as client:
        yield client


def problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["type"], body["status"]) == (PROBLEM + kind, status)
    return body


def received(client: TestClient, **changes: object):
    body = {"claim_ref": "in-311", "subject_id": "u-1", "claimant": "Aigerim S.", "occurred_at": RECEIVED, **changes}
    return client.post("/v1/claims", json=body)


def test_a_claim_received_is_recorded_and_reads_back_with_its_claimant_in_clear(ledger, client):
    response = received(client)

    assert response.status_code == 201, response.text
    assert response.json()["event_type"] == "Received"
    assert response.json()["position"] == ledger.max_position()
    assert response.headers["location"].endswith(CLAIM)
    assert client.get(response.headers["location"]).json() == {
        "claim_ref": "in-311",
        "subject_id": "u-1",
        "claimant": "Aigerim S.",
        "received_at": RECEIVED,
        "answered_at": None,
        "in_court_since": None,
    }


def test_the_answer_and_the_day_in_court_are_recorded_and_read_back(client):
    received(client)

    answer = client.post(
        f"{CLAIM}/answer", json={"outcome": "rejected", "channel": "email", "occurred_at": "2026-03-02T10:00:00+05:00"}
    )
    court = client.post(f"{CLAIM}/court", json={"court_case": "2-1234/2026"})

    assert (answer.status_code, court.status_code) == (201, 201)
    assert (answer.json()["event_type"], court.json()["event_type"]) == ("Answered", "TakenToCourt")
    assert court.headers["etag"] == '"3"'
    claim = client.get(CLAIM).json()
    assert (claim["answered_at"], claim["in_court_since"]) == ("2026-03-02T10:00:00+05:00", "2026-03-02T09:00:00Z")


def test_once_the_subject_is_destroyed_the_claimant_reads_back_as_null(ledger, client):
    published(ledger)
    consented(ledger, "u-1")
    received(client)

    ledger.record(Request("privacy-officer"), Destruction(subject_id=SubjectId("u-1"), ground="subject_request"))

    assert client.get(CLAIM).json()["claimant"] is None


def test_a_retried_answer_with_the_same_idempotency_key_is_recorded_once(ledger, client):
    received(client)
    key = {"Idempotency-Key": "answer-311"}
    first = client.post(f"{CLAIM}/answer", json={"outcome": "satisfied", "channel": "email"}, headers=key)
    position = ledger.max_position()

    retry = client.post(f"{CLAIM}/answer", json={"outcome": "satisfied", "channel": "email"}, headers=key)

    assert (retry.status_code, retry.headers["idempotent-replayed"]) == (200, "true")
    assert retry.json() == {**first.json(), "replayed": True}
    assert ledger.max_position() == position


def test_a_claim_about_a_destroyed_subject_is_a_409_problem_and_records_nothing(ledger, client):
    published(ledger)
    consented(ledger, "u-1")
    ledger.record(Request("privacy-officer"), Destruction(subject_id=SubjectId("u-1"), ground="subject_request"))
    before = ledger.max_position()

    answer = problem(received(client), 409, "subject-destroyed")

    assert "nothing personal can be recorded" in answer["detail"]
    assert ledger.max_position() == before


@pytest.mark.parametrize(
    ("path", "body", "status", "kind", "detail"),
    [
        pytest.param(
            "/v1/claims",
            {"claim_ref": "in-311", "subject_id": "u-2", "claimant": "B."},
            422,
            "invalid-fact",
            "'in-311' is already recorded",
            id="the-same-claim-twice",
        ),
        pytest.param(
            f"{CLAIM}/answer",
            {"outcome": "rejected", "channel": "email"},
            409,
            "nothing-to-act",
            "already answered",
            id="answering-twice",
        ),
        pytest.param(
            f"{CLAIM}/court",
            {"court_case": "2-1/2026"},
            409,
            "nothing-to-act",
            "already in court",
            id="going-to-court-twice",
        ),
        pytest.param(
            "/v1/claims/in-999/answer",
            {"outcome": "rejected", "channel": "email"},
            404,
            "not-found",
            "claim 'in-999' is not recorded",
            id="answering-an-unknown-claim",
        ),
    ],
)
def test_every_refusal_is_a_problem_that_says_why_and_records_nothing(
    *, ledger, client, path: str, body: dict, status: int, kind: str, detail: str
):
    received(client)
    client.post(f"{CLAIM}/answer", json={"outcome": "satisfied", "channel": "email"})
    client.post(f"{CLAIM}/court", json={"court_case": "2-1234/2026"})
    before = ledger.max_position()

    answer = problem(client.post(path, json=body), status, kind)

    assert detail in answer["detail"]
    assert ledger.max_position() == before


def test_an_answer_dated_before_the_claim_arrived_is_a_422_problem_and_records_nothing(ledger, client):
    received(client)
    before = ledger.max_position()

    answer = problem(
        client.post(
            f"{CLAIM}/answer",
            json={"outcome": "rejected", "channel": "email", "occurred_at": "2026-02-28T09:00:00+05:00"},
        ),
        422,
        "invalid-fact",
    )

    assert "nothing happened to it before" in answer["detail"]
    assert ledger.max_position() == before


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        pytest.param({"claimant": ""}, "/claimant", id="no-claimant"),
        pytest.param({"claimant": "x" * 201}, "/claimant", id="a-claimant-too-long"),
        pytest.param({"subject_id": None}, "/subject_id", id="no-subject"),
        pytest.param({"occurred_at": "yesterday"}, "/occurred_at", id="not-a-time"),
    ],
)
def test_a_malformed_claim_is_a_422_problem_and_records_nothing(ledger, client, changes: dict, name: str):
    answer = problem(received(client, **changes), 422, "invalid-request")

    assert [e["name"] for e in answer["errors"]] == [name]
    assert ledger.max_position() == 0


def test_an_unknown_outcome_is_a_422_problem(client):
    received(client)

    answer = problem(
        client.post(f"{CLAIM}/answer", json={"outcome": "ignored", "channel": "email"}), 422, "invalid-request"
    )

    assert answer["errors"][0]["name"] == "/outcome"


def test_reading_a_claim_never_received_is_a_404_problem(client):
    problem(client.get(CLAIM), 404, "not-found")
