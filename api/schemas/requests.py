"""Bodies of a subject's requests: what was asked, and how it was met (Art. 8(7), 19-1, 24, 25(2)(8))."""

from pydantic import ConfigDict, Field

from api.schemas.common import FactCreate, Name, Ref, Text
from ledger.application import ConsentLedger, Receipt, Request
from ledger.terms import Actor, RequestKind, RequestOutcome, SubjectId


class RequestCreate(FactCreate):
    """A request from the subject or their representative; its legal deadline runs from `occurred_at`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "IN-2026-0412",
                    "kind": "correction",
                    "channel": "email",
                    "occurred_at": "2026-03-20T10:00:00+05:00",
                }
            ]
        }
    )

    request_id: Ref = Field(description="The operator's reference for the request, e.g. its incoming number.")
    kind: RequestKind
    channel: Name
    actor: Actor = Actor.SUBJECT
    details: Text | None = Field(default=None, description="What exactly was asked. Sealed with the subject's key.")

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Record the subject's request; its deadline starts."""
        return ledger.receive_request(
            request,
            subject_id,
            request_id=self.request_id,
            kind=self.kind,
            channel=self.channel,
            actor=self.actor,
            details=self.details,
            occurred_at=self.occurred_at,
        )


class RequestAnswerCreate(FactCreate):
    """How a request was met; `done` names the entry (e.g. the correction) that did what was asked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"outcome": "done", "by_entry": 7},
                {"outcome": "refused", "reason": "an order is still being delivered (Art. 8(2))"},
            ]
        }
    )

    outcome: RequestOutcome
    by_entry: int | None = Field(default=None, ge=1, le=2**53, description="The entry number that met the request.")
    reason: Text | None = Field(default=None, description="Required when the request is refused.")

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId, request_id: str) -> Receipt:
        """Record how the request was met."""
        return ledger.answer_request(
            request,
            subject_id,
            request_id=request_id,
            outcome=self.outcome,
            by_entry=self.by_entry,
            reason=self.reason or "",
            occurred_at=self.occurred_at,
        )


class VerificationCreate(FactCreate):
    """The verification a block was for has ended (clause 6.2.4); no violation means unblock within 1 WD."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"violation_found": False}]})

    violation_found: bool

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId, block_id: str) -> Receipt:
        """Record the end of the block's verification."""
        return ledger.complete_verification(
            request, subject_id, block_id=block_id, violation_found=self.violation_found, occurred_at=self.occurred_at
        )


class DisclosureNoticeCreate(FactCreate):
    """The subject was told of a disclosure of their data (Art. 19)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"channel": "email"}]})

    channel: Name

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId, number: int) -> Receipt:
        """Record that the subject was told of the disclosure numbered `number`."""
        return ledger.record_disclosure_notice(
            request, subject_id, disclosure_number=number, channel=self.channel, occurred_at=self.occurred_at
        )
