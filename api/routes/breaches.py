"""A breach read back (clause 5.4): whom it touched, who was told (its writes are `api.routes.facts`)."""

from fastapi import APIRouter, Response

from api.answers import read_responses
from api.deps import LedgerDep, RefPath, scoped
from api.schemas.breaches import BreachPublic
from api.tokens import Scope
from ledger.errors import NotFound

router = APIRouter(prefix="/breaches", tags=["breaches"])


@router.get("/{breach_ref}", name="read_breach", responses=read_responses(NotFound), dependencies=[scoped(Scope.READ)])
def read_breach(breach_ref: RefPath, ledger: LedgerDep, response: Response) -> BreachPublic:
    """Read the breach: the subjects it touched, who has been told, and when the authority was."""
    breach = ledger.breach(breach_ref)
    response.headers["ETag"] = f'"{breach.version}"'
    return BreachPublic.of(breach)
