"""A pre-trial claim as read back (clauses 8.1-8.3): received, answered, taken to court."""

from datetime import datetime
from typing import Self

from pydantic import BaseModel

from ledger.claim import Claim


class ClaimPublic(BaseModel):
    """A claim and what became of it; the claimant in clear, or null once the subject's data were destroyed."""

    claim_ref: str
    subject_id: str
    claimant: str | None
    received_at: datetime
    answered_at: datetime | None
    in_court_since: datetime | None

    @classmethod
    def of(cls, claim: Claim, claimant: str | None) -> Self:
        """Show the claim as the ledger holds it, with its claimant as the ledger opened it."""
        return cls(
            claim_ref=claim.claim_ref,
            subject_id=claim.subject_id,
            claimant=claimant,
            received_at=claim.received_at,
            answered_at=claim.answered_at,
            in_court_since=claim.in_court_since,
        )
