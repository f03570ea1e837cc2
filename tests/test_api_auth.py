"""Who may call what: every operation of the served OpenAPI against every scope, no token, a bad one, a revoked one.

Exactly the callers holding the scope an operation needs get past the door (a 2xx, or a refusal
of the ledger's own such as 404 or 409); every other caller gets a 401 or 403 problem and
leaves no trace: nothing in the log, nothing in the access log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from bearer import PURPOSE, token
from conftest import drop_postgres_schema, fresh_postgres_database
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from given import POLICY, SERVICE, consented, published

from api.access_log import AccessLog
from api.app import create_app
from api.routes.receipts import serve_receipts
from api.tokens import Scope, TokenStore
from audit.receipts import ReceiptKey
from ledger.application import ConsentLedger, open_ledger
from ledger.breach import BreachFinding
from ledger.claim import ClaimFiling
from ledger.storage import Database
from ledger.subject_facts import Block
from ledger.terms import BlockGround, BlockRequester, SubjectId
from projections.keeper import open_view

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock

INTENDED: dict[tuple[str, str], Scope | None] = {
    ("post", "/v1/policies/{policy_id}/versions"): Scope.ADMIN,
    ("get", "/v1/policies/{policy_id}"): Scope.READ,
    **{
        ("post", f"/v1/subjects/{{subject_id}}/{fact}"): Scope.WRITE
        for fact in (
            "consents",
            "withdrawals",
            "withdrawal-refusals",
            "written-permissions",
            "disclosures",
            "blocks",
            "blocks/{block_id}/lift",
            "corrections",
            "destruction",
            "retractions",
            "requests",
            "requests/{request_id}/answer",
            "blocks/{block_id}/verification",
            "disclosures/{number}/notice",
        )
    },
    ("get", "/v1/subjects/{subject_id}/facts"): Scope.EVIDENCE,
    ("post", "/v1/breaches"): Scope.WRITE,
    ("post", "/v1/breaches/{breach_ref}/authority-notices"): Scope.WRITE,
    ("post", "/v1/breaches/{breach_ref}/subject-notices"): Scope.WRITE,
    ("get", "/v1/breaches/{breach_ref}"): Scope.READ,
    ("post", "/v1/claims"): Scope.WRITE,
    ("post", "/v1/claims/{claim_ref}/answer"): Scope.WRITE,
    ("post", "/v1/claims/{claim_ref}/court"): Scope.WRITE,
    ("get", "/v1/claims/{claim_ref}"): Scope.EVIDENCE,
    ("get", "/v1/subjects/{subject_id}/accepted-version"): Scope.READ,
    ("get", "/v1/policies/{policy_id}/version-in-effect"): Scope.READ,
    ("get", "/v1/subjects/{subject_id}/disclosure-check"): Scope.READ,
    ("get", "/v1/subjects/{subject_id}/block-status"): Scope.READ,
    ("get", "/v1/subjects/{subject_id}/disclosures"): Scope.READ,
    ("get", "/v1/deadlines"): Scope.READ,
    ("get", "/v1/breaches-not-all-told"): Scope.READ,
    ("get", "/v1/access-log"): Scope.AUDIT,
    ("get", "/v1/events"): Scope.AUDIT,
    ("get", "/v1/events/stream"): Scope.AUDIT,
    ("get", "/v1/subjects/{subject_id}/evidence"): Scope.EVIDENCE,
    ("get", "/v1/audit/checkpoints"): Scope.AUDIT,
    ("post", "/v1/audit/checkpoints"): Scope.AUDIT,
    ("get", "/v1/audit/proofs/inclusion"): Scope.AUDIT,
    ("get", "/v1/audit/proofs/consistency"): Scope.AUDIT,
    ("get", "/v1/audit/public-key"): Scope.AUDIT,
    ("get", "/v1/log/checkpoint"): None,
    ("get", "/v1/log/public-key"): None,
    ("get", "/v1/log/consistency"): None,
    ("get", "/v1/log/receipt-key"): None,
    ("post", "/v1/subjects/{subject_id}/consent-requests"): Scope.WRITE,
    ("post", "/v1/subjects/{subject_id}/consent-requests/{prompt_id}/refusal"): Scope.WRITE,
    ("get", "/v1/subjects/{subject_id}/consent-state"): Scope.READ,
    ("get", "/v1/subjects/{subject_id}/consent-records"): Scope.READ,
    ("get", "/v1/subjects/{subject_id}/receipts/{position}"): Scope.READ,
    ("get", "/healthz"): None,
    ("get", "/readyz"): None,
    ("get", "/metrics"): None,
}
"""The scope each operation needs (None: open to anyone, as probes and scrapers are); a new route must be added."""

LOGGED = {
    ("get", "/v1/subjects/{subject_id}/facts"),
    ("get", "/v1/claims/{claim_ref}"),
    ("get", "/v1/subjects/{subject_id}/accepted-version"),
    ("get", "/v1/subjects/{subject_id}/disclosure-check"),
    ("get", "/v1/subjects/{subject_id}/block-status"),
    ("get", "/v1/subjects/{subject_id}/disclosures"),
    ("get", "/v1/subjects/{subject_id}/evidence"),
    ("get", "/v1/subjects/{subject_id}/consent-state"),
    ("get", "/v1/subjects/{subject_id}/consent-records"),
    ("get", "/v1/subjects/{subject_id}/receipts/{position}"),
}
"""The reads of one subject's data: each answered one leaves one row in the access log."""

STREAMS = {("get", "/v1/events/stream")}
"""Answers that never end for a caller let in; only refusals are asked for here."""

DOCUMENT = create_app(None).openapi()
OPERATIONS = sorted((method, path) for path, methods in DOCUMENT["paths"].items() for method in methods)
PATH_VALUES = {
    "subject_id": "u-1",
    "prompt_id": "PR-1",
    "position": "1",
    "policy_id": POLICY,
    "breach_ref": "br-1",
    "claim_ref": "cl-1",
    "block_id": "blk-1",
    "request_id": "req-1",
    "number": "2",
}
QUERY = {"policy_id": POLICY, "recipient_category": "courier", "purpose": "4.1.1", "position": 1, "from_size": 0}
SCOPED = [pytest.param(scope, id=scope.value) for scope in Scope]
WHEN = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


def example_body(method: str, path: str) -> dict | None:
    """The request body the OpenAPI document gives as its first example."""
    body = DOCUMENT["paths"][path][method].get("requestBody")
    if body is None:
        return None
    name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return DOCUMENT["components"]["schemas"][name]["examples"][0]


def given_records(ledger: ConsentLedger) -> None:
    """A policy, a consenting subject with a block, a breach and a claim: every GET has something to find."""
    published(ledger)
    consented(ledger, "u-1")
    ledger.record(
        SERVICE,
        Block(
            subject_id=SubjectId("u-1"),
            block_id="blk-1",
            requester=BlockRequester.SUBJECT,
            ground=BlockGround.INACCURATE_DATA,
        ),
    )
    ledger.record(
        SERVICE,
        BreachFinding(
            breach_ref="br-1", data_categories=frozenset({"contact"}), subject_ids=frozenset({SubjectId("u-1")})
        ),
    )
    ledger.record(SERVICE, ClaimFiling(claim_ref="cl-1", subject_id=SubjectId("u-1"), claimant="A. Subject"))


def call(client: TestClient, method: str, path: str, headers: dict[str, str]):
    return client.request(
        method,
        path.format(**PATH_VALUES),
        params=QUERY if method == "get" else None,
        json=example_body(method, path),
        headers={"X-Purpose": PURPOSE, **headers},
    )


def trace(ledger: ConsentLedger, log: AccessLog) -> tuple[int, int]:
    return ledger.max_position(), log.count()


@pytest.fixture
def sqlite_ledger(tmp_path: Path, master_key: bytes, clock: FakeClock) -> Iterator[ConsentLedger]:
    """The matrix runs on SQLite: the rules it checks live above the database (PostgreSQL has its own pass below)."""
    clock.now = WHEN
    ledger = open_ledger(Database.from_url(f"sqlite:///{tmp_path}/ledger.db"), master_key, clock)
    given_records(ledger)
    yield ledger
    ledger.close()


def callers(ledger: ConsentLedger) -> dict[str, tuple[dict[str, str], frozenset[Scope]]]:
    """Every kind of caller: one token per scope, none, a made-up one, another scheme, a revoked one with all scopes."""
    revoked = token(ledger, "revoked")
    TokenStore(ledger).revoke("revoked", WHEN)
    every: dict[str, tuple[dict[str, str], frozenset[Scope]]] = {
        f"only-{scope}": ({"Authorization": f"Bearer {token(ledger, f'only-{scope}', scope)}"}, frozenset({scope}))
        for scope in Scope
    }
    every["no token"] = ({}, frozenset())
    every["a made-up token"] = ({"Authorization": "Bearer 3q2-7wEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, frozenset())
    every["basic credentials"] = ({"Authorization": "Basic b3JkZXJzOnNlY3JldA=="}, frozenset())
    every["a revoked token"] = ({"Authorization": f"Bearer {revoked}"}, frozenset())
    return every


def test_every_operation_in_the_openapi_declares_the_scope_intended_for_it_and_documents_401_and_403():
    assert DOCUMENT["components"]["securitySchemes"]["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": DOCUMENT["components"]["securitySchemes"]["BearerToken"]["description"],
    }
    for method, path in OPERATIONS:
        assert (method, path) in INTENDED, f"{method.upper()} {path}: add the scope it needs to INTENDED"
        operation = DOCUMENT["paths"][path][method]
        scope = INTENDED[method, path]
        declared = operation.get("security")
        assert declared == ([{"BearerToken": [scope]}] if scope else None), f"{method.upper()} {path}"
        if scope:
            responses = operation["responses"]
            assert {"401", "403"} <= responses.keys(), path
            assert "WWW-Authenticate" in responses["401"]["headers"], path


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param(method, path, id=f"{method.upper()} {path}")
        for method, path in OPERATIONS
        if INTENDED.get((method, path))
    ],
)
def test_exactly_the_callers_with_the_scope_get_in_and_the_others_are_refused_without_a_trace(
    sqlite_ledger: ConsentLedger, database_path_view, method: str, path: str
):
    ledger = sqlite_ledger
    needed = INTENDED[method, path]
    log = AccessLog(ledger)
    app = create_app(ledger, database_path_view)
    serve_receipts(app, ReceiptKey(Ed25519PrivateKey.generate()))  # as `serve` does
    with TestClient(app) as client:
        for who, (headers, scopes) in callers(ledger).items():
            allowed = needed in scopes
            if allowed and (method, path) in STREAMS:
                continue
            before = trace(ledger, log)

            response = call(client, method, path, headers)

            if allowed:
                assert response.status_code not in {401, 403}, (who, response.text)
                assert response.status_code < 500, (who, response.text)
                assert not response.json().get("type", "").endswith(":invalid-request"), (who, response.text)
                if (method, path) in LOGGED and response.status_code == 200:
                    assert log.count() == before[1] + 1, who
                continue
            expected = 403 if scopes else 401
            assert response.status_code == expected, (who, response.text)
            assert response.headers["content-type"] == "application/problem+json", who
            assert response.json()["status"] == expected
            if expected == 401:
                assert response.headers["www-authenticate"].startswith("Bearer"), who
            assert trace(ledger, log) == before, who


@pytest.fixture
def database_path_view(sqlite_ledger: ConsentLedger, tmp_path: Path):  # noqa: ARG001  (the view opens on the ledger's file, after it)
    return open_view(Database.from_url(f"sqlite:///{tmp_path}/ledger.db"))


@pytest.fixture
def two_processes(master_key: bytes, clock: FakeClock) -> Iterator[tuple[ConsentLedger, ConsentLedger]]:
    """Two ledgers on one PostgreSQL schema, each with its own connection pool, as two server processes have."""
    clock.now = WHEN
    database = fresh_postgres_database()
    first, second = open_ledger(database, master_key, clock), open_ledger(database, master_key, clock)
    given_records(first)
    yield first, second
    first.close()
    second.close()
    drop_postgres_schema(database)


def test_a_token_revoked_through_one_process_fails_at_once_in_another_on_postgresql(two_processes):
    first, second = two_processes
    secret = token(first, "disputes-team", Scope.EVIDENCE, Scope.READ)
    headers = {"Authorization": f"Bearer {secret}", "X-Purpose": PURPOSE}
    with TestClient(create_app(second)) as other_process:
        assert other_process.get("/v1/subjects/u-1/facts", headers=headers).status_code == 200
        TokenStore(first).revoke("disputes-team", WHEN)
        log = AccessLog(second)
        before = trace(second, log)

        refused = other_process.get("/v1/subjects/u-1/facts", headers=headers)

    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert trace(second, log) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/subjects/{subject_id}/corrections"),
        ("post", "/v1/policies/{policy_id}/versions"),
        ("get", "/v1/claims/{claim_ref}"),
        ("get", "/v1/access-log"),
    ],
)
def test_on_postgresql_a_token_made_in_one_process_opens_only_its_scope_in_another(two_processes, method, path):
    first, second = two_processes
    with TestClient(create_app(second)) as other_process:
        for who, (headers, scopes) in callers(first).items():
            log = AccessLog(second)
            before = trace(second, log)
            response = call(other_process, method, path, headers)
            if INTENDED[method, path] in scopes:
                assert response.status_code in {200, 201}, (who, response.text)
            else:
                assert response.status_code == (403 if scopes else 401), (who, response.text)
                assert trace(second, log) == before, who
