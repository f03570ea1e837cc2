"""Policies: publish a version (clauses 9.1, 9.2); read the policy with every version."""

from fastapi import APIRouter, Response

from api.answers import read_responses, write_responses
from api.deps import AdminWriteRequest, LedgerDep, RefPath, Write, scoped
from api.schemas.common import Receipt
from api.schemas.policies import PolicyPublic, PolicyVersionCreate
from api.tokens import Scope
from ledger.errors import InvalidFact, NotFound, PolicyVersionConflict
from ledger.terms import PolicyId

router = APIRouter(prefix="/policies", tags=["policies"])


@router.post("/{policy_id}/versions", status_code=201, responses=write_responses(InvalidFact, PolicyVersionConflict))
async def publish_policy_version(
    policy_id: RefPath, body: PolicyVersionCreate, request: AdminWriteRequest, write: Write
) -> Receipt:
    """Publish a version; the same version with the same text again is an idempotent success (200)."""
    receipt = await write.run(lambda: body.record(write.ledger, request, policy_id))
    return write.receipt(receipt, "read_policy", policy_id=policy_id)


@router.get("/{policy_id}", responses=read_responses(NotFound), dependencies=[scoped(Scope.READ)])
def read_policy(policy_id: RefPath, ledger: LedgerDep, response: Response) -> PolicyPublic:
    """Read the policy's operator and every version published, with its terms and text hashes."""
    policy = ledger.policy(PolicyId(policy_id))
    response.headers["ETag"] = f'"{policy.version}"'
    return PolicyPublic.of(policy)
