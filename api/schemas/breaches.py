"""A breach as read back (clause 5.4; Art. 25(2)(8)): whom it touched, who has been told."""

from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field

from ledger.breach import Breach


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
