"""Request bodies read off the facts' declarations: one pydantic model per fact, never retyped.

Each field of a fact becomes a field of its body with the same bounds (the ledger's `Bounds`,
`Count` and `Range` as pydantic constraints), the same docstring (as its description), and the
name the writer knows it by (`Given`). Path parameters and what the ledger decides are left out;
`occurred_at` is added. The HTTP routes and the import lines both validate with these models, so
a fact is refused for the same reasons, in the same words, wherever it comes in.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from datetime import datetime
from typing import Annotated, Any, ClassVar, cast

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from api.schemas.common import Body, Moment, attribute_docstrings
from ledger.facts import DECIDED, Fact, hints, marks, memo
from ledger.terms import Bounds, Count, Given, Range

OCCURRED_AT = (
    "When it happened, as the writer states it (a paper form signed last week), with a UTC offset;"
    " defaults to the moment the ledger records it. At most a few minutes in the future."
)


class FactBody(Body):
    """A body stating a fact: its terms, and when it happened."""

    fact: ClassVar[type[Fact]]
    occurred_at: Moment | None = Field(default=None, description=OCCURRED_AT)

    def stated(self, **path: object) -> Fact:
        """The fact this body states, with the route's path parameters (the record it is about)."""
        values = {name: getattr(self, name) for name in type(self).model_fields if name != "occurred_at"}
        return self.fact(**values, **path)


@memo
def path_parameters(fact: type[Fact]) -> dict[str, str]:
    """The route's path parameters, in order (`/subjects/{subject_id}/...`), each with the field it fills."""
    given = {m.name: f.name for f in dataclasses.fields(fact) for m in marks(fact, f.name) if isinstance(m, Given)}
    return {name: given.get(name, name) for name in re.findall(r"\{(\w+)\}", fact.path)}


@memo
def body_of(fact: type[Fact], base: type[FactBody] = FactBody) -> type[FactBody]:
    """The request body of a fact: every field a writer states but those in its path."""
    in_path = set(path_parameters(fact).values())
    docs = attribute_docstrings(fact)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(fact):
        if f.name in in_path or DECIDED in marks(fact, f.name):
            continue
        given = next((m.name for m in marks(fact, f.name) if isinstance(m, Given)), None)
        default = f.default if f.default is not dataclasses.MISSING else ...
        info = Field(default, description=docs.get(f.name), alias=given)
        fields[f.name] = (translated(hints(fact)[f.name]), info)
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": fact.__doc__,
        "__annotations__": {name: annotation for name, (annotation, _) in fields.items()},
        **{name: info for name, (_, info) in fields.items()},
        "model_config": ConfigDict(json_schema_extra={"examples": cast("Any", fact.examples)}),
        "fact": fact,
    }
    model: type[FactBody] = type(f"{fact.__name__}Body", (base,), namespace)
    return model


def translated(hint: Any, *, strict: bool = True) -> Any:  # noqa: PLR0911  (one branch per kind of type)
    """The pydantic type of a fact's field type: bounds as constraints, strict scalars (not in a path), aware times."""
    meta = getattr(hint, "__metadata__", ())
    if meta:
        inner, constraints = translated(hint.__origin__, strict=strict), _constraints(meta)
        return Annotated[inner, *constraints] if constraints else inner
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        members = tuple(translated(a) for a in args)
        return typing.Union[members]  # noqa: UP007  (built from a tuple of members)
    if origin is frozenset:
        return frozenset[translated(args[0])]  # type: ignore[misc]
    if origin is dict:
        return dict[translated(args[0]), translated(args[1])]  # type: ignore[misc]
    if hint is bool and strict:
        return StrictBool
    if hint is int and strict:
        return StrictInt
    if hint is datetime:
        return Moment
    return hint


def _constraints(meta: tuple[object, ...]) -> list[object]:
    found: list[object] = []
    for m in meta:
        if isinstance(m, Bounds):
            found.append(StringConstraints(min_length=m.min_length, max_length=m.max_length, pattern=m.pattern))
        elif isinstance(m, Count):
            found.append(Field(min_length=m.min_items, max_length=m.max_items))
        elif isinstance(m, Range):
            found.extend((Ge(m.least), Le(m.most)))
    return found


def examples_of(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The examples a body's OpenAPI document shows."""
    extra = model.model_config.get("json_schema_extra")
    return list(cast("list[dict[str, Any]]", extra.get("examples", []))) if isinstance(extra, dict) else []
