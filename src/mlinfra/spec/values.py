"""Parsers for the spec's scalar values: durations, schedules, dates and percentages.

Each parser takes what the user wrote and returns a plain value, or raises `ValueError` with a
message that says what was expected and shows an example, ready to become a diagnostic.

A local monitor's job reads its baseline and alert targets from environment variables
(`monitor_setting`), whose length SageMaker limits.

Schedules follow Amazon EventBridge, because that is what runs them on AWS: ``cron(...)`` with
six fields, ``rate(N unit)``, and three shorthands that stand for fixed cron expressions. The
local scheduler computes fire times with `Schedule.next_after`; SageMaker Model Monitor accepts
only a few cron forms, and `monitoring_schedule_expression` translates to them or says why not.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import difflib
import functools
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlinfra.sagemaker.api import sagemaker_shape

# --- durations ------------------------------------------------------------------------------

_DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_DURATION = re.compile(r"(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_DURATION_PARTS = re.compile(r"(?:[0-9]+[wdhms])+")
_DURATION_HELP = "write a number followed by s, m, h, d or w, like 72h or 30d"


def parse_duration(text: str) -> dt.timedelta:
    """`30s`, `15m`, `72h`, `30d`, `2w`, or several in descending order such as `1d12h`."""
    if not isinstance(text, str):
        raise ValueError(f"{_shown(text)} is not a duration; {_DURATION_HELP}")
    stripped = text.strip()
    match = _DURATION.fullmatch(stripped)
    if not stripped or not match:
        if _DURATION_PARTS.fullmatch(stripped):
            raise ValueError(
                f"'{text}' is not a duration; write each unit once, largest first, like 1d12h"
            )
        raise ValueError(f"'{text}' is not a duration; {_DURATION_HELP}")
    amounts = {
        _DURATION_UNITS[unit]: int(number)
        for unit, number in zip(_DURATION_UNITS, match.groups(), strict=True)
        if number is not None
    }
    if any(amount == 0 for amount in amounts.values()):
        raise ValueError(f"'{text}' is not a duration; each part must be a positive number")
    try:
        return dt.timedelta(**amounts)
    except OverflowError:
        raise ValueError(f"'{text}' is too long to be a duration") from None


# --- dates and percentages ------------------------------------------------------------------

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def parse_date(text: str) -> dt.date:
    """An ISO calendar date, `YYYY-MM-DD`, that exists (no 30 February)."""
    if type(text) is dt.date:  # already a date (a datetime is not one: it has a time)
        return text
    if not isinstance(text, str) or not _DATE.fullmatch(text.strip()):
        raise ValueError(f"{_shown(text)} is not a date; write YYYY-MM-DD, like 2027-06-30")
    year, month, day = (int(part) for part in _DATE.fullmatch(text.strip()).groups())
    if not 1 <= month <= 12:
        raise ValueError(f"'{text}' is not a real date: the month must be 01 to 12")
    if year < 1:
        raise ValueError(f"'{text}' is not a real date: the year must be 0001 or later")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValueError(
            f"'{text}' is not a real date: {calendar.month_name[month]} {year} has {last} days"
        )
    return dt.date(year, month, day)


_PERCENT_TEXT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*%?")


def parse_percent(value: object) -> float:
    """A percentage from 0 to 100: a number, or text such as `20` or `12.5%`."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _PERCENT_TEXT.fullmatch(value.strip()):
        number = float(_PERCENT_TEXT.fullmatch(value.strip()).group(1))
    if number is None or not math.isfinite(number) or not 0 <= number <= 100:
        raise ValueError(
            f"{_shown(value)} is not a percentage; write a number from 0 to 100, like 20"
        )
    return number


def _shown(value: object) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value)


# --- schedules ------------------------------------------------------------------------------

SHORTHANDS = {
    "hourly": "cron(0 * * * ? *)",
    "daily": "cron(0 0 * * ? *)",
    "weekly": "cron(0 0 ? * SUN *)",
}
MIN_YEAR, MAX_YEAR = 1970, 2199

_SCHEDULE_HELP = (
    "write hourly, daily, weekly, cron(minutes hours day-of-month month day-of-week year) "
    "or rate(N unit), like cron(0 3 * * ? *) or rate(6 hours)"
)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    steps: bool  # whether `/` increments are allowed
    names: tuple[str, ...] = ()  # names for low, low + 1, ...

    def value(self, token: str, expression: str) -> int:
        upper = token.upper()
        if upper in self.names:
            return self.low + self.names.index(upper)
        if re.fullmatch(r"[0-9]+", token) and self.low <= int(token) <= self.high:
            return int(token)
        named = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
        raise ValueError(
            f"{expression}: '{token}' is not a valid {self.name}; use {self.low}-{self.high}{named}"
        )


_MONTH_NAMES = tuple(name.upper() for name in calendar.month_abbr[1:])
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS numbers them 1-7
_MINUTES = _Field("minute", 0, 59, True)
_HOURS = _Field("hour", 0, 23, True)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, True)
_MONTH = _Field("month", 1, 12, True, _MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, False, _DAY_NAMES)
_YEAR = _Field("year", MIN_YEAR, MAX_YEAR, True)


@dataclass(frozen=True)
class _Days:
    """Which days of a month fire: from day-of-month or day-of-week, whichever is not `?`.

    kind is "dom" (values are days of the month), "dow" (values are AWS weekdays, 1 = SUN),
    "last" (L), "last-weekday" (LW), "nearest-weekday" (15W: day), "last-dow" (6L: day) or
    "nth-dow" (3#2: day, nth).
    """

    kind: str
    values: frozenset[int] = frozenset()
    day: int = 0
    nth: int = 0


@dataclass(frozen=True)
class _Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: _Days
    months: tuple[int, ...]
    years: tuple[int, ...]


@dataclass(frozen=True)
class Schedule:
    """When something runs, in AWS's own form: `cron(...)` or `rate(...)`.

    Construct with `parse_schedule`; constructing directly also validates `expression`.
    """

    expression: str
    kind: str  # "cron" or "rate"
    _rule: _Cron | dt.timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        canonical, rule = _compile(self.expression)
        kind = "rate" if isinstance(rule, dt.timedelta) else "cron"
        if kind != self.kind:
            raise ValueError(f"{canonical} is a {kind} schedule, not a {self.kind} schedule")
        object.__setattr__(self, "expression", canonical)
        object.__setattr__(self, "_rule", rule)

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first fire time strictly after `moment`, or None if the schedule has ended.

        Cron times are UTC, as on AWS. An aware `moment` gives an aware UTC result; a naive
        one is taken to be UTC and gives a naive result. A cron schedule ends when its year
        field runs out (AWS stops at 2199).

        A rate schedule has no fixed phase: AWS fires it every interval from when it was
        created. So the next time after `moment` is taken to be `moment + interval`, which is
        right when `moment` is the previous fire (or the creation) time.
        """
        aware = moment.tzinfo is not None
        if aware:
            moment = moment.astimezone(dt.UTC)
        if isinstance(self._rule, dt.timedelta):
            return moment + self._rule
        found = _next_fire(self._rule, moment.replace(tzinfo=None))
        if found is None or not aware:
            return found
        return found.replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=1024)  # pure, and asked again for every job a schedule drives
def parse_schedule(text: str) -> Schedule:
    """`hourly`, `daily`, `weekly`, an EventBridge `cron(...)` or a `rate(N unit)`."""
    if not isinstance(text, str):
        raise ValueError(f"{_shown(text)} is not a schedule; {_SCHEDULE_HELP}")
    expression = SHORTHANDS.get(text.strip(), text.strip())
    kind = expression.split("(", 1)[0]
    if kind not in ("cron", "rate"):
        close = difflib.get_close_matches(text.strip().lower(), [*SHORTHANDS, "cron", "rate"], 1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"'{text}' is not a schedule{hint}; {_SCHEDULE_HELP}")
    return Schedule(expression, kind)


# Characters AWS allows in a tag value (letters, digits, spaces and `_ . : / = + - @`).
_TAG_SAFE = re.compile(r"[\w .:/=+\-@]*", re.ASCII)
_ENCODED = "base64:"


def schedule_tag(expression: str) -> str:
    """A schedule as the value of the emulator's `mlinfra:schedule` tag: as written when AWS's
    tag rules allow it (`daily`), else base64 behind a prefix (`cron(0 3 * * ? *)` has
    characters no tag value may hold)."""
    if _TAG_SAFE.fullmatch(expression):
        return expression
    return _ENCODED + base64.b64encode(expression.encode()).decode("ascii")


def schedule_of_tag(value: str) -> str:
    """The schedule a `schedule_tag` value holds; ValueError if it is not one."""
    if not value.startswith(_ENCODED):
        return value
    try:
        return base64.b64decode(value[len(_ENCODED) :], validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{value!r} is not an encoded schedule") from None


def _compile(expression: str) -> tuple[str, _Cron | dt.timedelta]:
    """The canonical text of an expression and what it means, or ValueError."""
    text = expression.strip()
    if text.startswith("rate(") and text.endswith(")"):
        return _compile_rate(text)
    if text.startswith("cron(") and text.endswith(")"):
        return _compile_cron(text)
    raise ValueError(f"'{expression}' is not a schedule; {_SCHEDULE_HELP}")


_RATE_UNITS = {"minute": 1, "hour": 60, "day": 24 * 60}


def _compile_rate(text: str) -> tuple[str, dt.timedelta]:
    words = text[len("rate(") : -1].split()
    if len(words) != 2:
        raise ValueError(f"{text} is not a rate; write rate(N unit), like rate(5 minutes)")
    number, unit = words
    if not re.fullmatch(r"[0-9]+", number) or int(number) < 1:
        raise ValueError(f"{text}: the rate must be a whole number of at least 1")
    value = int(number)
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise ValueError(f"{text}: the unit must be minute(s), hour(s) or day(s)")
    # AWS rejects `rate(1 hours)` and `rate(5 hour)`: singular exactly when the value is 1.
    if value == 1 and unit != singular:
        raise ValueError(f"{text}: write the singular '{singular}' for 1, like rate(1 {singular})")
    if value != 1 and unit == singular:
        raise ValueError(
            f"{text}: write the plural '{singular}s' for {value}, like rate({value} {singular}s)"
        )
    try:
        interval = dt.timedelta(minutes=value * _RATE_UNITS[singular])
    except OverflowError:
        raise ValueError(f"{text}: the interval is too long") from None
    return f"rate({value} {unit})", interval


def _compile_cron(text: str) -> tuple[str, _Cron]:
    fields = text[len("cron(") : -1].split()
    if len(fields) != 6:
        raise ValueError(
            f"{text} has {len(fields)} field{'s' if len(fields) != 1 else ''}; AWS cron "
            "expressions have 6: minutes hours day-of-month month day-of-week year, "
            "like cron(0 3 * * ? *)"
        )
    canonical = "cron(" + " ".join(f.upper() for f in fields) + ")"
    minute, hour, dom, month, dow, year = (f.upper() for f in fields)
    if (dom == "?") == (dow == "?"):
        raise ValueError(
            f"{text}: exactly one of day-of-month and day-of-week must be '?'; "
            "like cron(0 3 * * ? *) for every day or cron(0 3 ? * MON *) for Mondays"
        )
    days = _day_of_month(dom, canonical) if dow == "?" else _day_of_week(dow, canonical)
    cron = _Cron(
        minutes=tuple(sorted(_values(minute, _MINUTES, canonical))),
        hours=tuple(sorted(_values(hour, _HOURS, canonical))),
        days=days,
        months=tuple(sorted(_values(month, _MONTH, canonical))),
        years=tuple(sorted(_values(year, _YEAR, canonical))),
    )
    # Valid field by field yet never true, like 30 February: surely a mistake.
    if _next_fire(cron, dt.datetime(MIN_YEAR - 1, 12, 31, 23, 59)) is None:
        raise ValueError(f"{canonical} never fires: no date matches its day, month and year")
    return canonical, cron


_SPECIALS = {
    "?": "day-of-month or day-of-week",
    "L": "day-of-month or day-of-week",
    "W": "day-of-month",
    "#": "day-of-week",
}


def _values(text: str, spec: _Field, expression: str) -> frozenset[int]:
    """A field of comma-separated `*`, `v`, `a-b`, `*/n`, `v/n` and `a-b/n` items."""
    # Day fields handle their own wildcards before calling here; what is left is misplaced.
    day_field = spec in (_DAY_OF_MONTH, _DAY_OF_WEEK)
    for special, home in _SPECIALS.items():
        if special in _without_names(text, spec):
            if special == "?" and day_field:
                raise ValueError(f"{expression}: '?' must be the whole {spec.name} field")
            raise ValueError(
                f"{expression}: '{special}' is not allowed in the {spec.name} field, only in {home}"
            )
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        if slash and not spec.steps:
            raise ValueError(f"{expression}: '/' is not allowed in the {spec.name} field")
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = spec.value(first, expression), spec.value(last, expression)
            if low > high:
                raise ValueError(
                    f"{expression}: the {spec.name} range '{base}' runs backwards; "
                    "write the smaller value first"
                )
        else:
            low = spec.value(base, expression)
            high = spec.high if slash else low
        step = 1
        if slash:
            span = spec.high - spec.low + 1
            if not re.fullmatch(r"[0-9]+", step_text) or not 1 <= int(step_text) <= span:
                raise ValueError(
                    f"{expression}: the {spec.name} increment in '{item}' must be a whole "
                    f"number from 1 to {span}"
                )
            step = int(step_text)
        values.update(range(low, high + 1, step))
    return frozenset(values)


def _without_names(text: str, spec: _Field) -> str:
    # JUL holds an L and WED a W: they are names, not wildcards.
    for name in spec.names:
        text = text.replace(name, "")
    return text


def _day_of_month(text: str, expression: str) -> _Days:
    if text == "L":
        return _Days("last")
    if text == "LW":
        return _Days("last-weekday")
    nearest = re.fullmatch(r"([0-9]+)W", text)
    if nearest:
        return _Days("nearest-weekday", day=_DAY_OF_MONTH.value(nearest.group(1), expression))
    if "L" in text or "W" in text:
        raise ValueError(
            f"{expression}: in the day-of-month field 'L' and 'W' stand alone, as L (last day), "
            "LW (last weekday) or 15W (the weekday nearest the 15th)"
        )
    return _Days("dom", _values(text, _DAY_OF_MONTH, expression))


def _day_of_week(text: str, expression: str) -> _Days:
    if "#" in text:
        if "," in text:
            raise ValueError(
                f"{expression}: with '#' the day-of-week field holds one item only, like 3#2"
            )
        day, _, nth = text.partition("#")
        if not re.fullmatch(r"[1-5]", nth):
            raise ValueError(
                f"{expression}: in '{text}' the number after '#' must be 1 to 5 (which "
                "occurrence of the day in the month)"
            )
        return _Days("nth-dow", day=_DAY_OF_WEEK.value(day, expression), nth=int(nth))
    if text == "L":
        return _Days("dow", frozenset({7}))  # L alone is the last day of the week: SAT
    if text.endswith("L") and "," not in text and "-" not in text:
        return _Days("last-dow", day=_DAY_OF_WEEK.value(text[:-1], expression))
    if "L" in text:  # no day name holds an L, so this is the wildcard
        raise ValueError(
            f"{expression}: in the day-of-week field 'L' stands alone (SAT) or after one day, "
            "like 6L or FRIL for the last Friday of the month"
        )
    if "W" in _without_names(text, _DAY_OF_WEEK):
        raise ValueError(f"{expression}: 'W' is not allowed in the day-of-week field")
    return _Days("dow", _values(text, _DAY_OF_WEEK, expression))


def _aws_weekday(day: dt.date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Python counts MON = 0; AWS counts SUN = 1


def _matching_days(days: _Days, year: int, month: int) -> list[int]:
    last = calendar.monthrange(year, month)[1]
    if days.kind == "dom":
        return sorted(d for d in days.values if d <= last)
    if days.kind == "last":
        return [last]
    if days.kind == "last-weekday":
        day = last
        while dt.date(year, month, day).weekday() >= 5:
            day -= 1
        return [day]
    if days.kind == "nearest-weekday":
        # As in Quartz, whose syntax AWS follows: never leave the month, and a month without
        # the day (31W in April) does not fire.
        day = days.day
        if day > last:
            return []
        weekday = dt.date(year, month, day).weekday()
        if weekday == 5:  # Saturday: the Friday before, unless that is last month
            return [day - 1 if day > 1 else day + 2]
        if weekday == 6:  # Sunday: the Monday after, unless that is next month
            return [day + 1 if day < last else day - 2]
        return [day]
    weekdays = [
        d
        for d in range(1, last + 1)
        if _aws_weekday(dt.date(year, month, d))
        in (days.values if days.kind == "dow" else {days.day})
    ]
    if days.kind == "dow":
        return weekdays
    if days.kind == "last-dow":
        return weekdays[-1:]
    return weekdays[days.nth - 1 : days.nth]  # nth-dow: empty when the month has no 5th


def _next_fire(cron: _Cron, after: dt.datetime) -> dt.datetime | None:
    """The first minute matching `cron` strictly after the naive UTC time `after`."""
    if after.year > MAX_YEAR:
        return None
    start = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    first_day = start.date()
    for year in cron.years:
        if year < start.year:
            continue
        for month in cron.months:
            if (year, month) < (start.year, start.month):
                continue
            for day in _matching_days(cron.days, year, month):
                date = dt.date(year, month, day)
                if date < first_day:
                    continue
                for hour in cron.hours:
                    if date == first_day and hour < start.hour:
                        continue
                    for minute in cron.minutes:
                        if date == first_day and (hour, minute) < (start.hour, start.minute):
                            continue
                        return dt.datetime(year, month, day, hour, minute)
    return None


# --- SageMaker Model Monitor ----------------------------------------------------------------

_MONITOR_FORMS = "hourly, daily, cron(0 H ? * * *) or cron(0 H/N ? * * *) where N divides 24"


def monitoring_schedule_expression(schedule: Schedule) -> str:
    """The `ScheduleExpression` SageMaker Model Monitor accepts for `schedule`, or ValueError.

    Model Monitor takes only `cron(0 * ? * * *)` (hourly), `cron(0 H ? * * *)` (daily at H)
    and `cron(0 H/N ? * * *)` (every N hours from H). Only steps N that divide 24, starting
    at H < N, are produced: then EventBridge's reading of `H/N` (from H until midnight) and
    Model Monitor's ("every N hours, starting at H") agree.

    A rate of whole hours that divides a day is given its cron form anchored at midnight UTC,
    since a rate has no phase of its own.
    """
    rule = schedule._rule
    if isinstance(rule, dt.timedelta):
        hour = dt.timedelta(hours=1)
        if rule % hour or (rule // hour != 24 and 24 % (rule // hour)):
            raise ValueError(
                f"SageMaker Model Monitor cannot run on {schedule.expression}: it runs on "
                f"whole hours that divide a day; use {_MONITOR_FORMS}"
            )
        return _monitor_hours(range(0, 24, min(rule // hour, 24)))
    reason = _monitor_problem(rule)
    if reason:
        raise ValueError(
            f"SageMaker Model Monitor cannot run on {schedule.expression}: {reason}; "
            f"use {_MONITOR_FORMS}"
        )
    return _monitor_hours(rule.hours)


def _monitor_problem(cron: _Cron) -> str | None:
    every_day = (cron.days.kind == "dom" and cron.days.values == frozenset(range(1, 32))) or (
        cron.days.kind == "dow" and cron.days.values == frozenset(range(1, 8))
    )
    if cron.minutes != (0,):
        return "it starts jobs on the hour only (minute 0)"
    if not every_day or cron.months != tuple(range(1, 13)):
        return "it runs every day and cannot be limited to certain days or months"
    if cron.years != tuple(range(MIN_YEAR, MAX_YEAR + 1)):
        return "it cannot be limited to certain years"
    hours = cron.hours
    if len(hours) > 1:
        step = hours[1] - hours[0]
        if 24 % step or hours[0] >= step or hours != tuple(range(hours[0], 24, step)):
            return "it runs every N hours only where N divides 24, starting before the Nth hour"
    return None


def _monitor_hours(hours: range | tuple[int, ...]) -> str:
    hours = tuple(hours)
    if hours == tuple(range(24)):
        return "cron(0 * ? * * *)"
    if len(hours) == 1:
        return f"cron(0 {hours[0]} ? * * *)"
    return f"cron(0 {hours[0]}/{hours[1] - hours[0]} ? * * *)"


# --- a local monitor's job settings ---------------------------------------------------------


def monitor_setting(name: str, value: str | Iterable[str]) -> str:
    """The environment variable `name` of a local monitor's job, from its `baseline` or
    `ground_truth` path or its `alert` targets (a JSON list), or ValueError when SageMaker
    would refuse its length (`ProcessingEnvironmentValue`: at most 256 characters)."""
    path = name in ("baseline", "ground_truth")
    text = f"file:{value}" if path else json.dumps(list(value))
    limit = sagemaker_shape("ProcessingEnvironmentValue")["max"]
    if len(text) > limit:
        what = (
            f"the {name.replace('_', ' ')} path" if path else "the alert targets, as a JSON list,"
        )
        raise ValueError(
            f"{what} take {len(text)} characters in the monitoring job's environment, over "
            f"the {limit} SageMaker allows for an environment value"
        )
    return text
