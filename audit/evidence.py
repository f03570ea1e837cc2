"""An evidence bundle for a dispute: what one subject had accepted at one moment, why, and the proof of it.

A court asks "which version of the policy had S accepted at T?" (clauses 2.1, 9.2; Art. 8(4)
and 24 of the Law on personal data put the burden of proving consent on the operator). The
bundle carries the subject's whole record and the whole record of every policy it accepted,
each stored event exactly as the log's leaves hash it, with its RFC 9162 inclusion proof (and
C2SP tlog-proof) against one signed checkpoint. Everything else it says is computed from those
very bytes, decoded and replayed as the verifier will (`audit.evidence_record`), by the
functions the verifier calls again (`audit.evidence_statements`): the answer and its sentence,
the blocks in force at T, the disclosures, the open deadlines, each event's summary and times,
and the personal values, opened with the subject's key, which the bundle then carries so that
a court opens them itself (none once the key is destroyed, Art. 1(6), or without the master
key). So `audit.evidence_verify` accepts a bundle only if every statement follows from what the
log proves, with the public key alone.

What a bundle proves, and what it cannot (a record's end), is set out in `audit.evidence_record`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from audit.alarms import LogDamaged
from audit.evidence_record import ProvenRecord, proven_record
from audit.evidence_statements import STATEMENTS, Question, event_statement
from audit.evidence_verify import EVIDENCE_FORMAT, BundleVerdict, verify_bundle
from audit.formats import encoded_hashes, event_record, tlog_proof
from audit.integrity import UNREADABLE, require_sound, unreadable
from audit.log import CheckpointRefused, NotWitnessed
from audit.merkle import verify_inclusion
from ledger.errors import InvalidFact
from ledger.policy import policy_key
from ledger.storage import Storage
from ledger.subject_facts import Acceptance, subject_key
from ledger.terms import PolicyId
from projections.projection import LedgerProjection

if TYPE_CHECKING:
    from datetime import datetime

    from audit.leaves import LoggedEvent
    from audit.log import AuditLog, IssuedCheckpoint
    from ledger.application import ConsentLedger
    from ledger.terms import SubjectId

__all__ = ["EVIDENCE_FORMAT", "BundleVerdict", "build_bundle", "bundle_bytes", "verify_bundle"]


def build_bundle(
    ledger: ConsentLedger,
    log: AuditLog,
    subject_id: SubjectId,
    *,
    at: datetime,
    now: datetime,
    quorum: int = 0,
) -> dict[str, object]:
    """The bundle for `subject_id` at business time `at`, as known at `now` (a checkpoint is signed if needed).

    Nothing is built on a log with a raised alarm, nor on stored rows of the subject that no longer
    match their leaves: that is refused (LogDamaged, LogHalted) naming the positions, before any
    row is decoded. With a `quorum`, the checkpoint must carry that many witness cosignatures.
    """
    if at.tzinfo is None or now.tzinfo is None:
        msg = "give the moment with its offset (e.g. 2026-03-02T09:00:00+05:00): a naive time is ambiguous"
        raise InvalidFact(msg)
    if log.signing_key is None:
        msg = "the evidence bundle needs the ledger's signing key, to name its public key and sign a checkpoint"
        raise CheckpointRefused(msg)
    require_sound(log, subject_key(subject_id))
    try:
        return _bundle(ledger, log, subject_id, at=at, now=now, quorum=quorum)
    except UNREADABLE as e:
        raise unreadable(log, subject_key(subject_id), e) from None


def _bundle(
    ledger: ConsentLedger,
    log: AuditLog,
    subject_id: SubjectId,
    *,
    at: datetime,
    now: datetime,
    quorum: int,
) -> dict[str, object]:
    key = log.signing_key
    assert key is not None  # noqa: S101  (checked by the caller)
    ledger.subject(subject_id)  # NotFound if never recorded
    positions = _record_positions(ledger, subject_id)
    issued = _covering_checkpoint(log, positions[-1], now, quorum)
    proofs = [_proof(log, p, issued) for p in positions]
    record = proven_record(subject_id, [logged for logged, _ in proofs])
    q = Question(record, at, now, _zone(), _subject_key(ledger, record))
    return {
        "format": EVIDENCE_FORMAT,
        "subject_id": subject_id,
        "at": at.isoformat(),
        "as_known_at": now.isoformat(),
        "zone": q.zone,
        "public_key": str(key.verifier),
        "checkpoint": {"tree_size": issued.size, "root": issued.checkpoint.root.hex(), "note": issued.published},
        "events": [{**event_statement(q, e), **proof} for e, (_, proof) in zip(record.events, proofs, strict=True)],
        **{name: statement(q) for name, statement in STATEMENTS.items()},
    }


def _record_positions(ledger: ConsentLedger, subject_id: SubjectId) -> list[int]:
    """The log positions of every event of the subject's record and of each policy it accepted, in log order."""
    subject_events = list(ledger.events.get(subject_key(subject_id)))
    policy_ids = sorted({e.policy_id for e in subject_events if isinstance(e, Acceptance)})
    events = subject_events + [e for p in policy_ids for e in ledger.events.get(policy_key(PolicyId(p)))]
    return sorted(_position(ledger, e) for e in events)


def _zone() -> str:
    """The operator's zone, as the read side counts deadlines in it (CONSENT_LEDGER_TIMEZONE)."""
    return str(LedgerProjection.calendar.zone)


def _subject_key(ledger: ConsentLedger, record: ProvenRecord) -> bytes | None:
    """The subject's key, for a court to open their values itself; none without the master key or once destroyed."""
    try:
        sealer = ledger.sealer
    except RuntimeError:
        return None
    return sealer.disclosed_key(record.subject.id)


def bundle_bytes(bundle: dict[str, object]) -> bytes:
    """The bundle as JSON with its keys sorted, so the same bundle is always the same bytes."""
    return orjson.dumps(bundle, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def _position(ledger: ConsentLedger, event: Any) -> int:
    position = Storage.of(ledger.recorder).position_of(event.originator_id, event.originator_version)
    if position is None:  # pragma: no cover  (every event read from the store has its position)
        msg = f"event {event.originator_id} v{event.originator_version} has no position in the log"
        raise LookupError(msg)
    return position


def _covering_checkpoint(log: AuditLog, newest: int, now: datetime, quorum: int) -> IssuedCheckpoint:
    """The newest (witnessed) checkpoint if it covers position `newest`; otherwise a new one, signed now."""
    latest = log.latest_witnessed(quorum)
    leaf = log.tree.leaf_of(newest)
    if latest is not None and leaf is not None and leaf < latest.size:
        return latest
    issued = log.issue_checkpoint(now)
    if len(issued.cosignatures) < quorum:
        msg = (
            f"checkpoint {issued.number} got {len(issued.cosignatures)} witness cosignature(s) and {quorum} are "
            "needed: a bundle without them would not verify for auditors who demand them; retry when the witnesses "
            "answer"
        )
        raise NotWitnessed(msg)
    return issued


def _proof(log: AuditLog, position: int, issued: IssuedCheckpoint) -> tuple[LoggedEvent, dict[str, object]]:
    """The event stored at `position` and its proof against the checkpoint; LogDamaged if its row no longer fits."""
    stored = log.tree.event_at(position)
    leaf = log.tree.leaf_of(position)
    assert stored is not None  # noqa: S101  (the checkpoint covers every included event)
    assert leaf is not None  # noqa: S101  (same)
    path = log.tree.inclusion_proof(leaf, issued.size)
    if not verify_inclusion(stored.leaf_hash(), leaf, issued.size, path, issued.checkpoint.root):
        msg = (
            f"the event stored at log position {position} does not hash to leaf {leaf} of the signed tree: "
            "its row was changed after it was logged; no evidence is built on it (run `consent-ledger audit check`)"
        )
        raise LogDamaged(msg)
    return stored, {
        "stored": event_record(stored),
        "leaf_index": leaf,
        "inclusion": encoded_hashes(path),
        "tlog_proof": tlog_proof(stored, leaf, path, issued.published),
    }
