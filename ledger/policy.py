"""A privacy policy and its published versions (clauses 9.1, 9.2).

A version, once published, never changes: it is addressed by the SHA-256 of each language's
exact text, and publishing it again with any other content is refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import InvalidFact, PolicyVersionConflict
from ledger.history import PolicyVersionTerms
from ledger.stamp import Stamp, require_aware
from ledger.terms import Language, PolicyId, Purpose, RecipientCategory, one_of

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def policy_key(policy_id: PolicyId) -> UUID:
    """The aggregate id of a policy: derived from its name, so every process finds the same one."""
    return uuid5(NAMESPACE_URL, f"consent-ledger:policy:{policy_id}")


class Policy(Aggregate):
    """One privacy policy of the operator, with every version ever published."""

    class Adopted(Aggregate.Created):
        """The operator adopted a privacy policy (clause 1.1; Art. 8(4) names the operator)."""

        policy_id: str
        operator_name: str
        operator_bin: str
        recorded_by: str

    class VersionPublished(Aggregate.Event):
        """A version was posted (clauses 9.1, 9.2), addressed by the hash of each text."""

        recorded_by: str
        occurred_at: datetime
        version: str
        text_sha256: dict[Language, str]
        purposes: tuple[str, ...]
        optional_purposes: tuple[str, ...]
        recipient_categories: tuple[RecipientCategory, ...]
        effective_from: datetime
        notifies_transfers: bool = False
        """Art. 19: the version promises notice of each transfer (absent from versions recorded before it existed)."""

        def apply(self, aggregate: Any) -> None:
            """Keep the version's terms: consents and disclosures are judged against them."""
            assert isinstance(aggregate, Policy)  # noqa: S101  (narrowing for mypy only)
            aggregate.versions[self.version] = PolicyVersionTerms(
                policy_id=aggregate.policy_id,
                version=self.version,
                text_sha256=dict(self.text_sha256),
                purposes=frozenset(Purpose(p) for p in self.purposes),
                optional_purposes=frozenset(Purpose(p) for p in self.optional_purposes),
                recipient_categories=frozenset(self.recipient_categories),
                effective_from=self.effective_from,
                recorded_at=self.timestamp,
                published_at=self.occurred_at,
                notifies_transfers=self.notifies_transfers,
            )

    def __init__(self, policy_id: str, operator_name: str, operator_bin: str, recorded_by: str) -> None:
        """Start with no versions; the first is published right after adoption."""
        self.policy_id = PolicyId(policy_id)
        self.operator_name = operator_name
        self.operator_bin = operator_bin
        self.recorded_by = recorded_by
        self.versions: dict[str, PolicyVersionTerms] = {}

    @classmethod
    def adopt(cls, policy_id: PolicyId, operator_name: str, operator_bin: str, stamp: Stamp) -> Policy:
        """Record that the operator adopted the policy."""
        if not policy_id.strip():
            msg = "policy_id must not be empty"
            raise InvalidFact(msg)
        return cls._create(
            cls.Adopted,
            id=policy_key(policy_id),
            policy_id=policy_id,
            operator_name=operator_name,
            operator_bin=operator_bin,
            recorded_by=stamp.recorded_by,
            timestamp=stamp.recorded_at,
        )

    def publish_version(  # noqa: PLR0917  (every term a version fixes, passed in order by the application)
        self,
        version: str,
        text_sha256: dict[Language, str],
        purposes: frozenset[Purpose],
        optional_purposes: frozenset[Purpose],
        recipient_categories: frozenset[RecipientCategory],
        effective_from: datetime | None,
        stamp: Stamp,
        *,
        notifies_transfers: bool = False,
    ) -> bool:
        """Publish a version; True if recorded, False if the identical version was already there."""
        effective = require_aware(effective_from, "effective_from") if effective_from else stamp.occurred_at
        texts = {one_of(Language, language, "language"): digest for language, digest in text_sha256.items()}
        categories = frozenset(one_of(RecipientCategory, c, "recipient category") for c in recipient_categories)
        _check_version_terms(version, texts, purposes, optional_purposes)
        existing = self.versions.get(version)
        if existing is not None:
            same = (
                existing.text_sha256 == texts
                and existing.purposes == purposes
                and existing.optional_purposes == optional_purposes
                and existing.recipient_categories == categories
                and existing.notifies_transfers == notifies_transfers
                # Clause 9.2: a date the version states is one of its terms; an unstated one is not.
                and (effective_from is None or existing.effective_from == effective)
            )
            if not same:
                msg = (
                    f"version {version} of {self.policy_id} was published on "
                    f"{existing.recorded_at.isoformat()} with other text or terms; publish a new version number"
                )
                raise PolicyVersionConflict(msg)
            return False
        self.trigger_event(
            self.VersionPublished,
            recorded_by=stamp.recorded_by,
            occurred_at=stamp.occurred_at,
            version=version,
            text_sha256=dict(sorted(texts.items())),
            purposes=tuple(sorted(purposes)),
            optional_purposes=tuple(sorted(optional_purposes)),
            recipient_categories=tuple(sorted(categories)),
            effective_from=effective,
            notifies_transfers=notifies_transfers,
            timestamp=stamp.recorded_at,
        )
        return True


def _check_version_terms(
    version: str,
    text_sha256: dict[Language, str],
    purposes: frozenset[Purpose],
    optional_purposes: frozenset[Purpose],
) -> None:
    if not version.strip():
        msg = "version must not be empty"
        raise InvalidFact(msg)
    if not text_sha256:
        msg = "a version needs the SHA-256 of its text in at least one language"
        raise InvalidFact(msg)
    for language, digest in text_sha256.items():
        if not SHA256_HEX.match(digest):
            msg = f"text_sha256[{language}] must be 64 lowercase hex digits"
            raise InvalidFact(msg)
    if not purposes:
        msg = "a version needs at least one purpose (clause 4)"
        raise InvalidFact(msg)
    if not optional_purposes <= purposes:
        msg = "optional_purposes must be among the version's purposes"
        raise InvalidFact(msg)
