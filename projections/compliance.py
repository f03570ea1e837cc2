"""Checking every rule of the policy over the whole history, as an auditor would.

The write side refuses a fact that breaks a rule, so in an untampered ledger every check
here finds nothing to report but what the law itself asks to flag (a state request served
while blocked) and what time alone can break (a deadline missed). An auditor runs it anyway:
it re-judges each recorded fact with the rules as they stood when the fact was recorded,
from the rebuilt view, one subject at a time so that memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from uuid import UUID

from ledger import rules
from ledger.deadlines import DeadlineStatus
from ledger.policy import PolicyVersion
from ledger.rules import Entry
from ledger.subject_facts import Acceptance, Destruction, Disclosure, Retraction
from ledger.terms import DisclosureGround, PolicyId

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

    from projections.questions import LedgerQuestions


@dataclass(frozen=True)
class Finding:
    """One thing an auditor should look at, with the log position of the fact it concerns."""

    rule: str
    position: int | None
    subject: str | None
    detail: str
    severity: str = "violation"
    """`violation` (a rule was broken) or `notice` (the law asks for it to be flagged, e.g. Art. 9 while blocked)."""


def _known_before(entries: list[tuple[int, Entry]], entry: Entry) -> list[Entry]:
    """What the ledger knew when `entry` was recorded: entries recorded no later, the entry itself excluded."""
    earlier = [e for _, e in entries if e.number < entry.number and e.recorded_at <= entry.recorded_at]
    return rules.known_entries(earlier)


def _versions_known(versions: list[PolicyVersion], at: datetime) -> dict[tuple[PolicyId, str], PolicyVersion]:
    return {(v.policy_id, v.version): v for v in versions if v.recorded_at <= at}


def check_subject(subject: str, entries: list[tuple[int, Entry]], versions: list[PolicyVersion]) -> Iterator[Finding]:
    """Re-judge one subject's disclosures, consents and destruction with the rules as they stood."""
    struck = {e.retracted_number for _, e in entries if isinstance(e, Retraction)}
    for position, entry in entries:
        if entry.number in struck:
            continue
        known = _known_before(entries, entry)
        if isinstance(entry, Disclosure):
            decision = rules.decide_disclosure(
                known,
                _versions_known(versions, entry.recorded_at),
                recipient=entry.recipient,
                category=entry.recipient_category,
                purpose=entry.purpose,
                ground=entry.ground,
                reference=entry.reference,
                at=entry.occurred_at,
                data_categories=entry.data_categories,
                cross_border=entry.cross_border,
            )
            if not decision.allowed:
                yield Finding("disclosure-without-ground", position, subject, decision.reason)
            elif entry.ground == DisclosureGround.STATE_REQUEST and rules.open_blocks(known, entry.occurred_at):
                yield Finding(
                    "state-request-while-blocked",
                    position,
                    subject,
                    f"disclosed to {entry.recipient} on request {entry.reference} while blocked (Art. 9)",
                    "notice",
                )
        elif isinstance(entry, Acceptance):
            terms = _versions_known(versions, entry.recorded_at).get((entry.policy_id, entry.policy_version))
            if terms is None:
                yield Finding(
                    "consent-to-unknown-version",
                    position,
                    subject,
                    f"{entry.policy_id} version {entry.policy_version} was not published when recorded",
                )
            elif terms.text_sha256.get(entry.language) != entry.text_sha256:
                yield Finding(
                    "consent-to-other-text",
                    position,
                    subject,
                    f"the text hash shown is not the {entry.language} text of version {entry.policy_version}",
                )
        elif isinstance(entry, Destruction) and rules.open_blocks(known, entry.occurred_at):
            yield Finding("destruction-while-blocked", position, subject, "data destroyed while blocked (Art. 1(3))")


def check_history(
    questions: LedgerQuestions, now: datetime, progress: Callable[[int], None] | None = None
) -> Iterator[Finding]:
    """Every finding over the whole history: per-subject rules, then deadlines and breach notices."""
    view = questions.view
    versions = view.policy_versions(view.names_of_kind("policy"))
    for count, (subject, entries) in enumerate(view.subject_records(), start=1):
        for finding in check_subject(subject, entries, versions):
            yield replace(finding, subject=view.name_of(UUID(subject)))
        if progress is not None:
            progress(count)
    for answer in questions.deadlines(now, {DeadlineStatus.MET_LATE, DeadlineStatus.OVERDUE}, limit=10**9):
        row = answer.row
        yield Finding(
            f"deadline-{answer.status.value.replace('_', '-')}",
            None,
            row.subject_id,
            f"{row.obligation} for {row.reference} was due {row.due_at.isoformat()}"
            + (f", met {row.met_at.isoformat()}" if row.met_at else ", not met"),
        )
    for breach in questions.breaches_not_all_told(now):
        yield Finding(
            "breach-subjects-not-told",
            None,
            None,
            f"breach {breach.breach_ref}: {len(breach.untold_subjects)} affected subject(s) not told (clause 5.4)",
        )
