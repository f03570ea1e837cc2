"""Policies read back: the operator and every version (its writes are `api.routes.facts`)."""

from fastapi import APIRouter, Response

from api.answers import read_responses
from api.deps import LedgerDep, RefPath, scoped
from api.schemas.policies import PolicyPublic
from api.tokens import Scope
from ledger.errors import NotFound
from ledger.terms import PolicyId

router = APIRouter(prefix="/policies", tags=["policies"])


@router.get("/{policy_id}", name="read_policy", responses=read_responses(NotFound), dependencies=[scoped(Scope.READ)])
def read_policy(policy_id: RefPath, ledger: LedgerDep, response: Response) -> PolicyPublic:
    """Read the policy's operator and every version published, with its terms and text hashes."""
    policy = ledger.policy(PolicyId(policy_id))
    response.headers["ETag"] = f'"{policy.version}"'
    return PolicyPublic.of(policy)
