"""An auditor replays an export in a database of their own and finds what we would, at the same positions."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from given import SERVICE, consented, published

from audit.export import export_file
from audit.log import AuditLog
from audit.notes import SigningKey
from audit.replay import load_export, original_position
from ledger.claim import ClaimFiling
from ledger.storage import Database
from ledger.terms import SubjectId
from projections.compliance import check_history
from projections.questions import LedgerQuestions
from projections.rebuild import rebuild

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock

    from ledger.application import ConsentLedger


def findings(ledger: ConsentLedger, database: Database, now: object) -> list[tuple[str, int | None]]:
    view = rebuild(ledger, database)
    return [(f.rule, f.position) for f in check_history(LedgerQuestions(view), now)]  # type: ignore[arg-type]


def test_replaying_an_export_rebuilds_the_same_answers_and_findings_at_the_exported_positions(
    ledger: ConsentLedger, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    published(ledger, at=clock.now - timedelta(days=3))
    consented(ledger, "u-1", at=clock.now - timedelta(days=2))
    ledger.record(SERVICE, ClaimFiling(claim_ref="CL-1", subject_id=SubjectId("u-1"), claimant="A. Person"))
    clock.advance(days=45)  # the claim's answer is now overdue
    export = tmp_path / "ledger.jsonl"
    log = AuditLog(ledger, SigningKey.from_seed("consent-ledger", bytes(32)))
    log.issue_checkpoint(clock.now)
    export_file(log, export)

    replica = load_export(export, Database.from_url(f"sqlite:///{tmp_path}/replay.db"))
    try:
        ours = findings(ledger, database, clock.now)
        theirs = [
            (rule, original_position(replica, p) if p else None)
            for rule, p in findings(replica, Database.from_url(f"sqlite:///{tmp_path}/replay.db"), clock.now)
        ]
        stored = [(n.originator_id, n.originator_version, n.topic, n.state) for n in ledger.iter_positions()]
        replayed = [(n.originator_id, n.originator_version, n.topic, n.state) for n in replica.iter_positions()]
    finally:
        replica.close()
    assert ours == theirs == [("deadline-overdue", None)]
    assert replayed == stored
