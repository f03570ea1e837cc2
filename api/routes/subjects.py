"""A subject's record read back: every fact on it (its writes are `api.routes.facts`)."""

from fastapi import APIRouter, Response

from api.answers import read_responses
from api.deps import LedgerDep, SubjectEvidence, SubjectIdPath
from api.schemas.subjects import FactPublic, SubjectFactsPublic
from ledger.errors import NotFound

router = APIRouter(prefix="/subjects", tags=["subjects"])


@router.get("/{subject_id}/facts", name="read_subject_facts", responses=read_responses(NotFound))
def read_subject_facts(
    subject_id: SubjectIdPath, ledger: LedgerDep, response: Response, access: SubjectEvidence
) -> SubjectFactsPublic:
    """Read every fact on the subject's record, personal fields opened (null once the data were destroyed)."""
    facts = [FactPublic.of(fact) for fact in ledger.subject_facts(subject_id)]
    access.record(subject_id)
    response.headers["ETag"] = f'"{facts[-1].number}"'
    return SubjectFactsPublic(subject_id=subject_id, facts=facts)
