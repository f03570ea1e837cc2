"""The log's signing key at rest: a file holding its Ed25519 seed, in the clear or wrapped by the master key.

Whoever holds the seed can sign checkpoints in the log's name, so the file may be kept wrapped
(AES-256-GCM under the master key, bound to its purpose), like the subjects' keys: a copy of the
file alone then signs nothing. A wrapped file reads `wrapped-by-master-key:<base64(0x01 || nonce
|| ciphertext)>`; a plain one is the base64 seed (the form CONSENT_LEDGER_SIGNING_KEY takes too).
A key file is made only where the caller says a new log may get a new key: a log that already
signed checkpoints must be signed on with the key auditors hold, never with a fresh one.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit.notes import NoteError, SigningKey, b64

WRAPPED_PREFIX = "wrapped-by-master-key:"
"""How a key file wrapped by the master key starts."""

_FORMAT = b"\x01"
_NONCE = 12
_PURPOSE = b"consent-ledger log signing key"
"""The associated data of the wrapping: a master-key ciphertext made for anything else does not open as this."""


RECEIPT_PURPOSE = b"consent-ledger receipt signing key"
"""The associated data of a wrapped receipt key: it does not open as the log's key, nor the log's as it."""


def wrap_seed(seed: bytes, master_key: bytes, purpose: bytes = _PURPOSE) -> str:
    """The key file's text for `seed`, wrapped by `master_key` for `purpose`."""
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(master_key).encrypt(nonce, seed, purpose)
    return WRAPPED_PREFIX + b64(_FORMAT + nonce + sealed)


def read_signing_key(path: Path, name: str, master_key: bytes | None, purpose: bytes = _PURPOSE) -> SigningKey:
    """The key in the file at `path`, unwrapped with `master_key` if it is wrapped; NoteError naming what is wrong."""
    try:
        text = path.read_text().strip()
    except OSError as e:
        msg = f"cannot read the signing key file {path}: {e.strerror}"
        raise NoteError(msg) from None
    if not text.startswith(WRAPPED_PREFIX):
        return SigningKey.from_base64(name, text)
    if master_key is None:
        msg = f"the signing key file {path} is wrapped by the master key; configure the master key to sign"
        raise NoteError(msg)
    try:
        raw = base64.b64decode(text.removeprefix(WRAPPED_PREFIX), validate=True)
        seed = AESGCM(master_key).decrypt(raw[1 : 1 + _NONCE], raw[1 + _NONCE :], purpose)
    except (binascii.Error, InvalidTag, ValueError):
        msg = f"the signing key file {path} does not open with the configured master key"
        raise NoteError(msg) from None
    return SigningKey.from_seed(name, seed)


def create_signing_key_file(path: Path, master_key: bytes | None, purpose: bytes = _PURPOSE) -> bool:
    """Put a fresh key at `path` (mode 0600; wrapped when a master key is given); False if one was there already.

    Written to a private temporary file and linked into place, so two processes starting together
    both end up with the one key that won, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = os.urandom(32)
    text = wrap_seed(seed, master_key, purpose) if master_key is not None else b64(seed)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text + "\n")
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        Path(temporary).unlink()
    return True


def wrap_signing_key_file(path: Path, name: str, master_key: bytes) -> bool:
    """Rewrite a plain key file wrapped by `master_key` (the same key); False if it was wrapped already."""
    key = read_signing_key(path, name, master_key)
    if path.read_text().strip().startswith(WRAPPED_PREFIX):
        return False
    seed = key.private_key.private_bytes_raw()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")
    with os.fdopen(fd, "w") as file:
        file.write(wrap_seed(seed, master_key) + "\n")
    Path(temporary).replace(path)
    return True
