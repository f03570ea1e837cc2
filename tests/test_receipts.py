"""Signed consent receipts: a JWS another library verifies, `audit verify --receipt` checks offline, before and
after the subject's data are destroyed; an edited receipt fails."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from bearer import bearer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from given import consent_body, published, sha
from joserfc import jws
from joserfc.errors import BadSignatureError, SecurityWarning
from joserfc.jwk import OKPKey
from test_audit_cli import audit
from test_evidence import KEY, PUBLIC

from api.app import create_app
from api.routes.receipts import serve_receipts
from audit.log import AuditLog
from audit.receipts import ReceiptKey
from projections.keeper import open_view

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

ANNA = "subject-anna"
RECEIPT_KEY = ReceiptKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64))))
CONSENT = consent_body(
    method="registration",
    channel="app",
    data_categories=["contact", "address"],
    third_parties=True,
    evidence="ip=10.0.0.7 device=android",
)
KANTARA_REQUIRED = (
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "piiPrincipalId",
    "piiControllers",
    "services",
    "policyUrl",
    "sensitive",
    "spiCat",
)
"""The required fields of the Kantara Consent Receipt v1.1 schema (STANDARDS.md)."""


@pytest.fixture
def client(ledger: ConsentLedger, database: Database, clock: FakeClock) -> Iterator[TestClient]:
    published(ledger, at=clock.now)
    app = create_app(ledger, open_view(database))
    app.state.signing_key = KEY
    serve_receipts(app, RECEIPT_KEY)
    with TestClient(app, headers=bearer(ledger, "orders-service")) as client:
        yield client


def verified_elsewhere(token: str, jwk: dict[str, Any]) -> dict[str, Any]:
    """The payload, as joserfc (not our code) reads it after checking the signature with the served JWK."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc notes RFC 9864's newer name for EdDSA
        found = jws.deserialize_compact(token, OKPKey.import_key(jwk), algorithms=["EdDSA"])
    payload: dict[str, Any] = orjson.loads(found.payload)
    assert found.headers()["kid"] == jwk["kid"]
    return payload


def edited(token: str, change: dict[str, Any]) -> str:
    """The receipt with its payload changed and its signature kept."""
    head, body, signature = token.split(".")
    payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["header"] |= change
    forged = base64.urlsafe_b64encode(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).decode().rstrip("=")
    return f"{head}.{forged}.{signature}"


def test_a_consent_write_answers_a_receipt_that_another_jws_library_verifies(client: TestClient) -> None:
    jwk = client.get("/v1/log/receipt-key").json()

    written = client.post(f"/v1/subjects/{ANNA}/consents", json=CONSENT)

    assert written.status_code == 201, written.text
    receipt = verified_elsewhere(written.json()["consent_receipt"], jwk)
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert receipt["header"]["pii_principal_id"] == ANNA
    assert receipt["header"]["receipt_id"]
    assert [e["event_state"] for e in receipt["events"]] == ["dpv:ConsentGiven"]
    assert receipt["processing"]["privacy_notice"]["text_sha256"] == sha("1")
    assert receipt["ledger"]["position"] == written.json()["position"]
    assert receipt["ledger"]["checkpoint"] is None
    assert "10.0.0.7" not in orjson.dumps(receipt).decode()  # the evidence stays sealed in the stored event


def test_a_receipt_verifies_offline_with_its_inclusion_before_and_after_the_subjects_destruction(
    client: TestClient, ledger: ConsentLedger, tmp_path: Path
) -> None:
    jwk_file = tmp_path / "receipt-key.jwk"
    jwk_file.write_bytes(client.get("/v1/log/receipt-key").content)
    position = client.post(f"/v1/subjects/{ANNA}/consents", json=CONSENT).json()["position"]
    AuditLog(ledger, KEY).issue_checkpoint(ledger.clock())
    held = tmp_path / "receipt.jws"
    held.write_text(client.get(f"/v1/subjects/{ANNA}/receipts/{position}").text)

    before = audit("verify", "--receipt", str(held), "--receipt-key", str(jwk_file), "--public-key", PUBLIC)
    destroyed = client.post(f"/v1/subjects/{ANNA}/destruction", json={"ground": "subject_request"})
    after = audit("verify", "--receipt", str(held), "--receipt-key", str(jwk_file), "--public-key", PUBLIC)
    again = client.get(f"/v1/subjects/{ANNA}/receipts/{position}")

    assert before[0] == 0, before
    assert f"leaf {position - 1} of the" in before[1]
    assert destroyed.status_code == 201, destroyed.text
    assert after[0] == 0, after
    assert again.status_code == 200
    assert verified_elsewhere(again.text, orjson.loads(jwk_file.read_bytes()))["ledger"]["checkpoint"] is not None


def test_an_edited_receipt_fails_with_another_library_and_with_audit_verify(client: TestClient, tmp_path: Path) -> None:
    jwk = client.get("/v1/log/receipt-key").json()
    (tmp_path / "key.jwk").write_bytes(orjson.dumps(jwk))
    token = client.post(f"/v1/subjects/{ANNA}/consents", json=CONSENT).json()["consent_receipt"]
    forged = edited(token, {"pii_principal_id": "subject-boris"})
    (tmp_path / "forged.jws").write_text(forged)

    with pytest.raises(BadSignatureError):
        verified_elsewhere(forged, jwk)
    code, out, _ = audit(
        "verify",
        "--receipt",
        str(tmp_path / "forged.jws"),
        "--receipt-key",
        str(tmp_path / "key.jwk"),
        "--public-key",
        PUBLIC,
    )
    assert code == 1
    assert "FAILED: the receipt's signature does not verify" in out


def test_the_kantara_form_has_every_required_field_of_v1_1(client: TestClient) -> None:
    jwk = client.get("/v1/log/receipt-key").json()
    position = client.post(f"/v1/subjects/{ANNA}/consents", json=CONSENT).json()["position"]

    answer = client.get(f"/v1/subjects/{ANNA}/receipts/{position}", params={"format": "kantara-1.1"})
    kantara = verified_elsewhere(answer.text, jwk)

    assert answer.headers["content-type"].startswith("application/jose")
    assert set(KANTARA_REQUIRED) <= kantara.keys()
    assert kantara["version"] == "KI-CR-v1.1.0"
    assert isinstance(kantara["consentTimestamp"], int)
    for controller in kantara["piiControllers"]:
        assert {"piiController", "contact", "address", "email", "phone"} <= controller.keys()
    for purpose in kantara["services"][0]["purposes"]:
        assert {
            "consentType",
            "purposeCategory",
            "piiCategory",
            "termination",
            "thirdPartyDisclosure",
        } <= purpose.keys()
        assert purpose["thirdPartyDisclosure"] is False or purpose["thirdPartyName"]


def test_a_prompt_and_its_refusal_each_answer_a_receipt_of_their_own(client: TestClient) -> None:
    jwk = client.get("/v1/log/receipt-key").json()
    prompt = {k: CONSENT[k] for k in ("policy_id", "policy_version", "language", "text_sha256", "channel")}

    asked = client.post(f"/v1/subjects/{ANNA}/consent-requests", json={"prompt_id": "PR-1", **prompt})
    refused = client.post(f"/v1/subjects/{ANNA}/consent-requests/PR-1/refusal", json={"channel": "app"})

    assert verified_elsewhere(asked.json()["consent_receipt"], jwk)["events"][0]["event_state"] == (
        "dpv:ConsentRequested"
    )
    assert verified_elsewhere(refused.json()["consent_receipt"], jwk)["consent_status"] == "dpv:ConsentRefused"


def test_no_receipt_is_served_for_a_position_that_is_not_a_consent_of_that_subject(client: TestClient) -> None:
    position = client.post(f"/v1/subjects/{ANNA}/consents", json=CONSENT).json()["position"]

    other = client.get(f"/v1/subjects/subject-boris/receipts/{position}")
    policy = client.get(f"/v1/subjects/{ANNA}/receipts/1")

    assert (other.status_code, policy.status_code) == (404, 404)
    assert other.json()["type"].endswith(":receipt-unavailable")
    assert "has no event at log position" in other.json()["detail"]
