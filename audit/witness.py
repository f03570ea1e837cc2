"""A witness (C2SP `tlog-witness`): it cosigns a log's checkpoint only once it has checked that it extends the last.

For each log it trusts (an origin and the log's verifier keys) the witness keeps one thing: the
latest checkpoint it cosigned. A log submits a new checkpoint with the size it believes the
witness holds (`old N`) and an RFC 9162 consistency proof from that size; the witness answers,
in the specification's order:

- 400 when the request or the checkpoint is malformed, or `old` exceeds the checkpoint's size;
- 404 when the origin is not one it witnesses;
- 403 when no trusted key of that log signed it, or a trusted key's signature fails;
- 409 when `old` is not the size it last cosigned for that origin, naming that size (so the
  log can retry with a proof from it);
- 422 when the proof does not verify, is not empty from `old 0`, or an equal size carries
  another root, or a size-0 checkpoint another root than the empty tree's;
- otherwise it stores the checkpoint as its latest and answers its cosignature line.

The check of `old` and the update are one SQLite transaction taken with `BEGIN IMMEDIATE`, so two
submissions at once cannot roll the witness back. The store is a small SQLite file of its own:
a witness runs far from the log and never needs the log's database. It is bound to the
witness's key on creation, and a witness never starts on a missing store (a lost store would let
it cosign a fork of what it cosigned before) nor with another key than the store's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audit.cosignature import WitnessSigningKey
from audit.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from audit.notes import Checkpoint, NoteError, VerifierKey, split_note, strict_b64decode

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

MAX_PROOF_LINES = 63
"""A client sends at most 63 consistency-proof lines (C2SP tlog-witness)."""

_OLD = re.compile(r"old (0|[1-9][0-9]{0,18})")


class WitnessRefusal(Exception):
    """An add-checkpoint request the witness does not cosign; `status` is the specification's HTTP status."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size
        """For a 409: the size this witness last cosigned for the origin."""


class WitnessStoreError(RuntimeError):
    """The witness's store is missing, or belongs to another key: the witness must not start."""


@dataclass(frozen=True)
class Submission:
    """A parsed add-checkpoint body: the old size, the consistency proof, and the signed checkpoint."""

    old: int
    proof: list[bytes]
    note: str
    checkpoint: Checkpoint

    @classmethod
    def parse(cls, body: bytes) -> Submission:
        """Read a body strictly; WitnessRefusal(400) naming what is malformed."""
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise WitnessRefusal(400, "the body is not UTF-8 text") from None
        head, blank, note = text.partition("\n\n")
        lines = head.split("\n")
        if not blank or not _OLD.fullmatch(lines[0]):
            raise WitnessRefusal(400, "the body is `old <size>`, proof lines, an empty line, then the checkpoint")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise WitnessRefusal(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            proof = [strict_b64decode(line) for line in lines[1:]]
            checkpoint = Checkpoint.parse(split_note(note)[0])
        except NoteError as e:
            raise WitnessRefusal(400, f"malformed: {e}") from None
        if any(len(h) != HASH_SIZE for h in proof):
            raise WitnessRefusal(400, f"a consistency proof line is not a {HASH_SIZE}-byte hash")
        old = int(lines[0].removeprefix("old "))
        return cls(old, proof, note, checkpoint)


@dataclass(frozen=True)
class Held:
    """What the witness holds for one log: the checkpoint it last cosigned, as a note with its cosignature."""

    size: int
    root: bytes
    note: str
    cosigned_at: int


class WitnessStore:
    """The witness's own SQLite file: the latest cosigned checkpoint per origin, and the key it belongs to."""

    def __init__(self, path: Path) -> None:
        """Open an existing store (WitnessStoreError if there is none: `create` makes one)."""
        if not path.is_file():
            msg = (
                f"no witness store at {path}: a witness that lost its store could cosign a fork of what it "
                "cosigned before; restore it, or start a new witness (`consent-ledger witness init`, a new name)"
            )
            raise WitnessStoreError(msg)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row

    @classmethod
    def create(cls, path: Path, key: WitnessSigningKey) -> WitnessStore:
        """Make a new store bound to `key` (refused if one is there already)."""
        if path.exists():
            msg = f"{path} exists already; a witness keeps its store for good"
            raise WitnessStoreError(msg)
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE witness (verifier_key TEXT NOT NULL)")
            db.execute("INSERT INTO witness VALUES (?)", (str(key.verifier),))
            db.execute(
                "CREATE TABLE latest (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, "
                "note TEXT NOT NULL, cosigned_at INTEGER NOT NULL)"
            )
        return cls(path)

    def require_key(self, key: WitnessSigningKey) -> None:
        """Refuse a key other than the one this store was made for."""
        row = self._db.execute("SELECT verifier_key FROM witness").fetchone()
        if row is None or row[0] != str(key.verifier):
            msg = f"{self.path} belongs to the witness key {row[0] if row else '(none)'}, not {key.verifier}"
            raise WitnessStoreError(msg)

    def held(self, origin: str) -> Held | None:
        """The checkpoint last cosigned for `origin`."""
        query = "SELECT size, root, note, cosigned_at FROM latest WHERE origin = ?"
        row = self._db.execute(query, (origin,)).fetchone()
        return None if row is None else Held(int(row[0]), bytes(row[1]), str(row[2]), int(row[3]))

    @contextlib.contextmanager
    def exclusively(self) -> Iterator[None]:
        """One transaction that no other writer can interleave with (SQLite `BEGIN IMMEDIATE`)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def keep(self, origin: str, held: Held) -> None:
        """Store `held` as the latest for `origin` (inside `exclusively`)."""
        self._db.execute(
            "INSERT INTO latest (origin, size, root, note, cosigned_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) "
            "DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note, "
            "cosigned_at = excluded.cosigned_at",
            (origin, held.size, held.root, held.note, held.cosigned_at),
        )

    def close(self) -> None:
        """Close the file."""
        self._db.close()


class Witness:
    """The protocol of one witness: which logs it trusts, its key, its store."""

    def __init__(self, key: WitnessSigningKey, store: WitnessStore, logs: Mapping[str, Sequence[VerifierKey]]) -> None:
        """Witness the logs named by origin, each trusted under its verifier keys."""
        store.require_key(key)
        self.key = key
        self.store = store
        self.logs = {origin: list(keys) for origin, keys in logs.items()}

    def add_checkpoint(self, body: bytes, now: int) -> str:
        """Check a submission and cosign it at POSIX time `now`: the cosignature line, or WitnessRefusal."""
        submission = Submission.parse(body)
        checkpoint = submission.checkpoint
        keys = self.logs.get(checkpoint.origin)
        if keys is None:
            raise WitnessRefusal(404, f"this witness does not witness the log {checkpoint.origin!r}")
        _require_log_signature(submission.note, keys)
        if submission.old > checkpoint.size:
            raise WitnessRefusal(400, f"old {submission.old} exceeds the checkpoint's size {checkpoint.size}")
        with self.store.exclusively():
            held = self.store.held(checkpoint.origin)
            known = 0 if held is None else held.size
            if submission.old != known:
                raise WitnessRefusal(409, f"this witness last cosigned {known} events of this log", known)
            _require_consistent(submission, held)
            if held is not None and now < held.cosigned_at:
                raise WitnessRefusal(503, "this witness's clock is behind its last cosignature of this log; retry")
            text, _ = split_note(submission.note)
            line = self.key.cosign(text, now)
            self.store.keep(checkpoint.origin, Held(checkpoint.size, checkpoint.root, submission.note + line, now))
        return line

    def held_note(self, origin_hash: str) -> str | None:
        """The latest cosigned checkpoint (with the log's signature and this witness's) of the log with this hash."""
        for origin in self.logs:
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                held = self.store.held(origin)
                return None if held is None else held.note
        return None


def _require_log_signature(note: str, keys: Sequence[VerifierKey]) -> None:
    """403 unless a trusted key signed the note and none of the trusted keys' lines fails."""
    verified = False
    for key in keys:
        try:
            key.open(note)
            verified = True
        except NoteError as e:
            if "does not verify" in str(e):
                raise WitnessRefusal(403, str(e)) from None
    if not verified:
        raise WitnessRefusal(403, "no trusted key of this log signed the checkpoint")


def _require_consistent(submission: Submission, held: Held | None) -> None:
    """422 unless the checkpoint extends the one held, by the proof given (C2SP tlog-witness, add-checkpoint)."""
    checkpoint, old, proof = submission.checkpoint, submission.old, submission.proof
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        raise WitnessRefusal(422, "a checkpoint of size 0 must have the empty tree's root")
    if old == 0:
        if proof:
            raise WitnessRefusal(422, "a consistency proof from old 0 must be empty")
        return
    assert held is not None  # noqa: S101  (old equals the size held, which is not 0)
    if old == checkpoint.size and checkpoint.root != held.root:
        raise WitnessRefusal(422, f"another root for the {old} events this witness cosigned: the log forked")
    if not verify_consistency(old, checkpoint.size, held.root, checkpoint.root, proof):
        raise WitnessRefusal(422, f"the consistency proof from {old} to {checkpoint.size} events does not verify")


def witness_key_from_seed(name: str, text: str) -> WitnessSigningKey:
    """The witness key whose 32-byte Ed25519 seed is base64 `text` (the form of its key file)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415  (only here)

    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise WitnessStoreError("the witness key file is not base64 of a 32-byte seed") from None
    if len(seed) != 32:  # noqa: PLR2004  (RFC 8032: a 32-byte private key)
        raise WitnessStoreError(f"the witness key is 32 bytes, not {len(seed)}")
    return WitnessSigningKey(name, Ed25519PrivateKey.from_private_bytes(seed))
