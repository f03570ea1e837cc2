"""Breaches (clause 5.4; Art. 25(2)(8)): record one found, the authority told, each subject told."""

from fastapi import APIRouter, Response

from api.answers import read_responses, write_responses
from api.deps import LedgerDep, RefPath, Write, WriteRequest, scoped
from api.schemas.breaches import AuthorityNoticeCreate, BreachCreate, BreachPublic, SubjectNoticeCreate
from api.schemas.common import Receipt
from api.tokens import Scope
from ledger.errors import InvalidFact, NotFound, NothingToAct

router = APIRouter(prefix="/breaches", tags=["breaches"])

READ = "read_breach"
"""The route a write's `Location` points to: the breach."""


@router.post("", status_code=201, responses=write_responses(InvalidFact))
async def record_breach(body: BreachCreate, request: WriteRequest, write: Write) -> Receipt:
    """Record a breach found; the authorised body must be told within 1 working day (Art. 25(2)(8))."""
    receipt = await write.run(lambda: body.record(write.ledger, request))
    return write.receipt(receipt, READ, breach_ref=body.breach_ref)


@router.post("/{breach_ref}/authority-notices", status_code=201, responses=write_responses(InvalidFact, NotFound))
async def record_authority_notice(
    breach_ref: RefPath, body: AuthorityNoticeCreate, request: WriteRequest, write: Write
) -> Receipt:
    """Record that the authorised body was told of the breach (Art. 25(2)(8))."""
    receipt = await write.run(lambda: body.record(write.ledger, request, breach_ref))
    return write.receipt(receipt, READ, breach_ref=breach_ref)


@router.post(
    "/{breach_ref}/subject-notices", status_code=201, responses=write_responses(InvalidFact, NotFound, NothingToAct)
)
async def record_subject_notice(
    breach_ref: RefPath, body: SubjectNoticeCreate, request: WriteRequest, write: Write
) -> Receipt:
    """Record that an affected subject was told of the breach (clause 5.4)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, breach_ref))
    return write.receipt(receipt, READ, breach_ref=breach_ref)


@router.get("/{breach_ref}", name=READ, responses=read_responses(NotFound), dependencies=[scoped(Scope.READ)])
def read_breach(breach_ref: RefPath, ledger: LedgerDep, response: Response) -> BreachPublic:
    """Read the breach: the subjects it touched, who has been told, and when the authority was."""
    breach = ledger.breach(breach_ref)
    response.headers["ETag"] = f'"{breach.version}"'
    return BreachPublic.of(breach)
