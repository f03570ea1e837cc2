from collections.abc import Iterator

import pytest
from bearer import bearer
from eventsourcing.persistence import IntegrityError
from fastapi.testclient import TestClient
from given import published
from pydantic import BaseModel

from api.app import MAX_BODY_BYTES, create_app
from api.schemas.policies import body_for
from ledger.application import FACTS, ConsentLedger, open_ledger

PROBLEM_JSON = "application/problem+json"
CORRECTION = "/v1/subjects/u-1/corrections"
RECORDS = {
    "/v1/policies/{policy_id}",
    "/v1/subjects/{subject_id}/facts",
    "/v1/breaches/{breach_ref}",
    "/v1/claims/{claim_ref}",
}


@pytest.fixture
def client(ledger: ConsentLedger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), headers=bearer(ledger, "orders-service")) as client:
        yield client


def operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_error_an_operation_can_answer_is_documented_as_a_problem(client):
    document = client.get("/openapi.json").json()
    assert document["paths"].keys() >= RECORDS
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail", "instance"]

    for path, method, operation in operations(document):
        errors = {int(status): answer for status, answer in operation["responses"].items() if int(status) >= 400}
        assert 422 in errors, (method, path)
        for answer in errors.values():
            assert answer["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        if method == "post" and not path.startswith("/v1/audit/"):  # signing a checkpoint records no fact
            assert {400, 409, 413} <= errors.keys(), path
            assert "Retry-After" in errors[409]["headers"]
            assert {"Location", "ETag"} <= operation["responses"]["201"]["headers"].keys()
            assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
        if method == "post" and path.startswith("/v1/subjects/"):
            assert 412 in errors, path
        if path in RECORDS:
            assert "ETag" in operation["responses"]["200"]["headers"]


def request_bodies() -> list[type[BaseModel]]:
    return [body_for(fact) for fact in FACTS]


def test_every_request_body_is_documented_with_examples_the_api_accepts(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert len(request_bodies()) == 23

    for model in request_bodies():
        examples = schemas[model.__name__]["examples"]
        assert examples, model.__name__
        for example in examples:
            model.model_validate(example)


def test_the_interactive_docs_are_served(client):
    response = client.get("/docs")

    assert response.status_code == 200
    assert "/openapi.json" in response.text


def test_a_path_that_names_nothing_is_a_404_problem(client):
    response = client.get("/v1/nothing")

    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM_JSON)
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found: GET /v1/nothing",
        "instance": "/v1/nothing",
    }


def test_a_method_a_resource_does_not_accept_is_a_405_problem_that_names_those_it_does(client):
    response = client.delete(CORRECTION)

    assert (response.status_code, response.headers["content-type"]) == (405, PROBLEM_JSON)
    assert response.headers["allow"] == "POST"


def test_a_body_that_is_not_json_is_a_422_problem(ledger, client):
    response = client.post(CORRECTION, content=b'{"data_categories": [', headers={"Content-Type": "application/json"})

    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM_JSON)
    assert "JSON decode error" in response.json()["detail"]
    assert ledger.max_position() == 0


def test_a_body_sent_without_a_json_content_type_is_a_422_problem_that_says_so(ledger, client):
    body = b'{"data_categories": ["address"]}'
    response = client.post(CORRECTION, content=body, headers={"Content-Type": "text/plain"})

    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM_JSON)
    hint = {"in": "header", "name": "Content-Type", "detail": "send the body as application/json"}
    assert hint in response.json()["errors"]
    assert ledger.max_position() == 0


def test_a_body_that_is_not_utf8_is_a_400_problem(ledger, client):
    body = b'{"data_categories": ["\xc3"]}'
    response = client.post(CORRECTION, content=body, headers={"Content-Type": "application/json"})

    assert (response.status_code, response.headers["content-type"]) == (400, PROBLEM_JSON)
    assert ledger.max_position() == 0


def test_a_body_larger_than_the_limit_is_a_413_problem_whether_its_length_is_declared_or_not(ledger, client):
    oversized = b"[" + b" " * MAX_BODY_BYTES + b"]"

    declared = client.post(CORRECTION, content=oversized, headers={"Content-Type": "application/json"})
    streamed = client.post(CORRECTION, content=iter([oversized]), headers={"Content-Type": "application/json"})

    for response in (declared, streamed):
        assert (response.status_code, response.headers["content-type"]) == (413, PROBLEM_JSON)
        assert f"{MAX_BODY_BYTES} bytes" in response.json()["detail"]
    assert ledger.max_position() == 0


def test_a_write_that_keeps_losing_the_race_is_a_409_problem_to_retry_after_a_second(ledger, client, monkeypatch):
    published(ledger)

    def lose_the_race(*_aggregates: object) -> None:
        raise IntegrityError

    monkeypatch.setattr(ledger, "save", lose_the_race)
    response = client.post(CORRECTION, json={"data_categories": ["address"]})

    assert (response.status_code, response.headers["content-type"]) == (409, PROBLEM_JSON)
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "tag:consent-ledger,2026:problem:concurrent-write-conflict"
    assert "retry the request" in response.json()["detail"]


def test_a_fault_of_the_server_is_a_500_problem_that_leaks_nothing(database, clock):
    without_key = open_ledger(database, None, clock)
    published(without_key)
    body = {"block_id": "b-1", "requester": "subject", "ground": "inaccurate_data", "request_details": "letter"}
    try:
        caller = bearer(without_key, "x")
        with TestClient(create_app(without_key), headers=caller, raise_server_exceptions=False) as client:
            response = client.post("/v1/subjects/u-1/blocks", json=body)
    finally:
        without_key.close()

    assert (response.status_code, response.headers["content-type"]) == (500, PROBLEM_JSON)
    assert "master key" not in response.text
    assert response.json()["title"] == "Internal Server Error"
