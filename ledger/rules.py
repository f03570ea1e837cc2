"""The rules of the policy as pure functions over a subject's entries.

The write side calls them before recording a fact and the read side calls them to answer
questions, so a "yes, you may disclose" can never differ between the two. Every function
takes the moment it judges (`at`) and, where it matters, what the ledger knew by then
(`as_known_at`): entries recorded later, and retractions recorded later, are not seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ledger.subject_facts import (
    Acceptance,
    Block,
    BlockLift,
    Destruction,
    Permission,
    Retraction,
    SubjectFact,
    Withdrawal,
)
from ledger.terms import (
    ORDER_FULFILMENT_RECIPIENTS,
    DisclosureGround,
    PolicyId,
    Purpose,
    RecipientCategory,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime

    from ledger.policy import PolicyVersion

Entry = SubjectFact
"""An entry of a subject's record: a fact as recorded (`ledger.facts`)."""

E = TypeVar("E", bound=Entry)


def known_entries(entries: Iterable[Entry], as_known_at: datetime | None = None) -> list[Entry]:
    """Entries the ledger had recorded by `as_known_at` (all if None), less those struck out by then."""
    visible = [e for e in entries if as_known_at is None or e.recorded_at <= as_known_at]
    struck = {e.retracted_number for e in visible if isinstance(e, Retraction)}
    return [e for e in visible if e.number not in struck]


def _of(kind: type[E], entries: Iterable[Entry], at: datetime) -> list[E]:
    """Entries of one kind that had happened by `at`, in the order they happened."""
    found = [e for e in entries if isinstance(e, kind) and e.occurred_at <= at]
    return sorted(found, key=lambda e: (e.occurred_at, e.number))


def covers(permit: Permission, recipient: str, purpose: Purpose, at: datetime) -> bool:
    """Clause 6.2.2: the permission names this recipient and purpose and is valid at `at`."""
    start = permit.valid_from or permit.occurred_at
    return (
        permit.recipient == recipient
        and permit.purpose == purpose
        and start <= at
        and (permit.valid_until is None or at < permit.valid_until)
    )


@dataclass(frozen=True)
class StandingConsent:
    """An acceptance that still stands at a moment, less any purposes withdrawn since."""

    acceptance: Acceptance
    purposes: frozenset[Purpose]


def standing_consent(entries: Sequence[Entry], policy_id: PolicyId, at: datetime) -> StandingConsent | None:
    """Clauses 2.1-2.2: the latest acceptance of the policy by `at`, unless withdrawn or expired."""
    standing: StandingConsent | None = None
    events = sorted(
        (
            e
            for e in entries
            if isinstance(e, (Acceptance, Withdrawal)) and e.policy_id == policy_id and e.occurred_at <= at
        ),
        key=lambda e: (e.occurred_at, e.number),
    )
    for entry in events:
        if isinstance(entry, Acceptance):
            standing = StandingConsent(entry, entry.purposes)
        elif standing is not None:
            remaining = standing.purposes - entry.purposes if entry.purposes else frozenset()
            standing = StandingConsent(standing.acceptance, remaining) if remaining else None
    if standing is None:
        return None
    valid_until = standing.acceptance.valid_until
    if valid_until is not None and valid_until <= at:
        return None  # Art. 8(5): a consent lasts no longer than its stated term.
    return standing


def transfer_notice_promised(
    entries: Sequence[Entry], versions: Mapping[tuple[PolicyId, str], PolicyVersion], at: datetime
) -> bool:
    """Art. 19: did a consent standing at `at` accept a version that promises notice of each transfer?"""
    for policy_id in {e.policy_id for e in entries if isinstance(e, Acceptance)}:
        standing = standing_consent(entries, policy_id, at)
        if standing is not None:
            terms = versions.get((policy_id, standing.acceptance.policy_version))
            if terms is not None and terms.notifies_transfers:
                return True
    return False


def open_blocks(entries: Sequence[Entry], at: datetime) -> list[Block]:
    """Clause 6.2.4: blocks requested by `at` and not lifted by then."""
    lifted = {lift.block_id for lift in _of(BlockLift, entries, at)}
    return [b for b in _of(Block, entries, at) if b.block_id not in lifted]


def destruction(entries: Sequence[Entry], at: datetime | None = None) -> Destruction | None:
    """Art. 1(6): the destruction of the subject's data, if it had happened by `at` (ever, if None)."""
    for e in entries:
        if isinstance(e, Destruction) and (at is None or e.occurred_at <= at):
            return e
    return None


def version_in_effect(versions: Iterable[PolicyVersion], at: datetime) -> PolicyVersion | None:
    """Clause 9.2: the version that had taken effect latest by `at`."""
    started = [v for v in versions if v.takes_effect <= at]
    return max(started, key=lambda v: (v.takes_effect, v.recorded_at), default=None)


def behind(accepted: PolicyVersion | None, in_effect: PolicyVersion | None) -> bool:
    """Clause 9.2: the version in effect took effect after the one the subject accepted, so they were behind."""
    return accepted is not None and in_effect is not None and in_effect.takes_effect > accepted.takes_effect


@dataclass(frozen=True)
class DisclosureDecision:
    """Whether a disclosure may happen, on which ground, and why not if it may not."""

    allowed: bool
    ground: DisclosureGround | None
    basis: str
    reason: str
    flagged_while_blocked: bool = False
    refused_while_blocked: bool = False
    """Clause 6.2.4: the ground would hold, but a block stops the disclosure until it is lifted."""


def _refused(reason: str, ground: DisclosureGround | None = None) -> DisclosureDecision:
    return DisclosureDecision(allowed=False, ground=ground, basis="", reason=reason)


def decide_disclosure(  # noqa: PLR0911  (one branch per ground, as the policy lists them)
    entries: Sequence[Entry],
    versions: Mapping[tuple[PolicyId, str], PolicyVersion],
    *,
    recipient: str,
    category: RecipientCategory,
    purpose: Purpose,
    ground: DisclosureGround,
    reference: str,
    at: datetime,
) -> DisclosureDecision:
    """Clauses 5.2, 6.2.2, 6.2.4; Art. 9: whether the subject's data may go to this recipient at `at`, and why."""
    if destruction(entries, at) is not None:
        return _refused("the subject's data had been destroyed by then", ground)
    blocked = open_blocks(entries, at)
    if ground == DisclosureGround.STATE_REQUEST:
        if category != RecipientCategory.STATE_AUTHORITY:
            return _refused("a state request ground needs a state_authority recipient", ground)
        if not reference.strip():
            return _refused("a state-authority disclosure needs the request reference", ground)
        return DisclosureDecision(
            allowed=True,
            ground=ground,
            basis=f"state request {reference}",
            reason="",
            flagged_while_blocked=bool(blocked),
        )
    if blocked:
        ids = ", ".join(b.block_id for b in blocked)
        reason = f"the subject's data are blocked ({ids}) until the verification ends"
        return DisclosureDecision(allowed=False, ground=ground, basis="", reason=reason, refused_while_blocked=True)
    if ground == DisclosureGround.ORDER_FULFILMENT:
        return _decide_order_fulfilment(
            entries,
            versions,
            category=category,
            purpose=purpose,
            reference=reference,
            at=at,
        )
    permits = [p for p in _of(Permission, entries, at) if p.permission_id == reference]
    if not permits:
        return _refused(f"no written permission {reference!r} was given by then", ground)
    permit = permits[-1]
    if permit.recipient_category != category or not covers(permit, recipient, purpose, at):
        return _refused(
            f"written permission {reference!r} covers {permit.recipient!r} ({permit.recipient_category})"
            f" for purpose {permit.purpose!r} within its validity, not this disclosure",
            ground,
        )
    return DisclosureDecision(allowed=True, ground=ground, basis=f"written permission {reference}", reason="")


def _decide_order_fulfilment(
    entries: Sequence[Entry],
    versions: Mapping[tuple[PolicyId, str], PolicyVersion],
    *,
    category: RecipientCategory,
    purpose: Purpose,
    reference: str,
    at: datetime,
) -> DisclosureDecision:
    ground = DisclosureGround.ORDER_FULFILMENT
    if category not in ORDER_FULFILMENT_RECIPIENTS:
        return _refused("orders are fulfilled only through courier, postal or telecom recipients", ground)
    if not reference.strip():
        return _refused("an order-fulfilment disclosure needs the order reference", ground)
    policies = {a.policy_id for a in _of(Acceptance, entries, at)}
    for policy_id in sorted(policies):
        standing = standing_consent(entries, policy_id, at)
        if standing is None:
            continue
        accepted = standing.acceptance
        terms = versions.get((accepted.policy_id, accepted.policy_version))
        if terms is None or category not in terms.recipient_categories:
            continue
        if purpose in standing.purposes and accepted.third_parties:
            basis = f"consent to {policy_id} version {accepted.policy_version}"
            return DisclosureDecision(allowed=True, ground=ground, basis=basis, reason="")
    return _refused(f"no consent standing at that time allows {category} recipients for purpose {purpose!r}", ground)


def may_disclose(
    entries: Sequence[Entry],
    versions: Mapping[tuple[PolicyId, str], PolicyVersion],
    *,
    category: RecipientCategory,
    purpose: Purpose,
    at: datetime,
) -> DisclosureDecision:
    """The question services ask: may S's data go to a recipient of this category now, and why."""
    if category == RecipientCategory.STATE_AUTHORITY:
        return _refused("state authorities receive data only on a request reference (Art. 9)")
    if category in ORDER_FULFILMENT_RECIPIENTS:
        decision = decide_disclosure(
            entries,
            versions,
            recipient="",
            category=category,
            purpose=purpose,
            ground=DisclosureGround.ORDER_FULFILMENT,
            reference="(any order)",
            at=at,
        )
        if decision.allowed:
            return decision
    for permit in reversed(_of(Permission, entries, at)):
        if permit.recipient_category == category and permit.purpose == purpose:
            decision = decide_disclosure(
                entries,
                versions,
                recipient=permit.recipient,
                category=category,
                purpose=purpose,
                ground=DisclosureGround.WRITTEN_PERMISSION,
                reference=permit.permission_id,
                at=at,
            )
            if decision.allowed:
                return decision
    if open_blocks(entries, at):
        return _refused("the subject's data are blocked until the verification ends")
    return _refused(f"no consent or written permission allows {category} recipients for purpose {purpose!r}")
