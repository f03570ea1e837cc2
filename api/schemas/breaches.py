"""Breaches (clause 5.4; Art. 25(2)(8)): found, the authority told, each subject told."""

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import MAX_ITEMS, CategoryCode, FactCreate, Name, Ref, SubjectRef
from ledger.application import ConsentLedger, Receipt, Request
from ledger.breach import Breach
from ledger.terms import Channel


class BreachCreate(FactCreate):
    """A loss or disclosure of personal data, found (clause 5.4); `occurred_at` is when it was found."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "breach_ref": "inc-2026-03",
                    "data_categories": ["contact"],
                    "subject_ids": ["u-1", "u-2"],
                    "occurred_at": "2026-03-01T10:00:00+05:00",
                }
            ]
        }
    )

    breach_ref: Ref = Field(description="The operator's incident reference; names the breach from now on.")
    data_categories: frozenset[CategoryCode] = Field(min_length=1, max_length=MAX_ITEMS)
    subject_ids: frozenset[SubjectRef] = Field(min_length=1, max_length=10_000, description="Subjects affected.")

    def record(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the breach found."""
        return ledger.record_breach(
            request,
            breach_ref=self.breach_ref,
            data_categories=self.data_categories,
            subject_ids=self.subject_ids,
            occurred_at=self.occurred_at,
        )


class AuthorityNoticeCreate(FactCreate):
    """The authorised body told of the breach (Art. 25(2)(8): within 1 working day)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"channel": "email", "reference": "outgoing 2026/118"}]})

    channel: Channel
    reference: Name = Field(description="The notice's outgoing reference.")

    def record(self, ledger: ConsentLedger, request: Request, breach_ref: str) -> Receipt:
        """Record that the authorised body was told."""
        return ledger.record_authority_notice(
            request, breach_ref=breach_ref, channel=self.channel, reference=self.reference, occurred_at=self.occurred_at
        )


class SubjectNoticeCreate(FactCreate):
    """An affected subject told of the breach (clause 5.4)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"subject_id": "u-1", "channel": "sms"}]})

    subject_id: SubjectRef
    channel: Channel

    def record(self, ledger: ConsentLedger, request: Request, breach_ref: str) -> Receipt:
        """Record that an affected subject was told."""
        return ledger.record_subject_notice(
            request,
            breach_ref=breach_ref,
            subject_id=self.subject_id,
            channel=self.channel,
            occurred_at=self.occurred_at,
        )


class BreachPublic(BaseModel):
    """A breach, whom it touched, and who has been told."""

    breach_ref: str
    found_at: datetime
    recorded_by: str
    data_categories: list[str]
    subject_ids: list[str]
    subjects_told: list[str]
    subjects_not_told: list[str] = Field(description="Affected subjects not yet told (clause 5.4).")
    authority_told_at: datetime | None = Field(description="When the authorised body was told (Art. 25(2)(8)).")

    @classmethod
    def of(cls, breach: Breach) -> Self:
        """Show the breach as the ledger holds it."""
        return cls(
            breach_ref=breach.breach_ref,
            found_at=breach.found_at,
            recorded_by=breach.recorded_by,
            data_categories=list(breach.data_categories),
            subject_ids=sorted(breach.subject_ids),
            subjects_told=sorted(breach.told),
            subjects_not_told=sorted(breach.subject_ids - breach.told),
            authority_told_at=breach.authority_told_at,
        )
