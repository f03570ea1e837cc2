"""Importing a JSON Lines file of writes: in batches, resumable, each line recorded exactly once.

Lines go to the ledger a batch at a time (`ConsentLedger.record_many`: one transaction per
batch, each line still judged by its own rule check). Exactly once, across interruptions:

- every line carries an idempotency key, its own or one derived from its number and its bytes,
  so a line recorded before an interruption is answered from its acknowledgement when run
  again, never recorded twice;
- after each batch commits, a small progress record (lines done, their byte length and SHA-256)
  is kept in the ledger's database, so a run over the same file skips straight to the first line
  not yet done instead of re-checking every line. The record is trusted only if the file still
  begins with the bytes it describes; a line edited in place after it (the usual fix of a refused
  line) keeps every other line's key, so nothing is recorded twice either way.

Memory does not grow with the file: one batch of lines is held at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from cli.import_lines import BadLine, Line, parse_line
from ledger.application import Receipt, Request
from ledger.errors import LedgerError, StorageFull, StorageUnavailable
from ledger.storage import Storage
from ledger.subject import subject_key

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from ledger.application import ConsentLedger

DEFAULT_BATCH = 500
"""Lines per transaction: large enough to spread a commit's cost, small enough to redo quickly."""


REFUSALS_KEPT = 1000
"""How many bad lines an outcome lists; the rest are counted (and copied to the rejects file, if any)."""


class NotAttempted(LedgerError):
    """A line after a refused one in the same batch: left unrecorded, because the import stops at the refusal."""


def record_batch(ledger: ConsentLedger, calls: Sequence[Callable[[], Receipt]]) -> list[Receipt | LedgerError]:
    """Make a batch of writes in one transaction; each answers with its receipt or its refusal."""
    return ledger.record_many(calls)


@dataclass(frozen=True)
class Progress:
    """How far an import of one file has got: lines done, and the bytes they occupy."""

    lines: int
    offset: int
    prefix_sha256: str


class ProgressRecords:
    """Import progress per file, in a small table beside the ledger's events."""

    def __init__(self, ledger: ConsentLedger) -> None:
        """Use the ledger's datastore; create the table on first use."""
        storage = Storage.of(ledger.recorder)
        self._datastore: Any = storage.datastore
        self._p = storage.placeholder
        self._table = storage.qualify("import_progress")
        with self._datastore.transaction(commit=True) as c:
            storage.creating_tables(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table} (file TEXT PRIMARY KEY, lines BIGINT NOT NULL, "
                "byte_offset BIGINT NOT NULL, prefix_sha256 TEXT NOT NULL)"
            )

    def get(self, file: str) -> Progress | None:
        """The progress kept for `file`, if any."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT lines, byte_offset, prefix_sha256 FROM {self._table} WHERE file = {self._p}",  # noqa: S608  (our own table; values bound)
                (file,),
            )
            row = c.fetchone()
        if row is None:
            return None
        return Progress(int(row["lines"]), int(row["byte_offset"]), str(row["prefix_sha256"]))

    def put(self, file: str, progress: Progress) -> None:
        """Keep `progress` as the latest for `file`."""
        with self._datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self._table} (file, lines, byte_offset, prefix_sha256) "  # noqa: S608  (our own table; values bound)
                f"VALUES ({self._p}, {self._p}, {self._p}, {self._p}) ON CONFLICT (file) DO UPDATE SET "
                "lines = excluded.lines, byte_offset = excluded.byte_offset, prefix_sha256 = excluded.prefix_sha256",
                (file, progress.lines, progress.offset, progress.prefix_sha256),
            )


def derived_key(number: int, raw: bytes) -> str:
    """The idempotency key of a line that gave none: its number and a digest of its bytes.

    The bytes make two files' line 7 different writes; the number keeps two identical lines of one
    file two writes. Editing one line changes that line's key only.
    """
    return f"import-{number}-{hashlib.sha256(raw).hexdigest()[:32]}"


@dataclass
class Outcome:
    """What an import run did."""

    lines: int = 0
    """Lines done, counting from the first line of the file (skipped lines included)."""
    recorded: int = 0
    already_there: int = 0
    """Lines whose fact an earlier run (or the same key) had recorded: nothing new."""
    skipped_ahead: int = 0
    """Lines the progress record let this run skip without looking at them."""
    refused: list[tuple[int, str]] = field(default_factory=list)
    """The first bad lines passed over (`keep_going`), by number (at most `REFUSALS_KEPT`: see `--rejects`)."""
    refused_count: int = 0
    """Every bad line passed over."""
    last_position: int = 0


class Refused(Exception):
    """The import stopped at a bad line; every line before it is recorded, none after it."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.number = number
        self.reason = reason


@dataclass
class _Pending:
    number: int
    raw: bytes
    line: Line | None
    """None for a blank line, or a bad one passed over (`keep_going`)."""


class FileImport:
    """One run over one file: read, check, record in batches, keep progress."""

    def __init__(
        self,
        ledger: ConsentLedger,
        path: Path,
        *,
        batch: int = DEFAULT_BATCH,
        recorded_by: str | None = None,
        keep_going: bool = False,
        rejects: BinaryIO | None = None,
        progress: Callable[[Outcome, int], None] | None = None,
    ) -> None:
        """Import `path` into `ledger`; `progress(outcome, bytes_done)` is told after every batch."""
        self.ledger = ledger
        self.path = path
        self.batch = batch
        self.recorded_by = recorded_by
        self.keep_going = keep_going
        self.rejects = rejects
        self.progress = progress
        self.records = ProgressRecords(ledger)
        self.file_id = str(path.resolve())
        self.outcome = Outcome()
        self.restarted = False
        """True when a progress record was found but the file no longer begins as it described."""
        self._offset = 0
        self._digest = hashlib.sha256()

    def run(self) -> Outcome:
        """Import every line not yet done; raises `Refused` at the first bad line unless `keep_going`."""
        with self.path.open("rb") as f:
            self._skip_done(f)
            pending: list[_Pending] = []
            for raw in f:
                number = self.outcome.lines + len(pending) + 1
                try:
                    line = self._parse(raw)
                except BadLine as e:
                    if not self.keep_going:
                        self._record(pending)
                        raise Refused(number, str(e)) from None
                    self._reject(number, raw, str(e))
                    line = None
                pending.append(_Pending(number, raw, line))
                if len(pending) >= self.batch:
                    self._record(pending)
                    pending = []
            self._record(pending)
        return self.outcome

    def _parse(self, raw: bytes) -> Line | None:
        if not raw.strip():
            return None
        line = parse_line(raw)
        if line.recorded_by is None and self.recorded_by is None:
            msg = "the line names no recorded_by, and no --recorded-by was given"
            raise BadLine(msg)
        return line

    def _reject(self, number: int, raw: bytes, reason: str) -> None:
        self.outcome.refused_count += 1
        if len(self.outcome.refused) < REFUSALS_KEPT:  # memory must not grow with the file
            self.outcome.refused.append((number, reason))
        if self.rejects is not None:
            self.rejects.write(raw if raw.endswith(b"\n") else raw + b"\n")

    def _skip_done(self, f: BinaryIO) -> None:
        """Seek past the lines the progress record says are done, if the file still begins with them."""
        done = self.records.get(self.file_id)
        if done is None or done.lines == 0:
            return
        remaining = done.offset
        while remaining > 0:
            chunk = f.read(min(remaining, 1 << 20))
            if not chunk:
                break
            self._digest.update(chunk)
            remaining -= len(chunk)
        if remaining == 0 and self._digest.hexdigest() == done.prefix_sha256:
            self.outcome.lines = self.outcome.skipped_ahead = done.lines
            self._offset = done.offset
            return
        self.restarted = True
        f.seek(0)
        self._digest = hashlib.sha256()

    def _record(self, pending: list[_Pending]) -> None:
        """Record lines a batch at a time; in stop mode a refused line leaves every later line unrecorded."""
        while pending:
            pending = self._record_batch(pending)

    def _record_batch(self, pending: list[_Pending]) -> list[_Pending]:
        """Record one batch; the lines still to record if it stopped at a refusal that proved to be a replay."""
        stopped: list[int] = []
        writes = [p for p in pending if p.line is not None]
        sealing = {subject_key(s) for p in writes if p.line is not None and (s := p.line.sealed_for()) is not None}
        with self.ledger.sealer.prepared(sealing) if sealing else contextlib.nullcontext():
            answers = record_batch(self.ledger, [self._call(p, stopped) for p in writes]) if writes else []
        for p, first in zip(writes, answers, strict=True):
            if isinstance(first, NotAttempted):
                continue
            answer = self._alone(p) if isinstance(first, LedgerError) else first
            if isinstance(answer, (StorageUnavailable, StorageFull)):  # the database failed, not the line: stop
                self._done(pending[: pending.index(p)])
                raise answer
            if isinstance(answer, Receipt):
                self._count(answer)
                if stopped and p.number == stopped[0]:  # it had been recorded before: go on after it
                    after = pending.index(p) + 1
                    self._done(pending[:after])
                    return pending[after:]
            elif self.keep_going:
                self._reject(p.number, p.raw, f"{answer.title.lower()}: {answer}")
            else:
                self._done(pending[: pending.index(p)])
                raise Refused(p.number, f"{answer.title.lower()}: {answer}")
        if stopped:  # pragma: no cover  (a refusal is either confirmed above or proved a replay)
            msg = f"line {stopped[0]} stopped its batch without an answer; nothing after it was kept as done"
            raise RuntimeError(msg)
        self._done(pending)
        return []

    def _alone(self, pending: _Pending) -> Receipt | LedgerError:
        """Confirm a refusal outside the batch: a line an earlier run recorded answers with its first receipt.

        A batch looks idempotency keys up only when saving collides with one; a command that refuses
        before that (a breach "already recorded") is asked again on its own, where the key is looked up.
        """
        try:
            return self._call(pending, [])()
        except LedgerError as e:
            return e

    def _count(self, receipt: Receipt) -> None:
        if receipt.replayed:
            self.outcome.already_there += 1
        else:
            self.outcome.recorded += 1
        self.outcome.last_position = max(self.outcome.last_position, receipt.position)

    def _call(self, pending: _Pending, stopped: list[int]) -> Callable[[], Receipt]:
        line = pending.line
        assert line is not None  # noqa: S101  (only writes are called)
        request = Request(
            line.recorded_by or self.recorded_by or "", line.idempotency_key or derived_key(pending.number, pending.raw)
        )

        def call() -> Receipt:
            if stopped and pending.number > stopped[0]:
                raise NotAttempted("an earlier line of the batch was refused")
            stopped.clear()  # `record_many` may decide a batch again from its first call
            try:
                return line.call(self.ledger, request)
            except LedgerError:
                if not self.keep_going:
                    stopped.append(pending.number)
                raise

        return call

    def _done(self, lines: list[_Pending]) -> None:
        """Keep progress: `lines` (the next ones in the file) are done."""
        for p in lines:
            self._digest.update(p.raw)
            self._offset += len(p.raw)
        if lines:
            self.outcome.lines = lines[-1].number
            self.records.put(self.file_id, Progress(self.outcome.lines, self._offset, self._digest.hexdigest()))
        if self.progress is not None:
            self.progress(self.outcome, self._offset)
