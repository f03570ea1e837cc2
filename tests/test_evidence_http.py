"""Evidence and proofs over HTTP: who may ask, what the answers are, and that they verify with the public key."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from bearer import PURPOSE, bearer, token
from fastapi.testclient import TestClient
from given import consented
from test_evidence import ANNA, KEY, PAPER, PAPER_SIGNED, PUBLIC, V2_FROM, dispute

from api.access_log import AccessLog
from api.app import create_app
from api.tokens import Scope
from audit.evidence import verify_bundle
from audit.leaves import LoggedEvent
from audit.merkle import verify_consistency, verify_inclusion
from audit.notes import Checkpoint, VerifierKey
from projections.keeper import open_view

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

PROBLEM = "application/problem+json"


@pytest.fixture
def served(ledger: ConsentLedger, database: Database, clock: FakeClock) -> Iterator[TestClient]:
    dispute(ledger, clock)
    app = create_app(ledger, open_view(database))
    app.state.signing_key = KEY
    with TestClient(app) as client:
        yield client


def test_the_disputes_team_gets_a_bundle_that_verifies_and_the_read_is_logged(
    served: TestClient, ledger: ConsentLedger
) -> None:
    headers = bearer(ledger, "disputes-team", Scope.EVIDENCE)
    log = AccessLog(ledger)

    answer = served.get(
        f"/v1/subjects/{PAPER}/evidence", params={"at": (PAPER_SIGNED + timedelta(days=1)).isoformat()}, headers=headers
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    bundle = answer.json()
    assert bundle["answer"]["policies"][0]["accepted_recorded_after_t"] is True
    assert verify_bundle(answer.content, PUBLIC).ok
    [access] = log.entries(subject_id=PAPER)
    assert (access.caller, access.route, access.purpose) == (
        "disputes-team",
        "GET /v1/subjects/{subject_id}/evidence",
        PURPOSE,
    )


@pytest.mark.parametrize("ask", [{"headers": {"Accept": "text/html"}}, {"params": {"format": "html"}}])
def test_a_browser_or_format_html_gets_the_printable_page(served: TestClient, ledger: ConsentLedger, ask) -> None:
    headers = {**bearer(ledger, "disputes-team", Scope.EVIDENCE), **ask.get("headers", {})}

    page = served.get(
        f"/v1/subjects/{ANNA}/evidence", params={"at": V2_FROM.isoformat(), **ask.get("params", {})}, headers=headers
    )

    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="answer"' in page.text
    assert 'id="verification"' in page.text
    assert PUBLIC in page.text


def test_evidence_needs_the_evidence_scope_and_a_purpose_and_a_refusal_leaves_no_trace(
    served: TestClient, ledger: ConsentLedger
) -> None:
    log = AccessLog(ledger)
    path = f"/v1/subjects/{ANNA}/evidence"
    before = (ledger.max_position(), log.count())

    nobody = served.get(path)
    auditor = served.get(path, headers=bearer(ledger, "auditor", Scope.AUDIT, Scope.READ))
    no_purpose = served.get(path, headers={"Authorization": f"Bearer {token(ledger, 'team', Scope.EVIDENCE)}"})

    assert (nobody.status_code, auditor.status_code, no_purpose.status_code) == (401, 403, 422)
    assert {r.headers["content-type"] for r in (nobody, auditor, no_purpose)} == {PROBLEM}
    assert (ledger.max_position(), log.count()) == before


def test_a_subject_never_recorded_and_a_naive_moment_are_refused_as_problems(
    served: TestClient, ledger: ConsentLedger
) -> None:
    headers = bearer(ledger, "disputes-team", Scope.EVIDENCE)

    unknown = served.get("/v1/subjects/nobody/evidence", headers=headers)
    naive = served.get(f"/v1/subjects/{ANNA}/evidence", params={"at": "2026-03-05T09:00:00"}, headers=headers)

    assert (unknown.status_code, naive.status_code) == (404, 422)
    assert unknown.headers["content-type"] == naive.headers["content-type"] == PROBLEM


def test_without_a_signing_key_the_server_refuses_evidence_and_checkpoints_clearly(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    with TestClient(create_app(ledger, open_view(database)), headers=bearer(ledger, "all")) as client:
        refused = [
            client.get(f"/v1/subjects/{ANNA}/evidence"),
            client.post("/v1/audit/checkpoints"),
            client.get("/v1/audit/public-key"),
        ]

    assert {r.status_code for r in refused} == {400}
    assert all("signing key" in r.json()["detail"] for r in refused)


def test_an_auditor_issues_and_lists_checkpoints_and_checks_them_with_the_public_key(
    served: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    headers = bearer(ledger, "auditor", Scope.AUDIT)
    key = VerifierKey.parse(served.get("/v1/audit/public-key", headers=headers).json()["public_key"])

    first = served.post("/v1/audit/checkpoints", headers=headers)
    clock.advance(days=1)
    consented(ledger, ANNA, "2")
    second = served.post("/v1/audit/checkpoints", headers=headers)
    listed = served.get("/v1/audit/checkpoints", headers=headers).json()["checkpoints"]

    assert (first.status_code, second.status_code) == (201, 201)
    assert [c["number"] for c in listed] == [1, 2]
    assert listed[-1]["tree_size"] == ledger.max_position()
    for shown in listed:
        signed = Checkpoint.parse(key.open(shown["note"]))
        assert (signed.size, signed.root.hex()) == (shown["tree_size"], shown["root"])


def test_inclusion_and_consistency_proofs_verify_against_the_signed_roots(
    served: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    headers = bearer(ledger, "auditor", Scope.AUDIT)
    old = served.post("/v1/audit/checkpoints", headers=headers).json()
    clock.advance(days=1)
    consented(ledger, ANNA, "2")
    new = served.post("/v1/audit/checkpoints", headers=headers).json()

    inclusion = served.get(
        "/v1/audit/proofs/inclusion", params={"position": 3, "size": old["tree_size"]}, headers=headers
    ).json()
    consistency = served.get(
        "/v1/audit/proofs/consistency", params={"from_size": old["tree_size"]}, headers=headers
    ).json()

    stored = inclusion["event"]
    from uuid import UUID  # noqa: PLC0415

    leaf = LoggedEvent(
        stored["position"],
        UUID(stored["originator_id"]),
        stored["version"],
        stored["topic"],
        base64.b64decode(stored["state"]),
    ).leaf_hash()
    path = [base64.b64decode(h) for h in inclusion["inclusion"]]
    assert verify_inclusion(leaf, inclusion["leaf_index"], old["tree_size"], path, bytes.fromhex(old["root"]))
    assert (consistency["from_size"], consistency["to_size"]) == (old["tree_size"], new["tree_size"])
    proof = [base64.b64decode(h) for h in consistency["consistency"]]
    assert verify_consistency(
        old["tree_size"], new["tree_size"], bytes.fromhex(old["root"]), bytes.fromhex(new["root"]), proof
    )


def test_a_proof_that_cannot_be_given_is_a_404_problem(served: TestClient, ledger: ConsentLedger) -> None:
    headers = bearer(ledger, "auditor", Scope.AUDIT)

    before_any = served.get("/v1/audit/proofs/inclusion", params={"position": 1}, headers=headers)
    served.post("/v1/audit/checkpoints", headers=headers)
    beyond = served.get("/v1/audit/proofs/inclusion", params={"position": 10_000}, headers=headers)
    no_such_size = served.get("/v1/audit/proofs/consistency", params={"from_size": 3}, headers=headers)

    for answer in (before_any, beyond, no_such_size):
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["type"].endswith(":proof-unavailable")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/audit/checkpoints"),
        ("post", "/v1/audit/checkpoints"),
        ("get", "/v1/audit/public-key"),
        ("get", "/v1/audit/proofs/inclusion?position=1"),
        ("get", "/v1/audit/proofs/consistency?from_size=0"),
    ],
)
def test_audit_routes_need_the_audit_scope(served: TestClient, ledger: ConsentLedger, method: str, path: str) -> None:
    others = bearer(ledger, "disputes-team", Scope.EVIDENCE, Scope.READ, Scope.WRITE, Scope.ADMIN)

    assert served.request(method, path).status_code == 401
    assert served.request(method, path, headers=others).status_code == 403
    assert served.request(method, path, headers=bearer(ledger, "auditor", Scope.AUDIT)).status_code < 500


@pytest.mark.parametrize(
    ("ask", "language", "words"),
    [
        ({"params": {"lang": "kk"}}, "kk", ("Келісімнің дәлелі", "2026 жылғы")),
        (
            {"headers": {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}},
            "ru",
            ("Доказательства согласия", "марта 2026 г."),
        ),
        ({"headers": {"Accept-Language": "de, en;q=0.3"}}, "en", ("Evidence of consent", "March 2026")),
    ],
)
def test_the_printable_page_reads_in_the_language_asked_for_with_times_in_the_operators_zone(
    served: TestClient, ledger: ConsentLedger, ask, language: str, words: tuple[str, str]
) -> None:
    headers = {**bearer(ledger, "disputes-team", Scope.EVIDENCE), **ask.get("headers", {})}

    page = served.get(
        f"/v1/subjects/{PAPER}/evidence",
        headers=headers,
        params={"at": (PAPER_SIGNED + timedelta(days=1)).isoformat(), "format": "html", **ask.get("params", {})},
    )

    assert page.status_code == 200, page.text
    assert page.headers["content-language"] == language
    assert f'<html lang="{language}">' in page.text
    for expected in words:
        assert expected in page.text
    assert "(UTC+5)</time>" in page.text, "every time in the operator's zone, with its offset"
    assert str(PAPER) in page.text, "the facts stay as recorded"
