"""A subject's requests: recorded when received (their deadline starts), answered when met."""

from fastapi import APIRouter

from api.answers import write_responses
from api.deps import LedgerDep, RefPath, ReplyDep, SubjectIdPath, SubjectWriteRequest
from api.routes.subjects import READ
from api.schemas.common import Receipt
from api.schemas.requests import RequestAnswerCreate, RequestCreate
from ledger.errors import InvalidFact, NotFound, NothingToAct, SubjectDestroyed, VersionMismatch

router = APIRouter(prefix="/subjects", tags=["subjects"])


@router.post(
    "/{subject_id}/requests",
    status_code=201,
    responses=write_responses(InvalidFact, SubjectDestroyed, VersionMismatch),
)
def receive_request(
    subject_id: SubjectIdPath, body: RequestCreate, ledger: LedgerDep, request: SubjectWriteRequest, reply: ReplyDep
) -> Receipt:
    """Record a request for access, correction, blocking, destruction, withdrawal or an objection; its deadline starts."""
    receipt = ledger.receive_request(
        request,
        subject_id,
        request_id=body.request_id,
        kind=body.kind,
        channel=body.channel,
        actor=body.actor,
        details=body.details,
        occurred_at=body.occurred_at,
    )
    return reply.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/requests/{request_id}/answer",
    status_code=201,
    responses=write_responses(InvalidFact, NotFound, NothingToAct, VersionMismatch),
)
def answer_request(
    subject_id: SubjectIdPath,
    request_id: RefPath,
    body: RequestAnswerCreate,
    ledger: LedgerDep,
    request: SubjectWriteRequest,
    reply: ReplyDep,
) -> Receipt:
    """Record how a request was met (done, answered, refused with reasons); its deadline stops."""
    receipt = ledger.answer_request(
        request,
        subject_id,
        request_id=request_id,
        outcome=body.outcome,
        by_entry=body.by_entry,
        reason=body.reason or "",
        occurred_at=body.occurred_at,
    )
    return reply.receipt(receipt, READ, subject_id=subject_id)
