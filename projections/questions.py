"""The questions the read side answers, each a method named after its question.

Every answer reads indexed rows of one subject (or one policy) and judges them with the
ledger's own rules, at business time `at` and as the ledger knew it at record time
`as_known_at` (None: as known now).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast
from uuid import NAMESPACE_URL, UUID

from ledger import rules
from ledger.deadlines import DeadlineStatus, Obligation, status
from ledger.obligations import deadline_id
from ledger.policy import PolicyVersion
from ledger.rules import Entry
from ledger.subject_facts import Block, BlockLift, subject_key
from ledger.terms import DataCategory, DisclosureGround, Purpose, RecipientCategory
from projections import records, verdicts
from projections.projection import LedgerProjection
from projections.view_rows import DeadlineRow

if TYPE_CHECKING:
    from datetime import datetime

    from ledger.terms import PolicyId, SubjectId
    from projections.view import LedgerView
    from projections.view_rows import DisclosureRow


@dataclass(frozen=True)
class AcceptedVersion:
    """Which version a subject had accepted at a moment, and whether they were behind (clause 9.2)."""

    policy_id: str
    accepted: rules.StandingConsent | None
    in_effect: PolicyVersion | None
    behind: bool


@dataclass(frozen=True)
class BlockStatus:
    """Whether a subject's data were blocked at a moment, by whom and why (clause 6.2.4)."""

    blocked: bool
    in_force: list[Block]
    history: list[Block | BlockLift]


@dataclass(frozen=True)
class DeadlineAnswer:
    """An obligation with its standing at the moment asked about."""

    row: DeadlineRow
    status: DeadlineStatus


@dataclass(frozen=True)
class UntoldBreach:
    """A breach with subjects not yet told, and whether the authority was told in time."""

    breach_ref: str
    untold_subjects: list[str]
    authority: DeadlineAnswer | None


def subject_hex(subject_id: SubjectId) -> str:
    """`subject_key(subject_id).hex` without building the UUID (a question's hottest line).

    The same UUID version 5 (RFC 9562): SHA-1 of namespace and name, version and variant bits set.
    """
    name = f"consent-ledger:subject:{subject_id}".encode()
    digest = bytearray(hashlib.sha1(_SUBJECT_NAMESPACE + name).digest()[:16])  # noqa: S324  (UUIDv5 is SHA-1 by definition)
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


_SUBJECT_NAMESPACE = NAMESPACE_URL.bytes


def _versions_known(versions: list[PolicyVersion], as_known_at: datetime | None) -> list[PolicyVersion]:
    return [v for v in versions if as_known_at is None or v.recorded_at <= as_known_at]


def _local(row: DeadlineRow) -> DeadlineRow:
    """Give a deadline in the operator's zone, where its "end of the day" is meant."""
    return replace(row, due_at=row.due_at.astimezone(LedgerProjection.calendar.zone))


class LedgerQuestions:
    """Answers from the view; never from replaying events."""

    def __init__(self, view: LedgerView) -> None:
        """Read from `view` (following it to a rebuilt generation when one is swapped in)."""
        self._view = view
        self._policy_ids: list[str] = []

    @property
    def view(self) -> LedgerView:
        """The current generation of the view."""
        self._view.follow_pointer()
        return self._view

    def _entries(self, subject_id: SubjectId, as_known_at: datetime | None) -> list[Entry]:
        return rules.known_entries(self.view.entries(subject_key(subject_id)), as_known_at)

    def record_as_known(self, subject_id: SubjectId, as_known_at: datetime | None = None) -> list[Entry]:
        """Every entry of the subject's record the ledger had recorded by `as_known_at`, struck-out ones included.

        The timeline a person reads (the disputes desk): an entry struck out stays in it, beside the
        retraction that struck it; the answers above never see it (`rules.known_entries`).
        """
        entries = self.view.entries(subject_key(subject_id))
        return [e for e in entries if as_known_at is None or e.recorded_at <= as_known_at]

    def accepted_version_at(
        self, subject_id: SubjectId, policy_id: PolicyId, at: datetime, as_known_at: datetime | None = None
    ) -> AcceptedVersion:
        """Which version of the policy had the subject accepted at `at` (as known at `as_known_at`)?

        One indexed lookup of the pre-judged standing consent (projections/verdicts.py) and of
        the version in effect; the rules ran when the facts were projected.
        """
        view = self.view
        in_effect_version, purposes, acceptance = view.standing(subject_hex(subject_id), policy_id, at, as_known_at)
        in_effect = None if in_effect_version is None else view.terms(policy_id, in_effect_version)
        standing = None
        behind = False
        if acceptance is not None and purposes is not None:
            standing = rules.StandingConsent(acceptance, cast("frozenset[Purpose]", purposes))
            accepted = view.terms(policy_id, acceptance.policy_version)
            if accepted is not None and (as_known_at is None or accepted.recorded_at <= as_known_at):
                behind = rules.behind(accepted, in_effect)
        return AcceptedVersion(policy_id, standing, in_effect, behind)

    def version_in_effect(
        self, policy_id: PolicyId, at: datetime, as_known_at: datetime | None = None
    ) -> PolicyVersion | None:
        """Which version of the policy was in effect at `at` (clause 9.2)?"""
        return rules.version_in_effect(_versions_known(self.view.policy_versions([policy_id]), as_known_at), at)

    def version_history(self, policy_id: PolicyId, as_known_at: datetime | None = None) -> list[PolicyVersion]:
        """Every version of the policy, in the order they took effect."""
        return _versions_known(self.view.policy_versions([policy_id]), as_known_at)

    def may_disclose(
        self,
        subject_id: SubjectId,
        category: RecipientCategory,
        purpose: Purpose,
        at: datetime,
        as_known_at: datetime | None = None,
        *,
        recipient: str | None = None,
        data_categories: frozenset[DataCategory] = frozenset(),
        cross_border: bool = False,
    ) -> rules.DisclosureDecision:
        """May the subject's data go to a recipient of this category (this one, these data) for this purpose at `at`?

        Asked for a category and purpose only, one indexed lookup of the pre-judged grants
        (projections/verdicts.py): a row allowing this category and purpose, or one saying the data
        were blocked, or none. Asked for a named recipient, data categories or a transfer abroad, or
        when the consent a grant rests on may have been invalidated since, the subject's entries are
        judged with `rules.may_disclose`, the rule a disclosure is recorded under.
        """
        if recipient is not None or data_categories or cross_border:
            asked = {"recipient": recipient, "data_categories": data_categories, "cross_border": cross_border}
            return self._judged(subject_id, category, purpose, at, as_known_at, **asked)
        if category == RecipientCategory.STATE_AUTHORITY:
            return verdicts.refusal(category, purpose, blocked=False)
        found = self.view.grant(subject_hex(subject_id), category, purpose, at, as_known_at)
        if found is None:
            return verdicts.refusal(category, purpose, blocked=False)
        ground, basis = found
        if not ground:
            return verdicts.refusal(category, purpose, blocked=True)
        if ground == DisclosureGround.ORDER_FULFILMENT and self._may_be_invalidated(basis, at, as_known_at):
            return self._judged(subject_id, category, purpose, at, as_known_at)
        return verdicts.allowed(ground, basis)

    def _judged(
        self,
        subject_id: SubjectId,
        category: RecipientCategory,
        purpose: Purpose,
        at: datetime,
        as_known_at: datetime | None,
        **asked: Any,
    ) -> rules.DisclosureDecision:
        entries = self._entries(subject_id, as_known_at)
        versions = self._versions_of(entries, as_known_at)
        return rules.may_disclose(entries, versions, category=category, purpose=purpose, at=at, **asked)

    def _versions_of(
        self, entries: list[Entry], as_known_at: datetime | None
    ) -> dict[tuple[PolicyId, str], PolicyVersion]:
        """Every version known at `as_known_at` of each policy the entries name (consents are judged against all)."""
        known = _versions_known(self.view.policy_versions(rules.consent_policies(entries)), as_known_at)
        return {(v.policy_id, v.version): v for v in known}

    def _may_be_invalidated(self, basis: str, at: datetime, as_known_at: datetime | None) -> bool:
        """Whether a version requiring re-consent took effect by `at` after the version a consent basis names.

        A pre-judged grant was judged with the versions the subject accepted only; a later version
        that asks consents to be given again invalidates it, whenever it was published.
        """
        for policy_id in self._policies_in(basis):
            accepted = self.view.terms(policy_id, basis.removeprefix(f"consent to {policy_id} version "))
            versions = _versions_known(self.view.policy_versions([policy_id]), as_known_at)
            if accepted is None or any(
                v.reconsent_required and accepted.takes_effect < v.takes_effect <= at for v in versions
            ):
                return True
        return False

    def _policies_in(self, basis: str) -> list[str]:
        """The policy a consent basis (`consent to <policy> version <v>`) names, among the policies the view knows."""
        if not any(basis.startswith(f"consent to {p} version ") for p in self._policy_ids):
            self._policy_ids = self.view.names_of_kind("policy")
        return [p for p in self._policy_ids if basis.startswith(f"consent to {p} version ")]

    def consent_states(
        self, subject_id: SubjectId, at: datetime, as_known_at: datetime | None = None
    ) -> list[rules.StateOfConsent]:
        """Where the subject's consent to each policy stood at `at` (a W3C DPV state), as known at `as_known_at`."""
        entries = self._entries(subject_id, as_known_at)
        versions = list(self._versions_of(entries, as_known_at).values())
        found = (rules.consent_state(entries, versions, p, at) for p in rules.consent_policies(entries))
        return [s for s in found if s is not None]

    def consent_records(
        self, subject_id: SubjectId, at: datetime, as_known_at: datetime | None = None
    ) -> list[dict[str, object]]:
        """The subject's ISO/IEC TS 27560 consent record for each policy, at `at` as known at `as_known_at`."""
        entries = self._entries(subject_id, as_known_at)
        versions = list(self._versions_of(entries, as_known_at).values())
        return records.consent_records(subject_id, entries, versions, at)

    def block_status(self, subject_id: SubjectId, at: datetime, as_known_at: datetime | None = None) -> BlockStatus:
        """Was the subject blocked at `at`, by whom, on which ground, since when; and the block history."""
        entries = self._entries(subject_id, as_known_at)
        in_force = rules.open_blocks(entries, at)
        history = [e for e in entries if isinstance(e, (Block, BlockLift)) and e.occurred_at <= at]
        return BlockStatus(bool(in_force), in_force, history)

    def disclosures(
        self,
        subject_id: SubjectId,
        since: datetime | None = None,
        until: datetime | None = None,
        as_known_at: datetime | None = None,
    ) -> list[DisclosureRow]:
        """Every disclosure of the subject's data in a time range, with its ground and recipient."""
        standing = {e.number for e in self._entries(subject_id, as_known_at)}
        return [
            d
            for d in self.view.disclosures(subject_key(subject_id), since, until)
            if d.number in standing and (as_known_at is None or d.recorded_at <= as_known_at)
        ]

    def deadlines(
        self,
        now: datetime,
        wanted: set[DeadlineStatus] | None = None,
        limit: int = 1000,
        subject_id: SubjectId | None = None,
    ) -> list[DeadlineAnswer]:
        """Obligations started by `now`, with their standing then: open, met, met late or overdue."""
        open_only = wanted is not None and wanted <= {DeadlineStatus.OPEN, DeadlineStatus.OVERDUE}
        rows = self.view.deadlines(at=now, open_only=open_only, subject_id=subject_id, limit=limit)
        answers = [DeadlineAnswer(_local(r), status(r.due_at, r.met_at, now)) for r in rows]
        return [a for a in answers if wanted is None or a.status in wanted]

    def breaches_not_all_told(self, now: datetime) -> list[UntoldBreach]:
        """Breaches found by `now` whose affected subjects were not all told by then, with the authority's notice."""
        found = []
        for (breach_hex, ref), subjects in self.view.untold_breach_subjects(now).items():
            row = self.view.deadline(deadline_id(Obligation.BREACH_TO_AUTHORITY, UUID(breach_hex)))
            answer = DeadlineAnswer(_local(row), status(row.due_at, row.met_at, now)) if row else None
            found.append(UntoldBreach(ref, subjects, answer))
        return found
