"""Callers for HTTP tests: a token made on the test's ledger, sent as `Authorization: Bearer`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from api.tokens import Scope, TokenStore

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

PURPOSE = "answering the subject's request"
"""The purpose test callers declare when they read one subject's data."""


def token(ledger: ConsentLedger, name: str, *scopes: Scope) -> str:
    """A new token's secret, with the given scopes (every scope when none is named)."""
    return TokenStore(ledger).create(name, set(scopes or Scope), datetime(2026, 1, 1, tzinfo=UTC))


def bearer(ledger: ConsentLedger, name: str, *scopes: Scope) -> dict[str, str]:
    """Headers of a caller named `name` with these scopes (all when none), declaring a purpose for reads."""
    return {"Authorization": f"Bearer {token(ledger, name, *scopes)}", "X-Purpose": PURPOSE}
