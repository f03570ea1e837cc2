"""A subject's requests: recorded when received (their deadline starts), answered when met."""

from typing import Annotated

from fastapi import APIRouter, Path

from api.answers import write_responses
from api.deps import RefPath, SubjectIdPath, SubjectWriteRequest, Write
from api.routes.subjects import READ
from api.schemas.common import Receipt
from api.schemas.requests import DisclosureNoticeCreate, RequestAnswerCreate, RequestCreate, VerificationCreate
from ledger.errors import InvalidFact, NotFound, NothingToAct, SubjectDestroyed, VersionMismatch

router = APIRouter(prefix="/subjects", tags=["subjects"])


@router.post(
    "/{subject_id}/requests",
    status_code=201,
    responses=write_responses(InvalidFact, SubjectDestroyed, VersionMismatch),
)
async def receive_request(
    subject_id: SubjectIdPath, body: RequestCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record a request (access, correction, blocking, destruction, withdrawal, objection); its deadline starts."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/requests/{request_id}/answer",
    status_code=201,
    responses=write_responses(InvalidFact, NotFound, NothingToAct, VersionMismatch),
)
async def answer_request(
    subject_id: SubjectIdPath,
    request_id: RefPath,
    body: RequestAnswerCreate,
    request: SubjectWriteRequest,
    write: Write,
) -> Receipt:
    """Record how a request was met (done, answered, refused with reasons); its deadline stops."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id, request_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/blocks/{block_id}/verification",
    status_code=201,
    responses=write_responses(InvalidFact, NotFound, NothingToAct, VersionMismatch),
)
async def complete_verification(
    subject_id: SubjectIdPath, block_id: RefPath, body: VerificationCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record that the verification behind a block ended; with no violation the block must go within 1 WD."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id, block_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/disclosures/{number}/notice",
    status_code=201,
    responses=write_responses(InvalidFact, NotFound, NothingToAct, VersionMismatch),
)
async def record_disclosure_notice(
    subject_id: SubjectIdPath,
    number: Annotated[int, Path(ge=1, le=2**53, description="The disclosure's entry number.")],
    body: DisclosureNoticeCreate,
    request: SubjectWriteRequest,
    write: Write,
) -> Receipt:
    """Record that the subject was told of a disclosure (Art. 19); its 10 WD deadline stops."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id, number))
    return write.receipt(receipt, READ, subject_id=subject_id)
