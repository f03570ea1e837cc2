"""The import format: one JSON object per line, each a write the operator could have made over HTTP.

A line names the operation (the HTTP route's name, e.g. `record_disclosure`), the caller the
fact is recorded by (what a bearer token's name is over HTTP), an optional idempotency key, the
path parameters of the route (`subject_id`, `block_id`, `breach_ref`, ...) at the top level, and
the request body under `body`, exactly as it would be POSTed:

    {"op": "record_disclosure", "recorded_by": "orders", "subject_id": "s-1",
     "body": {"recipient": "CDEK", "recipient_category": "courier", "purpose": "4.1.1",
              "data_categories": ["address"], "ground": "order_fulfilment", "reference": "order-7"}}

Each body is checked by the very pydantic model the HTTP API checks it with, so a line is refused
for the same reasons, in the same words, as the POST would be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from api.schemas.breaches import AuthorityNoticeCreate, BreachCreate, SubjectNoticeCreate
from api.schemas.claims import ClaimAnswerCreate, ClaimCreate, CourtCaseCreate
from api.schemas.common import IN_A_PATH, SubjectRef, nameable
from api.schemas.policies import PolicyVersionCreate
from api.schemas.requests import DisclosureNoticeCreate, RequestAnswerCreate, RequestCreate, VerificationCreate
from api.schemas.subjects import (
    BlockCreate,
    BlockLiftCreate,
    ConsentCreate,
    CorrectionCreate,
    DestructionCreate,
    DisclosureCreate,
    RetractionCreate,
    WithdrawalCreate,
    WithdrawalRefusalCreate,
    WrittenPermissionCreate,
)
from ledger.terms import PolicyId, SubjectId

if TYPE_CHECKING:
    from ledger.application import ConsentLedger, Receipt, Request

Caller = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""Who recorded the fact, as a token's name is over HTTP: one line of at most 100 characters."""

IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
"""The caller's key that makes a write safe to repeat, as the `Idempotency-Key` header allows it."""

PathRef = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=IN_A_PATH), AfterValidator(nameable)]
"""A reference that names a resource in the route's path: a policy, block, request, breach or claim."""


class Line(BaseModel):
    """What every line carries besides its operation's own parameters; unknown fields are refused, as in a body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recorded_by: Caller | None = Field(
        default=None, description="The caller the fact is recorded by; the command's --recorded-by if absent."
    )
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="As the Idempotency-Key header; derived from the line when absent."
    )

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Make the write this line stands for, as its HTTP route would."""
        raise NotImplementedError

    def sealed_for(self) -> SubjectId | None:
        """The subject whose key will seal a personal value of this line, if it carries one."""
        return None


class PublishPolicyVersion(Line):
    """`POST /v1/policies/{policy_id}/versions`."""

    op: Literal["publish_policy_version"]
    policy_id: PathRef
    body: PolicyVersionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Publish the version."""
        b = self.body
        return ledger.publish_policy_version(
            request,
            policy_id=PolicyId(self.policy_id),
            version=b.version,
            text_sha256=b.digests(),
            purposes=b.purposes,
            optional_purposes=b.optional_purposes,
            recipient_categories=b.recipient_categories,
            effective_from=b.effective_from,
            notifies_transfers=b.notifies_transfers,
            operator_name=b.operator_name,
            operator_bin=b.operator_bin,
            occurred_at=b.occurred_at,
        )


class GrantConsent(Line):
    """`POST /v1/subjects/{subject_id}/consents`."""

    op: Literal["grant_consent"]
    subject_id: SubjectRef
    body: ConsentCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the consent."""
        b = self.body
        return ledger.grant_consent(
            request,
            self.subject_id,
            policy_id=PolicyId(b.policy_id),
            policy_version=b.policy_version,
            language=b.language,
            text_sha256=b.text_sha256,
            method=b.method,
            channel=b.channel,
            optional_purposes=b.optional_purposes,
            data_categories=b.data_categories,
            third_parties=b.third_parties,
            cross_border=b.cross_border,
            publication=b.publication,
            valid_until=b.valid_until,
            actor=b.actor,
            representative=b.representative,
            evidence=b.evidence,
            occurred_at=b.occurred_at,
        )

    def sealed_for(self) -> SubjectId | None:
        """The subject, when the line carries a personal value."""
        return self.subject_id if self.body.representative or self.body.evidence else None


class WithdrawConsent(Line):
    """`POST /v1/subjects/{subject_id}/withdrawals`."""

    op: Literal["withdraw_consent"]
    subject_id: SubjectRef
    body: WithdrawalCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the withdrawal."""
        b = self.body
        return ledger.withdraw_consent(
            request,
            self.subject_id,
            policy_id=PolicyId(b.policy_id),
            purposes=b.purposes,
            channel=b.channel,
            actor=b.actor,
            representative=b.representative,
            evidence=b.evidence,
            occurred_at=b.occurred_at,
        )

    def sealed_for(self) -> SubjectId | None:
        """The subject, when the line carries a personal value."""
        return self.subject_id if self.body.representative or self.body.evidence else None


class RefuseWithdrawal(Line):
    """`POST /v1/subjects/{subject_id}/withdrawal-refusals`."""

    op: Literal["refuse_withdrawal"]
    subject_id: SubjectRef
    body: WithdrawalRefusalCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the refusal to withdraw."""
        b = self.body
        return ledger.refuse_withdrawal(
            request,
            self.subject_id,
            policy_id=PolicyId(b.policy_id),
            open_obligation=b.open_obligation,
            reason=b.reason,
            occurred_at=b.occurred_at,
        )


class GrantWrittenPermission(Line):
    """`POST /v1/subjects/{subject_id}/written-permissions`."""

    op: Literal["grant_written_permission"]
    subject_id: SubjectRef
    body: WrittenPermissionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the written permission."""
        b = self.body
        return ledger.grant_written_permission(
            request,
            self.subject_id,
            permission_id=b.permission_id,
            recipient=b.recipient,
            recipient_category=b.recipient_category,
            purpose=b.purpose,
            document=b.document,
            valid_from=b.valid_from,
            valid_until=b.valid_until,
            occurred_at=b.occurred_at,
        )

    def sealed_for(self) -> SubjectId | None:
        """The subject: the line always carries a personal value."""
        return self.subject_id


class RecordDisclosure(Line):
    """`POST /v1/subjects/{subject_id}/disclosures`."""

    op: Literal["record_disclosure"]
    subject_id: SubjectRef
    body: DisclosureCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the disclosure, if its ground holds."""
        b = self.body
        return ledger.record_disclosure(
            request,
            self.subject_id,
            recipient=b.recipient,
            recipient_category=b.recipient_category,
            purpose=b.purpose,
            data_categories=b.data_categories,
            ground=b.ground,
            reference=b.reference,
            occurred_at=b.occurred_at,
        )


class BlockData(Line):
    """`POST /v1/subjects/{subject_id}/blocks`."""

    op: Literal["block_data"]
    subject_id: SubjectRef
    body: BlockCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Block the subject's data."""
        b = self.body
        return ledger.block_data(
            request,
            self.subject_id,
            block_id=b.block_id,
            requester=b.requester,
            ground=b.ground,
            request_details=b.request_details,
            occurred_at=b.occurred_at,
        )

    def sealed_for(self) -> SubjectId | None:
        """The subject, when the line carries a personal value."""
        return self.subject_id if self.body.request_details else None


class LiftBlock(Line):
    """`POST /v1/subjects/{subject_id}/blocks/{block_id}/lift`."""

    op: Literal["lift_block"]
    subject_id: SubjectRef
    block_id: PathRef
    body: BlockLiftCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Lift the block."""
        return ledger.lift_block(
            request,
            self.subject_id,
            block_id=self.block_id,
            outcome=self.body.outcome,
            occurred_at=self.body.occurred_at,
        )


class CompleteVerification(Line):
    """`POST /v1/subjects/{subject_id}/blocks/{block_id}/verification`."""

    op: Literal["complete_verification"]
    subject_id: SubjectRef
    block_id: PathRef
    body: VerificationCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the end of the block's verification."""
        b = self.body
        return ledger.complete_verification(
            request,
            self.subject_id,
            block_id=self.block_id,
            violation_found=b.violation_found,
            occurred_at=b.occurred_at,
        )


class RecordCorrection(Line):
    """`POST /v1/subjects/{subject_id}/corrections`."""

    op: Literal["record_correction"]
    subject_id: SubjectRef
    body: CorrectionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the correction."""
        b = self.body
        return ledger.record_correction(
            request, self.subject_id, data_categories=b.data_categories, occurred_at=b.occurred_at
        )


class DestroyData(Line):
    """`POST /v1/subjects/{subject_id}/destruction`."""

    op: Literal["destroy_data"]
    subject_id: SubjectRef
    body: DestructionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the destruction and delete the subject's key."""
        return ledger.destroy_data(request, self.subject_id, ground=self.body.ground, occurred_at=self.body.occurred_at)


class RetractEntry(Line):
    """`POST /v1/subjects/{subject_id}/retractions`."""

    op: Literal["retract_entry"]
    subject_id: SubjectRef
    body: RetractionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Strike out the entry."""
        b = self.body
        return ledger.retract_entry(
            request, self.subject_id, number=b.number, reason=b.reason, occurred_at=b.occurred_at
        )


class ReceiveRequest(Line):
    """`POST /v1/subjects/{subject_id}/requests`."""

    op: Literal["receive_request"]
    subject_id: SubjectRef
    body: RequestCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the subject's request; its deadline starts."""
        b = self.body
        return ledger.receive_request(
            request,
            self.subject_id,
            request_id=b.request_id,
            kind=b.kind,
            channel=b.channel,
            actor=b.actor,
            details=b.details,
            occurred_at=b.occurred_at,
        )

    def sealed_for(self) -> SubjectId | None:
        """The subject, when the line carries a personal value."""
        return self.subject_id if self.body.details else None


class AnswerRequest(Line):
    """`POST /v1/subjects/{subject_id}/requests/{request_id}/answer`."""

    op: Literal["answer_request"]
    subject_id: SubjectRef
    request_id: PathRef
    body: RequestAnswerCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record how the request was met."""
        b = self.body
        return ledger.answer_request(
            request,
            self.subject_id,
            request_id=self.request_id,
            outcome=b.outcome,
            by_entry=b.by_entry,
            reason=b.reason or "",
            occurred_at=b.occurred_at,
        )


class RecordDisclosureNotice(Line):
    """`POST /v1/subjects/{subject_id}/disclosures/{number}/notice`."""

    op: Literal["record_disclosure_notice"]
    subject_id: SubjectRef
    number: int = Field(ge=1, le=2**53, description="The disclosure's entry number.")
    body: DisclosureNoticeCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record that the subject was told of the disclosure."""
        b = self.body
        return ledger.record_disclosure_notice(
            request, self.subject_id, disclosure_number=self.number, channel=b.channel, occurred_at=b.occurred_at
        )


class RecordBreach(Line):
    """`POST /v1/breaches`."""

    op: Literal["record_breach"]
    body: BreachCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the breach found."""
        b = self.body
        return ledger.record_breach(
            request,
            breach_ref=b.breach_ref,
            data_categories=b.data_categories,
            subject_ids=b.subject_ids,
            occurred_at=b.occurred_at,
        )


class RecordAuthorityNotice(Line):
    """`POST /v1/breaches/{breach_ref}/authority-notices`."""

    op: Literal["record_authority_notice"]
    breach_ref: PathRef
    body: AuthorityNoticeCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record that the authorised body was told."""
        b = self.body
        return ledger.record_authority_notice(
            request, breach_ref=self.breach_ref, channel=b.channel, reference=b.reference, occurred_at=b.occurred_at
        )


class RecordSubjectNotice(Line):
    """`POST /v1/breaches/{breach_ref}/subject-notices`."""

    op: Literal["record_subject_notice"]
    breach_ref: PathRef
    body: SubjectNoticeCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record that an affected subject was told."""
        b = self.body
        return ledger.record_subject_notice(
            request, breach_ref=self.breach_ref, subject_id=b.subject_id, channel=b.channel, occurred_at=b.occurred_at
        )


class ReceiveClaim(Line):
    """`POST /v1/claims`."""

    op: Literal["receive_claim"]
    body: ClaimCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the claim received."""
        b = self.body
        return ledger.receive_claim(
            request, claim_ref=b.claim_ref, subject_id=b.subject_id, claimant=b.claimant, occurred_at=b.occurred_at
        )

    def sealed_for(self) -> SubjectId | None:
        """The subject: the line always carries a personal value."""
        return self.body.subject_id


class AnswerClaim(Line):
    """`POST /v1/claims/{claim_ref}/answer`."""

    op: Literal["answer_claim"]
    claim_ref: PathRef
    body: ClaimAnswerCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record the answer to the claim."""
        b = self.body
        return ledger.answer_claim(
            request, claim_ref=self.claim_ref, outcome=b.outcome, channel=b.channel, occurred_at=b.occurred_at
        )


class TakeClaimToCourt(Line):
    """`POST /v1/claims/{claim_ref}/court`."""

    op: Literal["take_claim_to_court"]
    claim_ref: PathRef
    body: CourtCaseCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Record that the claim went to court."""
        return ledger.take_claim_to_court(
            request, claim_ref=self.claim_ref, court_case=self.body.court_case, occurred_at=self.body.occurred_at
        )


AnyLine = Annotated[
    PublishPolicyVersion
    | GrantConsent
    | WithdrawConsent
    | RefuseWithdrawal
    | GrantWrittenPermission
    | RecordDisclosure
    | BlockData
    | LiftBlock
    | CompleteVerification
    | RecordCorrection
    | DestroyData
    | RetractEntry
    | ReceiveRequest
    | AnswerRequest
    | RecordDisclosureNotice
    | RecordBreach
    | RecordAuthorityNotice
    | RecordSubjectNotice
    | ReceiveClaim
    | AnswerClaim
    | TakeClaimToCourt,
    Field(discriminator="op"),
]
"""Any line, told apart by its `op`."""

OPERATIONS = tuple(
    sorted(t.model_fields["op"].annotation.__args__[0] for t in Line.__subclasses__())  # type: ignore[union-attr]
)
"""The operation names a line may give."""

_LINE: TypeAdapter[Any] = TypeAdapter(cast("Any", AnyLine))  # mypy reads the Annotated union as a type


class BadLine(ValueError):
    """A line that is not a write the HTTP API would accept; the message says why, in one line."""


def parse_line(raw: bytes) -> Line:
    """Read and check one line: JSON, then the same model its HTTP route checks the body with."""
    try:
        line: Line = _LINE.validate_json(raw)
    except ValidationError as e:
        raise BadLine(_first_error(e)) from None
    return line


def _first_error(error: ValidationError) -> str:
    """The first problem, where it is (`body.occurred_at`) and what is wrong, plus how many more there are."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "json_invalid":
        message = f"not JSON: {first.get('ctx', {}).get('error', first['msg'])}"
    elif first["type"] == "union_tag_invalid":
        message = f"op must be one of: {', '.join(OPERATIONS)}"
    elif first["type"] == "union_tag_not_found":
        message = "a line names its operation in `op`"
    else:
        message = f"{_without_op(where)}: {first['msg']}" if where else first["msg"]
    more = len(problems) - 1
    return message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _without_op(where: str) -> str:
    """`record_disclosure.body.reference` reads better as `body.reference`: the op is known from the line."""
    head, _, rest = where.partition(".")
    return rest if head in OPERATIONS and rest else where
