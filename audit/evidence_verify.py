"""Offline check of an evidence bundle: every statement in it follows from events the signed log proves.

Like `audit.verify`, this needs the bundle and the ledger's public key (and, if demanded, the
witnesses' keys) and nothing else: no database, no network, no server of ours. Unlike it, it
imports the ledger's own code (the mapper that decodes stored events, the aggregates that
replay them, `ledger.rules`, the Kazakh calendar), so that a statement is judged by the very
code the service judges with; none of that code opens a database.

A bundle is accepted only if, in this order:

1. it is a `consent-ledger/evidence/v2` bundle with exactly the parts that format has (a v1
   bundle, whose readable part nothing bound to its proofs, is refused with what to ask for);
2. its checkpoint opens with the key given (not the one the bundle names) and carries the
   witnesses' quorum, and its tree size and root are those signed;
3. each event's leaf, rebuilt from the stored bytes it carries, leads by its RFC 9162 inclusion
   proof to the signed root, and its C2SP tlog-proof says the same;
4. those events are the subject's whole record and the whole records of the policies it
   accepted, each from its first event (`audit.evidence_record`: why that is enough, and the
   one thing no bundle can prove);
5. every statement, recomputed from those records and the question the bundle asks (`at`,
   `as_known_at`, `zone`, the subject's key; `audit.evidence_statements`), is exactly what the
   bundle says, value and JSON type alike.

A failure names the first field that does not hold (`answer.policies[0].behind`,
`events[3].tlog_proof`) and says why.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import orjson

from audit.cosignature import Cosignature, Trust, seen
from audit.evidence_record import BundleError, ProvenRecord, proven_record
from audit.evidence_statements import STATEMENTS, Question, event_statement, records
from audit.formats import EVENT_KEYS, FormatError, TlogProof, decoded, event_from
from audit.merkle import HASH_SIZE, verify_inclusion
from audit.notes import Checkpoint, NoteError, VerifierKey
from ledger.deadlines import KazakhCalendar
from ledger.errors import InvalidFact
from ledger.terms import SubjectId

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from audit.leaves import LoggedEvent

__all__ = ["EVIDENCE_FORMAT", "BundleError", "BundleVerdict", "verify_bundle"]

EVIDENCE_FORMAT = "consent-ledger/evidence/v2"
"""The `format` field of every evidence bundle."""

OLD_FORMAT = "consent-ledger/evidence/v1"
"""Bundles made before their readable part was bound to their proofs: refused, never half-checked."""

PROOF_KEYS = ("stored", "leaf_index", "inclusion", "tlog_proof")
"""The parts of a bundle's event that prove it; the others are statements about it."""

PARTS = ("format", "subject_id", "at", "as_known_at", "zone", "public_key", "checkpoint", "events", *STATEMENTS)
"""Every top-level part of a bundle: a part the verifier does not check cannot be there."""

CHECKPOINT_KEYS = ("tree_size", "root", "note")

_MISSING = object()


@dataclass(frozen=True)
class BundleVerdict:
    """What checking a bundle found: whether every statement holds, the first field that does not, and why."""

    ok: bool
    reason: str
    field: str | None = None
    events: int = 0
    checkpoint: Checkpoint | None = None
    cosignatures: tuple[Cosignature, ...] = ()
    records: tuple[str, ...] = ()
    """How far each record is carried, in words."""

    def summary(self) -> str:
        """One line a person can act on."""
        if self.ok and self.checkpoint is not None:
            c = self.checkpoint
            return (
                f"VERIFIED: every statement of the bundle follows from its {self.events} events, each in the log of "
                f"{c.size} events (root {c.root.hex()}) signed by {c.origin}{seen(c, list(self.cosignatures))}. "
                f"Records carried whole from their first event: {'; '.join(self.records)}."
            )
        where = f" at {self.field}" if self.field else ""
        return f"FAILED{where}: {self.reason}."


def verify_bundle(bundle: bytes | Mapping[str, object], public_key: VerifierKey | Trust | str) -> BundleVerdict:
    """Check a bundle (its JSON bytes, or the parsed object) against the ledger's public key (and witnesses)."""
    try:
        trust = _trust(public_key)
    except (NoteError, ValueError) as e:
        return BundleVerdict(ok=False, reason=f"the public key given cannot be read: {e}")
    try:
        value = orjson.loads(bundle) if isinstance(bundle, bytes) else bundle
        checkpoint, cosignatures, q = _checked(value, trust)
    except orjson.JSONDecodeError as e:
        return BundleVerdict(ok=False, reason=f"the bundle is not JSON ({e})")
    except BundleError as e:
        return BundleVerdict(ok=False, reason=str(e), field=e.field)
    carried = tuple(
        f"{r['kind']} {r['name']}: events 1–{r['events']}, the last recorded at {r['last_recorded_at']}"
        for r in records(q)
    )
    return BundleVerdict(
        ok=True,
        reason="every statement follows from the proven events",
        events=len(q.record.events),
        checkpoint=checkpoint,
        cosignatures=tuple(cosignatures),
        records=carried,
    )


def _trust(public_key: VerifierKey | Trust | str) -> Trust:
    if isinstance(public_key, str):
        public_key = VerifierKey.parse(public_key)
    return public_key if isinstance(public_key, Trust) else Trust(public_key)


def _checked(value: object, trust: Trust) -> tuple[Checkpoint, list[Cosignature], Question]:
    """The checkpoint, its cosignatures and the question over the proven records; BundleError naming what fails."""
    bundle = _object(value, "", "the bundle")
    _parts(bundle)
    checkpoint, cosignatures = _checkpoint(bundle, trust)
    items = bundle["events"]
    if not isinstance(items, list) or not items:
        raise BundleError("events", "the bundle carries no events")
    note = str(_object(bundle["checkpoint"], "checkpoint", "the checkpoint")["note"])
    logged = [_proven(_object(item, f"events[{i}]", "an event"), i, checkpoint, note) for i, item in enumerate(items)]
    for i in range(1, len(logged)):
        if logged[i].position <= logged[i - 1].position:
            raise BundleError(f"events[{i}]", "the events are not in log order, or one appears twice")
    subject_id = bundle["subject_id"]
    if not isinstance(subject_id, str):
        raise BundleError("subject_id", "the subject is not named")
    q = _question(bundle, proven_record(SubjectId(subject_id), logged))
    _statements_hold(bundle, q)
    return checkpoint, cosignatures, q


def _parts(bundle: dict[str, object]) -> None:
    if bundle.get("format") == OLD_FORMAT:
        msg = (
            f"this is a {OLD_FORMAT} bundle, made before a bundle's answer, blocks, disclosures and personal values "
            f"were bound to its proofs: only its events could be checked, not what it says of them. Ask the operator "
            f"for a new bundle of the same subject and moment ({EVIDENCE_FORMAT})"
        )
        raise BundleError("format", msg)
    if bundle.get("format") != EVIDENCE_FORMAT:
        raise BundleError("format", f"not a {EVIDENCE_FORMAT} bundle")
    for part in [*PARTS, *bundle]:
        if part not in bundle or part not in PARTS:
            what = "is missing" if part not in bundle else "is not a part of a bundle, and nothing checks it"
            raise BundleError(part, f"this part {what}")


def _object(value: object, field: str, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise BundleError(field or "(the bundle)", f"{what} is not a JSON object")
    return value


def _checkpoint(bundle: dict[str, object], trust: Trust) -> tuple[Checkpoint, list[Cosignature]]:
    """The signed checkpoint, which must open with the key given, carry the quorum, and agree with what is shown."""
    if bundle["public_key"] != str(trust.key):
        raise BundleError("public_key", "the bundle names another public key than the one given")
    shown = _object(bundle["checkpoint"], "checkpoint", "the checkpoint")
    for key in [*CHECKPOINT_KEYS, *shown]:
        if key not in shown or key not in CHECKPOINT_KEYS:
            raise BundleError(f"checkpoint.{key}", "the checkpoint has exactly a tree_size, a root and a note")
    note = shown["note"]
    if not isinstance(note, str):
        raise BundleError("checkpoint.note", "the checkpoint carries no signed note")
    try:
        checkpoint, cosignatures = trust.open(note)
    except NoteError as e:
        raise BundleError("checkpoint.note", f"the checkpoint does not verify: {e}") from None
    short = trust.short_of_quorum(cosignatures)
    if short is not None:
        raise BundleError("checkpoint.note", f"the checkpoint is not witnessed: {short}")
    if shown["tree_size"] != checkpoint.size or type(shown["tree_size"]) is not int:
        raise BundleError("checkpoint.tree_size", "the tree size shown is not the one the checkpoint signs")
    if shown["root"] != checkpoint.root.hex():
        raise BundleError("checkpoint.root", "the root shown is not the one the checkpoint signs")
    return checkpoint, cosignatures


def _proven(item: dict[str, object], index: int, checkpoint: Checkpoint, note: str) -> LoggedEvent:
    """One event's stored bytes, once its proof leads to the signed root; BundleError naming the part that fails."""
    where = f"events[{index}]"
    try:
        stored = event_from(_in_order(_object(item.get("stored"), f"{where}.stored", "the stored record")))
        leaf = stored.leaf_hash()  # ValueError for a field the leaf cannot encode
    except (FormatError, NoteError, ValueError) as e:
        raise BundleError(f"{where}.stored", f"the stored record cannot be read: {e}") from None
    proof = item.get("inclusion")
    if not isinstance(proof, list) or not all(isinstance(h, str) for h in proof):
        raise BundleError(f"{where}.inclusion", "the event has no inclusion proof")
    try:
        path = [decoded(h, "inclusion") for h in proof]
    except FormatError as e:
        raise BundleError(f"{where}.inclusion", str(e)) from None
    leaf_index = item.get("leaf_index")
    if any(len(h) != HASH_SIZE for h in path):
        raise BundleError(f"{where}.inclusion", "the inclusion proof holds something that is not a SHA-256 hash")
    if type(leaf_index) is not int:
        raise BundleError(f"{where}.leaf_index", "the leaf index is not a whole number")
    if not verify_inclusion(leaf, leaf_index, checkpoint.size, path, checkpoint.root):
        msg = f"the stored event at position {stored.position}, its leaf index and proof do not lead to the signed root"
        raise BundleError(where, msg)
    _tlog_proof_agrees(item.get("tlog_proof"), stored, (leaf_index, path, note), f"{where}.tlog_proof")
    return stored


def _tlog_proof_agrees(value: object, stored: LoggedEvent, proved: tuple[int, list[bytes], str], field: str) -> None:
    """The event's C2SP tlog-proof proves the same leaf the same way: (leaf index, path, checkpoint note)."""
    if not isinstance(value, str):
        raise BundleError(field, "the event carries no tlog-proof")
    try:
        proof = TlogProof.parse(value)
    except (FormatError, NoteError, ValueError) as e:
        raise BundleError(field, f"the tlog-proof cannot be read: {e}") from None
    if proof.extra != stored.leaf_bytes():
        raise BundleError(field, "the tlog-proof carries other leaf bytes than the stored event")
    if (proof.index, proof.path, proof.note) != proved:
        raise BundleError(field, "the tlog-proof differs from the event's inclusion proof or the bundle's checkpoint")


def _in_order(record: dict[str, object]) -> dict[str, object]:
    """The stored record with its fields in the export's order (a bundle's keys are sorted)."""
    if set(record) != set(EVENT_KEYS):
        raise FormatError(f"a stored event has exactly the fields {', '.join(EVENT_KEYS)}")
    return {k: record[k] for k in EVENT_KEYS}


def _question(bundle: dict[str, object], record: ProvenRecord) -> Question:
    """The parameters the bundle's statements are recomputed with: T, as known when, the zone, the subject's key."""
    zone = bundle["zone"]
    if not isinstance(zone, str):
        raise BundleError("zone", "the operator's zone is not named")
    try:
        KazakhCalendar(zone)
    except InvalidFact as e:
        raise BundleError("zone", str(e)) from None
    at, known = _moment(bundle["at"], "at"), _moment(bundle["as_known_at"], "as_known_at")
    return Question(record, at, known, zone, _key(_object(bundle["personal_values"], "personal_values", "it")))


def _moment(value: object, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BundleError(field, "not an ISO 8601 time with its offset")
    return moment


def _key(shown: dict[str, object]) -> bytes | None:
    """The subject's key, when the bundle gives it: 32 bytes, in canonical base64."""
    given = shown.get("key")
    if given is None:
        return None
    try:
        key = binascii.a2b_base64(given.encode("ascii"), strict_mode=True) if isinstance(given, str) else b""
    except (binascii.Error, UnicodeEncodeError):
        key = b""
    if len(key) != 32:  # noqa: PLR2004  (AES-256)
        raise BundleError("personal_values.key", "the subject's key is not 32 bytes of base64")
    return key


def _statements_hold(bundle: dict[str, object], q: Question) -> None:
    """Each statement of the bundle is the one its proven records give; BundleError naming the first that is not."""
    items = bundle["events"]
    assert isinstance(items, list)  # noqa: S101  (checked by the caller)
    for proven, item in zip(q.record.events, items, strict=True):
        shown = {k: v for k, v in item.items() if k not in PROOF_KEYS}
        _same(_judged(partial(event_statement, q, proven), proven.field), shown, proven.field)
    for name, statement in STATEMENTS.items():
        _same(_judged(partial(statement, q), name), bundle[name], name)


def _judged(statement: Callable[[], object], field: str) -> object:
    """A statement recomputed; BundleError if the proven events lack what the rules read (they were never valid)."""
    try:
        return statement()
    except (InvalidFact, AttributeError, TypeError, KeyError, ValueError) as e:
        if isinstance(e, BundleError):
            raise
        raise BundleError(field, f"the proven events cannot be judged: {e}") from None


def _same(expected: object, shown: object, field: str) -> None:
    found = _difference(expected, shown, field)
    if found is not None:
        where, proven, said = found
        if said is _MISSING:
            msg = f"the bundle leaves this out; the proven events say {_shown(proven)}"
        elif proven is _MISSING:
            msg = f"the bundle says {_shown(said)}, which nothing proven says"
        else:
            msg = f"the bundle says {_shown(said)}; the proven events say {_shown(proven)}"
        raise BundleError(where, msg)


def _difference(expected: object, shown: object, field: str) -> tuple[str, object, object] | None:
    """The first place where `shown` is not exactly `expected` (JSON type included), with both values there."""
    if isinstance(expected, dict) and isinstance(shown, dict):
        for key in [*expected, *(k for k in shown if k not in expected)]:
            found = _difference(expected.get(key, _MISSING), shown.get(key, _MISSING), f"{field}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(expected, list) and isinstance(shown, list):
        for i in range(max(len(expected), len(shown))):
            mine = expected[i] if i < len(expected) else _MISSING
            theirs = shown[i] if i < len(shown) else _MISSING
            found = _difference(mine, theirs, f"{field}[{i}]")
            if found is not None:
                return found
        return None
    if type(expected) is not type(shown) or expected != shown:
        return field, expected, shown
    return None


def _shown(value: object) -> str:
    try:
        text = orjson.dumps(value).decode() if value is not _MISSING else "nothing"
    except TypeError:  # what orjson cannot write (an integer past 64 bits) was not written by a ledger either
        text = repr(value)
    return text if len(text) <= 160 else text[:157] + "…"  # noqa: PLR2004  (a line a person reads)
