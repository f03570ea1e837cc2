"""Signed checkpoints: the tree's size and root, as a C2SP checkpoint in a C2SP signed note.

The text is the C2SP `tlog-checkpoint` body, so existing transparency tooling (Go's
`golang.org/x/mod/sumdb/note`, transparency-dev/formats, witnesses) reads it as it is::

    <origin>
    <tree size, decimal>
    <root hash, base64>

    — <key name> <base64(key ID || Ed25519 signature)>

New checkpoints carry no extension line: tlog-checkpoint calls them NOT RECOMMENDED (monitors
cannot audit them) and witnesses refuse them by default. When the ledger committed to a state
is said by the witnesses' timestamped cosignatures (`audit.cosignature`) instead. Checkpoints
signed before carried a `time <RFC 3339>` extension line; they are still read and verified,
because auditors hold them and every later checkpoint must be proven consistent with them.

The key name is the origin, as tlog-checkpoint recommends, and the key ID and the verifier key
string are those of the signed-note specification for Ed25519 (signature type 0x01): key ID =
SHA-256(name || 0x0A || 0x01 || public key)[:4], verifier key = `<name>+<hex key ID>+<base64(0x01
|| public key)>`.

Every base64 value is checked to be canonical (RFC 4648 section 3.5), so no two texts decode
to the same signature or hash and a changed byte is always a changed value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.merkle import HASH_SIZE

ED25519 = 0x01
"""The signed-note signature type of Ed25519 (C2SP signed-note, "Signature types")."""

SIGNATURE_PREFIX = "— "
"""Em dash (U+2014) and space: how every signature line of a signed note starts."""

KEY_ID_SIZE = 4
"""A signature starts with the signer's 4-byte key ID (C2SP signed-note, "Format")."""

MAX_SIGNATURES = 16
"""Signed-note verifiers must accept at least 16 signatures; more is refused as malformed."""

_NAME = re.compile(r"[^\s+]+")
_SIZE = re.compile(r"0|[1-9][0-9]*")
_TIME_PREFIX = "time "


class NoteError(ValueError):
    """A note, checkpoint or key that is malformed, or whose signature does not verify."""


def strict_b64decode(text: str) -> bytes:
    """Standard base64 (RFC 4648 section 4) that re-encodes to exactly `text`, or NoteError."""
    try:
        raw = text.encode("ascii")
        data = binascii.a2b_base64(raw, strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(f"{text[:60]!r} is not base64") from None
    if binascii.b2a_base64(data, newline=False) != raw:  # e.g. stray bits in the last character
        raise NoteError(f"{text[:60]!r} is not canonical base64")
    return data


def b64(data: bytes) -> str:
    """Standard base64 with padding, as C2SP writes hashes, keys and signatures."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || public key)[:4] (C2SP signed-note, Ed25519 signatures)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:KEY_ID_SIZE]


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        msg = f"key name {name!r} must be non-empty, with no spaces and no '+'"
        raise NoteError(msg)
    return name


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log named `origin` had `size` leaves with root `root`; `extensions` only in old ones."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()
    """Extension lines (tlog-checkpoint, "Note text", item 4): the ledger signs none now; see `issued_at`."""

    def __post_init__(self) -> None:
        _check_name(self.origin)
        if self.size < 0 or len(self.root) != HASH_SIZE:
            msg = f"a checkpoint needs a size of 0 or more and a {HASH_SIZE}-byte root"
            raise NoteError(msg)
        if any(not line or "\n" in line for line in self.extensions):
            msg = "an extension line is non-empty and holds no newline"
            raise NoteError(msg)

    @property
    def issued_at(self) -> datetime | None:
        """The time a checkpoint signed before witnesses kept time carried (`time <RFC 3339 UTC>`), else None."""
        for line in self.extensions:
            if line.startswith(_TIME_PREFIX):
                try:
                    return datetime.strptime(line.removeprefix(_TIME_PREFIX), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                except ValueError:
                    return None
        return None

    def text(self) -> str:
        """The note text: origin, size, base64 root and any extension lines, each ending in a newline."""
        return "".join(f"{line}\n" for line in (self.origin, str(self.size), b64(self.root), *self.extensions))

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint body (three lines, and extension lines if any); anything else is a NoteError."""
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":  # noqa: PLR2004  (three lines and the final newline)
            msg = "a checkpoint is three lines: origin, tree size, root hash (then any extension lines)"
            raise NoteError(msg)
        origin, size, root, *extensions = lines[:-1]
        if not _SIZE.fullmatch(size):
            raise NoteError(f"tree size {size!r} is not a decimal number")
        checkpoint = cls(origin, int(size), strict_b64decode(root), tuple(extensions))
        if checkpoint.text() != text:  # pragma: no cover  (every part above is read canonically)
            raise NoteError("the checkpoint is not in its one canonical form")
        return checkpoint


def legacy_checkpoint(origin: str, size: int, root: bytes, at: datetime) -> Checkpoint:
    """A checkpoint as the ledger signed them before witnesses kept time: with a `time` extension line."""
    if at.tzinfo is None or at.utcoffset() is None:
        msg = f"{at.isoformat()} has no time zone; a checkpoint's time must say which instant it is"
        raise ValueError(msg)
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Checkpoint(origin, size, root, (f"{_TIME_PREFIX}{stamp}",))


@dataclass(frozen=True)
class VerifierKey:
    """A public key that checkpoints are checked against, as a signed-note verifier key string."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != 32:  # noqa: PLR2004  (RFC 8032: an Ed25519 public key is 32 bytes)
            msg = "an Ed25519 public key is 32 bytes"
            raise NoteError(msg)

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID that marks this key's signature lines."""
        return key_id(self.name, self.public_key)

    def __str__(self) -> str:
        """`<name>+<hex key ID>+<base64(0x01 || public key)>`, the form Go's note.NewVerifier reads."""
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([ED25519]) + self.public_key)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read a verifier key string; its key ID must be the one its name and key give."""
        name, sep1, rest = text.strip().partition("+")
        hex_id, sep2, material = rest.partition("+")
        if not (sep1 and sep2) or not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            msg = "a public key reads <name>+<8 hex digits>+<base64 key>"
            raise NoteError(msg)
        raw = strict_b64decode(material)
        if len(raw) != 33 or raw[0] != ED25519:  # noqa: PLR2004  (type byte and a 32-byte key)
            msg = "the public key is not an Ed25519 signed-note key"
            raise NoteError(msg)
        key = cls(name, raw[1:])
        if key.key_id.hex() != hex_id:
            msg = f"key ID {hex_id} does not belong to this name and key (expected {key.key_id.hex()})"
            raise NoteError(msg)
        return key

    def open(self, note: str) -> str:
        """The text of a signed note this key signed; NoteError if it did not, or the note is malformed.

        As the signed-note specification requires: signatures of other keys are ignored, a
        failing signature of this key rejects the note, and at least one must verify.
        """
        text, signatures = split_note(note)
        verified = False
        for name, blob in signatures:
            if name != self.name or blob[:KEY_ID_SIZE] != self.key_id:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(self.public_key).verify(blob[KEY_ID_SIZE:], text.encode())
            except InvalidSignature:
                raise NoteError(f"the signature of {self.name} does not verify") from None
            verified = True
        if not verified:
            raise NoteError(f"the note carries no signature of {self.name}+{self.key_id.hex()}")
        return text


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's text and its (key name, key ID || signature) pairs, read strictly (C2SP signed-note)."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):  # noqa: PLR2004  (ASCII control characters)
        msg = "a signed note holds no control characters but newlines"
        raise NoteError(msg)
    text, blank, block = note.rpartition("\n\n")
    if not blank or not text or not block.endswith("\n"):
        msg = "a signed note is text ending in a newline, a blank line, then signature lines"
        raise NoteError(msg)
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        msg = f"more than {MAX_SIGNATURES} signatures"
        raise NoteError(msg)
    signatures: list[tuple[str, bytes]] = []
    for line in lines:
        name, space, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        if not line.startswith(SIGNATURE_PREFIX) or not space:
            msg = f"{line[:60]!r} is not a signature line"
            raise NoteError(msg)
        blob = strict_b64decode(encoded)
        if len(blob) <= KEY_ID_SIZE:
            msg = "a signature is a 4-byte key ID and the signature"
            raise NoteError(msg)
        signatures.append((_check_name(name), blob))
    return text + "\n", signatures


@dataclass(frozen=True)
class SigningKey:
    """The ledger's Ed25519 key and the name (the log's origin) its signatures carry."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> SigningKey:
        """The key whose RFC 8032 private key is this 32-byte seed."""
        if len(seed) != 32:  # noqa: PLR2004  (RFC 8032 section 5.1.5: a 32-byte private key)
            msg = f"a signing key is 32 bytes, not {len(seed)}"
            raise NoteError(msg)
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_base64(cls, name: str, text: str) -> SigningKey:
        """The key from the base64 of its 32-byte seed (the form of CONSENT_LEDGER_SIGNING_KEY and the key file)."""
        stripped = text.strip()
        try:
            seed = base64.b64decode(stripped, validate=True)
        except binascii.Error:
            try:
                seed = base64.urlsafe_b64decode(stripped)
            except binascii.Error:
                raise NoteError("the signing key is not base64 of 32 bytes") from None
        return cls.from_seed(name, seed)

    @property
    def verifier(self) -> VerifierKey:
        """The public half, to give auditors and courts."""
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, raw)

    def sign(self, text: str) -> str:
        """The signed note of `text` (which must end in a newline) with this key's one signature line."""
        if not text.endswith("\n"):
            msg = "a note's text ends in a newline"
            raise NoteError(msg)
        signature = self.private_key.sign(text.encode())
        note = f"{text}\n{SIGNATURE_PREFIX}{self.name} {b64(self.verifier.key_id + signature)}\n"
        split_note(note)  # the text itself must be well-formed too
        return note


def new_seed() -> str:
    """A fresh Ed25519 seed from the operating system's randomness, base64-encoded."""
    return b64(os.urandom(32))


def load_or_create_signing_key(path: Path, name: str) -> tuple[SigningKey, bool]:
    """The key stored at `path` (base64 seed), creating it there first if absent; and whether it was created.

    The new key is written to a private (0600) temporary file and linked into place, so two
    processes starting together both end up with the one key that won, never half of one.
    """
    created = False
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(new_seed() + "\n")
            os.link(temporary, path)
            created = True
        except FileExistsError:
            pass
        finally:
            Path(temporary).unlink()
    try:
        text = path.read_text()
    except OSError as e:
        msg = f"cannot read the signing key file {path}: {e.strerror}"
        raise NoteError(msg) from None
    return SigningKey.from_base64(name, text), created
