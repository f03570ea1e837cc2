"""When an obligation that an event starts falls due, on the Kazakh calendar and the operator's clock.

Conventions (Law No. 94-V counts its periods the way the Civil Code counts terms):

- A period runs from the day *after* the triggering event, the event's day being its date on
  the operator's wall clock (Asia/Almaty by default), never the UTC date: 20:00 UTC on
  2 May is 01:00 on 3 May in Almaty, so the request is a 3 May request.
- Working-day periods (WD): the first working day after the trigger's date is day 1; the
  deadline is the end of day N. A trigger on a day off therefore gets no head start and no
  penalty: Saturday and Friday requests share Monday as their day 1.
- Calendar-day periods: the deadline is the end of the Nth calendar day after the trigger's
  date; if that day is not a working day the deadline moves to the end of the next working
  day (Civil Code of the RK, art. 173 as the team cites it). `DeadlineRules` can switch this
  off for a clause that must be read literally.
- "End of the day" is the last representable instant of that local date (23:59:59.999999),
  because an act may be done until midnight of the last day of a term.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from ledger.errors import InvalidFact
from ledger.stamp import require_aware

_SATURDAY: Final = 5
"""`date.weekday()` of Saturday: on the five-day week Saturday and Sunday are days off."""


class Obligation(StrEnum):
    """An obligation that a recorded event starts; each value names its field in `DeadlineRules`."""

    CLAIM_ANSWER = "claim_answer"
    """Answer a pre-trial claim in writing: 30 calendar days (policy clause 8.2)."""
    WITHDRAWAL_HANDLED = "withdrawal_handled"
    """Stop processing or give a reasoned refusal after a withdrawal: 15 WD (Art. 8(7))."""
    CORRECTION = "correction"
    """Correct data on request: 1 WD (Art. 25(2)(8))."""
    BLOCKING = "blocking"
    """Block data on request or on news of a violation: 1 WD (Art. 25(2)(8))."""
    UNBLOCKING = "unblocking"
    """Unblock when verification finds no violation: 1 WD (Art. 25(2)(8))."""
    DESTRUCTION = "destruction"
    """Destroy data on request or on news of a violation: 1 WD (Art. 25(2)(8))."""
    BREACH_TO_AUTHORITY = "breach_to_authority"
    """Tell the authorised body of a security breach: 1 WD (Art. 25(2)(8), since 2024-07-01)."""
    TRANSFER_NOTICE = "transfer_notice"
    """Tell the subject of a transfer the consent promised notice of: 10 WD (Art. 19)."""
    OBJECTION_ANSWER = "objection_answer"
    """Answer an objection to an automated decision: 3 WD (Art. 19-1)."""
    ACCESS_REQUEST = "access_request"
    """Answer an access request "as legislation sets": 3 WD by default, unconfirmed (Art. 24, 25(2)(6))."""


class DayCount(StrEnum):
    """Which days a period counts: every day, or only the Kazakh working days."""

    CALENDAR = "calendar"
    WORKING = "working"


@dataclass(frozen=True)
class Period:
    """How long an obligation may take: a number of calendar or working days."""

    days: int
    counted_in: DayCount

    def __post_init__(self) -> None:
        """Refuse a period of no days: every obligation of the law takes at least one."""
        if self.days < 1:
            msg = f"a period must be at least one day, not {self.days}"
            raise InvalidFact(msg)


@dataclass(frozen=True)
class DeadlineRules:
    """The period of every obligation; the defaults are the law's, each one overridable.

    Override with keywords, e.g. ``DeadlineRules(access_request=Period(5, DayCount.WORKING))``,
    when counsel confirms a period the law leaves open.
    """

    claim_answer: Period = Period(30, DayCount.CALENDAR)
    """Policy clause 8.2."""
    withdrawal_handled: Period = Period(15, DayCount.WORKING)
    """Art. 8(7)."""
    correction: Period = Period(1, DayCount.WORKING)
    """Art. 25(2)(8)."""
    blocking: Period = Period(1, DayCount.WORKING)
    """Art. 25(2)(8)."""
    unblocking: Period = Period(1, DayCount.WORKING)
    """Art. 25(2)(8)."""
    destruction: Period = Period(1, DayCount.WORKING)
    """Art. 25(2)(8)."""
    breach_to_authority: Period = Period(1, DayCount.WORKING)
    """Art. 25(2)(8)."""
    transfer_notice: Period = Period(10, DayCount.WORKING)
    """Art. 19."""
    objection_answer: Period = Period(3, DayCount.WORKING)
    """Art. 19-1."""
    access_request: Period = Period(3, DayCount.WORKING)
    """Art. 24, 25(2)(6): "as legislation sets"; 3 WD is an unconfirmed default."""
    calendar_end_moves_to_working_day: bool = True
    """Civil Code art. 173 (as cited): a calendar period ending on a day off ends on the next working day."""

    def period(self, obligation: Obligation) -> Period:
        """Look up the period these rules give `obligation`."""
        period: Period = getattr(self, obligation.value)
        return period


DEFAULT_RULES: Final = DeadlineRules()
"""The periods as the law and the policy state them (see `/work/shared/KZ-LAW.md`)."""


@dataclass(frozen=True)
class _PublishedYear:
    """One year of the `holidays` package's Kazakh calendar, reduced to what deadlines need."""

    days_off: frozenset[date]
    weekend_working_days: frozenset[date]


@cache
def _published_year(year: int) -> _PublishedYear:
    """Load one year from the `holidays` package once per process: the calendar is fixed data."""
    published = holidays.country_holidays("KZ", years=year)
    if not published.start_year <= year <= published.end_year:
        msg = f"the Kazakh calendar is known for {published.start_year}-{published.end_year}, not {year}"
        raise InvalidFact(msg)
    return _PublishedYear(
        days_off=frozenset(published),
        weekend_working_days=frozenset(day for day in published.weekend_workdays if day.year == year),
    )


class KazakhCalendar:
    """Working days in Kazakhstan, seen from the operator's time zone.

    Days off come from the `holidays` package (country "KZ", 0.109), loaded a year at a time
    when first needed and kept for the process. It covers 1991-2100 (other years are refused):
    - the holidays of the Law "On holidays": New Year 1-2 January, Orthodox Christmas 7 January,
      8 March, Nauryz 21-23 March, 1 May, 7 May, 9 May, 6 July, Constitution Day (30 August to
      2025, none in 2026, 15 March from 2027), 25 October, 16 December and Kurban ait;
    - a holiday on a weekend moved to the next working day (not for the two religious holidays);
    - days off moved by government decree, with the weekend day worked in exchange, up to 2025
      (8 May 2024 off for Saturday 4 May; 3 January 2025 off for Sunday 5 January).
    It knows no decree from 2026 on, and Kurban ait after 2025 is an estimate: pass decreed days
    as `days_off` / `working_days` until the package catches up.
    """

    def __init__(
        self,
        zone: str = "Asia/Almaty",
        *,
        days_off: frozenset[date] = frozenset(),
        working_days: frozenset[date] = frozenset(),
    ) -> None:
        try:
            self.zone: Final = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            msg = f"unknown time zone {zone!r}; use an IANA name such as Asia/Almaty"
            raise InvalidFact(msg) from error
        if clash := days_off & working_days:
            msg = f"a day cannot be both off and worked: {', '.join(sorted(map(str, clash)))}"
            raise InvalidFact(msg)
        self._days_off: Final = days_off
        self._working_days: Final = working_days

    def is_working_day(self, day: date) -> bool:
        """Whether staff work that day: Monday-Friday that is no holiday or moved day off, or a worked weekend day."""
        if day in self._working_days:
            return True
        if day in self._days_off:
            return False
        published = _published_year(day.year)
        if day in published.weekend_working_days:
            return True
        return day.weekday() < _SATURDAY and day not in published.days_off

    def next_working_day(self, after: date) -> date:
        """Find the first working day strictly after `after`: day 1 of a period starting on `after`."""
        day = after + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def local_date(self, at: datetime) -> date:
        """Give the date on the operator's wall clock at `at`: periods count the operator's days, not UTC's."""
        return require_aware(at, "at").astimezone(self.zone).date()

    def end_of(self, day: date) -> datetime:
        """Give the last instant of `day` on the operator's wall clock: an act may be done until midnight."""
        return datetime.combine(day, time.max, tzinfo=self.zone)


def due_at(obligation: Obligation, triggered_at: datetime, rules: DeadlineRules, calendar: KazakhCalendar) -> datetime:
    """Compute the last instant, in the operator's zone, to meet `obligation` (see the module's conventions)."""
    start = calendar.local_date(require_aware(triggered_at, "triggered_at"))
    last = _last_day(start, rules.period(obligation), rules.calendar_end_moves_to_working_day, calendar)
    return calendar.end_of(last)


@lru_cache(maxsize=1 << 16)
def _last_day(start: date, period: Period, moves_to_working_day: bool, calendar: KazakhCalendar) -> date:
    """The last day of `period` started on `start`: the same for every event of one local day, so worked out once.

    A replay starts thousands of deadlines on each day; walking the calendar for each one cost
    more than the rest of its row. (A calendar is keyed by identity: one with other decreed days is another key.)
    """
    if period.counted_in is DayCount.WORKING:
        last = start
        for _ in range(period.days):
            last = calendar.next_working_day(last)
    else:
        last = start + timedelta(days=period.days)
        if moves_to_working_day and not calendar.is_working_day(last):
            last = calendar.next_working_day(last)
    return last


class DeadlineStatus(StrEnum):
    """Where an obligation stands at a moment: what the disputes team and auditors ask first."""

    OPEN = "open"
    MET = "met"
    MET_LATE = "met_late"
    OVERDUE = "overdue"


def status(due_at: datetime, met_at: datetime | None, now: datetime) -> DeadlineStatus:
    """Judge the obligation as of `now`: an act done after `now` had not happened yet at `now`."""
    require_aware(due_at, "due_at")
    require_aware(now, "now")
    if met_at is not None and require_aware(met_at, "met_at") <= now:
        return DeadlineStatus.MET if met_at <= due_at else DeadlineStatus.MET_LATE
    return DeadlineStatus.OVERDUE if now > due_at else DeadlineStatus.OPEN
