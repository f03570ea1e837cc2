"""Evidence for a dispute and proofs for auditors: what a court or an auditor checks without trusting us.

`GET /v1/subjects/{subject_id}/evidence?at=T` (scope `evidence`, logged in the access log with
its declared purpose, as every read of one subject's data is) answers the evidence bundle of
`audit.evidence` as JSON, or as a printable HTML page (`Accept: text/html` or `?format=html`).
The `audit`-scoped routes under `/v1/audit` list and issue signed checkpoints, give inclusion and
consistency proofs (RFC 9162 sections 2.1.3, 2.1.4) and the public key to check them with.

The signing key is the app's `state.signing_key` (an `audit.notes.SigningKey`); without it, a
checkpoint cannot be signed and the public key is unknown, and those calls are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import HTMLResponse, Response
from starlette.requests import HTTPConnection

from api.deps import LedgerDep, SubjectEvidence, scoped
from api.log_watch import audit_log_of
from api.problems import problem_responses
from api.routes.questions import demo_example
from api.schemas.common import IN_A_PATH
from api.schemas.common import QueryMoment as Moment
from api.schemas.evidence import (
    CheckpointPublic,
    CheckpointsPublic,
    ConsistencyProofPublic,
    InclusionProofPublic,
    PublicKeyPublic,
)
from api.tokens import Scope
from audit.alarms import LogDamaged, LogHalted
from audit.evidence import build_bundle, bundle_bytes
from audit.evidence_html import render
from audit.evidence_words import Lang, pick_language
from audit.log import AuditLog, CheckpointRefused, NotWitnessed, ProofUnavailable
from audit.notes import SigningKey
from ledger.errors import InvalidFact, NotFound
from ledger.terms import SubjectId
from projections.projection import LedgerProjection

router = APIRouter()

AUDIT = [scoped(Scope.AUDIT)]
"""The proofs and checkpoints are for auditors: every `/v1/audit` route needs the `audit` scope."""

Size = Annotated[int, Query(ge=0, le=2**62)]


def audit_log(connection: HTTPConnection) -> AuditLog:
    """The audit log of the ledger this app serves, with the signing key and witnesses it was given."""
    return audit_log_of(connection)


AuditLogDep = Annotated[AuditLog, Depends(audit_log)]


def _signing_key(log: AuditLog) -> SigningKey:
    if log.signing_key is None:
        msg = "this server was started without the ledger's signing key; configure CONSENT_LEDGER_SIGNING_KEY"
        raise CheckpointRefused(msg)
    return log.signing_key


DemoSubject = Annotated[
    SubjectId,
    Path(
        min_length=1,
        max_length=200,
        pattern=IN_A_PATH,
        openapi_examples=demo_example("cust-1002", "the demo's minor whose paper consent was entered late"),
    ),
]
"""A subject id in the path, as `SubjectIdPath`, with an example that answers against the demo."""

EVIDENCE_RESPONSES = {
    200: {
        "description": "The evidence bundle: JSON (keys sorted), or the printable page with `Accept: text/html`.",
        "content": {"application/json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}},
    },
    **problem_responses(NotFound, CheckpointRefused, InvalidFact, LogDamaged, LogHalted, NotWitnessed),
}


@router.get("/subjects/{subject_id}/evidence", tags=["evidence"], response_class=Response, responses=EVIDENCE_RESPONSES)
def read_evidence(
    subject_id: DemoSubject,
    ledger: LedgerDep,
    log: AuditLogDep,
    access: SubjectEvidence,
    connection: HTTPConnection,
    at: Annotated[
        Moment | None,
        Query(
            description="The moment T the dispute is about (default: now), with offset.",
            openapi_examples=demo_example("2026-02-01T12:00:00+05:00", "1 Feb 2026"),
        ),
    ] = None,
    format: Annotated[  # noqa: A002  (the query parameter's public name)
        Literal["json", "html"] | None,
        Query(description="`html` for the printable page (as `Accept: text/html` asks)"),
    ] = None,
    lang: Annotated[
        Lang | None,
        Query(
            description="The printable page's language (default: by `Accept-Language`, "
            "else English); the facts stay as recorded."
        ),
    ] = None,
    accept: Annotated[str | None, Header()] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    """The evidence for one subject at T: what they had accepted and why, every event proven (Art. 8(4), 24)."""
    state = connection.app.state
    _signing_key(log)
    now: datetime = ledger.clock()
    quorum = int(getattr(state, "quorum", 0))
    bundle = build_bundle(ledger, log, subject_id, at=at or now, now=now, quorum=quorum)
    access.record(subject_id)
    wants_html = format == "html" or (format is None and "text/html" in (accept or ""))
    if wants_html:
        language = pick_language(lang, accept_language)
        page = render(bundle, language, LedgerProjection.calendar.zone)
        return HTMLResponse(page, headers={"Content-Language": language, "Vary": "Accept, Accept-Language"})
    return Response(bundle_bytes(bundle), media_type="application/json")


@router.get("/audit/checkpoints", tags=["audit"], dependencies=AUDIT, responses=problem_responses())
def list_checkpoints(log: AuditLogDep) -> CheckpointsPublic:
    """Every checkpoint ever signed, oldest first: each tree only grows from the one before."""
    return CheckpointsPublic(checkpoints=[CheckpointPublic.of(c) for c in log.checkpoints()])


@router.post(
    "/audit/checkpoints",
    tags=["audit"],
    dependencies=AUDIT,
    status_code=201,
    responses=problem_responses(CheckpointRefused),
)
def issue_checkpoint(log: AuditLogDep, ledger: LedgerDep) -> CheckpointPublic:
    """Sign a checkpoint of every event recorded so far, now."""
    _signing_key(log)
    return CheckpointPublic.of(log.issue_checkpoint(ledger.clock()))


@router.get(
    "/audit/proofs/inclusion", tags=["audit"], dependencies=AUDIT, responses=problem_responses(ProofUnavailable)
)
def inclusion_proof(
    log: AuditLogDep,
    position: Annotated[int, Query(ge=1, le=2**62, description="The event's log position.")],
    size: Annotated[
        int | None,
        Query(ge=0, le=2**62, description="Against the checkpoint of this many events (default: the newest)."),
    ] = None,
) -> InclusionProofPublic:
    """The proof that the event at `position` is in a signed checkpoint's tree."""
    return InclusionProofPublic.of(log.inclusion_proof(position, size))


@router.get(
    "/audit/proofs/consistency", tags=["audit"], dependencies=AUDIT, responses=problem_responses(ProofUnavailable)
)
def consistency_proof(
    log: AuditLogDep,
    from_size: Annotated[int, Query(ge=0, le=2**62, description="The earlier checkpoint's tree size.")],
    to_size: Annotated[
        int | None, Query(ge=0, le=2**62, description="The later checkpoint's tree size (default: the newest).")
    ] = None,
) -> ConsistencyProofPublic:
    """The proof that the log only grew between two signed checkpoints."""
    proof = log.consistency_proof(from_size, to_size)
    newest = log.latest_checkpoint(to_size)
    return ConsistencyProofPublic.of(proof, from_size, newest.size if newest else from_size)


@router.get("/audit/public-key", tags=["audit"], dependencies=AUDIT, responses=problem_responses(CheckpointRefused))
def public_key(log: AuditLogDep) -> PublicKeyPublic:
    """The key to check every checkpoint with, as `consent-ledger audit verify --public-key` takes it."""
    key = _signing_key(log)
    return PublicKeyPublic(origin=key.name, public_key=str(key.verifier))
