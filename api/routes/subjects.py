"""A subject's record: every fact it can be given, each a POST; the facts read back with a GET."""

from fastapi import APIRouter, Response

from api.answers import read_responses, write_responses
from api.deps import LedgerDep, RefPath, SubjectEvidence, SubjectIdPath, SubjectWriteRequest, Write
from api.schemas.common import Receipt
from api.schemas.subjects import (
    BlockCreate,
    BlockLiftCreate,
    ConsentCreate,
    CorrectionCreate,
    DestructionCreate,
    DisclosureCreate,
    FactPublic,
    RetractionCreate,
    SubjectFactsPublic,
    WithdrawalCreate,
    WithdrawalRefusalCreate,
    WrittenPermissionCreate,
)
from ledger.errors import (
    InvalidFact,
    NoGroundForDisclosure,
    NotFound,
    NothingToAct,
    SubjectBlocked,
    SubjectDestroyed,
    VersionMismatch,
)

router = APIRouter(prefix="/subjects", tags=["subjects"])

READ = "read_subject_facts"
"""The route a write's `Location` points to: the subject's facts."""


@router.post(
    "/{subject_id}/consents",
    status_code=201,
    responses=write_responses(InvalidFact, NotFound, SubjectDestroyed, VersionMismatch),
)
async def grant_consent(
    subject_id: SubjectIdPath, body: ConsentCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record consent to a published version in effect or about to be (clauses 2.1, 3.1, 4.1.6; Art. 8(4))."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/withdrawals",
    status_code=201,
    responses=write_responses(InvalidFact, NothingToAct, SubjectDestroyed, VersionMismatch),
)
async def withdraw_consent(
    subject_id: SubjectIdPath, body: WithdrawalCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record a withdrawal of a consent that stands (clause 2.2; Art. 8(7))."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/withdrawal-refusals",
    status_code=201,
    responses=write_responses(InvalidFact, NothingToAct, SubjectDestroyed, VersionMismatch),
)
async def refuse_withdrawal(
    subject_id: SubjectIdPath, body: WithdrawalRefusalCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record a reasoned refusal to withdraw while an obligation stays open (Art. 8(2))."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/written-permissions",
    status_code=201,
    responses=write_responses(InvalidFact, SubjectDestroyed, VersionMismatch),
)
async def grant_written_permission(
    subject_id: SubjectIdPath, body: WrittenPermissionCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record prior written permission for a disclosure outside clause 5.2 (clause 6.2.2)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/disclosures",
    status_code=201,
    responses=write_responses(InvalidFact, NoGroundForDisclosure, SubjectBlocked, SubjectDestroyed, VersionMismatch),
)
async def record_disclosure(
    subject_id: SubjectIdPath, body: DisclosureCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record a disclosure only if its ground holds at its time (clauses 5.2, 6.2.2, 6.2.4; Art. 9)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/blocks",
    status_code=201,
    responses=write_responses(InvalidFact, SubjectDestroyed, VersionMismatch),
)
async def block_data(
    subject_id: SubjectIdPath, body: BlockCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Block the subject's data from the moment of the request, for verification (clause 6.2.4)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/blocks/{block_id}/lift",
    status_code=201,
    responses=write_responses(InvalidFact, NotFound, NothingToAct, SubjectDestroyed, VersionMismatch),
)
async def lift_block(
    *, subject_id: SubjectIdPath, block_id: RefPath, body: BlockLiftCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Lift a block in force, with the outcome of the verification (clause 6.2.4)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id, block_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/corrections",
    status_code=201,
    responses=write_responses(InvalidFact, SubjectDestroyed, VersionMismatch),
)
async def record_correction(
    subject_id: SubjectIdPath, body: CorrectionCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record which categories of the subject's data were corrected (clause 6.1.2)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/destruction",
    status_code=201,
    responses=write_responses(InvalidFact, NotFound, SubjectBlocked, SubjectDestroyed, VersionMismatch),
)
async def destroy_data(
    subject_id: SubjectIdPath, body: DestructionCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Record destruction and delete the subject's key: personal fields become unreadable (clause 5.3; Art. 1(6))."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.post(
    "/{subject_id}/retractions",
    status_code=201,
    responses=write_responses(InvalidFact, NotFound, NothingToAct, SubjectDestroyed, VersionMismatch),
)
async def retract_entry(
    subject_id: SubjectIdPath, body: RetractionCreate, request: SubjectWriteRequest, write: Write
) -> Receipt:
    """Strike out a fact recorded by mistake; the fact itself stays in the history."""
    receipt = await write.run(lambda: body.record(write.ledger, request, subject_id))
    return write.receipt(receipt, READ, subject_id=subject_id)


@router.get("/{subject_id}/facts", name=READ, responses=read_responses(NotFound))
def read_subject_facts(
    subject_id: SubjectIdPath, ledger: LedgerDep, response: Response, access: SubjectEvidence
) -> SubjectFactsPublic:
    """Read every fact on the subject's record, personal fields opened (null once the data were destroyed)."""
    facts = [FactPublic.of(fact) for fact in ledger.subject_facts(subject_id)]
    access.record(subject_id)
    response.headers["ETag"] = f'"{facts[-1].number}"'
    return SubjectFactsPublic(subject_id=subject_id, facts=facts)
