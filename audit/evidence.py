"""An evidence bundle for a dispute: what one subject had accepted at one moment, why, and the proof of it.

A court asks "which version of the policy had S accepted at T?" (clauses 2.1, 9.2; Art. 8(4)
and 24 of the Law on personal data put the burden of proving consent on the operator). The
bundle answers from the read side, as known now, and carries every stored event the answer
rests on, exactly as the log's leaves hash them, each with its RFC 9162 inclusion proof against
one signed checkpoint, so `audit.evidence_verify` checks it offline with the public key alone.

It includes the subject's events that happened by T, those recorded after T about times
before it (marked `recorded_after_t`: a paper consent entered later, for instance), every
block, lift and disclosure up to now (clauses 6.2.4, 7), the subject's open deadlines, and the
publication of each version the answer names, with its text hashes (clause 9.1). Personal
fields stay sealed in the stored bytes; their opened values, while the subject's key exists
(Art. 1(6): destruction deletes it), sit apart under `not_part_of_proof`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from audit.evidence_verify import EVIDENCE_FORMAT, BundleVerdict, verify_bundle
from audit.formats import encoded_hashes, event_record
from audit.log import CheckpointRefused
from ledger.deadlines import DeadlineStatus
from ledger.errors import InvalidFact
from ledger.history import Block
from ledger.policy import Policy, policy_key
from ledger.storage import Storage
from ledger.subject import Subject, subject_key
from ledger.terms import PolicyId, Sealed

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from audit.log import AuditLog, IssuedCheckpoint
    from ledger.application import ConsentLedger
    from ledger.terms import SubjectId
    from projections.questions import AcceptedVersion, LedgerQuestions

__all__ = ["EVIDENCE_FORMAT", "BundleVerdict", "build_bundle", "bundle_bytes", "verify_bundle"]

NOT_PART_OF_PROOF = (
    "Opened personal values, given for the court's convenience. They are NOT part of the proof: the proven "
    "events above carry these fields sealed (AES-GCM under the subject's key), and only the sealed bytes are hashed."
)
"""The label the opened personal values carry, so no reader takes them for proven."""

ALWAYS_SHOWN = frozenset({"Opened", "DataBlocked", "BlockLifted", "DataDisclosed", "EntryRetracted"})
"""Shown whenever they happened: retractions among them, since the answer (as known now) depends on them."""
"""Events shown whenever they happened, not only by T: blocks, lifts and disclosures around the moment, and the
opening of the record, which ties the subject's pseudonym to the aggregate id every other event names."""


@dataclass(frozen=True)
class _Included:
    """One stored event the bundle proves, with where it sits and why it is there."""

    position: int
    aggregate: str
    event: Any


def build_bundle(
    ledger: ConsentLedger,
    questions: LedgerQuestions,
    log: AuditLog,
    subject_id: SubjectId,
    *,
    at: datetime,
    now: datetime,
) -> dict[str, object]:
    """The bundle for `subject_id` at business time `at`, as known at `now` (a checkpoint is signed if needed)."""
    if at.tzinfo is None or now.tzinfo is None:
        msg = "give the moment with its offset (e.g. 2026-03-02T09:00:00+05:00): a naive time is ambiguous"
        raise InvalidFact(msg)
    key = log.signing_key
    if key is None:
        msg = "the evidence bundle needs the ledger's signing key, to name its public key and sign a checkpoint"
        raise CheckpointRefused(msg)
    ledger.subject(subject_id)  # NotFound if never recorded
    subject_events = list(ledger.events.get(subject_key(subject_id)))
    included = [
        _Included(_position(ledger, e), "subject", e)
        for e in subject_events
        if _occurred(e) <= at or type(e).__name__ in ALWAYS_SHOWN
    ]
    policy_ids = sorted({e.policy_id for e in subject_events if isinstance(e, Subject.ConsentGranted)})
    answers = [questions.accepted_version_at(subject_id, PolicyId(p), at) for p in policy_ids]
    included += _publications(ledger, answers)
    included.sort(key=lambda i: i.position)
    by_number = {i.event.originator_version: i.position for i in included if i.aggregate == "subject"}
    issued = _covering_checkpoint(log, max(i.position for i in included), now)
    blocks = questions.block_status(subject_id, now)
    in_force = {b.block_id for b in questions.block_status(subject_id, at).in_force}
    deadlines = questions.deadlines(now, {DeadlineStatus.OPEN, DeadlineStatus.OVERDUE}, subject_id=subject_id)
    return {
        "format": EVIDENCE_FORMAT,
        "subject_id": subject_id,
        "at": at.isoformat(),
        "as_known_at": now.isoformat(),
        "answer": _answer(subject_id, at, answers, included),
        "events": [_event(log, i, at, issued) for i in included],
        "blocks": [
            {
                "kind": type(b).__name__,
                "block_id": b.block_id,
                "number": b.number,
                "position": by_number[b.number],
                "occurred_at": b.occurred_at.isoformat(),
                "recorded_at": b.recorded_at.isoformat(),
                "recorded_after_t": b.recorded_at > at,
                "in_force_at_t": isinstance(b, Block) and b.block_id in in_force,
            }
            for b in blocks.history
            if b.number in by_number  # the view may already hold a fact newer than the events read above
        ],
        "disclosures": [
            {
                "number": d.number,
                "position": by_number[d.number],
                "recipient": d.recipient,
                "recipient_category": d.recipient_category,
                "purpose": d.purpose,
                "ground": d.ground,
                "legal_basis": d.legal_basis,
                "reference": d.reference,
                "data_categories": d.data_categories,
                "flagged_while_blocked": d.flagged_while_blocked,
                "occurred_at": d.occurred_at.isoformat(),
                "recorded_at": d.recorded_at.isoformat(),
                "recorded_after_t": d.recorded_at > at,
            }
            for d in questions.disclosures(subject_id)
            if d.number in by_number
        ],
        "open_deadlines": [
            {
                "obligation": d.row.obligation,
                "reference": d.row.reference,
                "status": str(d.status),
                "triggered_at": d.row.triggered_at.isoformat(),
                "due_at": d.row.due_at.isoformat(),
            }
            for d in deadlines
            if d.row.subject_id == subject_id
        ],
        "checkpoint": {
            "number": issued.number,
            "tree_size": issued.size,
            "root": issued.checkpoint.root.hex(),
            "issued_at": issued.checkpoint.issued_at.isoformat(),
            "note": issued.note,
        },
        "public_key": str(key.verifier),
        "not_part_of_proof": _personal_values(ledger, subject_id, subject_events),
    }


def bundle_bytes(bundle: dict[str, object]) -> bytes:
    """The bundle as JSON with its keys sorted, so the same bundle is always the same bytes."""
    return orjson.dumps(bundle, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def _occurred(event: Any) -> datetime:
    moment: datetime = getattr(event, "occurred_at", None) or event.timestamp
    return moment


def _position(ledger: ConsentLedger, event: Any) -> int:
    position = Storage.of(ledger.recorder).position_of(event.originator_id, event.originator_version)
    if position is None:  # pragma: no cover  (every event read from the store has its position)
        msg = f"event {event.originator_id} v{event.originator_version} has no position in the log"
        raise LookupError(msg)
    return position


def _publications(ledger: ConsentLedger, answers: list[AcceptedVersion]) -> list[_Included]:
    """The stored publication of each version the answer names: accepted, and in effect (clauses 9.1, 9.2)."""
    found = []
    for answer in answers:
        named = {answer.in_effect.version} if answer.in_effect else set()
        if answer.accepted is not None:
            named.add(answer.accepted.acceptance.policy_version)
        found += [
            _Included(_position(ledger, e), "policy", e)
            for e in ledger.events.get(policy_key(PolicyId(answer.policy_id)))
            if isinstance(e, Policy.VersionPublished) and e.version in named
        ]
    return found


def _covering_checkpoint(log: AuditLog, newest: int, now: datetime) -> IssuedCheckpoint:
    """The newest checkpoint if it covers position `newest`; otherwise a new one, signed now."""
    latest = log.latest_checkpoint()
    leaf = log.tree.leaf_of(newest)
    if latest is not None and leaf is not None and leaf < latest.size:
        return latest
    return log.issue_checkpoint(now)


def _event(log: AuditLog, included: _Included, at: datetime, issued: IssuedCheckpoint) -> dict[str, object]:
    stored = log.tree.event_at(included.position)
    leaf = log.tree.leaf_of(included.position)
    assert stored is not None  # noqa: S101  (the checkpoint covers every included event)
    assert leaf is not None  # noqa: S101  (same)
    event = included.event
    recorded: datetime = event.timestamp
    fields = {
        name: str(value)
        for name, value in vars(event).items()
        if name in {"policy_id", "policy_version", "version", "block_id", "recipient", "ground", "method", "channel"}
    }
    return {
        "position": included.position,
        "aggregate": included.aggregate,
        "version": event.originator_version,
        "kind": type(event).__name__,
        "occurred_at": _occurred(event).isoformat(),
        "recorded_at": recorded.isoformat(),
        "occurred_after_t": _occurred(event) > at,
        "recorded_after_t": recorded > at,
        "summary": fields,
        "stored": event_record(stored),
        "leaf_index": leaf,
        "inclusion": encoded_hashes(log.tree.inclusion_proof(leaf, issued.size)),
    }


def _answer(
    subject_id: SubjectId, at: datetime, answers: list[AcceptedVersion], included: list[_Included]
) -> dict[str, object]:
    """Which version the subject had accepted at `at` for each policy they ever accepted, and why."""
    numbered = {i.event.originator_version: i.position for i in included if i.aggregate == "subject"}
    published = {(i.event.originator_id, i.event.version): i.position for i in included if i.aggregate == "policy"}
    policies = []
    sentences = []
    for a in answers:
        acceptance = a.accepted.acceptance if a.accepted else None
        in_effect = a.in_effect
        key = policy_key(PolicyId(a.policy_id))
        policies.append(
            {
                "policy_id": a.policy_id,
                "accepted_version": acceptance.policy_version if acceptance else None,
                "acceptance_number": acceptance.number if acceptance else None,
                "acceptance_position": numbered[acceptance.number] if acceptance else None,
                "accepted_occurred_at": acceptance.occurred_at.isoformat() if acceptance else None,
                "accepted_recorded_at": acceptance.recorded_at.isoformat() if acceptance else None,
                "accepted_recorded_after_t": acceptance.recorded_at > at if acceptance else None,
                "accepted_language": str(acceptance.language) if acceptance else None,
                "accepted_text_sha256": acceptance.text_sha256 if acceptance else None,
                "standing_purposes": sorted(a.accepted.purposes) if a.accepted else [],
                "in_effect_version": in_effect.version if in_effect else None,
                "in_effect_from": in_effect.effective_from.isoformat() if in_effect else None,
                "in_effect_text_sha256": {str(k): in_effect.text_sha256[k] for k in sorted(in_effect.text_sha256)}
                if in_effect
                else None,
                "in_effect_position": published[key, in_effect.version] if in_effect else None,
                "behind": a.behind,
            }
        )
        sentences.append(_sentence(subject_id, at, a))
    if not sentences:
        sentences.append(f"At {at.isoformat()}, subject {subject_id} had accepted no version of any policy.")
    return {"sentence": " ".join(sentences), "policies": policies}


def _sentence(subject_id: SubjectId, at: datetime, a: AcceptedVersion) -> str:
    moment = at.isoformat()
    if a.accepted is None:
        return f"At {moment}, subject {subject_id} had no standing acceptance of policy {a.policy_id}."
    acceptance = a.accepted.acceptance
    told = f"accepted on {acceptance.occurred_at.isoformat()}"
    if acceptance.recorded_at > at:
        told += f", recorded later on {acceptance.recorded_at.isoformat()}"
    version = acceptance.policy_version
    text = f"At {moment}, subject {subject_id} had accepted version {version} of policy {a.policy_id} ({told})"
    if a.in_effect is None:
        return text + "; no version was in effect yet."
    if a.behind:
        return text + f"; version {a.in_effect.version} was in effect, so the subject was behind."
    return text + f"; version {a.in_effect.version} was in effect."


def _personal_values(ledger: ConsentLedger, subject_id: SubjectId, events: list[Any]) -> dict[str, object]:
    """The sealed fields opened, apart from the proof; none once the subject's data were destroyed."""
    if ledger.is_destroyed(subject_id):
        return {
            "label": NOT_PART_OF_PROOF,
            "personal_values": None,
            "why_absent": "the subject's data were destroyed and their key deleted (Art. 1(6))",
        }
    try:
        sealer = ledger.sealer
    except RuntimeError:
        return {
            "label": NOT_PART_OF_PROOF,
            "personal_values": None,
            "why_absent": "the bundle was made without the master key, so nothing personal could be opened",
        }
    key: UUID = subject_key(subject_id)
    opened = [
        {
            "version": e.originator_version,
            "kind": type(e).__name__,
            "fields": {n: sealer.open(key, n, v) for n, v in sorted(vars(e).items()) if isinstance(v, Sealed)},
        }
        for e in events
    ]
    return {"label": NOT_PART_OF_PROOF, "personal_values": [o for o in opened if o["fields"]], "why_absent": None}
