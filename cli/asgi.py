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
from audit.log import AuditLog
from cli import audit_commands
from cli.composition import StartupError, open_configured_ledger, open_configured_view
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
    view = open_configured_view(settings)
    http = create_app(ledger, view)
    http.state.max_view_lag = settings.max_view_lag
    if os.environ.get(audit_commands.SIGNING_KEY_ENV):  # every worker signs with the one shared key
        log = AuditLog(ledger)
        http.state.signing_key = audit_commands.signing_key_for(settings.database, log)
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
