"""A subject's record as plain values: what the rules read, on the write and the read side.

The aggregate keeps these entries, and the projections rebuild the same entries from their
tables, so a rule is one function over one shape of data wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.terms import (
    Actor,
    BlockGround,
    BlockOutcome,
    BlockRequester,
    ConsentMethod,
    DataCategory,
    DestructionGround,
    DisclosureGround,
    Language,
    PolicyId,
    Purpose,
    RecipientCategory,
    RequestKind,
    RequestOutcome,
)


@dataclass(frozen=True)
class PolicyVersionTerms:
    """What one published version promised (clauses 4, 5.2, 9.2)."""

    policy_id: PolicyId
    version: str
    text_sha256: dict[Language, str]
    purposes: frozenset[Purpose]
    optional_purposes: frozenset[Purpose]
    recipient_categories: frozenset[RecipientCategory]
    effective_from: datetime
    recorded_at: datetime
    published_at: datetime | None = None
    notifies_transfers: bool = False
    """Art. 19: the version promises to tell the subject of every transfer to a third party (within 10 WD)."""
    """Clause 9.2: when the version was posted; nobody can have been shown it before (None: unknown)."""

    def was_posted_by(self, at: datetime) -> bool:
        """Clause 9.2: the version had been posted by `at`, so a subject could have been shown it."""
        return self.published_at is None or self.published_at <= at

    def is_in_effect_or_upcoming(self, at: datetime, later: list[PolicyVersionTerms]) -> bool:
        """Clause 9.2: no version of the same policy took effect after this one, by `at`."""
        return not any(other.effective_from > self.effective_from and other.effective_from <= at for other in later)


@dataclass(frozen=True)
class Entry:
    """One line of a subject's record: its number and both of its times."""

    number: int
    occurred_at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class Acceptance(Entry):
    """Consent given to one policy version (clauses 2.1, 3.1, 4.1.6; Art. 8(4))."""

    policy_id: PolicyId
    policy_version: str
    language: Language
    text_sha256: str
    method: ConsentMethod
    purposes: frozenset[Purpose]
    data_categories: frozenset[DataCategory]
    third_parties: bool
    cross_border: bool
    publication: bool
    valid_until: datetime | None
    actor: Actor


@dataclass(frozen=True)
class Withdrawal(Entry):
    """Consent withdrawn (clause 2.2; Art. 8(7)); no purposes means all of them."""

    policy_id: PolicyId
    purposes: frozenset[Purpose]
    actor: Actor


@dataclass(frozen=True)
class WithdrawalRefusal(Entry):
    """A withdrawal refused while an obligation stays open (Art. 8(2))."""

    policy_id: PolicyId
    open_obligation: str


@dataclass(frozen=True)
class Permission(Entry):
    """Prior written permission for a disclosure outside clause 5.2 (clause 6.2.2)."""

    permission_id: str
    recipient: str
    recipient_category: RecipientCategory
    purpose: Purpose
    valid_from: datetime
    valid_until: datetime | None

    def covers(self, recipient: str, purpose: Purpose, at: datetime) -> bool:
        """The permission names this recipient and purpose and is valid at `at`."""
        return (
            self.recipient == recipient
            and self.purpose == purpose
            and self.valid_from <= at
            and (self.valid_until is None or at < self.valid_until)
        )


@dataclass(frozen=True)
class Disclosure(Entry):
    """Personal data given to a third party, with its ground (clauses 5.2, 6.2.2)."""

    recipient: str
    recipient_category: RecipientCategory
    purpose: Purpose
    data_categories: frozenset[DataCategory]
    ground: DisclosureGround
    reference: str
    flagged_while_blocked: bool


@dataclass(frozen=True)
class Block(Entry):
    """Data blocked from the moment of a request, for verification (clause 6.2.4)."""

    block_id: str
    requester: BlockRequester
    ground: BlockGround


@dataclass(frozen=True)
class BlockLift(Entry):
    """A block lifted with the outcome of its verification (clause 6.2.4)."""

    block_id: str
    outcome: BlockOutcome


@dataclass(frozen=True)
class TransferNotice(Entry):
    """The subject was told of a disclosure of their data (Art. 19)."""

    disclosure_number: int
    channel: str


@dataclass(frozen=True)
class Verification(Entry):
    """The verification a block was for has ended (clause 6.2.4); with no violation, unblock in 1 WD (Art. 25(2)(8))."""

    block_id: str
    violation_found: bool


@dataclass(frozen=True)
class Correction(Entry):
    """Data corrected by the subject or the operator (clause 6.1.2): categories, never values."""

    data_categories: frozenset[DataCategory]


@dataclass(frozen=True)
class Destruction(Entry):
    """The subject's data destroyed beyond restoring (clause 5.3; Art. 1(6), 18)."""

    ground: DestructionGround


@dataclass(frozen=True)
class Retraction(Entry):
    """An earlier entry recorded by mistake, struck out by number (never deleted)."""

    retracted_number: int
    reason: str


@dataclass(frozen=True)
class SubjectRequest(Entry):
    """A request from the subject or their representative; it starts a legal deadline."""

    request_id: str
    kind: RequestKind


@dataclass(frozen=True)
class RequestAnswer(Entry):
    """How a request was met, naming the entry that met it where there is one."""

    request_id: str
    outcome: RequestOutcome
    by_entry: int | None


RETRACTABLE = (Acceptance, Withdrawal, WithdrawalRefusal, Permission, Disclosure, Correction)
"""Entries a mistake can strike out; blocks, lifts and destruction are mended by new facts."""
