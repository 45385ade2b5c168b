"""Deadlines in Chinese working days (工作日), in the Asia/Shanghai time zone.

What a deadline is
------------------
A period of N working days starts the day *after* the act (the day of issue does not
count, as in Chinese procedural practice: 期间开始的日不计算在内). The deadline is the
**end of the Nth working day**, 23:59:59 local time (``+08:00`` in Asia/Shanghai), stored
as an aware datetime. A deadline *has passed* when ``now > deadline``
(:func:`has_passed`): everything up to and including 23:59:59 of the last day is in time.

Example: an order issued on Wednesday 2026-09-30 with 5 working days. 10-01..10-07 is the
National Day holiday, 10-08 (Thu) and 10-09 (Fri) are working days, 10-10 (Sat) is a
swapped working day (调休), 10-11 is Sunday: the days are 10-08, 10-09, 10-10, 10-12,
10-13, so the deadline is 2026-10-13 23:59:59+08:00.

Which days are working days
---------------------------
1. ``FUNDWATCH_EXTRA_WORKDAYS`` (configured) are working days;
2. ``FUNDWATCH_EXTRA_HOLIDAYS`` (configured) are not;
3. otherwise the official calendar of the ``chinesecalendar`` package (State Council
   notices: holidays and 调休 swapped working days);
4. for a year the package has no data for (it knows 2004-2026 in version 1.11), Monday to
   Friday are working days except the fixed-date statutory holidays of 《全国年节及纪念日
   放假办法》 (元旦 1-1, 劳动节 5-1/5-2, 国庆节 10-1..10-3). The lunar holidays (春节, 清明,
   端午, 中秋), their bridges and the swapped working days are not known: the State Council
   publishes each year's arrangement around November, and until the package is upgraded
   they go in the two settings above. A warning is logged once per such year.

Both settings are comma-separated ISO dates, and ``A..B`` means every day from A to B:
``FUNDWATCH_EXTRA_HOLIDAYS="2027-01-01,2027-02-06..2027-02-14"``. A date in both is a
configuration error. The domain functions take an explicit ``calendar=`` too, so that
nothing here needs Flask.

Default periods per rung (working days; ``FUNDWATCH_DEADLINE_PERIODS="order=20,..."``
overrides any of them or adds rungs; the issuing officer may set another period on each
case, see :func:`deadline_for`):

=================  ====  ============================================================
rung               days  why
=================  ====  ============================================================
warning            5     Art. 21(一): correct at once, then submit the written result
decision           10    Art. 21(二): return funds, adjust accounts, complete procedures
order              15    Art. 21(三): written rectification order with a deadline
suspended          10    Art. 21(四): funds suspended until rectified, then accounts closed
closure            10    Art. 21(四): bank confirms the account closure
bank_rectify       5     Art. 22: return the funds / fix the transmission "at once"
bank_criticism     10    Art. 22: after criticism and fee deduction, before termination
=================  ====  ============================================================

Reminders: ``FUNDWATCH_REMINDER_OFFSETS`` (default ``"2,0"``) — working days before the
deadline's day at which the addressee is reminded, at ``FUNDWATCH_REMINDER_HOUR`` (default
9) local time; 0 is the morning of the last day. See :func:`reminder_times`.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from workflow.errors import Invalid
from workflow.settings import Settings, current

log = logging.getLogger(__name__)

DEFAULT_PERIODS: dict[str, int] = {
    "warning": 5,
    "decision": 10,
    "order": 15,
    "suspended": 10,
    "closure": 10,
    "bank_rectify": 5,
    "bank_criticism": 10,
}
DEFAULT_REMINDER_OFFSETS: tuple[int, ...] = (2, 0)
MAX_PERIOD_DAYS = 366  # a longer "period" is a typing error, not a deadline
END_OF_DAY = dt.time(23, 59, 59)
# Fixed-date days of 全国年节及纪念日放假办法 (2024 revision), used only beyond the package's data.
FIXED_STATUTORY_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})

_warned_years: set[int] = set()


@lru_cache(maxsize=None)
def _official_workday(day: dt.date) -> bool | None:
    """The package's answer, or None for a year it has no data for. Cached because the
    package scans its whole table on every call to check the supported range."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def parse_dates(value) -> frozenset[dt.date]:
    """``"2027-01-01,2027-02-06..2027-02-14"`` (or an iterable of dates / strings) → dates."""
    if value is None or value == "":
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    days: set[dt.date] = set()
    for item in items:
        if isinstance(item, dt.datetime):
            raise ValueError(f"a calendar date is expected, not a datetime: {item!r}")
        if isinstance(item, dt.date):
            days.add(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        first, sep, last = text.partition("..")
        try:
            start = dt.date.fromisoformat(first.strip())
            end = dt.date.fromisoformat(last.strip()) if sep else start
        except ValueError as exc:
            raise ValueError(f"not an ISO date or range: {text!r}") from exc
        if end < start:
            raise ValueError(f"range ends before it starts: {text!r}")
        days.update(start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return frozenset(days)


@dataclass(frozen=True)
class WorkingCalendar:
    """Which local dates are working days, and the time zone that makes dates local."""

    timezone: str = Settings.timezone
    extra_holidays: frozenset[dt.date] = field(default_factory=frozenset)
    extra_workdays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self):
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"dates configured both as holiday and as working day: {listed}")
        ZoneInfo(self.timezone)  # fail now on an unknown zone, not at the first deadline

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        official = _official_workday(day)
        if official is None:
            if day.year not in _warned_years:
                _warned_years.add(day.year)
                log.warning("no official holiday data for %s: counting Monday-Friday less the "
                            "fixed-date holidays, plus FUNDWATCH_EXTRA_HOLIDAYS/WORKDAYS", day.year)
            return day.weekday() < 5 and (day.month, day.day) not in FIXED_STATUTORY_HOLIDAYS
        return official

    def shift(self, day: dt.date, days: int) -> dt.date:
        """The ``days``-th working day after ``day`` (before it if negative); for 0, ``day``
        itself if it is a working day, else the next working day."""
        if days == 0:
            while not self.is_working_day(day):
                day += dt.timedelta(days=1)
            return day
        step = dt.timedelta(days=1 if days > 0 else -1)
        remaining = abs(days)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def count(self, start: dt.date, end: dt.date) -> int:
        """Working days ``d`` with ``start < d <= end``; negative if ``end`` is earlier."""
        if end < start:
            return -self.count(end, start)
        return sum(1 for i in range(1, (end - start).days + 1)
                   if self.is_working_day(start + dt.timedelta(days=i)))

    def local_date(self, moment: dt.datetime | dt.date) -> dt.date:
        if isinstance(moment, dt.datetime):
            if moment.tzinfo is None:
                raise ValueError("naive datetime: a timezone is required")
            return moment.astimezone(self.zone).date()
        return moment

    def end_of(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, END_OF_DAY, tzinfo=self.zone)


@lru_cache(maxsize=32)
def _calendar(timezone: str, holidays: tuple[str, ...], workdays: tuple[str, ...]) -> WorkingCalendar:
    return WorkingCalendar(timezone=timezone, extra_holidays=parse_dates(holidays),
                           extra_workdays=parse_dates(workdays))


def _as_key(value) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(value.split(","))
    return tuple(str(v) for v in value)


def current_calendar() -> WorkingCalendar:
    """The calendar configured by FUNDWATCH_TIMEZONE / _EXTRA_HOLIDAYS / _EXTRA_WORKDAYS."""
    settings = current()
    return _calendar(settings.timezone, _as_key(settings.extra_holidays), _as_key(settings.extra_workdays))


def is_working_day(day: dt.date | dt.datetime, *, calendar: WorkingCalendar | None = None) -> bool:
    """Is this (local) date a working day? A datetime is first converted to local time."""
    cal = calendar or current_calendar()
    return cal.is_working_day(cal.local_date(day))


def add_working_days(start: dt.datetime | dt.date, days: int, *,
                     calendar: WorkingCalendar | None = None) -> dt.datetime:
    """The deadline ``days`` working days after ``start``: the end (23:59:59 local) of the
    ``days``-th working day after start's local date. ``days=0`` gives the end of the
    start day if it is a working day, else of the next one; negative counts backwards."""
    cal = calendar or current_calendar()
    return cal.end_of(cal.shift(cal.local_date(start), days))


def working_days_between(a: dt.datetime | dt.date, b: dt.datetime | dt.date, *,
                         calendar: WorkingCalendar | None = None) -> int:
    """Working days after ``a``'s local date up to and including ``b``'s; negative if ``b``
    is earlier. ``working_days_between(t, add_working_days(t, n)) == n`` for n >= 1: an
    appeal (Art. 24) pausing at ``t`` keeps ``working_days_between(t, deadline)`` and
    resuming at ``r`` sets the deadline to ``add_working_days(r, kept)``."""
    cal = calendar or current_calendar()
    return cal.count(cal.local_date(a), cal.local_date(b))


def has_passed(deadline: dt.datetime, now: dt.datetime) -> bool:
    """A deadline has passed once ``now`` is after its last second."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    return now > deadline


def _int_mapping(value) -> dict[str, int]:
    if not value:
        return {}
    if isinstance(value, dict):
        pairs = value.items()
    else:
        pairs = []
        for item in str(value).split(","):
            if item.strip():
                name, sep, days = item.partition("=")
                if not sep:
                    raise ValueError(f"FUNDWATCH_DEADLINE_PERIODS: expected rung=days, got {item!r}")
                pairs.append((name.strip(), days.strip()))
    return {str(name): int(days) for name, days in pairs}


def periods() -> dict[str, int]:
    """Default periods per rung: the table above with the configured overrides."""
    return {**DEFAULT_PERIODS, **_int_mapping(current().deadline_periods)}


def default_period(rung: str) -> int:
    """Working days allowed on ``rung`` unless the issuing officer sets another period."""
    try:
        return periods()[rung]
    except KeyError:
        raise Invalid(f"no default period for rung {rung!r}",
                      {"rung": [f"one of {', '.join(sorted(periods()))}, or configure it"]}) from None


def deadline_for(start: dt.datetime, rung: str, days: int | None = None, *,
                 calendar: WorkingCalendar | None = None) -> dt.datetime:
    """The deadline of a step on ``rung`` taken at ``start``: the officer's ``days`` if
    given (1..366 working days), else the rung's default period."""
    if days is None:
        days = default_period(rung)
    elif isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_PERIOD_DAYS:
        raise Invalid("the period must be a whole number of working days",
                      {"days": [f"between 1 and {MAX_PERIOD_DAYS}"]})
    return add_working_days(start, days, calendar=calendar)


def reminder_offsets() -> tuple[int, ...]:
    value = current().reminder_offsets
    if value is None or value == "":
        return DEFAULT_REMINDER_OFFSETS
    items = value.split(",") if isinstance(value, str) else ([value] if isinstance(value, int) else value)
    offsets = tuple(sorted({int(str(v).strip()) for v in items if str(v).strip()}, reverse=True))
    if any(o < 0 for o in offsets):
        raise ValueError("FUNDWATCH_REMINDER_OFFSETS: offsets are working days before, >= 0")
    return offsets


def reminder_times(deadline: dt.datetime, offsets: Iterable[int] | None = None, *,
                   calendar: WorkingCalendar | None = None) -> list[tuple[int, dt.datetime]]:
    """When to remind the addressee of ``deadline``: ``(offset, instant)`` pairs, earliest
    first. Offset N is ``FUNDWATCH_REMINDER_HOUR`` o'clock local on the Nth working day
    before the deadline's day (0: that day itself). Key each reminder on
    (case, deadline, offset) so that it is sent once."""
    cal = calendar or current_calendar()
    hour = current().reminder_hour
    last_day = cal.local_date(deadline)
    result = []
    for offset in sorted(set(reminder_offsets() if offsets is None else offsets), reverse=True):
        day = last_day if offset == 0 else cal.shift(last_day, -offset)
        result.append((offset, dt.datetime.combine(day, dt.time(hour), tzinfo=cal.zone)))
    return result
