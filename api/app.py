"""The app factory: one ledger in, the HTTP API of its write side out, under `/v1`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from api import problems
from api.deps import AUTH_RESPONSES
from api.desk.routes import router as desk
from api.limits import BodyLimit
from api.observability import Observed
from api.routes import (
    access_log,
    breaches,
    claims,
    evidence,
    facts,
    feed,
    health,
    policies,
    public_log,
    questions,
    receipts,
    records,
    subjects,
)
from api.routes.docs import router as docs_page
from projections.keeper import ViewKeeper
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ledger.application import ConsentLedger
    from projections.view import LedgerView

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Room for a policy's three texts; anything larger is refused with 413 before it is parsed."""

DESCRIPTION = """\
Records every fact of the privacy policy as an immutable event: policy versions, consents,
withdrawals, written permissions, disclosures, blocks, corrections, destruction, breaches and
pre-trial claims. Every call carries a bearer token with the scope its operation needs; every write
is recorded under the token's name, may carry an `Idempotency-Key`,
and answers `201` with a receipt (or `200` for a retry). Every refusal is an RFC 9457
`application/problem+json` whose `detail` says what to do next. Every read of one subject's
data declares its purpose (`X-Purpose`) and is kept in the access log that auditors read.
"""


class LedgerApi(FastAPI):
    """FastAPI, with the `Problem` schema every error response refers to in its OpenAPI document."""

    def openapi(self) -> dict[str, Any]:
        """Build the OpenAPI document once, with `Problem` added to its components."""
        if self.openapi_schema is None:
            document = super().openapi()
            document.setdefault("components", {}).setdefault("schemas", {}).update(problems.problem_schemas())
        return self.openapi_schema or {}


def create_app(ledger: ConsentLedger | None, view: LedgerView | None = None) -> FastAPI:
    """Serve one ledger over HTTP: each resource's router under `/v1`, each refusal as a problem.

    With a `view`, the questions of the read side are answered from it; whoever keeps it
    current (the `serve` command's background keeper) is the caller's business, but a read
    that waits for a position catches the view up itself.
    """
    app = LedgerApi(
        title="Consent ledger",
        version="1",
        description=DESCRIPTION,
        exception_handlers=problems.HANDLERS,
        docs_url=None,  # served from packaged assets by api.routes.docs, not from a CDN
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(Observed)  # outermost of ours: times, counts and logs every answer, refusals included
    app.state.ledger = ledger
    attach_view(app, ledger, view)
    for resource in (
        facts,
        policies,
        subjects,
        breaches,
        claims,
        questions,
        records,
        receipts,
        feed,
        access_log,
        evidence,
    ):
        app.include_router(resource.router, prefix="/v1", responses=AUTH_RESPONSES)  # every /v1 route needs a token
    app.include_router(public_log.router, prefix="/v1")  # the log's checkpoint, key and proofs: public, no token
    app.include_router(receipts.public, prefix="/v1")  # the receipt key: public, no token
    app.include_router(health.router)
    app.include_router(docs_page)
    app.include_router(desk)  # the disputes desk's pages, under /desk/
    app.router.lifespan_context = _draining_writes(app.router.lifespan_context)
    return app


def _draining_writes(serving: Any) -> Any:
    """At shutdown, commit every write already queued for the group committer before anything closes."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        try:
            async with serving(app) as state:
                yield state
        finally:
            committer = getattr(app.state, "committer", None)
            if committer is not None:
                await asyncio.to_thread(committer.close)

    return lifespan


def attach_view(app: FastAPI, ledger: ConsentLedger | None, view: LedgerView | None) -> None:
    """Answer the read side's questions from `view` (or refuse them, when there is none)."""
    app.state.questions = LedgerQuestions(view) if view is not None else None
    app.state.keeper = ViewKeeper(ledger, view) if view is not None and ledger is not None else None
