"""A subject's request starts its legal deadline; the answer that names what was done stops it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from given import SERVICE, consented, published

from ledger.application import Request
from ledger.application import text_sha256 as digest
from ledger.errors import InvalidFact, NothingToAct
from ledger.policy import PolicyVersion
from ledger.subject_facts import (
    Acceptance,
    Block,
    BlockLift,
    Correction,
    Disclosure,
    RequestAnswer,
    Retraction,
    SubjectRequest,
    TransferNotice,
    Verification,
)
from ledger.terms import (
    ConsentMethod,
    DataCategory,
    Language,
    Purpose,
    RecipientCategory,
    RequestKind,
    SubjectId,
)
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger, Receipt
    from ledger.storage import Database

U1 = SubjectId("u-1")


def deadlines(ledger: ConsentLedger, database: Database, now: datetime) -> list[tuple[str, str, str, str]]:
    view = open_view(database)
    ViewKeeper(ledger, view).catch_up()
    return [
        (a.row.obligation, a.row.reference, a.row.due_at.date().isoformat(), a.status.value)
        for a in LedgerQuestions(view).deadlines(now)
    ]


def test_a_correction_request_on_the_eve_of_nauryz_is_due_after_the_holidays_and_met_by_the_correction(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger)
    consented(ledger, U1)
    asked_at = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)  # Friday 20 March; 21-23 March are Nauryz
    clock.now = asked_at
    ledger.record(
        SERVICE, SubjectRequest(subject_id=U1, request_id="R-1", kind=RequestKind.CORRECTION, channel="email")
    )
    # Nauryz falls on 21-23 March; its weekend days move to 24-25 March: the first working day is the 26th.
    assert deadlines(ledger, database, clock.now) == [("correction", "R-1", "2026-03-26", "open")]

    clock.advance(days=5)
    corrected = ledger.record(SERVICE, Correction(subject_id=U1, data_categories=frozenset({DataCategory("address")})))
    ledger.record(SERVICE, RequestAnswer(subject_id=U1, request_id="R-1", outcome="done", by_entry=corrected.version))

    assert deadlines(ledger, database, clock.now) == [("correction", "R-1", "2026-03-26", "met")]


def test_an_access_request_left_unanswered_becomes_overdue(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger)
    consented(ledger, U1)
    ledger.record(SERVICE, SubjectRequest(subject_id=U1, request_id="A-1", kind=RequestKind.ACCESS, channel="app"))
    clock.advance(days=10)
    assert [d[3] for d in deadlines(ledger, database, clock.now)] == ["overdue"]


def test_a_request_is_done_only_by_a_later_entry_of_the_kind_it_asked_for(ledger: ConsentLedger) -> None:
    published(ledger)
    consent = consented(ledger, U1)
    ledger.record(
        SERVICE, SubjectRequest(subject_id=U1, request_id="W-1", kind=RequestKind.WITHDRAWAL, channel="paper")
    )
    with pytest.raises(InvalidFact, match="withdrawal request is done by a later"):
        ledger.record(SERVICE, RequestAnswer(subject_id=U1, request_id="W-1", outcome="done", by_entry=consent.version))
    with pytest.raises(InvalidFact, match="refusal must give its reasons"):
        ledger.record(SERVICE, RequestAnswer(subject_id=U1, request_id="W-1", outcome="refused"))
    with pytest.raises(NothingToAct, match="no request 'W-2'"):
        ledger.record(SERVICE, RequestAnswer(subject_id=U1, request_id="W-2", outcome="answered"))


def test_a_request_recorded_over_http_shows_as_an_open_deadline_until_answered(
    ledger: ConsentLedger, database: Database
) -> None:

    from bearer import bearer  # noqa: PLC0415
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    published(ledger)
    consented(ledger, U1)
    with TestClient(create_app(ledger, open_view(database)), headers=bearer(ledger, "clerk")) as client:
        asked = client.post(
            f"/v1/subjects/{U1}/requests", json={"request_id": "A-9", "kind": "access", "channel": "app"}
        )
        assert asked.status_code == 201, asked.text
        listed = client.get("/v1/deadlines", params={"wait_for_position": asked.json()["position"]}).json()
        assert [(d["obligation"], d["status"]) for d in listed["deadlines"]] == [("access_request", "open")]

        answered = client.post(f"/v1/subjects/{U1}/requests/A-9/answer", json={"outcome": "answered"})
        assert answered.status_code == 201, answered.text
        listed = client.get("/v1/deadlines", params={"wait_for_position": answered.json()["position"]}).json()
        assert [(d["obligation"], d["status"]) for d in listed["deadlines"]] == [("access_request", "met")]
        refused = client.post(f"/v1/subjects/{U1}/requests/A-9/answer", json={"outcome": "answered"})
        assert refused.status_code == 409


def test_a_verification_finding_no_violation_gives_one_working_day_to_unblock(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    from ledger.terms import BlockGround, BlockOutcome, BlockRequester  # noqa: PLC0415

    published(ledger)
    consented(ledger, U1)
    ledger.record(
        SERVICE,
        Block(
            subject_id=U1,
            block_id="B-1",
            requester=BlockRequester.AUTHORISED_BODY,
            ground=BlockGround.UNLAWFUL_PROCESSING,
        ),
    )
    clock.now = datetime(2026, 5, 8, 9, 0, tzinfo=UTC)  # Friday; Victory Day (Sat 9 May) is observed on Monday 11
    ledger.record(SERVICE, Verification(subject_id=U1, block_id="B-1", violation_found=False))
    assert deadlines(ledger, database, clock.now) == [("unblocking", "B-1", "2026-05-12", "open")]

    clock.now = datetime(2026, 5, 13, 9, 0, tzinfo=UTC)
    ledger.record(SERVICE, BlockLift(subject_id=U1, block_id="B-1", outcome=BlockOutcome.REQUEST_UNFOUNDED))

    assert deadlines(ledger, database, clock.now) == [("unblocking", "B-1", "2026-05-12", "met_late")]
    with pytest.raises(NothingToAct, match="no block 'B-1' in force"):
        ledger.record(SERVICE, Verification(subject_id=U1, block_id="B-1", violation_found=True))


def test_a_disclosure_under_a_version_promising_notice_must_be_told_within_ten_working_days(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    disclosed = a_disclosure_under_a_version_promising_notice(ledger)
    assert deadlines(ledger, database, clock.now) == [
        ("transfer_notice", "CDEK", "2026-03-17", "open")
    ]  # 9 March is off (8 March was a Sunday)

    clock.advance(days=2)
    ledger.record(SERVICE, TransferNotice(subject_id=U1, disclosure_number=disclosed.version, channel="email"))

    assert deadlines(ledger, database, clock.now) == [("transfer_notice", "CDEK", "2026-03-17", "met")]


def test_an_obligation_met_after_the_moment_asked_about_was_still_open_then(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    from datetime import timedelta  # noqa: PLC0415

    from ledger.deadlines import DeadlineStatus  # noqa: PLC0415

    published(ledger)
    consented(ledger, U1)
    asked = clock.now
    ledger.record(SERVICE, SubjectRequest(subject_id=U1, request_id="A-1", kind=RequestKind.ACCESS, channel="app"))
    clock.advance(days=2)
    ledger.record(SERVICE, RequestAnswer(subject_id=U1, request_id="A-1", outcome="answered"))
    view = open_view(database)
    ViewKeeper(ledger, view).catch_up()
    questions = LedgerQuestions(view)

    then = questions.deadlines(asked + timedelta(days=1), {DeadlineStatus.OPEN})
    before_it_started = questions.deadlines(asked - timedelta(days=1))

    assert [(a.row.reference, a.status.value) for a in then] == [("A-1", "open")]
    assert before_it_started == []


def test_a_struck_out_disclosure_owes_no_transfer_notice(ledger: ConsentLedger, database: Database) -> None:
    disclosed = a_disclosure_under_a_version_promising_notice(ledger)
    ledger.record(
        SERVICE, Retraction(subject_id=U1, retracted_number=disclosed.version, reason="recorded for the wrong subject")
    )

    assert deadlines(ledger, database, ledger.clock()) == []


def a_disclosure_under_a_version_promising_notice(ledger: ConsentLedger) -> Receipt:
    """A courier disclosure for U1 under a consent to a version that promises notice of transfers (Art. 19)."""
    ledger.record(
        Request("privacy-officer"),
        PolicyVersion(
            policy_id="notifying",
            version="1",
            text_sha256={Language.EN: digest("We tell")},
            purposes=frozenset({Purpose("4.1.1")}),
            optional_purposes=frozenset(),
            recipient_categories=frozenset({RecipientCategory.COURIER}),
            notifies_transfers=True,
        ),
    )
    ledger.record(
        SERVICE,
        Acceptance(
            subject_id=U1,
            policy_id="notifying",
            policy_version="1",
            language=Language.EN,
            text_sha256=digest("We tell"),
            method=ConsentMethod.REGISTRATION,
            channel="app",
            data_categories=frozenset({"contact", "address"}),
            third_parties=True,
        ),
    )
    return ledger.record(
        SERVICE,
        Disclosure(
            subject_id=U1,
            recipient="CDEK",
            recipient_category="courier",
            purpose="4.1.1",
            data_categories=frozenset({"address"}),
            ground="order_fulfilment",
            reference="order-1",
        ),
    )
