"""A breach of security: loss or disclosure of personal data (clause 5.4; Art. 25(2)(8))."""

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
from ledger.terms import MAX_ITEMS, CategoryCode, Channel, Count, Name, Ref, SubjectRef


def breach_key(breach_ref: str) -> UUID:
    """The aggregate id of a breach, derived from the operator's reference."""
    return uuid5(NAMESPACE_URL, f"consent-ledger:breach:{breach_ref}")


@dataclass(frozen=True, kw_only=True)
class BreachFact(Fact):
    """A fact about one breach, named by the operator's reference."""

    refusals = (InvalidFact,)

    breach_ref: Ref
    """The operator's incident reference; names the breach from now on."""

    def key(self) -> UUID:
        """The breach's record."""
        return breach_key(self.breach_ref)

    def record_name(self) -> str:
        """`breach '<ref>'`."""
        return f"breach {self.breach_ref!r}"


@declared(
    "record_breach",
    "Found",
    "/breaches",
    examples=[
        {"breach_ref": "INC-2026-101", "data_categories": ["contact"], "subject_ids": ["cust-1001", "cust-1002"]}
    ],
)
class BreachFinding(BreachFact):
    """A loss or disclosure of personal data, found (clause 5.4); `occurred_at` is when it was found."""

    creates = True
    data_categories: Annotated[frozenset[CategoryCode], Count(MAX_ITEMS, 1)]
    subject_ids: Annotated[frozenset[SubjectRef], Count(10_000, 1)]
    """Subjects affected."""


@declared(
    "record_authority_notice",
    "AuthorityTold",
    "/breaches/{breach_ref}/authority-notices",
    NotFound,
    examples=[{"channel": "email", "reference": "outgoing 2026/118"}],
)
class AuthorityNotice(BreachFact):
    """The authorised body told of the breach (Art. 25(2)(8): within 1 working day)."""

    channel: Channel
    reference: Name
    """The notice's outgoing reference. Kept in clear (refused if it looks like personal data): the authority's
    reference for the notice."""

    def apply(self, aggregate: Any) -> None:
        """The breach remembers when the authority was told."""
        aggregate.authority_told_at = self.occurred_at


@declared(
    "record_subject_notice",
    "SubjectTold",
    "/breaches/{breach_ref}/subject-notices",
    NotFound,
    NothingToAct,
    examples=[{"subject_id": "cust-1006", "channel": "sms"}],
)
class BreachNotice(BreachFact):
    """An affected subject told of the breach (clause 5.4)."""

    subject_id: SubjectRef
    channel: Channel

    def apply(self, aggregate: Any) -> None:
        """The breach remembers who has been told."""
        aggregate.told.add(self.subject_id)


class Breach(Aggregate):
    """One breach, the subjects it touched, and who has been told."""

    class Opening(Aggregate.Created, Stamped):
        """The first fact of a breach's record: who recorded it and when it was found."""

        recorded_by: str
        occurred_at: datetime

    class Added(Aggregate.Event, Stamped):
        """A later fact of a breach's record."""

        recorded_by: str
        occurred_at: datetime

    def __init__(
        self,
        breach_ref: str,
        recorded_by: str,
        occurred_at: datetime,
        data_categories: frozenset[str],
        subject_ids: frozenset[str],
    ) -> None:
        """Start with nobody told."""
        self.breach_ref = breach_ref
        self.recorded_by = recorded_by
        self.found_at = occurred_at
        self.data_categories = tuple(sorted(data_categories))
        self.subject_ids = frozenset(subject_ids)
        self.told: set[str] = set()
        self.authority_told_at: datetime | None = None

    @classmethod
    def decide_new(cls, fact: BreachFinding, _stamp: Stamp) -> BreachFinding:
        """A breach names its reference, the data categories and the subjects affected."""
        if not fact.breach_ref.strip() or not fact.data_categories or not fact.subject_ids:
            msg = "a breach names its reference, the data categories and the subjects affected"
            raise InvalidFact(msg)
        return fact

    def _require_after_finding(self, stamp: Stamp) -> None:
        if stamp.occurred_at < self.found_at:
            msg = f"breach {self.breach_ref} was found at {self.found_at.isoformat()}; nobody was told before that"
            raise InvalidFact(msg)

    @singledispatchmethod
    def decide(self, fact: BreachFact, stamp: Stamp, _context: object) -> BreachFact:
        """Check a later fact of the breach; answer it as it is to be recorded."""
        raise NotImplementedError(type(fact).__name__)

    @decide.register
    def tell_authority(self, fact: AuthorityNotice, stamp: Stamp, _context: object) -> AuthorityNotice:
        """Nobody can have been told of a breach before it was found."""
        self._require_after_finding(stamp)
        return fact

    @decide.register
    def tell_subject(self, fact: BreachNotice, stamp: Stamp, _context: object) -> BreachNotice:
        """Only affected subjects can be told of a breach, after it was found."""
        if fact.subject_id not in self.subject_ids:
            msg = f"subject {fact.subject_id} is not among those affected by breach {self.breach_ref}"
            raise NothingToAct(msg)
        self._require_after_finding(stamp)
        return fact


recorded_as(BreachFinding, Breach, Breach.Opening)
recorded_as(AuthorityNotice, Breach, Breach.Added)
recorded_as(BreachNotice, Breach, Breach.Added)
