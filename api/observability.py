"""What an operator watches: Prometheus metrics, one JSON log line per request, a request id on every answer.

Metrics are process-wide (prometheus-client keeps them per process; with several uvicorn
workers `serve` sets `PROMETHEUS_MULTIPROC_DIR` and `/metrics` adds up every worker's files).
The projection lag is not a counter any process keeps: it is asked of the database at scrape time.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from datetime import UTC, datetime
from time import perf_counter
from typing import TYPE_CHECKING, Any, TextIO

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.log_watch import LogHealth

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from api.log_watch import LogWatch
    from ledger.application import ConsentLedger
    from projections.view import LedgerView

_REQUEST_ID_PATTERN = re.compile(r"^[\x21-\x7e]{1,200}$")

REQUESTS = Counter(
    "consent_ledger_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
"""Request rate by route and status, for alerts on refusals and faults."""

LATENCY = Histogram(
    "consent_ledger_http_request_duration_seconds",
    "Time from request to the last byte of the answer.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
"""Latency by route and status: the service-level objective is measured on it."""

EVENTS_APPENDED = Counter(
    "consent_ledger_events_appended",
    "Facts recorded through this service (a write answered 201 with a receipt).",
    ["route"],
)
"""Write throughput in facts, not requests: idempotent retries (200) add nothing."""

request_log = logging.getLogger("api.requests")
"""One line per HTTP request (not to be confused with the access log of subject reads that auditors query)."""


def route_of(scope: Scope) -> str:
    """The route template that answered (`/v1/subjects/{subject_id}`), never the raw path: bounded label values.

    FastAPI 0.165 keeps an included router's routes with paths relative to it, and records the
    full template only in its per-request context; the route's own path is the fallback.
    """
    context = scope.get("fastapi", {}).get("effective_route_context")
    path: object = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


def request_id_of(scope: Scope) -> str:
    """The `X-Request-ID` a caller or proxy sent, if it is a sane token, else a new one: it ties log lines together."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = bytes(value).decode("latin-1")
            if _REQUEST_ID_PATTERN.fullmatch(given):
                return given
    return uuid.uuid4().hex


_SERIES: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter | None]] = {}
"""Each (method, route, status)'s metric series, found once: `labels()` checks and locks on every call."""


def _series(method: str, route: str, status: int) -> tuple[Counter, Histogram, Counter | None]:
    """The request counter, latency histogram and (for a 201 to a POST) events counter of one kind of answer."""
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        created = method == "POST" and status == 201  # noqa: PLR2004  (201 Created: a new fact with its receipt)
        labels = (method, route, str(status))
        appended = EVENTS_APPENDED.labels(route) if created else None
        series = _SERIES[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels), appended)
    return series


class Observed:
    """ASGI middleware: request id in and out, metrics and one access-log line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request, tag its answer with the request id, and count and log it when it ends."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = perf_counter()
        status = 500

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            self._record(scope, request_id, status, perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, request_id: str, status: int, seconds: float) -> None:
        route, method = route_of(scope), str(scope["method"])
        requests, latency, appended = _series(method, route, status)
        requests.inc()
        latency.observe(seconds)
        if appended is not None:
            appended.inc()
        level = logging.INFO if status < 500 else logging.WARNING if status == 503 else logging.ERROR  # noqa: PLR2004
        request_log.log(
            level,
            "%s %s %s",
            method,
            route,
            status,
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the request's fields when it has them."""

    FIELDS = ("request_id", "method", "route", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as compact JSON (orjson), with the traceback as a field."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in self.FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def log_json_lines(stream: TextIO = sys.stderr, level: int = logging.INFO) -> logging.Handler:
    """Send the service's log records (`api`, `projections`, `ledger`, uvicorn's) to `stream` as JSON lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    for name in ("api", "projections", "ledger", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers = [h for h in logger.handlers if not isinstance(h.formatter, JsonLines)] + [handler]
        logger.propagate = False
    return handler


class ProjectionLag(Collector):
    """The view's lag behind the log, asked of the database at each scrape (every worker sees the same)."""

    def __init__(self, ledger: ConsentLedger, view: LedgerView) -> None:
        self.ledger = ledger
        self.view = view

    def collect(self) -> Iterator[Metric]:
        """Yield the lag in events and the age in seconds of the oldest event not yet projected."""
        newest, projected = self.ledger.max_position(), self.view.position()
        events = GaugeMetricFamily(
            "consent_ledger_projection_lag_events", "Events in the log the read model does not reflect yet."
        )
        events.add_metric([], max(0, newest - projected))
        seconds = GaugeMetricFamily(
            "consent_ledger_projection_lag_seconds", "Age of the oldest event the read model does not reflect yet."
        )
        seconds.add_metric([], oldest_unprojected_age(self.ledger, projected))
        yield events
        yield seconds


def oldest_unprojected_age(ledger: ConsentLedger, projected: int) -> float:
    """Seconds since the first event after `projected` was recorded (0 when the view is current)."""
    notes = ledger.recorder.select_notifications(start=projected + 1, limit=1)
    if not notes:
        return 0.0
    recorded = orjson.loads(notes[0].state).get("timestamp")
    if not isinstance(recorded, str):
        return 0.0
    return max(0.0, (ledger.clock() - datetime.fromisoformat(recorded)).total_seconds())


def exposition(
    ledger: ConsentLedger | None, view: LedgerView | None, watch: LogWatch | None = None
) -> tuple[bytes, str]:
    """The metrics page: this process's (or every worker's) metrics, the projection lag and the log's health."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        page = generate_latest(registry)
    else:
        page = generate_latest(REGISTRY)
    if ledger is not None and view is not None:
        lag = CollectorRegistry(auto_describe=False)
        lag.register(ProjectionLag(ledger, view))
        page += generate_latest(lag)
    if watch is not None:
        health = CollectorRegistry(auto_describe=False)
        health.register(LogHealth(watch))
        page += generate_latest(health)
    return page, CONTENT_TYPE_LATEST
