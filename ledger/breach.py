"""A breach of security: loss or disclosure of personal data (clause 5.4; Art. 25(2)(8))."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import InvalidFact, NothingToAct

if TYPE_CHECKING:
    from ledger.stamp import Stamp
    from ledger.terms import Channel, DataCategory, SubjectId


def breach_key(breach_ref: str) -> UUID:
    """The aggregate id of a breach, derived from the operator's reference."""
    return uuid5(NAMESPACE_URL, f"consent-ledger:breach:{breach_ref}")


class Breach(Aggregate):
    """One breach, the subjects it touched, and who has been told."""

    class Found(Aggregate.Created):
        """A loss or disclosure of personal data was found (clause 5.4)."""

        breach_ref: str
        recorded_by: str
        occurred_at: datetime
        data_categories: tuple[str, ...]
        subject_ids: tuple[str, ...]

    class AuthorityTold(Aggregate.Event):
        """The authorised body was notified (Art. 25(2)(8): within 1 working day)."""

        recorded_by: str
        occurred_at: datetime
        channel: str
        reference: str

        def apply(self, aggregate: Any) -> None:
            """Remember when the authority was told."""
            aggregate.authority_told_at = self.occurred_at

    class SubjectTold(Aggregate.Event):
        """A subject was told of the breach (clause 5.4)."""

        recorded_by: str
        occurred_at: datetime
        subject_id: str
        channel: str

        def apply(self, aggregate: Any) -> None:
            """Remember who has been told."""
            aggregate.told.add(self.subject_id)

    def __init__(
        self,
        breach_ref: str,
        recorded_by: str,
        occurred_at: datetime,
        data_categories: tuple[str, ...],
        subject_ids: tuple[str, ...],
    ) -> None:
        """Start with nobody told."""
        self.breach_ref = breach_ref
        self.recorded_by = recorded_by
        self.found_at = occurred_at
        self.data_categories = data_categories
        self.subject_ids = frozenset(subject_ids)
        self.told: set[str] = set()
        self.authority_told_at: datetime | None = None

    @classmethod
    def find(
        cls, breach_ref: str, data_categories: frozenset[DataCategory], subject_ids: frozenset[SubjectId], stamp: Stamp
    ) -> Breach:
        """Record a breach found at `stamp.occurred_at`, touching these subjects."""
        if not breach_ref.strip() or not data_categories or not subject_ids:
            msg = "a breach names its reference, the data categories and the subjects affected"
            raise InvalidFact(msg)
        return cls._create(
            cls.Found,
            id=breach_key(breach_ref),
            breach_ref=breach_ref,
            recorded_by=stamp.recorded_by,
            occurred_at=stamp.occurred_at,
            data_categories=tuple(sorted(data_categories)),
            subject_ids=tuple(sorted(subject_ids)),
            timestamp=stamp.recorded_at,
        )

    def tell_authority(self, channel: Channel, reference: str, stamp: Stamp) -> None:
        """Record that the authorised body was notified."""
        self._require_after_finding(stamp)
        self.trigger_event(
            self.AuthorityTold,
            recorded_by=stamp.recorded_by,
            occurred_at=stamp.occurred_at,
            channel=channel,
            reference=reference,
            timestamp=stamp.recorded_at,
        )

    def tell_subject(self, subject_id: SubjectId, channel: Channel, stamp: Stamp) -> None:
        """Record that an affected subject was told; only affected subjects can be."""
        if subject_id not in self.subject_ids:
            msg = f"subject {subject_id} is not among those affected by breach {self.breach_ref}"
            raise NothingToAct(msg)
        self._require_after_finding(stamp)
        self.trigger_event(
            self.SubjectTold,
            recorded_by=stamp.recorded_by,
            occurred_at=stamp.occurred_at,
            subject_id=subject_id,
            channel=channel,
            timestamp=stamp.recorded_at,
        )

    def _require_after_finding(self, stamp: Stamp) -> None:
        if stamp.occurred_at < self.found_at:
            msg = f"breach {self.breach_ref} was found at {self.found_at.isoformat()}; nobody was told before that"
            raise InvalidFact(msg)
