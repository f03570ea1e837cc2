"""The ledger's audit log on each backend: a tree that grows with the log, signed checkpoints kept forever.

The tree and its proofs are checked against the independent RFC 9162 verifier of
test_audit_merkle, over the events as the recorder stores them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from given import SERVICE, consented, published
from test_audit_merkle import (
    independent_consistency_holds,
    independent_inclusion_holds,
    rfc_mth,
)

from audit.leaves import LoggedEvent
from audit.log import AuditLog, CheckpointRefused, ProofUnavailable
from audit.merkle import leaf_hash, verify_consistency
from audit.notes import Checkpoint, SigningKey
from audit.tree import LedgerTree
from ledger.subject_facts import Destruction
from ledger.terms import DestructionGround, SubjectId

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger

ORIGIN = "example.kz/consent-log"
KEY = SigningKey.from_seed(ORIGIN, bytes(range(32)))


def history(ledger: ConsentLedger, subjects: range) -> None:
    if ledger.max_position() == 0:
        published(ledger)
    for n in subjects:
        consented(ledger, f"subject-{n}")


def stored_leaves(ledger: ConsentLedger) -> list[bytes]:
    """The leaf bytes of every event, read straight from the recorder."""
    return [LoggedEvent.of(note).leaf_bytes() for note in ledger.iter_positions()]


def test_the_tree_root_is_the_rfc_root_of_every_stored_event(ledger: ConsentLedger) -> None:
    history(ledger, range(12))
    tree = LedgerTree(ledger)
    assert tree.extend() == ledger.max_position() == 26
    leaves = stored_leaves(ledger)
    for size in range(len(leaves) + 1):
        assert tree.root(size) == rfc_mth(leaves[:size])


def test_the_tree_grows_from_its_last_leaf_in_batches_and_across_restarts(ledger: ConsentLedger) -> None:
    history(ledger, range(5))
    first = LedgerTree(ledger)
    assert first.extend(until=7, batch=3) == 7
    history(ledger, range(5, 11))
    reopened = LedgerTree(ledger)
    sizes: list[int] = []
    assert reopened.extend(batch=4, progress=sizes.append) == 24
    assert sizes == [11, 15, 19, 23, 24]
    assert reopened.extend() == 24
    assert reopened.root(24) == rfc_mth(stored_leaves(ledger))


def test_two_processes_growing_the_tree_at_once_write_each_leaf_once(ledger: ConsentLedger) -> None:
    history(ledger, range(10))
    slow, fast = LedgerTree(ledger), LedgerTree(ledger)

    def the_other_process_overtakes(size: int) -> None:
        if size == 5:
            fast.extend()

    assert slow.extend(batch=5, progress=the_other_process_overtakes) == 22
    assert slow.root(22) == fast.root(22) == rfc_mth(stored_leaves(ledger))


def test_inclusion_proofs_from_the_database_verify_independently_for_every_event(
    ledger: ConsentLedger, clock: FakeClock
) -> None:
    history(ledger, range(8))
    log = AuditLog(ledger, KEY)
    issued = log.issue_checkpoint(clock.now)
    leaves = stored_leaves(ledger)
    for position in range(1, ledger.max_position() + 1):
        proof = log.inclusion_proof(position)
        assert proof.event.position == position
        assert proof.checkpoint == issued.note
        assert independent_inclusion_holds(
            proof.leaf_index, proof.tree_size, leaf_hash(leaves[position - 1]), proof.path, issued.checkpoint.root
        )


def test_checkpoints_accumulate_and_each_extends_the_one_before(ledger: ConsentLedger, clock: FakeClock) -> None:
    log = AuditLog(ledger, KEY)
    empty = log.issue_checkpoint(clock.now)
    history(ledger, range(3))
    first = log.issue_checkpoint(clock.advance(hours=1))
    history(ledger, range(3, 9))
    second = log.issue_checkpoint(clock.advance(hours=1))
    same = log.issue_checkpoint(clock.advance(hours=1))

    kept = list(log.checkpoints())
    assert [c.number for c in kept] == [1, 2, 3, 4]
    assert [c.size for c in kept] == [0, 8, 20, 20]
    assert [c.note for c in kept] == [empty.note, first.note, second.note, same.note]
    for older, newer in pairwise(kept):
        proof = log.consistency_proof(older.size, newer.size).path
        assert verify_consistency(older.size, newer.size, older.checkpoint.root, newer.checkpoint.root, proof)
        assert independent_consistency_holds(
            older.size, newer.size, older.checkpoint.root, newer.checkpoint.root, proof
        )
    assert Checkpoint.parse(KEY.verifier.open(second.note)) == second.checkpoint
    assert second.checkpoint.issued_at is None  # no time line: the witnesses date a checkpoint
    assert second.signed_at == datetime(2026, 3, 2, 11, tzinfo=UTC)


def test_destroying_a_subjects_key_changes_no_leaf(ledger: ConsentLedger, clock: FakeClock) -> None:
    history(ledger, range(4))
    log = AuditLog(ledger, KEY)
    before = log.issue_checkpoint(clock.now)
    leaves_before = stored_leaves(ledger)

    ledger.record(SERVICE, Destruction(subject_id=SubjectId("subject-2"), ground=DestructionGround.SUBJECT_REQUEST))
    after = log.issue_checkpoint(clock.advance(days=1))

    assert ledger.is_destroyed(SubjectId("subject-2"))
    assert stored_leaves(ledger)[: before.size] == leaves_before
    assert log.tree.root(before.size) == before.checkpoint.root
    proof = log.consistency_proof(before.size).path
    assert verify_consistency(before.size, after.size, before.checkpoint.root, after.checkpoint.root, proof)


def test_a_checkpoint_signed_with_another_key_is_refused(ledger: ConsentLedger, clock: FakeClock) -> None:
    history(ledger, range(2))
    AuditLog(ledger, KEY).issue_checkpoint(clock.now)
    impostor = AuditLog(ledger, SigningKey.from_seed(ORIGIN, bytes(32)))
    with pytest.raises(CheckpointRefused, match="signed with another key"):
        impostor.issue_checkpoint(clock.advance(hours=1))
    assert [c.number for c in AuditLog(ledger).checkpoints()] == [1]


def test_a_checkpoint_under_another_origin_is_refused(ledger: ConsentLedger, clock: FakeClock) -> None:
    AuditLog(ledger, KEY).issue_checkpoint(clock.now)
    renamed = AuditLog(ledger, SigningKey.from_seed("example.kz/other", bytes(range(32))))
    with pytest.raises(CheckpointRefused, match=r"issued as 'example\.kz/consent-log'"):
        renamed.issue_checkpoint(clock.now)


def test_a_checkpoint_dated_without_a_time_zone_is_refused(ledger: ConsentLedger) -> None:
    log = AuditLog(ledger, KEY)
    with pytest.raises(ValueError, match="no time zone"):
        log.issue_checkpoint(datetime(2026, 3, 3))  # noqa: DTZ001


def test_a_log_opened_without_the_key_proves_but_does_not_sign(ledger: ConsentLedger, clock: FakeClock) -> None:
    history(ledger, range(2))
    AuditLog(ledger, KEY).issue_checkpoint(clock.now)
    reader = AuditLog(ledger)
    assert reader.inclusion_proof(3).tree_size == 6
    with pytest.raises(CheckpointRefused, match="without the signing key"):
        reader.issue_checkpoint(clock.now)


def test_a_proof_of_what_no_checkpoint_covers_is_refused_with_the_reason(
    ledger: ConsentLedger, clock: FakeClock
) -> None:
    log = AuditLog(ledger, KEY)
    history(ledger, range(2))
    with pytest.raises(ProofUnavailable, match="no checkpoint has been issued yet"):
        log.inclusion_proof(1)
    log.issue_checkpoint(clock.now)
    history(ledger, range(2, 3))
    with pytest.raises(ProofUnavailable, match="newer than checkpoint 1"):
        log.inclusion_proof(7)
    with pytest.raises(ProofUnavailable, match="no event is recorded at position 99"):
        log.inclusion_proof(99)
    with pytest.raises(ProofUnavailable, match="no checkpoint has a tree of 3 events"):
        log.consistency_proof(3)


def test_a_periodic_checkpoint_is_issued_only_when_the_log_grew(ledger: ConsentLedger, clock: FakeClock) -> None:
    log = AuditLog(ledger, KEY)
    history(ledger, range(1))
    first = log.issue_checkpoint(clock.now, only_if_grown=True)
    idle = log.issue_checkpoint(clock.advance(hours=1), only_if_grown=True)
    history(ledger, range(1, 2))
    grown = log.issue_checkpoint(clock.advance(hours=1), only_if_grown=True)
    assert (first.number, idle.number, grown.number) == (1, 1, 2)
    assert grown.size == 6
