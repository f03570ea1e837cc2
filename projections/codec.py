"""How entries and times are kept in view tables so that both backends sort and compare them alike.

Times are stored as ISO 8601 strings in UTC with microseconds and a fixed width, so string
order is time order on SQLite and PostgreSQL alike, and an index on them serves range queries.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic

from ledger import history
from ledger.transcoding import restore

ENTRY_KINDS: dict[str, type[history.Entry]] = {
    cls.__name__: cls
    for cls in (
        history.Acceptance,
        history.Withdrawal,
        history.WithdrawalRefusal,
        history.Permission,
        history.Disclosure,
        history.Block,
        history.BlockLift,
        history.Correction,
        history.Destruction,
        history.Retraction,
        history.SubjectRequest,
        history.Verification,
        history.TransferNotice,
        history.RequestAnswer,
    )
}


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


def _default(obj: object) -> object:
    if isinstance(obj, frozenset):
        return sorted(obj)
    msg = f"{type(obj).__name__} cannot be stored in a view"
    raise TypeError(msg)


def dump(value: object) -> str:
    """JSON text of an entry or terms (dataclasses, enums, frozensets, datetimes)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def load_entry(kind: str, text: str | bytes) -> history.Entry:
    """Rebuild an entry of the given kind from its JSON text."""
    entry: history.Entry = restore(orjson.loads(text), ENTRY_KINDS[kind])
    return entry


def load_terms(text: str | bytes) -> history.PolicyVersionTerms:
    """Rebuild a policy version's terms from JSON text."""
    terms: history.PolicyVersionTerms = restore(orjson.loads(text), history.PolicyVersionTerms)
    return terms


Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


@cache
def converter(annotation: Any) -> Convert:  # noqa: PLR0911  (one branch per kind of type, as `restore` has)
    """`ledger.transcoding.restore` for one annotation, worked out once instead of at every value.

    Replaying the whole log restores millions of fields; asking `typing` what each annotation
    means for every one of them cost more than the rest of the projection.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _optional(converter(inner[0])) if len(inner) == 1 else _same
    if origin is tuple:
        item = converter(args[0])
        return _optional(lambda v: tuple(item(x) for x in v))
    if origin in (frozenset, set):
        item = converter(args[0])
        return _optional(lambda v: frozenset(item(x) for x in v))
    if origin is dict:
        key, val = converter(args[0]), converter(args[1])
        return _optional(lambda v: {key(k): val(x) for k, x in v.items()})
    if annotation is datetime:
        return _optional(datetime.fromisoformat)
    if annotation in (UUID, Decimal) or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return _optional(annotation)
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        fields = _fields_of(annotation)
        kind = annotation
        return _optional(lambda v: kind(**{k: fields[k](x) for k, x in v.items()}))
    return _same


def _optional(convert: Convert) -> Convert:
    return lambda v: None if v is None else convert(v)


@cache
def _fields_of(cls: type) -> dict[str, Convert]:
    return {name: converter(hint) for name, hint in typing.get_type_hints(cls).items()}


class EventDecoder:
    """Stored events to domain events exactly as the ledger's `TypedMapper` builds them, only faster."""

    def __init__(self, transcoder: Transcoder) -> None:
        """Decode with the ledger's own transcoder."""
        self.transcoder = transcoder
        self._classes: dict[str, tuple[type, dict[str, Convert]]] = {}

    def __call__(self, stored: StoredEvent) -> Any:
        """The domain event of one stored event."""
        known = self._classes.get(stored.topic)
        if known is None:
            cls = resolve_topic(stored.topic)
            known = self._classes[stored.topic] = (cls, _fields_of(cls))
        cls, fields = known
        state = self.transcoder.decode(stored.state)
        values = {k: fields[k](v) if k in fields else v for k, v in state.items()}
        values["originator_id"] = stored.originator_id
        values["originator_version"] = stored.originator_version
        values.pop("class_version", None)
        event: Any = object.__new__(cls)
        event.__dict__.update(values)
        return event
