"""Integrity on read: every stored event rehashed against the tree's leaves and the checkpoints the log signed.

The tree keeps each event's leaf hash from the moment it was logged, and each checkpoint signs
the root of those leaves. A sweep reads the log once, in order, a batch at a time, and finds:

- an event whose stored bytes no longer hash to its leaf (a row edited, or two rows swapped);
- a leaf whose event is gone (a row deleted), and an event the tree never logged among those it
  did (a row slipped in);
- a signed checkpoint whose root the events no longer give, or a tree shorter than a checkpoint
  signed (tree rows cut or rewritten with the events): the log cannot prove it extends what it
  signed, which is a fork;
- with witnesses, a checkpoint a witness cosigned, signed by this log, that its tree does not
  have (everything was cut, checkpoints included): a fork too.

Edited or missing events raise the damage alarm, naming their positions; a fork raises the fork
alarm, which halts the log (`audit.alarms`). A clean sweep lowers the damage alarm; only an
operator's `consent-ledger audit check` lowers a fork alarm, once everything holds again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from eventsourcing.domain import OriginatorVersionError

from audit.alarms import Alarm, AlarmKind, LogDamaged
from audit.leaves import LoggedEvent
from audit.merkle import CompactRange

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from uuid import UUID

    from audit.log import AuditLog, IssuedCheckpoint

BATCH = 5000


@dataclass(frozen=True)
class Finding:
    """One thing that does not hold, where it is, and whether it is a fork (the log cannot extend what it signed)."""

    what: str
    position: int | None = None
    leaf: int | None = None
    fork: bool = False

    def sentence(self) -> str:
        """The finding as one line: where, then what."""
        where = f"position {self.position}" if self.position is not None else "the tree"
        leaf = f" (leaf {self.leaf})" if self.leaf is not None and self.position is not None else ""
        return f"{where}{leaf}: {self.what}"


@dataclass
class IntegrityReport:
    """What a sweep found over the events it read."""

    events: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether everything held."""
        return not self.findings

    @property
    def damaged(self) -> list[Finding]:
        """The findings about stored events (edited, deleted, slipped in)."""
        return [f for f in self.findings if not f.fork]

    @property
    def forks(self) -> list[Finding]:
        """The findings that the log cannot prove it extends what it signed."""
        return [f for f in self.findings if f.fork]


def sweep(audit_log: AuditLog, *, batch: int = BATCH, progress: Callable[[int], None] | None = None) -> IntegrityReport:
    """Read every logged event once and check it, the leaves and the signed checkpoints (see the module)."""
    report = IntegrityReport()
    signed = {c.size: c for c in audit_log.checkpoints()}
    frontier = CompactRange()
    leaf, previous_position = 0, 0
    while rows := _leaves(audit_log, leaf, batch):
        last = rows[-1][1]
        notes = audit_log.ledger.recorder.select_notifications(
            start=previous_position + 1, limit=last - previous_position, stop=last
        )
        by_position = {int(n.id): n for n in notes}
        logged = {position for _, position in rows}
        report.findings += [
            Finding("an event the tree never logged sits among those it did (a row slipped in)", p)
            for p in sorted(by_position)
            if p not in logged
        ]
        stored = _stored_leaves(audit_log, rows[0][0], rows[-1][0])
        for index, position in rows:
            frontier.add(_checked_leaf(report, index, position, by_position.get(position), stored.get(index)))
            _against_checkpoint(report, frontier, signed.get(frontier.size))
        report.events += len(rows)
        leaf, previous_position = rows[-1][0] + 1, last
        if progress is not None:
            progress(report.events)
    _shorter_than_signed(report, audit_log, frontier.size)
    _witness_views(report, audit_log)
    return report


def _checked_leaf(report: IntegrityReport, index: int, position: int, note: Any | None, stored: bytes | None) -> bytes:
    """The leaf hash of the event at this leaf, as stored now; findings when it is gone or differs from the tree's."""
    if note is None:
        report.findings.append(Finding("the event this leaf logged is gone (its row was deleted)", position, index))
        return stored if stored is not None else bytes(32)
    recomputed = LoggedEvent.of(note).leaf_hash()
    if stored is None:
        report.findings.append(Finding("the tree lost this event's leaf", position, index, fork=True))
    elif recomputed != stored:
        report.findings.append(
            Finding("the stored event does not hash to the leaf logged for it (its row was changed)", position, index)
        )
    return recomputed


def _against_checkpoint(report: IntegrityReport, frontier: CompactRange, issued: IssuedCheckpoint | None) -> None:
    if issued is None:
        return
    report.checkpoints += 1
    if frontier.root() != issued.checkpoint.root and not report.damaged:
        what = (
            f"the first {issued.size} events hash to another root than checkpoint {issued.number} signed, although "
            "every event matches its leaf: the tree rows were rewritten with the events"
        )
        report.findings.append(Finding(what, fork=True))


def _shorter_than_signed(report: IntegrityReport, audit_log: AuditLog, size: int) -> None:
    latest = audit_log.latest_checkpoint()
    if latest is not None and latest.size > size:
        what = (
            f"the tree holds {size} leaves, but checkpoint {latest.number} signed {latest.size}: "
            "events and tree rows were cut"
        )
        report.findings.append(Finding(what, fork=True))


def _witness_views(report: IntegrityReport, audit_log: AuditLog) -> None:
    """With witnesses: each one's latest cosigned checkpoint of this log must be one the tree has."""
    panel, key = audit_log.witnesses, audit_log.signing_key_verifier()
    latest = audit_log.latest_checkpoint()
    origin = latest.checkpoint.origin if latest is not None else (key.name if key is not None else None)
    if panel is None or origin is None:
        return
    for witness in panel.witnesses:
        held = panel.held_checkpoint(witness, key, origin)
        if held is not None and not audit_log.tree_holds(held):
            what = (
                f"witness {witness.key.name} cosigned a checkpoint of {held.size} events (root "
                f"{held.root.hex()[:16]}…) signed by this log, which its tree does not have: the log was cut or "
                "rewritten after that checkpoint"
            )
            report.findings.append(Finding(what, fork=True))


def damaged_events(audit_log: AuditLog, originator_id: UUID) -> list[Finding]:
    """The stored events of one aggregate that do not hash to their leaves, or are gone from between its others.

    Checked on the raw rows, before anything is decoded. A row deleted after the aggregate's last
    is not seen here (nothing of the aggregate points to it); the sweep finds it.
    """
    ledger = audit_log.ledger
    storage = audit_log.tree.storage
    found: list[Finding] = []
    previous: tuple[int, int] = (0, 0)  # (version, position) of the row before
    for stored in ledger.recorder.select_events(originator_id):
        version = stored.originator_version
        position = storage.position_of(originator_id, version)
        leaf = None if position is None else audit_log.tree.leaf_of(position)
        if position is None or leaf is None:
            continue  # not logged yet: nothing to hold it against
        if version != previous[0] + 1:
            found += _gone_between(audit_log, previous[1], position)
        previous = (version, position)
        event = LoggedEvent(position, originator_id, version, stored.topic, bytes(stored.state))
        if _stored_leaves(audit_log, leaf, leaf).get(leaf) != event.leaf_hash():
            what = "the stored event does not hash to the leaf logged for it (its row was changed)"
            found.append(Finding(what, position, leaf))
    return found


def _gone_between(audit_log: AuditLog, after: int, before: int) -> list[Finding]:
    """The logged events between two positions whose rows are gone."""
    tree = audit_log.tree
    p = tree.storage.placeholder
    with tree.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT leaf_index, position FROM {tree.leaves_table} WHERE position > {p} AND position < {p}",  # noqa: S608  (our own table; values bound)
            (after, before),
        )
        logged = {int(row["position"]): int(row["leaf_index"]) for row in c.fetchall()}
    if not logged:
        return []
    notes = audit_log.ledger.recorder.select_notifications(start=after + 1, limit=before - after, stop=before - 1)
    present = {int(n.id) for n in notes}
    what = "the event this leaf logged is gone (its row was deleted)"
    return [Finding(what, position, leaf) for position, leaf in sorted(logged.items()) if position not in present]


UNREADABLE = (InvalidTag, OriginatorVersionError, LookupError, TypeError, ValueError)
"""What decoding a changed or missing row raises: a seal that does not open, versions out of order, bad JSON."""


def require_sound(audit_log: AuditLog, originator_id: UUID) -> None:
    """Refuse (LogHalted, LogDamaged) to answer from a log with an alarm, or from rows that no longer match leaves.

    Checked before the rows are decoded, so a changed row never gives a 500.
    """
    audit_log.require_not_halted()
    damage = audit_log.alarms.of(AlarmKind.DAMAGE)
    if damage is not None:
        msg = f"{damage.sentence()}; nothing is proven from the log until it is mended (`consent-ledger audit check`)"
        raise LogDamaged(msg)
    findings = damaged_events(audit_log, originator_id)
    if findings:
        raise LogDamaged(_naming(findings))


def unreadable(audit_log: AuditLog, originator_id: UUID, error: BaseException) -> LogDamaged:
    """The refusal for rows that could not be decoded: naming the damaged positions found, or saying what failed."""
    findings = damaged_events(audit_log, originator_id)
    if findings:
        return LogDamaged(_naming(findings))
    return LogDamaged(
        f"the stored events could not be read ({type(error).__name__}): a row may have been changed or deleted; "
        "`consent-ledger audit check` names where"
    )


def _naming(findings: list[Finding]) -> str:
    shown = "; ".join(f.sentence() for f in findings[:5])
    return f"{shown}; no evidence is built on these rows (`consent-ledger audit check` shows every damaged position)"


def record(audit_log: AuditLog, report: IntegrityReport, at: datetime) -> None:
    """Raise or lower the alarms as the report says (a fork alarm is only raised here, never lowered)."""
    alarms = audit_log.alarms
    damaged = report.damaged
    if damaged:
        positions = tuple(f.position for f in damaged if f.position is not None)
        reason = f"{len(damaged)} stored event(s) do not match the signed log: {damaged[0].what}"
        alarms.raise_alarm(Alarm(AlarmKind.DAMAGE, at, reason, positions))
    else:
        alarms.clear(AlarmKind.DAMAGE)
    if report.forks:
        audit_log.halt(report.forks[0].what, at)


def _leaves(audit_log: AuditLog, start: int, batch: int) -> list[tuple[int, int]]:
    tree = audit_log.tree
    p = tree.storage.placeholder
    with tree.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT leaf_index, position FROM {tree.leaves_table} WHERE leaf_index >= {p} "  # noqa: S608  (our own table; values bound)
            f"ORDER BY leaf_index LIMIT {int(batch)}",
            (start,),
        )
        return [(int(row["leaf_index"]), int(row["position"])) for row in c.fetchall()]


def _stored_leaves(audit_log: AuditLog, first: int, last: int) -> dict[int, bytes]:
    tree = audit_log.tree
    p = tree.storage.placeholder
    with tree.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT node_index, hash FROM {tree.nodes_table} WHERE level = 0 AND node_index >= {p} "  # noqa: S608  (same)
            f"AND node_index <= {p}",
            (first, last),
        )
        return {int(row["node_index"]): bytes(row["hash"]) for row in c.fetchall()}
