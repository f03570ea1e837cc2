from collections.abc import Iterator

import pytest
from bearer import bearer
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import ConsentLedger

BREACH = "/v1/breaches/inc-7"
FOUND = "2026-03-02T12:00:00+05:00"
PROBLEM = "tag:consent-ledger,2026:problem:"


@pytest.fixture
def client(ledger: ConsentLedger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), headers=bearer(ledger, "security-desk")) as client:
        yield client


def problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["type"], body["status"]) == (PROBLEM + kind, status)
    return body


def found(client: TestClient, **changes: object):
    body = {
        "breach_ref": "inc-7",
        "data_categories": ["contact"],
        "subject_ids": ["u-1", "u-2"],
        "occurred_at": FOUND,
        **changes,
    }
    return client.post("/v1/breaches", json=body)


def test_a_breach_found_is_recorded_and_reads_back_with_nobody_told(ledger, client):
    response = found(client)

    assert response.status_code == 201, response.text
    assert response.json()["event_type"] == "Found"
    assert response.json()["position"] == ledger.max_position()
    assert response.headers["location"].endswith(BREACH)
    breach = client.get(response.headers["location"]).json()
    assert breach == {
        "breach_ref": "inc-7",
        "found_at": FOUND,
        "recorded_by": "security-desk",
        "data_categories": ["contact"],
        "subject_ids": ["u-1", "u-2"],
        "subjects_told": [],
        "subjects_not_told": ["u-1", "u-2"],
        "authority_told_at": None,
    }


def test_the_authority_and_each_subject_told_are_recorded_and_read_back(client):
    found(client)

    authority = client.post(f"{BREACH}/authority-notices", json={"channel": "email", "reference": "out-118"})
    subject = client.post(
        f"{BREACH}/subject-notices",
        json={"subject_id": "u-1", "channel": "sms", "occurred_at": "2026-03-02T13:00:00+05:00"},
    )

    assert (authority.status_code, subject.status_code) == (201, 201)
    assert (authority.json()["event_type"], subject.json()["event_type"]) == ("AuthorityTold", "SubjectTold")
    assert subject.headers["etag"] == '"3"'
    breach = client.get(BREACH).json()
    assert (breach["subjects_told"], breach["subjects_not_told"]) == (["u-1"], ["u-2"])
    assert breach["authority_told_at"] == "2026-03-02T09:00:00Z"


def test_a_retried_notice_with_the_same_idempotency_key_is_recorded_once(ledger, client):
    found(client)
    key = {"Idempotency-Key": "notice-u-1"}
    first = client.post(f"{BREACH}/subject-notices", json={"subject_id": "u-1", "channel": "sms"}, headers=key)
    position = ledger.max_position()

    retry = client.post(f"{BREACH}/subject-notices", json={"subject_id": "u-1", "channel": "sms"}, headers=key)

    assert (retry.status_code, retry.headers["idempotent-replayed"]) == (200, "true")
    assert retry.json() == {**first.json(), "replayed": True}
    assert ledger.max_position() == position


@pytest.mark.parametrize(
    ("path", "body", "status", "kind", "detail"),
    [
        pytest.param(
            "/v1/breaches",
            {"breach_ref": "inc-7", "data_categories": ["contact"], "subject_ids": ["u-9"]},
            422,
            "invalid-fact",
            "'inc-7' is already recorded",
            id="the-same-breach-twice",
        ),
        pytest.param(
            "/v1/breaches/inc-8/authority-notices",
            {"channel": "email", "reference": "out-1"},
            404,
            "not-found",
            "breach 'inc-8' is not recorded",
            id="notice-of-an-unknown-breach",
        ),
        pytest.param(
            f"{BREACH}/subject-notices",
            {"subject_id": "u-3", "channel": "sms"},
            409,
            "nothing-to-act",
            "u-3 is not among those affected",
            id="telling-a-subject-not-affected",
        ),
        pytest.param(
            f"{BREACH}/authority-notices",
            {"channel": "email", "reference": "out-1", "occurred_at": "2026-03-02T11:00:00+05:00"},
            422,
            "invalid-fact",
            "nobody was told before that",
            id="telling-before-it-was-found",
        ),
    ],
)
def test_every_refusal_is_a_problem_that_says_why_and_records_nothing(
    *, ledger, client, path: str, body: dict, status: int, kind: str, detail: str
):
    found(client)
    before = ledger.max_position()

    answer = problem(client.post(path, json=body), status, kind)

    assert detail in answer["detail"]
    assert ledger.max_position() == before


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        pytest.param({"subject_ids": []}, "/subject_ids", id="no-subjects"),
        pytest.param({"data_categories": [""]}, "/data_categories/0", id="an-empty-category"),
        pytest.param({"breach_ref": "inc/7"}, "/breach_ref", id="a-slash-in-the-reference"),
        pytest.param({"occurred_at": "2026-03-02 12:00"}, "/occurred_at", id="naive-found-at"),
    ],
)
def test_a_malformed_breach_is_a_422_problem_and_records_nothing(ledger, client, changes: dict, name: str):
    answer = problem(found(client, **changes), 422, "invalid-request")

    assert [e["name"] for e in answer["errors"]] == [name]
    assert ledger.max_position() == 0


def test_reading_a_breach_never_recorded_is_a_404_problem(client):
    problem(client.get(BREACH), 404, "not-found")


def test_a_list_that_names_the_same_item_twice_is_a_422_and_records_nothing(ledger, client):
    response = found(client, data_categories=["contact", "contact"])
    body = problem(response, 422, "invalid-request")
    assert "repeated: 'contact'" in body["detail"]
    assert ledger.max_position() == 0
