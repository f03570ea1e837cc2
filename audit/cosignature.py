"""Witness cosignatures (C2SP `tlog-cosignature`, Ed25519 `cosignature/v1`): who saw a checkpoint, and when.

A witness that checked a checkpoint against the last one it saw of that log signs::

    cosignature/v1
    time <POSIX seconds>
    <the checkpoint's note text>

and answers one signed-note signature line, `— <witness name> base64(key ID || 8-byte big-endian
timestamp || Ed25519 signature)`, whose key ID is SHA-256(name || 0x0A || 0x04 || public key)[:4].
The line sits beside the log's own signature on the checkpoint, so one note carries the log's
signature and every witness's; a verifier that knows a witness's key checks its line and reads
from it when the checkpoint was seen, which is where a checkpoint's time lives now.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.notes import (
    KEY_ID_SIZE,
    SIGNATURE_PREFIX,
    Checkpoint,
    NoteError,
    VerifierKey,
    b64,
    split_note,
    strict_b64decode,
)

COSIGNATURE_V1 = 0x04
"""The signed-note signature type of an Ed25519 `cosignature/v1` (C2SP tlog-cosignature)."""

_TIMESTAMP = struct.Struct(">Q")
_SIGNATURE_SIZE = 64
_NAME = re.compile(r"[^\s+]+")


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a witness signs: the `cosignature/v1` header, the time line, then the checkpoint's note text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public_key).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class Cosignature:
    """A verified witness cosignature: which witness, and the time it says it saw the checkpoint."""

    witness: str
    timestamp: int

    @property
    def at(self) -> datetime:
        """The cosignature's time as a UTC moment."""
        return datetime.fromtimestamp(self.timestamp, UTC)


@dataclass(frozen=True)
class WitnessKey:
    """A witness's public key, as a verifier key string `<name>+<hex key ID>+<base64(0x04 || key)>`."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            msg = f"witness name {self.name!r} must be non-empty, with no spaces and no '+'"
            raise NoteError(msg)
        if len(self.public_key) != 32:  # noqa: PLR2004  (RFC 8032: an Ed25519 public key is 32 bytes)
            msg = "an Ed25519 public key is 32 bytes"
            raise NoteError(msg)

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID that marks this witness's cosignature lines."""
        return _key_id(self.name, self.public_key)

    def __str__(self) -> str:
        """The verifier key string a log and an auditor are configured with."""
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([COSIGNATURE_V1]) + self.public_key)}"

    @classmethod
    def parse(cls, text: str) -> WitnessKey:
        """Read a witness verifier key string; its key ID must be the one its name and key give."""
        name, sep1, rest = text.strip().partition("+")
        hex_id, sep2, material = rest.partition("+")
        if not (sep1 and sep2) or not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            msg = "a witness key reads <name>+<8 hex digits>+<base64 key>"
            raise NoteError(msg)
        raw = strict_b64decode(material)
        if len(raw) != 33 or raw[0] != COSIGNATURE_V1:  # noqa: PLR2004  (type byte and a 32-byte key)
            msg = "the witness key is not an Ed25519 cosignature/v1 key (type 0x04)"
            raise NoteError(msg)
        key = cls(name, raw[1:])
        if key.key_id.hex() != hex_id:
            msg = f"key ID {hex_id} does not belong to this name and key (expected {key.key_id.hex()})"
            raise NoteError(msg)
        return key

    def cosignature_in(self, note: str) -> Cosignature | None:
        """The cosignature of this witness on the signed note, checked; None if it has none, NoteError if one fails.

        As the signed-note specification requires, a line with this key's name and ID that does
        not verify makes the whole note unacceptable, rather than being skipped.
        """
        text, signatures = split_note(note)
        found: Cosignature | None = None
        for name, blob in signatures:
            if name != self.name or blob[:KEY_ID_SIZE] != self.key_id:
                continue
            body = blob[KEY_ID_SIZE:]
            if len(body) != _TIMESTAMP.size + _SIGNATURE_SIZE:
                raise NoteError(f"the cosignature of {self.name} is not a timestamp and an Ed25519 signature")
            (timestamp,) = _TIMESTAMP.unpack(body[: _TIMESTAMP.size])
            try:
                Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                    body[_TIMESTAMP.size :], cosigned_message(text, timestamp)
                )
            except InvalidSignature:
                raise NoteError(f"the cosignature of {self.name} does not verify") from None
            if timestamp >= 1 << 63:
                raise NoteError(f"the cosignature of {self.name} has a timestamp beyond 2^63 - 1")
            found = Cosignature(self.name, timestamp)
        return found


@dataclass(frozen=True)
class WitnessSigningKey:
    """A witness's Ed25519 key and the name its cosignatures carry."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> WitnessKey:
        """The public half, for logs and auditors to trust."""
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return WitnessKey(self.name, raw)

    def cosign(self, text: str, timestamp: int) -> str:
        """The cosignature line (with its newline) of the checkpoint whose note text is `text`, at `timestamp`."""
        signature = self.private_key.sign(cosigned_message(text, timestamp))
        blob = self.verifier.key_id + _TIMESTAMP.pack(timestamp) + signature
        return f"{SIGNATURE_PREFIX}{self.name} {b64(blob)}\n"


def with_cosignatures(note: str, lines: str) -> str:
    """The signed note with these signature lines added, dropping an earlier line of the same key (name and ID)."""
    text, signatures = split_note(note)
    _, added = split_note(text + "\n" + lines)
    replaced = {(name, blob[:KEY_ID_SIZE]) for name, blob in added}
    kept = [(name, blob) for name, blob in signatures if (name, blob[:KEY_ID_SIZE]) not in replaced]
    return text + "\n" + "".join(f"{SIGNATURE_PREFIX}{name} {b64(blob)}\n" for name, blob in [*kept, *added])


def count_cosigned(note: str, witnesses: list[WitnessKey]) -> list[Cosignature]:
    """The verified cosignatures of these witnesses on the note (NoteError if a line of one of them fails)."""
    found = [witness.cosignature_in(note) for witness in witnesses]
    return [c for c in found if c is not None]


@dataclass(frozen=True)
class Trust:
    """What a verifier trusts: the log's key, the witnesses' keys, and how many of them must have cosigned."""

    key: VerifierKey
    witnesses: tuple[WitnessKey, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            msg = f"a quorum of {self.quorum} needs at least that many witness keys (given {len(self.witnesses)})"
            raise NoteError(msg)

    def open(self, note: str) -> tuple[Checkpoint, list[Cosignature]]:
        """The checkpoint the log's key signed in `note`, and the trusted witnesses' verified cosignatures of it."""
        checkpoint = Checkpoint.parse(self.key.open(note))
        return checkpoint, count_cosigned(note, list(self.witnesses))

    def short_of_quorum(self, cosignatures: list[Cosignature]) -> str | None:
        """Why these cosignatures are not enough, or None when the quorum is met."""
        if len(cosignatures) >= self.quorum:
            return None
        return (
            f"the checkpoint carries {len(cosignatures)} valid cosignature(s) of the {len(self.witnesses)} "
            f"trusted witness(es), and {self.quorum} are demanded"
        )


def seen(checkpoint: Checkpoint, cosignatures: list[Cosignature]) -> str:
    """When the checkpoint was seen, in words: each witness's time, or the legacy time line, or nothing."""
    if cosignatures:
        return "; cosigned by " + ", ".join(f"{c.witness} at {c.at.isoformat()}" for c in cosignatures)
    if checkpoint.issued_at is not None:
        return f" as of {checkpoint.issued_at.isoformat()} (the log's own time line)"
    return ""
