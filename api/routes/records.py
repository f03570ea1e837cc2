"""A subject's consent as the standards read it: W3C DPV states and ISO/IEC TS 27560 records, at T as known at R."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import SubjectRead
from api.routes.questions import BEHIND, AsKnownAt, At, Questions, Subject, _answered, _times
from ledger.terms import SubjectId
from projections.records import CONTEXT

router = APIRouter(tags=["questions"])


class ConsentStateRecord(BaseModel):
    """Where the consent to one policy stood: a W3C DPV state, since when, and the entry that put it there."""

    policy_id: str
    state: str
    """requested, refused, given, renewed, withdrawn, expired or invalidated."""
    dpv: str
    """The DPV concept, e.g. `dpv:ConsentGiven`."""
    valid: bool
    """Whether processing may rest on it (given or renewed)."""
    since: datetime
    entry: int
    """The entry that put it there (for an expiry or invalidation: the consent that ended)."""
    invalidated_by_version: str | None = None


class ConsentStateAnswer(BaseModel):
    """The DPV state of the subject's consent to each policy at `at`, as known at `as_known_at`."""

    subject_id: str
    at: datetime
    as_known_at: datetime
    states: list[ConsentStateRecord]


class ConsentRecordsAnswer(BaseModel):
    """The subject's ISO/IEC TS 27560 consent records (JSON-LD: `@context` reads the fields as DPV terms)."""

    model_config = ConfigDict(populate_by_name=True)

    context: dict[str, Any] = Field(alias="@context", serialization_alias="@context")
    subject_id: str
    at: datetime
    as_known_at: datetime
    records: list[dict[str, Any]]
    """One per policy: header, processing, parties, events, the DPV state, and `absent` (why a value is missing)."""


@router.get("/subjects/{subject_id}/consent-state", responses=BEHIND)
async def consent_state(
    subject_id: Subject, ask: Questions, access: SubjectRead, at: At = None, as_known_at: AsKnownAt = None
) -> ConsentStateAnswer:
    """Where the subject's consent to each policy stood at `at`: requested, refused, given, renewed, withdrawn…"""
    when, known = _times(access.ledger, at, as_known_at)
    states = await _answered(access, subject_id, lambda: ask.consent_states(SubjectId(subject_id), when, known))
    return ConsentStateAnswer(
        subject_id=subject_id,
        at=when,
        as_known_at=known,
        states=[
            ConsentStateRecord(
                policy_id=s.policy_id,
                state=s.state.value,
                dpv=s.state.dpv,
                valid=s.state.valid,
                since=s.since,
                entry=s.entry.number,
                invalidated_by_version=s.invalidated_by.version if s.invalidated_by else None,
            )
            for s in states
        ],
    )


@router.get("/subjects/{subject_id}/consent-records", responses=BEHIND, response_model_by_alias=True)
async def consent_records(
    subject_id: Subject, ask: Questions, access: SubjectRead, at: At = None, as_known_at: AsKnownAt = None
) -> ConsentRecordsAnswer:
    """The subject's ISO/IEC TS 27560 consent record for each policy at `at`, as known at `as_known_at`."""
    when, known = _times(access.ledger, at, as_known_at)
    found = await _answered(access, subject_id, lambda: ask.consent_records(SubjectId(subject_id), when, known))
    answer = {"@context": CONTEXT, "subject_id": subject_id, "at": when, "as_known_at": known, "records": found}
    return ConsentRecordsAnswer.model_validate(answer)
