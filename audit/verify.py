"""Offline verification: recompute the tree from an export and check it against every signed checkpoint.

This module needs the export file and the ledger's public key (and, to demand witnesses, their
keys), nothing else: it imports nothing from the ledger, opens no database and calls no server,
so an auditor or a court can run it (or reimplement it from `audit.formats`, `audit.leaves`, RFC
9162 and C2SP) without trusting us.

Reading the export once, in order, with one hash per set bit of the tree size in memory, it
checks that the file is exactly in the export format; that positions only increase; that every
checkpoint is signed by the given key, names the same log, has the root of the tree recomputed
from the events up to its size, and is consistent with the checkpoint before it by an RFC 9162
section 2.1.4 proof; that every event is covered by a checkpoint; and, when a quorum of
witnesses is demanded, that the newest checkpoint carries that many valid cosignatures (C2SP
tlog-cosignature) of the witnesses given. Old checkpoints with a `time` line must also be dated
no earlier than the one before. The verdict names the first position it cannot vouch for.

Where a checkpoint's root does not match, the change lies somewhere among the events since the
last checkpoint that did; which of them cannot be told from the export alone (the signed root
is the only trusted value), so the verdict gives that range and its first position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from audit.cosignature import Cosignature, Trust, seen
from audit.formats import (
    CHECKPOINT_KEYS,
    CONSISTENCY_FORMAT,
    EXPORT_FORMAT,
    HEADER_KEYS,
    INCLUSION_FORMAT,
    SUFFIX_KEYS,
    ConsistencyProof,
    FormatError,
    InclusionProof,
    event_fields,
    hashes,
    load,
    natural,
    text,
)
from audit.leaves import leaf_hash_of
from audit.merkle import CompactRange, perfect_subtrees, verify_consistency, verify_inclusion
from audit.notes import Checkpoint, NoteError, VerifierKey

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@dataclass(frozen=True)
class Verdict:
    """What verification found: whether everything holds, how far, and where it first does not."""

    ok: bool
    reason: str
    events: int = 0
    checkpoints: int = 0
    tree_size: int = 0
    verified_through: int | None = None
    """The last log position that a verified checkpoint vouches for."""
    first_bad_position: int | None = None
    """The first log position that could not be vouched for (None when all hold, or no event is involved)."""
    line: int | None = None
    """The line of the export where verification stopped."""
    latest: Checkpoint | None = None
    first_leaf: int = 0
    """How many leaves of the log come before the exported events (0 unless the export is a range)."""
    complete: bool = False
    """Whether the export holds every event up to its newest checkpoint, not only a range of them."""
    cosignatures: tuple[Cosignature, ...] = ()
    """The trusted witnesses' verified cosignatures of the newest checkpoint."""

    def summary(self) -> str:
        """One paragraph a person can act on."""
        if self.ok:
            agreeing = f"{_count(self.events, 'event')} and {_count(self.checkpoints, 'signed checkpoint')}"
            head = f"VERIFIED: {agreeing} agree."
            if self.latest is not None:
                head += (
                    f" The newest checkpoint commits to {self.latest.size} events "
                    f"(root {self.latest.root.hex()}){seen(self.latest, list(self.cosignatures))}."
                )
                if not self.complete:
                    head += (
                        f" This export is a range: leaves {self.first_leaf} to {self.first_leaf + self.events - 1}; "
                        "the others are vouched for by their hashes only."
                    )
            return head
        where = [f"line {self.line}"] if self.line is not None else []
        if self.first_bad_position is not None:
            where.insert(0, f"first position that does not match: {self.first_bad_position}")
        through = (
            f" Everything up to position {self.verified_through} verified." if self.verified_through is not None else ""
        )
        return f"FAILED ({'; '.join(where) or 'the file'}): {self.reason}.{through}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass
class _Walk:
    """The verifier's state while it reads an export."""

    trust: Trust
    origin: str = ""
    frontier: CompactRange = field(default_factory=CompactRange)
    events: int = 0
    checkpoints: int = 0
    last_position: int = 0
    verified_through: int | None = None
    first_unverified: int | None = None
    previous: Checkpoint | None = None
    suffix_size: int | None = None
    first_leaf: int = 0
    cosignatures: list[Cosignature] = field(default_factory=list)

    @property
    def key(self) -> VerifierKey:
        return self.trust.key

    def fail(self, reason: str, line: int, position: int | None = None) -> Verdict:
        return Verdict(
            ok=False,
            reason=reason,
            events=self.events,
            checkpoints=self.checkpoints,
            tree_size=self.frontier.size,
            verified_through=self.verified_through,
            first_bad_position=position if position is not None else self.first_unverified,
            line=line,
            latest=self.previous,
        )


def verify_export(
    source: BinaryIO, key: VerifierKey | Trust, *, progress: Callable[[int, int], None] | None = None
) -> Verdict:
    """Verify an export read from `source` against `key` (and witnesses); `progress(bytes read, events)` at times."""
    walk = _Walk(key if isinstance(key, Trust) else Trust(key))
    consumed = 0
    number = 0
    for number, raw in enumerate(source, start=1):
        consumed += len(raw)
        if not raw.endswith(b"\n"):
            return walk.fail("the file ends in the middle of a line (cut short?)", number)
        try:
            failure = _step(walk, raw[:-1], number)
        except (FormatError, NoteError) as e:
            return walk.fail(f"the line is not valid: {e}", number)
        if failure is not None:
            return failure
        if progress is not None and number % 4096 == 0:
            progress(consumed, walk.events)
    if progress is not None:
        progress(consumed, walk.events)
    if number == 0:
        return walk.fail("the file is empty", 1)
    return _ending(walk, number)


def _ending(walk: _Walk, number: int) -> Verdict:
    """The verdict once every line was read: the last checkpoint must cover everything, and be witnessed enough."""
    if walk.previous is None:
        return walk.fail("the export holds no checkpoint, so nothing in it can be vouched for", number)
    if walk.previous.size != walk.frontier.size:
        return walk.fail(
            f"{walk.frontier.size - walk.previous.size} events after the last checkpoint are not covered by any",
            number,
        )
    short = walk.trust.short_of_quorum(walk.cosignatures)
    if short is not None:
        return walk.fail(f"the newest checkpoint is not witnessed: {short}", number)
    return Verdict(
        ok=True,
        reason="every checkpoint verified",
        events=walk.events,
        checkpoints=walk.checkpoints,
        tree_size=walk.frontier.size,
        verified_through=walk.verified_through,
        latest=walk.previous,
        first_leaf=walk.first_leaf,
        complete=walk.first_leaf == 0 and walk.suffix_size is None,
        cosignatures=tuple(walk.cosignatures),
    )


def verify_export_file(
    path: Path, key: VerifierKey | Trust, *, progress: Callable[[int, int], None] | None = None
) -> Verdict:
    """Verify the export at `path` (see `verify_export`)."""
    with path.open("rb") as source:
        return verify_export(source, key, progress=progress)


def _step(walk: _Walk, line: bytes, number: int) -> Verdict | None:
    """Take one line (without its newline) into the walk; a failing Verdict, or None to go on."""
    if number == 1:
        header = load(line, HEADER_KEYS)
        if header["format"] != EXPORT_FORMAT:
            raise FormatError(f"the first line must be a header of format {EXPORT_FORMAT}")
        walk.origin = text(header, "origin")
        if walk.origin != walk.key.name:
            return walk.fail(f"this is an export of {walk.origin!r}, but the key is {walk.key.name!r}'s", number)
        walk.first_leaf = natural(header, "tree_size")
        walk.frontier = CompactRange(walk.first_leaf, _sized(hashes(header, "prefix"), header))
        return None
    if line.startswith(b'{"position":'):
        return _event(walk, line, number)
    if line.startswith(b'{"checkpoint":'):
        return _checkpoint(walk, line, number)
    if line.startswith(b'{"tree_size":'):
        return _suffix(walk, line, number)
    raise FormatError("expected an event, a checkpoint or a suffix line")


def _sized(prefix: list[bytes], header: dict[str, object]) -> list[bytes]:
    if len(prefix) != natural(header, "tree_size").bit_count():
        raise FormatError("the prefix must hold one hash per perfect subtree before the exported range")
    return prefix


def _event(walk: _Walk, line: bytes, number: int) -> Verdict | None:
    position, originator_id, version, topic, state = event_fields(load(line))
    if walk.suffix_size is not None:
        return walk.fail("an event after the suffix, which must close the export", number, position)
    if position <= walk.last_position:
        return walk.fail(
            f"position {position} follows position {walk.last_position}: positions must increase",
            number,
            position,
        )
    try:
        leaf = leaf_hash_of(position, originator_id, version, topic, state)
    except ValueError as e:
        return walk.fail(str(e), number, position)
    walk.frontier.add(leaf)
    walk.events += 1
    walk.last_position = position
    if walk.first_unverified is None:
        walk.first_unverified = position
    return None


def _checkpoint(walk: _Walk, line: bytes, number: int) -> Verdict | None:  # noqa: PLR0911  (one per check)
    record = load(line, CHECKPOINT_KEYS)
    proof = hashes(record, "consistency")
    try:
        checkpoint, cosignatures = walk.trust.open(text(record, "checkpoint"))
    except NoteError as e:
        return walk.fail(f"the checkpoint does not verify: {e}", number)
    size = walk.frontier.size
    if checkpoint.origin != walk.origin:
        return walk.fail(f"a checkpoint of {checkpoint.origin!r} in an export of {walk.origin!r}", number)
    if checkpoint.size != size:
        return walk.fail(f"a checkpoint of {checkpoint.size} events where the export has {size}", number)
    if checkpoint.root != walk.frontier.root():
        span = f" (positions {walk.first_unverified} to {walk.last_position})" if walk.first_unverified else ""
        return walk.fail(
            f"the events since the last verified checkpoint{span} do not hash to the root signed for {size} events",
            number,
        )
    previous = walk.previous
    if previous is not None and _dated_before(checkpoint, previous):
        return walk.fail("this checkpoint is dated before the one it follows", number)
    if previous is None and proof:
        return walk.fail("the first checkpoint of an export has no previous one to be consistent with", number)
    if previous is not None and not verify_consistency(previous.size, size, previous.root, checkpoint.root, proof):
        return walk.fail(f"the consistency proof from {previous.size} to {size} events does not verify", number)
    walk.previous = checkpoint
    walk.cosignatures = cosignatures
    walk.checkpoints += 1
    if walk.events:
        walk.verified_through = walk.last_position
    walk.first_unverified = None
    return None


def _dated_before(checkpoint: Checkpoint, previous: Checkpoint) -> bool:
    """Whether two checkpoints that both carry the old `time` line are out of order (no line: no claim to check)."""
    now, then = checkpoint.issued_at, previous.issued_at
    return now is not None and then is not None and now < then


def _suffix(walk: _Walk, line: bytes, number: int) -> Verdict | None:
    record = load(line, SUFFIX_KEYS)
    if walk.suffix_size is not None:
        return walk.fail("a second suffix", number)
    size = natural(record, "tree_size")
    suffix = hashes(record, "suffix")
    start = walk.frontier.size
    if size <= start:
        return walk.fail(f"a suffix to {size} events after {start} events", number)
    nodes = perfect_subtrees(start, size)
    if len(suffix) != len(nodes):
        return walk.fail(f"a suffix from {start} to {size} events holds {len(nodes)} hashes, not {len(suffix)}", number)
    for (level, _), h in zip(nodes, suffix, strict=True):
        walk.frontier.append_subtree(level, h)
    walk.suffix_size = size
    return None


@dataclass(frozen=True)
class ProofVerdict:
    """What checking one proof document found."""

    ok: bool
    reason: str
    checkpoint: Checkpoint | None = None
    position: int | None = None

    def summary(self) -> str:
        """One line a person can act on."""
        return f"{'VERIFIED' if self.ok else 'FAILED'}: {self.reason}."


def _trusted(key: VerifierKey | Trust) -> Trust:
    return key if isinstance(key, Trust) else Trust(key)


def verify_inclusion_proof(data: bytes, key: VerifierKey | Trust) -> ProofVerdict:
    """Check an inclusion proof document: its checkpoint's signatures, and the event's path to that root."""
    trust = _trusted(key)
    try:
        proof = InclusionProof.from_json(data)
        checkpoint, cosignatures = trust.open(proof.checkpoint)
        leaf = proof.event.leaf_hash()
    except (FormatError, NoteError, ValueError) as e:
        return ProofVerdict(ok=False, reason=f"the proof is not valid: {e}")
    position = proof.event.position
    short = trust.short_of_quorum(cosignatures)
    if checkpoint.size != proof.tree_size:
        reason = f"the proof is for {proof.tree_size} events, its checkpoint for {checkpoint.size}"
    elif short is not None:
        reason = f"its checkpoint is not witnessed: {short}"
    elif not verify_inclusion(leaf, proof.leaf_index, proof.tree_size, proof.path, checkpoint.root):
        reason = f"the event at position {position} is not leaf {proof.leaf_index} of that tree"
    else:
        reason = (
            f"the event at position {position} is leaf {proof.leaf_index} of the {checkpoint.size} events "
            f"signed by {checkpoint.origin}{seen(checkpoint, cosignatures)}"
        )
        return ProofVerdict(ok=True, reason=reason, checkpoint=checkpoint, position=position)
    return ProofVerdict(ok=False, reason=reason, checkpoint=checkpoint, position=position)


def verify_consistency_proof(data: bytes, key: VerifierKey | Trust) -> ProofVerdict:
    """Check a consistency proof document: both checkpoints' signatures, and that the later extends the earlier."""
    trust = _trusted(key)
    try:
        proof = ConsistencyProof.from_json(data)
        old, _ = trust.open(proof.old)
        new, cosignatures = trust.open(proof.new)
    except (FormatError, NoteError) as e:
        return ProofVerdict(ok=False, reason=f"the proof is not valid: {e}")
    short = trust.short_of_quorum(cosignatures)
    if old.origin != new.origin:
        reason = f"the checkpoints are of two logs, {old.origin!r} and {new.origin!r}"
    elif _dated_before(new, old):
        reason = "the later checkpoint is dated before the earlier one"
    elif short is not None:
        reason = f"the later checkpoint is not witnessed: {short}"
    elif not verify_consistency(old.size, new.size, old.root, new.root, proof.path):
        reason = f"the log of {new.size} events does not extend the log of {old.size}"
    else:
        reason = f"the log of {new.size} events extends the log of {old.size}{seen(new, cosignatures)}"
        return ProofVerdict(ok=True, reason=reason, checkpoint=new)
    return ProofVerdict(ok=False, reason=reason, checkpoint=new)


def verify_file(
    path: Path, key: VerifierKey | Trust, *, progress: Callable[[int, int], None] | None = None
) -> Verdict | ProofVerdict:
    """Verify an export or a proof document, whichever `path` holds."""
    with path.open("rb") as source:
        head = source.read(128)
    if head.startswith(_declaring(INCLUSION_FORMAT)):
        return verify_inclusion_proof(path.read_bytes(), key)
    if head.startswith(_declaring(CONSISTENCY_FORMAT)):
        return verify_consistency_proof(path.read_bytes(), key)
    return verify_export_file(path, key, progress=progress)


def _declaring(kind: str) -> bytes:
    return b'{"format":"' + kind.encode() + b'"'
