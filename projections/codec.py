"""How view tables keep times and entries, so that both backends sort alike and an entry reads as its event.

Times are stored as ISO 8601 strings in UTC with microseconds and a fixed width, so string
order is time order on SQLite and PostgreSQL alike, and an index on them serves range queries.
Entries (and policy versions) are kept in their events' own encoding and read back through the
ledger's mapper: the view holds no second shape of a fact, and no second decoder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.policy import PolicyVersion, policy_key
from ledger.subject import Subject
from ledger.subject_facts import SubjectFact
from ledger.transcoding import OrjsonTranscoder, TypedMapper

EVENTS = TypedMapper(transcoder=OrjsonTranscoder())
"""The ledger's own mapper: what encodes an event for the log encodes it for the view."""

ENTRY_TOPICS: dict[str, str] = {f.event: get_topic(getattr(Subject, f.event)) for f in SubjectFact.__subclasses__()}
"""The topic of each kind of entry a subject's record holds, by its event's name (the view's `kind`)."""

_VERSION_TOPIC = get_topic(PolicyVersion.recorded)

_recent: tuple[object, str, object, str] = (None, "", None, "")
"""The last two times converted and their texts: one event's two times recur in most rows it writes."""


def utc_text(moment: datetime) -> str:
    """A sortable text form of an aware time."""
    global _recent  # noqa: PLW0603  (a memo swapped whole, so any thread reads a consistent one)
    recent = _recent
    if moment is recent[0]:
        return recent[1]
    if moment is recent[2]:
        return recent[3]
    given = moment
    if moment.tzinfo is not UTC:  # (most times are restored in UTC already)
        moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="microseconds")  # as strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"), faster
    _recent = (given, text, recent[0], recent[1])
    return text


def dump(value: object) -> str:
    """JSON text of a plain value kept in a view column (a list of purposes, a map of grants)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def encoded(event: Any) -> str:
    """An entry or a policy version as the view keeps it: its event's own JSON."""
    return EVENTS.to_stored_event(event).state.decode()


def entry(subject: UUID, number: int, kind: str, text: str | bytes) -> SubjectFact:
    """An entry of a subject's record, read back from the view as the event it is."""
    state = text.encode() if isinstance(text, str) else text
    return cast("SubjectFact", EVENTS.to_domain_event(StoredEvent(subject, number, ENTRY_TOPICS[kind], state)))


def policy_version(policy_id: str, text: str | bytes) -> PolicyVersion:
    """A published version read back from the view (it names its policy: the projection saw to that)."""
    state = text.encode() if isinstance(text, str) else text
    key = policy_key(policy_id)  # type: ignore[arg-type]
    return cast("PolicyVersion", EVENTS.to_domain_event(StoredEvent(key, 0, _VERSION_TOPIC, state)))
