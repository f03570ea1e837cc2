"""Signed consent receipts: the one a subject holds for each consent event, and the public key to check it with.

`GET /v1/log/receipt-key` is public, like the log's own key: anyone holding a receipt checks it
with that JWK (and the log's key, for the checkpoint it carries). A receipt is served for a
consent event of the subject named (a prompt, a refusal, a consent, a withdrawal), at its log
position, as a compact JWS (`application/jose`): the ISO/IEC TS 27560 receipt, or with
`format=kantara-1.1` the Kantara Consent Receipt v1.1 of the same event. Asked again once a
checkpoint covers the event, it carries that checkpoint and the inclusion proof.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.deps import SubjectRead
from api.log_watch import audit_log_of
from api.problems import problem_responses
from api.routes.questions import Subject
from audit.receipts import (
    KANTARA_TYPE,
    NoReceiptKey,
    ReceiptKey,
    ReceiptUnavailable,
    kantara_payload,
    receipt_payload,
    sign,
)
from ledger.terms import SubjectId

router = APIRouter(tags=["receipts"])
public = APIRouter(prefix="/log", tags=["public log"])

JOSE = "application/jose"
"""The media type of a compact JWS (RFC 7515 section 9.2.1)."""


class ReceiptFormat(StrEnum):
    """Which receipt: the ISO/IEC TS 27560 one, or the same event as a Kantara Consent Receipt v1.1."""

    ISO_27560 = "iso-27560"
    KANTARA = "kantara-1.1"


def serve_receipts(app: FastAPI, key: ReceiptKey | None) -> None:
    """Sign consent receipts in `app` with `key` (none: consent writes answer without one, and reads refuse)."""
    app.state.receipt_key = key


def receipt_key_of(connection: HTTPConnection) -> ReceiptKey | None:
    """The receipt key this app signs with, if it was given one."""
    key: ReceiptKey | None = getattr(connection.app.state, "receipt_key", None)
    return key


def signed_receipt(connection: HTTPConnection, subject_id: str, position: int, kind: ReceiptFormat) -> str:
    """The receipt of the consent event at `position`, signed now (with the newest checkpoint covering it)."""
    key = receipt_key_of(connection)
    if key is None:
        msg = (
            "this server was started without the receipt key, so it signs no receipts (see CONSENT_LEDGER_RECEIPT_KEY)"
        )
        raise NoReceiptKey(msg)
    log = audit_log_of(connection)
    payload = receipt_payload(log.ledger, log, SubjectId(subject_id), position)
    if kind is ReceiptFormat.KANTARA:
        return sign(kantara_payload(payload), key, KANTARA_TYPE)
    return sign(payload, key)


TEXT: dict[int | str, dict[str, Any]] = {200: {"content": {JOSE: {"schema": {"type": "string"}}}}}


@router.get(
    "/subjects/{subject_id}/receipts/{position}",
    response_class=PlainTextResponse,
    responses={**TEXT, **problem_responses(ReceiptUnavailable, NoReceiptKey)},
)
async def read_receipt(
    subject_id: Subject,
    position: Annotated[int, Path(ge=1, le=2**62, description="The consent event's log position (a write's).")],
    access: SubjectRead,
    connection: HTTPConnection,
    receipt_format: Annotated[ReceiptFormat, Query(alias="format")] = ReceiptFormat.ISO_27560,
) -> PlainTextResponse:
    """The signed receipt of one consent event of the subject: a compact JWS the subject can check offline."""
    token = await run_in_threadpool(signed_receipt, connection, subject_id, position, receipt_format)
    await access.recording(subject_id)
    return PlainTextResponse(token, media_type=JOSE)


JWK: dict[int | str, dict[str, Any]] = {200: {"content": {"application/jwk+json": {"schema": {"type": "object"}}}}}


@public.get("/receipt-key", response_class=JSONResponse, responses={**JWK, **problem_responses(NoReceiptKey)})
async def receipt_key(connection: HTTPConnection) -> JSONResponse:
    """The public key consent receipts are signed with, as a JWK (RFC 7517, RFC 8037); `kid` is its thumbprint."""
    key = receipt_key_of(connection)
    if key is None:
        msg = "this server was started without the receipt key, so it signs no receipts"
        raise NoReceiptKey(msg)
    return JSONResponse(key.jwk, media_type="application/jwk+json")
