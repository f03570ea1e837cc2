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
from ledger.terms import SubjectId

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
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.policy_id)


class GrantConsent(Line):
    """`POST /v1/subjects/{subject_id}/consents`."""

    op: Literal["grant_consent"]
    subject_id: SubjectRef
    body: ConsentCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)

    def sealed_for(self) -> SubjectId | None:
        """The subject, when the line carries a personal value."""
        return self.subject_id if self.body.representative or self.body.evidence else None


class WithdrawConsent(Line):
    """`POST /v1/subjects/{subject_id}/withdrawals`."""

    op: Literal["withdraw_consent"]
    subject_id: SubjectRef
    body: WithdrawalCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)

    def sealed_for(self) -> SubjectId | None:
        """The subject, when the line carries a personal value."""
        return self.subject_id if self.body.representative or self.body.evidence else None


class RefuseWithdrawal(Line):
    """`POST /v1/subjects/{subject_id}/withdrawal-refusals`."""

    op: Literal["refuse_withdrawal"]
    subject_id: SubjectRef
    body: WithdrawalRefusalCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)


class GrantWrittenPermission(Line):
    """`POST /v1/subjects/{subject_id}/written-permissions`."""

    op: Literal["grant_written_permission"]
    subject_id: SubjectRef
    body: WrittenPermissionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)

    def sealed_for(self) -> SubjectId | None:
        """The subject: the line always carries a personal value."""
        return self.subject_id


class RecordDisclosure(Line):
    """`POST /v1/subjects/{subject_id}/disclosures`."""

    op: Literal["record_disclosure"]
    subject_id: SubjectRef
    body: DisclosureCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)


class BlockData(Line):
    """`POST /v1/subjects/{subject_id}/blocks`."""

    op: Literal["block_data"]
    subject_id: SubjectRef
    body: BlockCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)

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
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id, self.block_id)


class CompleteVerification(Line):
    """`POST /v1/subjects/{subject_id}/blocks/{block_id}/verification`."""

    op: Literal["complete_verification"]
    subject_id: SubjectRef
    block_id: PathRef
    body: VerificationCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id, self.block_id)


class RecordCorrection(Line):
    """`POST /v1/subjects/{subject_id}/corrections`."""

    op: Literal["record_correction"]
    subject_id: SubjectRef
    body: CorrectionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)


class DestroyData(Line):
    """`POST /v1/subjects/{subject_id}/destruction`."""

    op: Literal["destroy_data"]
    subject_id: SubjectRef
    body: DestructionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)


class RetractEntry(Line):
    """`POST /v1/subjects/{subject_id}/retractions`."""

    op: Literal["retract_entry"]
    subject_id: SubjectRef
    body: RetractionCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)


class ReceiveRequest(Line):
    """`POST /v1/subjects/{subject_id}/requests`."""

    op: Literal["receive_request"]
    subject_id: SubjectRef
    body: RequestCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id)

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
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id, self.request_id)


class RecordDisclosureNotice(Line):
    """`POST /v1/subjects/{subject_id}/disclosures/{number}/notice`."""

    op: Literal["record_disclosure_notice"]
    subject_id: SubjectRef
    number: int = Field(ge=1, le=2**53, description="The disclosure's entry number.")
    body: DisclosureNoticeCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.subject_id, self.number)


class RecordBreach(Line):
    """`POST /v1/breaches`."""

    op: Literal["record_breach"]
    body: BreachCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request)


class RecordAuthorityNotice(Line):
    """`POST /v1/breaches/{breach_ref}/authority-notices`."""

    op: Literal["record_authority_notice"]
    breach_ref: PathRef
    body: AuthorityNoticeCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.breach_ref)


class RecordSubjectNotice(Line):
    """`POST /v1/breaches/{breach_ref}/subject-notices`."""

    op: Literal["record_subject_notice"]
    breach_ref: PathRef
    body: SubjectNoticeCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.breach_ref)


class ReceiveClaim(Line):
    """`POST /v1/claims`."""

    op: Literal["receive_claim"]
    body: ClaimCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request)

    def sealed_for(self) -> SubjectId | None:
        """The subject: the line always carries a personal value."""
        return self.body.subject_id


class AnswerClaim(Line):
    """`POST /v1/claims/{claim_ref}/answer`."""

    op: Literal["answer_claim"]
    claim_ref: PathRef
    body: ClaimAnswerCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.claim_ref)


class TakeClaimToCourt(Line):
    """`POST /v1/claims/{claim_ref}/court`."""

    op: Literal["take_claim_to_court"]
    claim_ref: PathRef
    body: CourtCaseCreate

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """As its route does: the body makes the command call, given the path parameters."""
        return self.body.record(ledger, request, self.claim_ref)


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
