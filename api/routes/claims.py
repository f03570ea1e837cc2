"""Pre-trial claims (clauses 8.1-8.3): record one received, its answer, its day in court."""

from fastapi import APIRouter, Response

from api.answers import read_responses, write_responses
from api.deps import LedgerDep, RefPath, SubjectEvidence, Write, WriteRequest
from api.schemas.claims import ClaimAnswerCreate, ClaimCreate, ClaimPublic, CourtCaseCreate
from api.schemas.common import Receipt
from ledger.errors import InvalidFact, NotFound, NothingToAct, SubjectDestroyed

router = APIRouter(prefix="/claims", tags=["claims"])

READ = "read_claim"
"""The route a write's `Location` points to: the claim."""


@router.post("", status_code=201, responses=write_responses(InvalidFact, SubjectDestroyed))
async def receive_claim(body: ClaimCreate, request: WriteRequest, write: Write) -> Receipt:
    """Record a claim received (clause 8.1); its written answer is due 30 calendar days later (8.2)."""
    receipt = await write.run(lambda: body.record(write.ledger, request))
    return write.receipt(receipt, READ, claim_ref=body.claim_ref)


@router.post("/{claim_ref}/answer", status_code=201, responses=write_responses(InvalidFact, NotFound, NothingToAct))
async def answer_claim(claim_ref: RefPath, body: ClaimAnswerCreate, request: WriteRequest, write: Write) -> Receipt:
    """Record the written answer to the claim, once (clause 8.2)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, claim_ref))
    return write.receipt(receipt, READ, claim_ref=claim_ref)


@router.post("/{claim_ref}/court", status_code=201, responses=write_responses(InvalidFact, NotFound, NothingToAct))
async def take_claim_to_court(
    claim_ref: RefPath, body: CourtCaseCreate, request: WriteRequest, write: Write
) -> Receipt:
    """Record that the dispute went to court, once (clause 8.3)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, claim_ref))
    return write.receipt(receipt, READ, claim_ref=claim_ref)


@router.get("/{claim_ref}", name=READ, responses=read_responses(NotFound))
def read_claim(claim_ref: RefPath, ledger: LedgerDep, response: Response, access: SubjectEvidence) -> ClaimPublic:
    """Read the claim and what became of it; the claimant in clear, or null once the subject's data were destroyed.

    The claimant is the subject's personal data: the read is logged against the claim's subject.
    """
    claim = ledger.claim(claim_ref)
    answer = ClaimPublic.of(claim, ledger.claimant(claim_ref))
    access.record(claim.subject_id)
    response.headers["ETag"] = f'"{claim.version}"'
    return answer
