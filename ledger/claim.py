"""A pre-trial claim (clauses 8.1-8.3): received, answered within 30 days, or taken to court."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import singledispatchmethod
from typing import Annotated, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import InvalidFact, NotFound, NothingToAct
from ledger.facts import Fact, Stamped, declared, recorded_as
from ledger.stamp import Stamp
from ledger.terms import ONE_LINE, SEALED, Bounds, Channel, ClaimOutcome, Name, Ref, Sealed, SubjectRef, one_of


def claim_key(claim_ref: str) -> UUID:
    """The aggregate id of a claim, derived from the operator's reference."""
    return uuid5(NAMESPACE_URL, f"consent-ledger:claim:{claim_ref}")


@dataclass(frozen=True, kw_only=True)
class ClaimFact(Fact):
    """A fact about one pre-trial claim, named by its incoming reference."""

    refusals = (InvalidFact,)

    claim_ref: Ref
    """The claim's incoming reference; names the claim from now on."""

    def key(self) -> UUID:
        """The claim's record."""
        return claim_key(self.claim_ref)

    def record_name(self) -> str:
        """`claim '<ref>'`."""
        return f"claim {self.claim_ref!r}"


@declared(
    "receive_claim",
    "Received",
    "/claims",
    examples=[{"claim_ref": "CL-2026-101", "subject_id": "cust-1002", "claimant": "A. Subject"}],
)
class ClaimFiling(ClaimFact):
    """A written claim received (clause 8.1); `occurred_at` is when it arrived. Its answer is due in 30 days."""

    creates = True
    subject_id: SubjectRef
    claimant: Annotated[str, Bounds(200, pattern=ONE_LINE), SEALED]
    """Who wrote the claim. Sealed with the subject's key."""


@declared(
    "answer_claim",
    "Answered",
    "/claims/{claim_ref}/answer",
    NotFound,
    NothingToAct,
    examples=[{"outcome": "partly_satisfied", "channel": "email"}],
)
class ClaimAnswer(ClaimFact):
    """The claimant told the result in writing (clause 8.2)."""

    outcome: ClaimOutcome
    channel: Channel

    def apply(self, aggregate: Any) -> None:
        """The claim remembers when it was answered."""
        aggregate.answered_at = self.occurred_at


@declared(
    "take_claim_to_court",
    "TakenToCourt",
    "/claims/{claim_ref}/court",
    NotFound,
    NothingToAct,
    examples=[{"court_case": "2-1234/2026"}],
)
class CourtCase(ClaimFact):
    """Without agreement, the dispute went to court (clause 8.3)."""

    court_case: Name
    """Kept in clear (refused if it looks like personal data): the court and its case number are public; the claimant
    is sealed apart."""

    def apply(self, aggregate: Any) -> None:
        """The claim remembers that it went to court."""
        aggregate.in_court_since = self.occurred_at


class Claim(Aggregate):
    """One pre-trial claim and what became of it."""

    class Opening(Aggregate.Created, Stamped):
        """The first fact of a claim's record: who recorded it and when the claim arrived."""

        recorded_by: str
        occurred_at: datetime

    class Added(Aggregate.Event, Stamped):
        """A later fact of a claim's record."""

        recorded_by: str
        occurred_at: datetime

    def __init__(
        self, claim_ref: str, subject_id: str, recorded_by: str, occurred_at: datetime, claimant: Sealed
    ) -> None:
        """Start unanswered."""
        self.claim_ref = claim_ref
        self.subject_id = subject_id
        self.recorded_by = recorded_by
        self.received_at = occurred_at
        self.claimant = claimant
        self.answered_at: datetime | None = None
        self.in_court_since: datetime | None = None

    @classmethod
    def decide_new(cls, fact: ClaimFiling, _stamp: Stamp) -> ClaimFiling:
        """A claim names its incoming reference."""
        if not fact.claim_ref.strip():
            msg = "claim_ref must name the claim (e.g. its incoming letter number)"
            raise InvalidFact(msg)
        return fact

    def _require_after_receipt(self, stamp: Stamp) -> None:
        if stamp.occurred_at < self.received_at:
            msg = (
                f"claim {self.claim_ref} was received at {self.received_at.isoformat()}; nothing happened to it before"
            )
            raise InvalidFact(msg)

    @singledispatchmethod
    def decide(self, fact: ClaimFact, stamp: Stamp, _context: object) -> ClaimFact:
        """Check a later fact of the claim; answer it as it is to be recorded."""
        raise NotImplementedError(type(fact).__name__)

    @decide.register
    def answer(self, fact: ClaimAnswer, stamp: Stamp, _context: object) -> ClaimAnswer:
        """A claim is answered once, in writing, after it was received."""
        one_of(ClaimOutcome, fact.outcome, "outcome")
        if self.answered_at is not None:
            msg = f"claim {self.claim_ref} was already answered on {self.answered_at.isoformat()}"
            raise NothingToAct(msg)
        self._require_after_receipt(stamp)
        return fact

    @decide.register
    def take_to_court(self, fact: CourtCase, stamp: Stamp, _context: object) -> CourtCase:
        """A claim goes to court once, under a named case, after it was received."""
        if self.in_court_since is not None:
            msg = f"claim {self.claim_ref} is already in court since {self.in_court_since.isoformat()}"
            raise NothingToAct(msg)
        if not fact.court_case.strip():
            msg = "name the court case"
            raise InvalidFact(msg)
        self._require_after_receipt(stamp)
        return fact


recorded_as(ClaimFiling, Claim, Claim.Opening)
recorded_as(ClaimAnswer, Claim, Claim.Added)
recorded_as(CourtCase, Claim, Claim.Added)
