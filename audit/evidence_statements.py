"""Every statement an evidence bundle makes, as a function of the proven records and the question asked.

The builder (`audit.evidence`) writes a bundle's readable part with these functions, and the
verifier (`audit.evidence_verify`) calls them again on the records it has proven itself and
compares, field by field: a bundle can say nothing these functions do not say of its own
events. Each is computed with the ledger's own code: `ledger.rules` for what stood at T (the
rules the write side decides with and the read side pre-judges with), `ledger.obligations` and
`ledger.deadlines` for deadlines on the Kazakh calendar, `ledger.sealing` to open a personal
value. No statement reads anything but the records and the question (`Question`).

A new statement is one more function in `STATEMENTS` (its key is the bundle's key), or one more
field of the dictionary an existing one answers; the verifier needs no change for either.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag

from audit.evidence_record import SUBJECT, BundleError, ProvenEvent, ProvenRecord
from ledger import rules
from ledger.deadlines import DEFAULT_RULES, DeadlineStatus, KazakhCalendar
from ledger.errors import InvalidFact
from ledger.obligations import folded, open_at
from ledger.sealing import open_sealed
from ledger.subject_facts import Acceptance, Block, BlockLift, Disclosure, Retraction, subject_key
from ledger.terms import PolicyId, Sealed

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from eventsourcing.domain import Aggregate

    from ledger.policy import PolicyVersion

SUMMARY = frozenset({"policy_id", "policy_version", "version", "block_id", "recipient", "ground", "method", "channel"})
"""The terms an event's one-line summary shows (never a personal one)."""

DESTROYED = "the subject's data were destroyed and their key deleted (Art. 1(6))"
NO_KEY = "the subject's key was not given with this bundle (it was made without the master key)"
"""Why a bundle shows no personal value: the only two reasons there can be."""


@dataclass(frozen=True)
class Question:
    """What a bundle answers, over which records: its parameters (T, as known when, the operator's zone, the key).

    The parameters are not facts and prove nothing by themselves; every statement is recomputed
    from them, so changing one changes what the statements must be.
    """

    record: ProvenRecord
    at: datetime
    as_known_at: datetime
    zone: str
    """The operator's IANA zone: a deadline's days are the operator's days."""
    key: bytes | None
    """The subject's key, given only with a bundle that shows their personal values."""

    @cached_property
    def known(self) -> list[rules.Entry]:
        """The subject's entries as the ledger knew them at `as_known_at`, less those struck out by then."""
        return rules.known_entries(self.record.entries, self.as_known_at)

    @cached_property
    def struck(self) -> frozenset[int]:
        """The numbers of the subject's entries struck out, as known at `as_known_at`."""
        return frozenset(e.retracted_number for e in self.known if isinstance(e, Retraction))

    @cached_property
    def calendar(self) -> KazakhCalendar:
        """The Kazakh working days, seen from the operator's zone."""
        try:
            return KazakhCalendar(self.zone)
        except InvalidFact as e:
            raise BundleError("zone", str(e)) from None


def _moment(value: datetime) -> str:
    return value.isoformat()


def _occurred(event: Any) -> datetime:
    moment: datetime = getattr(event, "occurred_at", None) or event.timestamp
    return moment


def event_statement(q: Question, proven: ProvenEvent) -> dict[str, object]:
    """What the bundle shows beside one proven event: where it sits, its kind, both times, and its summary."""
    event = proven.event
    occurred, recorded = _occurred(event), event.timestamp
    return {
        "position": proven.logged.position,
        "aggregate": proven.record,
        "version": event.originator_version,
        "kind": type(event).__name__,
        "occurred_at": _moment(occurred),
        "recorded_at": _moment(recorded),
        "occurred_after_t": occurred > q.at,
        "recorded_after_t": recorded > q.at,
        "struck_out": proven.record == SUBJECT and event.originator_version in q.struck,
        "summary": {name: str(value) for name, value in sorted(vars(event).items()) if name in SUMMARY},
    }


def records(q: Question) -> list[dict[str, object]]:
    """How far each record is carried: whole from its first event to its `events`-th, recorded at `last_recorded_at`."""
    carried: list[tuple[str, str, Aggregate]] = [("subject", q.record.subject_id, q.record.subject)]
    carried += [("policy", p, policy) for p, policy in sorted(q.record.policies.items())]
    return [
        {"kind": kind, "name": name, "events": aggregate.version, "last_recorded_at": _moment(aggregate.modified_on)}
        for kind, name, aggregate in carried
    ]


def answer(q: Question) -> dict[str, object]:
    """Which version the subject had accepted at T for each policy they accepted, and why (clauses 2.1, 9.2)."""
    policy_ids = sorted(
        {e.policy_id for e in q.record.entries if isinstance(e, Acceptance) and e.recorded_at <= q.as_known_at}
    )
    policies = [_accepted(q, PolicyId(p)) for p in policy_ids]
    sentences = [_sentence(q, p) for p in policies]
    if not sentences:
        sentences.append(f"At {_moment(q.at)}, subject {q.record.subject_id} had accepted no version of any policy.")
    sentences.append(f"This is the record as the ledger knew it at {_moment(q.as_known_at)}.")
    return {"policies": policies, "sentence": " ".join(sentences)}  # the sentence is compared after what it says


def _accepted(q: Question, policy_id: PolicyId) -> dict[str, object]:
    """One policy's answer: the standing acceptance (`rules.standing_consent`) and the version in effect."""
    published = q.record.policies[policy_id].versions
    versions = [v for v in published.values() if v.recorded_at <= q.as_known_at]
    in_effect = rules.version_in_effect(versions, q.at)
    standing = rules.standing_consent(q.known, policy_id, q.at)
    acceptance = standing.acceptance if standing else None
    terms = published.get(acceptance.policy_version) if acceptance else None
    known_terms = terms if terms is not None and terms.recorded_at <= q.as_known_at else None
    return {
        "policy_id": policy_id,
        "accepted_version": acceptance.policy_version if acceptance else None,
        "acceptance_number": acceptance.number if acceptance else None,
        "acceptance_position": q.record.position(acceptance) if acceptance else None,
        "accepted_occurred_at": _moment(acceptance.occurred_at) if acceptance else None,
        "accepted_recorded_at": _moment(acceptance.recorded_at) if acceptance else None,
        "accepted_recorded_after_t": acceptance.recorded_at > q.at if acceptance else None,
        "accepted_language": str(acceptance.language) if acceptance else None,
        "accepted_text_sha256": acceptance.text_sha256 if acceptance else None,
        "standing_purposes": sorted(standing.purposes) if standing else [],
        "in_effect_version": in_effect.version if in_effect else None,
        "in_effect_from": _moment(in_effect.takes_effect) if in_effect else None,
        "in_effect_text_sha256": _hashes(in_effect) if in_effect else None,
        "in_effect_position": q.record.position(in_effect) if in_effect else None,
        "behind": rules.behind(known_terms, in_effect),
    }


def _hashes(version: PolicyVersion) -> dict[str, str]:
    return {str(language): version.text_sha256[language] for language in sorted(version.text_sha256)}


def _sentence(q: Question, policy: dict[str, Any]) -> str:
    moment, subject, policy_id = _moment(q.at), q.record.subject_id, policy["policy_id"]
    if policy["accepted_version"] is None:
        return f"At {moment}, subject {subject} had no standing acceptance of policy {policy_id}."
    told = f"accepted on {policy['accepted_occurred_at']}"
    if policy["accepted_recorded_after_t"]:
        told += f", recorded later on {policy['accepted_recorded_at']}"
    version = policy["accepted_version"]
    text = f"At {moment}, subject {subject} had accepted version {version} of policy {policy_id} ({told})"
    in_effect = policy["in_effect_version"]
    if in_effect is None:
        return text + "; no version was in effect yet."
    if policy["behind"]:
        return text + f"; version {in_effect} was in effect, so the subject was behind."
    return text + f"; version {in_effect} was in effect."


def blocks(q: Question) -> list[dict[str, object]]:
    """Every block and lift up to `as_known_at`, and whether each block was in force at T (clause 6.2.4)."""
    in_force = {b.block_id for b in rules.open_blocks(q.known, q.at)}
    return [
        {
            "kind": type(b).__name__,
            "block_id": b.block_id,
            "number": b.number,
            "position": q.record.position(b),
            "occurred_at": _moment(b.occurred_at),
            "recorded_at": _moment(b.recorded_at),
            "recorded_after_t": b.recorded_at > q.at,
            "in_force_at_t": isinstance(b, Block) and b.block_id in in_force,
        }
        for b in q.known
        if isinstance(b, (Block, BlockLift)) and b.occurred_at <= q.as_known_at
    ]


def disclosures(q: Question) -> list[dict[str, object]]:
    """Every disclosure of the subject's data (less any struck out), in the order they happened (clauses 5.2, 7)."""
    found = sorted((e for e in q.known if isinstance(e, Disclosure)), key=lambda d: (d.occurred_at, d.number))
    return [
        {
            "number": d.number,
            "position": q.record.position(d),
            "recipient": d.recipient,
            "recipient_category": str(d.recipient_category),
            "purpose": d.purpose,
            "ground": str(d.ground),
            "legal_basis": d.legal_basis,
            "reference": d.reference,
            "data_categories": sorted(d.data_categories),
            "flagged_while_blocked": d.flagged_while_blocked,
            "occurred_at": _moment(d.occurred_at),
            "recorded_at": _moment(d.recorded_at),
            "recorded_after_t": d.recorded_at > q.at,
        }
        for d in found
    ]


def open_deadlines(q: Question) -> list[dict[str, object]]:
    """The obligations the subject's record started that stand open or overdue at `as_known_at`, by due date."""
    recorded = [e for e in q.record.entries if e.recorded_at <= q.as_known_at]
    running = open_at(folded(recorded, DEFAULT_RULES, q.calendar), q.as_known_at)
    return [
        {
            "obligation": d.obligation.value,
            "reference": d.reference,
            "status": d.status(q.as_known_at).value,
            "triggered_at": _moment(d.triggered_at),
            "due_at": _moment(d.due_at),
        }
        for d in running
        if d.status(q.as_known_at) in {DeadlineStatus.OPEN, DeadlineStatus.OVERDUE}
    ]


def personal_values(q: Question) -> dict[str, object]:
    """The subject's sealed values, each opened with the key the bundle gives; none once destroyed or without it.

    With the key, every value shown is the one sealed in a proven event, for that subject and that
    field (AES-GCM authenticates both): the verifier opens each itself.
    """
    sealed = [(e, _sealed(e.event)) for e in q.record.events if e.record == SUBJECT]
    sealed = [(e, fields) for e, fields in sealed if fields]
    if rules.destruction(q.record.entries) is not None:
        return {"key": None, "values": None, "why_absent": DESTROYED}
    if not sealed:
        return {"key": None, "values": [], "why_absent": None}
    if q.key is None:
        return {"key": None, "values": None, "why_absent": NO_KEY}
    values = [
        {
            "version": e.logged.version,
            "kind": type(e.event).__name__,
            "fields": {name: _opened(q, e, name, value) for name, value in fields.items()},
        }
        for e, fields in sealed
    ]
    return {"key": base64.b64encode(q.key).decode(), "values": values, "why_absent": None}


def _sealed(event: Any) -> dict[str, Sealed]:
    return {name: value for name, value in sorted(vars(event).items()) if isinstance(value, Sealed)}


def _opened(q: Question, proven: ProvenEvent, name: str, value: Sealed) -> str:
    assert q.key is not None  # noqa: S101  (asked only with a key)
    try:
        return open_sealed(q.key, subject_key(q.record.subject_id), name, value)
    except (InvalidTag, ValueError):
        msg = (
            f"it does not open the sealed {name} of {proven.field} (entry {proven.logged.version}): "
            "it is not this subject's key, or that value was not sealed for this subject and field"
        )
        raise BundleError("personal_values.key", msg) from None


def consent_states(q: Question) -> list[dict[str, object]]:
    """Where the subject's consent to each policy stood at T, as known then: its DPV state and the entry behind it."""
    versions = [v for p in q.record.policies.values() for v in p.versions.values() if v.recorded_at <= q.as_known_at]
    found = (rules.consent_state(q.known, versions, p, q.at) for p in rules.consent_policies(q.known))
    return [
        {
            "policy_id": s.policy_id,
            "state": s.state.value,
            "dpv": s.state.dpv,
            "since": _moment(s.since),
            "entry": s.entry.number,
        }
        for s in found
        if s is not None
    ]


STATEMENTS: dict[str, Callable[[Question], object]] = {
    "records": records,
    "answer": answer,
    "blocks": blocks,
    "disclosures": disclosures,
    "open_deadlines": open_deadlines,
    "personal_values": personal_values,
    "consent_states": consent_states,
}
"""Each statement of a bundle by its key, in the order the verifier compares them (events first, separately)."""
