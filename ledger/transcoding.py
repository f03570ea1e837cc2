"""Stored events as orjson bytes, and a mapper that restores their exact Python types.

orjson writes UUIDs, datetimes, enums and dataclasses natively but reads them back as strings
and dicts. The mapper restores each field from the event class's own annotations, so a
datetime comes back a datetime with its offset, a Decimal a Decimal, a `Sealed` a `Sealed`.
Keys are sorted so the same event always has the same bytes (they are hashed for audits).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic

OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
"""Datetimes pass through to `_default`: orjson rounds a UTC offset to whole minutes, isoformat keeps it."""


def _default(obj: object) -> object:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (frozenset, set)):
        return sorted(obj)
    msg = f"{type(obj).__name__} cannot be stored in an event"
    raise TypeError(msg)


class OrjsonTranscoder(Transcoder):
    """Encodes event state with orjson: canonical (sorted keys), compact, fast."""

    def encode(self, obj: Any) -> bytes:
        """Serialise a dict of event fields."""
        return orjson.dumps(obj, default=_default, option=OPTIONS)

    def decode(self, data: bytes) -> Any:
        """Parse bytes back into plain JSON values; the mapper restores the types."""
        return orjson.loads(data)


@cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def restore(value: Any, annotation: Any) -> Any:
    """Turn a JSON value back into the annotated Python type."""
    return _converter(annotation)(value)


@cache
def _converter(annotation: Any) -> Convert:
    """How to restore a JSON value (or None) of `annotation`: worked out once, not once per value.

    Reading a subject back restores every field of every event, so asking `typing` what each
    annotation means each time cost more than decoding the JSON.
    """
    convert = _converter_of_present(annotation)
    if convert is _identity:
        return _identity

    def present_or_none(value: Any) -> Any:
        return None if value is None else convert(value)

    return present_or_none


def _converter_of_present(annotation: Any) -> Convert:  # noqa: PLR0911  (one branch per kind of type)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _converter(inner[0]) if len(inner) == 1 else _identity
    if origin is tuple:
        item = _converter(args[0])
        return lambda value: tuple(item(v) for v in value)
    if origin in (frozenset, set):
        member = _converter(args[0])
        return lambda value: frozenset(member(v) for v in value)
    if origin is dict:
        key, item = _converter(args[0]), _converter(args[1])
        return lambda value: {key(k): item(v) for k, v in value.items()}
    if annotation is datetime:
        return datetime.fromisoformat
    if annotation in (UUID, Decimal) or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return cast("Convert", annotation)
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        made = annotation
        fields = {name: _converter(hint) for name, hint in _field_types(made).items()}
        return lambda value: made(**{k: fields[k](v) for k, v in value.items()})
    return _identity


@cache
def _event_converters(cls: type) -> dict[str, Convert]:
    """The fields of an event class whose stored value needs restoring, each with how."""
    converters = {name: _converter(hint) for name, hint in _field_types(cls).items()}
    return {name: convert for name, convert in converters.items() if convert is not _identity}


class TypedMapper(Mapper[UUID]):
    """A mapper that gives back events with the types they were written with: the one decoder of stored events.

    The write path, the projections and the view's own rows all decode through it (the view keeps
    entries in the events' own encoding), so an event reads the same wherever it is read.
    """

    def __init__(self, transcoder: Transcoder) -> None:
        """Encode and decode with `transcoder`; classes and converters are worked out once per topic."""
        super().__init__(transcoder=transcoder)
        self._classes: dict[str, tuple[type, dict[str, Convert]]] = {}

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Decode, restore every field by its annotation, and build the event (without running `__init__`)."""
        known = self._classes.get(stored_event.topic)
        if known is None:
            cls = resolve_topic(stored_event.topic)
            known = self._classes[stored_event.topic] = (cls, _event_converters(cls))
        cls, converters = known
        fields = self.transcoder.decode(stored_event.state)
        for name, convert in converters.items():
            if name in fields:
                fields[name] = convert(fields[name])
        fields["originator_id"] = stored_event.originator_id
        fields["originator_version"] = stored_event.originator_version
        fields.pop("class_version", None)
        event: Any = object.__new__(cls)
        event.__dict__.update(fields)
        return cast("DomainEventProtocol[UUID]", event)
