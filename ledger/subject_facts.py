"""What a data subject's record holds: each fact declared once, with the terms the law asks it to name.

The rules read these (as recorded: `ledger.facts`), the subject's aggregate decides them
(`ledger.subject`), and the API and the import derive their bodies from them. Field names are
those of the events already stored; where a writer knows a term by another name, `Given` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.errors import (
    InvalidFact,
    NoGroundForDisclosure,
    NotFound,
    NothingToAct,
    OutsideConsentTerms,
    OutsideVersionTerms,
    SubjectBlocked,
    SubjectDestroyed,
    VersionMismatch,
)
from ledger.facts import Fact, declared
from ledger.terms import (
    DECIDED,
    Actor,
    BlockGround,
    BlockOutcome,
    BlockRequester,
    Categories,
    Channel,
    ConsentMethod,
    DestructionGround,
    DisclosureGround,
    EntryNumber,
    Given,
    Language,
    Moment,
    Name,
    Personal,
    PolicyRef,
    Purpose,
    PurposeCode,
    Purposes,
    RecipientCategory,
    Ref,
    RequestKind,
    RequestOutcome,
    Sha256Hex,
    SubjectId,
    SubjectRef,
    Text,
)


def subject_key(subject_id: SubjectId) -> UUID:
    """The aggregate id of a subject: derived from the pseudonymous id, never random."""
    return _subject_key(subject_id)


@lru_cache(maxsize=65_536)
def _subject_key(subject_id: str) -> UUID:
    """Kept: one write asks for its subject's id several times, and `uuid5` hashes each time."""
    return uuid5(NAMESPACE_URL, f"consent-ledger:subject:{subject_id}")


@dataclass(frozen=True, kw_only=True)
class SubjectFact(Fact):
    """A fact about one data subject, added to their record (`Subject`)."""

    opens = True
    refusals = (InvalidFact, SubjectDestroyed, VersionMismatch)

    subject_id: SubjectRef
    """The subject's pseudonymous id."""

    def key(self) -> UUID:
        """The subject's record."""
        return subject_key(self.subject_id)

    def record_name(self) -> str:
        """`subject <id>`."""
        return f"subject {self.subject_id}"


@declared(
    "grant_consent",
    "ConsentGranted",
    "/subjects/{subject_id}/consents",
    NotFound,
    OutsideVersionTerms,
    examples=[
        {
            "policy_id": "dala-market-privacy",
            "policy_version": "2",
            "language": "en",
            "text_sha256": "17201060e5b2695baee50f4b23f1cdc06cfce3daf4ba9c344180662c5dc1d06b",
            "method": "registration",
            "channel": "app",
            "optional_purposes": ["4.1.6"],
            "data_categories": ["contact", "address"],
            "third_parties": True,
            "evidence": "ip=10.0.0.7 device=android",
        }
    ],
)
class Acceptance(SubjectFact):
    """Consent to a published version in effect or about to be (clauses 2.1, 3.1, 4.1.6; Art. 8(1), 8(4))."""

    receipted = True
    policy_id: PolicyRef
    policy_version: Name
    language: Language
    """The language of the text the subject was shown."""
    text_sha256: Sha256Hex
    """SHA-256 of the text shown: the version's text in `language`."""
    method: ConsentMethod
    """How consent was given (clauses 2.1, 3.1)."""
    channel: Channel
    """Where it was given (Art. 8(1))."""
    data_categories: Categories
    """Which data are collected (Art. 8(4)): at least one, and none its version does not cover."""
    optional_purposes: Purposes = frozenset()
    """Opt-in purposes accepted (clause 4.1.6)."""
    third_parties: bool = False
    """Whether data go to third parties (Art. 8(4))."""
    cross_border: bool = False
    """Whether data cross the border (Art. 8(4), 16)."""
    publication: bool = False
    """Whether data are made public (Art. 8(4))."""
    valid_until: Moment | None = None
    """The consent's term (Art. 8(4)-(5)); none: until the purpose is met."""
    actor: Actor = Actor.SUBJECT
    """The subject or a legal representative (Art. 8(7))."""
    representative: Personal | None = None
    """The representative and their authority; required when one acted. Sealed."""
    evidence: Personal | None = None
    """Proof the consent was received, e.g. IP and device (Art. 25(2)(5)). Sealed."""
    purposes: Annotated[frozenset[Purpose], DECIDED] = frozenset()
    """Every purpose consented to: the version's required ones and the optional ones accepted."""


@declared(
    "request_consent",
    "ConsentRequested",
    "/subjects/{subject_id}/consent-requests",
    NotFound,
    examples=[
        {
            "prompt_id": "PR-2026-0107",
            "policy_id": "dala-market-privacy",
            "policy_version": "2",
            "language": "en",
            "text_sha256": "17201060e5b2695baee50f4b23f1cdc06cfce3daf4ba9c344180662c5dc1d06b",
            "channel": "app",
        }
    ],
)
class ConsentRequest(SubjectFact):
    """The subject was asked to consent: a prompt showed a version's text (clauses 2.1, 3.1; DPV ConsentRequested)."""

    receipted = True
    prompt_id: Ref
    """The operator's id for this prompt; the subject's refusal names it."""
    policy_id: PolicyRef
    policy_version: Name
    language: Language
    """The language of the text shown."""
    text_sha256: Sha256Hex
    """SHA-256 of the text shown: the version's text in `language`."""
    channel: Channel
    """Where the prompt was shown (Art. 8(1))."""


@declared(
    "refuse_consent",
    "ConsentRefused",
    "/subjects/{subject_id}/consent-requests/{prompt_id}/refusal",
    NotFound,
    NothingToAct,
    examples=[{"channel": "app"}],
)
class ConsentRefusal(SubjectFact):
    """The subject refused at a prompt (clause 2.1; DPV ConsentRefused): a consent before it, if valid, still holds."""

    opens = False
    receipted = True
    prompt_id: Ref
    """The prompt refused."""
    channel: Channel


@declared(
    "withdraw_consent",
    "ConsentWithdrawn",
    "/subjects/{subject_id}/withdrawals",
    NothingToAct,
    examples=[
        {"policy_id": "dala-market-privacy", "purposes": ["4.1.6"], "channel": "email"},
        {
            "policy_id": "dala-market-privacy",
            "channel": "paper",
            "actor": "legal_representative",
            "representative": "parent, birth certificate No. 123",
        },
    ],
)
class Withdrawal(SubjectFact):
    """Consent withdrawn, wholly or for some purposes (clause 2.2; Art. 8(7))."""

    receipted = True
    policy_id: PolicyRef
    purposes: Purposes = frozenset()
    """Purposes withdrawn; none means all of them."""
    channel: Channel
    actor: Actor = Actor.SUBJECT
    representative: Personal | None = None
    """Who acted for the subject, by what right. Sealed."""
    evidence: Personal | None = None
    """Proof the withdrawal was received. Sealed."""


@declared(
    "refuse_withdrawal",
    "WithdrawalRefused",
    "/subjects/{subject_id}/withdrawal-refusals",
    NothingToAct,
    examples=[
        {
            "policy_id": "dala-market-privacy",
            "open_obligation": "order DM-2026-0042 in delivery",
            "reason": "the order cannot be delivered without the address",
        }
    ],
)
class WithdrawalRefusal(SubjectFact):
    """A withdrawal refused with reasons while an obligation stays open (Art. 8(2))."""

    policy_id: PolicyRef
    open_obligation: Name
    """The unfulfilled obligation, e.g. an open order. Kept in clear (refused if it looks like personal data): a
    subject asks what stands in the way, and auditors check it without a key."""
    reason: Text
    """Kept in clear (refused if it looks like personal data): the refusal's reasons are the operator's, read by the
    subject and auditors."""


@declared(
    "grant_written_permission",
    "WrittenPermissionGranted",
    "/subjects/{subject_id}/written-permissions",
    examples=[
        {
            "permission_id": "WP-2026-101",
            "recipient": "Service Centre LLP",
            "recipient_category": "other",
            "purpose": "4.1.8",
            "document": "scan 2026/101, signed on paper",
            "valid_until": "2027-03-01T00:00:00+05:00",
        }
    ],
)
class Permission(SubjectFact):
    """Prior written permission for a disclosure to one recipient, for one purpose (clause 6.2.2)."""

    permission_id: Ref
    recipient: Name
    """Kept in clear (refused if it looks like personal data): who may receive the data; the rules compare it with each
    disclosure's recipient."""
    recipient_category: RecipientCategory
    purpose: PurposeCode
    document: Personal
    """The signed document's reference. Sealed."""
    valid_from: Moment | None = None
    """Defaults to when the permission was given (`occurred_at`)."""
    valid_until: Moment | None = None


@declared(
    "record_disclosure",
    "DataDisclosed",
    "/subjects/{subject_id}/disclosures",
    NoGroundForDisclosure,
    OutsideConsentTerms,
    SubjectBlocked,
    examples=[
        {
            "recipient": "Courier LLP",
            "recipient_category": "courier",
            "purpose": "4.1.1",
            "data_categories": ["contact", "address"],
            "ground": "order_fulfilment",
            "reference": "order DM-2026-0042",
        },
        {
            "recipient": "State Revenue Committee",
            "recipient_category": "state_authority",
            "purpose": "4.1.1",
            "data_categories": ["contact"],
            "ground": "state_request",
            "reference": "request 12-345",
        },
    ],
)
class Disclosure(SubjectFact):
    """Personal data given to a third party, only if a ground holds at its time (clauses 5.2, 6.2.2; Art. 9)."""

    recipient: Name
    """Kept in clear (refused if it looks like personal data): the organisation that received the data; a court reads
    it without a key."""
    recipient_category: RecipientCategory
    purpose: PurposeCode
    data_categories: Categories
    ground: DisclosureGround
    reference: Name
    """The order reference, the state request reference, or the written permission id, per `ground`. Kept in clear
    (refused if it looks like personal data): auditors match it against the order or request it names."""
    cross_border: bool = False
    """The recipient is outside Kazakhstan (Art. 16): on a consent's ground, that consent must allow it (Art. 8(4))."""
    legal_basis: Annotated[str, DECIDED] = ""
    """The ground as the ledger found it, e.g. `consent to qlever-privacy version 2`."""
    flagged_while_blocked: Annotated[bool, DECIDED] = False
    """A state request served while the data were blocked (Art. 9 allows it; the law asks it flagged)."""
    notice_owed: Annotated[bool, DECIDED] = False
    """Art. 19: a consent standing then promised the subject notice of transfers (within 10 WD)."""


@declared(
    "block_data",
    "DataBlocked",
    "/subjects/{subject_id}/blocks",
    examples=[
        {
            "block_id": "BLK-2026-101",
            "requester": "subject",
            "ground": "inaccurate_data",
            "request_details": "letter of 1 March: the address is wrong",
        }
    ],
)
class Block(SubjectFact):
    """Data blocked from the moment of a request, for verification (clause 6.2.4)."""

    block_id: Ref
    requester: BlockRequester
    ground: BlockGround
    request: Annotated[Personal | None, Given("request_details")] = None
    """The request as received. Sealed."""


@declared(
    "lift_block",
    "BlockLifted",
    "/subjects/{subject_id}/blocks/{block_id}/lift",
    NotFound,
    NothingToAct,
    examples=[{"outcome": "data_corrected"}],
)
class BlockLift(SubjectFact):
    """A block in force lifted, with the outcome of its verification (clause 6.2.4)."""

    opens = False
    block_id: Ref
    outcome: BlockOutcome


@declared(
    "record_correction",
    "DataCorrected",
    "/subjects/{subject_id}/corrections",
    examples=[{"data_categories": ["address"]}],
)
class Correction(SubjectFact):
    """Data corrected (clause 6.1.2): which categories changed, never the values."""

    data_categories: Categories


@declared(
    "destroy_data",
    "DataDestroyed",
    "/subjects/{subject_id}/destruction",
    NotFound,
    SubjectBlocked,
    examples=[{"ground": "subject_request"}],
)
class Destruction(SubjectFact):
    """The subject's data destroyed and their key deleted: personal values become unreadable (clause 5.3; Art. 1(6))."""

    opens = False
    ground: DestructionGround


@declared(
    "retract_entry",
    "EntryRetracted",
    "/subjects/{subject_id}/retractions",
    NotFound,
    NothingToAct,
    examples=[{"number": 3, "reason": "recorded for the wrong subject"}],
)
class Retraction(SubjectFact):
    """A fact recorded by mistake, struck out by its number; the fact itself stays in the history."""

    opens = False
    retracted_number: Annotated[EntryNumber, Given("number")]
    """The `number` of the fact, as `GET .../facts` shows it."""
    reason: Text
    """Kept in clear (refused if it looks like personal data): why the entry was a mistake, for auditors."""


@declared(
    "receive_request",
    "RequestReceived",
    "/subjects/{subject_id}/requests",
    examples=[{"request_id": "IN-2026-0412", "kind": "correction", "channel": "email"}],
)
class SubjectRequest(SubjectFact):
    """A request (access, correction, blocking, destruction, withdrawal, objection); its legal deadline starts."""

    request_id: Ref
    """The operator's reference for the request, e.g. its incoming number."""
    kind: RequestKind
    channel: Name
    actor: Actor = Actor.SUBJECT
    details: Personal | None = None
    """What exactly was asked. Sealed."""


@declared(
    "answer_request",
    "RequestAnswered",
    "/subjects/{subject_id}/requests/{request_id}/answer",
    NotFound,
    NothingToAct,
    examples=[
        {"outcome": "done", "by_entry": 7},
        {"outcome": "refused", "reason": "an order is still being delivered (Art. 8(2))"},
    ],
)
class RequestAnswer(SubjectFact):
    """How a request was met (done, answered, refused with reasons); its deadline stops."""

    opens = False
    request_id: Ref
    outcome: RequestOutcome
    by_entry: EntryNumber | None = None
    """The entry that did what was asked (e.g. the correction); required when the request is `done`."""
    reason: Text = ""
    """Required when the request is refused. Kept in clear (refused if it looks like personal data): the refusal's
    reasons, for the subject and auditors."""


@declared(
    "complete_verification",
    "VerificationCompleted",
    "/subjects/{subject_id}/blocks/{block_id}/verification",
    NotFound,
    NothingToAct,
    examples=[{"violation_found": False}],
)
class Verification(SubjectFact):
    """The verification behind a block ended; with no violation the block must go within 1 working day."""

    opens = False
    block_id: Ref
    violation_found: bool


@declared(
    "record_disclosure_notice",
    "SubjectToldOfDisclosure",
    "/subjects/{subject_id}/disclosures/{number}/notice",
    NotFound,
    NothingToAct,
    examples=[{"channel": "email"}],
)
class TransferNotice(SubjectFact):
    """The subject was told of a disclosure of their data (Art. 19); its 10 working-day deadline stops."""

    opens = False
    disclosure_number: Annotated[EntryNumber, Given("number")]
    """The disclosure's entry number."""
    channel: Name


RETRACTABLE = (Acceptance, Withdrawal, WithdrawalRefusal, Permission, Disclosure, Correction)
"""Entries a mistake can strike out; blocks, lifts and destruction are mended by new facts."""
