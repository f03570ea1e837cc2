"""What an operator sees: liveness, readiness with the projection lag, Prometheus metrics, JSON logs, request ids."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import orjson
import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import consent_body, consented, published
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.observability import log_json_lines
from api.tokens import Scope
from projections.keeper import open_view

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

CONSENTS = "/v1/subjects/{subject_id}/consents"


@pytest.fixture
def client(ledger: ConsentLedger, database: Database) -> Iterator[TestClient]:
    headers = bearer(ledger, "orders-service", Scope.WRITE, Scope.READ)
    with TestClient(create_app(ledger, open_view(database)), headers=headers) as client:
        yield client


def a_consent() -> dict[str, object]:
    return consent_body()


def metric(client: TestClient, name: str, **labels: str) -> float:
    """The current value of one sample on `/metrics` (0 when it is not there yet)."""
    page = client.get("/metrics")
    assert page.status_code == 200
    for family in text_string_to_metric_families(page.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_the_process_is_alive_even_without_a_ledger() -> None:
    with TestClient(create_app(None)) as client:
        answer = client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "alive"}


def test_a_server_with_a_current_view_is_ready(client: TestClient, ledger: ConsentLedger) -> None:
    published(ledger)
    client.app.state.keeper.catch_up()  # type: ignore[attr-defined]

    answer = client.get("/readyz")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ready", "log_position": 2, "view_position": 2, "lag": 0, "lag_seconds": 0}


def test_a_view_too_far_behind_the_log_makes_the_server_unready_until_it_catches_up(
    client: TestClient, ledger: ConsentLedger
) -> None:
    client.app.state.max_ready_lag = 2  # type: ignore[attr-defined]
    published(ledger)
    consented(ledger, "u-1")

    behind = client.get("/readyz")
    client.app.state.keeper.catch_up()  # type: ignore[attr-defined]
    caught_up = client.get("/readyz")

    assert behind.status_code == 503
    assert behind.headers["content-type"] == "application/problem+json"
    assert "Retry-After" in behind.headers
    assert behind.json()["detail"] == "the read model is 4 events behind the log (at most 2 allowed)"
    assert caught_up.status_code == 200


def test_requests_are_counted_and_timed_by_route_template_and_status(client: TestClient, ledger: ConsentLedger) -> None:
    published(ledger)
    labels = {"method": "POST", "route": CONSENTS}
    before_ok = metric(client, "consent_ledger_http_requests_total", status="201", **labels)
    before_bad = metric(client, "consent_ledger_http_requests_total", status="422", **labels)
    before_timed = metric(client, "consent_ledger_http_request_duration_seconds_count", status="201", **labels)

    for n in range(3):
        assert client.post(f"/v1/subjects/u-{n}/consents", json=a_consent()).status_code == 201
    assert client.post("/v1/subjects/u-9/consents", json={}).status_code == 422

    assert metric(client, "consent_ledger_http_requests_total", status="201", **labels) == before_ok + 3
    assert metric(client, "consent_ledger_http_requests_total", status="422", **labels) == before_bad + 1
    assert metric(client, "consent_ledger_http_request_duration_seconds_count", status="201", **labels) == (
        before_timed + 3
    )


def test_events_appended_counts_new_facts_not_idempotent_retries(client: TestClient, ledger: ConsentLedger) -> None:
    published(ledger)
    before = metric(client, "consent_ledger_events_appended_total", route=CONSENTS)

    first = client.post("/v1/subjects/u-1/consents", json=a_consent(), headers={"Idempotency-Key": "k-1"})
    retry = client.post("/v1/subjects/u-1/consents", json=a_consent(), headers={"Idempotency-Key": "k-1"})

    assert (first.status_code, retry.status_code) == (201, 200)
    assert metric(client, "consent_ledger_events_appended_total", route=CONSENTS) == before + 1


def test_the_projection_lag_is_reported_in_events_and_in_seconds_since_the_oldest_unprojected_event(
    client: TestClient, ledger: ConsentLedger, clock: FakeClock
) -> None:
    published(ledger)
    client.app.state.keeper.catch_up()  # type: ignore[attr-defined]
    consented(ledger, "u-1")  # opens the subject's record and records the consent: two events
    clock.advance(seconds=90)
    consented(ledger, "u-2")

    assert metric(client, "consent_ledger_projection_lag_events") == 4
    assert metric(client, "consent_ledger_projection_lag_seconds") == 90

    client.app.state.keeper.catch_up()  # type: ignore[attr-defined]

    assert metric(client, "consent_ledger_projection_lag_events") == 0
    assert metric(client, "consent_ledger_projection_lag_seconds") == 0


def test_a_request_id_given_by_the_caller_is_echoed_and_one_is_made_up_when_none_is_given(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "req-42"})
    made_up = client.get("/healthz")
    unusable = client.get("/healthz", headers={"X-Request-ID": "has spaces in it"})

    assert given.headers["X-Request-ID"] == "req-42"
    assert len(made_up.headers["X-Request-ID"]) == 32
    assert unusable.headers["X-Request-ID"] != "has spaces in it"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    names = ("api", "projections", "ledger", "uvicorn.error")
    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level) for n in names
    }
    stream = io.StringIO()
    log_json_lines(stream)
    yield stream
    for n, (handlers, propagate, level) in saved.items():
        logging.getLogger(n).handlers, logging.getLogger(n).propagate = handlers, propagate
        logging.getLogger(n).setLevel(level)


def test_each_request_is_logged_as_one_json_line_with_its_request_id_route_status_and_duration(
    client: TestClient, json_log: io.StringIO
) -> None:
    client.post("/v1/subjects/u-1/consents", json={}, headers={"X-Request-ID": "trace-7"})

    lines = [orjson.loads(line) for line in json_log.getvalue().splitlines()]
    (entry,) = [line for line in lines if line.get("request_id") == "trace-7"]
    assert entry["method"] == "POST"
    assert entry["route"] == CONSENTS
    assert entry["status"] == 422
    assert entry["level"] == "info"
    assert entry["duration_ms"] >= 0
    assert entry["time"].endswith("+00:00")
