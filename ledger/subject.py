"""A data subject's record, and the decision on each fact stated about them.

One aggregate per subject, so that two writers racing on one subject are serialised by the
event store's version check: only one of them can append the next entry, and the loser
re-reads and decides again. Each decision checks the fact against the record through guards
named after the rules they keep, and answers the fact as it is to be recorded (with what the
ledger decided filled in); the application then seals its personal values and records it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import singledispatchmethod
from typing import TYPE_CHECKING, Any, Protocol

from eventsourcing.domain import Aggregate

from ledger import rules, subject_facts
from ledger.errors import (
    InvalidFact,
    NoGroundForDisclosure,
    NotFound,
    NothingToAct,
    OutsideConsentTerms,
    OutsideVersionTerms,
    RuleBroken,
    SubjectBlocked,
    SubjectDestroyed,
)
from ledger.facts import Stamped, recorded_as
from ledger.stamp import Stamp, require_aware
from ledger.subject_facts import (
    RETRACTABLE,
    Acceptance,
    Block,
    BlockLift,
    ConsentRefusal,
    ConsentRequest,
    Correction,
    Destruction,
    Disclosure,
    Permission,
    RequestAnswer,
    Retraction,
    SubjectFact,
    SubjectRequest,
    TransferNotice,
    Verification,
    Withdrawal,
    WithdrawalRefusal,
    subject_key,
)
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
    RequestKind,
    RequestOutcome,
    SubjectId,
    one_of,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ledger.policy import Policy, PolicyVersion

    Versions = Mapping[tuple[PolicyId, str], PolicyVersion]

__all__ = ["Context", "Subject", "subject_key"]


class Context(Protocol):
    """What a decision about a subject may consult besides their record: the published policies."""

    def current_policy(self, policy_id: PolicyId, *, fresh: bool = False) -> Policy:
        """The policy with its versions (`fresh`: with every version published by now); NotFound if none."""

    def accepted_terms(self, subject: Subject, *, fresh: bool = False) -> Versions:
        """Every version of every policy the subject has accepted (`fresh`: with those published by now)."""


class Subject(Aggregate):
    """Everything the ledger records about one data subject, as numbered entries."""

    class Opened(Aggregate.Created):
        """The ledger opened a record for a pseudonymous subject id."""

        subject_id: str

    class Added(Aggregate.Event, Stamped):
        """A fact added to the subject's record: who recorded it and when it happened."""

        recorded_by: str
        occurred_at: datetime

        def apply(self, aggregate: Any) -> None:
            """The recorded fact is the record's next entry; the record only grows."""
            aggregate.entries.append(self)

    def __init__(self, subject_id: str) -> None:
        """Open an empty record."""
        self.subject_id = SubjectId(subject_id)
        self.entries: list[SubjectFact] = []

    @classmethod
    def opened_for(cls, fact: SubjectFact, stamp: Stamp) -> Subject:
        """Open the record of a subject the ledger has not seen before, for the fact first stated about them."""
        return cls.open(fact.subject_id, stamp.recorded_at)

    @classmethod
    def open(cls, subject_id: SubjectId, recorded_at: datetime) -> Subject:
        """Open the record of a subject the ledger has not seen before."""
        if not subject_id.strip() or len(subject_id) > 200:  # noqa: PLR2004  (the bound of `SubjectRef`)
            msg = "subject_id must be a non-empty pseudonymous id of at most 200 characters"
            raise InvalidFact(msg)
        return cls._create(cls.Opened, id=subject_key(subject_id), subject_id=subject_id, timestamp=recorded_at)

    # Guards: each named after the rule it keeps.

    def _require_not_destroyed(self) -> None:
        gone = rules.destruction(self.entries)
        if gone is not None:
            msg = (
                f"subject {self.subject_id}'s data were destroyed on {gone.occurred_at.isoformat()}"
                f" ({gone.ground}); nothing more can be recorded for them"
            )
            raise SubjectDestroyed(msg)

    def _known(self) -> list[SubjectFact]:
        return rules.known_entries(self.entries)

    def _require_standing_consent(self, policy_id: PolicyId, at: datetime) -> rules.StandingConsent:
        standing = rules.standing_consent(self._known(), policy_id, at)
        if standing is None:
            msg = f"subject {self.subject_id} had no standing consent to {policy_id} at {at.isoformat()}"
            raise NothingToAct(msg)
        return standing

    def _require_block_in_force(self, block_id: str, at: datetime) -> None:
        if block_id not in {b.block_id for b in rules.open_blocks(self.entries, at)}:
            msg = f"there is no block {block_id!r} in force on subject {self.subject_id} at {at.isoformat()}"
            raise NothingToAct(msg)

    @staticmethod
    def _require_representative_named(actor: Actor, representative: str | None) -> None:
        if actor is Actor.LEGAL_REPRESENTATIVE and representative is None:
            msg = "a legal representative acted: name them and their authority in representative"
            raise InvalidFact(msg)

    # Decisions: one per fact, each answering the fact as it is to be recorded.

    @singledispatchmethod
    def decide(self, fact: SubjectFact, stamp: Stamp, context: Context) -> SubjectFact:
        """Check `fact` against the record at `stamp.occurred_at`; answer it as it is to be recorded."""
        raise NotImplementedError(type(fact).__name__)

    @decide.register
    def grant_consent(self, fact: Acceptance, stamp: Stamp, context: Context) -> Acceptance:
        """Consent names a version in effect, or about to be, as the subject saw it, and no more than it covers."""
        terms = _shown_version(context, fact.policy_id, fact.policy_version)
        self._require_not_destroyed()
        one_of(ConsentMethod, fact.method, "method")
        actor = one_of(Actor, fact.actor, "actor")
        at = stamp.occurred_at
        _require_shown_as_published(terms, context, fact.language, fact.text_sha256, at)
        if not fact.optional_purposes <= terms.optional_purposes:
            extra = ", ".join(sorted(fact.optional_purposes - terms.optional_purposes))
            msg = f"purposes {extra} are not optional purposes of version {terms.version}"
            raise InvalidFact(msg)
        if not fact.data_categories:
            msg = "a consent names the data categories it lets the operator collect (Art. 8(4)): give data_categories"
            raise InvalidFact(msg)
        beyond = terms.beyond_terms(
            fact.data_categories, third_parties=fact.third_parties, cross_border=fact.cross_border
        )
        if beyond:
            msg = (
                f"version {terms.version} of {terms.policy_id} does not allow {beyond}; a consent names no more than "
                "its version covers (Art. 8(4)): narrow the consent, or publish a version that covers it"
            )
            raise OutsideVersionTerms(msg)
        if fact.valid_until is not None and require_aware(fact.valid_until, "valid_until") <= at:
            msg = "valid_until must be after occurred_at"
            raise InvalidFact(msg)
        self._require_representative_named(actor, fact.representative)
        return replace(fact, purposes=(terms.purposes - terms.optional_purposes) | fact.optional_purposes)

    @decide.register
    def request_consent(self, fact: ConsentRequest, stamp: Stamp, context: Context) -> ConsentRequest:
        """A prompt shows a version in effect, or about to be, as published, under a prompt id not used before."""
        terms = _shown_version(context, fact.policy_id, fact.policy_version)
        self._require_not_destroyed()
        one_of(Channel, fact.channel, "channel")
        _require_shown_as_published(terms, context, fact.language, fact.text_sha256, stamp.occurred_at)
        if not fact.prompt_id.strip():
            msg = "prompt_id must name the prompt (the operator's id for it), so that a refusal can name it"
            raise InvalidFact(msg)
        if any(isinstance(e, ConsentRequest) and e.prompt_id == fact.prompt_id for e in self.entries):
            msg = f"prompt {fact.prompt_id!r} is already recorded for subject {self.subject_id}; give a new prompt_id"
            raise InvalidFact(msg)
        return fact

    @decide.register
    def refuse_consent(self, fact: ConsentRefusal, stamp: Stamp, _context: Context) -> ConsentRefusal:
        """Clause 2.1: a refusal answers a prompt shown before it, once."""
        self._require_not_destroyed()
        one_of(Channel, fact.channel, "channel")
        known = self._known()
        prompt = next((e for e in known if isinstance(e, ConsentRequest) and e.prompt_id == fact.prompt_id), None)
        if prompt is None:
            msg = f"subject {self.subject_id} was shown no prompt {fact.prompt_id!r}; record the prompt first"
            raise NothingToAct(msg)
        if any(isinstance(e, ConsentRefusal) and e.prompt_id == fact.prompt_id for e in known):
            msg = f"prompt {fact.prompt_id!r} was already refused"
            raise NothingToAct(msg)
        if stamp.occurred_at < prompt.occurred_at:
            when = prompt.occurred_at.isoformat()
            msg = f"prompt {fact.prompt_id!r} was shown at {when}; nobody refused it before"
            raise InvalidFact(msg)
        return fact

    @decide.register
    def withdraw_consent(self, fact: Withdrawal, stamp: Stamp, _context: Context) -> Withdrawal:
        """A withdrawal needs a consent standing at its time (all purposes if none named)."""
        self._require_not_destroyed()
        actor = one_of(Actor, fact.actor, "actor")
        standing = self._require_standing_consent(fact.policy_id, stamp.occurred_at)
        if not fact.purposes <= standing.purposes:
            extra = ", ".join(sorted(fact.purposes - standing.purposes))
            msg = f"purposes {extra} were not consented to under {fact.policy_id} at that time"
            raise NothingToAct(msg)
        self._require_representative_named(actor, fact.representative)
        return fact

    @decide.register
    def refuse_withdrawal(self, fact: WithdrawalRefusal, stamp: Stamp, _context: Context) -> WithdrawalRefusal:
        """Art. 8(2): a reasoned refusal names the obligation still open, while a consent stands."""
        self._require_not_destroyed()
        self._require_standing_consent(fact.policy_id, stamp.occurred_at)
        if not fact.open_obligation.strip() or not fact.reason.strip():
            msg = "a refusal must name the open obligation and give its reason (Art. 8(2))"
            raise InvalidFact(msg)
        return fact

    @decide.register
    def grant_written_permission(self, fact: Permission, stamp: Stamp, _context: Context) -> Permission:
        """Clause 6.2.2: a permission names its recipient and purpose, under an id not used before."""
        self._require_not_destroyed()
        one_of(RecipientCategory, fact.recipient_category, "recipient_category")
        start = require_aware(fact.valid_from, "valid_from") if fact.valid_from else stamp.occurred_at
        if fact.valid_until is not None and require_aware(fact.valid_until, "valid_until") <= start:
            msg = "valid_until must be after valid_from"
            raise InvalidFact(msg)
        if not fact.permission_id.strip() or not fact.recipient.strip() or not fact.purpose.strip():
            msg = "a written permission names its id, its recipient and its purpose"
            raise InvalidFact(msg)
        if any(isinstance(e, Permission) and e.permission_id == fact.permission_id for e in self._known()):
            msg = f"written permission {fact.permission_id!r} is already recorded for this subject"
            raise InvalidFact(msg)
        return replace(fact, valid_from=start)

    @decide.register
    def disclose(self, fact: Disclosure, stamp: Stamp, context: Context) -> Disclosure:
        """A disclosure only if a ground holds at its time; a state request while blocked is flagged."""
        self._require_not_destroyed()
        category = one_of(RecipientCategory, fact.recipient_category, "recipient_category")
        ground = one_of(DisclosureGround, fact.ground, "ground")
        if not fact.recipient.strip() or not fact.data_categories:
            msg = "a disclosure names its recipient and at least one data category"
            raise InvalidFact(msg)
        known, versions = self._known(), context.accepted_terms(self, fresh=True)
        at = stamp.occurred_at
        decision = rules.decide_disclosure(
            known,
            versions,
            recipient=fact.recipient,
            category=category,
            purpose=fact.purpose,
            ground=ground,
            data_categories=fact.data_categories,
            cross_border=fact.cross_border,
            reference=fact.reference,
            at=at,
        )
        if not decision.allowed:
            error: type[RuleBroken] = NoGroundForDisclosure
            if decision.refused_while_blocked:
                error = SubjectBlocked
            elif decision.beyond_terms:
                error = OutsideConsentTerms
            raise error(f"disclosure to {fact.recipient} refused: {decision.reason}")
        notice_owed = ground != DisclosureGround.STATE_REQUEST and rules.transfer_notice_promised(known, versions, at)
        return replace(
            fact,
            legal_basis=decision.basis,
            flagged_while_blocked=decision.flagged_while_blocked,
            notice_owed=notice_owed,
        )

    @decide.register
    def tell_of_disclosure(self, fact: TransferNotice, stamp: Stamp, _context: Context) -> TransferNotice:
        """Art. 19: the subject is told of a disclosure on their record, after it happened."""
        disclosed = next((e for e in self._known() if e.number == fact.disclosure_number), None)
        if not isinstance(disclosed, Disclosure):
            msg = f"subject {self.subject_id} has no disclosure entry number {fact.disclosure_number}"
            raise NothingToAct(msg)
        if stamp.occurred_at < disclosed.occurred_at:
            when = disclosed.occurred_at.isoformat()
            msg = f"disclosure {fact.disclosure_number} happened at {when}; nobody was told of it before"
            raise InvalidFact(msg)
        return fact

    @decide.register
    def block(self, fact: Block, _stamp: Stamp, _context: Context) -> Block:
        """Clause 6.2.4: data are blocked from the moment of the request, under an id not used before."""
        self._require_not_destroyed()
        one_of(BlockRequester, fact.requester, "requester")
        one_of(BlockGround, fact.ground, "ground")
        if not fact.block_id.strip():
            msg = "block_id must name the request (e.g. its reference number)"
            raise InvalidFact(msg)
        if any(isinstance(e, Block) and e.block_id == fact.block_id for e in self.entries):
            msg = f"block {fact.block_id!r} is already recorded for this subject"
            raise InvalidFact(msg)
        return fact

    @decide.register
    def lift_block(self, fact: BlockLift, stamp: Stamp, _context: Context) -> BlockLift:
        """Clause 6.2.4: a block in force is lifted once, with its verification's outcome."""
        self._require_not_destroyed()
        one_of(BlockOutcome, fact.outcome, "outcome")
        lifted = next((e for e in self.entries if isinstance(e, BlockLift) and e.block_id == fact.block_id), None)
        if lifted is not None:
            msg = f"block {fact.block_id!r} was already lifted on {lifted.occurred_at.isoformat()} ({lifted.outcome})"
            raise NothingToAct(msg)
        self._require_block_in_force(fact.block_id, stamp.occurred_at)
        return fact

    @decide.register
    def correct(self, fact: Correction, _stamp: Stamp, _context: Context) -> Correction:
        """Clause 6.1.2: a correction names at least one category of data, never the values."""
        self._require_not_destroyed()
        if not fact.data_categories:
            msg = "name at least one corrected data category"
            raise InvalidFact(msg)
        return fact

    @decide.register
    def destroy(self, fact: Destruction, stamp: Stamp, _context: Context) -> Destruction:
        """Clause 5.3: destruction is refused while blocked (Art. 1(3) stops destruction too) and dated last."""
        self._require_not_destroyed()
        one_of(DestructionGround, fact.ground, "ground")
        # The key is deleted now, whatever date the destruction states: a block in force now stops it too.
        latest = max((e.occurred_at for e in self._known()), default=stamp.occurred_at)
        blocks = rules.open_blocks(self.entries, max(stamp.occurred_at, latest))
        if blocks:
            ids = ", ".join(b.block_id for b in blocks)
            msg = f"data are blocked ({ids}); lift the block before destroying them (Art. 1(3))"
            raise SubjectBlocked(msg)
        if stamp.occurred_at < latest:
            msg = (
                f"the record holds facts up to {latest.isoformat()}; destruction cannot be dated before them"
                " (retract a mistaken fact first)"
            )
            raise InvalidFact(msg)
        return fact

    @decide.register
    def retract(self, fact: Retraction, _stamp: Stamp, _context: Context) -> Retraction:
        """An entry recorded by mistake is struck out once, with the reason; it stays in the history."""
        self._require_not_destroyed()
        number = fact.retracted_number
        target = next((e for e in self.entries if e.number == number), None)
        if target is None or not isinstance(target, RETRACTABLE):
            msg = f"subject {self.subject_id} has no retractable entry number {number}"
            raise NothingToAct(msg)
        if any(isinstance(e, Retraction) and e.retracted_number == number for e in self.entries):
            msg = f"entry {number} was already retracted"
            raise NothingToAct(msg)
        if not fact.reason.strip():
            msg = "say why the entry was a mistake"
            raise InvalidFact(msg)
        return fact

    @decide.register
    def receive_request(self, fact: SubjectRequest, _stamp: Stamp, _context: Context) -> SubjectRequest:
        """A request is recorded once under its id; its legal deadline runs from `occurred_at`."""
        one_of(RequestKind, fact.kind, "kind")
        one_of(Actor, fact.actor, "actor")
        if not fact.request_id.strip():
            msg = "request_id must name the request (e.g. its incoming number)"
            raise InvalidFact(msg)
        if any(isinstance(e, SubjectRequest) and e.request_id == fact.request_id for e in self.entries):
            msg = f"request {fact.request_id!r} is already recorded for this subject"
            raise InvalidFact(msg)
        return fact

    @decide.register
    def answer_request(self, fact: RequestAnswer, stamp: Stamp, _context: Context) -> RequestAnswer:
        """A request is answered once, after it came; `done` names the entry that did what was asked."""
        outcome = one_of(RequestOutcome, fact.outcome, "outcome")
        known = self._known()
        asked = next((e for e in known if isinstance(e, SubjectRequest) and e.request_id == fact.request_id), None)
        if asked is None:
            msg = f"subject {self.subject_id} has no request {fact.request_id!r}"
            raise NothingToAct(msg)
        if any(isinstance(e, RequestAnswer) and e.request_id == fact.request_id for e in self.entries):
            msg = f"request {fact.request_id!r} was already answered"
            raise NothingToAct(msg)
        if stamp.occurred_at < asked.occurred_at:
            msg = (
                f"request {fact.request_id!r} was received at {asked.occurred_at.isoformat()}; it cannot be met before"
            )
            raise InvalidFact(msg)
        if outcome is RequestOutcome.REFUSED and not fact.reason.strip():
            msg = "a refusal must give its reasons"
            raise InvalidFact(msg)
        wanted = REQUEST_MET_BY.get(asked.kind)
        if outcome is RequestOutcome.DONE and wanted is not None:
            entry = next((e for e in known if e.number == fact.by_entry), None)
            if entry is None or not isinstance(entry, wanted) or entry.number < asked.number:
                names = " or ".join(w.__name__ for w in wanted)
                msg = f"a {asked.kind} request is done by a later {names} entry; name its number in by_entry"
                raise InvalidFact(msg)
        return fact

    @decide.register
    def complete_verification(self, fact: Verification, stamp: Stamp, _context: Context) -> Verification:
        """Clause 6.2.4: the verification a block in force was for ends once."""
        self._require_block_in_force(fact.block_id, stamp.occurred_at)
        if any(isinstance(e, Verification) and e.block_id == fact.block_id for e in self.entries):
            msg = f"the verification for block {fact.block_id!r} is already recorded as completed"
            raise NothingToAct(msg)
        return fact


def _shown_version(context: Context, policy_id: PolicyId, version: str) -> PolicyVersion:
    """The published version a prompt or a consent names (NotFound if there is none)."""
    terms = context.current_policy(policy_id, fresh=True).versions.get(version)
    if terms is None:
        raise NotFound(f"policy {policy_id!r} has no published version {version!r}")
    return terms


def _require_shown_as_published(
    terms: PolicyVersion, context: Context, language: str, text_sha256: str, at: datetime
) -> None:
    """Clauses 9.1, 9.2: the version was posted by `at`, not yet superseded, and this is its text in `language`."""
    shown_in = one_of(Language, language, "language")
    if not terms.was_posted_by(at):
        msg = (
            f"version {terms.version} of {terms.policy_id} was posted on {terms.occurred_at.isoformat()}, "
            f"after {at.isoformat()}; nobody can have been shown it before it was posted"
        )
        raise InvalidFact(msg)
    versions = list(context.current_policy(terms.policy_id).versions.values())
    if not terms.is_in_effect_or_upcoming(at, versions):
        msg = (
            f"version {terms.version} of {terms.policy_id} had been superseded by {at.isoformat()};"
            " consent must name the version in effect or about to be"
        )
        raise InvalidFact(msg)
    shown = terms.text_sha256.get(shown_in)
    if shown is None:
        msg = f"version {terms.version} was not published in {shown_in}"
        raise InvalidFact(msg)
    if shown != text_sha256:
        msg = f"the text shown ({text_sha256[:12]}…) is not the {shown_in} text of version {terms.version}"
        raise InvalidFact(msg)


REQUEST_MET_BY: dict[RequestKind, tuple[type[SubjectFact], ...]] = {
    RequestKind.CORRECTION: (Correction,),
    RequestKind.BLOCKING: (Block,),
    RequestKind.DESTRUCTION: (Destruction,),
    RequestKind.WITHDRAWAL: (Withdrawal, WithdrawalRefusal),
}
"""Which entry does what each kind of request asks; access and objection requests are met by the answer itself."""

for _fact in subject_facts.SubjectFact.__subclasses__():
    recorded_as(_fact, Subject, Subject.Added)
