"""Pre-trial claims (clauses 8.1-8.3): received, answered, taken to court."""

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FactCreate, Name, Ref, SubjectRef
from ledger.application import ConsentLedger, Receipt, Request
from ledger.claim import Claim
from ledger.terms import Channel, ClaimOutcome


class ClaimCreate(FactCreate):
    """A written claim received (clause 8.1); `occurred_at` is when it arrived. Its answer is due in 30 days."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "claim_ref": "in-2026-0311",
                    "subject_id": "u-1",
                    "claimant": "A. Subject",
                    "occurred_at": "2026-03-11T09:30:00+05:00",
                }
            ]
        }
    )

    claim_ref: Ref = Field(description="The claim's incoming reference; names the claim from now on.")
    subject_id: SubjectRef
    claimant: Name = Field(description="Who wrote the claim. Sealed with the subject's key.")

    def record(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the claim received."""
        return ledger.receive_claim(
            request,
            claim_ref=self.claim_ref,
            subject_id=self.subject_id,
            claimant=self.claimant,
            occurred_at=self.occurred_at,
        )


class ClaimAnswerCreate(FactCreate):
    """The claimant told the result in writing (clause 8.2)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"outcome": "partly_satisfied", "channel": "email"}]})

    outcome: ClaimOutcome
    channel: Channel

    def record(self, ledger: ConsentLedger, request: Request, claim_ref: str) -> Receipt:
        """Record the answer to the claim."""
        return ledger.answer_claim(
            request, claim_ref=claim_ref, outcome=self.outcome, channel=self.channel, occurred_at=self.occurred_at
        )


class CourtCaseCreate(FactCreate):
    """Without agreement, the dispute went to court (clause 8.3)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"court_case": "2-1234/2026"}]})

    court_case: Name

    def record(self, ledger: ConsentLedger, request: Request, claim_ref: str) -> Receipt:
        """Record that the claim went to court."""
        return ledger.take_claim_to_court(
            request, claim_ref=claim_ref, court_case=self.court_case, occurred_at=self.occurred_at
        )


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
