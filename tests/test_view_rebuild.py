"""A view can be rebuilt from position 0 into fresh tables and swapped in while readers keep reading."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from given import POLICY, SERVICE, consented, published

from ledger.subject_facts import Disclosure, Withdrawal
from ledger.terms import DataCategory, DisclosureGround, Purpose, RecipientCategory, SubjectId
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions
from projections.rebuild import fill_part, rebuild
from projections.view import FORMAT, INDEXES, TABLES
from projections.view_backends import SQLiteLedgerView

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database
    from projections.view import LedgerView


def test_a_rebuilt_generation_answers_the_same_and_readers_never_stop(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=30))
    for n in range(40):
        consented(ledger, f"u-{n}", at=clock.now - timedelta(days=n % 20))
    view = open_view(database)
    view.refresh_interval = 0.0
    ViewKeeper(ledger, view).catch_up()
    questions = LedgerQuestions(view)
    expected = questions.accepted_version_at(SubjectId("u-7"), POLICY, clock.now)
    answers: list[bool] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                answer = questions.accepted_version_at(SubjectId("u-7"), POLICY, clock.now)
                decision = questions.may_disclose(
                    SubjectId("u-7"), RecipientCategory.COURIER, Purpose("4.1.1"), clock.now
                )
                answers.append(answer == expected and decision.allowed)
            except BaseException as e:  # noqa: BLE001  (the test reports any failure a reader saw)
                errors.append(e)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        first = rebuild(ledger, database)
        second = rebuild(ledger, database)
    finally:
        stop.set()
        thread.join()

    assert errors == []
    assert answers
    assert all(answers)
    # The reader may have asked its last question just before the second swap: its next one follows it.
    assert questions.accepted_version_at(SubjectId("u-7"), POLICY, clock.now) == expected
    assert (first.generation, second.generation) == (view.generation - 1, view.generation)
    assert second.position() == ledger.max_position()
    assert questions.accepted_version_at(SubjectId("u-7"), POLICY, clock.now) == expected
    tables = {
        gen: second._rows(f"SELECT COUNT(*) AS n FROM {second.qualify(f'cl{FORMAT}{gen}_subject_entries')}", ())
        for gen in (second.generation,)
    }
    assert tables[second.generation][0]["n"] == 40


def test_a_generation_built_before_answers_were_pre_judged_is_judged_when_opened(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=30))
    for n in range(5):
        consented(ledger, f"u-{n}", at=clock.now - timedelta(days=n))
    view = open_view(database)
    ViewKeeper(ledger, view).catch_up()
    questions = LedgerQuestions(view)
    expected = [
        (
            questions.accepted_version_at(SubjectId(f"u-{n}"), POLICY, clock.now),
            questions.may_disclose(SubjectId(f"u-{n}"), RecipientCategory.COURIER, Purpose("4.1.1"), clock.now),
        )
        for n in range(5)
    ]
    assert all(decision.allowed for _, decision in expected)
    with view.datastore.transaction(commit=True) as c:  # what an older version of the keeper left behind
        for table in ("standing_consents", "disclosure_grants"):
            c.execute(f"DELETE FROM {view.table(table)}")

    reopened = LedgerQuestions(open_view(database))
    assert [
        (
            reopened.accepted_version_at(SubjectId(f"u-{n}"), POLICY, clock.now),
            reopened.may_disclose(SubjectId(f"u-{n}"), RecipientCategory.COURIER, Purpose("4.1.1"), clock.now),
        )
        for n in range(5)
    ] == expected


def busy(ledger: ConsentLedger, clock: FakeClock) -> None:
    """Ninety subjects who consent, have their address disclosed, and a third of whom withdraw."""
    # Enough rows of each kind that a rebuild takes its bulk paths (PostgreSQL copies from 64 rows on).
    published(ledger, at=clock.now - timedelta(days=30))
    for n in range(90):
        subject = SubjectId(f"u-{n}")
        consented(ledger, subject, at=clock.now - timedelta(days=n % 20))
        order = f"order-{n}"
        ledger.record(
            SERVICE,
            Disclosure(
                subject_id=subject,
                recipient="Kazpost Courier",
                recipient_category=RecipientCategory.COURIER,
                purpose=Purpose("4.1.1"),
                data_categories=frozenset({DataCategory("address")}),
                ground=DisclosureGround.ORDER_FULFILMENT,
                reference=order,
            ),
        )
        if n % 3 == 0:
            clock.advance(hours=1)
            ledger.record(SERVICE, Withdrawal(subject_id=subject, policy_id=POLICY, channel="app"))


def test_a_rebuild_fills_the_same_rows_as_a_keeper_following_in_small_batches(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    busy(ledger, clock)
    live = open_view(database)
    ViewKeeper(ledger, live).catch_up(batch=7)

    rebuilt = rebuild(ledger, database)

    assert rebuilt.generation == live.generation + 1
    assert rebuilt.position() == live.position() == ledger.max_position()
    for table in TABLES:
        assert rows_of(rebuilt, table) == rows_of(live, table), table
    assert indexes_of(rebuilt) == indexes_of(live) == set(INDEXES)  # built after the fill, before the swap


def test_a_rebuild_in_parts_by_subject_fills_the_same_rows_as_one_keeper(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    busy(ledger, clock)
    live = open_view(database)
    ViewKeeper(ledger, live).catch_up(batch=7)

    rebuilt = rebuild(ledger, database, parts=3)

    assert rebuilt.position() == ledger.max_position()
    for table in TABLES:
        assert rows_of(rebuilt, table) == rows_of(live, table), table


def test_a_fill_in_parts_that_stopped_part_way_resumes_each_part_where_it_was(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    busy(ledger, clock)
    live = open_view(database)
    ViewKeeper(ledger, live).catch_up()
    fresh = open_view(database, generation=live.generation + 1, indexed=False)
    fill_part(database, fresh.generation, (1, 2), ledger.max_position() // 2)  # part 1 got half-way, part 0 nowhere
    assert fresh.position() == 0

    rebuilt = rebuild(ledger, database, parts=2)

    assert rebuilt.generation == fresh.generation
    for table in TABLES:
        assert rows_of(rebuilt, table) == rows_of(live, table), table


def indexes_of(view: LedgerView) -> set[str]:
    if isinstance(view, SQLiteLedgerView):
        rows = view._rows("SELECT name FROM sqlite_master WHERE type = 'index'", ())
    else:
        rows = view._rows("SELECT indexname AS name FROM pg_indexes WHERE schemaname = ?", (view.datastore.schema,))
    names = {r["name"].removeprefix(view.prefix) for r in rows if r["name"].startswith(view.prefix)}
    return {n for n in names if not n.endswith("_pkey")}  # (PostgreSQL names its primary keys too)


def rows_of(view: LedgerView, table: str) -> list[tuple[object, ...]]:
    return sorted(tuple(r) for r in view._rows(f"SELECT * FROM {view.table(table)}", ()))


class Interrupted(Exception):
    """The rebuild's process stopped (a test's stand-in for a crash or Ctrl-C)."""


def test_an_interrupted_rebuild_resumes_where_its_last_batch_committed(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger, at=clock.now - timedelta(days=30))
    for n in range(30):
        consented(ledger, f"u-{n}", at=clock.now - timedelta(days=n % 20))
    live = open_view(database)
    ViewKeeper(ledger, live).catch_up()
    committed: list[int] = []

    def stop_after_two_batches(position: int) -> None:
        committed.append(position)
        if len(committed) == 2:
            raise Interrupted

    fresh = open_view(database, generation=live.generation + 1, indexed=False)
    with pytest.raises(Interrupted):
        ViewKeeper(ledger, fresh).fill(batch=5, progress=stop_after_two_batches)
    assert 0 < fresh.position() == committed[-1] < ledger.max_position()

    rebuilt = rebuild(ledger, database)

    assert rebuilt.generation == fresh.generation
    for table in TABLES:
        assert rows_of(rebuilt, table) == rows_of(live, table), table
