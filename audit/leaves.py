"""What a leaf of the log is: one stored event, encoded to bytes in exactly one way.

The leaf commits to the event as stored, never as read: its position in the notification log,
the aggregate's id and version, the event's topic and the stored state bytes. Personal values
sit in the state sealed with the subject's key (Art. 1(6) of the Law on personal data), so the
leaf hashes ciphertext; destroying a subject's key changes no stored byte and therefore no leaf,
and an export verifies the same before and after a destruction.

The encoding follows the TLS presentation language (RFC 8446 section 3), as RFC 9162 section
4 does for its own leaves: fixed-width big-endian integers and length-prefixed byte strings, so
no two events share an encoding and an outsider can rebuild it from the export's fields alone::

    struct {
        uint8  leaf_format = 0;
        uint64 position;            /* notification-log position, from 1 */
        opaque originator_id[16];   /* the aggregate's UUID, RFC 9562 byte order */
        uint64 version;             /* the aggregate's version */
        opaque topic<0..2^16-1>;    /* UTF-8 */
        opaque state<0..2^32-1>;    /* the stored bytes, as they are */
    } LedgerLeaf;
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from audit.merkle import leaf_hash

if TYPE_CHECKING:
    from eventsourcing.persistence import Notification

LEAF_FORMAT = 0
"""The first byte of every leaf: a later encoding would take another value, never reuse this one."""

_HEAD = struct.Struct(">BQ16sQH")
_STATE_LENGTH = struct.Struct(">I")
_MAX_64, _MAX_32, _MAX_16 = 1 << 64, 1 << 32, 1 << 16


@dataclass(frozen=True)
class LoggedEvent:
    """One stored event as the log commits to it: where it sits and the exact bytes stored."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes

    @classmethod
    def of(cls, notification: Notification) -> LoggedEvent:
        """The event a recorder's notification stands for."""
        originator = notification.originator_id
        return cls(
            position=int(notification.id),
            originator_id=originator if isinstance(originator, UUID) else UUID(str(originator)),
            version=int(notification.originator_version),
            topic=str(notification.topic),
            state=bytes(notification.state),
        )

    def leaf_bytes(self) -> bytes:
        """The LedgerLeaf encoding above; refuses values it cannot encode rather than truncating them."""
        return leaf_bytes(self.position, self.originator_id.bytes, self.version, self.topic, self.state)

    def leaf_hash(self) -> bytes:
        """SHA-256(0x00 || leaf bytes): this event's leaf in the tree (RFC 9162 section 2.1.1)."""
        return leaf_hash(self.leaf_bytes())


def leaf_bytes(position: int, originator_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """The LedgerLeaf encoding of one event's fields (the UUID as its 16 bytes), made in one place.

    A function of plain values rather than of a `LoggedEvent`, so that a verifier reading millions
    of export lines can encode each without building an object per event first.
    """
    return b"".join(_leaf_parts(position, originator_id, version, topic, state))


def leaf_hash_of(position: int, originator_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """SHA-256(0x00 || LedgerLeaf) of one event's fields: `leaf_hash(leaf_bytes(...))` with one copy fewer."""
    return hashlib.sha256(b"".join((b"\x00", *_leaf_parts(position, originator_id, version, topic, state)))).digest()


def _leaf_parts(position: int, originator_id: bytes, version: int, topic: str, state: bytes) -> tuple[bytes, ...]:
    """The pieces of the encoding, in order; refuses values it cannot encode rather than truncating them."""
    encoded = topic.encode()
    if not (0 <= position < _MAX_64 and 0 <= version < _MAX_64):
        msg = f"position {position} or version {version} does not fit 64 bits"
        raise ValueError(msg)
    if len(encoded) >= _MAX_16 or len(state) >= _MAX_32:
        msg = f"the event at position {position} is too large for a leaf"
        raise ValueError(msg)
    return (
        _HEAD.pack(LEAF_FORMAT, position, originator_id, version, len(encoded)),
        encoded,
        _STATE_LENGTH.pack(len(state)),
        state,
    )
