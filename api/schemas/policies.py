"""Policies: the body publishing a version (clauses 9.1, 9.2), and the policy read back with every version."""

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from api.schemas.facts import FactBody, body_of, translated
from ledger.application import text_sha256
from ledger.facts import Fact
from ledger.policy import Policy, PolicyVersion
from ledger.terms import Language, Purpose, RecipientCategory, Sha256Hex

PolicyText = Annotated[str, StringConstraints(min_length=1, max_length=300_000)]
"""A policy's exact text in one language, as posted: hashed byte for byte, never stored."""

TextHash = translated(Sha256Hex)


_Derived: Any = body_of(PolicyVersion)
"""The body as the version's declaration gives it; the model below also takes the texts themselves."""


class PolicyVersionBody(_Derived):  # type: ignore[misc]
    """A version of the policy, posted (clauses 9.1, 9.2): its texts or their SHA-256, purposes and recipients."""

    texts: dict[Language, PolicyText] | None = Field(
        default=None,
        description="The exact text per language; the ledger keeps only its SHA-256. Or send `text_sha256`.",
    )
    text_sha256: dict[Language, TextHash] | None = Field(  # type: ignore[valid-type]
        default=None, description="SHA-256 of the exact UTF-8 text per language (kk, ru, en). Or send `texts`."
    )

    @model_validator(mode="after")
    def _texts_or_hashes(self) -> Self:
        if (self.texts is None) == (self.text_sha256 is None):
            msg = "send either `texts` or `text_sha256`, not both and not neither"
            raise ValueError(msg)
        return self

    def stated(self, **path: object) -> Fact:
        """The version, its texts' hashes computed here when the texts themselves were sent."""
        digests = self.text_sha256 or {language: text_sha256(text) for language, text in (self.texts or {}).items()}
        values = {name: getattr(self, name) for name in type(self).model_fields if name not in {"occurred_at", "texts"}}
        stated: Any = {**values, "text_sha256": digests, **path}
        return PolicyVersion(**stated)


def body_for(fact: type[Fact]) -> type[FactBody]:
    """The body of a fact: its derived model, or for a policy version the one that also takes the texts."""
    return PolicyVersionBody if fact is PolicyVersion else body_of(fact)


class PolicyVersionPublic(BaseModel):
    """One published version and what it promised (clauses 4, 5.2, 9.1, 9.2)."""

    version: str
    text_sha256: dict[Language, str]
    purposes: list[Purpose]
    optional_purposes: list[Purpose]
    recipient_categories: list[RecipientCategory]
    data_categories: list[str] | None = Field(
        description="The data categories it covers (Art. 8(4)); null: not stated."
    )
    third_parties: bool | None = Field(description="Whether it lets data go to third parties; null: not stated.")
    cross_border: bool | None = Field(description="Whether it allows cross-border transfer; null: not stated.")
    reconsent_required: bool = Field(description="Whether consents to earlier versions must be given again.")
    effective_from: datetime
    recorded_at: datetime

    @classmethod
    def of(cls, terms: PolicyVersion) -> Self:
        """Show the version as the ledger holds it."""
        return cls(
            version=terms.version,
            text_sha256=terms.text_sha256,
            purposes=sorted(terms.purposes),
            optional_purposes=sorted(terms.optional_purposes),
            recipient_categories=sorted(terms.recipient_categories),
            data_categories=None if terms.data_categories is None else sorted(terms.data_categories),
            third_parties=terms.third_parties,
            cross_border=terms.cross_border,
            reconsent_required=terms.reconsent_required,
            effective_from=terms.takes_effect,
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
