"""Replaying the whole history re-judges every fact: an auditor finds what broke a rule, with its position."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from given import SERVICE, consented, published

from ledger.breach import BreachFinding
from ledger.claim import ClaimAnswer, ClaimFiling
from ledger.subject import Subject, subject_key
from ledger.subject_facts import Block, Disclosure
from ledger.terms import BlockGround, BlockRequester, DisclosureGround, RecipientCategory, SubjectId
from projections.compliance import check_history
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database


def findings(ledger: ConsentLedger, database: Database, clock: FakeClock) -> list[tuple[str, int | None, str]]:
    view = open_view(database)
    ViewKeeper(ledger, view).catch_up()
    return [(f.rule, f.position, f.severity) for f in check_history(LedgerQuestions(view), clock.now)]


def test_a_history_kept_by_the_rules_has_nothing_to_report(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=3))
    consented(ledger, "u-1", at=clock.now - timedelta(days=2))
    ledger.record(
        SERVICE,
        Disclosure(
            subject_id=SubjectId("u-1"),
            recipient="CDEK",
            recipient_category="courier",
            purpose="4.1.1",
            data_categories=frozenset({"address"}),
            ground="order_fulfilment",
            reference="order-1",
        ),
    )
    assert findings(ledger, database, clock) == []


def test_a_disclosure_written_around_the_rules_is_reported_with_its_position(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=3))
    consented(ledger, "u-1", at=clock.now - timedelta(days=2), third_parties=False)
    # A faulty writer that skipped the rule check: the event goes straight into the store.
    subject: Subject = ledger.repository.get(subject_key(SubjectId("u-1")))
    subject.trigger_event(
        Subject.DataDisclosed,
        subject_id=SubjectId("u-1"),
        recorded_by="rogue-script",
        occurred_at=clock.now,
        timestamp=clock.now,
        recipient="AdBroker",
        recipient_category=RecipientCategory.OTHER,
        purpose="marketing",
        data_categories=("contact",),
        ground=DisclosureGround.WRITTEN_PERMISSION,
        reference="none",
        legal_basis="",
        flagged_while_blocked=False,
    )
    position = ledger.save(subject)[0].notification.id

    assert findings(ledger, database, clock) == [("disclosure-without-ground", position, "violation")]


def test_a_state_request_served_while_blocked_is_flagged_as_a_notice(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=3))
    consented(ledger, "u-1", at=clock.now - timedelta(days=2))
    ledger.record(
        SERVICE,
        Block(
            subject_id=SubjectId("u-1"),
            block_id="B-1",
            requester=BlockRequester.SUBJECT,
            ground=BlockGround.INACCURATE_DATA,
        ),
        clock.now - timedelta(days=1),
    )
    served = ledger.record(
        SERVICE,
        Disclosure(
            subject_id=SubjectId("u-1"),
            recipient="Police",
            recipient_category="state_authority",
            purpose="investigation",
            data_categories=frozenset({"contact"}),
            ground="state_request",
            reference="REQ-77",
        ),
    )
    assert findings(ledger, database, clock) == [("state-request-while-blocked", served.position, "notice")]


def test_a_claim_answered_late_and_a_breach_with_untold_subjects_are_reported(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger)
    consented(ledger, "u-1")
    ledger.record(SERVICE, ClaimFiling(claim_ref="CL-1", subject_id=SubjectId("u-1"), claimant="A. Person"))
    ledger.record(
        SERVICE,
        BreachFinding(
            breach_ref="BR-1", data_categories=frozenset({"contact"}), subject_ids=frozenset({SubjectId("u-1")})
        ),
    )
    clock.advance(days=40)
    ledger.record(SERVICE, ClaimAnswer(claim_ref="CL-1", outcome="rejected", channel="email"))

    rules = sorted(rule for rule, _, _ in findings(ledger, database, clock))

    assert rules == ["breach-subjects-not-told", "deadline-met-late", "deadline-overdue"]
