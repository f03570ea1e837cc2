from collections.abc import Iterator

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import POLICY, TEXTS, published, sha

from api.app import create_app
from ledger.application import ConsentLedger, text_sha256
from ledger.terms import Language

VERSIONS = f"/v1/policies/{POLICY}/versions"
PROBLEM = "tag:consent-ledger,2026:problem:"


@pytest.fixture
def client(ledger: ConsentLedger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), headers=bearer(ledger, "privacy-officer")) as client:
        yield client


def problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["type"], body["status"]) == (PROBLEM + kind, status)
    return body


def version_one(**changes: object) -> dict:
    return {
        "version": "1",
        "texts": {lang.value: text for lang, text in TEXTS["1"].items()},
        "purposes": ["4.1.1", "4.1.2", "4.1.3", "4.1.6"],
        "optional_purposes": ["4.1.6"],
        "recipient_categories": ["courier", "postal", "telecom"],
        "operator_name": "Qlever LLP",
        "operator_bin": "123456789012",
        **changes,
    }


def test_a_version_published_with_its_texts_is_addressed_by_their_sha256_and_reads_back(ledger, client):
    response = client.post(VERSIONS, json=version_one(effective_from="2026-03-10T00:00:00+05:00"))

    assert response.status_code == 201, response.text
    assert response.json()["event_type"] == "VersionPublished"
    assert response.json()["position"] == ledger.max_position()
    assert response.headers["location"].endswith(f"/v1/policies/{POLICY}")
    policy = client.get(response.headers["location"]).json()
    assert (policy["operator_name"], policy["operator_bin"]) == ("Qlever LLP", "123456789012")
    [version] = policy["versions"]
    assert version["text_sha256"] == {lang.value: sha("1", lang) for lang in Language}
    assert version["purposes"] == ["4.1.1", "4.1.2", "4.1.3", "4.1.6"]
    assert version["optional_purposes"] == ["4.1.6"]
    assert version["recipient_categories"] == ["courier", "postal", "telecom"]
    assert version["effective_from"] == "2026-03-10T00:00:00+05:00"


def test_a_version_can_be_published_by_the_sha256_of_its_texts_alone(client):
    digest = text_sha256("Privacy policy v2")
    body = version_one(version="2", text_sha256={"en": digest})
    del body["texts"]

    response = client.post(VERSIONS, json=body)

    assert response.status_code == 201, response.text
    assert client.get(f"/v1/policies/{POLICY}").json()["versions"][0]["text_sha256"] == {"en": digest}


def test_every_version_reads_back_in_the_order_it_was_posted(ledger, client, clock):
    published(ledger, "1")
    clock.advance(days=30)
    client.post(VERSIONS, json=version_one(version="2", texts={"en": TEXTS["2"][Language.EN]}))

    versions = client.get(f"/v1/policies/{POLICY}").json()["versions"]

    assert [v["version"] for v in versions] == ["1", "2"]
    assert versions[1]["effective_from"] == "2026-04-01T09:00:00Z"


def test_publishing_the_same_version_with_the_same_text_again_answers_200_and_records_nothing(ledger, client):
    first = client.post(VERSIONS, json=version_one())
    position = ledger.max_position()

    again = client.post(VERSIONS, json=version_one())

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["version"] == first.json()["version"]
    assert ledger.max_position() == position


def test_publishing_a_published_version_with_another_text_is_a_409_problem_and_records_nothing(ledger, client):
    client.post(VERSIONS, json=version_one())
    position = ledger.max_position()

    answer = problem(
        client.post(VERSIONS, json=version_one(texts={"en": "Privacy policy v1, edited"})),
        409,
        "policy-version-conflict",
    )

    assert "publish a new version number" in answer["detail"]
    assert ledger.max_position() == position
    assert client.get(f"/v1/policies/{POLICY}").json()["versions"][0]["text_sha256"]["en"] == sha("1")


def test_a_retry_with_the_same_idempotency_key_gets_the_first_receipt(ledger, client):
    key = {"Idempotency-Key": "publish-1"}
    first = client.post(VERSIONS, json=version_one(), headers=key)
    position = ledger.max_position()

    retry = client.post(VERSIONS, json=version_one(), headers=key)

    assert retry.status_code == 200
    assert retry.json() == {**first.json(), "replayed": True}
    assert ledger.max_position() == position


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        pytest.param({"text_sha256": {"en": sha("1")}}, "", id="texts-and-hashes"),
        pytest.param({"texts": None}, "", id="neither-texts-nor-hashes"),
        pytest.param({"texts": {"de": "Datenschutz"}}, "/texts/de/[key]", id="unknown-language"),
        pytest.param({"texts": None, "text_sha256": {"en": "ABC"}}, "/text_sha256/en", id="not-a-sha256"),
        pytest.param({"purposes": []}, "/purposes", id="no-purposes"),
        pytest.param({"recipient_categories": ["pigeon"]}, "/recipient_categories/0", id="unknown-recipient"),
        pytest.param({"operator_bin": "12345"}, "/operator_bin", id="short-bin"),
        pytest.param({"effective_from": "2026-04-01T00:00:00"}, "/effective_from", id="naive-effective-from"),
        pytest.param({"version": "v" * 51}, "/version", id="long-version"),
    ],
)
def test_a_malformed_version_is_a_422_problem_and_records_nothing(ledger, client, changes: dict, name: str):
    answer = problem(client.post(VERSIONS, json=version_one(**changes)), 422, "invalid-request")

    assert [e["name"] for e in answer["errors"]] == [name]
    assert ledger.max_position() == 0


def test_an_optional_purpose_outside_the_version_is_a_422_problem_from_the_ledger(ledger, client):
    answer = problem(client.post(VERSIONS, json=version_one(optional_purposes=["4.1.9"])), 422, "invalid-fact")

    assert "optional_purposes must be among the version's purposes" in answer["detail"]
    assert ledger.max_position() == 0


def test_reading_a_policy_never_published_is_a_404_problem(client):
    answer = problem(client.get("/v1/policies/nothing-here"), 404, "not-found")

    assert "'nothing-here' is not recorded" in answer["detail"]
