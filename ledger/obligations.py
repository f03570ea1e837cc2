"""How each recorded fact starts, meets or drops a deadline: one reading, for the view and for evidence.

The read side keeps a table of deadlines (`projections.projection`), and an evidence bundle's
verifier recomputes the subject's open deadlines from the proven events alone
(`audit.evidence_statements`). Both fold the same `effects` over the facts in log order, so a
deadline the desk shows and one a court recomputes cannot differ in what started it, when it
is due (`ledger.deadlines.due_at`) or what met it.

Folding follows what the view's statements do: a deadline is started once (the first start of
an id counts), met by the first fact that meets it, and forgotten when the fact that started it
is struck out (a retracted disclosure owes no notice).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import singledispatch
from typing import TYPE_CHECKING

from ledger.breach import AuthorityNotice, BreachFinding
from ledger.claim import ClaimAnswer, ClaimFiling
from ledger.deadlines import DeadlineRules, DeadlineStatus, KazakhCalendar, Obligation, due_at, status
from ledger.subject_facts import (
    BlockLift,
    Disclosure,
    RequestAnswer,
    Retraction,
    SubjectRequest,
    TransferNotice,
    Verification,
)
from ledger.terms import RequestKind

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime
    from uuid import UUID

REQUEST_OBLIGATIONS = {
    RequestKind.ACCESS: Obligation.ACCESS_REQUEST,
    RequestKind.CORRECTION: Obligation.CORRECTION,
    RequestKind.BLOCKING: Obligation.BLOCKING,
    RequestKind.DESTRUCTION: Obligation.DESTRUCTION,
    RequestKind.WITHDRAWAL: Obligation.WITHDRAWAL_HANDLED,
    RequestKind.OBJECTION: Obligation.OBJECTION_ANSWER,
}
"""The deadline each kind of subject request starts (KZ-LAW.md, "Deadlines that start with an event")."""


def request_deadline_id(subject: UUID, request_id: str) -> str:
    """The id of the deadline a subject's request started."""
    return f"request:{subject.hex}:{request_id}"


def transfer_deadline_id(subject: UUID, disclosure_number: int) -> str:
    """The id of the deadline to tell the subject of one disclosure (Art. 19)."""
    return f"transfer_notice:{subject.hex}:{disclosure_number}"


def unblocking_deadline_id(subject: UUID, block_id: str) -> str:
    """The id of the deadline to unblock after a verification that found no violation."""
    return f"unblocking:{subject.hex}:{block_id}"


def deadline_id(obligation: Obligation, aggregate_id: UUID, number: int = 1) -> str:
    """The id of the obligation an aggregate's event number `number` started."""
    return f"{obligation.value}:{aggregate_id.hex}:{number}"


@dataclass(frozen=True)
class Starts:
    """The fact starts an obligation (a second start of the same id changes nothing)."""

    deadline_id: str
    obligation: Obligation
    reference: str
    triggered_at: datetime
    recorded_at: datetime
    subject_id: str | None = None
    """The subject the fact itself names (a claim's); None for a fact on a subject's own record, or none at all."""


@dataclass(frozen=True)
class Meets:
    """The fact meets an obligation started before (only the first such fact counts)."""

    deadline_id: str
    met_at: datetime
    met_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class Drops:
    """The fact strikes out the one that started the obligation: it never arose."""

    deadline_id: str


Effect = Starts | Meets | Drops


@singledispatch
def effects(event: object) -> tuple[Effect, ...]:
    """What a recorded fact does to deadlines; most facts do nothing to any."""
    del event
    return ()


@effects.register
def _(event: SubjectRequest) -> tuple[Effect, ...]:
    started = request_deadline_id(event.originator_id, event.request_id)
    obligation = REQUEST_OBLIGATIONS[event.kind]
    return (Starts(started, obligation, event.request_id, event.occurred_at, event.recorded_at),)


@effects.register
def _(event: RequestAnswer) -> tuple[Effect, ...]:
    met = request_deadline_id(event.originator_id, event.request_id)
    by = f"RequestAnswered#{event.originator_version} ({event.outcome})"
    return (Meets(met, event.occurred_at, by, event.recorded_at),)


@effects.register
def _(event: Disclosure) -> tuple[Effect, ...]:
    if not event.notice_owed:
        return ()
    started = transfer_deadline_id(event.originator_id, event.originator_version)
    return (Starts(started, Obligation.TRANSFER_NOTICE, event.recipient, event.occurred_at, event.recorded_at),)


@effects.register
def _(event: TransferNotice) -> tuple[Effect, ...]:
    met = transfer_deadline_id(event.originator_id, event.disclosure_number)
    return (Meets(met, event.occurred_at, f"SubjectToldOfDisclosure#{event.originator_version}", event.recorded_at),)


@effects.register
def _(event: Retraction) -> tuple[Effect, ...]:
    # A disclosure struck out never happened: the notice it would have owed is owed to nobody.
    return (Drops(transfer_deadline_id(event.originator_id, event.retracted_number)),)


@effects.register
def _(event: Verification) -> tuple[Effect, ...]:
    if event.violation_found:
        return ()
    started = unblocking_deadline_id(event.originator_id, event.block_id)
    return (Starts(started, Obligation.UNBLOCKING, event.block_id, event.occurred_at, event.recorded_at),)


@effects.register
def _(event: BlockLift) -> tuple[Effect, ...]:
    met = unblocking_deadline_id(event.originator_id, event.block_id)
    return (Meets(met, event.occurred_at, f"BlockLifted#{event.originator_version}", event.recorded_at),)


@effects.register
def _(event: BreachFinding) -> tuple[Effect, ...]:
    started = deadline_id(Obligation.BREACH_TO_AUTHORITY, event.originator_id)
    obligation = Obligation.BREACH_TO_AUTHORITY
    return (Starts(started, obligation, event.breach_ref, event.occurred_at, event.recorded_at),)


@effects.register
def _(event: AuthorityNotice) -> tuple[Effect, ...]:
    met = deadline_id(Obligation.BREACH_TO_AUTHORITY, event.originator_id)
    return (Meets(met, event.occurred_at, f"AuthorityTold#{event.originator_version}", event.recorded_at),)


@effects.register
def _(event: ClaimFiling) -> tuple[Effect, ...]:
    started = deadline_id(Obligation.CLAIM_ANSWER, event.originator_id)
    obligation = Obligation.CLAIM_ANSWER
    return (Starts(started, obligation, event.claim_ref, event.occurred_at, event.recorded_at, event.subject_id),)


@effects.register
def _(event: ClaimAnswer) -> tuple[Effect, ...]:
    met = deadline_id(Obligation.CLAIM_ANSWER, event.originator_id)
    return (Meets(met, event.occurred_at, f"ClaimAnswered#{event.originator_version}", event.recorded_at),)


@dataclass(frozen=True)
class Deadline:
    """An obligation as the facts left it: when it started and is due, and what met it, if anything did."""

    deadline_id: str
    obligation: Obligation
    reference: str
    triggered_at: datetime
    due_at: datetime
    """In the operator's zone, the last instant to act (`ledger.deadlines.due_at`)."""
    recorded_at: datetime
    met_at: datetime | None = None
    met_by: str | None = None

    def status(self, now: datetime) -> DeadlineStatus:
        """Where it stands at `now` (`ledger.deadlines.status`)."""
        return status(self.due_at, self.met_at, now)


def folded(facts: Iterable[object], rules: DeadlineRules, calendar: KazakhCalendar) -> list[Deadline]:
    """The deadlines `facts` (in log order) leave, as the view's table holds them after the same facts."""
    found: dict[str, Deadline] = {}
    for fact in facts:
        for effect in effects(fact):
            if isinstance(effect, Starts):
                if effect.deadline_id not in found:
                    due = due_at(effect.obligation, effect.triggered_at, rules, calendar)
                    found[effect.deadline_id] = Deadline(
                        effect.deadline_id,
                        effect.obligation,
                        effect.reference,
                        effect.triggered_at,
                        due.astimezone(calendar.zone),
                        effect.recorded_at,
                    )
            elif isinstance(effect, Meets):
                started = found.get(effect.deadline_id)
                if started is not None and started.met_at is None:
                    found[effect.deadline_id] = replace(started, met_at=effect.met_at, met_by=effect.met_by)
            else:
                found.pop(effect.deadline_id, None)
    return list(found.values())


def open_at(deadlines: Iterable[Deadline], now: datetime) -> list[Deadline]:
    """Those started and known by `now` and not met by then, by due date (as the view's `deadlines` answers)."""
    running = [
        d for d in deadlines if d.triggered_at <= now and d.recorded_at <= now and (d.met_at is None or d.met_at > now)
    ]
    return sorted(running, key=lambda d: (d.due_at, d.deadline_id))
