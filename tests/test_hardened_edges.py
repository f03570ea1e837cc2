"""The edges of the HTTP API, hardened: long-lived connections re-authorised, ids spelt one way, strict bodies."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from bearer import bearer
from given import consented, published
from serving import served_in_thread

from api.app import create_app
from api.routes import feed
from api.tokens import Scope, TokenStore

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

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
