"""Refusals of the read side."""

from __future__ import annotations

from ledger.errors import LedgerError


class ViewBehind(LedgerError):
    """The view had not reached the position the caller asked to wait for; retry shortly."""

    title = "The read model has not caught up yet"
