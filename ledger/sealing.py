"""Crypto-shredding: personal values sealed with a key per subject, keys wrapped by a master key.

Events are immutable, so erasure cannot delete them. Instead every personal value inside an
event is encrypted (AES-256-GCM) with its subject's own key, and that key lives apart from the
events, in a table that can forget. Destroying the key makes the values unreadable forever
while every event, and every hash computed over its bytes, stays exactly as recorded.
"""

from __future__ import annotations

import base64
import contextlib
import os
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import SubjectDestroyed
from ledger.terms import Sealed

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from uuid import UUID

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"\x01"
"""First byte of every sealed value and wrapped key: the format, so keys can rotate later."""


class KeyStore(Protocol):
    """Where wrapped subject keys live, apart from the events."""

    def wrapped_key(self, subject: UUID) -> bytes | None:
        """The subject's wrapped key, or None if never made or destroyed."""

    def add_key_if_absent(self, subject: UUID, wrapped: bytes) -> bytes:
        """Store a key unless one exists; return whichever key is stored now."""

    def wrapped_keys(self, subjects: Collection[UUID]) -> dict[UUID, bytes]:
        """The stored wrapped keys of those subjects that have one (an empty tombstone once destroyed)."""

    def add_keys_if_absent(self, keys: dict[UUID, bytes]) -> None:
        """Store each key unless its subject has one (or a tombstone), in one transaction."""

    def destroy_key(self, subject: UUID) -> None:
        """Forget the subject's key beyond recovery (no copy left in the store's files)."""

    def any_key(self) -> tuple[UUID, bytes] | None:
        """Some stored key, to check the master key against at start-up (None when there is none)."""


class MasterKeyError(ValueError):
    """The master key is missing, malformed, or not the one the keys were wrapped with."""


def parse_master_key(text: str) -> bytes:
    """Read a master key given as URL-safe base64 of 32 bytes."""
    try:
        key = base64.urlsafe_b64decode(text.strip())
    except ValueError as e:
        msg = "the master key must be URL-safe base64 of 32 random bytes"
        raise MasterKeyError(msg) from e
    if len(key) != KEY_BYTES:
        msg = f"the master key must be 32 bytes, got {len(key)}"
        raise MasterKeyError(msg)
    return key


def new_master_key() -> str:
    """A fresh master key in the form `parse_master_key` reads."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


_PREPARED: ContextVar[dict[UUID, bytes] | None] = ContextVar("prepared_subject_keys", default=None)
"""The wrapped keys read for a batch of writes in this thread, while it runs (see `Sealer.prepared`)."""


class Sealer:
    """Seals and opens personal values for one subject at a time."""

    def __init__(self, master_key: bytes, keys: KeyStore) -> None:
        """Wrap subject keys with `master_key`; keep them in `keys`."""
        self._master = AESGCM(master_key)
        self._keys = keys

    @contextlib.contextmanager
    def prepared(self, subjects: Collection[UUID]) -> Iterator[None]:
        """Make and read the keys of `subjects` in two statements, for a batch of writes about to seal for them.

        One at a time, each subject's first sealed value costs its own transaction to make its key,
        and every value a read of it: a bulk import of new subjects spent a quarter of its time there
        (PostgreSQL). Within the block, sealing for these subjects reads no key from the store; a
        key destroyed meanwhile (`shred`) is dropped from the block's keys, so the tombstone is seen.
        """
        stored = self._keys.wrapped_keys(subjects)
        missing = {s: self._fresh_wrapped_key(s) for s in subjects if s not in stored}
        if missing:
            self._keys.add_keys_if_absent(missing)
            stored = self._keys.wrapped_keys(subjects)  # whichever key won a race with another writer
        token = _PREPARED.set(stored)
        try:
            yield
        finally:
            _PREPARED.reset(token)

    def seal(self, subject: UUID, field: str, value: str) -> Sealed:
        """Encrypt `value` with the subject's key, bound to the subject and the field's name."""
        key = self._subject_key(subject, create=True)
        assert key is not None  # noqa: S101  (created above)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, value.encode(), _aad(subject, field))
        return Sealed(base64.b64encode(FORMAT + nonce + ciphertext).decode())

    def open(self, subject: UUID, field: str, sealed: Sealed) -> str | None:
        """The value in clear, or None once the subject's key has been destroyed."""
        key = self._subject_key(subject, create=False)
        if key is None:
            return None
        return open_sealed(key, subject, field, sealed)

    def disclosed_key(self, subject: UUID) -> bytes | None:
        """The subject's own key in clear, for evidence that must let a court open that subject's values itself.

        An evidence bundle carries every event of the subject's record, so the key opens nothing
        the bundle does not already show; with it, each value shown is checked against the sealed
        bytes the log proves (`open_sealed`) instead of being taken on trust. None once destroyed.
        """
        return self._subject_key(subject, create=False)

    def check_master_key(self) -> None:
        """Refuse to start with a master key that cannot open the keys already stored."""
        found = self._keys.any_key()
        if found is not None:
            self._unwrap(*found)

    def shred(self, subject: UUID) -> None:
        """Destroy the subject's key: every value sealed with it is unreadable from now on."""
        prepared = _PREPARED.get()
        if prepared is not None:
            prepared.pop(subject, None)
        self._keys.destroy_key(subject)

    def _subject_key(self, subject: UUID, *, create: bool) -> bytes | None:
        prepared = _PREPARED.get()
        wrapped = prepared.get(subject) if prepared is not None else None
        if wrapped is None:
            wrapped = self._keys.wrapped_key(subject)
        if wrapped is None:
            if not create:
                return None
            wrapped = self._keys.add_key_if_absent(subject, self._fresh_wrapped_key(subject))
        if not wrapped:  # the tombstone of a destroyed key: nothing can be sealed or opened for them again
            if create:
                msg = "this subject's key was destroyed; nothing personal can be recorded for them"
                raise SubjectDestroyed(msg)
            return None
        return self._unwrap(subject, wrapped)

    def _fresh_wrapped_key(self, subject: UUID) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT + nonce + self._master.encrypt(nonce, os.urandom(KEY_BYTES), subject.bytes)

    def _unwrap(self, subject: UUID, wrapped: bytes) -> bytes:
        nonce, ciphertext = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
        try:
            return self._master.decrypt(nonce, ciphertext, subject.bytes)
        except InvalidTag as e:
            msg = "the configured master key is not the one the subject keys were wrapped with"
            raise MasterKeyError(msg) from e


def open_sealed(key: bytes, subject: UUID, field: str, sealed: Sealed) -> str:
    """Open one sealed value with its subject's key; InvalidTag unless it was sealed with this key, for this field.

    The subject and the field's name are the AES-GCM associated data: a value moved to another
    field or another subject's record does not open.
    """
    raw = base64.b64decode(sealed.ciphertext)
    nonce, ciphertext = raw[1 : 1 + NONCE_BYTES], raw[1 + NONCE_BYTES :]
    return AESGCM(key).decrypt(nonce, ciphertext, _aad(subject, field)).decode()


def _aad(subject: UUID, field: str) -> bytes:
    return subject.bytes + field.encode()
