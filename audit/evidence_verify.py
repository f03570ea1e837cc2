"""Offline check of an evidence bundle: every event it carries is in the log a signed checkpoint commits to.

Like `audit.verify`, this module needs the bundle and the ledger's public key and nothing else:
it imports nothing from the ledger, opens no database and calls no server, so a court or an
expert it appoints can run it (or rewrite it from RFC 9162 and C2SP) without trusting us.

It checks the checkpoint's signature against the key given (not the one the bundle names), and,
when witnesses are demanded, a quorum of their cosignatures on it; then, for every event,
rebuilds the leaf from the stored bytes the bundle carries, walks its RFC 9162 section 2.1.3
inclusion proof up to the signed root, checks that its C2SP tlog-proof says the same (leaf
bytes, index, path and checkpoint), and checks that the times and names the bundle shows beside
the stored bytes are the ones those bytes hold, so the readable part of the bundle cannot say
something the proven part does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from audit.cosignature import Cosignature, Trust, seen
from audit.formats import EVENT_KEYS, FormatError, TlogProof, decoded, event_from
from audit.merkle import HASH_SIZE, verify_inclusion
from audit.notes import Checkpoint, NoteError, VerifierKey

if TYPE_CHECKING:
    from collections.abc import Mapping

    from audit.leaves import LoggedEvent

EVIDENCE_FORMAT = "consent-ledger/evidence/v1"
"""The `format` field of every evidence bundle."""

SUBJECT_TOPICS = "ledger.subject:Subject."
"""The topics of the events of a subject's record, as stored."""
SUBJECT_OPENED = SUBJECT_TOPICS + "Opened"
CONSENT_GRANTED = SUBJECT_TOPICS + "ConsentGranted"
VERSION_PUBLISHED = "ledger.policy:Policy.VersionPublished"


class BundleError(ValueError):
    """A bundle that is malformed or does not verify; the message names the first thing that does not hold."""


@dataclass(frozen=True)
class BundleVerdict:
    """What checking a bundle found: whether every event is proven, and against which checkpoint."""

    ok: bool
    reason: str
    events: int = 0
    checkpoint: Checkpoint | None = None
    cosignatures: tuple[Cosignature, ...] = ()

    def summary(self) -> str:
        """One line a person can act on."""
        if self.ok and self.checkpoint is not None:
            c = self.checkpoint
            return (
                f"VERIFIED: {self.events} events of the bundle are in the log of {c.size} events (root "
                f"{c.root.hex()}) signed by {c.origin}{seen(c, list(self.cosignatures))}."
            )
        return f"FAILED: {self.reason}."


def verify_bundle(bundle: bytes | Mapping[str, object], public_key: VerifierKey | Trust | str) -> BundleVerdict:
    """Check a bundle (its JSON bytes, or the parsed object) against the ledger's public key (and witnesses)."""
    try:
        if isinstance(public_key, str):
            public_key = VerifierKey.parse(public_key)
        trust = public_key if isinstance(public_key, Trust) else Trust(public_key)
        record = orjson.loads(bundle) if isinstance(bundle, bytes) else bundle
        checkpoint, cosignatures, events = _checked(record, trust)
    except (BundleError, FormatError, NoteError, orjson.JSONDecodeError, ValueError) as e:
        return BundleVerdict(ok=False, reason=str(e) or type(e).__name__)
    return BundleVerdict(
        ok=True, reason="every event is proven", events=events, checkpoint=checkpoint, cosignatures=tuple(cosignatures)
    )


def _checked(value: object, trust: Trust) -> tuple[Checkpoint, list[Cosignature], int]:
    """The checkpoint every event of the bundle is proven against, its cosignatures, how many events; or BundleError."""
    record = _object(value, "the bundle")
    if record.get("format") != EVIDENCE_FORMAT:
        raise BundleError(f"not a {EVIDENCE_FORMAT} bundle")
    checkpoint, cosignatures = _checkpoint(record, trust)
    events = record.get("events")
    if not isinstance(events, list) or not events:
        raise BundleError("the bundle carries no events")
    note = str(_object(record.get("checkpoint"), "the checkpoint").get("note"))
    proven = [_event(_object(item, "an event"), checkpoint, note) for item in events]
    positions = [e.position for e in proven]
    if positions != sorted(set(positions)):
        raise BundleError("the events are not in log order, or one appears twice")
    by_position = {e.position: e for e in proven}
    _of_the_subject(record, proven)
    _references(record, by_position)
    return checkpoint, cosignatures, len(positions)


def _state(event: LoggedEvent) -> dict[str, object]:
    return _object(orjson.loads(event.state), f"the stored state of the event at position {event.position}")


def _of_the_subject(record: dict[str, object], proven: list[LoggedEvent]) -> None:
    """The subject's events are all of one record, the one opened for the subject the bundle names."""
    opened = [e for e in proven if e.topic == SUBJECT_OPENED]
    if len(opened) != 1 or _state(opened[0]).get("subject_id") != record.get("subject_id"):
        raise BundleError("the bundle does not prove the opening of the record of the subject it names")
    record_id = opened[0].originator_id
    strangers = [e.position for e in proven if e.topic.startswith(SUBJECT_TOPICS) and e.originator_id != record_id]
    if strangers:
        raise BundleError(f"the event at position {strangers[0]} belongs to another subject's record")


def _object(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise BundleError(f"{what} is not a JSON object")
    return value


def _checkpoint(record: dict[str, object], trust: Trust) -> tuple[Checkpoint, list[Cosignature]]:
    """The signed checkpoint, which must open with the key given, carry the quorum, and agree with what is shown."""
    if record.get("public_key") != str(trust.key):
        raise BundleError("the bundle names another public key than the one given")
    shown = _object(record.get("checkpoint"), "the checkpoint")
    note = shown.get("note")
    if not isinstance(note, str):
        raise BundleError("the checkpoint carries no signed note")
    try:
        checkpoint, cosignatures = trust.open(note)
    except NoteError as e:
        raise BundleError(f"the checkpoint does not verify: {e}") from None
    short = trust.short_of_quorum(cosignatures)
    if short is not None:
        raise BundleError(f"the checkpoint is not witnessed: {short}")
    if shown.get("tree_size") != checkpoint.size or shown.get("root") != checkpoint.root.hex():
        raise BundleError("the tree size or root shown differ from those the checkpoint signs")
    return checkpoint, cosignatures


def _event(item: dict[str, object], checkpoint: Checkpoint, note: str) -> LoggedEvent:
    """Check one event's proof and the fields shown beside it; answer the event as stored."""
    stored = event_from(_in_order(_object(item.get("stored"), "an event's stored record")))
    position = stored.position
    proof = item.get("inclusion")
    if not isinstance(proof, list) or not all(isinstance(h, str) for h in proof):
        raise BundleError(f"the event at position {position} has no inclusion proof")
    path = [decoded(h, "inclusion") for h in proof]
    leaf_index = item.get("leaf_index")
    if any(len(h) != HASH_SIZE for h in path) or type(leaf_index) is not int:
        raise BundleError(f"the inclusion proof of the event at position {position} is malformed")
    if not verify_inclusion(stored.leaf_hash(), leaf_index, checkpoint.size, path, checkpoint.root):
        raise BundleError(f"the event at position {position} is not leaf {leaf_index} of the signed tree")
    _tlog_proof_agrees(item.get("tlog_proof"), stored, leaf_index, path, note)
    _shown_as_stored(item, stored)
    return stored


def _tlog_proof_agrees(value: object, stored: LoggedEvent, index: int, path: list[bytes], note: str) -> None:
    """The event's C2SP tlog-proof, when the bundle gives one, proves the same leaf the same way."""
    if value is None:
        return  # bundles made before tlog-proofs were added; the inclusion proof above is the proof
    where = f"the tlog-proof of the event at position {stored.position}"
    if not isinstance(value, str):
        raise BundleError(f"{where} is not text")
    proof = TlogProof.parse(value)
    if proof.extra != stored.leaf_bytes():
        raise BundleError(f"{where} carries other leaf bytes than the stored event")
    if (proof.index, proof.path, proof.note) != (index, path, note):
        raise BundleError(f"{where} differs from the bundle's inclusion proof or checkpoint")


def _in_order(record: dict[str, object]) -> dict[str, object]:
    """The stored record with its fields in the export's order (a bundle's keys are sorted)."""
    if set(record) != set(EVENT_KEYS):
        raise BundleError(f"a stored event has exactly the fields {', '.join(EVENT_KEYS)}")
    return {k: record[k] for k in EVENT_KEYS}


def _shown_as_stored(item: dict[str, object], stored: LoggedEvent) -> None:
    """The readable fields must be those of the stored bytes: position, version, kind and both times."""
    where = f"the event at position {stored.position}"
    state = _object(orjson.loads(stored.state), f"{where}'s stored state")
    recorded = _moment(state.get("timestamp"), where)
    occurred = _moment(state.get("occurred_at", state.get("timestamp")), where)
    shown = (item.get("position"), item.get("version"), item.get("kind"))
    if shown != (stored.position, stored.version, stored.topic.rpartition(".")[2]):
        raise BundleError(f"{where} is shown with another position, version or kind than it was stored with")
    if _moment(item.get("recorded_at"), where) != recorded or _moment(item.get("occurred_at"), where) != occurred:
        raise BundleError(f"{where} is shown with other times than it was stored with")


def _moment(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise BundleError(f"{where} has no time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise BundleError(f"{where} has a time without offset")
    return moment


def _references(record: dict[str, object], proven: dict[int, LoggedEvent]) -> None:
    """Every event the answer and the timeline rest on is proven, and the text hashes shown are the proven ones."""
    answer = _object(record.get("answer"), "the answer")
    policies = answer.get("policies")
    if not isinstance(policies, list):
        raise BundleError("the answer names no policies")
    keys = ("acceptance_position", "in_effect_position")
    cited = [_object(p, "a policy answer").get(k) for p in policies for k in keys]
    for policy in policies:
        _hashes_as_proven(_object(policy, "a policy answer"), proven)
    for section in ("disclosures", "blocks"):
        rows = record.get(section)
        if not isinstance(rows, list):
            raise BundleError(f"the bundle has no {section} list")
        cited.extend(_object(row, section).get("position") for row in rows)
    for position in cited:
        if position is not None and position not in proven:
            raise BundleError(f"the bundle cites position {position}, which it does not prove")


def _hashes_as_proven(policy: dict[str, object], proven: dict[int, LoggedEvent]) -> None:
    """Clause 9.1: the text hashes shown are those in the proven acceptance and publication."""
    for position_key, hash_key, stored_key, topic in (
        ("acceptance_position", "accepted_text_sha256", "text_sha256", CONSENT_GRANTED),
        ("in_effect_position", "in_effect_text_sha256", "text_sha256", VERSION_PUBLISHED),
    ):
        position = policy.get(position_key)
        if position is None:
            continue
        event = proven.get(position) if isinstance(position, int) else None
        if event is None or event.topic != topic:
            raise BundleError(f"{position_key} {position} is not a proven {topic.rpartition('.')[2]} event")
        if _state(event).get(stored_key) != policy.get(hash_key):
            raise BundleError(f"the {hash_key} shown is not the one proven at position {position}")
