"""Deadlines on the Kazakh calendar.

Every expected date below was worked out by hand from the published calendar (Law "On
holidays", the weekend-to-next-working-day rule, and the government's moved days off) and
checked against the `holidays` package's list for 2024-2027.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.deadlines import (
    DEFAULT_RULES,
    DayCount,
    DeadlineRules,
    DeadlineStatus,
    KazakhCalendar,
    Obligation,
    Period,
    due_at,
    status,
)
from ledger.errors import InvalidFact

ALMATY = ZoneInfo("Asia/Almaty")
KZ = KazakhCalendar()
WORKING_DAY_OBLIGATIONS = [o for o in Obligation if DEFAULT_RULES.period(o).counted_in is DayCount.WORKING]


def almaty(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ALMATY)


def end_of_day_in_almaty(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 23, 59, 59, 999_999, tzinfo=ALMATY)


def due(obligation: Obligation, triggered_at: datetime, rules: DeadlineRules = DEFAULT_RULES) -> datetime:
    return due_at(obligation, triggered_at, rules, KZ)


# --- the periods the law sets -------------------------------------------------------------


@pytest.mark.parametrize(
    ("obligation", "period"),
    [
        (Obligation.CLAIM_ANSWER, Period(30, DayCount.CALENDAR)),
        (Obligation.WITHDRAWAL_HANDLED, Period(15, DayCount.WORKING)),
        (Obligation.CORRECTION, Period(1, DayCount.WORKING)),
        (Obligation.BLOCKING, Period(1, DayCount.WORKING)),
        (Obligation.UNBLOCKING, Period(1, DayCount.WORKING)),
        (Obligation.DESTRUCTION, Period(1, DayCount.WORKING)),
        (Obligation.BREACH_TO_AUTHORITY, Period(1, DayCount.WORKING)),
        (Obligation.TRANSFER_NOTICE, Period(10, DayCount.WORKING)),
        (Obligation.OBJECTION_ANSWER, Period(3, DayCount.WORKING)),
        (Obligation.ACCESS_REQUEST, Period(3, DayCount.WORKING)),
    ],
)
def test_the_default_rules_give_each_obligation_the_period_the_law_sets(obligation, period):
    assert DEFAULT_RULES.period(obligation) == period


def test_every_obligation_has_a_period():
    assert all(isinstance(DEFAULT_RULES.period(o), Period) for o in Obligation)


def test_a_period_of_no_days_is_refused():
    with pytest.raises(InvalidFact, match="at least one day"):
        Period(0, DayCount.WORKING)


# --- working days around the Kazakh holidays ------------------------------------------------


@pytest.mark.parametrize(
    ("case", "triggered_at", "expected"),
    [
        # Tuesday 6 May 2025, eve of Defender of the Fatherland Day (Wed 7 May).
        ("eve of 7 May", almaty(2025, 5, 6), end_of_day_in_almaty(2025, 5, 8)),
        # Wednesday 30 April 2025, eve of Unity Day (Thu 1 May).
        ("eve of 1 May", almaty(2025, 4, 30), end_of_day_in_almaty(2025, 5, 2)),
        # Thursday 8 May 2025, eve of Victory Day (Fri 9 May): the weekend follows.
        ("eve of 9 May", almaty(2025, 5, 8), end_of_day_in_almaty(2025, 5, 12)),
        # Friday 8 May 2026: Victory Day is Saturday 9 May, so Monday 11 May is off instead.
        ("9 May on a Saturday", almaty(2026, 5, 8), end_of_day_in_almaty(2026, 5, 12)),
        # A plain Friday: Monday is day 1.
        ("a plain Friday", almaty(2025, 11, 14), end_of_day_in_almaty(2025, 11, 17)),
        # Friday 24 October 2025: Republic Day is Saturday 25 October, Monday 27 is off instead.
        ("Friday before 25 October", almaty(2025, 10, 24), end_of_day_in_almaty(2025, 10, 28)),
        # Friday 23 October 2026: Republic Day is Sunday 25 October, Monday 26 is off instead.
        ("25 October on a Sunday", almaty(2026, 10, 23), end_of_day_in_almaty(2026, 10, 27)),
        # Wednesday 31 December 2025: 1-2 January are Thursday-Friday, then the weekend.
        ("across New Year 2026", almaty(2025, 12, 31), end_of_day_in_almaty(2026, 1, 5)),
        # Thursday 31 December 2026: 2 January 2027 is a Saturday, so Monday 4 January is off.
        ("across New Year 2027", almaty(2026, 12, 31), end_of_day_in_almaty(2027, 1, 5)),
        # Thursday 20 March 2025: Nauryz is Fri-Sun 21-23 March; Sat and Sun move to Mon 24, Tue 25.
        ("across Nauryz 2025", almaty(2025, 3, 20), end_of_day_in_almaty(2025, 3, 26)),
        # Friday 20 March 2026: Nauryz is Sat-Mon 21-23 March; Sat and Sun move to Tue 24, Wed 25.
        ("across Nauryz 2026", almaty(2026, 3, 20), end_of_day_in_almaty(2026, 3, 26)),
        # Friday 7 March 2025: 8 March is a Saturday, so Monday 10 March is off.
        ("8 March on a Saturday", almaty(2025, 3, 7), end_of_day_in_almaty(2025, 3, 11)),
        # Friday 5 March 2027: 8 March is a Monday.
        ("8 March on a Monday", almaty(2027, 3, 5), end_of_day_in_almaty(2027, 3, 9)),
        # Friday 4 July 2025: Capital Day is Sunday 6 July, so Monday 7 July is off.
        ("6 July on a Sunday", almaty(2025, 7, 4), end_of_day_in_almaty(2025, 7, 8)),
        # Friday 3 July 2026: Capital Day is Monday 6 July.
        ("6 July on a Monday", almaty(2026, 7, 3), end_of_day_in_almaty(2026, 7, 7)),
        # Friday 29 August 2025: Constitution Day is Saturday 30 August, so Monday 1 September is off.
        ("30 August on a Saturday", almaty(2025, 8, 29), end_of_day_in_almaty(2025, 9, 2)),
        # Monday 15 December 2025: Independence Day is Tuesday 16 December; 17 December is worked since 2022.
        ("eve of 16 December", almaty(2025, 12, 15), end_of_day_in_almaty(2025, 12, 17)),
        # Thursday 5 June 2025: Kurban ait is Friday 6 June.
        ("eve of Kurban ait", almaty(2025, 6, 5), end_of_day_in_almaty(2025, 6, 9)),
        # Monday 5 January 2026: 7 January (Orthodox Christmas) is off; Tuesday 6 is not.
        ("before Orthodox Christmas", almaty(2026, 1, 5), end_of_day_in_almaty(2026, 1, 6)),
    ],
)
def test_a_one_working_day_request_is_due_at_the_end_of_the_next_working_day(case, triggered_at, expected):
    assert due(Obligation.CORRECTION, triggered_at) == expected, case


@pytest.mark.parametrize(
    ("case", "triggered_at", "expected"),
    [
        # Monday 6 May 2024: 7 May holiday, 8 May moved day off (for Saturday 4 May), 9 May holiday.
        ("8 May 2024 moved off", almaty(2024, 5, 6), end_of_day_in_almaty(2024, 5, 10)),
        # Friday 3 May 2024: Saturday 4 May 2024 was worked in exchange.
        ("Saturday 4 May 2024 worked", almaty(2024, 5, 3), end_of_day_in_almaty(2024, 5, 4)),
        # Tuesday 31 December 2024: 1-2 January holidays, Friday 3 January moved off, Sunday 5 January worked.
        ("Sunday 5 January 2025 worked", almaty(2024, 12, 31), end_of_day_in_almaty(2025, 1, 5)),
    ],
)
def test_a_day_off_moved_by_government_decree_moves_the_deadline(case, triggered_at, expected):
    assert due(Obligation.BLOCKING, triggered_at) == expected, case


def test_the_weekend_day_a_decree_made_a_working_day_is_a_working_day():
    assert KZ.is_working_day(date(2024, 5, 4))  # Saturday
    assert KZ.is_working_day(date(2025, 1, 5))  # Sunday
    assert not KZ.is_working_day(date(2024, 5, 11))  # an ordinary Saturday
    assert not KZ.is_working_day(date(2024, 5, 8))  # the Wednesday it bought


def test_a_three_working_day_answer_skips_every_holiday_in_its_way():
    # Tuesday 6 May 2025: Thu 8 (1), Fri 9 Victory Day, weekend, Mon 12 (2), Tue 13 (3).
    assert due(Obligation.OBJECTION_ANSWER, almaty(2025, 5, 6)) == end_of_day_in_almaty(2025, 5, 13)
    # Wednesday 31 December 2025: Mon 5 (1), Tue 6 (2), Wed 7 Christmas, Thu 8 (3).
    assert due(Obligation.OBJECTION_ANSWER, almaty(2025, 12, 31)) == end_of_day_in_almaty(2026, 1, 8)


def test_a_request_on_a_day_off_counts_from_the_next_working_day():
    # Saturday 22 March 2025 (Nauryz, a weekend): Wed 26 March is day 1, like a Thursday 20 March request.
    assert due(Obligation.DESTRUCTION, almaty(2025, 3, 22)) == end_of_day_in_almaty(2025, 3, 26)


def test_a_withdrawal_must_be_handled_within_fifteen_working_days():
    # Monday 28 April 2025: 29, 30 Apr; 2, 5, 6, 8, 12, 13, 14, 15, 16, 19, 20, 21, 22 May
    # (1, 7, 9 May are holidays).
    assert due(Obligation.WITHDRAWAL_HANDLED, almaty(2025, 4, 28)) == end_of_day_in_almaty(2025, 5, 22)
    # Monday 22 December 2025: 23-26, 29-31 Dec (7); 5, 6, 8, 9, 12, 13, 14, 15 Jan (1, 2, 7 Jan off).
    assert due(Obligation.WITHDRAWAL_HANDLED, almaty(2025, 12, 22)) == end_of_day_in_almaty(2026, 1, 15)


# --- the 30-calendar-day claim ---------------------------------------------------------------


def test_a_claim_is_answered_within_thirty_calendar_days():
    # Monday 3 November 2025 + 30 days = Wednesday 3 December.
    assert due(Obligation.CLAIM_ANSWER, almaty(2025, 11, 3)) == end_of_day_in_almaty(2025, 12, 3)


def test_a_claim_deadline_that_ends_on_a_weekend_moves_to_the_next_working_day():
    # Thursday 20 March 2025 + 30 days = Saturday 19 April -> Monday 21 April.
    assert due(Obligation.CLAIM_ANSWER, almaty(2025, 3, 20)) == end_of_day_in_almaty(2025, 4, 21)


def test_a_claim_deadline_that_ends_on_a_holiday_moves_to_the_next_working_day():
    # Tuesday 1 April 2025 + 30 days = Thursday 1 May (Unity Day) -> Friday 2 May.
    assert due(Obligation.CLAIM_ANSWER, almaty(2025, 4, 1)) == end_of_day_in_almaty(2025, 5, 2)


def test_a_claim_deadline_can_be_read_literally_when_the_move_is_switched_off():
    literal = DeadlineRules(calendar_end_moves_to_working_day=False)
    assert due(Obligation.CLAIM_ANSWER, almaty(2025, 3, 20), literal) == end_of_day_in_almaty(2025, 4, 19)
    assert due(Obligation.CLAIM_ANSWER, almaty(2025, 4, 1), literal) == end_of_day_in_almaty(2025, 5, 1)


# --- the configurable access-request period ---------------------------------------------------


def test_an_access_request_is_due_in_three_working_days_by_default():
    # Thursday 20 March 2025: Nauryz until Tue 25; Wed 26 (1), Thu 27 (2), Fri 28 (3).
    assert due(Obligation.ACCESS_REQUEST, almaty(2025, 3, 20)) == end_of_day_in_almaty(2025, 3, 28)


def test_an_access_request_follows_the_period_the_operator_configured():
    five_working_days = DeadlineRules(access_request=Period(5, DayCount.WORKING))
    ten_calendar_days = DeadlineRules(access_request=Period(10, DayCount.CALENDAR))
    # Wed 26, Thu 27, Fri 28, Mon 31 March, Tue 1 April.
    assert due(Obligation.ACCESS_REQUEST, almaty(2025, 3, 20), five_working_days) == end_of_day_in_almaty(2025, 4, 1)
    # 20 March + 10 days = Sunday 30 March -> Monday 31 March.
    assert due(Obligation.ACCESS_REQUEST, almaty(2025, 3, 20), ten_calendar_days) == end_of_day_in_almaty(2025, 3, 31)
    # Other obligations keep the law's period.
    assert due(Obligation.OBJECTION_ANSWER, almaty(2025, 3, 20), five_working_days) == end_of_day_in_almaty(2025, 3, 28)


def test_a_decree_the_package_does_not_know_yet_can_be_given_to_the_calendar():
    # Suppose a decree moved Friday 13 November 2026 off in exchange for Saturday 14 November.
    decreed = KazakhCalendar(days_off=frozenset({date(2026, 11, 13)}), working_days=frozenset({date(2026, 11, 14)}))
    thursday = almaty(2026, 11, 12)
    assert due_at(Obligation.CORRECTION, thursday, DEFAULT_RULES, KZ) == end_of_day_in_almaty(2026, 11, 13)
    assert due_at(Obligation.CORRECTION, thursday, DEFAULT_RULES, decreed) == end_of_day_in_almaty(2026, 11, 14)


def test_a_day_both_off_and_worked_is_refused():
    day = frozenset({date(2026, 11, 13)})
    with pytest.raises(InvalidFact, match="both off and worked"):
        KazakhCalendar(days_off=day, working_days=day)


# --- time zones ------------------------------------------------------------------------------


def test_a_trigger_late_in_the_utc_evening_counts_from_the_next_day_in_almaty():
    # 20:00 UTC on Thursday 13 November 2025 is 01:00 on Friday 14 November in Almaty.
    triggered_at = datetime(2025, 11, 13, 20, 0, tzinfo=UTC)
    assert due(Obligation.CORRECTION, triggered_at) == end_of_day_in_almaty(2025, 11, 17)


def test_a_trigger_late_in_the_almaty_evening_counts_from_that_almaty_day():
    # 23:30 in Almaty on Thursday 13 November 2025 is 18:30 UTC the same day.
    assert due(Obligation.CORRECTION, almaty(2025, 11, 13, 23, 30)) == end_of_day_in_almaty(2025, 11, 14)
    assert due(Obligation.CORRECTION, datetime(2025, 11, 13, 18, 30, tzinfo=UTC)) == end_of_day_in_almaty(2025, 11, 14)


def test_a_trigger_already_the_next_day_in_a_zone_east_of_almaty_counts_from_the_almaty_day():
    # 02:00 on Friday 14 November 2025 in Tokyo is 22:00 on Thursday 13 November in Almaty.
    triggered_at = datetime(2025, 11, 14, 2, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert due(Obligation.CORRECTION, triggered_at) == end_of_day_in_almaty(2025, 11, 14)


def test_almaty_was_six_hours_ahead_of_utc_before_march_2024():
    # 18:30 UTC on Thursday 15 February 2024 was 00:30 on Friday 16 February in Almaty (UTC+6).
    triggered_at = datetime(2024, 2, 15, 18, 30, tzinfo=UTC)
    assert due(Obligation.CORRECTION, triggered_at) == end_of_day_in_almaty(2024, 2, 19)


def test_the_deadline_is_the_last_instant_of_the_day_on_the_operators_clock():
    deadline = due(Obligation.CORRECTION, almaty(2025, 11, 13))
    assert deadline.tzinfo == ALMATY
    assert deadline.isoformat() == "2025-11-14T23:59:59.999999+05:00"
    assert deadline.astimezone(UTC) == datetime(2025, 11, 14, 18, 59, 59, 999_999, tzinfo=UTC)


def test_an_operator_in_another_zone_gets_deadlines_on_its_own_clock():
    tokyo = KazakhCalendar("Asia/Tokyo")
    # 20:00 UTC on Thursday 13 November 2025 is 05:00 on Friday 14 November in Tokyo.
    deadline = due_at(Obligation.CORRECTION, datetime(2025, 11, 13, 20, 0, tzinfo=UTC), DEFAULT_RULES, tokyo)
    assert deadline.isoformat() == "2025-11-17T23:59:59.999999+09:00"


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(InvalidFact, match="unknown time zone"):
        KazakhCalendar("Asia/Almaaty")


def test_a_naive_trigger_time_is_refused():
    with pytest.raises(InvalidFact, match="triggered_at must carry a UTC offset"):
        due(Obligation.CORRECTION, datetime(2025, 11, 13, 10, 0))  # noqa: DTZ001  (the point of the test)


def test_a_date_outside_the_known_calendar_is_refused():
    with pytest.raises(InvalidFact, match="known for 1991-2100"):
        due(Obligation.CORRECTION, almaty(1985, 6, 3))


# --- status ----------------------------------------------------------------------------------

DUE = end_of_day_in_almaty(2025, 11, 14)


@pytest.mark.parametrize(
    ("met_at", "now", "expected"),
    [
        (None, almaty(2025, 11, 14, 12), DeadlineStatus.OPEN),
        (None, DUE, DeadlineStatus.OPEN),
        (None, DUE + timedelta(microseconds=1), DeadlineStatus.OVERDUE),
        (almaty(2025, 11, 14, 9), almaty(2025, 11, 14, 12), DeadlineStatus.MET),
        (DUE, DUE, DeadlineStatus.MET),
        (almaty(2025, 11, 14, 9), almaty(2026, 6, 1), DeadlineStatus.MET),
        (almaty(2025, 11, 17, 9), almaty(2025, 11, 17, 12), DeadlineStatus.MET_LATE),
        # Met later than `now`: as of `now` it had not been met yet.
        (almaty(2025, 11, 14, 15), almaty(2025, 11, 14, 12), DeadlineStatus.OPEN),
        (almaty(2025, 11, 18, 9), almaty(2025, 11, 17, 12), DeadlineStatus.OVERDUE),
    ],
)
def test_status_tells_open_met_met_late_and_overdue_apart(met_at, now, expected):
    assert status(DUE, met_at, now) is expected


def test_an_unanswered_request_goes_from_open_to_overdue_to_met_late():
    deadline = due(Obligation.CORRECTION, almaty(2025, 11, 13, 16))
    answered_at = almaty(2025, 11, 17, 11)
    judged = [
        status(deadline, answered_at, now)
        for now in (almaty(2025, 11, 14, 9), almaty(2025, 11, 15, 9), almaty(2025, 11, 17, 12))
    ]
    assert judged == [DeadlineStatus.OPEN, DeadlineStatus.OVERDUE, DeadlineStatus.MET_LATE]


def test_status_refuses_naive_times():
    naive = datetime(2025, 11, 14, 12, 0)  # noqa: DTZ001  (the point of the test)
    with pytest.raises(InvalidFact, match="now must carry a UTC offset"):
        status(DUE, None, naive)
    with pytest.raises(InvalidFact, match="met_at must carry a UTC offset"):
        status(DUE, naive, almaty(2025, 11, 15))


# --- properties ------------------------------------------------------------------------------

PACKAGE_CALENDAR = holidays.country_holidays("KZ")
"""The package's own working-day test, a second opinion on `KazakhCalendar.is_working_day`."""

ZONES = st.sampled_from(
    [UTC, ALMATY, ZoneInfo("America/Los_Angeles"), ZoneInfo("Pacific/Kiritimati"), timezone(timedelta(hours=-11))]
)
TRIGGERS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 10, 31), timezones=ZONES)  # noqa: DTZ001  (hypothesis bounds are naive; the values are aware)


def days_strictly_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range(1, (last - first).days)]


@settings(max_examples=200, deadline=None)
@given(triggered_at=TRIGGERS, obligation=st.sampled_from(WORKING_DAY_OBLIGATIONS), days=st.integers(1, 40))
def test_a_working_day_deadline_is_the_nth_working_day_after_the_trigger(triggered_at, obligation, days):
    rules = DeadlineRules(**{obligation.value: Period(days, DayCount.WORKING)})
    deadline = due_at(obligation, triggered_at, rules, KZ)
    start = triggered_at.astimezone(ALMATY).date()
    assert deadline > triggered_at
    assert deadline == end_of_day_in_almaty(deadline.year, deadline.month, deadline.day)
    assert PACKAGE_CALENDAR.is_working_day(deadline.date())
    assert sum(PACKAGE_CALENDAR.is_working_day(d) for d in days_strictly_between(start, deadline.date())) == days - 1


@settings(max_examples=200, deadline=None)
@given(triggered_at=TRIGGERS, days=st.integers(1, 60))
def test_a_calendar_day_deadline_ends_on_the_first_working_day_from_the_nth_day(triggered_at, days):
    rules = DeadlineRules(claim_answer=Period(days, DayCount.CALENDAR))
    deadline = due_at(Obligation.CLAIM_ANSWER, triggered_at, rules, KZ)
    nth_day = triggered_at.astimezone(ALMATY).date() + timedelta(days=days)
    assert deadline > triggered_at
    assert PACKAGE_CALENDAR.is_working_day(deadline.date())
    assert deadline.date() >= nth_day
    skipped = [nth_day + timedelta(days=n) for n in range((deadline.date() - nth_day).days)]
    assert not any(PACKAGE_CALENDAR.is_working_day(d) for d in skipped)
