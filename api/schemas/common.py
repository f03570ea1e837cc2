"""Shapes every resource shares: bounded strings, moments with an offset, the receipt of a write.

Every string a caller sends has a length limit and refuses control characters, so that bad
input is a 422 at the edge and never reaches the event store; every time must carry its UTC
offset, because a time without one cannot be proved in court.
"""

import ast
import dataclasses
import inspect
import itertools
import re
import textwrap
import typing
from datetime import UTC, datetime, timezone
from typing import Annotated, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    create_model,
    field_validator,
)

from ledger.facts import memo
from ledger.terms import IN_A_PATH, ONE_LINE
from ledger.writing import Receipt

__all__ = ["IN_A_PATH", "ONE_LINE", "Body", "Moment", "ReceiptPublic", "attribute_docstrings"]

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""Nothing this ledger records happened before; an earlier year is a typo."""

LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""Room for "valid until further notice" dates that still convert to any offset without overflowing."""


WRITTEN_OUT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")
"""A time as a person writes it: the date first, then the time (pydantic also reads bare Unix timestamps)."""


def _written_out(value: object) -> object:
    """Refuse Unix timestamps (numbers, or digits in a string): they are not a time as the writer stated it."""
    if isinstance(value, datetime) or (isinstance(value, str) and WRITTEN_OUT.match(value)):
        return value
    msg = "must be an ISO 8601 date and time with a UTC offset, e.g. 2026-03-01T10:00:00+05:00"
    raise ValueError(msg)


YEARS = r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
"""The years 1900 to 9998 as written, for the OpenAPI document: what `_plausible` accepts."""


def _plausible(value: datetime) -> datetime:
    """Refuse times no record of consent can hold, and keep the caller's offset as a plain one.

    The date as written (in its own offset) must fall in 1900-9998: the bound the OpenAPI
    document states with `YEARS`, and room for any offset either side without overflowing.
    """
    if not EARLIEST.year <= value.year < LATEST.year:
        msg = "must fall between 1900-01-01 and 9998-12-31"
        raise ValueError(msg)
    offset = value.utcoffset()
    return value if offset is None else value.replace(tzinfo=timezone(offset))


Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_written_out),
    AfterValidator(_plausible),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": YEARS}),
]
"""An ISO 8601 time with its UTC offset, e.g. `2026-03-01T10:00:00+05:00`; naive times are refused."""


OFFSET_AS_SPACE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9:.]+) ([0-9]{2}(?::?[0-9]{2})?)$")
"""A time whose offset's `+` a URL query turned into a space: `2026-03-01T10:00:00 05:00`."""

IN_A_URL = (
    "must be an ISO 8601 date and time with a UTC offset, e.g. 2026-03-01T10:00:00+05:00; in a URL write the + "
    "as %2B (2026-03-01T10:00:00%2B05:00), or give the time in UTC with Z (2026-03-01T05:00:00Z)"
)


def _offset_restored(value: object) -> object:
    """Give back the `+` of an offset that URL decoding made a space (a space before `HH:MM` can mean nothing else).

    A query string's `+` means a space (HTML forms, curl, browsers), so `at=...T10:00:00+05:00` typed
    unencoded arrives as `...T10:00:00 05:00`. Any other time that does not parse is refused with how to
    write it in a URL.
    """
    if not isinstance(value, str):
        return value
    restored = OFFSET_AS_SPACE.sub(r"\1+\2", value.strip())
    try:
        parsed = datetime.fromisoformat(restored)
    except ValueError:
        raise ValueError(IN_A_URL) from None
    if parsed.tzinfo is None:
        raise ValueError(IN_A_URL)
    return restored


QueryMoment = Annotated[
    AwareDatetime,
    BeforeValidator(_written_out),
    BeforeValidator(_offset_restored),
    AfterValidator(_plausible),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": YEARS}),
]
"""A `Moment` in a URL's query: the same times, and a `+` decoded to a space before the offset is read as `+`."""


MAX_LISTED = 10
"""Repeated items named in a refusal at most: the answer stays short whatever the list."""


def _repeated(values: list[object]) -> set[str]:
    """The items named more than once, in one pass (a count per item was quadratic: 26 s for 40,000 items)."""
    seen: set[object] = set()
    repeated: set[str] = set()
    for value in values:
        key = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if key in seen:
            repeated.add(repr(value))
        seen.add(key)
    return repeated


class Body(BaseModel):
    """A request body: unknown fields are refused, so a misspelt `occured_at` is never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_repeats_in_a_set(cls, value: object, info: ValidationInfo) -> object:
        """A set field's list (OpenAPI `uniqueItems`) may not name an item twice: a repeat is a mistake."""
        if not isinstance(value, list):  # most values: no need to look the field up (a slow class property)
            return value
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and get_origin(field.annotation) is frozenset:
            repeated = _repeated(value)
            if repeated:
                listed = ", ".join(sorted(repeated)[:MAX_LISTED])
                more = f" and {len(repeated) - MAX_LISTED} more" if len(repeated) > MAX_LISTED else ""
                msg = f"each item may appear once; repeated: {listed}{more}"
                raise ValueError(msg)
        return value


@memo
def attribute_docstrings(cls: type) -> dict[str, str]:
    """The docstring under each field of a class and its bases, as written in their source."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ in {"builtins", "abc"} or not klass.__module__.startswith("ledger"):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0]
        statements = getattr(body, "body", [])
        for field, doc in itertools.pairwise(statements):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)
            ):
                found[field.target.id] = inspect.cleandoc(doc.value.value)
    return found


def _documented(cls: type) -> type[BaseModel]:
    """A pydantic model of a dataclass of the ledger's, its fields described by their docstrings."""
    docs, types = attribute_docstrings(cls), typing.get_type_hints(cls)
    fields = {f.name: (types[f.name], Field(description=docs.get(f.name))) for f in dataclasses.fields(cls)}
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        cls.__name__, __config__=ConfigDict(from_attributes=True), __doc__=cls.__doc__, **fields
    )
    return model


ReceiptPublic = _documented(Receipt)
"""What a write answers, as the ledger's `Receipt` says it."""
