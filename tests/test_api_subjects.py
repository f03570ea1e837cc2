from collections.abc import Callable, Iterator

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import POLICY, consent_body, consented, published, sha

from api.app import create_app
from ledger.application import ConsentLedger, Request
from ledger.subject_facts import Block, Destruction
from ledger.terms import BlockGround, BlockRequester, SubjectId

SUBJECT = "u-1"
FACTS = f"/v1/subjects/{SUBJECT}/facts"
NOW = "2026-03-02T14:00:00+05:00"  # the fake clock's 09:00 UTC, as a writer in Almaty states it
OFFICER = Request("privacy-officer")
PROBLEM = "tag:consent-ledger,2026:problem:"


@pytest.fixture
def client(ledger: ConsentLedger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), headers=bearer(ledger, "orders-service")) as client:
        yield client


def problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM + kind
    assert body["status"] == status
    assert body["title"]
    assert body["instance"] == response.request.url.raw_path.decode().partition("?")[0]
    return body


def a_consent() -> dict:
    return consent_body(
        method="registration",
        channel="app",
        data_categories=["contact", "address"],
        third_parties=True,
        optional_purposes=["4.1.6"],
        evidence="ip=10.0.0.7 device=android",
        occurred_at=NOW,
    )


def given_published(ledger: ConsentLedger) -> None:
    published(ledger)


def given_consent(ledger: ConsentLedger) -> None:
    published(ledger)
    consented(ledger, SUBJECT)


def given_block(ledger: ConsentLedger) -> None:
    given_consent(ledger)
    ledger.record(
        OFFICER,
        Block(
            subject_id=SubjectId(SUBJECT),
            block_id="blk-1",
            requester=BlockRequester.SUBJECT,
            ground=BlockGround.INACCURATE_DATA,
        ),
    )


def given_destruction(ledger: ConsentLedger) -> None:
    given_consent(ledger)
    ledger.record(OFFICER, Destruction(subject_id=SubjectId(SUBJECT), ground="subject_request"))


def given_nothing(_: ConsentLedger) -> None:
    pass


Given = Callable[[ConsentLedger], None]

EVERY_FACT = [
    pytest.param(
        given_published,
        "consents",
        a_consent(),
        "ConsentGranted",
        {"evidence": "ip=10.0.0.7 device=android", "purposes": ["4.1.1", "4.1.2", "4.1.3", "4.1.6"]},
        id="consent",
    ),
    pytest.param(
        given_consent,
        "withdrawals",
        {"policy_id": POLICY, "purposes": ["4.1.2"], "channel": "email"},
        "ConsentWithdrawn",
        {"purposes": ["4.1.2"], "channel": "email", "actor": "subject"},
        id="withdrawal",
    ),
    pytest.param(
        given_consent,
        "withdrawal-refusals",
        {"policy_id": POLICY, "open_obligation": "order 2026-0042", "reason": "in delivery"},
        "WithdrawalRefused",
        {"open_obligation": "order 2026-0042", "reason": "in delivery"},
        id="withdrawal-refusal",
    ),
    pytest.param(
        given_nothing,
        "written-permissions",
        {
            "permission_id": "wp-1",
            "recipient": "Insurer LLP",
            "recipient_category": "other",
            "purpose": "4.1.3",
            "document": "scan 2026/17",
            "valid_until": "2027-03-01T00:00:00+05:00",
        },
        "WrittenPermissionGranted",
        {"document": "scan 2026/17", "valid_until": "2027-03-01T00:00:00+05:00"},
        id="written-permission",
    ),
    pytest.param(
        given_consent,
        "disclosures",
        {
            "recipient": "Courier LLP",
            "recipient_category": "courier",
            "purpose": "4.1.2",
            "data_categories": ["contact", "address"],
            "ground": "order_fulfilment",
            "reference": "order 42",
        },
        "DataDisclosed",
        {"ground": "order_fulfilment", "legal_basis": f"consent to {POLICY} version 1", "flagged_while_blocked": False},
        id="disclosure",
    ),
    pytest.param(
        given_block,
        "disclosures",
        {
            "recipient": "Police",
            "recipient_category": "state_authority",
            "purpose": "4.1.5",
            "data_categories": ["contact"],
            "ground": "state_request",
            "reference": "request 12-345",
        },
        "DataDisclosed",
        {"ground": "state_request", "flagged_while_blocked": True},
        id="state-request-while-blocked-is-flagged",
    ),
    pytest.param(
        given_consent,
        "blocks",
        {
            "block_id": "blk-7",
            "requester": "authorised_body",
            "ground": "unlawful_processing",
            "request_details": "letter 7",
        },
        "DataBlocked",
        {"block_id": "blk-7", "requester": "authorised_body", "request": "letter 7"},
        id="block",
    ),
    pytest.param(
        given_block,
        "blocks/blk-1/lift",
        {"outcome": "data_corrected"},
        "BlockLifted",
        {"block_id": "blk-1", "outcome": "data_corrected"},
        id="block-lift",
    ),
    pytest.param(
        given_consent,
        "corrections",
        {"data_categories": ["address"]},
        "DataCorrected",
        {"data_categories": ["address"]},
        id="correction",
    ),
    pytest.param(
        given_consent,
        "destruction",
        {"ground": "subject_request"},
        "DataDestroyed",
        {"ground": "subject_request"},
        id="destruction",
    ),
    pytest.param(
        given_consent,
        "retractions",
        {"number": 2, "reason": "recorded for the wrong subject"},
        "EntryRetracted",
        {"retracted_number": 2, "reason": "recorded for the wrong subject"},
        id="retraction",
    ),
]


@pytest.mark.parametrize(("given", "path", "body", "event_type", "fields"), EVERY_FACT)
def test_every_fact_of_a_subject_is_recorded_over_http_and_reads_back(
    *, ledger, client, given: Given, path: str, body: dict, event_type: str, fields: dict
):
    given(ledger)
    response = client.post(f"/v1/subjects/{SUBJECT}/{path}", json={"occurred_at": NOW, **body})

    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["event_type"] == event_type
    assert receipt["replayed"] is False
    assert receipt["position"] == ledger.max_position()
    assert response.headers["location"].endswith(FACTS)
    assert response.headers["etag"] == f'"{receipt["version"]}"'
    read = client.get(response.headers["location"])
    assert read.headers["etag"] == response.headers["etag"]
    fact = read.json()["facts"][-1]
    assert (fact["number"], fact["event_type"]) == (receipt["version"], event_type)
    assert (fact["occurred_at"], fact["recorded_by"]) == (NOW, "orders-service")
    assert fact["fields"].items() >= fields.items()


def test_occurred_at_defaults_to_the_moment_the_ledger_records_the_fact(ledger, client, clock):
    given_consent(ledger)
    response = client.post(f"/v1/subjects/{SUBJECT}/corrections", json={"data_categories": ["contact"]})

    assert response.status_code == 201, response.text
    fact = client.get(FACTS).json()["facts"][-1]
    assert fact["occurred_at"] == fact["recorded_at"] == clock.now.isoformat().replace("+00:00", "Z")


REFUSALS = [
    pytest.param(
        given_nothing,
        "consents",
        a_consent(),
        404,
        "not-found",
        "is not recorded",
        id="consent-to-no-policy",
    ),
    pytest.param(
        given_published,
        "consents",
        {**a_consent(), "text_sha256": "0" * 64},
        422,
        "invalid-fact",
        "is not the en text of version 1",
        id="consent-to-another-text",
    ),
    pytest.param(
        given_published,
        "consents",
        {**a_consent(), "occurred_at": "2026-03-02T15:00:00+05:00"},
        422,
        "invalid-fact",
        "is in the future",
        id="consent-in-the-future",
    ),
    pytest.param(
        given_published,
        "disclosures",
        {
            "recipient": "Courier LLP",
            "recipient_category": "courier",
            "purpose": "4.1.2",
            "data_categories": ["contact"],
            "ground": "order_fulfilment",
            "reference": "order 42",
        },
        409,
        "no-ground-for-disclosure",
        "no consent standing",
        id="disclosure-without-consent",
    ),
    pytest.param(
        given_block,
        "disclosures",
        {
            "recipient": "Courier LLP",
            "recipient_category": "courier",
            "purpose": "4.1.2",
            "data_categories": ["contact"],
            "ground": "order_fulfilment",
            "reference": "order 42",
        },
        409,
        "subject-blocked",
        "blocked (blk-1)",
        id="disclosure-while-blocked",
    ),
    pytest.param(
        given_published,
        "withdrawals",
        {"policy_id": POLICY, "channel": "email"},
        409,
        "nothing-to-act",
        "no standing consent",
        id="withdrawal-of-nothing",
    ),
    pytest.param(
        given_consent,
        "blocks/blk-9/lift",
        {"outcome": "request_unfounded"},
        409,
        "nothing-to-act",
        "no block 'blk-9' in force",
        id="lifting-a-block-not-in-force",
    ),
    pytest.param(
        given_nothing,
        "blocks/blk-1/lift",
        {"outcome": "request_unfounded"},
        404,
        "not-found",
        f"subject {SUBJECT} is not recorded",
        id="lifting-on-an-unknown-subject",
    ),
    pytest.param(
        given_block,
        "destruction",
        {"ground": "subject_request"},
        409,
        "subject-blocked",
        "lift the block before destroying",
        id="destruction-while-blocked",
    ),
    pytest.param(
        given_destruction,
        "corrections",
        {"data_categories": ["contact"]},
        409,
        "subject-destroyed",
        "nothing more can be recorded",
        id="correction-after-destruction",
    ),
    pytest.param(
        given_destruction,
        "consents",
        a_consent(),
        409,
        "subject-destroyed",
        "nothing more can be recorded for them",
        id="consent-after-destruction",
    ),
    pytest.param(
        given_consent,
        "retractions",
        {"number": 9, "reason": "typo"},
        409,
        "nothing-to-act",
        "no retractable entry number 9",
        id="retracting-no-such-fact",
    ),
    pytest.param(
        given_consent,
        "written-permissions",
        {
            "permission_id": "wp-1",
            "recipient": "Insurer LLP",
            "recipient_category": "other",
            "purpose": "4.1.3",
            "document": "scan",
            "valid_from": "2026-03-01T00:00:00+05:00",
            "valid_until": "2026-02-01T00:00:00+05:00",
        },
        422,
        "invalid-fact",
        "valid_until must be after valid_from",
        id="permission-ending-before-it-starts",
    ),
]


@pytest.mark.parametrize(("given", "path", "body", "status", "kind", "detail"), REFUSALS)
def test_every_refusal_is_a_problem_that_says_why_and_records_nothing(
    *, ledger, client, given: Given, path: str, body: dict, status: int, kind: str, detail: str
):
    given(ledger)
    before = ledger.max_position()

    answer = problem(client.post(f"/v1/subjects/{SUBJECT}/{path}", json=body), status, kind)

    assert detail in answer["detail"]
    assert ledger.max_position() == before


def test_a_retry_with_the_same_idempotency_key_gets_the_first_receipt_and_records_nothing(ledger, client):
    given_published(ledger)
    key = {"Idempotency-Key": "consent-u-1-0001"}
    first = client.post(f"/v1/subjects/{SUBJECT}/consents", json=a_consent(), headers=key)
    position = ledger.max_position()

    retry = client.post(f"/v1/subjects/{SUBJECT}/consents", json=a_consent(), headers=key)

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert retry.json() == {**first.json(), "replayed": True}
    assert (retry.headers["location"], retry.headers["etag"]) == (first.headers["location"], first.headers["etag"])
    assert ledger.max_position() == position
    assert [f["event_type"] for f in client.get(FACTS).json()["facts"]] == ["Opened", "ConsentGranted"]


def test_an_idempotency_key_reused_for_another_body_is_refused_and_records_nothing(ledger, client):
    given_published(ledger)
    key = {"Idempotency-Key": "consent-u-1-0001"}
    client.post(f"/v1/subjects/{SUBJECT}/consents", json=a_consent(), headers=key)
    position = ledger.max_position()

    answer = problem(
        client.post(f"/v1/subjects/{SUBJECT}/consents", json={**a_consent(), "channel": "site"}, headers=key),
        422,
        "idempotency-key-reused",
    )

    assert "consent-u-1-0001" in answer["detail"]
    assert "use a new key" in answer["detail"]
    assert ledger.max_position() == position


def test_a_write_naming_the_version_last_read_is_recorded(ledger, client):
    given_consent(ledger)
    etag = client.get(FACTS).headers["etag"]

    response = client.post(
        f"/v1/subjects/{SUBJECT}/corrections", json={"data_categories": ["address"]}, headers={"If-Match": etag}
    )

    assert response.status_code == 201, response.text
    assert response.headers["etag"] == f'"{int(etag.strip(chr(34))) + 1}"'


def test_a_write_naming_a_stale_version_is_refused_with_412_and_records_nothing(ledger, client):
    given_consent(ledger)
    etag = client.get(FACTS).headers["etag"]
    client.post(f"/v1/subjects/{SUBJECT}/corrections", json={"data_categories": ["address"]})
    position = ledger.max_position()

    answer = problem(
        client.post(
            f"/v1/subjects/{SUBJECT}/corrections", json={"data_categories": ["contact"]}, headers={"If-Match": etag}
        ),
        412,
        "version-mismatch",
    )

    assert "read it again" in answer["detail"]
    assert ledger.max_position() == position


def test_after_destruction_the_facts_read_back_with_personal_fields_null_and_terms_intact(ledger, client):
    given_consent(ledger)
    client.post(f"/v1/subjects/{SUBJECT}/destruction", json={"ground": "retention_ended"})

    consent, destruction = client.get(FACTS).json()["facts"][1:]

    assert consent["fields"]["evidence"] is None
    assert consent["fields"]["method"] == "registration"
    assert consent["fields"]["text_sha256"] == sha("1")
    assert destruction["fields"] == {"ground": "retention_ended"}


def test_reading_the_facts_of_a_subject_never_recorded_is_a_404_problem(client):
    answer = problem(client.get("/v1/subjects/nobody/facts"), 404, "not-found")

    assert "'nobody' is not recorded" in answer["detail"]


BAD_REQUESTS = [
    pytest.param(
        {**a_consent(), "occurred_at": "2026-03-02T09:00:00"},
        {},
        "body",
        "/occurred_at",
        "timezone",
        id="naive-occurred-at",
    ),
    pytest.param(
        {**a_consent(), "valid_until": "2027-03-02"},
        {},
        "body",
        "/valid_until",
        "ISO 8601",
        id="date-without-time-or-offset",
    ),
    pytest.param(
        {**a_consent(), "occurred_at": "1772442000"},
        {},
        "body",
        "/occurred_at",
        "ISO 8601",
        id="unix-timestamp-as-a-string",
    ),
    pytest.param(
        {**a_consent(), "occurred_at": 1772442000}, {}, "body", "/occurred_at", "ISO 8601", id="unix-timestamp"
    ),
    pytest.param(
        {**a_consent(), "occurred_at": "0001-01-01T00:00:00+05:00"},
        {},
        "body",
        "/occurred_at",
        "1900",
        id="implausible-year",
    ),
    pytest.param({**a_consent(), "channel": "pigeon"}, {}, "body", "/channel", "'app'", id="unknown-channel"),
    pytest.param({**a_consent(), "language": "de"}, {}, "body", "/language", "'kk'", id="unknown-language"),
    pytest.param({**a_consent(), "evidence": "x" * 4001}, {}, "body", "/evidence", "at most 4000", id="huge-string"),
    pytest.param({**a_consent(), "policy_version": ""}, {}, "body", "/policy_version", "at least 1", id="empty-string"),
    pytest.param({**a_consent(), "channel": "app\u0000"}, {}, "body", "/channel", "'app'", id="nul-in-enum"),
    pytest.param({**a_consent(), "evidence": "ip\u0000"}, {}, "body", "/evidence", "pattern", id="nul-in-text"),
    pytest.param(
        {**a_consent(), "policy_version": "1\u0000"}, {}, "body", "/policy_version", "pattern", id="nul-in-a-name"
    ),
    pytest.param(
        {**a_consent(), "third_parties": "yes"}, {}, "body", "/third_parties", "boolean", id="string-for-a-flag"
    ),
    pytest.param({**a_consent(), "occured_at": NOW}, {}, "body", "/occured_at", "Extra inputs", id="misspelt-field"),
    pytest.param(
        {k: v for k, v in a_consent().items() if k != "method"},
        {},
        "body",
        "/method",
        "Field required",
        id="missing-field",
    ),
    pytest.param(a_consent(), {"If-Match": "3"}, "header", "If-Match", "pattern", id="unquoted-if-match"),
    pytest.param(
        a_consent(),
        {"Idempotency-Key": "a key"},
        "header",
        "Idempotency-Key",
        "pattern",
        id="idempotency-key-with-a-space",
    ),
]


@pytest.mark.parametrize(("body", "headers", "location", "name", "detail"), BAD_REQUESTS)
def test_a_malformed_request_is_a_422_problem_naming_the_part_and_records_nothing(
    *, ledger, client, body: dict, headers: dict, location: str, name: str, detail: str
):
    given_published(ledger)
    before = ledger.max_position()

    answer = problem(
        client.post(f"/v1/subjects/{SUBJECT}/consents", json=body, headers=headers), 422, "invalid-request"
    )

    assert [(e["in"], e["name"]) for e in answer["errors"]] == [(location, name)]
    assert detail in answer["errors"][0]["detail"]
    assert name in answer["detail"]
    assert ledger.max_position() == before


def test_a_write_without_a_bearer_token_is_a_401_problem_and_records_nothing(ledger):
    given_published(ledger)
    before = ledger.max_position()
    with TestClient(create_app(ledger), headers={"X-Caller": "orders-service"}) as anonymous:
        response = anonymous.post(f"/v1/subjects/{SUBJECT}/consents", json=a_consent())

    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert ledger.max_position() == before


def test_the_caller_recorded_is_the_tokens_name_whatever_x_caller_claims(ledger, client):
    given_consent(ledger)

    client.post(
        f"/v1/subjects/{SUBJECT}/corrections",
        json={"data_categories": ["address"]},
        headers={"X-Caller": "someone-else"},
    )

    assert client.get(FACTS).json()["facts"][-1]["recorded_by"] == "orders-service"


def test_a_subject_id_too_long_for_the_ledger_is_a_422_problem(client):
    answer = problem(
        client.post(f"/v1/subjects/{'u' * 201}/corrections", json={"data_categories": ["a"]}), 422, "invalid-request"
    )

    assert answer["errors"][0]["in"] == "path"


def test_a_caller_named_in_utf8_is_recorded_in_clear(ledger, client):
    given_consent(ledger)

    client.post(
        f"/v1/subjects/{SUBJECT}/corrections",
        json={"data_categories": ["address"]},
        headers={"Authorization": bearer(ledger, "Айгерим Сейткали")["Authorization"]},
    )

    assert client.get(FACTS).json()["facts"][-1]["recorded_by"] == "Айгерим Сейткали"


@pytest.mark.parametrize("subject", ["%2E%2E", "%2E", "a%0Ab"])
def test_a_subject_id_that_cannot_name_a_url_is_a_422_problem(ledger, client, subject: str):
    answer = problem(
        client.post(f"/v1/subjects/{subject}/corrections", json={"data_categories": ["a"]}), 422, "invalid-request"
    )

    assert answer["errors"][0]["in"] == "path"
    assert ledger.max_position() == 0
