"""The app each uvicorn worker builds for itself: `uvicorn --factory cli.asgi:create` (what `serve --workers N` runs).

A worker process starts from an import string, not from the parent's objects, so everything it
needs comes from the environment: the `CONSENT_LEDGER_*` settings (which `serve` exports from
its options) and whether this worker keeps the read model current itself.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from api.app import create_app
from api.observability import log_json_lines
from api.routes.public_log import serve_log
from api.routes.receipts import serve_receipts
from cli.composition import (
    StartupError,
    open_audit_log,
    open_configured_ledger,
    open_configured_view,
    open_receipt_key,
)
from cli.settings import ConfigurationError, load_settings
from projections.keeper import BackgroundKeeper

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

KEEPS_VIEW = "CONSENT_LEDGER_WORKER_KEEPS_VIEW"
"""`0` when separate `project` processes keep the read model, so the HTTP workers do not follow the log too."""


def create() -> FastAPI:
    """Open the configured ledger and read model and serve them; the ledger closes when the worker stops."""
    log_json_lines()
    try:
        settings = load_settings()
        ledger = open_configured_ledger(settings)
    except (ConfigurationError, StartupError) as e:
        raise SystemExit(f"error: {e}") from None
    try:
        audit_log = open_audit_log(settings, ledger)  # every worker signs with the one shared key
    except StartupError as e:
        ledger.close()
        raise SystemExit(f"error: {e}") from None
    try:
        receipts = open_receipt_key(settings, audit_log)  # every worker signs receipts with the one shared key
    except StartupError as e:
        ledger.close()
        raise SystemExit(f"error: {e}") from None
    view = open_configured_view(settings)
    http = create_app(ledger, view)
    serve_log(http, audit_log, settings.quorum)
    serve_receipts(http, receipts)
    http.state.max_view_lag = settings.max_view_lag
    keeper = BackgroundKeeper(http.state.keeper) if os.environ.get(KEEPS_VIEW, "1") != "0" else None
    serving = http.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        if keeper is not None:
            keeper.start()
        try:
            async with serving(app) as state:
                yield state
        finally:
            if keeper is not None:
                keeper.stop()
            ledger.close()

    http.router.lifespan_context = lifespan
    return http
