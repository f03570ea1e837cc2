"""The public face of the log, without a token: its latest checkpoint, its public key, consistency proofs.

Anyone who once kept a checkpoint can hold the operator to it: fetch the newest checkpoint (a
C2SP signed note, with the witnesses' cosignatures once they gave some) and ask for the RFC 9162
consistency proof from the size they kept. These answers are the formats of C2SP and RFC 9162
as text, so a verifier that is not ours reads them as they are. They show no personal data:
sizes, hashes and signatures only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request

from api.log_watch import audit_log_of
from api.problems import problem_responses
from audit.log import AuditLog, CheckpointRefused, ProofUnavailable
from audit.notes import b64

router = APIRouter(prefix="/log", tags=["public log"])


def _log(connection: HTTPConnection) -> AuditLog:
    return audit_log_of(connection)


PublicLog = Annotated[AuditLog, Depends(_log)]
TEXT: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}


def serve_log(app: FastAPI, audit_log: AuditLog, quorum: int) -> None:
    """Serve `audit_log` (its key and witnesses) from `app`: public routes, evidence and checkpoints use it."""
    app.state.audit_log = audit_log
    app.state.signing_key = audit_log.signing_key
    app.state.witnesses = audit_log.witnesses
    app.state.quorum = quorum


def quorum_of(connection: HTTPConnection) -> int:
    """How many witness cosignatures a checkpoint needs before this app serves or uses it."""
    return int(getattr(connection.app.state, "quorum", 0))


@router.get("/checkpoint", response_class=PlainTextResponse, responses={**TEXT, **problem_responses(ProofUnavailable)})
async def latest_checkpoint(log: PublicLog, request: Request) -> PlainTextResponse:
    """The newest checkpoint the witness quorum cosigned (C2SP signed note, with their cosignature lines)."""
    quorum = quorum_of(request)
    issued = await run_in_threadpool(log.latest_witnessed, quorum)
    if issued is None:
        what = f"no checkpoint has been cosigned by {quorum} witness(es) yet" if quorum else "no checkpoint yet"
        raise ProofUnavailable(what)
    return PlainTextResponse(issued.published)


@router.get("/public-key", response_class=PlainTextResponse, responses={**TEXT, **problem_responses(CheckpointRefused)})
async def public_key(log: PublicLog) -> PlainTextResponse:
    """The log's verifier key `<name>+<hex key id>+<base64 key>` (C2SP signed-note), to check its checkpoints with."""
    key = log.signing_key_verifier()
    if key is None:
        msg = "this server was started without the log's signing key, so it cannot say its public key"
        raise CheckpointRefused(msg)
    return PlainTextResponse(f"{key}\n")


@router.get("/consistency", response_class=PlainTextResponse, responses={**TEXT, **problem_responses(ProofUnavailable)})
async def consistency(
    log: PublicLog,
    request: Request,
    old: Annotated[int, Query(ge=0, le=2**62, description="The tree size of a checkpoint you kept.")],
    new: Annotated[
        int | None, Query(ge=0, le=2**62, description="A later checkpoint's size (default: the newest served).")
    ] = None,
) -> PlainTextResponse:
    """The RFC 9162 consistency proof from the checkpoint of `old` events to that of `new`, a base64 hash a line."""
    quorum = quorum_of(request)

    def proof() -> str:
        newest = log.latest_witnessed(quorum) if new is None else log.latest_checkpoint(new)
        if newest is None:
            raise ProofUnavailable("no checkpoint has been issued yet" if new is None else f"no checkpoint of {new}")
        document = log.consistency_proof(old, newest.size)
        return "".join(f"{b64(h)}\n" for h in document.path)

    return PlainTextResponse(await run_in_threadpool(proof))
