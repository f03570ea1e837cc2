"""The witness's own HTTP app (C2SP `tlog-witness`): `POST /add-checkpoint`, the monitoring GET, a health probe.

A witness runs apart from the ledger, on its own key and store (`audit.witness`); this app is all
it serves. The answers are the specification's: 200 with the cosignature line(s) as text, 409
with the size it holds as `text/x.tlog.size`, and 400, 403, 404, 422 (and 503 when its clock is
behind its last cosignature) as RFC 9457 problems whose `detail` says why, which a client that
only reads the status understands as well. The clock is read here, at the edge, and handed in.
"""

from __future__ import annotations

import time
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.limits import BodyLimit
from api.problems import TYPE_PREFIX, ProblemResponse
from audit.witness import Witness, WitnessRefusal

MAX_SUBMISSION_BYTES = 64 * 1024
"""A checkpoint, 63 proof lines and a few signatures fit in a few kilobytes; anything far larger is refused (413)."""

SIZE_MEDIA_TYPE = "text/x.tlog.size"


def create_witness_app(witness: Witness) -> FastAPI:
    """Serve one witness over HTTP."""
    app = FastAPI(
        title="consent-ledger witness",
        version="1",
        description="A C2SP tlog-witness: cosigns a log's checkpoints after checking each extends the last.",
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_SUBMISSION_BYTES)
    app.state.witness = witness

    @app.post("/add-checkpoint", response_class=PlainTextResponse)
    async def add_checkpoint(request: Request) -> Response:
        """Cosign the submitted checkpoint if it extends the one this witness last cosigned for its log."""
        body = await request.body()
        try:
            line = await run_in_threadpool(witness.add_checkpoint, body, int(time.time()))
        except WitnessRefusal as refusal:
            return refused(request, refusal)
        return PlainTextResponse(line)

    @app.get("/{origin_hash}/checkpoint", response_class=PlainTextResponse)
    async def held_checkpoint(origin_hash: str, request: Request) -> Response:
        """The latest checkpoint cosigned for the log whose origin hashes (SHA-256, hex) to `origin_hash`."""
        note = await run_in_threadpool(witness.held_note, origin_hash)
        if note is None:
            return refused(request, WitnessRefusal(404, "this witness has cosigned no checkpoint of that log"))
        return PlainTextResponse(note)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Answer 200 whenever the witness can answer at all."""
        return {"status": "alive", "witness": str(witness.key.verifier)}

    return app


def refused(request: Request, refusal: WitnessRefusal) -> Response:
    """The specification's answer to a refusal: the size for a 409, a problem otherwise."""
    if refusal.status == HTTPStatus.CONFLICT:
        return Response(f"{refusal.size}\n", 409, headers={"Content-Type": SIZE_MEDIA_TYPE})  # exactly, no charset
    phrase = HTTPStatus(refusal.status).phrase
    body = {
        "type": TYPE_PREFIX + "witness-" + phrase.lower().replace(" ", "-"),
        "title": phrase,
        "status": refusal.status,
        "detail": str(refusal),
        "instance": request.url.path,
    }
    return ProblemResponse(body, refusal.status)
