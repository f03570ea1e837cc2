"""Times in a URL's query as people type them: a `+` before the offset arrives as a space, and is read as `+`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from test_desk import demo_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

ASKED = "/v1/subjects/cust-1002/accepted-version?policy_id=dala-market-privacy"


@pytest.fixture
def api(ledger: ConsentLedger, database: Database, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(demo_app(ledger, database, clock)) as client:
        yield client


def test_an_unencoded_plus_before_the_offset_means_the_offset(api: TestClient, ledger: ConsentLedger) -> None:
    headers = bearer(ledger, "desk")

    typed = api.get(f"{ASKED}&at=2026-02-01T12:00:00+05:00&as_known_at=2026-02-01T12:00:00+05:00", headers=headers)
    encoded = api.get(f"{ASKED}&at=2026-02-01T12:00:00%2B05:00&as_known_at=2026-02-01T07:00:00Z", headers=headers)

    assert typed.status_code == 200, typed.text
    assert typed.json()["at"] == "2026-02-01T12:00:00+05:00"
    assert typed.json() == encoded.json() | {"as_known_at": "2026-02-01T12:00:00+05:00"}


@pytest.mark.parametrize("at", ["2026-02-01T12:00:00", "2026-02-01T12:00:00 xx", "1769929200"])
def test_a_time_that_cannot_be_read_says_how_to_write_it_in_a_url(
    api: TestClient, ledger: ConsentLedger, at: str
) -> None:
    answer = api.get(f"{ASKED}&at={at}", headers=bearer(ledger, "desk"))

    assert answer.status_code == 422
    assert "%2B" in answer.json()["detail"]
    assert "with Z" in answer.json()["detail"]


def test_the_openapi_examples_of_every_question_answer_against_the_demo(api: TestClient, ledger: ConsentLedger) -> None:
    document = api.get("/openapi.json").json()
    headers = bearer(ledger, "swagger-user")
    asked = 0
    for path, operations in document["paths"].items():
        operation = operations.get("get", {})
        if "questions" not in operation.get("tags", []) and "evidence" not in operation.get("tags", []):
            continue
        url, query = path, {}
        for parameter in operation.get("parameters", []):
            examples = parameter.get("examples")
            if parameter["in"] == "header" or not examples:
                assert not parameter.get("required") or parameter["in"] == "header", (path, parameter["name"])
                continue
            value = next(iter(examples.values()))["value"]
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", value)
            else:
                query[parameter["name"]] = value
        answer = api.get(url, params=query, headers=headers)
        assert answer.status_code == 200, (path, query, answer.text)
        asked += 1
    assert asked >= 7
