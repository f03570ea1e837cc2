"""Policies: publishing a version (clauses 9.1, 9.2) and reading every version with its terms."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.common import MAX_ITEMS, ONE_LINE, FactCreate, Moment, PurposeCode, Sha256Hex
from ledger.application import ConsentLedger, Receipt, Request, text_sha256
from ledger.history import PolicyVersionTerms
from ledger.policy import Policy
from ledger.terms import Language, PolicyId, Purpose, RecipientCategory

PolicyText = Annotated[str, StringConstraints(min_length=1, max_length=300_000)]
"""A policy's exact text in one language, as posted: hashed byte for byte, never stored."""


class PolicyVersionCreate(FactCreate):
    """A version of the policy, posted (clause 9.1): its texts or their SHA-256, purposes and recipients."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "1",
                    "texts": {
                        "kk": "Құпиялылық саясаты v1",
                        "ru": "Политика конфиденциальности v1",
                        "en": "Privacy policy v1",
                    },
                    "purposes": ["4.1.1", "4.1.2", "4.1.3", "4.1.6"],
                    "optional_purposes": ["4.1.6"],
                    "recipient_categories": ["courier", "postal", "telecom"],
                    "operator_name": "Qlever LLP",
                    "operator_bin": "000000000000",
                },
                {
                    "version": "2",
                    "text_sha256": {"en": text_sha256("Privacy policy v2")},
                    "purposes": ["4.1.1"],
                    "recipient_categories": ["courier"],
                    "effective_from": "2026-04-01T00:00:00+05:00",
                },
            ]
        }
    )

    version: Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=ONE_LINE)] = Field(
        description="The operator's number for this version, e.g. `2`; a published version never changes."
    )
    texts: dict[Language, PolicyText] | None = Field(
        default=None,
        description="The exact text per language; the ledger keeps only its SHA-256. Or send `text_sha256`.",
    )
    text_sha256: dict[Language, Sha256Hex] | None = Field(
        default=None, description="SHA-256 of the exact UTF-8 text per language (kk, ru, en). Or send `texts`."
    )
    purposes: frozenset[PurposeCode] = Field(
        min_length=1, max_length=MAX_ITEMS, description="Purposes of processing the version lists (clause 4)."
    )
    optional_purposes: frozenset[PurposeCode] = Field(
        default=frozenset(), max_length=MAX_ITEMS, description="Purposes a subject opts into (clause 4.1.6)."
    )
    recipient_categories: frozenset[RecipientCategory] = Field(
        max_length=len(RecipientCategory), description="Recipients the version allows (clause 5.2)."
    )
    effective_from: Moment | None = Field(
        default=None, description="When it takes effect (clause 9.2); defaults to the moment it is posted."
    )
    notifies_transfers: bool = Field(
        default=False,
        description="The version promises to tell the subject of each transfer to a third party (Art. 19: 10 WD).",
    )
    operator_name: Annotated[str, StringConstraints(max_length=200, pattern=ONE_LINE)] = Field(
        default="", description="The operator (clause 1.1; Art. 8(4)); kept from the policy's first version."
    )
    operator_bin: Annotated[str, StringConstraints(pattern=r"^([0-9]{12})?$")] = Field(
        default="", description="The operator's 12-digit BIN (Art. 8(4)); kept from the policy's first version."
    )

    @model_validator(mode="after")
    def _texts_or_hashes(self) -> Self:
        if (self.texts is None) == (self.text_sha256 is None):
            msg = "send either `texts` or `text_sha256`, not both and not neither"
            raise ValueError(msg)
        return self

    def digests(self) -> dict[Language, str]:
        """Give the SHA-256 of each language's text, computing it here when the texts themselves were sent."""
        if self.texts is not None:
            return {language: text_sha256(text) for language, text in self.texts.items()}
        return dict(self.text_sha256 or {})

    def record(self, ledger: ConsentLedger, request: Request, policy_id: str) -> Receipt:
        """Publish the version."""
        return ledger.publish_policy_version(
            request,
            policy_id=PolicyId(policy_id),
            version=self.version,
            text_sha256=self.digests(),
            purposes=self.purposes,
            optional_purposes=self.optional_purposes,
            recipient_categories=self.recipient_categories,
            effective_from=self.effective_from,
            notifies_transfers=self.notifies_transfers,
            operator_name=self.operator_name,
            operator_bin=self.operator_bin,
            occurred_at=self.occurred_at,
        )


class PolicyVersionPublic(BaseModel):
    """One published version and what it promised (clauses 4, 5.2, 9.1, 9.2)."""

    version: str
    text_sha256: dict[Language, str]
    purposes: list[Purpose]
    optional_purposes: list[Purpose]
    recipient_categories: list[RecipientCategory]
    effective_from: datetime
    recorded_at: datetime

    @classmethod
    def of(cls, terms: PolicyVersionTerms) -> Self:
        """Show the version as the ledger holds it."""
        return cls(
            version=terms.version,
            text_sha256=terms.text_sha256,
            purposes=sorted(terms.purposes),
            optional_purposes=sorted(terms.optional_purposes),
            recipient_categories=sorted(terms.recipient_categories),
            effective_from=terms.effective_from,
            recorded_at=terms.recorded_at,
        )


class PolicyPublic(BaseModel):
    """A policy, its operator, and every version published, in the order they were posted."""

    policy_id: str
    operator_name: str
    operator_bin: str
    versions: list[PolicyVersionPublic]

    @classmethod
    def of(cls, policy: Policy) -> Self:
        """Show the policy as the ledger holds it."""
        return cls(
            policy_id=policy.policy_id,
            operator_name=policy.operator_name,
            operator_bin=policy.operator_bin,
            versions=[PolicyVersionPublic.of(v) for v in policy.versions.values()],
        )
