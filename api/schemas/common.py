"""Shapes every resource shares: bounded strings, moments with an offset, the receipt of a write.

Every string a caller sends has a length limit and refuses control characters, so that bad
input is a 422 at the edge and never reaches the event store; every time must carry its UTC
offset, because a time without one cannot be proved in court.
"""

import re
from datetime import UTC, datetime, timezone
from typing import Annotated, get_origin
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from ledger.application import text_sha256
from ledger.terms import DataCategory, Purpose, SubjectId

NOT_ON_ONE_LINE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
"""What a single-line value may not hold: C0 and C1 controls, the line and paragraph separators
(U+2028, U+2029), and the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069), which make a name read otherwise than it is stored (`abc\u202efdp.exe`)."""

ONE_LINE = f"^[^{NOT_ON_ONE_LINE}]*$"
"""No control or layout characters at all: names, channels, references."""

FREE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
"""Tabs and line breaks allowed (and the layout of text written right to left): reasons, documents, evidence."""

IN_A_PATH = f"^[^/{NOT_ON_ONE_LINE}]+$"
"""Ids that later name a resource in a URL (`/v1/claims/{claim_ref}`) cannot hold a `/`."""


def nameable(value: str) -> str:
    """Refuse `.` and `..`: a URL cannot name a resource by them (clients resolve them away)."""
    if value in {".", ".."}:
        msg = f"{value!r} cannot name anything in a URL"
        raise ValueError(msg)
    return value


Ref = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=IN_A_PATH), AfterValidator(nameable)]
"""An operator's reference that also names something in a URL (a block, a breach, a claim)."""

SubjectRef = Annotated[
    SubjectId, StringConstraints(min_length=1, max_length=200, pattern=IN_A_PATH), AfterValidator(nameable)
]
"""A pseudonymous subject id as the operator chose it; never a name, phone or e-mail."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=ONE_LINE)]
"""A short single-line value: a recipient, a reference number, a court case."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=FREE_TEXT)]
"""Free text a person wrote: a reason, a document reference, evidence of consent."""

PurposeCode = Annotated[Purpose, StringConstraints(min_length=1, max_length=50, pattern=ONE_LINE)]
"""A purpose of processing as the policy numbers it, e.g. `4.1.1` (clause 4)."""

CategoryCode = Annotated[DataCategory, StringConstraints(min_length=1, max_length=100, pattern=ONE_LINE)]
"""A category of personal data, e.g. `contact` (never the values)."""

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""SHA-256 of a policy text's exact UTF-8 bytes, as 64 lowercase hex digits (clause 9.1)."""

EXAMPLE_SHA256 = text_sha256("Privacy policy v1")
"""The hash the OpenAPI examples use: that of the English text in the publishing example."""

MAX_ITEMS = 100
"""The most purposes, categories or subjects one fact may list."""

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


class FactCreate(Body):
    """A body recording a fact: the writer may say when it happened."""

    occurred_at: Moment | None = Field(
        default=None,
        description=(
            "When it happened, as the writer states it (a paper form signed last week), with a UTC offset;"
            " defaults to the moment the ledger records it. At most a few minutes in the future."
        ),
    )


class Receipt(BaseModel):
    """What a write answers: which event it recorded and where it sits in the log."""

    model_config = ConfigDict(from_attributes=True)

    event_type: str = Field(description="The fact recorded, e.g. `ConsentGranted`; `Unchanged` if nothing new was.")
    aggregate_id: UUID = Field(description="The record the fact was appended to.")
    version: int = Field(description="The record's version after the write; send it back as `If-Match`.")
    position: int = Field(description="The fact's position in the ledger's log; reads can wait for it.")
    recorded_at: datetime = Field(description="When the ledger recorded the fact.")
    replayed: bool = Field(description="True when nothing new was recorded: a retry got the first answer.")
