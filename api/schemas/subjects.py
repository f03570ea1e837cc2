"""A subject's record as read back: every fact, personal fields opened or null once destroyed."""

from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field, JsonValue
from pydantic_core import to_jsonable_python

from ledger.application import RecordedFact


class FactPublic(BaseModel):
    """One fact on a subject's record; personal fields opened, or null once the data were destroyed."""

    number: int = Field(description="The fact's number on the record (the record's version after it).")
    event_type: str
    occurred_at: datetime | None = Field(description="When it happened, as the writer stated.")
    recorded_at: datetime = Field(description="When the ledger recorded it.")
    recorded_by: str | None = Field(description="The service or person who recorded it.")
    fields: dict[str, JsonValue] = Field(description="The fact's terms; enums as their values.")

    @classmethod
    def of(cls, fact: RecordedFact) -> Self:
        """Show the fact as a reader sees it."""
        return cls(
            number=fact.number,
            event_type=fact.event_type,
            occurred_at=fact.occurred_at,
            recorded_at=fact.recorded_at,
            recorded_by=fact.recorded_by,
            fields={name: to_jsonable_python(value) for name, value in fact.fields.items()},
        )


class SubjectFactsPublic(BaseModel):
    """Every fact on a subject's record, oldest first."""

    subject_id: str
    facts: list[FactPublic]
