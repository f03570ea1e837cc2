"""What the desk shows for one look-up, read from the read side's questions and written out for people.

Nothing here decides an answer: which version the subject had accepted, whether they were
blocked, what was disclosed and which deadlines ran all come from `projections.questions`
(the same calls the `/v1` questions make); this module only puts them in the page's language,
with every time in the operator's zone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audit.evidence_words import OBLIGATIONS, STATUSES, Lang, accepted_sentence, kind_text, moment_text, word
from ledger.subject_facts import Acceptance, Retraction
from ledger.terms import PolicyId, Sealed, SubjectId

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from ledger.rules import Entry
    from projections.questions import LedgerQuestions

_NOT_TERMS = {"originator_id", "originator_version", "timestamp", "recorded_by", "occurred_at", "subject_id"}
"""What every entry carries beside its own terms (its stamp, and whose record it is on)."""


@dataclass(frozen=True)
class Moment:
    """A time as the page shows it: in words, and its exact value for `<time datetime>`."""

    text: str
    exact: str
    local: str
    """`YYYY-MM-DDTHH:MM:SS` in the operator's zone, as a date-time field takes it."""


class Writer:
    """Times and words in one language and zone."""

    def __init__(self, lang: Lang, zone: tzinfo) -> None:
        self.lang, self.zone = lang, zone

    def moment(self, value: datetime) -> Moment:
        """`value` for the page."""
        local = value.astimezone(self.zone)
        return Moment(moment_text(value, self.zone, self.lang), value.isoformat(), f"{local:%Y-%m-%dT%H:%M:%S}")


def answer(
    questions: LedgerQuestions,
    subject_id: SubjectId,
    at: datetime,
    as_known_at: datetime | None,
    write: Writer,
) -> dict[str, object]:
    """Everything the answer part of the page shows, as values a template prints."""
    ever = questions.record_as_known(subject_id)
    entries = [e for e in ever if as_known_at is None or e.recorded_at <= as_known_at]
    policies = sorted({e.policy_id for e in ever if isinstance(e, Acceptance)})
    return {
        "sentences": [_sentence(questions, subject_id, PolicyId(p), at, as_known_at, write) for p in policies],
        "versions": [_versions(questions, PolicyId(p), at, as_known_at, write) for p in policies],
        "timeline": _timeline(entries, at, write),
        "blocked": questions.block_status(subject_id, at, as_known_at).blocked,
        "disclosures": [
            {
                "number": d.number,
                "occurred": write.moment(d.occurred_at),
                "recorded": write.moment(d.recorded_at),
                "recipient": f"{d.recipient} ({d.recipient_category})",
                "purpose": d.purpose,
                "ground": f"{d.ground}: {d.reference}",
            }
            for d in questions.disclosures(subject_id, None, None, as_known_at)
        ],
        "deadlines": [
            {
                "obligation": word(OBLIGATIONS, d.row.obligation, write.lang),
                "reference": d.row.reference,
                "triggered": write.moment(d.row.triggered_at),
                "due": write.moment(d.row.due_at),
                "standing": word(STATUSES, d.status, write.lang),
            }
            for d in questions.deadlines(at, subject_id=subject_id)
        ],
        "moments": [write.moment(m) for m in sorted({e.recorded_at for e in ever})],
    }


def _sentence(  # noqa: PLR0917  (the question's own terms)
    questions: LedgerQuestions,
    subject_id: SubjectId,
    policy_id: PolicyId,
    at: datetime,
    as_known_at: datetime | None,
    write: Writer,
) -> str:
    found = questions.accepted_version_at(subject_id, policy_id, at, as_known_at)
    accepted = None
    if found.accepted is not None:
        acceptance = found.accepted.acceptance
        later = write.moment(acceptance.recorded_at).text if acceptance.recorded_at > at else None
        accepted = (acceptance.policy_version, write.moment(acceptance.occurred_at).text, later)
    in_effect = found.in_effect.version if found.in_effect else None
    moment = write.moment(at).text
    return accepted_sentence(write.lang, subject_id, moment, policy_id, accepted, in_effect, found.behind)


def _versions(
    questions: LedgerQuestions, policy_id: PolicyId, at: datetime, as_known_at: datetime | None, write: Writer
) -> dict[str, object]:
    current = questions.version_in_effect(policy_id, at, as_known_at)
    return {
        "policy_id": policy_id,
        "rows": [
            {
                "version": v.version,
                "effective": write.moment(v.takes_effect),
                "recorded": write.moment(v.recorded_at),
                "in_effect": current is not None and v.version == current.version,
            }
            for v in questions.version_history(policy_id, as_known_at)
        ],
    }


def _timeline(entries: list[Entry], at: datetime, write: Writer) -> list[dict[str, object]]:
    struck = {e.retracted_number for e in entries if isinstance(e, Retraction)}
    return [
        {
            "number": e.number,
            "kind": kind_text(type(e).__name__, write.lang),
            "occurred": write.moment(e.occurred_at),
            "recorded": write.moment(e.recorded_at),
            "details": _details(e, write),
            "late": e.recorded_at > at >= e.occurred_at,
            "after": e.occurred_at > at,
            "struck": e.number in struck,
        }
        for e in entries
    ]


def _details(entry: Entry, write: Writer) -> str:
    """The entry's own terms as recorded, `name: value`, times in the operator's zone."""
    shown = []
    for field in dataclasses.fields(entry):
        value = getattr(entry, field.name, None)  # (a term added since an older entry was recorded)
        if field.name in _NOT_TERMS or value is None or value == frozenset() or isinstance(value, Sealed):
            continue
        if isinstance(value, frozenset):
            value = ", ".join(sorted(str(v) for v in value))
        elif hasattr(value, "astimezone"):
            value = write.moment(value).text
        shown.append(f"{field.name}: {value}")
    return "; ".join(shown)
