"""A pre-trial claim (clauses 8.1-8.3): received, answered within 30 days, or taken to court."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import InvalidFact, NothingToAct
from ledger.terms import ClaimOutcome, Sealed, one_of

if TYPE_CHECKING:
    from ledger.stamp import Stamp
    from ledger.terms import Channel, SubjectId


def claim_key(claim_ref: str) -> UUID:
    """The aggregate id of a claim, derived from the operator's reference."""
    return uuid5(NAMESPACE_URL, f"consent-ledger:claim:{claim_ref}")


class Claim(Aggregate):
    """One pre-trial claim and what became of it."""

    class Received(Aggregate.Created):
        """A written claim was received (clause 8.1); its answer is due 30 days later (8.2)."""

        claim_ref: str
        subject_id: str
        recorded_by: str
        occurred_at: datetime
        claimant: Sealed

    class Answered(Aggregate.Event):
        """The claimant was told the result in writing (clause 8.2)."""

        recorded_by: str
        occurred_at: datetime
        outcome: ClaimOutcome
        channel: str

        def apply(self, aggregate: Any) -> None:
            """Remember when it was answered."""
            aggregate.answered_at = self.occurred_at

    class TakenToCourt(Aggregate.Event):
        """Without agreement, the dispute went to court (clause 8.3)."""

        recorded_by: str
        occurred_at: datetime
        court_case: str

        def apply(self, aggregate: Any) -> None:
            """Remember that it went to court."""
            aggregate.in_court_since = self.occurred_at

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
    def receive(cls, claim_ref: str, subject_id: SubjectId, claimant: Sealed, stamp: Stamp) -> Claim:
        """Record a claim received at `stamp.occurred_at`."""
        if not claim_ref.strip():
            msg = "claim_ref must name the claim (e.g. its incoming letter number)"
            raise InvalidFact(msg)
        return cls._create(
            cls.Received,
            id=claim_key(claim_ref),
            claim_ref=claim_ref,
            subject_id=subject_id,
            recorded_by=stamp.recorded_by,
            occurred_at=stamp.occurred_at,
            claimant=claimant,
            timestamp=stamp.recorded_at,
        )

    def answer(self, outcome: ClaimOutcome, channel: Channel, stamp: Stamp) -> None:
        """Record the written answer; a claim is answered once."""
        outcome = one_of(ClaimOutcome, outcome, "outcome")
        if self.answered_at is not None:
            msg = f"claim {self.claim_ref} was already answered on {self.answered_at.isoformat()}"
            raise NothingToAct(msg)
        self._require_after_receipt(stamp)
        self.trigger_event(
            self.Answered,
            recorded_by=stamp.recorded_by,
            occurred_at=stamp.occurred_at,
            outcome=outcome,
            channel=channel,
            timestamp=stamp.recorded_at,
        )

    def take_to_court(self, court_case: str, stamp: Stamp) -> None:
        """Record that the dispute went to court; once."""
        if self.in_court_since is not None:
            msg = f"claim {self.claim_ref} is already in court since {self.in_court_since.isoformat()}"
            raise NothingToAct(msg)
        if not court_case.strip():
            msg = "name the court case"
            raise InvalidFact(msg)
        self._require_after_receipt(stamp)
        self.trigger_event(
            self.TakenToCourt,
            recorded_by=stamp.recorded_by,
            occurred_at=stamp.occurred_at,
            court_case=court_case,
            timestamp=stamp.recorded_at,
        )

    def _require_after_receipt(self, stamp: Stamp) -> None:
        if stamp.occurred_at < self.received_at:
            msg = (
                f"claim {self.claim_ref} was received at {self.received_at.isoformat()}; nothing happened to it before"
            )
            raise InvalidFact(msg)
