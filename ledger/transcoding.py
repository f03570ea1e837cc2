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


def restore(value: Any, annotation: Any) -> Any:  # noqa: PLR0911  (one branch per kind of type)
    """Turn a JSON value back into the annotated Python type."""
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return restore(value, inner[0]) if len(inner) == 1 else value
    if origin is tuple:
        return tuple(restore(v, args[0]) for v in value)
    if origin in (frozenset, set):
        return frozenset(restore(v, args[0]) for v in value)
    if origin is dict:
        return {restore(k, args[0]): restore(v, args[1]) for k, v in value.items()}
    if annotation is datetime:
        return datetime.fromisoformat(value)
    if annotation in (UUID, Decimal) or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return annotation(value)
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        hints = _field_types(annotation)
        return annotation(**{k: restore(v, hints[k]) for k, v in value.items()})
    return value


class TypedMapper(Mapper[UUID]):
    """A mapper that gives back events with the types they were written with."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Decode, restore every field by its annotation, and build the event."""
        cls = resolve_topic(stored_event.topic)
        state = self.transcoder.decode(stored_event.state)
        hints = _field_types(cls)
        fields = {k: restore(v, hints.get(k, Any)) for k, v in state.items()}
        fields["originator_id"] = stored_event.originator_id
        fields["originator_version"] = stored_event.originator_version
        fields.pop("class_version", None)
        event = object.__new__(cls)
        event.__dict__.update(fields)
        return cast("DomainEventProtocol[UUID]", event)
