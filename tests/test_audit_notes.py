"""Checkpoints are C2SP signed notes that other transparency tooling reads and writes byte for byte.

The reference is the example of Go's golang.org/x/mod/sumdb/note (the origin of the C2SP
signed-note format): its signer key, verifier key and signed note. Ed25519 is deterministic
(RFC 8032), so our signature over the same text with the same key must be the very same bytes.
"""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from audit.merkle import EMPTY_ROOT
from audit.notes import Checkpoint, NoteError, SigningKey, VerifierKey, legacy_checkpoint, load_or_create_signing_key

if TYPE_CHECKING:
    from pathlib import Path

GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_NOTE = f"{GO_TEXT}\n— PeterNeumann {GO_SIGNATURE}\n"
ALMATY = timezone(timedelta(hours=5))


def go_key() -> SigningKey:
    material = GO_SIGNER.split("+", 4)[4]
    raw = base64.b64decode(material)
    assert raw[0] == 0x01  # Ed25519
    return SigningKey.from_seed("PeterNeumann", raw[1:])


def test_the_go_reference_key_gives_the_go_verifier_key_and_the_same_signed_note() -> None:
    key = go_key()
    assert str(key.verifier) == GO_VERIFIER
    assert key.sign(GO_TEXT) == GO_NOTE


def test_the_go_reference_note_opens_with_its_verifier_key() -> None:
    assert VerifierKey.parse(GO_VERIFIER).open(GO_NOTE) == GO_TEXT


def test_a_note_whose_text_was_changed_is_refused() -> None:
    with pytest.raises(NoteError, match="does not verify"):
        VerifierKey.parse(GO_VERIFIER).open(GO_NOTE.replace("cryptography", "cryptographY"))


def test_a_note_signed_by_another_key_of_the_same_name_is_refused() -> None:
    other = SigningKey.from_seed("PeterNeumann", bytes(range(32)))
    with pytest.raises(NoteError, match="no signature of PeterNeumann"):
        VerifierKey.parse(GO_VERIFIER).open(other.sign(GO_TEXT))


def test_signatures_of_unknown_keys_are_ignored_beside_a_known_one() -> None:
    witness = SigningKey.from_seed("witness.example/w1", bytes(range(32)))
    cosigned = GO_NOTE + witness.sign(GO_TEXT).split("\n\n")[1]
    assert VerifierKey.parse(GO_VERIFIER).open(cosigned) == GO_TEXT


@pytest.mark.parametrize(
    "malformed",
    [
        GO_TEXT,  # no signature at all
        GO_NOTE.replace("— ", "- "),  # not an em dash
        GO_NOTE.replace("\n\n", "\n"),  # no blank line before the signatures
        GO_NOTE.replace("AM=\n", "AN=\n"),  # the same bytes in non-canonical base64
        GO_NOTE.replace("problem,", "problem,\t"),  # a control character
        GO_NOTE[:-1],  # the last signature line does not end
    ],
)
def test_a_malformed_note_is_refused(malformed: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(GO_VERIFIER).open(malformed)


@pytest.mark.parametrize(
    "malformed",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # key ID of another key
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not a key
        "PeterNeumann+c74f20a3+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # a space in the name
        "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # no name and no ID
    ],
)
def test_a_malformed_public_key_is_refused(malformed: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(malformed)


def test_a_checkpoint_is_the_three_lines_of_a_c2sp_checkpoint_with_no_extension_line() -> None:
    checkpoint = Checkpoint("example.kz/consent", 20852163, EMPTY_ROOT)
    assert checkpoint.text() == "example.kz/consent\n20852163\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert Checkpoint.parse(checkpoint.text()) == checkpoint
    assert checkpoint.issued_at is None


def test_a_checkpoint_signed_before_with_a_time_line_is_still_read_with_its_time() -> None:
    old = legacy_checkpoint("example.kz/consent", 20852163, EMPTY_ROOT, datetime(2026, 3, 2, 14, 0, 5, 999, ALMATY))
    assert old.text() == (
        "example.kz/consent\n20852163\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 2026-03-02T09:00:05Z\n"
    )
    assert Checkpoint.parse(old.text()) == old
    assert old.issued_at == datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)


def test_a_signed_checkpoint_opens_only_with_its_own_key() -> None:
    key = SigningKey.from_seed("example.kz/consent", bytes(32))
    checkpoint = Checkpoint("example.kz/consent", 3, EMPTY_ROOT)
    note = key.sign(checkpoint.text())
    assert Checkpoint.parse(key.verifier.open(note)) == checkpoint
    with pytest.raises(NoteError):
        SigningKey.from_seed("example.kz/consent", bytes(31) + b"\x01").verifier.open(note)


@pytest.mark.parametrize(
    "text",
    [
        "example.kz/consent\n03\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "example.kz/consent\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n",
        "example.kz/consent\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",
        "example.kz/consent\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "example.kz/consent\n3\n",
        "example.kz consent\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
    ],
)
def test_a_checkpoint_in_any_but_its_canonical_form_is_refused(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


def test_a_legacy_checkpoint_time_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        legacy_checkpoint("example.kz/consent", 0, EMPTY_ROOT, datetime(2026, 3, 2))  # noqa: DTZ001


def test_the_signing_key_file_is_created_once_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "signing.key"
    first, created = load_or_create_signing_key(path, "example.kz/consent")
    again, created_again = load_or_create_signing_key(path, "example.kz/consent")
    assert (created, created_again) == (True, False)
    assert str(first.verifier) == str(again.verifier)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text())) == 32


def test_a_signing_key_given_as_base64_is_the_key_of_that_seed() -> None:
    seed = base64.b64encode(bytes(range(32))).decode()
    assert str(SigningKey.from_base64("n", seed).verifier) == str(SigningKey.from_seed("n", bytes(range(32))).verifier)
    with pytest.raises(NoteError, match="32 bytes"):
        SigningKey.from_base64("n", base64.b64encode(bytes(16)).decode())
