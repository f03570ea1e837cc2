"""A privacy policy and its published versions (clauses 9.1, 9.2).

A version, once published, never changes: it is addressed by the SHA-256 of each language's
exact text, and publishing it again with any other content is refused (the same content again
records nothing).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import InvalidFact, PolicyVersionConflict
from ledger.facts import Fact, Stamped, declared, recorded_as
from ledger.stamp import require_aware
from ledger.terms import (
    MAX_ITEMS,
    ONE_LINE,
    Bounds,
    CategoryCode,
    Count,
    Language,
    Moment,
    PolicyId,
    PolicyRef,
    PurposeCode,
    Purposes,
    RecipientCategory,
    Sha256Hex,
    one_of,
)

if TYPE_CHECKING:
    from ledger.stamp import Stamp

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def policy_key(policy_id: PolicyId) -> UUID:
    """The aggregate id of a policy: derived from its name, so every process finds the same one."""
    return uuid5(NAMESPACE_URL, f"consent-ledger:policy:{policy_id}")


@declared(
    "publish_policy_version",
    "VersionPublished",
    "/policies/{policy_id}/versions",
    PolicyVersionConflict,
    examples=[
        {
            "version": "3",
            "texts": {
                "kk": "Dala Market құпиялылық саясаты, 3-редакция.",
                "ru": "Политика конфиденциальности Dala Market, редакция 3.",
                "en": "Dala Market privacy policy, version 3.",
            },
            "purposes": ["4.1.1", "4.1.3", "4.1.6", "4.1.8"],
            "optional_purposes": ["4.1.6"],
            "recipient_categories": ["courier", "postal", "telecom", "state_authority"],
            "effective_from": "2027-01-01T00:00:00+05:00",
            "operator_name": "Dala Market LLP",
            "operator_bin": "210540012345",
            "data_categories": ["address", "name", "phone"],
            "third_parties": True,
            "cross_border": False,
            "reconsent_required": True,
        }
    ],
)
class PolicyVersion(Fact):
    """A version of the policy, posted (clauses 9.1, 9.2): the hash of each text, its purposes and recipients.

    Recorded, it is the terms every consent and disclosure under it is judged by.
    """

    opens = True
    refusals = (InvalidFact,)

    policy_id: PolicyRef
    version: Annotated[str, Bounds(50, pattern=ONE_LINE)]
    """The operator's number for this version, e.g. `2`; a published version never changes."""
    text_sha256: dict[Language, Sha256Hex]
    """SHA-256 of the exact UTF-8 text per language (kk, ru, en)."""
    purposes: Annotated[frozenset[PurposeCode], Count(MAX_ITEMS, 1)]
    """Purposes of processing the version lists (clause 4)."""
    optional_purposes: Purposes = frozenset()
    """Purposes a subject opts into (clause 4.1.6)."""
    recipient_categories: Annotated[frozenset[RecipientCategory], Count(len(RecipientCategory))]
    """Recipients the version allows (clause 5.2)."""
    effective_from: Moment | None = None
    """When it takes effect (clause 9.2); defaults to the moment it is posted."""
    notifies_transfers: bool = False
    """The version promises to tell the subject of each transfer to a third party (Art. 19: 10 WD)."""
    operator_name: Annotated[str, Bounds(200, 0, ONE_LINE)] = ""
    """The operator (clause 1.1; Art. 8(4)); the policy keeps the one its first version named."""
    operator_bin: Annotated[str, Bounds(12, 0, r"^([0-9]{12})?$")] = ""
    """The operator's 12-digit BIN (Art. 8(4)); the policy keeps the one its first version named."""
    data_categories: Annotated[frozenset[CategoryCode], Count(MAX_ITEMS, 1)] | None = None
    """The data categories the version covers (Art. 8(4)): a consent to it names no others. None: not stated."""
    third_parties: bool | None = None
    """Whether the version lets data go to third parties (Art. 8(4)): if not, no consent to it may. None: not stated."""
    cross_border: bool | None = None
    """Whether the version allows cross-border transfer (Art. 8(4), 16): if not, no consent to it may."""
    reconsent_required: bool = False
    """Consents to earlier versions stop being valid when this one takes effect (DPV ConsentInvalidated)."""

    def key(self) -> UUID:
        """The policy's record."""
        return policy_key(self.policy_id)

    def record_name(self) -> str:
        """`policy '<id>'`."""
        return f"policy {self.policy_id!r}"

    @property
    def takes_effect(self) -> datetime:
        """When the version took (or takes) effect: as stated, else when it was posted (clause 9.2)."""
        return self.effective_from or self.occurred_at

    def was_posted_by(self, at: datetime) -> bool:
        """Clause 9.2: the version had been posted by `at`, so a subject could have been shown it."""
        return self.occurred_at <= at

    def beyond_terms(self, data_categories: frozenset[str], *, third_parties: bool, cross_border: bool) -> str:
        """Art. 8(4): what a consent naming these terms asks beyond this version ("" if nothing)."""
        beyond = []
        if self.data_categories is not None and not data_categories <= self.data_categories:
            extra = ", ".join(sorted(data_categories - self.data_categories))
            covered = ", ".join(sorted(self.data_categories))
            beyond.append(f"data categories {extra} (it covers {covered})")
        if third_parties and self.third_parties is False:
            beyond.append("transfer to third parties")
        if cross_border and self.cross_border is False:
            beyond.append("cross-border transfer")
        return "; ".join(beyond)

    def is_in_effect_or_upcoming(self, at: datetime, versions: list[PolicyVersion]) -> bool:
        """Clause 9.2: no version of the same policy took effect after this one, by `at`."""
        mine = self.takes_effect
        return not any(mine < other.takes_effect <= at for other in versions)


class Policy(Aggregate):
    """One privacy policy of the operator, with every version ever published."""

    class Adopted(Aggregate.Created):
        """The operator adopted a privacy policy (clause 1.1; Art. 8(4) names the operator)."""

        policy_id: str
        operator_name: str
        operator_bin: str
        recorded_by: str

    class Published(Aggregate.Event, Stamped):
        """A version posted: who recorded it and when it was posted."""

        recorded_by: str
        occurred_at: datetime

        def apply(self, aggregate: Any) -> None:
            """Keep the version: consents and disclosures are judged against it.

            Versions recorded before a version named its policy get the policy's id here.
            """
            if "policy_id" not in self.__dict__:
                object.__setattr__(self, "policy_id", aggregate.policy_id)
            version = cast("PolicyVersion", self)
            aggregate.versions[version.version] = version

    def __init__(self, policy_id: str, operator_name: str, operator_bin: str, recorded_by: str) -> None:
        """Start with no versions; the first is published right after adoption."""
        self.policy_id = PolicyId(policy_id)
        self.operator_name = operator_name
        self.operator_bin = operator_bin
        self.recorded_by = recorded_by
        self.versions: dict[str, PolicyVersion] = {}

    @classmethod
    def opened_for(cls, fact: PolicyVersion, stamp: Stamp) -> Policy:
        """Record that the operator adopted the policy, with its first version."""
        if not fact.policy_id.strip():
            msg = "policy_id must not be empty"
            raise InvalidFact(msg)
        return cls._create(
            cls.Adopted,
            id=policy_key(fact.policy_id),
            policy_id=fact.policy_id,
            operator_name=fact.operator_name,
            operator_bin=fact.operator_bin,
            recorded_by=stamp.recorded_by,
            timestamp=stamp.recorded_at,
        )

    def decide(self, fact: PolicyVersion, stamp: Stamp, _context: object) -> PolicyVersion | None:
        """A version is published once; the identical version again records nothing (None)."""
        texts = {one_of(Language, language, "language"): digest for language, digest in fact.text_sha256.items()}
        categories = frozenset(one_of(RecipientCategory, c, "recipient category") for c in fact.recipient_categories)
        _check_version_terms(fact, texts)
        effective = require_aware(fact.effective_from, "effective_from") if fact.effective_from else stamp.occurred_at
        existing = self.versions.get(fact.version)
        if existing is None:
            return _published(fact, texts, categories, effective)
        same = (
            existing.text_sha256 == texts
            and existing.purposes == fact.purposes
            and existing.optional_purposes == fact.optional_purposes
            and existing.recipient_categories == categories
            and existing.notifies_transfers == fact.notifies_transfers
            and _same_bounds(existing, fact)
            # Clause 9.2: a date the version states is one of its terms; an unstated one is not.
            and (fact.effective_from is None or existing.takes_effect == effective)
        )
        if not same:
            msg = (
                f"version {fact.version} of {self.policy_id} was published on "
                f"{existing.recorded_at.isoformat()} with other text or terms; publish a new version number"
            )
            raise PolicyVersionConflict(msg)
        return None


def _same_bounds(existing: PolicyVersion, fact: PolicyVersion) -> bool:
    """The Art. 8(4) terms are terms of the version: stating them otherwise is publishing another version."""
    return (
        existing.data_categories == fact.data_categories
        and existing.third_parties == fact.third_parties
        and existing.cross_border == fact.cross_border
        and existing.reconsent_required == fact.reconsent_required
    )


def _published(
    fact: PolicyVersion, texts: dict[Language, str], categories: frozenset[RecipientCategory], effective: datetime
) -> PolicyVersion:
    return replace(
        fact, text_sha256=dict(sorted(texts.items())), recipient_categories=categories, effective_from=effective
    )


def _check_version_terms(fact: PolicyVersion, texts: dict[Language, str]) -> None:
    if not fact.version.strip():
        msg = "version must not be empty"
        raise InvalidFact(msg)
    if not texts:
        msg = "a version needs the SHA-256 of its text in at least one language"
        raise InvalidFact(msg)
    for language, digest in texts.items():
        if not SHA256_HEX.match(digest):
            msg = f"text_sha256[{language}] must be 64 lowercase hex digits"
            raise InvalidFact(msg)
    if not fact.purposes:
        msg = "a version needs at least one purpose (clause 4)"
        raise InvalidFact(msg)
    if not fact.optional_purposes <= fact.purposes:
        msg = "optional_purposes must be among the version's purposes"
        raise InvalidFact(msg)


recorded_as(PolicyVersion, Policy, Policy.Published)
