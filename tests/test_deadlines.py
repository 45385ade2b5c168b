"""Deadlines in Chinese working days, Asia/Shanghai (Art. 13(一), 21, 24).

Dates are the State Council's 2026 arrangement as shipped in chinesecalendar: National
Day 10-01..10-07 off, 10-08/10-09 working, Saturday 10-10 and Sunday 09-20 swapped
working days (调休); Spring Festival 02-15..02-23 off, Saturday 02-14 and 02-28 working.
"""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from workflow import deadlines
from workflow.deadlines import (
    WorkingCalendar,
    add_working_days,
    deadline_for,
    default_period,
    has_passed,
    is_working_day,
    reminder_times,
    working_days_between,
)
from workflow.errors import Invalid

SH = ZoneInfo("Asia/Shanghai")
PLAIN = WorkingCalendar()


def at(y, m, d, hour=10, minute=0):
    return dt.datetime(y, m, d, hour, minute, tzinfo=SH)


def end_of(y, m, d):
    return dt.datetime(y, m, d, 23, 59, 59, tzinfo=SH)


def test_deadline_is_the_end_of_the_nth_working_day_in_shanghai():
    deadline = add_working_days(at(2026, 11, 17), 1, calendar=PLAIN)  # Tuesday
    assert deadline == end_of(2026, 11, 18)
    assert deadline.utcoffset() == dt.timedelta(hours=8)


def test_the_day_of_issue_does_not_count():
    assert add_working_days(at(2026, 11, 16, 8), 5, calendar=PLAIN) == end_of(2026, 11, 23)


def test_weekend_is_skipped():
    assert add_working_days(at(2026, 11, 20), 1, calendar=PLAIN) == end_of(2026, 11, 23)


def test_utc_evening_counts_from_the_shanghai_date():
    """19 Nov 17:00 UTC is already Friday 20 Nov 01:00 in Shanghai: the next working day is Monday."""
    start = dt.datetime(2026, 11, 19, 17, 0, tzinfo=dt.timezone.utc)
    assert add_working_days(start, 1, calendar=PLAIN) == end_of(2026, 11, 23)


def test_national_day_2026_holiday_is_skipped():
    assert add_working_days(at(2026, 9, 30), 1, calendar=PLAIN) == end_of(2026, 10, 8)
    assert not any(is_working_day(dt.date(2026, 10, d), calendar=PLAIN) for d in range(1, 8))


def test_swapped_saturday_2026_10_10_counts_as_a_working_day():
    """调休: Saturday 10 Oct 2026 is worked in exchange for the National Day holiday."""
    assert is_working_day(dt.date(2026, 10, 10), calendar=PLAIN)
    assert add_working_days(at(2026, 9, 30), 3, calendar=PLAIN) == end_of(2026, 10, 10)


def test_five_days_across_national_day_end_on_13_october():
    """10-08, 10-09, 10-10 (调休 Saturday), 10-12, 10-13; Sunday 10-11 is off."""
    assert add_working_days(at(2026, 9, 30), 5, calendar=PLAIN) == end_of(2026, 10, 13)


def test_swapped_sunday_2026_09_20_counts_as_a_working_day():
    assert add_working_days(at(2026, 9, 18), 1, calendar=PLAIN) == end_of(2026, 9, 20)


def test_spring_festival_2026_is_skipped_and_its_swapped_saturdays_count():
    assert add_working_days(at(2026, 2, 13), 1, calendar=PLAIN) == end_of(2026, 2, 14)
    assert add_working_days(at(2026, 2, 14), 1, calendar=PLAIN) == end_of(2026, 2, 24)
    assert is_working_day(dt.date(2026, 2, 28), calendar=PLAIN)


def test_deadline_passes_only_after_its_last_second():
    deadline = add_working_days(at(2026, 11, 17), 1, calendar=PLAIN)
    assert not has_passed(deadline, dt.datetime(2026, 11, 18, 23, 59, 59, tzinfo=SH))
    assert has_passed(deadline, dt.datetime(2026, 11, 19, 0, 0, 0, tzinfo=SH))
    assert not has_passed(deadline, dt.datetime(2026, 11, 18, 15, 59, 59, tzinfo=dt.timezone.utc))


def test_holiday_shifted_deadline_is_not_due_on_a_day_off():
    """An order of 30 Sep with one working day is not overdue during the National Day week."""
    deadline = add_working_days(at(2026, 9, 30), 1, calendar=PLAIN)
    assert not has_passed(deadline, at(2026, 10, 7, 23, 59))
    assert has_passed(deadline, at(2026, 10, 9, 0, 1))


def test_configured_extra_holiday_is_skipped():
    calendar = WorkingCalendar(extra_holidays=deadlines.parse_dates("2026-11-18"))
    assert add_working_days(at(2026, 11, 17), 1, calendar=calendar) == end_of(2026, 11, 19)


def test_configured_extra_working_day_counts():
    calendar = WorkingCalendar(extra_workdays=deadlines.parse_dates("2026-11-21"))
    assert add_working_days(at(2026, 11, 20), 1, calendar=calendar) == end_of(2026, 11, 21)


def test_extra_holidays_come_from_app_config(app):
    app.config["FUNDWATCH_EXTRA_HOLIDAYS"] = "2026-11-18..2026-11-19, 2026-11-23"
    assert add_working_days(at(2026, 11, 17), 2) == end_of(2026, 11, 24)
    app.config["FUNDWATCH_EXTRA_WORKDAYS"] = "2026-11-22"
    assert add_working_days(at(2026, 11, 17), 2) == end_of(2026, 11, 22)


def test_extra_holidays_come_from_environment_without_flask(monkeypatch):
    monkeypatch.setenv("FUNDWATCH_EXTRA_HOLIDAYS", "2026-11-18")
    assert add_working_days(at(2026, 11, 17), 1) == end_of(2026, 11, 19)


def test_a_date_configured_as_holiday_and_working_day_is_refused():
    with pytest.raises(ValueError, match="2026-11-21"):
        WorkingCalendar(extra_holidays=deadlines.parse_dates("2026-11-21"),
                        extra_workdays=deadlines.parse_dates("2026-11-21"))


def test_malformed_configured_date_is_refused():
    with pytest.raises(ValueError, match="2026-13-01"):
        deadlines.parse_dates("2026-11-20,2026-13-01")


def test_year_beyond_the_calendar_data_counts_weekdays_less_fixed_statutory_holidays():
    """chinesecalendar 1.11 knows 2004-2026; 2027 falls back: 元旦 1 Jan is off, weekends off."""
    assert not is_working_day(dt.date(2027, 1, 1), calendar=PLAIN)
    assert add_working_days(at(2026, 12, 30), 2, calendar=PLAIN) == end_of(2027, 1, 4)
    assert not is_working_day(dt.date(2027, 10, 1), calendar=PLAIN)
    assert is_working_day(dt.date(2027, 10, 4), calendar=PLAIN)


def test_year_beyond_the_calendar_data_takes_its_holidays_and_swaps_from_configuration():
    """The 2027 Spring Festival is lunar: it is known only once configured."""
    calendar = WorkingCalendar(extra_holidays=deadlines.parse_dates("2027-02-05..2027-02-12"),
                               extra_workdays=deadlines.parse_dates("2027-02-14"))
    assert add_working_days(at(2027, 2, 4), 1, calendar=calendar) == end_of(2027, 2, 14)
    assert add_working_days(at(2027, 2, 4), 2, calendar=calendar) == end_of(2027, 2, 15)


def test_working_days_between_inverts_add_working_days_across_2026():
    start = dt.date(2026, 1, 1)
    for offset in range(0, 365, 7):
        begin = at(2026, 1, 1) + dt.timedelta(days=offset)
        for days in (1, 5, 15):
            assert working_days_between(begin, add_working_days(begin, days, calendar=PLAIN), calendar=PLAIN) == days
    assert working_days_between(start, dt.date(2026, 12, 31), calendar=PLAIN) > 240


def test_working_days_between_is_negative_backwards():
    assert working_days_between(at(2026, 10, 13), at(2026, 9, 30), calendar=PLAIN) == -5


def test_art24_appeal_pause_and_resume_gives_back_the_time_left():
    """Paused on 9 Oct with 3 working days left (10-10, 10-12, 10-13), resumed on Friday
    20 Nov: the unit again has 3 working days, 23, 24 and 25 Nov."""
    deadline = add_working_days(at(2026, 9, 30), 5, calendar=PLAIN)
    left = working_days_between(at(2026, 10, 9, 15), deadline, calendar=PLAIN)
    assert left == 3
    assert add_working_days(at(2026, 11, 20, 11), left, calendar=PLAIN) == end_of(2026, 11, 25)


def test_zero_days_is_the_end_of_the_same_working_day_or_the_next_one():
    assert add_working_days(at(2026, 11, 17), 0, calendar=PLAIN) == end_of(2026, 11, 17)
    assert add_working_days(at(2026, 10, 3), 0, calendar=PLAIN) == end_of(2026, 10, 8)


def test_negative_days_count_backwards_over_holidays():
    assert add_working_days(at(2026, 10, 8), -1, calendar=PLAIN) == end_of(2026, 9, 30)


def test_art21_each_rung_has_a_default_period(app):
    assert (default_period("warning"), default_period("decision"), default_period("order")) == (5, 10, 15)


def test_default_periods_are_configurable(app):
    app.config["FUNDWATCH_DEADLINE_PERIODS"] = "order=20, bank_review=7"
    assert default_period("order") == 20
    assert default_period("bank_review") == 7
    assert default_period("decision") == 10


def test_a_rung_without_a_period_is_a_clear_error(app):
    with pytest.raises(Invalid) as error:
        default_period("no_such_rung")
    assert "rung" in error.value.errors


def test_art21_issuing_officer_may_set_another_period(app):
    assert deadline_for(at(2026, 11, 16), "order", 3) == end_of(2026, 11, 19)
    assert deadline_for(at(2026, 11, 16), "warning") == end_of(2026, 11, 23)


@pytest.mark.parametrize("days", [0, -2, 400, True, "5"])
def test_an_officers_period_outside_1_to_366_working_days_is_refused(app, days):
    with pytest.raises(Invalid) as error:
        deadline_for(at(2026, 11, 16), "order", days)
    assert "days" in error.value.errors


def test_reminders_are_two_working_days_before_and_on_the_day_at_nine(app):
    """Deadline Friday 9 Oct: two working days before is 30 Sep (8 Oct, then over the holiday)."""
    deadline = add_working_days(at(2026, 9, 30), 2)
    assert deadline == end_of(2026, 10, 9)
    assert reminder_times(deadline) == [(2, at(2026, 9, 30, 9)), (0, at(2026, 10, 9, 9))]


def test_reminder_offsets_and_hour_are_configurable(app):
    app.config["FUNDWATCH_REMINDER_OFFSETS"] = "1"
    app.config["FUNDWATCH_REMINDER_HOUR"] = 8
    assert reminder_times(end_of(2026, 11, 23)) == [(1, at(2026, 11, 20, 8))]


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        add_working_days(dt.datetime(2026, 11, 17, 10), 1, calendar=PLAIN)
