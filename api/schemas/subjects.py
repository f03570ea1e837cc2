"""A subject's record: each fact it can be given, and the facts read back."""

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictInt
from pydantic.config import JsonDict
from pydantic_core import to_jsonable_python

from api.schemas.common import (
    EXAMPLE_SHA256,
    MAX_ITEMS,
    CategoryCode,
    FactCreate,
    Moment,
    Name,
    PurposeCode,
    Ref,
    Sha256Hex,
    Text,
)
from ledger.application import ConsentLedger, Receipt, RecordedFact, Request
from ledger.terms import (
    Actor,
    BlockGround,
    BlockOutcome,
    BlockRequester,
    Channel,
    ConsentMethod,
    DestructionGround,
    DisclosureGround,
    Language,
    PolicyId,
    RecipientCategory,
    SubjectId,
)


def _examples(*examples: JsonDict) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class ConsentCreate(FactCreate):
    """Consent to a policy version, with the terms Art. 8(4) asks it to name (clauses 2.1, 3.1, 4.1.6)."""

    model_config = _examples(
        {
            "policy_id": "qlever-privacy",
            "policy_version": "1",
            "language": "en",
            "text_sha256": EXAMPLE_SHA256,
            "method": "registration",
            "channel": "app",
            "optional_purposes": ["4.1.6"],
            "data_categories": ["contact", "address"],
            "third_parties": True,
            "evidence": "ip=10.0.0.7 device=android",
            "occurred_at": "2026-03-01T10:00:00+05:00",
        }
    )

    policy_id: Ref
    policy_version: Name
    language: Language = Field(description="The language of the text the subject was shown.")
    text_sha256: Sha256Hex = Field(description="SHA-256 of the text shown: the version's text in `language`.")
    method: ConsentMethod = Field(description="How consent was given (clauses 2.1, 3.1).")
    channel: Channel = Field(description="Where it was given (Art. 8(1)).")
    optional_purposes: frozenset[PurposeCode] = Field(
        default=frozenset(), max_length=MAX_ITEMS, description="Opt-in purposes accepted (clause 4.1.6)."
    )
    data_categories: frozenset[CategoryCode] = Field(
        default=frozenset(), max_length=MAX_ITEMS, description="Which data are collected (Art. 8(4))."
    )
    third_parties: StrictBool = Field(default=False, description="Whether data go to third parties (Art. 8(4)).")
    cross_border: StrictBool = Field(default=False, description="Whether data cross the border (Art. 8(4), 16).")
    publication: StrictBool = Field(default=False, description="Whether data are made public (Art. 8(4)).")
    valid_until: Moment | None = Field(
        default=None, description="The consent's term (Art. 8(4)-(5)); none: until the purpose is met."
    )
    actor: Actor = Field(default=Actor.SUBJECT, description="The subject or a legal representative (Art. 8(7)).")
    representative: Text | None = Field(
        default=None, description="The representative and their authority; required when one acted. Sealed."
    )
    evidence: Text | None = Field(
        default=None, description="Proof the consent was received, e.g. IP and device (Art. 25(2)(5)). Sealed."
    )

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Record the consent: the one mapping of this body to its command, for the route and the import alike."""
        return ledger.grant_consent(
            request,
            subject_id,
            policy_id=PolicyId(self.policy_id),
            policy_version=self.policy_version,
            language=self.language,
            text_sha256=self.text_sha256,
            method=self.method,
            channel=self.channel,
            optional_purposes=self.optional_purposes,
            data_categories=self.data_categories,
            third_parties=self.third_parties,
            cross_border=self.cross_border,
            publication=self.publication,
            valid_until=self.valid_until,
            actor=self.actor,
            representative=self.representative,
            evidence=self.evidence,
            occurred_at=self.occurred_at,
        )


class WithdrawalCreate(FactCreate):
    """Consent withdrawn, wholly or for some purposes (clause 2.2; Art. 8(7))."""

    model_config = _examples(
        {"policy_id": "qlever-privacy", "purposes": ["4.1.6"], "channel": "email"},
        {
            "policy_id": "qlever-privacy",
            "channel": "paper",
            "actor": "legal_representative",
            "representative": "parent, birth certificate No. 123",
            "occurred_at": "2026-03-01T10:00:00+05:00",
        },
    )

    policy_id: Ref
    purposes: frozenset[PurposeCode] = Field(
        default=frozenset(), max_length=MAX_ITEMS, description="Purposes withdrawn; none means all of them."
    )
    channel: Channel
    actor: Actor = Actor.SUBJECT
    representative: Text | None = Field(default=None, description="Who acted for the subject, by what right. Sealed.")
    evidence: Text | None = Field(default=None, description="Proof the withdrawal was received. Sealed.")

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Record the withdrawal."""
        return ledger.withdraw_consent(
            request,
            subject_id,
            policy_id=PolicyId(self.policy_id),
            purposes=self.purposes,
            channel=self.channel,
            actor=self.actor,
            representative=self.representative,
            evidence=self.evidence,
            occurred_at=self.occurred_at,
        )


class WithdrawalRefusalCreate(FactCreate):
    """A withdrawal refused with reasons while an obligation stays open (Art. 8(2))."""

    model_config = _examples(
        {
            "policy_id": "qlever-privacy",
            "open_obligation": "order 2026-0042 in delivery",
            "reason": "the order cannot be delivered without the address",
        }
    )

    policy_id: Ref
    open_obligation: Name = Field(description="The unfulfilled obligation, e.g. an open order.")
    reason: Text

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Record the refusal to withdraw."""
        return ledger.refuse_withdrawal(
            request,
            subject_id,
            policy_id=PolicyId(self.policy_id),
            open_obligation=self.open_obligation,
            reason=self.reason,
            occurred_at=self.occurred_at,
        )


class WrittenPermissionCreate(FactCreate):
    """Prior written permission for one recipient and purpose (clause 6.2.2)."""

    model_config = _examples(
        {
            "permission_id": "wp-17",
            "recipient": "Insurer LLP",
            "recipient_category": "other",
            "purpose": "4.1.3",
            "document": "scan 2026/17, signed on paper",
            "valid_until": "2027-03-01T00:00:00+05:00",
        }
    )

    permission_id: Ref
    recipient: Name
    recipient_category: RecipientCategory
    purpose: PurposeCode
    document: Text = Field(description="The signed document's reference. Sealed.")
    valid_from: Moment | None = Field(default=None, description="Defaults to `occurred_at`.")
    valid_until: Moment | None = None

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Record the written permission."""
        return ledger.grant_written_permission(
            request,
            subject_id,
            permission_id=self.permission_id,
            recipient=self.recipient,
            recipient_category=self.recipient_category,
            purpose=self.purpose,
            document=self.document,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            occurred_at=self.occurred_at,
        )


class DisclosureCreate(FactCreate):
    """Personal data given to a third party, with its legal ground (clauses 5.2, 6.2.2; Art. 9)."""

    model_config = _examples(
        {
            "recipient": "Courier LLP",
            "recipient_category": "courier",
            "purpose": "4.1.2",
            "data_categories": ["contact", "address"],
            "ground": "order_fulfilment",
            "reference": "order 2026-0042",
        },
        {
            "recipient": "Police department",
            "recipient_category": "state_authority",
            "purpose": "4.1.5",
            "data_categories": ["contact"],
            "ground": "state_request",
            "reference": "request 12-345",
        },
    )

    recipient: Name
    recipient_category: RecipientCategory
    purpose: PurposeCode
    data_categories: frozenset[CategoryCode] = Field(min_length=1, max_length=MAX_ITEMS)
    ground: DisclosureGround
    reference: Name = Field(
        description="The order reference, the state request reference, or the written permission id, per `ground`."
    )

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Record the disclosure, if its ground holds."""
        return ledger.record_disclosure(
            request,
            subject_id,
            recipient=self.recipient,
            recipient_category=self.recipient_category,
            purpose=self.purpose,
            data_categories=self.data_categories,
            ground=self.ground,
            reference=self.reference,
            occurred_at=self.occurred_at,
        )


class BlockCreate(FactCreate):
    """Data blocked from the moment of a request, for verification (clause 6.2.4)."""

    model_config = _examples(
        {
            "block_id": "blk-2026-7",
            "requester": "subject",
            "ground": "inaccurate_data",
            "request_details": "letter of 1 March: address is wrong",
        }
    )

    block_id: Ref
    requester: BlockRequester
    ground: BlockGround
    request_details: Text | None = Field(default=None, description="The request as received. Sealed.")

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Block the subject's data."""
        return ledger.block_data(
            request,
            subject_id,
            block_id=self.block_id,
            requester=self.requester,
            ground=self.ground,
            request_details=self.request_details,
            occurred_at=self.occurred_at,
        )


class BlockLiftCreate(FactCreate):
    """A block lifted with the outcome of its verification (clause 6.2.4)."""

    model_config = _examples({"outcome": "data_corrected"})

    outcome: BlockOutcome

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId, block_id: str) -> Receipt:
        """Lift the block."""
        return ledger.lift_block(
            request, subject_id, block_id=block_id, outcome=self.outcome, occurred_at=self.occurred_at
        )


class CorrectionCreate(FactCreate):
    """Data corrected (clause 6.1.2): which categories changed, never the values."""

    model_config = _examples({"data_categories": ["address"]})

    data_categories: frozenset[CategoryCode] = Field(min_length=1, max_length=MAX_ITEMS)

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Record the correction."""
        return ledger.record_correction(
            request, subject_id, data_categories=self.data_categories, occurred_at=self.occurred_at
        )


class DestructionCreate(FactCreate):
    """The subject's data destroyed, their key deleted (clause 5.3; Art. 1(6), 18)."""

    model_config = _examples({"ground": "subject_request"})

    ground: DestructionGround

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Record the destruction and delete the subject's key."""
        return ledger.destroy_data(request, subject_id, ground=self.ground, occurred_at=self.occurred_at)


class RetractionCreate(FactCreate):
    """An entry recorded by mistake, struck out by its number; the entry stays in the history."""

    model_config = _examples({"number": 3, "reason": "recorded for the wrong subject"})

    number: StrictInt = Field(ge=1, le=2**31, description="The `number` of the fact, as `GET .../facts` shows it.")
    reason: Text

    def record(self, ledger: ConsentLedger, request: Request, subject_id: SubjectId) -> Receipt:
        """Strike out the entry."""
        return ledger.retract_entry(
            request, subject_id, number=self.number, reason=self.reason, occurred_at=self.occurred_at
        )


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
