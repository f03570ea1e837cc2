"""The projection: what each recorded event changes in the view.

One method per event class, each returning the statements the event implies; the view
applies them with the event's tracking record in one transaction.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import TYPE_CHECKING, Any

from eventsourcing.projection import Projection

from ledger.breach import Breach
from ledger.claim import Claim
from ledger.deadlines import DEFAULT_RULES, DeadlineRules, KazakhCalendar, Obligation, due_at
from ledger.history import Disclosure
from ledger.policy import Policy
from ledger.subject import Subject
from projections.view import DeadlineRow, LedgerView

from eventsourcing.persistence import Tracking  # noqa: TC002  (singledispatch reads annotations at run time)

if TYPE_CHECKING:
    from collections.abc import Sequence

Statement = tuple[str, "Sequence[object]"]


class LedgerProjection(Projection[LedgerView]):
    """Keeps the view of every question the read side answers."""

    name = "LedgerView"
    rules: DeadlineRules = DEFAULT_RULES
    calendar: KazakhCalendar = KazakhCalendar()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events the view does not use still advance its position."""
        self.view.record(tracking, ())

    @process_event.register
    def _(self, event: Subject.Opened, tracking: Tracking) -> None:
        self.view.record(tracking, [self.view.put_name(event.originator_id, "subject", event.subject_id)])

    @process_event.register
    def _(self, event: Subject.Fact, tracking: Tracking) -> None:
        subject_id = self.view.name_of(event.originator_id)
        entry = event.entry()
        writes: list[Statement] = [self.view.put_entry(subject_id, entry)]
        if isinstance(entry, Disclosure):
            writes.append(self.view.put_disclosure(subject_id, entry, getattr(event, "legal_basis", "")))
        self.view.record(tracking, writes)

    @process_event.register
    def _(self, event: Policy.Adopted, tracking: Tracking) -> None:
        self.view.record(tracking, [self.view.put_name(event.originator_id, "policy", event.policy_id)])

    @process_event.register
    def _(self, event: Policy.VersionPublished, tracking: Tracking) -> None:
        policy = Policy.__new__(Policy)
        policy.policy_id = self.view.name_of(event.originator_id)  # type: ignore[assignment]
        policy.versions = {}
        event.apply(policy)
        self.view.record(tracking, [self.view.put_policy_version(policy.versions[event.version])])

    @process_event.register
    def _(self, event: Breach.Found, tracking: Tracking) -> None:
        writes: list[Statement] = [self.view.put_name(event.originator_id, "breach", event.breach_ref)]
        writes.extend(self.view.put_breach_subject(event.breach_ref, s, event.occurred_at) for s in event.subject_ids)
        writes.append(self._deadline(f"breach:{event.breach_ref}:authority", Obligation.BREACH_TO_AUTHORITY,
                                     None, event.breach_ref, event.occurred_at, event.timestamp))
        self.view.record(tracking, writes)

    @process_event.register
    def _(self, event: Breach.AuthorityTold, tracking: Tracking) -> None:
        ref = self.view.name_of(event.originator_id)
        self.view.record(tracking, [self.view.meet_deadline(
            f"breach:{ref}:authority", event.occurred_at, f"AuthorityTold#{event.originator_version}", event.timestamp
        )])

    @process_event.register
    def _(self, event: Breach.SubjectTold, tracking: Tracking) -> None:
        ref = self.view.name_of(event.originator_id)
        self.view.record(tracking, [self.view.tell_breach_subject(ref, event.subject_id, event.occurred_at)])

    @process_event.register
    def _(self, event: Claim.Received, tracking: Tracking) -> None:
        self.view.record(tracking, [
            self.view.put_name(event.originator_id, "claim", event.claim_ref),
            self._deadline(f"claim:{event.claim_ref}", Obligation.CLAIM_ANSWER, event.subject_id, event.claim_ref,
                           event.occurred_at, event.timestamp),
        ])

    @process_event.register
    def _(self, event: Claim.Answered, tracking: Tracking) -> None:
        ref = self.view.name_of(event.originator_id)
        self.view.record(tracking, [self.view.meet_deadline(
            f"claim:{ref}", event.occurred_at, f"ClaimAnswered#{event.originator_version}", event.timestamp
        )])

    def _deadline(  # noqa: PLR0913  (the facts a deadline row keeps)
        self, deadline_id: str, obligation: Obligation, subject_id: str | None, reference: str,
        triggered_at: Any, recorded_at: Any,
    ) -> Statement:
        row = DeadlineRow(
            deadline_id=deadline_id, obligation=obligation.value, subject_id=subject_id, reference=reference,
            triggered_at=triggered_at, due_at=due_at(obligation, triggered_at, self.rules, self.calendar),
            recorded_at=recorded_at, met_at=None, met_by=None,
        )
        return self.view.put_deadline(row)
