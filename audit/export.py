"""Export the log (or a range of it) with its checkpoints, for verification far from our servers.

The export is JSON Lines in the format of `audit.formats`: it streams events from the log a
batch at a time (memory stays bounded however long the log), places each checkpoint right
after the event that completes its tree, and proves each checkpoint consistent with the one
before it in the file. A range carries the hashes of the leaves before it (and, when it ends
before a checkpoint, of those after it up to that checkpoint), so it verifies on its own.

Only events covered by a checkpoint are exported: by default everything up to the newest
checkpoint. An interrupted export resumes: the file is cut back to its last whole event line
and continued from the event after it, writing the same bytes a single run would have.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO
from uuid import UUID

from audit.formats import (
    EXPORT_FORMAT,
    HEADER_KEYS,
    FormatError,
    dump,
    encoded_hashes,
    event_from,
    event_line,
    hashes,
    load,
    natural,
    text,
)
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from eventsourcing.persistence import Notification

    from audit.log import AuditLog, IssuedCheckpoint

_TAIL_CHUNK = 1 << 16


class ExportRefused(LedgerError):
    """The range cannot be exported (not covered by a checkpoint, or a file to resume that is not ours)."""

    title = "The export cannot be made"


@dataclass(frozen=True)
class ExportPlan:
    """What an export holds: leaves [start, end) of the tree and the checkpoints that vouch for them."""

    origin: str
    start: int
    end: int

    @property
    def events(self) -> int:
        """How many events the export holds."""
        return self.end - self.start


def plan(log: AuditLog, from_position: int = 1, to_position: int | None = None) -> ExportPlan:
    """The leaves an export of positions [from_position, to_position] holds; refused if no checkpoint covers them."""
    latest = log.latest_checkpoint()
    if latest is None:
        msg = "no checkpoint has been issued yet: issue one first, the export needs it to be verifiable"
        raise ExportRefused(msg)
    end = latest.size
    if to_position is not None:
        log.tree.extend(until=to_position)
        after = log.tree.first_leaf_from(to_position + 1)
        end = after[0] if after is not None else log.tree.size()
        if end > latest.size:
            covered = log.tree.position_of(latest.size - 1) if latest.size else 0
            msg = (
                f"events after position {covered} are not covered by a checkpoint yet; "
                "issue a checkpoint first, or export up to that position"
            )
            raise ExportRefused(msg)
    first = log.tree.first_leaf_from(from_position)
    start = min(first[0] if first is not None else end, end)
    return ExportPlan(latest.checkpoint.origin, start, end)


def export_log(
    log: AuditLog,
    out: BinaryIO,
    *,
    from_position: int = 1,
    to_position: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportPlan:
    """Write the export of positions [from_position, to_position] (default: all checkpointed events) to `out`."""
    export = plan(log, from_position, to_position)
    _write(log, out, export, progress)
    return export


def export_file(
    log: AuditLog,
    path: Path,
    *,
    from_position: int = 1,
    to_position: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportPlan:
    """Export to a new file at `path`, created only once the range is known to be exportable."""
    export = plan(log, from_position, to_position)
    with path.open("xb") as out:
        _write(log, out, export, progress)
    return export


def _write(log: AuditLog, out: BinaryIO, export: ExportPlan, progress: Callable[[int, int], None] | None) -> None:
    header = {
        "format": EXPORT_FORMAT,
        "origin": export.origin,
        "tree_size": export.start,
        "prefix": encoded_hashes(log.tree.compact_range(0, export.start)),
    }
    out.write(dump(header))
    _write_from(log, out, export, export.start, progress)


def resume_export(
    log: AuditLog,
    path: Path,
    *,
    to_position: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportPlan:
    """Continue an export that was cut short, from its last whole event line, up to `to_position`."""
    with path.open("r+b") as out:
        start, offset, last_position = _resume_point(log, out)
        export = plan(log, 1, to_position)
        export = ExportPlan(export.origin, start, export.end)
        next_leaf = start
        if last_position is not None:
            leaf = log.tree.leaf_of(last_position)
            if leaf is None or leaf < start:
                msg = f"{path} holds an event at position {last_position} that this ledger's audit tree does not"
                raise ExportRefused(msg)
            next_leaf = leaf + 1
        if next_leaf > export.end:
            msg = f"{path} already reaches past the range asked for"
            raise ExportRefused(msg)
        out.seek(offset)
        out.truncate()
        _write_from(log, out, export, next_leaf, progress)
    return export


def _write_from(
    log: AuditLog, out: BinaryIO, export: ExportPlan, next_leaf: int, progress: Callable[[int, int], None] | None
) -> None:
    """Write events [next_leaf, end) with their checkpoints, as if the file had been written from export.start."""
    previous = _last_checkpoint_before(log, export.start, next_leaf)
    pending = _checkpoints_from(log, export.start, next_leaf)
    upcoming = next(pending, None)

    def checkpoints_due(leaf: int) -> None:
        nonlocal previous, upcoming
        while upcoming is not None and upcoming.size == leaf:
            out.write(_checkpoint_line(log, previous, upcoming))
            previous, upcoming = upcoming, next(pending, None)

    leaf = next_leaf
    checkpoints_due(leaf)
    for notes in log.tree.notifications(next_leaf, export.end):
        lines = _event_lines(notes)
        while upcoming is not None and leaf < upcoming.size <= leaf + len(lines):
            cut = upcoming.size - leaf  # a checkpoint goes right after the event that completes its tree
            out.write(b"".join(lines[:cut]))
            lines, leaf = lines[cut:], leaf + cut
            checkpoints_due(leaf)
        out.write(b"".join(lines))
        leaf += len(lines)
        if progress is not None:
            progress(leaf - export.start, export.events)
    if previous is None or previous.size != export.end:
        if upcoming is None:  # pragma: no cover  (plan() ends every export at or before a checkpoint)
            msg = "the export ends after the newest checkpoint"
            raise ExportRefused(msg)
        suffix = encoded_hashes(log.tree.compact_range(export.end, upcoming.size))
        out.write(dump({"tree_size": upcoming.size, "suffix": suffix}))
        out.write(_checkpoint_line(log, previous, upcoming))
    out.flush()
    if progress is not None:
        progress(export.events, export.events)


def _last_checkpoint_before(log: AuditLog, start: int, next_leaf: int) -> IssuedCheckpoint | None:
    """The newest checkpoint already in the file once leaves [start, next_leaf) are written (its line came before)."""
    previous: IssuedCheckpoint | None = None
    for issued in log.checkpoints(min_size=start):
        if issued.size >= next_leaf:
            break
        previous = issued
    return previous


def _event_lines(notes: Sequence[Notification]) -> list[bytes]:
    """The export lines of a batch of stored notifications, in order."""
    return [
        event_line(
            int(note.id),
            note.originator_id if isinstance(note.originator_id, UUID) else UUID(str(note.originator_id)),
            int(note.originator_version),
            str(note.topic),
            bytes(note.state),
        )
        for note in notes
    ]


def _checkpoints_from(log: AuditLog, start: int, next_leaf: int) -> Iterator[IssuedCheckpoint]:
    """The checkpoints still to write once leaves [start, next_leaf) are written: those of `next_leaf` or more."""
    for issued in log.checkpoints(min_size=start):
        if issued.size >= next_leaf:
            yield issued


def _checkpoint_line(log: AuditLog, previous: IssuedCheckpoint | None, issued: IssuedCheckpoint) -> bytes:
    proof = [] if previous is None else log.tree.consistency_proof(previous.size, issued.size)
    return dump({"checkpoint": issued.published, "consistency": encoded_hashes(proof)})


def _resume_point(log: AuditLog, out: BinaryIO) -> tuple[int, int, int | None]:
    """(the export's first leaf, where to cut the file, position of its last whole event line or None)."""
    out.seek(0)
    first_line = out.readline()
    not_ours = ExportRefused(f"{getattr(out, 'name', 'the file')} does not start like an export; cannot resume it")
    try:
        header = load(first_line.rstrip(b"\n"), HEADER_KEYS)
        start = natural(header, "tree_size")
        origin = text(header, "origin")
        prefix = hashes(header, "prefix")
    except FormatError:
        raise not_ours from None
    if not first_line.endswith(b"\n") or header["format"] != EXPORT_FORMAT:
        raise not_ours
    if start > log.tree.size() or prefix != log.tree.compact_range(0, start):
        msg = "the file is an export of another log (its first leaves differ from this ledger's); cannot resume it"
        raise ExportRefused(msg)
    latest = log.latest_checkpoint()
    if latest is not None and latest.checkpoint.origin != origin:
        msg = f"the file is an export of {origin!r}, not of {latest.checkpoint.origin!r}; cannot resume it"
        raise ExportRefused(msg)
    for offset, line in _lines_backwards(out):
        if offset == 0:
            return start, len(first_line), None
        if not line.endswith(b"\n") or not line.startswith(b'{"position":'):
            continue
        try:
            event = event_from(load(line[:-1]))
        except FormatError:
            continue
        return start, offset + len(line), event.position
    return start, len(first_line), None  # pragma: no cover  (the header line is always found)


def _lines_backwards(out: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of every line of the file, last first, reading a block at a time from the end.

    A line keeps its newline; the last one may have none (an export cut off mid-line).
    """
    position = out.seek(0, os.SEEK_END)
    pending = b""
    while position > 0:
        start = max(0, position - _TAIL_CHUNK)
        out.seek(start)
        pending = out.read(position - start) + pending
        position = start
        cut = pending.rfind(b"\n", 0, len(pending) - 1)
        while cut != -1:
            yield position + cut + 1, pending[cut + 1 :]
            pending = pending[: cut + 1]
            cut = pending.rfind(b"\n", 0, len(pending) - 1)
    if pending:
        yield 0, pending
