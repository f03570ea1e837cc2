"""The view follows the log while the service runs, and resumes from its position after a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from given import POLICY, SERVICE, consented, published

from ledger.subject import subject_key
from ledger.subject_facts import Withdrawal
from ledger.terms import SubjectId
from projections.keeper import BackgroundKeeper, ViewKeeper, open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database


def test_a_running_keeper_follows_new_facts_without_being_asked(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger)
    view = open_view(database)
    background = BackgroundKeeper(ViewKeeper(ledger, view))
    background.start()
    try:
        receipt = consented(ledger, "u-1")
        # No catch-up on the reader's side: the background keeper alone must get there.
        assert view.wait_for(receipt.position, timeout=10)
        answer = LedgerQuestions(view).accepted_version_at(SubjectId("u-1"), POLICY, clock.now)
        assert answer.accepted is not None
        assert answer.accepted.acceptance.policy_version == "1"
    finally:
        background.stop()


def test_a_restarted_keeper_resumes_from_its_tracked_position_and_applies_each_event_once(
    ledger: ConsentLedger, database: Database
) -> None:
    published(ledger)
    consented(ledger, "u-1")
    first = ViewKeeper(ledger, open_view(database))
    assert first.catch_up() == ledger.max_position()
    ledger.record(SERVICE, Withdrawal(subject_id=SubjectId("u-1"), policy_id=POLICY, channel="app"))

    restarted = ViewKeeper(ledger, open_view(database))
    assert restarted.catch_up() == 1  # only the new event
    assert restarted.catch_up() == 0
    assert restarted.position == ledger.max_position()
    assert len(restarted.view.entries(subject_key(SubjectId("u-1")))) == 2
