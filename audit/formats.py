"""What leaves our hands: the lines of an export and the proof documents, written and read strictly.

Every record is one JSON object in orjson's compact form, and a reader accepts it only if
writing it again gives the very same bytes, with exactly the expected keys in the expected
order, canonical base64 (RFC 4648) and canonical UUIDs. So every byte of an export or a proof
is significant: changing any one of them either makes the record unreadable or changes a value
that a hash or a signature covers, and `audit.verify` notices either way.

An export (JSON Lines) is a header, then the events in log order, with each checkpoint placed
right after the event that completes its tree size, and, when the exported range ends before
a checkpoint, the hashes that complete the tree to that checkpoint::

    {"format":"consent-ledger/export/v1","origin":O,"tree_size":K,"prefix":[...]}   leaves before the range
    {"position":P,"originator_id":U,"version":V,"topic":T,"state":B64}              one per event
    {"checkpoint":NOTE,"consistency":[...]}                                          from the previous checkpoint line
    {"tree_size":N,"suffix":[...]}                                                   leaves after the range
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

import orjson

from audit.leaves import LoggedEvent
from audit.merkle import HASH_SIZE
from audit.notes import NoteError, b64, strict_b64decode

if TYPE_CHECKING:
    from collections.abc import Sequence

EXPORT_FORMAT = "consent-ledger/export/v1"
"""The first field of an export's header line."""

INCLUSION_FORMAT = "consent-ledger/inclusion-proof/v1"
"""The first field of an inclusion proof document."""

CONSISTENCY_FORMAT = "consent-ledger/consistency-proof/v1"
"""The first field of a consistency proof document."""

EVENT_KEYS = ("position", "originator_id", "version", "topic", "state")
HEADER_KEYS = ("format", "origin", "tree_size", "prefix")
CHECKPOINT_KEYS = ("checkpoint", "consistency")
SUFFIX_KEYS = ("tree_size", "suffix")
INCLUSION_KEYS = ("format", "event", "leaf_index", "tree_size", "inclusion", "checkpoint")
CONSISTENCY_KEYS = ("format", "old", "new", "consistency")


class FormatError(ValueError):
    """A record that is not exactly what the format says; the message names what is wrong."""


def dump(record: dict[str, object]) -> bytes:
    """One record as its canonical line, newline included."""
    return orjson.dumps(record) + b"\n"


def load(line: bytes, keys: Sequence[str] | None = None) -> dict[str, object]:
    """The record on a line (without its newline), if the line is its canonical form; `keys` in order if given."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise FormatError("not a JSON object") from None
    if not isinstance(record, dict):
        raise FormatError("not a JSON object")
    if orjson.dumps(record) != line:
        raise FormatError("not in canonical form (compact orjson, nothing added or escaped differently)")
    if keys is not None and tuple(record) != tuple(keys):
        raise FormatError(f"expected the fields {', '.join(keys)} in that order")
    return record


def natural(record: dict[str, object], key: str) -> int:
    """A field that must be a whole number, 0 or more."""
    value = record[key]
    if type(value) is not int or value < 0:
        raise FormatError(f"{key} must be a whole number")
    return value


def text(record: dict[str, object], key: str) -> str:
    """A field that must be a string."""
    value = record[key]
    if not isinstance(value, str):
        raise FormatError(f"{key} must be a string")
    return value


def decoded(value: str, what: str) -> bytes:
    """Canonical base64, or a FormatError naming the field."""
    try:
        return strict_b64decode(value)
    except NoteError as e:
        raise FormatError(f"{what}: {e}") from None


def hashes(record: dict[str, object], key: str) -> list[bytes]:
    """A field that must be a list of base64 SHA-256 hashes."""
    value = record[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormatError(f"{key} must be a list of base64 hashes")
    out = [decoded(v, key) for v in value]
    if any(len(h) != HASH_SIZE for h in out):
        raise FormatError(f"{key} must hold {HASH_SIZE}-byte hashes")
    return out


def encoded_hashes(values: Sequence[bytes]) -> list[str]:
    """Hashes as the base64 strings a record holds."""
    return [b64(h) for h in values]


def event_record(event: LoggedEvent) -> dict[str, object]:
    """An event as an export line holds it: every field the leaf encodes, the state in base64."""
    return {
        "position": event.position,
        "originator_id": str(event.originator_id),
        "version": event.version,
        "topic": event.topic,
        "state": b64(event.state),
    }


def event_line(position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """An event's export line: the very bytes `dump(event_record(event))` gives, without the objects between.

    orjson writes a UUID in its canonical lower-case form, as `str()` does; an export writes one
    line per event of the whole log, so it writes them straight from the stored values.
    """
    return (
        orjson.dumps(
            {
                "position": position,
                "originator_id": originator_id,
                "version": version,
                "topic": topic,
                "state": binascii.b2a_base64(state, newline=False).decode("ascii"),
            }
        )
        + b"\n"
    )


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""Exactly the strings `str(UUID(s)) == s` accepts: 36 characters, lower-case hex, hyphens in place."""


def event_fields(record: dict[str, object]) -> tuple[int, bytes, int, str, bytes]:
    """(position, originator id's 16 bytes, version, topic, state) of an event record, checked as `event_from` does.

    What a verifier needs to hash a leaf, without a `UUID` and a `LoggedEvent` per event; any
    record the quick checks do not accept goes through `event_from`, which names what is wrong.
    """
    originator = record.get("originator_id")
    if tuple(record) != EVENT_KEYS or not isinstance(originator, str) or not _CANONICAL_UUID.fullmatch(originator):
        event = event_from(record)
        return event.position, event.originator_id.bytes, event.version, event.topic, event.state
    return (
        natural(record, "position"),
        bytes.fromhex(originator.replace("-", "")),
        natural(record, "version"),
        text(record, "topic"),
        decoded(text(record, "state"), "state"),
    )


def event_from(record: dict[str, object]) -> LoggedEvent:
    """The event an event record stands for; refuses anything not written by `event_record`."""
    if tuple(record) != EVENT_KEYS:
        raise FormatError(f"an event has the fields {', '.join(EVENT_KEYS)} in that order")
    originator = text(record, "originator_id")
    try:
        originator_id = UUID(originator)
    except ValueError:
        raise FormatError("originator_id is not a UUID") from None
    if str(originator_id) != originator:
        raise FormatError("originator_id is not a UUID in its canonical lower-case form")
    return LoggedEvent(
        position=natural(record, "position"),
        originator_id=originator_id,
        version=natural(record, "version"),
        topic=text(record, "topic"),
        state=decoded(text(record, "state"), "state"),
    )


@dataclass(frozen=True)
class InclusionProof:
    """One event, the audit path to a signed checkpoint's root, and that checkpoint (RFC 9162 section 2.1.3)."""

    event: LoggedEvent
    leaf_index: int
    tree_size: int
    path: list[bytes]
    checkpoint: str
    """The signed note whose root the path leads to."""

    def to_json(self) -> bytes:
        """The document, one canonical JSON line."""
        return dump(
            {
                "format": INCLUSION_FORMAT,
                "event": event_record(self.event),
                "leaf_index": self.leaf_index,
                "tree_size": self.tree_size,
                "inclusion": encoded_hashes(self.path),
                "checkpoint": self.checkpoint,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> InclusionProof:
        """Read a document written by `to_json`."""
        record = load(_one_line(data), INCLUSION_KEYS)
        if record["format"] != INCLUSION_FORMAT:
            raise FormatError(f"not an {INCLUSION_FORMAT} document")
        event = record["event"]
        if not isinstance(event, dict):
            raise FormatError("event must be an object")
        return cls(
            event=event_from(event),
            leaf_index=natural(record, "leaf_index"),
            tree_size=natural(record, "tree_size"),
            path=hashes(record, "inclusion"),
            checkpoint=text(record, "checkpoint"),
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """Two signed checkpoints and the proof that the later one extends the earlier (RFC 9162 section 2.1.4)."""

    old: str
    new: str
    path: list[bytes]

    def to_json(self) -> bytes:
        """The document, one canonical JSON line."""
        return dump(
            {
                "format": CONSISTENCY_FORMAT,
                "old": self.old,
                "new": self.new,
                "consistency": encoded_hashes(self.path),
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> ConsistencyProof:
        """Read a document written by `to_json`."""
        record = load(_one_line(data), CONSISTENCY_KEYS)
        if record["format"] != CONSISTENCY_FORMAT:
            raise FormatError(f"not a {CONSISTENCY_FORMAT} document")
        return cls(old=text(record, "old"), new=text(record, "new"), path=hashes(record, "consistency"))


TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
"""The first line of a C2SP tlog-proof."""


def tlog_proof(event: LoggedEvent, leaf_index: int, path: Sequence[bytes], note: str) -> str:
    """One event's proof as a C2SP `tlog-proof`: its leaf bytes as `extra`, its index, its path, the checkpoint.

    The `extra` line carries the event's LedgerLeaf encoding (`audit.leaves`), so the proof is
    self-contained: the leaf hash is SHA-256(0x00 || extra), which a verifier must also check
    against the event it was given, since tlog-proof says extra data is not to be trusted alone.
    """
    lines = [TLOG_PROOF_HEADER, f"extra {b64(event.leaf_bytes())}", f"index {leaf_index}", *encoded_hashes(path)]
    return "\n".join(lines) + "\n\n" + note


@dataclass(frozen=True)
class TlogProof:
    """A parsed C2SP tlog-proof: extra data (if any), the leaf index, the inclusion path and the checkpoint note."""

    extra: bytes | None
    index: int
    path: list[bytes]
    note: str

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        """Read a tlog-proof strictly (canonical base64 and decimals); anything else is a FormatError."""
        head, blank, note = text.partition("\n\n")
        lines = head.split("\n")
        if not blank or not lines or lines[0] != TLOG_PROOF_HEADER:
            raise FormatError(f"a tlog-proof starts with {TLOG_PROOF_HEADER}, then a blank line before its checkpoint")
        rest = lines[1:]
        extra = None
        if rest and rest[0].startswith("extra "):
            extra = decoded(rest.pop(0).removeprefix("extra "), "extra")
        if not rest or not re.fullmatch(r"index (0|[1-9][0-9]*)", rest[0]):
            raise FormatError("a tlog-proof names its index in decimal, after the optional extra line")
        index = int(rest[0].removeprefix("index "))
        path = [decoded(h, "inclusion") for h in rest[1:]]
        if any(len(h) != HASH_SIZE for h in path):
            raise FormatError(f"a tlog-proof's path holds {HASH_SIZE}-byte hashes")
        return cls(extra, index, path, note)


def _one_line(data: bytes) -> bytes:
    if not data.endswith(b"\n") or b"\n" in data[:-1]:
        raise FormatError("a proof document is one line ending in a newline")
    return data[:-1]
