"""The records an evidence bundle proves, read back from the proven bytes exactly as the ledger reads its own.

A bundle carries stored events, each proven to be a leaf of a signed tree. This module turns
those bytes into the ledger's own objects without trusting anything else the bundle says: each
event is decoded by the ledger's mapper (`projections.codec.EVENTS`, the one decoder the write
and read sides use) and the events of each record are replayed through their aggregate's own
`mutate`, which refuses an event that is not the next version of its record. What comes out is
the subject's `Subject` (its entries are what `ledger.rules` judge) and each accepted policy's
`Policy` (its versions), as the ledger would load them.

Only the kinds of event a subject's or a policy's record holds are decoded: a topic names a
Python class to import, and a bundle is untrusted input, so any other topic is refused before
anything is resolved.

Completeness (what the bundle must carry, and why that is enough):

- the subject's whole record, every version from 1 (its opening, which names the subject and
  from whose id the record's id derives) with no gap;
- the whole record of every policy any of the subject's acceptances names, from version 1 (its
  adoption, naming the policy) with no gap: the version in effect at T, and so `behind`,
  depends on every version published, not only the one accepted;
- nothing else.

Every statement about T (consent, blocks, disclosures, deadlines, personal values) is a function
of those records alone, so with them whole from their first event the verifier recomputes each
statement itself. Leaving out an event in the middle of a record breaks its version sequence;
leaving out an event a statement depends on changes what the statement recomputes to; leaving
out a whole policy the subject accepted is named. What no bundle can prove by itself is that a
record has no event after its last one: a Merkle tree proves that leaves are in it, never that a
leaf is absent. The bundle therefore states how far each record is carried (`records`: entries
and the time of the last), the verdict repeats it, and an event recorded later is shown by the
subject's own receipt of it, a later bundle, or an export of the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.domain import OriginatorIDError, OriginatorVersionError
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.policy import Policy, PolicyVersion, policy_key
from ledger.subject import Subject
from ledger.subject_facts import Acceptance, SubjectFact, subject_key
from projections.codec import ENTRY_TOPICS, EVENTS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from audit.leaves import LoggedEvent
    from ledger.terms import PolicyId, SubjectId

SUBJECT, POLICY = "subject", "policy"
"""The two kinds of record a bundle carries, as its events name them (`aggregate`)."""

CARRIED: dict[str, tuple[str, type[Any]]] = {
    get_topic(Subject.Opened): (SUBJECT, Subject),
    **dict.fromkeys(ENTRY_TOPICS.values(), (SUBJECT, Subject)),
    get_topic(Policy.Adopted): (POLICY, Policy),
    get_topic(PolicyVersion.recorded): (POLICY, Policy),
}
"""Every topic a bundle may carry, with the record it belongs to; nothing else is decoded."""


class BundleError(ValueError):
    """A bundle that does not verify: `field` names the first part of it that does not hold, the message why."""

    def __init__(self, field: str, message: str) -> None:
        """Name the field (a path such as `answer.policies[0].behind`) and say what is wrong with it."""
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ProvenEvent:
    """One event of the bundle: where it sits in the bundle, the bytes the log proves, and what they decode to."""

    index: int
    logged: LoggedEvent
    event: Any
    record: str
    """`subject` or `policy`."""

    @property
    def field(self) -> str:
        """Where the event sits in the bundle, for errors."""
        return f"events[{self.index}]"


@dataclass(frozen=True)
class ProvenRecord:
    """The subject's record and the records of the policies they accepted, replayed from proven events."""

    subject_id: SubjectId
    subject: Subject
    policies: dict[PolicyId, Policy]
    events: list[ProvenEvent]
    """Every event of the bundle, in log order."""
    positions: dict[tuple[UUID, int], int]
    """Each event's log position, by (record, version)."""

    @property
    def entries(self) -> list[SubjectFact]:
        """The subject's entries, in order: what the rules judge."""
        return self.subject.entries

    def position(self, event: Any) -> int:
        """The log position of one of the records' events."""
        return self.positions[event.originator_id, event.originator_version]


def proven_record(subject_id: SubjectId, logged: Sequence[LoggedEvent]) -> ProvenRecord:
    """Decode and replay the proven events; BundleError naming the event if they are not whole records."""
    events = [_decoded(i, e) for i, e in enumerate(logged)]
    by_record: dict[UUID, list[ProvenEvent]] = {}
    for e in events:
        by_record.setdefault(e.logged.originator_id, []).append(e)
    subject_events = by_record.pop(subject_key(subject_id), [])
    if not subject_events or subject_events[0].record != SUBJECT:
        raise BundleError("events", f"the bundle does not carry the record of subject {subject_id}")
    subject = cast("Subject", _replayed(subject_events, Subject))
    if subject.subject_id != subject_id:
        raise BundleError("subject_id", "the record carried was opened for another subject than the bundle names")
    accepted = sorted({e.policy_id for e in subject.entries if isinstance(e, Acceptance)})
    policies = {}
    for policy_id in accepted:
        carried = by_record.pop(policy_key(policy_id), [])
        if not carried or carried[0].record != POLICY:
            msg = f"the bundle leaves out the record of policy {policy_id}, which the subject accepted"
            raise BundleError("events", msg)
        policy = cast("Policy", _replayed(carried, Policy))
        if policy.policy_id != policy_id:
            raise BundleError(carried[0].field, f"this policy's record was adopted as another policy than {policy_id}")
        policies[policy_id] = policy
    if by_record:
        stranger = min(e.index for carried in by_record.values() for e in carried)
        msg = "this event belongs to another subject's record, or to a policy the subject never accepted"
        raise BundleError(f"events[{stranger}]", msg)
    positions = {(e.logged.originator_id, e.logged.version): e.logged.position for e in events}
    return ProvenRecord(subject_id, subject, policies, events, positions)


def _decoded(index: int, logged: LoggedEvent) -> ProvenEvent:
    where = f"events[{index}].stored"
    carried = CARRIED.get(logged.topic)
    if carried is None:
        raise BundleError(where, f"a bundle carries a subject's and its policies' records, not {logged.topic!r}")
    stored = StoredEvent(logged.originator_id, logged.version, logged.topic, logged.state)
    try:
        event = EVENTS.to_domain_event(stored)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise BundleError(where, f"the stored state cannot be read as the event it names ({e})") from None
    return ProvenEvent(index, logged, event, carried[0])


def _replayed(events: list[ProvenEvent], kind: type[Any]) -> Any:
    """Replay one record as the ledger's repository does; refuse a record that is not whole from version 1."""
    events = sorted(events, key=lambda e: e.logged.version)
    first = events[0]
    if first.logged.version != 1 or getattr(first.event, "originator_topic", None) != get_topic(kind):
        raise BundleError(first.field, f"the {first.record}'s record is not carried from its first event")
    aggregate: Any = None
    for e in events:
        if aggregate is not None and hasattr(e.event, "originator_topic"):
            raise BundleError(e.field, f"a second opening of the {e.record}'s record")
        try:
            aggregate = e.event.mutate(aggregate)
        except OriginatorVersionError:
            msg = f"this is not the next event of its {e.record}'s record: version {aggregate.version + 1} is missing"
            raise BundleError(e.field, msg) from None
        except (OriginatorIDError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise BundleError(e.field, f"the event cannot be replayed on its record ({error})") from None
    return aggregate
