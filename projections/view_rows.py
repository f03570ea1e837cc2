"""The rows one projected fact writes: each a statement for `LedgerView.record` to run in its batch.

A statement is `(SQL with ? placeholders, parameters)`; the view sends INSERTs of one statement
together and keeps UPDATEs and DELETEs in order. Times are written as `codec.utc_text`, entries
and policy versions in their events' own encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from projections import verdicts
from projections.codec import dump, encoded, utc_text

if TYPE_CHECKING:
    from uuid import UUID

    from ledger.policy import PolicyVersion
    from ledger.subject_facts import Disclosure, SubjectFact

Statement = tuple[str, Sequence[object]]
"""One write the view makes: SQL with `?` placeholders, and its parameters."""

JUDGED_TABLES = ("standing_consents", "disclosure_grants")
"""The pre-judged answers (projections/verdicts.py), rewritten per subject when a judged fact arrives."""


@dataclass(frozen=True)
class DeadlineRow:
    """One obligation an event started, as the view keeps it."""

    deadline_id: str
    obligation: str
    subject_id: str | None
    reference: str
    triggered_at: datetime
    due_at: datetime
    recorded_at: datetime
    met_at: datetime | None
    met_by: str | None


@dataclass(frozen=True)
class DisclosureRow:
    """One disclosure of a subject's data, as the view keeps it."""

    number: int
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


class ViewRows:
    """The statements each kind of row is written by; a view supplies the names of its tables."""

    def table(self, name: str) -> str:
        """The name of one of this generation's tables (see `LedgerView.table`)."""
        raise NotImplementedError

    def put_policy_version(self, terms: PolicyVersion) -> Statement:
        """Keep a published version's terms."""
        return (
            f"INSERT INTO {self.table('policy_versions')} VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (terms.policy_id, terms.version, utc_text(terms.takes_effect), utc_text(terms.recorded_at), encoded(terms)),
        )

    def put_entry(self, subject: UUID, entry: SubjectFact, position: int) -> Statement:
        """Keep one entry of a subject's record, with its position in the log (for audit reports)."""
        return (
            f"INSERT INTO {self.table('subject_entries')} VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                subject.hex,
                entry.number,
                type(entry).__name__,
                utc_text(entry.occurred_at),
                utc_text(entry.recorded_at),
                encoded(entry),
                position,
            ),
        )

    def put_disclosure(self, subject: UUID, entry: Disclosure) -> Statement:
        """Keep one disclosure for range queries."""
        return (
            f"INSERT INTO {self.table('disclosures')} VALUES ({', '.join('?' * 12)}) ON CONFLICT DO NOTHING",
            (
                subject.hex,
                entry.number,
                utc_text(entry.occurred_at),
                utc_text(entry.recorded_at),
                entry.recipient,
                str(entry.recipient_category),
                entry.purpose,
                str(entry.ground),
                entry.reference,
                entry.legal_basis,
                int(entry.flagged_while_blocked),
                dump(sorted(entry.data_categories)),
            ),
        )

    def put_deadline(self, row: DeadlineRow) -> Statement:
        """Keep an obligation an event started."""
        return (
            (
                f"INSERT INTO {self.table('deadlines')} VALUES ({', '.join('?' * 7)}, NULL, NULL, NULL) "
                "ON CONFLICT DO NOTHING"
            ),
            (
                row.deadline_id,
                row.obligation,
                row.subject_id,
                row.reference,
                utc_text(row.triggered_at),
                utc_text(row.due_at),
                utc_text(row.recorded_at),
            ),
        )

    def meet_deadline(self, deadline_id: str, met_at: datetime, met_by: str, recorded_at: datetime) -> Statement:
        """Mark an obligation met by a later fact (the first such fact counts)."""
        return (
            (
                f"UPDATE {self.table('deadlines')} SET met_at = ?, met_by = ?, met_recorded_at = ? "
                "WHERE deadline_id = ? AND met_at IS NULL"
            ),
            (utc_text(met_at), met_by, utc_text(recorded_at), deadline_id),
        )

    def drop_deadline(self, deadline_id: str) -> Statement:
        """Forget an obligation whose triggering fact was struck out: it never arose."""
        return (f"DELETE FROM {self.table('deadlines')} WHERE deadline_id = ?", (deadline_id,))

    def put_name(self, aggregate_id: object, kind: str, name: str) -> Statement:
        """Remember the operator's name (subject id, policy id, reference) of an aggregate."""
        return (
            f"INSERT INTO {self.table('names')} VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (str(aggregate_id), kind, name),
        )

    def put_breach_subject(self, breach: UUID, breach_ref: str, subject_id: str, found_at: datetime) -> Statement:
        """Keep one affected subject of a breach, not yet told."""
        return (
            f"INSERT INTO {self.table('breach_subjects')} VALUES (?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING",
            (breach.hex, breach_ref, subject_id, utc_text(found_at)),
        )

    def tell_breach_subject(self, breach: UUID, subject_id: str, told_at: datetime) -> Statement:
        """Mark an affected subject told (the first notice counts)."""
        return (
            (
                f"UPDATE {self.table('breach_subjects')} SET told_at = ? "
                "WHERE breach_id = ? AND subject_id = ? AND told_at IS NULL"
            ),
            (utc_text(told_at), breach.hex, subject_id),
        )

    def put_judgements(
        self,
        subject_hex: str,
        rows: Sequence[verdicts.Standing | verdicts.Grant],
        since: datetime | None,
        *,
        known_later: bool = True,
    ) -> list[Statement]:
        """Replace a subject's pre-judged rows known from `since` on (all if None) with `rows`.

        Rows known before `since` stay, closed at `since`: that is what the ledger knew then.
        Unless `known_later` says some row may start at or after `since`, there is none to delete.
        """
        writes: list[Statement] = []
        for name in JUDGED_TABLES:
            table = self.table(name)
            if since is None:
                writes.append((f"DELETE FROM {table} WHERE subject_id = ?", (subject_hex,)))
            else:
                cut = utc_text(since)
                if known_later:
                    writes.append(
                        (f"DELETE FROM {table} WHERE subject_id = ? AND recorded_from >= ?", (subject_hex, cut))
                    )
                writes.append(
                    (
                        f"UPDATE {table} SET recorded_to = ? WHERE subject_id = ? AND recorded_to > ?",
                        (cut, subject_hex, cut),
                    )
                )
        writes.extend(self.insert_judgements(subject_hex, rows))
        return writes

    def insert_judgements(
        self, subject_hex: str, rows: Sequence[verdicts.Standing | verdicts.Grant]
    ) -> list[Statement]:
        """INSERTs of pre-judged rows (for a subject with none yet, nothing needs replacing)."""
        standing = f"INSERT INTO {self.table('standing_consents')} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        grant = f"INSERT INTO {self.table('disclosure_grants')} VALUES (?, ?, ?, ?, ?, ?, ?)"
        writes: list[Statement] = []
        texts: dict[datetime, str] = {}  # the rows of one subject share a handful of moments

        def text(moment: datetime) -> str:
            found = texts.get(moment)
            if found is None:
                found = texts[moment] = utc_text(moment)
            return found

        for r in rows:
            times = (text(r.occurred_from), text(r.occurred_to), text(r.recorded_from), text(r.recorded_to))
            if isinstance(r, verdicts.Standing):
                purposes = dump(sorted(r.purposes))
                writes.append(
                    (standing, (subject_hex, r.policy_id, *times, r.acceptance.number, purposes, encoded(r.acceptance)))
                )
            else:
                purposes = dump({p: [ground, basis] for p, ground, basis in r.purposes})
                writes.append((grant, (subject_hex, r.key, *times, purposes)))
        return writes


def deadline_row(r: Any) -> DeadlineRow:
    """A deadline row as the view reads it back."""

    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return DeadlineRow(
        deadline_id=r["deadline_id"],
        obligation=r["obligation"],
        subject_id=r["subject_id"],
        reference=r["reference"],
        triggered_at=datetime.fromisoformat(r["triggered_at"]),
        due_at=datetime.fromisoformat(r["due_at"]),
        recorded_at=datetime.fromisoformat(r["recorded_at"]),
        met_at=when(r["met_at"]),
        met_by=r["met_by"],
    )
