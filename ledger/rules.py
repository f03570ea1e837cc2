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
    ConsentRefusal,
    ConsentRequest,
    Destruction,
    Permission,
    Retraction,
    SubjectFact,
    Withdrawal,
)
from ledger.terms import (
    ORDER_FULFILMENT_RECIPIENTS,
    ConsentState,
    DataCategory,
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


def invalidated_by(acceptance: Acceptance, versions: Iterable[PolicyVersion], at: datetime) -> PolicyVersion | None:
    """The first later version that requires re-consent and had taken effect by `at`: it invalidates this consent.

    A consent to a version stops being valid when a version of the same policy that took effect
    after it says consents before it must be given again (DPV ConsentInvalidated).
    """
    mine = [v for v in versions if v.policy_id == acceptance.policy_id]
    accepted = next((v for v in mine if v.version == acceptance.policy_version), None)
    if accepted is None:
        return None
    later = [
        v
        for v in mine
        if v.reconsent_required and v.version != accepted.version and accepted.takes_effect < v.takes_effect <= at
    ]
    return min(later, key=lambda v: (v.takes_effect, v.recorded_at), default=None)


def valid_consent(
    entries: Sequence[Entry], versions: Mapping[tuple[PolicyId, str], PolicyVersion], policy_id: PolicyId, at: datetime
) -> StandingConsent | None:
    """A standing consent that no version requiring re-consent has invalidated by `at`: one processing may rest on."""
    standing = standing_consent(entries, policy_id, at)
    if standing is None or invalidated_by(standing.acceptance, versions.values(), at) is not None:
        return None
    return standing


@dataclass(frozen=True)
class StateOfConsent:
    """Where a subject's consent to one policy stood at a moment, since when, and the entry that put it there."""

    policy_id: PolicyId
    state: ConsentState
    since: datetime
    """When it came to this state: the entry's time, or the moment a consent expired or was invalidated."""
    entry: Entry
    """The entry that put it there (for an expiry or an invalidation: the consent that ended)."""
    invalidated_by: PolicyVersion | None = None
    """The version requiring re-consent that invalidated the consent, if it was invalidated."""


def consent_state(
    entries: Sequence[Entry], versions: Iterable[PolicyVersion], policy_id: PolicyId, at: datetime
) -> StateOfConsent | None:
    """The DPV state of the subject's consent to the policy at `at` (None: nothing about it happened by then).

    A valid consent (given or renewed) stands until it is wholly withdrawn, its term ends or a
    version requiring re-consent takes effect; while one stands, a prompt or a refusal changes
    nothing (the consent before it still holds). Otherwise the latest of these is the state.
    """
    timeline = consent_timeline(entries, versions, policy_id, at)
    return timeline[-1] if timeline else None


def consent_timeline(
    entries: Sequence[Entry], versions: Iterable[PolicyVersion], policy_id: PolicyId, at: datetime
) -> list[StateOfConsent]:
    """Every change of the consent's DPV state by `at`, in order (the events a 27560 record lists)."""
    mine = [v for v in versions if v.policy_id == policy_id]
    timeline: list[StateOfConsent] = []
    current: StateOfConsent | None = None
    purposes: frozenset[Purpose] = frozenset()
    accepted: str | None = None
    for entry in sorted(_about_consent(entries, policy_id, at), key=lambda e: (e.occurred_at, e.number)):
        ended = _ending(current, mine, entry.occurred_at)
        if ended is not None:
            timeline.append(ended)
            current = None
        if isinstance(entry, Acceptance):
            renewed = accepted is not None and accepted != entry.policy_version
            state = ConsentState.RENEWED if renewed else ConsentState.GIVEN
            current, purposes, accepted = (
                StateOfConsent(policy_id, state, entry.occurred_at, entry),
                entry.purposes,
                entry.policy_version,
            )
            timeline.append(current)
        elif isinstance(entry, (ConsentRequest, ConsentRefusal)) and current is None:
            asked = ConsentState.REQUESTED if isinstance(entry, ConsentRequest) else ConsentState.REFUSED
            timeline.append(StateOfConsent(policy_id, asked, entry.occurred_at, entry))
        elif isinstance(entry, Withdrawal) and current is not None:
            purposes = purposes - entry.purposes if entry.purposes else frozenset()
            if not purposes:
                timeline.append(StateOfConsent(policy_id, ConsentState.WITHDRAWN, entry.occurred_at, entry))
                current = None
    ended = _ending(current, mine, at)
    if ended is not None:
        timeline.append(ended)
    return timeline


CONSENT_EVENTS: tuple[type[Entry], ...] = (ConsentRequest, ConsentRefusal, Acceptance, Withdrawal)
"""The entries that change a consent's DPV state."""


def consent_policies(entries: Iterable[Entry]) -> list[PolicyId]:
    """The policies the subject's consent entries name (a refusal through its prompt), in order."""
    return sorted({p for e in entries if (p := _policy_of(e, entries)) is not None})


def _policy_of(entry: Entry, entries: Iterable[Entry]) -> PolicyId | None:
    """The policy a consent entry is about; a refusal's is that of the prompt it answers."""
    if isinstance(entry, (ConsentRequest, Acceptance, Withdrawal)):
        return entry.policy_id
    if isinstance(entry, ConsentRefusal):
        prompt = next((e for e in entries if isinstance(e, ConsentRequest) and e.prompt_id == entry.prompt_id), None)
        return None if prompt is None else prompt.policy_id
    return None


def _about_consent(entries: Sequence[Entry], policy_id: PolicyId, at: datetime) -> list[Entry]:
    """The entries that change the state of a consent to the policy, by `at`."""
    return [e for e in entries if e.occurred_at <= at and _policy_of(e, entries) == policy_id]


def _ending(current: StateOfConsent | None, versions: list[PolicyVersion], by: datetime) -> StateOfConsent | None:
    """The expiry or invalidation of the valid consent `current`, if it came by `by` (the earlier of the two)."""
    if current is None:
        return None
    acceptance = current.entry
    assert isinstance(acceptance, Acceptance)  # noqa: S101  (only a consent is ever current)
    ends: list[StateOfConsent] = []
    if acceptance.valid_until is not None:
        ends.append(StateOfConsent(current.policy_id, ConsentState.EXPIRED, acceptance.valid_until, acceptance))
    later = invalidated_by(acceptance, versions, by)
    if later is not None:
        moment = max(later.takes_effect, acceptance.occurred_at)
        ends.append(StateOfConsent(current.policy_id, ConsentState.INVALIDATED, moment, acceptance, later))
    first = min(ends, key=lambda s: s.since, default=None)
    return first if first is not None and first.since <= by else None


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
    beyond_terms: bool = False
    """Art. 8(4): a consent allows this recipient and purpose, but not these data or this transfer."""


def _refused(reason: str, ground: DisclosureGround | None = None) -> DisclosureDecision:
    return DisclosureDecision(allowed=False, ground=ground, basis="", reason=reason)


@dataclass(frozen=True)
class Asked:
    """What a disclosure names besides its ground: to whom, why, which data, and whether they cross the border."""

    recipient: str
    category: RecipientCategory
    purpose: Purpose
    data_categories: frozenset[DataCategory] = frozenset()
    cross_border: bool = False


def decide_disclosure(
    entries: Sequence[Entry],
    versions: Mapping[tuple[PolicyId, str], PolicyVersion],
    *,
    recipient: str,
    category: RecipientCategory,
    purpose: Purpose,
    ground: DisclosureGround,
    reference: str,
    at: datetime,
    data_categories: frozenset[DataCategory] = frozenset(),
    cross_border: bool = False,
) -> DisclosureDecision:
    """Clauses 5.2, 6.2.2, 6.2.4; Art. 8(4), 9: whether the subject's data may go to this recipient at `at`, and why."""
    asked = Asked(recipient, category, purpose, data_categories, cross_border)
    if destruction(entries, at) is not None:
        return _refused("the subject's data had been destroyed by then", ground)
    blocked = open_blocks(entries, at)
    if ground == DisclosureGround.STATE_REQUEST:
        return _decide_state_request(asked, reference, flagged=bool(blocked))
    if blocked:
        ids = ", ".join(b.block_id for b in blocked)
        reason = f"the subject's data are blocked ({ids}) until the verification ends"
        return DisclosureDecision(allowed=False, ground=ground, basis="", reason=reason, refused_while_blocked=True)
    if ground == DisclosureGround.ORDER_FULFILMENT:
        return _decide_order_fulfilment(entries, versions, asked, reference, at)
    return _decide_written_permission(entries, asked, reference, at)


def _decide_state_request(asked: Asked, reference: str, *, flagged: bool) -> DisclosureDecision:
    """Art. 9: a state authority's request is its own ground, needing no consent; a block only flags it."""
    ground = DisclosureGround.STATE_REQUEST
    if asked.category != RecipientCategory.STATE_AUTHORITY:
        return _refused("a state request ground needs a state_authority recipient", ground)
    if not reference.strip():
        return _refused("a state-authority disclosure needs the request reference", ground)
    basis = f"state request {reference}"
    return DisclosureDecision(allowed=True, ground=ground, basis=basis, reason="", flagged_while_blocked=flagged)


def _decide_written_permission(
    entries: Sequence[Entry], asked: Asked, reference: str, at: datetime
) -> DisclosureDecision:
    """Clause 6.2.2: a written permission names its recipient and purpose, and is valid at `at`."""
    ground = DisclosureGround.WRITTEN_PERMISSION
    permits = [p for p in _of(Permission, entries, at) if p.permission_id == reference]
    if not permits:
        return _refused(f"no written permission {reference!r} was given by then", ground)
    permit = permits[-1]
    if permit.recipient_category != asked.category or not covers(permit, asked.recipient, asked.purpose, at):
        return _refused(
            f"written permission {reference!r} covers {permit.recipient!r} ({permit.recipient_category})"
            f" for purpose {permit.purpose!r} within its validity, not this disclosure",
            ground,
        )
    return DisclosureDecision(allowed=True, ground=ground, basis=f"written permission {reference}", reason="")


def beyond_consent(accepted: Acceptance, asked: Asked) -> str:
    """Art. 8(4): what a disclosure asks beyond the terms the consent named ("" if nothing).

    A consent recorded before consents had to name their data categories names none: it is
    judged on its other terms (its categories were never recorded, so none can be compared).
    """
    beyond = []
    named = accepted.data_categories
    if named and not asked.data_categories <= named:
        extra = ", ".join(sorted(asked.data_categories - named))
        beyond.append(f"it names the data categories {', '.join(sorted(named))}, not {extra}")
    if asked.cross_border and not accepted.cross_border:
        beyond.append("it does not allow cross-border transfer")
    return "; ".join(beyond)


def _decide_order_fulfilment(
    entries: Sequence[Entry],
    versions: Mapping[tuple[PolicyId, str], PolicyVersion],
    asked: Asked,
    reference: str,
    at: datetime,
) -> DisclosureDecision:
    """Clause 5.2; Art. 8(4): a valid consent lets this category and purpose through, within the terms it named."""
    ground = DisclosureGround.ORDER_FULFILMENT
    if asked.category not in ORDER_FULFILMENT_RECIPIENTS:
        return _refused("orders are fulfilled only through courier, postal or telecom recipients", ground)
    if not reference.strip():
        return _refused("an order-fulfilment disclosure needs the order reference", ground)
    short: list[str] = []
    for policy_id in sorted({a.policy_id for a in _of(Acceptance, entries, at)}):
        standing = valid_consent(entries, versions, policy_id, at)
        if standing is None:
            continue
        accepted = standing.acceptance
        terms = versions.get((accepted.policy_id, accepted.policy_version))
        if terms is None or asked.category not in terms.recipient_categories:
            continue
        if asked.purpose not in standing.purposes or not accepted.third_parties:
            continue
        beyond = beyond_consent(accepted, asked)
        if not beyond:
            basis = f"consent to {policy_id} version {accepted.policy_version}"
            return DisclosureDecision(allowed=True, ground=ground, basis=basis, reason="")
        short.append(f"consent to {policy_id} version {accepted.policy_version}: {beyond} (Art. 8(4))")
    if short:
        return DisclosureDecision(allowed=False, ground=ground, basis="", reason="; ".join(short), beyond_terms=True)
    category, purpose = asked.category, asked.purpose
    return _refused(f"no consent standing at that time allows {category} recipients for purpose {purpose!r}", ground)


def may_disclose(
    entries: Sequence[Entry],
    versions: Mapping[tuple[PolicyId, str], PolicyVersion],
    *,
    category: RecipientCategory,
    purpose: Purpose,
    at: datetime,
    recipient: str | None = None,
    data_categories: frozenset[DataCategory] = frozenset(),
    cross_border: bool = False,
) -> DisclosureDecision:
    """The question services ask: may S's data go to a recipient of this category (this one, if named) now, and why.

    Each possible ground is judged by `decide_disclosure`, the very rule a disclosure is recorded
    under: a consent for order fulfilment, then the newest written permission naming the recipient.
    """
    if category == RecipientCategory.STATE_AUTHORITY:
        return _refused("state authorities receive data only on a request reference (Art. 9)")
    asking = {"category": category, "purpose": purpose, "at": at, "data_categories": data_categories}
    beyond: DisclosureDecision | None = None
    if category in ORDER_FULFILMENT_RECIPIENTS:
        decision = decide_disclosure(
            entries,
            versions,
            recipient=recipient or "",
            ground=DisclosureGround.ORDER_FULFILMENT,
            reference="(any order)",
            cross_border=cross_border,
            **asking,  # type: ignore[arg-type]
        )
        if decision.allowed:
            return decision
        beyond = decision if decision.beyond_terms else None
    for permit in reversed(_of(Permission, entries, at)):
        if (
            permit.recipient_category == category
            and permit.purpose == purpose
            and recipient in (None, permit.recipient)
        ):
            decision = decide_disclosure(
                entries,
                versions,
                recipient=permit.recipient,
                ground=DisclosureGround.WRITTEN_PERMISSION,
                reference=permit.permission_id,
                cross_border=cross_border,
                **asking,  # type: ignore[arg-type]
            )
            if decision.allowed:
                return decision
    if open_blocks(entries, at):
        return _refused("the subject's data are blocked until the verification ends")
    if beyond is not None:
        return beyond
    whom = f"{recipient!r} ({category})" if recipient else f"{category} recipients"
    return _refused(f"no consent or written permission allows {whom} for purpose {purpose!r}")
