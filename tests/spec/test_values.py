"""Scalar values of the spec: durations, schedules (with their fire times and Model Monitor
forms), dates and percentages. Expected fire times are worked out by hand from a calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlinfra.spec.values import (
    Schedule,
    monitoring_schedule_expression,
    parse_date,
    parse_duration,
    parse_percent,
    parse_schedule,
)

# --- durations ------------------------------------------------------------------------------

DURATIONS = [
    ("30s", dt.timedelta(seconds=30)),
    ("15m", dt.timedelta(minutes=15)),
    ("72h", dt.timedelta(hours=72)),
    ("30d", dt.timedelta(days=30)),
    ("2w", dt.timedelta(weeks=2)),
    ("1d12h", dt.timedelta(hours=36)),
    ("1w2d3h4m5s", dt.timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
    ("90m", dt.timedelta(minutes=90)),
    (" 72h ", dt.timedelta(hours=72)),
]


@pytest.mark.parametrize(("text", "expected"), DURATIONS)
def test_parses_duration(text, expected):
    assert parse_duration(text) == expected


BAD_DURATIONS = [
    ("72x", "'72x' is not a duration; write a number followed by s, m, h, d or w, like 72h"),
    ("", "is not a duration"),
    ("h", "is not a duration"),
    ("-5m", "is not a duration"),
    ("1.5h", "is not a duration"),
    ("72 h", "is not a duration"),
    ("72H", "is not a duration"),
    ("12h1d", "write each unit once, largest first, like 1d12h"),
    ("1d1d", "write each unit once"),
    ("0h", "each part must be a positive number"),
    ("1d0h", "each part must be a positive number"),
    ("9999999999999w", "too long"),
    (30, "30 is not a duration"),
    (None, "null is not a duration"),
]


@pytest.mark.parametrize(("value", "fragment"), BAD_DURATIONS)
def test_refuses_invalid_duration(value, fragment):
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert fragment in str(caught.value)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-06-30", dt.date(2027, 6, 30)),
        ("2024-02-29", dt.date(2024, 2, 29)),
        ("2000-02-29", dt.date(2000, 2, 29)),
        (" 2027-06-30 ", dt.date(2027, 6, 30)),
    ],
)
def test_parses_iso_date(text, expected):
    assert parse_date(text) == expected


def test_passes_a_date_through():
    assert parse_date(dt.date(2027, 6, 30)) == dt.date(2027, 6, 30)


BAD_DATES = [
    ("2023-02-29", "'2023-02-29' is not a real date: February 2023 has 28 days"),
    ("1900-02-29", "February 1900 has 28 days"),
    ("2027-06-31", "June 2027 has 30 days"),
    ("2027-06-00", "June 2027 has 30 days"),
    ("2027-13-01", "the month must be 01 to 12"),
    ("0000-01-01", "the year must be 0001 or later"),
    ("2027-6-30", "is not a date; write YYYY-MM-DD, like 2027-06-30"),
    ("30/06/2027", "is not a date"),
    ("20270630", "is not a date"),
    ("2027-06-30T10:00", "is not a date"),
    (20270630, "20270630 is not a date"),
    (dt.datetime(2027, 6, 30, 10), "is not a date"),
]


@pytest.mark.parametrize(("value", "fragment"), BAD_DATES)
def test_refuses_invalid_date(value, fragment):
    with pytest.raises(ValueError) as caught:
        parse_date(value)
    assert fragment in str(caught.value)


# --- percentages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0.0), (100, 100.0), (20, 20.0), (12.5, 12.5), ("20", 20.0), ("12.5%", 12.5)],
)
def test_parses_percentage(value, expected):
    assert parse_percent(value) == expected


@pytest.mark.parametrize(
    "value", [-1, 100.5, float("nan"), float("inf"), True, None, "abc", "20 percent", "-5%"]
)
def test_refuses_invalid_percentage(value):
    with pytest.raises(ValueError, match="is not a percentage; write a number from 0 to 100"):
        parse_percent(value)


# --- schedules: what parses -----------------------------------------------------------------

SCHEDULES = [
    ("hourly", "cron(0 * * * ? *)", "cron"),
    ("daily", "cron(0 0 * * ? *)", "cron"),
    ("weekly", "cron(0 0 ? * SUN *)", "cron"),
    ("cron(0 3 * * ? *)", "cron(0 3 * * ? *)", "cron"),
    ("  cron(0   3 * * ?   *) ", "cron(0 3 * * ? *)", "cron"),
    ("cron(0 18 ? * mon-fri *)", "cron(0 18 ? * MON-FRI *)", "cron"),
    ("cron(0/15 * * * ? *)", "cron(0/15 * * * ? *)", "cron"),
    ("cron(*/10 8-17/2 ? * 2,4,6 *)", "cron(*/10 8-17/2 ? * 2,4,6 *)", "cron"),
    ("cron(0 8 1 */3 ? *)", "cron(0 8 1 */3 ? *)", "cron"),
    ("cron(0 0 1 jan,JUL ? 2025-2030)", "cron(0 0 1 JAN,JUL ? 2025-2030)", "cron"),
    ("cron(0 0 L * ? *)", "cron(0 0 L * ? *)", "cron"),
    ("cron(0 0 LW * ? *)", "cron(0 0 LW * ? *)", "cron"),
    ("cron(0 0 15W * ? *)", "cron(0 0 15W * ? *)", "cron"),
    ("cron(0 0 ? * L *)", "cron(0 0 ? * L *)", "cron"),
    ("cron(0 0 ? * 6L *)", "cron(0 0 ? * 6L *)", "cron"),
    ("cron(0 0 ? * FRIL *)", "cron(0 0 ? * FRIL *)", "cron"),
    ("cron(0 0 ? * 3#2 *)", "cron(0 0 ? * 3#2 *)", "cron"),
    ("cron(0 0 ? * * *)", "cron(0 0 ? * * *)", "cron"),
    ("cron(59 23 31 DEC ? 2199)", "cron(59 23 31 DEC ? 2199)", "cron"),
    ("rate(1 minute)", "rate(1 minute)", "rate"),
    ("rate(5 minutes)", "rate(5 minutes)", "rate"),
    ("rate(1 hour)", "rate(1 hour)", "rate"),
    ("rate( 12   hours )", "rate(12 hours)", "rate"),
    ("rate(1 day)", "rate(1 day)", "rate"),
    ("rate(7 days)", "rate(7 days)", "rate"),
]


@pytest.mark.parametrize(("text", "expression", "kind"), SCHEDULES)
def test_parses_schedule_to_its_aws_form(text, expression, kind):
    schedule = parse_schedule(text)
    assert (schedule.expression, schedule.kind) == (expression, kind)


def test_schedules_of_the_same_aws_form_are_equal():
    assert parse_schedule("daily") == parse_schedule("cron(0 0 * * ? *)")


BAD_SCHEDULES = [
    ("monthly", "'monthly' is not a schedule; write hourly, daily, weekly, cron("),
    ("dayly", "(did you mean 'daily'?)"),
    ("", "is not a schedule"),
    (5, "5 is not a schedule"),
    ("cron(0 3 * * ? *", "is not a schedule"),
    ("cron(0 3 * * *)", "has 5 fields; AWS cron expressions have 6"),
    ("cron(0 3 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ("cron(0 3 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ("cron(60 * * * ? *)", "'60' is not a valid minute; use 0-59"),
    ("cron(0 24 * * ? *)", "'24' is not a valid hour; use 0-23"),
    ("cron(0 0 32 * ? *)", "'32' is not a valid day-of-month; use 1-31"),
    ("cron(0 0 0 * ? *)", "'0' is not a valid day-of-month"),
    ("cron(0 0 * 13 ? *)", "'13' is not a valid month; use 1-12 or JAN-DEC"),
    ("cron(0 0 * FOO ? *)", "'FOO' is not a valid month"),
    ("cron(0 0 ? * 8 *)", "'8' is not a valid day-of-week; use 1-7 or SUN-SAT"),
    ("cron(0 0 ? * 0 *)", "'0' is not a valid day-of-week"),
    ("cron(0 0 * * ? 1969)", "'1969' is not a valid year; use 1970-2199"),
    ("cron(0 0 * * ? 2200)", "'2200' is not a valid year"),
    ("cron(0 0 * * ? 2030-2025)", "the year range '2030-2025' runs backwards"),
    ("cron(0 0 ? * MON/2 *)", "'/' is not allowed in the day-of-week field"),
    ("cron(0 0 ? * 3#1,6#3 *)", "with '#' the day-of-week field holds one item only"),
    ("cron(0 0 ? * 3#6 *)", "the number after '#' must be 1 to 5"),
    ("cron(0 0 ? * 9#2 *)", "'9' is not a valid day-of-week"),
    ("cron(0 0 L-3 * ? *)", "'L' and 'W' stand alone"),
    ("cron(0 0 1,15W * ? *)", "'L' and 'W' stand alone"),
    ("cron(0 0 32W * ? *)", "'32' is not a valid day-of-month"),
    ("cron(0 0 ? * 1-5L *)", "'L' stands alone (SAT) or after one day"),
    ("cron(0 0 ? * 2W *)", "'W' is not allowed in the day-of-week field"),
    ("cron(0 L * * ? *)", "'L' is not allowed in the hour field"),
    ("cron(? 0 * * ? *)", "'?' is not allowed in the minute field"),
    ("cron(0 0 * * ? #)", "'#' is not allowed in the year field"),
    ("cron(0 0 ? * MON,? *)", "'?' must be the whole day-of-week field"),
    ("cron(0/0 * * * ? *)", "the minute increment in '0/0' must be a whole number from 1 to 60"),
    ("cron(0/61 * * * ? *)", "from 1 to 60"),
    ("cron(0 0 1,,2 * ? *)", "'' is not a valid day-of-month"),
    ("cron(0 0 30 FEB ? *)", "cron(0 0 30 FEB ? *) never fires"),
    ("rate(0 minutes)", "the rate must be a whole number of at least 1"),
    ("rate(x minutes)", "the rate must be a whole number"),
    ("rate(1 hours)", "write the singular 'hour' for 1, like rate(1 hour)"),
    ("rate(5 minute)", "write the plural 'minutes' for 5, like rate(5 minutes)"),
    ("rate(5 weeks)", "the unit must be minute(s), hour(s) or day(s)"),
    ("rate(5)", "write rate(N unit), like rate(5 minutes)"),
]


@pytest.mark.parametrize(("value", "fragment"), BAD_SCHEDULES)
def test_refuses_invalid_schedule(value, fragment):
    with pytest.raises(ValueError) as caught:
        parse_schedule(value)
    assert fragment in str(caught.value)


def test_constructing_a_schedule_validates_its_expression():
    with pytest.raises(ValueError, match="has 5 fields"):
        Schedule("cron(0 3 * * *)", "cron")


def test_constructing_a_schedule_checks_its_kind():
    with pytest.raises(ValueError, match="is a rate schedule, not a cron schedule"):
        Schedule("rate(1 hour)", "cron")


# --- schedules: when they fire --------------------------------------------------------------


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts)


NEXT_FIRES = [
    # every day at 03:00; strictly after: a schedule at its fire time waits for the next
    ("cron(0 3 * * ? *)", at(2024, 2, 10, 12, 30), at(2024, 2, 11, 3, 0)),
    ("cron(0 3 * * ? *)", at(2024, 2, 11, 2, 59, 59), at(2024, 2, 11, 3, 0)),
    ("cron(0 3 * * ? *)", at(2024, 2, 11, 3, 0), at(2024, 2, 12, 3, 0)),
    ("cron(0/15 * * * ? *)", at(2024, 12, 31, 23, 50), at(2025, 1, 1, 0, 0)),
    ("cron(5/20 * * * ? *)", at(2024, 1, 1, 0, 45, 30), at(2024, 1, 1, 1, 5)),
    ("hourly", at(2024, 2, 10, 12, 0), at(2024, 2, 10, 13, 0)),
    # weekly fires on Sunday; 2024-02-10 is a Saturday
    ("weekly", at(2024, 2, 10, 9, 0), at(2024, 2, 11, 0, 0)),
    # MON-FRI from a Friday evening: the next Monday
    ("cron(0 18 ? * MON-FRI *)", at(2024, 2, 9, 18, 0), at(2024, 2, 12, 18, 0)),
    # L alone in day-of-week is Saturday
    ("cron(0 12 ? * L *)", at(2024, 2, 10, 12, 30), at(2024, 2, 17, 12, 0)),
    # months 1, 4, 7, 10
    ("cron(0 0 1 */3 ? *)", at(2024, 2, 10), at(2024, 4, 1)),
    # the 31st skips months that lack it
    ("cron(0 0 31 * ? *)", at(2024, 4, 1), at(2024, 5, 31)),
    ("cron(0 0 31 * ? *)", at(2024, 6, 1), at(2024, 7, 31)),
    # L: last day of the month, in leap and common years
    ("cron(0 0 L * ? *)", at(2024, 2, 1), at(2024, 2, 29)),
    ("cron(0 0 L * ? *)", at(2023, 2, 1), at(2023, 2, 28)),
    ("cron(0 0 L * ? *)", at(2024, 2, 29, 0, 0), at(2024, 3, 31)),
    # 29 February: the next leap year, and 2100 is not one
    ("cron(0 0 29 FEB ? *)", at(2024, 3, 1), at(2028, 2, 29)),
    ("cron(0 0 29 FEB ? *)", at(2096, 3, 1), at(2104, 2, 29)),
    # LW: last weekday. Aug 31 2024 is a Saturday, Mar 31 2024 a Sunday, Feb 29 2024 a Thursday
    ("cron(0 0 LW * ? *)", at(2024, 8, 1), at(2024, 8, 30)),
    ("cron(0 0 LW * ? *)", at(2024, 3, 1), at(2024, 3, 29)),
    ("cron(0 0 LW * ? *)", at(2024, 2, 1), at(2024, 2, 29)),
    # 15W: June 15 2024 is a Saturday (-> Fri 14), Sep 15 2024 a Sunday (-> Mon 16)
    ("cron(0 0 15W * ? *)", at(2024, 6, 1), at(2024, 6, 14)),
    ("cron(0 0 15W * ? *)", at(2024, 9, 1), at(2024, 9, 16)),
    ("cron(0 0 15W * ? *)", at(2024, 2, 1), at(2024, 2, 15)),
    # 1W never goes back into the previous month: June 1 2024 is a Saturday -> Mon 3
    ("cron(0 0 1W * ? *)", at(2024, 5, 31), at(2024, 6, 3)),
    # 30W never goes forward into the next: Nov 30 2025 is a Sunday -> Fri 28
    ("cron(0 0 30W * ? *)", at(2025, 11, 1), at(2025, 11, 28)),
    # 31W in April (30 days) does not fire; May 31 2024 is a Friday
    ("cron(0 0 31W * ? *)", at(2024, 4, 1), at(2024, 5, 31)),
    # 6L: last Friday. Feb 2024 -> 23rd, Nov 2024 -> 29th
    ("cron(0 0 ? * 6L *)", at(2024, 2, 1), at(2024, 2, 23)),
    ("cron(0 0 ? * FRIL *)", at(2024, 11, 1), at(2024, 11, 29)),
    # 3#2: second Tuesday. Feb 2024 -> 13th, Dec 2024 -> 10th
    ("cron(0 0 ? * 3#2 *)", at(2024, 2, 1), at(2024, 2, 13)),
    ("cron(0 0 ? * TUE#2 *)", at(2024, 11, 30), at(2024, 12, 10)),
    # 2#5: fifth Monday; August 2024 has four, September 2024 has five (30th)
    ("cron(0 0 ? * 2#5 *)", at(2024, 8, 1), at(2024, 9, 30)),
    # 1#1: first Sunday; Sep 1 2024 is one, so from it the next is Oct 6
    ("cron(0 0 ? * 1#1 *)", at(2024, 9, 1), at(2024, 10, 6)),
    # years
    ("cron(0 0 1 1 ? 2030)", at(2024, 6, 1), at(2030, 1, 1)),
    ("cron(59 23 31 DEC ? 2199)", at(2199, 12, 31, 23, 58), at(2199, 12, 31, 23, 59)),
]


@pytest.mark.parametrize(("text", "after", "expected"), NEXT_FIRES)
def test_next_fire_time_of_cron_schedule(text, after, expected):
    assert parse_schedule(text).next_after(after) == expected


def test_cron_schedule_whose_years_have_passed_never_fires_again():
    schedule = parse_schedule("cron(0 0 1 1 ? 2030)")
    assert schedule.next_after(at(2030, 1, 1, 0, 0)) is None


def test_cron_schedule_has_no_fire_time_after_2199():
    assert parse_schedule("hourly").next_after(at(2199, 12, 31, 23, 30)) is None
    assert parse_schedule("hourly").next_after(dt.datetime.max) is None


def test_aware_time_gives_the_next_fire_time_in_utc():
    two_hours_east = dt.timezone(dt.timedelta(hours=2))
    after = dt.datetime(2024, 2, 10, 23, 30, tzinfo=two_hours_east)  # 21:30 UTC
    fire = parse_schedule("daily").next_after(after)
    assert fire == dt.datetime(2024, 2, 11, 0, 0, tzinfo=dt.UTC)
    assert fire.tzinfo is dt.UTC


def test_rate_schedule_fires_one_interval_after_the_given_time():
    after = at(2024, 2, 10, 12, 34, 56)
    assert parse_schedule("rate(6 hours)").next_after(after) == at(2024, 2, 10, 18, 34, 56)
    assert parse_schedule("rate(7 days)").next_after(after) == at(2024, 2, 17, 12, 34, 56)


# --- SageMaker Model Monitor ----------------------------------------------------------------

MONITOR_FORMS = [
    ("hourly", "cron(0 * ? * * *)"),
    ("daily", "cron(0 0 ? * * *)"),
    ("cron(0 12 * * ? *)", "cron(0 12 ? * * *)"),
    ("cron(0 12 ? * * *)", "cron(0 12 ? * * *)"),
    ("cron(0 * ? * SUN-SAT *)", "cron(0 * ? * * *)"),
    ("cron(0 0/6 * * ? *)", "cron(0 0/6 ? * * *)"),
    ("cron(0 5/12 * * ? *)", "cron(0 5/12 ? * * *)"),
    ("cron(0 0,6,12,18 * * ? *)", "cron(0 0/6 ? * * *)"),
    # EventBridge reads 17/12 as 17:00 only (the next would be 29:00)
    ("cron(0 17/12 ? * * *)", "cron(0 17 ? * * *)"),
    ("rate(1 hour)", "cron(0 * ? * * *)"),
    ("rate(60 minutes)", "cron(0 * ? * * *)"),
    ("rate(6 hours)", "cron(0 0/6 ? * * *)"),
    ("rate(24 hours)", "cron(0 0 ? * * *)"),
    ("rate(1 day)", "cron(0 0 ? * * *)"),
]


@pytest.mark.parametrize(("text", "expected"), MONITOR_FORMS)
def test_model_monitor_form_of_schedule(text, expected):
    assert monitoring_schedule_expression(parse_schedule(text)) == expected


NOT_FOR_MONITOR = [
    ("weekly", "cannot be limited to certain days or months"),
    ("cron(0 0 1 * ? *)", "cannot be limited to certain days or months"),
    ("cron(0 0 * JAN ? *)", "cannot be limited to certain days or months"),
    ("cron(0 0 * * ? 2030)", "cannot be limited to certain years"),
    ("cron(30 * * * ? *)", "on the hour only"),
    ("cron(0 0/5 * * ? *)", "every N hours only where N divides 24"),
    ("cron(0 13/4 * * ? *)", "starting before the Nth hour"),
    ("cron(0 1,2,5 * * ? *)", "every N hours only"),
    ("cron(0 9-17 * * ? *)", "every N hours only"),
    ("rate(5 minutes)", "whole hours that divide a day"),
    ("rate(90 minutes)", "whole hours that divide a day"),
    ("rate(7 hours)", "whole hours that divide a day"),
    ("rate(2 days)", "whole hours that divide a day"),
]


@pytest.mark.parametrize(("text", "fragment"), NOT_FOR_MONITOR)
def test_refuses_schedule_model_monitor_cannot_run(text, fragment):
    with pytest.raises(ValueError) as caught:
        monitoring_schedule_expression(parse_schedule(text))
    message = str(caught.value)
    assert message.startswith("SageMaker Model Monitor cannot run on ")
    assert fragment in message


# --- properties -----------------------------------------------------------------------------

_SCHEDULE_TEXT = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda fields: "cron(" + " ".join(fields) + ")",
        st.lists(st.text(alphabet="0123456789*?/-,LW#JANMOSUFRI", max_size=6), max_size=7),
    ),
)


@settings(max_examples=300)
@given(_SCHEDULE_TEXT)
def test_any_text_is_a_schedule_or_a_value_error(text):
    try:
        schedule = parse_schedule(text)
    except ValueError:
        return
    assert schedule.kind in ("cron", "rate")
    assert parse_schedule(schedule.expression) == schedule


@settings(max_examples=300)
@given(st.text(alphabet="0123456789wdhms -", max_size=12))
def test_any_text_is_a_duration_or_a_value_error(text):
    try:
        duration = parse_duration(text)
    except ValueError:
        return
    assert duration > dt.timedelta(0)


@settings(max_examples=200)
@given(
    st.sampled_from(
        ["hourly", "weekly", "cron(0/7 1-5 L * ? *)", "cron(10 3 ? * 2#5 *)", "cron(0 0 15W * ? *)"]
    ),
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2190, 1, 1)),
)
def test_next_fire_time_is_a_later_whole_minute_with_none_in_between(text, moment):
    schedule = parse_schedule(text)
    fire = schedule.next_after(moment)
    assert fire > moment
    assert fire.second == fire.microsecond == 0
    # Asking from any moment between gives the same fire time.
    assert schedule.next_after(moment + (fire - moment) / 2) == fire
    assert schedule.next_after(fire - dt.timedelta(seconds=1)) == fire
