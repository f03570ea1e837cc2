"""What a load balancer and Prometheus ask: is the process alive, may it take traffic, and how is it doing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.log_watch import log_watch
from api.observability import exposition
from api.problems import DATABASE_RETRY_AFTER_SECONDS, TYPE_PREFIX, ProblemResponse, is_database_unavailable
from projections.keeper import MAX_LAG_SECONDS

if TYPE_CHECKING:
    from api.log_watch import LogWatch
    from ledger.application import ConsentLedger
    from projections.keeper import ViewKeeper
    from projections.view import LedgerView

router = APIRouter(tags=["operations"], include_in_schema=False)
"""Probes and metrics are for the platform, not API clients: they stay out of the OpenAPI document."""

MAX_READY_LAG = 1000
"""A view further behind the log than this many events makes the process unready (`app.state.max_ready_lag`)."""


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answer 200 whenever the process can answer at all; restart it when it cannot.

    On the event loop, not in the thread pool: requests that wait on a slow database fill the
    pool, and a liveness probe stuck behind them would get a healthy process restarted.
    """
    return {"status": "alive"}


def readiness(
    ledger: ConsentLedger | None,
    keeper: ViewKeeper | None,
    max_lag: int,
    max_seconds: float,
    watch: LogWatch | None = None,
) -> tuple[str | None, dict[str, object]]:
    """Why the process should not take traffic (None if it may), with the positions and the lag it saw.

    Not ready while the read model is more than `max_lag` events behind the log, or lacks an
    event recorded more than `max_seconds` ago: its answers would not be current. A keeper that
    failed and is being started again is named, with what it failed on. A raised alarm of the log
    (a fork, or stored events that no longer match it) makes it unready too.
    """
    if ledger is None:
        return "this server was started without a ledger", {}
    try:
        _ping(ledger)
        lag = keeper.lag() if keeper is not None else None
        newest = ledger.max_position() if lag is None else lag.log_position
        alarms = watch.alarms() if watch is not None else []
    except Exception as e:
        if is_database_unavailable(e):
            return "the database does not answer", {}
        raise
    behind, seconds = (lag.events, lag.seconds) if lag is not None else (0, 0.0)
    positions: dict[str, object] = {
        "log_position": newest,
        "view_position": newest - behind,
        "lag": behind,
        "lag_seconds": round(seconds, 3),
    }
    failure = keeper.failure if keeper is not None else None
    if failure is not None:
        positions["keeper"] = f"failed {keeper.failures} time(s) in a row, last: {_first_line(failure)}"  # type: ignore[union-attr]
    if alarms:
        return "; ".join(f"the log's {a.kind} alarm: {a.sentence()}" for a in alarms), positions
    if behind > max_lag:
        return f"the read model is {behind} events behind the log (at most {max_lag} allowed)", positions
    if seconds > max_seconds:
        reason = f"the read model lacks an event recorded {seconds:.1f} s ago (at most {max_seconds:g} s allowed)"
        return reason, positions
    return None, positions


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _ping(ledger: ConsentLedger) -> None:
    """Ask the database one trivial question, once: the recorder's own calls retry for seconds before failing."""
    datastore: Any = ledger.recorder.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT 1")


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Answer 200 when the database answers and the read model is close to the log, else 503 with the reason."""
    state = request.app.state
    max_lag = int(getattr(state, "max_ready_lag", MAX_READY_LAG))
    max_seconds = float(getattr(state, "max_view_lag", MAX_LAG_SECONDS))
    keeper = getattr(state, "keeper", None)
    watch = log_watch(request) if state.ledger is not None else None
    reason, positions = await run_in_threadpool(readiness, state.ledger, keeper, max_lag, max_seconds, watch)
    if reason is None:
        return JSONResponse({"status": "ready", **positions})
    body = {
        "type": TYPE_PREFIX + "not-ready",
        "title": "Not ready",
        "status": 503,
        "detail": reason,
        "instance": request.url.path,
        **positions,
    }
    return ProblemResponse(body, 503, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """The Prometheus text exposition: requests and latencies by route, events appended, projection lag."""
    try:
        ledger = request.app.state.ledger
        watch = log_watch(request) if ledger is not None else None
        page, media_type = await run_in_threadpool(exposition, ledger, _view(request), watch)
    except Exception as e:
        if not is_database_unavailable(e):
            raise
        page, media_type = await run_in_threadpool(exposition, None, None)  # the lag is unknown, the rest is not
    return Response(page, media_type=media_type)


def _view(request: Request) -> LedgerView | None:
    keeper = getattr(request.app.state, "keeper", None)
    return None if keeper is None else cast("LedgerView", keeper.view)
