"""Facts, each declared once: the terms a writer states, from which everything else is derived.

A fact is a frozen dataclass listing the terms the operator records (a consent's version,
language, purposes…), each with its bounds and a docstring. Given to `ConsentLedger.record`
it is the command; decided by its aggregate it is recorded as an event whose class is a
subclass of the fact (`Subject.ConsentGranted` of `Acceptance`), so the event read back *is*
the entry the rules judge. The HTTP body, its OpenAPI document, the import line and the
idempotency fingerprint are read off the same fields, so a term is named in one place.

Three markers qualify a field: `SEALED` (a personal value, encrypted with its subject's key
before it reaches an event), `DECIDED` (filled in by the decision, never stated by a writer)
and `Given` (the name a writer uses, where the stored name differs for history's sake).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar, cast, dataclass_transform
from uuid import UUID

from ledger.errors import LedgerError, PersonalDataInClear
from ledger.terms import DECIDED, SEALED, Sealed

__all__ = [
    "DECIDED",
    "SEALED",
    "Fact",
    "Stamped",
    "declared",
    "fingerprint",
    "hints",
    "marks",
    "memo",
    "recorded_as",
    "sealed",
    "stated",
    "terms",
]

if TYPE_CHECKING:
    from collections.abc import Callable


F = TypeVar("F", bound="type[Fact]")
P = ParamSpec("P")
R = TypeVar("R")


def memo(function: Callable[P, R]) -> Callable[P, R]:
    """`functools.cache`, typed as the function it wraps (mypy reads a dataclass type as unhashable)."""
    return cache(function)  # type: ignore[return-value]


class Stamped:
    """Mixin of every event class that records a fact: the names the rules read its stamp by."""

    originator_version: int
    timestamp: datetime

    @property
    def number(self) -> int:
        """The entry's number on its record (the record's version once it was added)."""
        return self.originator_version

    @property
    def recorded_at(self) -> datetime:
        """When the ledger recorded it; never rewritten."""
        return self.timestamp


@dataclass_transform(kw_only_default=True, frozen_default=True)
@dataclass(frozen=True, kw_only=True)
class Fact:
    """A fact as a writer states it; the ledger adds who recorded it and when (`Stamp`).

    Class attributes set by `declared`: the imperative `command` (the HTTP operation and the
    import line's `op`), the past-tense `event` it is recorded as, the resource `path` it is
    posted to, the `refusals` its decision may raise and `examples` of it (for the API's documents).
    """

    command: ClassVar[str]
    event: ClassVar[str]
    path: ClassVar[str]
    refusals: ClassVar[tuple[type[LedgerError], ...]] = ()
    examples: ClassVar[list[dict[str, Any]]]
    """Bodies a writer would send to state it, that the demo's history accepts (the OpenAPI documents show them)."""
    recorded: ClassVar[type[Any]]
    """The event class, made by the aggregate that records this fact (`recorded_as`)."""
    opens: ClassVar[bool] = False
    """Stated about a record the ledger has never seen, it opens one (else: not found)."""
    creates: ClassVar[bool] = False
    """It is the first fact of its record, which it creates (stated again: refused)."""
    receipted: ClassVar[bool] = False
    """Recorded, it earns the subject a signed consent receipt (ISO/IEC TS 27560; `audit.receipts`)."""

    if TYPE_CHECKING:  # What a fact read back from its record carries besides its terms (see `Stamped`).
        originator_id: ClassVar[UUID]
        originator_version: ClassVar[int]
        number: ClassVar[int]
        occurred_at: ClassVar[datetime]
        recorded_at: ClassVar[datetime]
        recorded_by: ClassVar[str]

    def key(self) -> UUID:
        """The id of the record (aggregate) this fact belongs to."""
        raise NotImplementedError

    def record_name(self) -> str:
        """The record in a person's words, for a refusal: `subject cust-1`, `claim 'c-7'`."""
        raise NotImplementedError


def declared(
    command: str, event: str, path: str, *refusals: type[LedgerError], examples: list[dict[str, Any]]
) -> Callable[[F], F]:
    """Declare a fact: a frozen, keyword-only dataclass with the names it goes by, and how a writer states it."""

    def declare(cls: F) -> F:
        made = dataclass(frozen=True, kw_only=True)(cls)
        made.command, made.event, made.path = command, event, path
        made.refusals = (*cls.refusals, *refusals)
        made.examples = examples
        return cast("F", made)

    return declare


def recorded_as(fact: type[Fact], aggregate: type[Any], base: type[Any]) -> type[Any]:
    """Make the event class that records `fact` on `aggregate`: the fact's terms, personal ones sealed.

    It is a subclass of the fact and of `base` (the aggregate's event base), named and placed as
    if declared inside the aggregate (`Subject.ConsentGranted`), so that its topic is the one
    stored events carry.
    """
    namespace = {
        "__module__": aggregate.__module__,
        "__qualname__": f"{aggregate.__qualname__}.{fact.event}",
        "__doc__": fact.__doc__,
        "__annotations__": {name: _sealed_type(fact, name) for name in sealed(fact)},
    }
    namespace.update({name: None for name in sealed(fact) if _optional(fact, name)})
    event = type(fact.event, (fact, base), namespace)
    setattr(aggregate, fact.event, event)
    fact.recorded = event
    return event


def _optional(fact: type[Fact], name: str) -> bool:
    return any(f.name == name and f.default is None for f in dataclasses.fields(fact))


def _sealed_type(fact: type[Fact], name: str) -> object:
    return Sealed | None if _optional(fact, name) else Sealed


@memo
def hints(fact: type[Any]) -> dict[str, Any]:
    """Each field's annotation with its markers (`Annotated[...]` kept), resolved once."""
    return typing.get_type_hints(fact, include_extras=True)


def marks(fact: type[Any], name: str) -> tuple[object, ...]:
    """The metadata of one field's annotation (bounds, markers, the name it is given under), `| None` or not."""
    hint = hints(fact)[name]
    found = list(getattr(hint, "__metadata__", ()))
    hint = getattr(hint, "__origin__", hint) if found else hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for member in typing.get_args(hint):
            found.extend(getattr(member, "__metadata__", ()))
    return tuple(found)


@memo
def sealed(fact: type[Fact]) -> tuple[str, ...]:
    """The fields holding personal values."""
    return tuple(f.name for f in dataclasses.fields(fact) if SEALED in marks(fact, f.name))


@memo
def stated(fact: type[Fact]) -> tuple[str, ...]:
    """The fields a writer states (every field but those the decision fills in)."""
    return tuple(f.name for f in dataclasses.fields(fact) if DECIDED not in marks(fact, f.name))


def terms(fact: Fact) -> dict[str, Any]:
    """Every field's value, as the event records it (before sealing)."""
    return {f.name: getattr(fact, f.name) for f in dataclasses.fields(fact)}


PERSONAL_IN_CLEAR = (
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "an e-mail address"),
    (re.compile(r"\+\d[\d\s()-]{8,}\d|(?<!\d)8[\s(-]*7\d\d[\s)-]*\d{3}[\s-]*\d\d[\s-]*\d\d(?!\d)"), "a phone number"),
    (re.compile(r"(?<!\d)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[1-6]\d{5}(?!\d)"), "an IIN"),
)
"""What marks a value as someone's own data: an e-mail address, a phone number (international, or Kazakh with
8 7xx), an individual identification number (12 digits: a birth date, then a century-and-sex digit 1-6 — a
company's BIN has a day of 40 or more there, so it is not taken for one)."""


def refuse_personal_in_clear(fact: Fact) -> None:
    """Refuse a fact whose terms kept in clear hold personal data: the ledger keeps them unsealed, forever.

    Every term a writer states is either sealed with the subject's key (evidence, a representative,
    a document, a request's details, a claimant) or kept in clear because the rules compare it, or
    an auditor must read it without a key: ids, recipients, references, channels, reasons. For the
    second kind, no personal value may slip in; an operator who needs one there records it in a
    sealed term instead.
    """
    kind = type(fact)
    secret = set(sealed(kind))
    for name in stated(kind):
        value = getattr(fact, name)
        texts = (
            [value]
            if isinstance(value, str)
            else [v for v in value if isinstance(v, str)]
            if isinstance(value, frozenset)
            else []
        )
        for text in texts:
            for pattern, what in PERSONAL_IN_CLEAR:
                if name not in secret and pattern.search(text):
                    msg = (
                        f"{name} looks like it holds {what}; the ledger keeps {name} in clear for good, so personal "
                        "values go in a sealed term (evidence, representative, document, details) or nowhere"
                    )
                    raise PersonalDataInClear(msg)


def fingerprint(
    fact: Fact, occurred_at: datetime | None, personal: Callable[[list[str | None]], str]
) -> dict[str, object]:
    """What a retry under the same idempotency key must state again: the stated terms, personal ones keyed.

    Personal values enter only as `personal(values)`, a keyed digest, so the fingerprint kept
    with the acknowledgement cannot be used to guess them back.
    """
    kind = type(fact)
    secret = set(sealed(kind))
    found: dict[str, object] = {"fact": kind.command}
    for name in stated(kind):
        if name not in secret:
            found[name] = _plain(getattr(fact, name))
    found["occurred_at"] = occurred_at
    found["personal"] = personal([getattr(fact, name) for name in sealed(kind)])
    return found


def _plain(value: object) -> object:
    """Sets as sorted lists: JSON has no sets, and the digest must not depend on iteration order."""
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    return value
