"""The access log: every read of one subject's data is kept with who, when, which route and the declared purpose."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from bearer import PURPOSE, bearer, token
from fastapi.testclient import TestClient
from given import POLICY, SERVICE, consented, published

from api.access_log import AccessLog
from api.app import create_app
from api.tokens import Scope
from ledger.claim import ClaimFiling
from ledger.terms import SubjectId
from projections.keeper import open_view

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

CHECK = {"recipient_category": "courier", "purpose": "4.1.1"}


@pytest.fixture
def client(ledger: ConsentLedger, database: Database) -> Iterator[TestClient]:
    published(ledger)
    consented(ledger, "u-1")
    consented(ledger, "u-2")
    ledger.record(SERVICE, ClaimFiling(claim_ref="cl-1", subject_id=SubjectId("u-2"), claimant="A. Subject"))
    with TestClient(create_app(ledger, open_view(database))) as client:
        yield client


def auditor(ledger: ConsentLedger) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(ledger, 'auditor', Scope.AUDIT)}"}


def test_each_read_of_a_subjects_data_is_logged_with_caller_route_time_and_purpose(
    ledger: ConsentLedger, client: TestClient, clock: FakeClock
):
    disputes = bearer(ledger, "disputes-team", Scope.EVIDENCE, Scope.READ)
    reads = [
        ("/v1/subjects/u-1/facts", {}, "GET /v1/subjects/{subject_id}/facts", "u-1"),
        ("/v1/claims/cl-1", {}, "GET /v1/claims/{claim_ref}", "u-2"),
        (
            "/v1/subjects/u-1/accepted-version",
            {"policy_id": POLICY},
            "GET /v1/subjects/{subject_id}/accepted-version",
            "u-1",
        ),
        ("/v1/subjects/u-1/disclosure-check", CHECK, "GET /v1/subjects/{subject_id}/disclosure-check", "u-1"),
        ("/v1/subjects/u-1/block-status", {}, "GET /v1/subjects/{subject_id}/block-status", "u-1"),
        ("/v1/subjects/u-1/disclosures", {}, "GET /v1/subjects/{subject_id}/disclosures", "u-1"),
    ]
    for path, params, _, _ in reads:
        clock.advance(minutes=1)
        assert client.get(path, params=params, headers=disputes).status_code == 200, path

    page = client.get("/v1/access-log", headers=auditor(ledger))

    assert page.status_code == 200, page.text
    entries = page.json()["entries"]
    assert [(e["route"], e["subject_id"]) for e in entries] == [(route, subject) for _, _, route, subject in reads]
    assert {e["caller"] for e in entries} == {"disputes-team"}
    assert {e["purpose"] for e in entries} == {PURPOSE}
    assert entries[-1]["at"] == clock.now.isoformat().replace("+00:00", "Z")


def test_reads_that_concern_no_single_subject_are_not_logged(ledger: ConsentLedger, client: TestClient):
    reader = bearer(ledger, "orders-service", Scope.READ)
    for path in (
        "/v1/deadlines",
        "/v1/breaches-not-all-told",
        f"/v1/policies/{POLICY}",
        f"/v1/policies/{POLICY}/version-in-effect",
    ):
        assert client.get(path, headers=reader).status_code == 200, path

    assert AccessLog(ledger).count() == 0


@pytest.mark.parametrize("purpose", [None, "", "x" * 201], ids=["missing", "empty", "too-long"])
def test_a_subject_read_without_a_declared_purpose_is_a_422_and_leaves_no_row(
    ledger: ConsentLedger, client: TestClient, purpose: str | None
):
    headers = bearer(ledger, "disputes-team", Scope.EVIDENCE)
    if purpose is None:
        del headers["X-Purpose"]
    else:
        headers["X-Purpose"] = purpose

    answer = client.get("/v1/subjects/u-1/facts", headers=headers)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [(e["in"], e["name"]) for e in answer.json()["errors"]] == [("header", "X-Purpose")]
    assert AccessLog(ledger).count() == 0


def test_refused_reads_leave_no_row(ledger: ConsentLedger, client: TestClient):
    writer = bearer(ledger, "orders-service", Scope.WRITE, Scope.READ)  # no `evidence`
    assert client.get("/v1/subjects/u-1/facts", headers=writer).status_code == 403
    assert client.get("/v1/subjects/u-1/facts", headers={"X-Purpose": PURPOSE}).status_code == 401
    bad_query = client.get("/v1/subjects/u-1/disclosure-check", params={"purpose": "4.1.1"}, headers=writer)
    assert bad_query.status_code == 422

    assert AccessLog(ledger).count() == 0


def test_a_purpose_in_utf8_is_kept_as_written(ledger: ConsentLedger, client: TestClient):
    headers = {**bearer(ledger, "disputes-team", Scope.EVIDENCE), "X-Purpose": "жалоба субъекта №42".encode()}

    assert client.get("/v1/subjects/u-1/facts", headers=headers).status_code == 200

    assert AccessLog(ledger).entries()[0].purpose == "жалоба субъекта №42"


def test_auditors_filter_by_subject_and_time_and_page_through(
    ledger: ConsentLedger, client: TestClient, clock: FakeClock
):
    reader = bearer(ledger, "orders-service", Scope.READ)
    start = clock.now
    for subject in ("u-1", "u-2", "u-1", "u-2", "u-1"):
        clock.advance(hours=1)
        assert client.get(f"/v1/subjects/{subject}/block-status", headers=reader).status_code == 200
    audit = auditor(ledger)

    def log(**params: object) -> dict:
        answer = client.get("/v1/access-log", params=params, headers=audit)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert [e["subject_id"] for e in log(subject_id="u-1")["entries"]] == ["u-1", "u-1", "u-1"]
    window = log(since=f"{start.date()}T11:00:00+00:00", until=f"{start.date()}T12:00:00+00:00")["entries"]
    assert [e["subject_id"] for e in window] == ["u-2", "u-1"]  # the reads at 11:00 and 12:00 UTC
    in_almaty = log(since=f"{start.date()}T16:00:00+05:00", until=f"{start.date()}T17:00:00+05:00")["entries"]
    assert in_almaty == window
    first = log(limit=2)
    second = log(limit=2, after=first["next_after"])
    rest = log(limit=2, after=second["next_after"])
    assert [len(p["entries"]) for p in (first, second, rest)] == [2, 2, 1]
    assert rest["next_after"] is None
    assert client.get("/v1/access-log", params={"since": "2026-03-02T10:00:00"}, headers=audit).status_code == 422


def test_only_auditors_read_the_access_log(ledger: ConsentLedger, client: TestClient):
    everything_but_audit = bearer(ledger, "officer", Scope.WRITE, Scope.READ, Scope.EVIDENCE, Scope.ADMIN)

    assert client.get("/v1/access-log", headers=everything_but_audit).status_code == 403


def test_the_access_log_cannot_be_rewritten_even_with_sql(ledger: ConsentLedger, client: TestClient):
    client.get("/v1/subjects/u-1/facts", headers=bearer(ledger, "disputes-team", Scope.EVIDENCE))
    log = AccessLog(ledger)

    for statement in (f"UPDATE {log.table} SET purpose = 'nothing'", f"DELETE FROM {log.table}"):
        with pytest.raises(Exception, match="append-only"), ledger.recorder.datastore.transaction(commit=True) as c:
            c.execute(statement)

    assert log.entries()[0].purpose == PURPOSE
