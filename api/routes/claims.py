"""A pre-trial claim read back (clauses 8.1-8.3) (its writes are `api.routes.facts`)."""

from fastapi import APIRouter, Response

from api.answers import read_responses
from api.deps import LedgerDep, RefPath, SubjectEvidence
from api.schemas.claims import ClaimPublic
from ledger.errors import NotFound

router = APIRouter(prefix="/claims", tags=["claims"])


@router.get("/{claim_ref}", name="read_claim", responses=read_responses(NotFound))
def read_claim(claim_ref: RefPath, ledger: LedgerDep, response: Response, access: SubjectEvidence) -> ClaimPublic:
    """Read the claim and what became of it; the claimant in clear, or null once the subject's data were destroyed.

    The claimant is the subject's personal data: the read is logged against the claim's subject.
    """
    claim = ledger.claim(claim_ref)
    answer = ClaimPublic.of(claim, ledger.claimant(claim_ref))
    access.record(claim.subject_id)
    response.headers["ETag"] = f'"{claim.version}"'
    return answer
