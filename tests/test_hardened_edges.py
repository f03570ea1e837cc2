"""The edges of the HTTP API, hardened: long-lived connections re-authorised, ids spelt one way, strict bodies."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import consent_body, consented, published
from serving import served_in_thread

from api.app import create_app
from api.routes import feed
from api.tokens import Scope, TokenStore
from ledger.errors import InvalidFact
from projections.keeper import open_view

if TYPE_CHECKING:
    from ledger.application import ConsentLedger
    from ledger.storage import Database

PROBLEM = "application/problem+json"
WITHIN = 5.0
"""A revocation ends an open stream within a few seconds."""


def test_a_revoked_token_loses_its_open_event_stream_within_seconds(ledger: ConsentLedger, monkeypatch):
    monkeypatch.setattr(feed, "KEEPALIVE_SECONDS", 0.3)  # lines keep coming while the stream idles
    published(ledger)
    auditor = bearer(ledger, "analytics-service", Scope.AUDIT)
    with (
        served_in_thread(create_app(ledger)) as base,
        httpx.Client(base_url=base, timeout=10) as http,
        http.stream("GET", "/v1/events/stream", headers=auditor) as stream,
    ):
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("id: "))  # it delivers events
        TokenStore(ledger).revoke("analytics-service", datetime(2026, 3, 2, tzinfo=UTC))
        revoked_at = time.monotonic()
        rest = []
        for line in lines:  # keep-alive comments come every 0.3 s: the loop looks at the clock that often
            rest.append(line)
            if line == "event: revoked" or time.monotonic() - revoked_at > WITHIN:
                break
        ended_after = time.monotonic() - revoked_at
        last = list(lines) if rest[-1] == "event: revoked" else []  # its data, then the server ends the stream
        consented(ledger, "u-after")
        again = http.get("/v1/events", headers=auditor)

    assert "event: revoked" in rest
    assert ended_after < WITHIN
    assert [line for line in last if line] == ['data: {"detail": "the token was revoked or lost the audit scope"}']
    assert again.status_code == 401


@pytest.fixture
def client(ledger: ConsentLedger, database: Database) -> Iterator[TestClient]:
    published(ledger)
    with TestClient(create_app(ledger, open_view(database)), headers=bearer(ledger, "orders-service")) as client:
        yield client


def refused_and_nothing_recorded(ledger: ConsentLedger, answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert ledger.max_position() == 2  # the policy's version alone (its record opened, then published)
    return dict(answer.json())


@pytest.mark.parametrize("spelling", ["%ff", "%fe", "%ED%A0%80", "%C0%AE%C0%AE", "u%ff-1"])
def test_a_path_id_that_is_not_utf8_is_a_400_and_names_no_record(client, ledger, spelling):
    answer = client.post(f"/v1/subjects/{spelling}/consents", json=consent_body())

    problem = refused_and_nothing_recorded(ledger, answer, 400)
    assert "UTF-8" in str(problem["detail"])


def test_distinct_utf8_spellings_name_distinct_records(client):
    replacement = client.post("/v1/subjects/%EF%BF%BD/consents", json=consent_body())  # U+FFFD itself, spelt in UTF-8
    other = client.post("/v1/subjects/%C3%BF/consents", json=consent_body())  # ÿ, which %ff meant in Latin-1

    assert (replacement.status_code, other.status_code) == (201, 201), (replacement.text, other.text)
    assert replacement.json()["aggregate_id"] != other.json()["aggregate_id"]


def test_a_query_that_is_not_utf8_is_a_400(client, ledger):
    answer = client.get("/v1/policies/qlever-privacy/version-in-effect?at=%ff")

    refused_and_nothing_recorded(ledger, answer, 400)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(json.dumps(consent_body()).encode("utf-16"), id="utf-16 with its byte-order mark"),
        pytest.param(json.dumps(consent_body()).encode("utf-16-le"), id="utf-16 without one"),
        pytest.param(json.dumps(consent_body()).encode("utf-32"), id="utf-32"),
        pytest.param(b"\xef\xbb\xbf" + json.dumps(consent_body()).encode(), id="utf-8 with a byte-order mark"),
        pytest.param(json.dumps(consent_body()).encode()[:-1] + b', "channel": "site"}', id="a key twice"),
    ],
)
def test_a_body_that_is_not_plain_utf8_json_or_repeats_a_key_is_a_400(client, ledger, body):
    answer = client.post("/v1/subjects/u-1/consents", content=body, headers={"Content-Type": "application/json"})

    refused_and_nothing_recorded(ledger, answer, 400)


@pytest.mark.parametrize("character", ["\u0085", "\u009b", "\u2028", "\u2029", "\u202e", "\u2066"])
def test_a_single_line_value_holding_a_c1_control_a_line_separator_or_a_bidi_override_is_refused(
    client, ledger, character
):
    channel = client.post("/v1/subjects/u-1/consents", json=consent_body(channel=f"app{character}exe"))
    subject = client.post(f"/v1/subjects/u{quote(character)}1/consents", json=consent_body())
    purpose = client.get("/v1/subjects/u-1/block-status", headers={"X-Purpose": f"audit{character}".encode()})

    refused_and_nothing_recorded(ledger, channel, 422)
    refused_and_nothing_recorded(ledger, subject, 422)
    refused_and_nothing_recorded(ledger, purpose, 422)
    with pytest.raises(InvalidFact):
        TokenStore(ledger).create(f"bot{character}", {Scope.READ}, datetime(2026, 3, 2, tzinfo=UTC))


def test_two_authorization_headers_are_a_400_even_when_both_are_valid(ledger):
    first, second = (bearer(ledger, name)["Authorization"] for name in ("one", "two"))
    with TestClient(create_app(ledger)) as client:
        answer = client.get("/v1/events", headers=[("Authorization", first), ("Authorization", second)])

    assert answer.status_code == 400
    assert answer.headers["content-type"] == PROBLEM
    assert "authorization" in answer.json()["detail"]


def test_answers_holding_one_subjects_data_may_not_be_stored_by_any_cache(client, ledger):
    consented(ledger, "u-1")
    facts = client.get("/v1/subjects/u-1/facts", headers={"X-Purpose": "answering the subject's request"})
    check = client.get("/v1/subjects/u-1/block-status", headers={"X-Purpose": "answering the subject's request"})
    policy = client.get("/v1/policies/qlever-privacy")

    assert facts.status_code == check.status_code == policy.status_code == 200
    assert facts.headers["cache-control"] == check.headers["cache-control"] == "no-store"
    assert "cache-control" not in policy.headers


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE"])
def test_a_method_not_allowed_names_every_method_the_path_answers(client, method):
    answer = client.request(method, "/v1/audit/checkpoints")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"


def test_the_openapi_document_states_the_bounds_of_times_and_that_if_match_is_a_string(client):
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/subjects/{subject_id}/consents"]["post"]
    if_match = next(p for p in operation["parameters"] if p["name"] == "If-Match")
    occurred_at = document["components"]["schemas"]["AcceptanceBody"]["properties"]["occurred_at"]["anyOf"][0]
    question = document["paths"]["/v1/policies/{policy_id}/version-in-effect"]["get"]
    at = next(p for p in question["parameters"] if p["name"] == "at")["schema"]["anyOf"][0]

    assert if_match["schema"]["type"] == "string"
    assert "anyOf" not in if_match["schema"]
    assert occurred_at == at
    for written, accepted in [
        ("1900-01-01T00:00:00+05:00", True),
        ("9998-12-31T23:59:59-05:00", True),
        ("1899-12-31T23:59:59-05:00", False),
        ("9999-01-01T00:00:00+05:00", False),
    ]:
        answer = client.get("/v1/policies/qlever-privacy/version-in-effect", params={"at": written})
        assert (re.match(at["pattern"], written) is not None) == accepted
        assert (answer.status_code == 200) == accepted, (written, answer.text)
