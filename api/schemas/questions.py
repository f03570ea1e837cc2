"""Answers of the read side, one model per question, named after the question."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ledger.policy import PolicyVersion
from ledger.subject_facts import Block, BlockLift
from projections.questions import AcceptedVersion, BlockStatus, DeadlineAnswer, UntoldBreach
from projections.view_rows import DisclosureRow


class VersionTerms(BaseModel):
    """A policy version as published (clauses 9.1, 9.2)."""

    policy_id: str
    version: str
    text_sha256: dict[str, str]
    purposes: list[str]
    optional_purposes: list[str]
    recipient_categories: list[str]
    data_categories: list[str] | None
    """The data categories the version covers (Art. 8(4)); null: not stated."""
    third_parties: bool | None
    cross_border: bool | None
    reconsent_required: bool
    effective_from: datetime
    recorded_at: datetime

    @classmethod
    def of(cls, terms: PolicyVersion) -> VersionTerms:
        """From the ledger's terms."""
        return cls(
            policy_id=terms.policy_id,
            version=terms.version,
            text_sha256={str(k): v for k, v in sorted(terms.text_sha256.items())},
            purposes=sorted(terms.purposes),
            optional_purposes=sorted(terms.optional_purposes),
            recipient_categories=sorted(str(c) for c in terms.recipient_categories),
            data_categories=None if terms.data_categories is None else sorted(terms.data_categories),
            third_parties=terms.third_parties,
            cross_border=terms.cross_border,
            reconsent_required=terms.reconsent_required,
            effective_from=terms.takes_effect,
            recorded_at=terms.recorded_at,
        )


class Acceptance(BaseModel):
    """The acceptance that stood: which version, the text hash the subject was shown, how and when."""

    entry: int
    policy_version: str
    language: str
    text_sha256: str
    method: str
    purposes: list[str]
    occurred_at: datetime
    recorded_at: datetime
    valid_until: datetime | None


class AcceptedVersionAnswer(BaseModel):
    """Which version had the subject accepted at `at`, as known at `as_known_at` (clause 9.2)."""

    subject_id: str
    policy_id: str
    at: datetime
    as_known_at: datetime
    accepted: Acceptance | None
    version_in_effect: VersionTerms | None
    behind: bool
    """True when a later version than the one accepted was already in effect at `at`."""

    @classmethod
    def of(cls, subject_id: str, at: datetime, as_known_at: datetime, answer: AcceptedVersion) -> AcceptedVersionAnswer:
        """From the view's answer."""
        accepted = None
        if answer.accepted is not None:
            a = answer.accepted.acceptance
            accepted = Acceptance(
                entry=a.number,
                policy_version=a.policy_version,
                language=str(a.language),
                text_sha256=a.text_sha256,
                method=str(a.method),
                purposes=sorted(answer.accepted.purposes),
                occurred_at=a.occurred_at,
                recorded_at=a.recorded_at,
                valid_until=a.valid_until,
            )
        return cls(
            subject_id=subject_id,
            policy_id=answer.policy_id,
            at=at,
            as_known_at=as_known_at,
            accepted=accepted,
            version_in_effect=VersionTerms.of(answer.in_effect) if answer.in_effect else None,
            behind=answer.behind,
        )


class VersionInEffectAnswer(BaseModel):
    """Which version of the policy was in effect at `at` (clause 9.2), and every version known then."""

    policy_id: str
    at: datetime
    as_known_at: datetime
    in_effect: VersionTerms | None
    history: list[VersionTerms]


class DisclosureCheckAnswer(BaseModel):
    """May the subject's data go to this kind of recipient for this purpose, and on which ground."""

    subject_id: str
    recipient_category: str
    recipient: str | None = None
    """The recipient asked about by name, if any."""
    purpose: str
    data_categories: list[str] = []
    """The data categories asked about, if any (Art. 8(4))."""
    cross_border: bool = False
    at: datetime
    as_known_at: datetime
    allowed: bool
    ground: str | None
    basis: str
    reason: str


class BlockEntry(BaseModel):
    """One block or lift in the subject's block history (clause 6.2.4)."""

    entry: int
    kind: str
    block_id: str
    occurred_at: datetime
    recorded_at: datetime
    requester: str | None = None
    ground: str | None = None
    outcome: str | None = None

    @classmethod
    def of(cls, e: Block | BlockLift) -> BlockEntry:
        """From an entry."""
        if isinstance(e, Block):
            return cls(
                entry=e.number,
                kind="blocked",
                block_id=e.block_id,
                occurred_at=e.occurred_at,
                recorded_at=e.recorded_at,
                requester=str(e.requester),
                ground=str(e.ground),
            )
        return cls(
            entry=e.number,
            kind="lifted",
            block_id=e.block_id,
            occurred_at=e.occurred_at,
            recorded_at=e.recorded_at,
            outcome=str(e.outcome),
        )


class BlockStatusAnswer(BaseModel):
    """Was the subject blocked at `at`, by whom and why; with the history up to then."""

    subject_id: str
    at: datetime
    as_known_at: datetime
    blocked: bool
    in_force: list[BlockEntry]
    history: list[BlockEntry]

    @classmethod
    def of(cls, subject_id: str, at: datetime, as_known_at: datetime, answer: BlockStatus) -> BlockStatusAnswer:
        """From the view's answer."""
        return cls(
            subject_id=subject_id,
            at=at,
            as_known_at=as_known_at,
            blocked=answer.blocked,
            in_force=[BlockEntry.of(b) for b in answer.in_force],
            history=[BlockEntry.of(e) for e in answer.history],
        )


class DisclosureRecord(BaseModel):
    """One disclosure of the subject's data, with its ground (clauses 5.2, 6.2.2)."""

    entry: int
    occurred_at: datetime
    recorded_at: datetime
    recipient: str
    recipient_category: str
    purpose: str
    ground: str
    reference: str
    legal_basis: str
    flagged_while_blocked: bool
    data_categories: list[str]

    @classmethod
    def of(cls, row: DisclosureRow) -> DisclosureRecord:
        """From a view row."""
        return cls(entry=row.number, **{k: v for k, v in vars(row).items() if k != "number"})


class DisclosuresAnswer(BaseModel):
    """Every disclosure of the subject's data in a time range."""

    subject_id: str
    as_known_at: datetime
    disclosures: list[DisclosureRecord]


class Deadline(BaseModel):
    """An obligation an event started, with its due date and standing (KZ law, policy clause 8.2)."""

    deadline_id: str
    obligation: str
    subject_id: str | None
    reference: str
    triggered_at: datetime
    due_at: datetime
    status: str
    met_at: datetime | None
    met_by: str | None

    @classmethod
    def of(cls, answer: DeadlineAnswer) -> Deadline:
        """From the view's answer."""
        r = answer.row
        return cls(
            deadline_id=r.deadline_id,
            obligation=r.obligation,
            subject_id=r.subject_id,
            reference=r.reference,
            triggered_at=r.triggered_at,
            due_at=r.due_at,
            status=str(answer.status),
            met_at=r.met_at,
            met_by=r.met_by,
        )


class DeadlinesAnswer(BaseModel):
    """Obligations and where each stood at `at`."""

    at: datetime
    deadlines: list[Deadline]


class UntoldBreachRecord(BaseModel):
    """A breach some affected subjects were not told of, and the authority notice's standing."""

    breach_ref: str
    untold_subjects: list[str]
    authority_notice: Deadline | None

    @classmethod
    def of(cls, b: UntoldBreach) -> UntoldBreachRecord:
        """From the view's answer."""
        return cls(
            breach_ref=b.breach_ref,
            untold_subjects=b.untold_subjects,
            authority_notice=Deadline.of(b.authority) if b.authority else None,
        )


class UntoldBreachesAnswer(BaseModel):
    """Breaches whose affected subjects were not all told (clause 5.4)."""

    at: datetime
    breaches: list[UntoldBreachRecord]
