"""A data subject's record: consents, permissions, disclosures, blocks, corrections, destruction.

One aggregate per subject, so that two writers racing on one subject are serialised by the
event store's version check: only one of them can append the next entry, and the loser
re-reads and decides again.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger import rules
from ledger.errors import (
    InvalidFact,
    NoGroundForDisclosure,
    NothingToAct,
    SubjectBlocked,
    SubjectDestroyed,
)
from ledger.history import (
    RETRACTABLE,
    Acceptance,
    Block,
    BlockLift,
    Correction,
    Destruction,
    Disclosure,
    Entry,
    Permission,
    RequestAnswer,
    Retraction,
    SubjectRequest,
    TransferNotice,
    Verification,
    Withdrawal,
    WithdrawalRefusal,
)
from ledger.stamp import require_aware
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
    Sealed,
    SubjectId,
    one_of,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ledger.history import PolicyVersionTerms
    from ledger.stamp import Stamp


def subject_key(subject_id: SubjectId) -> UUID:
    """The aggregate id of a subject: derived from the pseudonymous id, never random."""
    return _subject_key(subject_id)


@lru_cache(maxsize=65_536)
def _subject_key(subject_id: str) -> UUID:
    """Kept: one write asks for its subject's id several times, and `uuid5` hashes each time."""
    return uuid5(NAMESPACE_URL, f"consent-ledger:subject:{subject_id}")


class Subject(Aggregate):
    """Everything the ledger records about one data subject, as numbered entries."""

    class Opened(Aggregate.Created):
        """The ledger opened a record for a pseudonymous subject id."""

        subject_id: str

    class Fact(Aggregate.Event):
        """A fact about the subject: who recorded it and when it happened."""

        recorded_by: str
        occurred_at: datetime

        def entry(self) -> Entry:
            """The entry this fact adds to the subject's record."""
            raise NotImplementedError

        def apply(self, aggregate: Any) -> None:
            """Add the entry; the record only grows."""
            assert isinstance(aggregate, Subject)  # noqa: S101  (narrowing for mypy only)
            aggregate.entries.append(self.entry())

    class ConsentGranted(Fact):
        """Consent to a policy version (clauses 2.1, 3.1, 4.1.6; Art. 8(1), 8(4))."""

        policy_id: str
        policy_version: str
        language: Language
        text_sha256: str
        method: ConsentMethod
        channel: str
        purposes: tuple[str, ...]
        data_categories: tuple[str, ...]
        third_parties: bool
        cross_border: bool
        publication: bool
        valid_until: datetime | None
        actor: Actor
        representative: Sealed | None
        evidence: Sealed | None

        def entry(self) -> Entry:
            """An acceptance entry."""
            return Acceptance(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                policy_id=PolicyId(self.policy_id),
                policy_version=self.policy_version,
                language=self.language,
                text_sha256=self.text_sha256,
                method=self.method,
                purposes=frozenset(Purpose(p) for p in self.purposes),
                data_categories=frozenset(DataCategory(c) for c in self.data_categories),
                third_parties=self.third_parties,
                cross_border=self.cross_border,
                publication=self.publication,
                valid_until=self.valid_until,
                actor=self.actor,
            )

    class ConsentWithdrawn(Fact):
        """Consent withdrawn, wholly or for some purposes (clause 2.2; Art. 8(7))."""

        policy_id: str
        purposes: tuple[str, ...]
        channel: str
        actor: Actor
        representative: Sealed | None
        evidence: Sealed | None

        def entry(self) -> Entry:
            """A withdrawal entry."""
            return Withdrawal(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                policy_id=PolicyId(self.policy_id),
                purposes=frozenset(Purpose(p) for p in self.purposes),
                actor=self.actor,
            )

    class WithdrawalRefused(Fact):
        """A withdrawal refused with reasons while an obligation stays open (Art. 8(2))."""

        policy_id: str
        open_obligation: str
        reason: str

        def entry(self) -> Entry:
            """A withdrawal-refusal entry."""
            return WithdrawalRefusal(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                policy_id=PolicyId(self.policy_id),
                open_obligation=self.open_obligation,
            )

    class WrittenPermissionGranted(Fact):
        """Prior written permission for one recipient and purpose (clause 6.2.2)."""

        permission_id: str
        recipient: str
        recipient_category: RecipientCategory
        purpose: str
        valid_from: datetime
        valid_until: datetime | None
        document: Sealed

        def entry(self) -> Entry:
            """A permission entry."""
            return Permission(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                permission_id=self.permission_id,
                recipient=self.recipient,
                recipient_category=self.recipient_category,
                purpose=Purpose(self.purpose),
                valid_from=self.valid_from,
                valid_until=self.valid_until,
            )

    class DataDisclosed(Fact):
        """Personal data given to a third party on a ground (clauses 5.2, 6.2.2; Art. 9)."""

        recipient: str
        recipient_category: RecipientCategory
        purpose: str
        data_categories: tuple[str, ...]
        ground: DisclosureGround
        reference: str
        legal_basis: str
        flagged_while_blocked: bool
        notice_owed: bool = False
        """Art. 19: a consent standing then promised the subject notice of transfers (within 10 WD)."""

        def entry(self) -> Entry:
            """A disclosure entry."""
            return Disclosure(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                recipient=self.recipient,
                recipient_category=self.recipient_category,
                purpose=Purpose(self.purpose),
                data_categories=frozenset(DataCategory(c) for c in self.data_categories),
                ground=self.ground,
                reference=self.reference,
                flagged_while_blocked=self.flagged_while_blocked,
            )

    class DataBlocked(Fact):
        """Data blocked from the moment of a request, for verification (clause 6.2.4)."""

        block_id: str
        requester: BlockRequester
        ground: BlockGround
        request: Sealed | None

        def entry(self) -> Entry:
            """A block entry."""
            return Block(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                block_id=self.block_id,
                requester=self.requester,
                ground=self.ground,
            )

    class BlockLifted(Fact):
        """A block lifted with the outcome of the verification (clause 6.2.4)."""

        block_id: str
        outcome: BlockOutcome

        def entry(self) -> Entry:
            """A lift entry."""
            return BlockLift(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                block_id=self.block_id,
                outcome=self.outcome,
            )

    class SubjectToldOfDisclosure(Fact):
        """The subject was told of a transfer of their data (Art. 19), naming the disclosure's entry."""

        disclosure_number: int
        channel: str

        def entry(self) -> Entry:
            """A transfer-notice entry."""
            return TransferNotice(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                disclosure_number=self.disclosure_number,
                channel=self.channel,
            )

    class VerificationCompleted(Fact):
        """The verification behind a block ended; if it found no violation the block must go within 1 WD."""

        block_id: str
        violation_found: bool

        def entry(self) -> Entry:
            """A verification entry."""
            return Verification(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                block_id=self.block_id,
                violation_found=self.violation_found,
            )

    class DataCorrected(Fact):
        """Data corrected (clause 6.1.2): which categories changed, never the values."""

        data_categories: tuple[str, ...]

        def entry(self) -> Entry:
            """A correction entry."""
            return Correction(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                data_categories=frozenset(DataCategory(c) for c in self.data_categories),
            )

    class DataDestroyed(Fact):
        """The subject's data destroyed and their key deleted (clause 5.3; Art. 1(6), 18)."""

        ground: DestructionGround

        def entry(self) -> Entry:
            """A destruction entry."""
            return Destruction(self.originator_version, self.occurred_at, self.timestamp, ground=self.ground)

    class EntryRetracted(Fact):
        """An entry recorded by mistake, struck out by its number; the entry itself stays."""

        retracted_number: int
        reason: str

        def entry(self) -> Entry:
            """A retraction entry."""
            return Retraction(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                retracted_number=self.retracted_number,
                reason=self.reason,
            )

    class RequestReceived(Fact):
        """The subject or their representative asked for access, correction, blocking, ... (Art. 8, 19-1, 24, 25)."""

        request_id: str
        kind: RequestKind
        channel: str
        actor: Actor
        details: Sealed | None

        def entry(self) -> Entry:
            """A request entry."""
            return SubjectRequest(
                self.originator_version, self.occurred_at, self.timestamp, request_id=self.request_id, kind=self.kind
            )

    class RequestAnswered(Fact):
        """A request was met: done (naming the entry that did it), answered, or refused with reasons."""

        request_id: str
        outcome: RequestOutcome
        by_entry: int | None
        reason: str

        def entry(self) -> Entry:
            """A request-answer entry."""
            return RequestAnswer(
                self.originator_version,
                self.occurred_at,
                self.timestamp,
                request_id=self.request_id,
                outcome=self.outcome,
                by_entry=self.by_entry,
            )

    def __init__(self, subject_id: str) -> None:
        """Open an empty record."""
        self.subject_id = SubjectId(subject_id)
        self.entries: list[Entry] = []

    @classmethod
    def open(cls, subject_id: SubjectId, recorded_at: datetime) -> Subject:
        """Open the record of a subject the ledger has not seen before."""
        if not subject_id.strip() or len(subject_id) > 200:  # noqa: PLR2004
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

    def _known(self) -> list[Entry]:
        return rules.known_entries(self.entries)

    def _record(self, event_class: type[Subject.Fact], stamp: Stamp, **fields: Any) -> None:
        self.trigger_event(
            event_class,
            recorded_by=stamp.recorded_by,
            occurred_at=stamp.occurred_at,
            timestamp=stamp.recorded_at,
            **fields,
        )

    # Commands.

    def grant_consent(
        self,
        terms: PolicyVersionTerms,
        later_versions: list[PolicyVersionTerms],
        *,
        language: Language,
        text_sha256: str,
        method: ConsentMethod,
        channel: str,
        optional_purposes: frozenset[Purpose],
        data_categories: frozenset[DataCategory],
        third_parties: bool,
        cross_border: bool,
        publication: bool,
        valid_until: datetime | None,
        actor: Actor,
        representative: Sealed | None,
        evidence: Sealed | None,
        stamp: Stamp,
    ) -> None:
        """Record consent to a version that is in effect, or about to be, as the subject saw it."""
        self._require_not_destroyed()
        language = one_of(Language, language, "language")
        method = one_of(ConsentMethod, method, "method")
        actor = one_of(Actor, actor, "actor")
        if not terms.was_posted_by(stamp.occurred_at):
            posted = terms.published_at.isoformat() if terms.published_at else "later"
            msg = (
                f"version {terms.version} of {terms.policy_id} was posted on {posted}, after "
                f"{stamp.occurred_at.isoformat()}; nobody can have consented to it before it was posted"
            )
            raise InvalidFact(msg)
        if not terms.is_in_effect_or_upcoming(stamp.occurred_at, later_versions):
            msg = (
                f"version {terms.version} of {terms.policy_id} had been superseded by "
                f"{stamp.occurred_at.isoformat()}; consent must name the version in effect or about to be"
            )
            raise InvalidFact(msg)
        shown = terms.text_sha256.get(language)
        if shown is None:
            msg = f"version {terms.version} was not published in {language}"
            raise InvalidFact(msg)
        if shown != text_sha256:
            msg = f"the text shown ({text_sha256[:12]}…) is not the {language} text of version {terms.version}"
            raise InvalidFact(msg)
        if not optional_purposes <= terms.optional_purposes:
            extra = ", ".join(sorted(optional_purposes - terms.optional_purposes))
            msg = f"purposes {extra} are not optional purposes of version {terms.version}"
            raise InvalidFact(msg)
        if valid_until is not None and require_aware(valid_until, "valid_until") <= stamp.occurred_at:
            msg = "valid_until must be after occurred_at"
            raise InvalidFact(msg)
        if actor is Actor.LEGAL_REPRESENTATIVE and representative is None:
            msg = "a legal representative acted: name them and their authority in representative"
            raise InvalidFact(msg)
        purposes = (terms.purposes - terms.optional_purposes) | optional_purposes
        self._record(
            self.ConsentGranted,
            stamp,
            policy_id=terms.policy_id,
            policy_version=terms.version,
            language=language,
            text_sha256=text_sha256,
            method=method,
            channel=channel,
            purposes=tuple(sorted(purposes)),
            data_categories=tuple(sorted(data_categories)),
            third_parties=third_parties,
            cross_border=cross_border,
            publication=publication,
            valid_until=valid_until,
            actor=actor,
            representative=representative,
            evidence=evidence,
        )

    def withdraw_consent(
        self,
        policy_id: PolicyId,
        purposes: frozenset[Purpose],
        *,
        channel: str,
        actor: Actor,
        representative: Sealed | None,
        evidence: Sealed | None,
        stamp: Stamp,
    ) -> None:
        """Record a withdrawal of consent that stands at its time (all purposes if none named)."""
        self._require_not_destroyed()
        actor = one_of(Actor, actor, "actor")
        standing = self._require_standing_consent(policy_id, stamp.occurred_at)
        if not purposes <= standing.purposes:
            extra = ", ".join(sorted(purposes - standing.purposes))
            msg = f"purposes {extra} were not consented to under {policy_id} at that time"
            raise NothingToAct(msg)
        if actor is Actor.LEGAL_REPRESENTATIVE and representative is None:
            msg = "a legal representative acted: name them and their authority in representative"
            raise InvalidFact(msg)
        self._record(
            self.ConsentWithdrawn,
            stamp,
            policy_id=policy_id,
            purposes=tuple(sorted(purposes)),
            channel=channel,
            actor=actor,
            representative=representative,
            evidence=evidence,
        )

    def refuse_withdrawal(self, policy_id: PolicyId, open_obligation: str, reason: str, stamp: Stamp) -> None:
        """Art. 8(2): record a reasoned refusal naming the obligation that is still open."""
        self._require_not_destroyed()
        self._require_standing_consent(policy_id, stamp.occurred_at)
        if not open_obligation.strip() or not reason.strip():
            msg = "a refusal must name the open obligation and give its reason (Art. 8(2))"
            raise InvalidFact(msg)
        self._record(self.WithdrawalRefused, stamp, policy_id=policy_id, open_obligation=open_obligation, reason=reason)

    def _require_standing_consent(self, policy_id: PolicyId, at: datetime) -> rules.StandingConsent:
        standing = rules.standing_consent(self._known(), policy_id, at)
        if standing is None:
            msg = f"subject {self.subject_id} had no standing consent to {policy_id} at {at.isoformat()}"
            raise NothingToAct(msg)
        return standing

    def grant_written_permission(
        self,
        permission_id: str,
        *,
        recipient: str,
        recipient_category: RecipientCategory,
        purpose: Purpose,
        valid_from: datetime | None,
        valid_until: datetime | None,
        document: Sealed,
        stamp: Stamp,
    ) -> None:
        """Clause 6.2.2: record prior written permission for one recipient and purpose."""
        self._require_not_destroyed()
        recipient_category = one_of(RecipientCategory, recipient_category, "recipient_category")
        start = require_aware(valid_from, "valid_from") if valid_from else stamp.occurred_at
        if valid_until is not None and require_aware(valid_until, "valid_until") <= start:
            msg = "valid_until must be after valid_from"
            raise InvalidFact(msg)
        if not permission_id.strip() or not recipient.strip() or not purpose.strip():
            msg = "a written permission names its id, its recipient and its purpose"
            raise InvalidFact(msg)
        if any(isinstance(e, Permission) and e.permission_id == permission_id for e in self._known()):
            msg = f"written permission {permission_id!r} is already recorded for this subject"
            raise InvalidFact(msg)
        self._record(
            self.WrittenPermissionGranted,
            stamp,
            permission_id=permission_id,
            recipient=recipient,
            recipient_category=recipient_category,
            purpose=purpose,
            valid_from=start,
            valid_until=valid_until,
            document=document,
        )

    def disclose(
        self,
        versions: Mapping[tuple[PolicyId, str], PolicyVersionTerms],
        *,
        recipient: str,
        recipient_category: RecipientCategory,
        purpose: Purpose,
        data_categories: frozenset[DataCategory],
        ground: DisclosureGround,
        reference: str,
        stamp: Stamp,
    ) -> rules.DisclosureDecision:
        """Record a disclosure only if a ground holds at its time; a state request while blocked is flagged."""
        self._require_not_destroyed()
        recipient_category = one_of(RecipientCategory, recipient_category, "recipient_category")
        ground = one_of(DisclosureGround, ground, "ground")
        if not recipient.strip() or not data_categories:
            msg = "a disclosure names its recipient and at least one data category"
            raise InvalidFact(msg)
        known = self._known()
        decision = rules.decide_disclosure(
            known,
            versions,
            recipient=recipient,
            category=recipient_category,
            purpose=purpose,
            ground=ground,
            reference=reference,
            at=stamp.occurred_at,
        )
        if not decision.allowed:
            error = SubjectBlocked if decision.refused_while_blocked else NoGroundForDisclosure
            raise error(f"disclosure to {recipient} refused: {decision.reason}")
        self._record(
            self.DataDisclosed,
            stamp,
            recipient=recipient,
            recipient_category=recipient_category,
            purpose=purpose,
            data_categories=tuple(sorted(data_categories)),
            ground=ground,
            reference=reference,
            legal_basis=decision.basis,
            flagged_while_blocked=decision.flagged_while_blocked,
            notice_owed=ground != DisclosureGround.STATE_REQUEST
            and rules.transfer_notice_promised(known, versions, stamp.occurred_at),
        )
        return decision

    def tell_of_disclosure(self, disclosure_number: int, channel: str, stamp: Stamp) -> None:
        """Art. 19: record that the subject was told of a disclosure of their data."""
        disclosed = next((e for e in self._known() if e.number == disclosure_number), None)
        if not isinstance(disclosed, Disclosure):
            msg = f"subject {self.subject_id} has no disclosure entry number {disclosure_number}"
            raise NothingToAct(msg)
        if stamp.occurred_at < disclosed.occurred_at:
            when = disclosed.occurred_at.isoformat()
            msg = f"disclosure {disclosure_number} happened at {when}; nobody was told of it before"
            raise InvalidFact(msg)
        self._record(self.SubjectToldOfDisclosure, stamp, disclosure_number=disclosure_number, channel=channel)

    def block(
        self, block_id: str, requester: BlockRequester, ground: BlockGround, request: Sealed | None, stamp: Stamp
    ) -> None:
        """Clause 6.2.4: block the data from the moment of the request."""
        self._require_not_destroyed()
        requester = one_of(BlockRequester, requester, "requester")
        ground = one_of(BlockGround, ground, "ground")
        if not block_id.strip():
            msg = "block_id must name the request (e.g. its reference number)"
            raise InvalidFact(msg)
        if any(isinstance(e, Block) and e.block_id == block_id for e in self.entries):
            msg = f"block {block_id!r} is already recorded for this subject"
            raise InvalidFact(msg)
        self._record(self.DataBlocked, stamp, block_id=block_id, requester=requester, ground=ground, request=request)

    def lift_block(self, block_id: str, outcome: BlockOutcome, stamp: Stamp) -> None:
        """Clause 6.2.4: lift a block that is in force, with the verification's outcome; once."""
        self._require_not_destroyed()
        outcome = one_of(BlockOutcome, outcome, "outcome")
        lifted = next((e for e in self.entries if isinstance(e, BlockLift) and e.block_id == block_id), None)
        if lifted is not None:
            msg = f"block {block_id!r} was already lifted on {lifted.occurred_at.isoformat()} ({lifted.outcome})"
            raise NothingToAct(msg)
        in_force = {b.block_id for b in rules.open_blocks(self.entries, stamp.occurred_at)}
        if block_id not in in_force:
            msg = (
                f"there is no block {block_id!r} in force on subject {self.subject_id}"
                f" at {stamp.occurred_at.isoformat()}"
            )
            raise NothingToAct(msg)
        self._record(self.BlockLifted, stamp, block_id=block_id, outcome=outcome)

    def correct(self, data_categories: frozenset[DataCategory], stamp: Stamp) -> None:
        """Clause 6.1.2: record which categories of data were corrected."""
        self._require_not_destroyed()
        if not data_categories:
            msg = "name at least one corrected data category"
            raise InvalidFact(msg)
        self._record(self.DataCorrected, stamp, data_categories=tuple(sorted(data_categories)))

    def destroy(self, ground: DestructionGround, stamp: Stamp) -> None:
        """Clause 5.3: record destruction; refused while blocked (Art. 1(3) stops destruction too)."""
        self._require_not_destroyed()
        ground = one_of(DestructionGround, ground, "ground")
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
        self._record(self.DataDestroyed, stamp, ground=ground)

    def retract(self, number: int, reason: str, stamp: Stamp) -> None:
        """Strike out an entry recorded by mistake; the entry stays in the history, marked."""
        self._require_not_destroyed()
        target = next((e for e in self.entries if e.number == number), None)
        if target is None or not isinstance(target, RETRACTABLE):
            msg = f"subject {self.subject_id} has no retractable entry number {number}"
            raise NothingToAct(msg)
        if any(isinstance(e, Retraction) and e.retracted_number == number for e in self.entries):
            msg = f"entry {number} was already retracted"
            raise NothingToAct(msg)
        if not reason.strip():
            msg = "say why the entry was a mistake"
            raise InvalidFact(msg)
        self._record(self.EntryRetracted, stamp, retracted_number=number, reason=reason)

    def receive_request(  # noqa: PLR0917  (what a request names)
        self, request_id: str, kind: RequestKind, channel: str, actor: Actor, details: Sealed | None, stamp: Stamp
    ) -> None:
        """Record a request from the subject: its legal deadline runs from `stamp.occurred_at`."""
        kind = one_of(RequestKind, kind, "kind")
        actor = one_of(Actor, actor, "actor")
        if not request_id.strip():
            msg = "request_id must name the request (e.g. its incoming number)"
            raise InvalidFact(msg)
        if any(isinstance(e, SubjectRequest) and e.request_id == request_id for e in self.entries):
            msg = f"request {request_id!r} is already recorded for this subject"
            raise InvalidFact(msg)
        self._record(
            self.RequestReceived, stamp, request_id=request_id, kind=kind, channel=channel, actor=actor, details=details
        )

    def answer_request(
        self, request_id: str, outcome: RequestOutcome, by_entry: int | None, reason: str, stamp: Stamp
    ) -> None:
        """Record how a request was met; `done` must name the entry that did what was asked."""
        outcome = one_of(RequestOutcome, outcome, "outcome")
        asked = next((e for e in self._known() if isinstance(e, SubjectRequest) and e.request_id == request_id), None)
        if asked is None:
            msg = f"subject {self.subject_id} has no request {request_id!r}"
            raise NothingToAct(msg)
        if any(isinstance(e, RequestAnswer) and e.request_id == request_id for e in self.entries):
            msg = f"request {request_id!r} was already answered"
            raise NothingToAct(msg)
        if stamp.occurred_at < asked.occurred_at:
            msg = f"request {request_id!r} was received at {asked.occurred_at.isoformat()}; it cannot be met before"
            raise InvalidFact(msg)
        if outcome is RequestOutcome.REFUSED and not reason.strip():
            msg = "a refusal must give its reasons"
            raise InvalidFact(msg)
        if outcome is RequestOutcome.DONE:
            self._require_doing_entry(asked, by_entry)
        self._record(
            self.RequestAnswered, stamp, request_id=request_id, outcome=outcome, by_entry=by_entry, reason=reason
        )

    def _require_doing_entry(self, asked: SubjectRequest, by_entry: int | None) -> None:
        wanted = REQUEST_MET_BY.get(asked.kind)
        if wanted is None:
            return
        entry = next((e for e in self._known() if e.number == by_entry), None)
        if entry is None or not isinstance(entry, wanted) or entry.number < asked.number:
            names = " or ".join(w.__name__ for w in wanted)
            msg = f"a {asked.kind} request is done by a later {names} entry; name its number in by_entry"
            raise InvalidFact(msg)

    def complete_verification(self, block_id: str, violation_found: bool, stamp: Stamp) -> None:
        """Clause 6.2.4: record the end of the verification a block in force was for."""
        in_force = {b.block_id for b in rules.open_blocks(self.entries, stamp.occurred_at)}
        if block_id not in in_force:
            at = stamp.occurred_at.isoformat()
            msg = f"there is no block {block_id!r} in force on subject {self.subject_id} at {at}"
            raise NothingToAct(msg)
        if any(isinstance(e, Verification) and e.block_id == block_id for e in self.entries):
            msg = f"the verification for block {block_id!r} is already recorded as completed"
            raise NothingToAct(msg)
        self._record(self.VerificationCompleted, stamp, block_id=block_id, violation_found=violation_found)


REQUEST_MET_BY: dict[RequestKind, tuple[type[Entry], ...]] = {
    RequestKind.CORRECTION: (Correction,),
    RequestKind.BLOCKING: (Block,),
    RequestKind.DESTRUCTION: (Destruction,),
    RequestKind.WITHDRAWAL: (Withdrawal, WithdrawalRefusal),
}
"""Which entry does what each kind of request asks; access and objection requests are met by the answer itself."""
