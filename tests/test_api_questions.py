"""The read side over HTTP: point-in-time questions, read-your-writes, and bad times refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import POLICY, SERVICE, consent_body, consented, published, sha

from api.app import create_app
from ledger.claim import ClaimAnswer, ClaimFiling
from ledger.subject_facts import Block, Disclosure
from ledger.terms import BlockGround, BlockRequester, SubjectId
from projections.keeper import open_view

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

PROBLEM = "application/problem+json"


@pytest.fixture
def client(ledger: ConsentLedger, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(ledger, open_view(database)), headers=bearer(ledger, "orders-service")) as client:
        yield client


def test_a_consent_just_recorded_over_http_allows_the_next_disclosure_check(
    client: TestClient, ledger: ConsentLedger
) -> None:
    published(ledger)
    body = consent_body(data_categories=["contact", "address"], third_parties=True)
    written = client.post("/v1/subjects/u-1/consents", json=body)
    assert written.status_code == 201, written.text

    check = client.get(
        "/v1/subjects/u-1/disclosure-check",
        params={"recipient_category": "courier", "purpose": "4.1.1", "wait_for_position": written.json()["position"]},
    )

    assert check.status_code == 200, check.text
    assert check.json()["allowed"] is True
    assert check.json()["basis"] == f"consent to {POLICY} version 1"


def test_a_paper_consent_recorded_late_is_not_known_before_it_was_recorded(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    signed = clock.now
    published(ledger, at=signed - timedelta(days=30))
    clock.advance(days=9)  # the paper form reaches the ledger nine days after it was signed
    receipt = consented(ledger, "u-1", at=signed)
    params = {
        "policy_id": POLICY,
        "at": (signed + timedelta(days=1)).isoformat(),
        "wait_for_position": receipt.position,
    }

    before = client.get(
        "/v1/subjects/u-1/accepted-version", params={**params, "as_known_at": (signed + timedelta(days=4)).isoformat()}
    )
    after = client.get("/v1/subjects/u-1/accepted-version", params=params)

    assert before.status_code == after.status_code == 200, before.text
    assert before.json()["accepted"] is None
    assert after.json()["accepted"]["policy_version"] == "1"
    assert after.json()["accepted"]["text_sha256"] == sha("1")
    assert after.json()["behind"] is False


def test_a_subject_behind_the_version_in_effect_is_reported_behind(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=10))
    consented(ledger, "u-1", at=clock.now - timedelta(days=5))
    receipt = published(ledger, "2")

    answer = client.get(
        "/v1/subjects/u-1/accepted-version", params={"policy_id": POLICY, "wait_for_position": receipt.position}
    )
    in_effect = client.get(f"/v1/policies/{POLICY}/version-in-effect")

    assert answer.json()["accepted"]["policy_version"] == "1"
    assert answer.json()["version_in_effect"]["version"] == "2"
    assert answer.json()["behind"] is True
    assert in_effect.json()["in_effect"]["version"] == "2"
    assert [v["version"] for v in in_effect.json()["history"]] == ["1", "2"]


def test_block_status_and_disclosures_answer_from_the_view(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=10))
    consented(ledger, "u-1", at=clock.now - timedelta(days=5))
    ledger.record(
        SERVICE,
        Disclosure(
            subject_id=SubjectId("u-1"),
            recipient="CDEK",
            recipient_category="courier",
            purpose="4.1.1",
            data_categories=frozenset({"address"}),
            ground="order_fulfilment",
            reference="order-1",
        ),
    )
    clock.advance(hours=1)
    receipt = ledger.record(
        SERVICE,
        Block(
            subject_id=SubjectId("u-1"),
            block_id="req-7",
            requester=BlockRequester.AUTHORISED_BODY,
            ground=BlockGround.UNLAWFUL_PROCESSING,
        ),
    )
    wait = {"wait_for_position": receipt.position}

    status = client.get("/v1/subjects/u-1/block-status", params=wait).json()
    listed = client.get("/v1/subjects/u-1/disclosures", params=wait).json()
    check = client.get(
        "/v1/subjects/u-1/disclosure-check", params={**wait, "recipient_category": "courier", "purpose": "4.1.1"}
    )

    assert status["blocked"] is True
    assert status["in_force"][0]["requester"] == "authorised_body"
    assert [d["recipient"] for d in listed["disclosures"]] == ["CDEK"]
    assert listed["disclosures"][0]["legal_basis"] == f"consent to {POLICY} version 1"
    assert check.json()["allowed"] is False
    assert "blocked" in check.json()["reason"]


def test_a_claim_starts_a_30_day_deadline_listed_as_open_then_met(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    published(ledger)
    consented(ledger, "u-1")
    ledger.record(SERVICE, ClaimFiling(claim_ref="CL-1", subject_id=SubjectId("u-1"), claimant="A. Person"))
    clock.advance(days=3)
    receipt = ledger.record(SERVICE, ClaimAnswer(claim_ref="CL-1", outcome="rejected", channel="email"))

    before = client.get(
        "/v1/deadlines",
        params={"at": (clock.now - timedelta(days=1)).isoformat(), "wait_for_position": receipt.position},
    )
    now = client.get("/v1/deadlines")

    assert [(d["obligation"], d["status"]) for d in before.json()["deadlines"]] == [("claim_answer", "open")]
    assert [(d["obligation"], d["status"]) for d in now.json()["deadlines"]] == [("claim_answer", "met")]
    assert now.json()["deadlines"][0]["due_at"].startswith("2026-04-01T23:59:59")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/subjects/u-1/accepted-version", {"policy_id": POLICY, "at": "2026-03-01T10:00:00"}),
        ("/v1/subjects/u-1/accepted-version", {"policy_id": POLICY, "as_known_at": "yesterday"}),
        ("/v1/subjects/u-1/disclosure-check", {"recipient_category": "pigeon", "purpose": "4.1.1"}),
        ("/v1/deadlines", {"status": "late-ish"}),
    ],
)
def test_naive_or_malformed_times_and_values_get_a_422_problem(
    client: TestClient, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


def test_waiting_for_a_position_not_in_the_log_is_a_clear_422(client: TestClient, ledger: ConsentLedger) -> None:
    published(ledger)
    response = client.get("/v1/deadlines", params={"wait_for_position": 10_000})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "position 10000 is not in the log" in response.json()["detail"]


class StuckKeeper:
    """A keeper whose view never gets anywhere, as when its worker is down."""

    position = 0

    def wait_for(self, position: int, timeout: float) -> bool:
        del position, timeout
        return False


def test_a_view_that_cannot_catch_up_in_time_answers_503_with_retry_after(
    client: TestClient, ledger: ConsentLedger
) -> None:
    receipt = published(ledger)
    client.app.state.keeper = StuckKeeper()  # type: ignore[attr-defined]
    response = client.get("/v1/deadlines", params={"wait_for_position": receipt.position})
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["Retry-After"] == "1"
    assert f"not yet {receipt.position}" in response.json()["detail"]
