"""The projection: what each recorded event changes in the view.

One method per event class, each returning the statements the event implies; the keeper
applies them, for one event or a batch of them, with the tracking record of the last event
in one transaction. Rows are keyed by aggregate id, which every event carries, so no event
needs a lookup of an earlier one (policies, being few, are the exception).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import singledispatchmethod
from typing import TYPE_CHECKING, Any, cast

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from ledger.breach import AuthorityNotice, BreachFinding, BreachNotice
from ledger.claim import ClaimAnswer, ClaimFiling
from ledger.deadlines import DEFAULT_RULES, DeadlineRules, KazakhCalendar, due_at
from ledger.obligations import Meets, Starts, effects
from ledger.policy import Policy, PolicyVersion
from ledger.subject import Subject
from ledger.subject_facts import Acceptance, Disclosure, SubjectFact
from projections import verdicts
from projections.view import LedgerView
from projections.view_rows import DeadlineRow, Statement

if TYPE_CHECKING:
    from uuid import UUID


NAMES_KEPT = 10_000
"""How many recently created aggregates' names the projection remembers (more than any batch creates)."""


class LedgerProjection(Projection[LedgerView]):
    """Keeps the view of every question the read side answers."""

    name = "LedgerView"
    rules: DeadlineRules = DEFAULT_RULES
    calendar: KazakhCalendar = KazakhCalendar()

    def __init__(self, view: LedgerView) -> None:
        """Write to `view`; remember policy names, which version events do not repeat."""
        super().__init__(view)
        self._names: OrderedDict[UUID, str] = OrderedDict()
        """Names seen recently: a batch may name an aggregate created earlier in the same, uncommitted batch."""
        self._judged: OrderedDict[UUID, list[SubjectFact]] = OrderedDict()
        """Judged entries of subjects seen recently (a batch may add to a subject it judged earlier, uncommitted)."""
        self._versions: dict[tuple[str, str], PolicyVersion] = {}
        self.before_reading: Callable[[], object] = _nothing
        """Called before the projection reads the view (a keeper may have a batch still to commit)."""

    def settle(self) -> None:
        """The batch committed: keep only the most recently used subjects' entries in memory."""
        while len(self._judged) > NAMES_KEPT:
            self._judged.popitem(last=False)

    def forget(self) -> None:
        """Another writer may have applied events: what is in memory can no longer be trusted."""
        self._judged.clear()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply one event and its tracking record in one transaction."""
        self.view.record(tracking, self.statements(domain_event, tracking.notification_id))

    @singledispatchmethod
    def statements(self, event: Any, position: int) -> list[Statement]:
        """Events the view does not use change nothing (their position still counts)."""
        del event, position
        return []

    @statements.register
    def _(self, event: SubjectFact, position: int) -> list[Statement]:
        return [*self._entry_statements(event, position), *self._deadlines(event)]

    def _entry_statements(self, entry: SubjectFact, position: int) -> list[Statement]:
        subject = entry.originator_id
        writes = [self.view.put_entry(subject, entry, position)]
        if isinstance(entry, Disclosure):
            writes.append(self.view.put_disclosure(subject, entry))
        elif isinstance(entry, verdicts.JUDGED):
            writes.extend(self._judge(subject, entry))
        return writes

    def _deadlines(self, event: Any) -> list[Statement]:
        """What the fact does to deadlines (`ledger.obligations`, which a bundle's verifier folds alike)."""
        writes = []
        for effect in effects(event):
            if isinstance(effect, Starts):
                writes.append(self._deadline(effect, event))
            elif isinstance(effect, Meets):
                writes.append(
                    self.view.meet_deadline(effect.deadline_id, effect.met_at, effect.met_by, effect.recorded_at)
                )
            else:
                writes.append(self.view.drop_deadline(effect.deadline_id))
        return writes

    def _judge(self, subject: UUID, entry: SubjectFact) -> list[Statement]:
        """Re-judge what the new entry can change: the subject's answers as known from its record time on."""
        judged = self._judged.get(subject)
        if judged is None:
            self.before_reading()
            judged = self._judged[subject] = self.view.judged_entries(subject)
        else:
            self._judged.move_to_end(subject)
        first = not judged
        since = entry.recorded_at
        # Rows start at the record times of judged entries: if this one is the latest, none starts at or after it.
        known_later = any(e.recorded_at >= since for e in judged)
        judged.append(entry)
        versions = {
            (a.policy_id, a.policy_version): terms
            for a in judged
            if isinstance(a, Acceptance) and (terms := self._terms(a.policy_id, a.policy_version)) is not None
        }
        if first:
            return self.view.insert_judgements(subject.hex, verdicts.judge(judged, versions))
        rows = verdicts.judge(judged, versions, since)
        return self.view.put_judgements(subject.hex, rows, since, known_later=known_later)

    def _terms(self, policy_id: str, version: str) -> PolicyVersion | None:
        found = self._versions.get((policy_id, version))
        if found is None:
            self.before_reading()
            found = self.view.terms(policy_id, version)
        return found

    @statements.register
    def _(self, event: Subject.Opened, _position: int) -> list[Statement]:
        self._judged[event.originator_id] = []  # a new subject: nothing to look up when its first fact comes
        return [self._put_name(event.originator_id, "subject", event.subject_id)]

    @statements.register
    def _(self, event: Policy.Adopted, _position: int) -> list[Statement]:
        return [self._put_name(event.originator_id, "policy", event.policy_id)]

    @statements.register
    def _(self, event: PolicyVersion, _position: int) -> list[Statement]:
        policy = Policy.__new__(Policy)
        policy.policy_id = self._name(event.originator_id)  # type: ignore[assignment]
        policy.versions = {}
        cast("Policy.Published", event).apply(policy)
        terms = policy.versions[event.version]
        self._versions[terms.policy_id, terms.version] = terms
        return [self.view.put_policy_version(terms)]

    def _put_name(self, aggregate_id: UUID, kind: str, name: str) -> Statement:
        self._names[aggregate_id] = name
        if len(self._names) > NAMES_KEPT:
            self._names.popitem(last=False)
        return self.view.put_name(aggregate_id, kind, name)

    def _name(self, aggregate_id: UUID) -> str:
        found = self._names.get(aggregate_id)
        if found is None:
            self.before_reading()
            found = self.view.name_of(aggregate_id)
        return found

    @statements.register
    def _(self, event: BreachFinding, _position: int) -> list[Statement]:
        writes = [
            self.view.put_breach_subject(event.originator_id, event.breach_ref, s, event.occurred_at)
            for s in event.subject_ids
        ]
        writes.extend(self._deadlines(event))
        writes.append(self._put_name(event.originator_id, "breach", event.breach_ref))
        return writes

    @statements.register
    def _(self, event: AuthorityNotice, _position: int) -> list[Statement]:
        return self._deadlines(event)

    @statements.register
    def _(self, event: BreachNotice, _position: int) -> list[Statement]:
        return [self.view.tell_breach_subject(event.originator_id, event.subject_id, event.occurred_at)]

    @statements.register
    def _(self, event: ClaimFiling, _position: int) -> list[Statement]:
        return self._deadlines(event)

    @statements.register
    def _(self, event: ClaimAnswer, _position: int) -> list[Statement]:
        return self._deadlines(event)

    def _deadline(self, started: Starts, event: Any) -> Statement:
        """The row of an obligation the event started, for the subject whose record it is on (or that it names)."""
        subject_id = self._name(event.originator_id) if isinstance(event, SubjectFact) else started.subject_id
        row = DeadlineRow(
            deadline_id=started.deadline_id,
            obligation=started.obligation.value,
            subject_id=subject_id,
            reference=started.reference,
            triggered_at=started.triggered_at,
            due_at=due_at(started.obligation, started.triggered_at, self.rules, self.calendar),
            recorded_at=started.recorded_at,
            met_at=None,
            met_by=None,
        )
        return self.view.put_deadline(row)


def _nothing() -> None:
    pass


def _handled_topics(projection: type[LedgerProjection]) -> tuple[str, ...]:
    """The topics of every event class a handler is registered for, subclasses included."""
    registered = [c for c in projection.__dict__["statements"].dispatcher.registry if c is not object]
    found: set[type] = set()
    while registered:
        c = registered.pop()
        if c not in found:
            found.add(c)
            registered.extend(c.__subclasses__())
    return tuple(sorted(get_topic(c) for c in found))


LedgerProjection.topics = _handled_topics(LedgerProjection)
"""The library's own attribute for the events a projection processes: every other one changes nothing."""
