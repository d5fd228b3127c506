"""Checking a PutRecord record against its group's definition, and reading its event time.

Every value arrives as a string, as in SageMaker's `FeatureValue.ValueAsString`; a record is
accepted only if every value parses as its feature's type, and the parsed values are what the
offline store writes with their real Parquet types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlinfra.emulator.featurestore.definition import FeatureGroup
from mlinfra.emulator.featurestore.errors import FeatureStoreError

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
MAX_SHOWN = 200  # characters of a refused value quoted in a message
_INTEGRAL = re.compile(r"[+-]?[0-9]+")
_FRACTIONAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# SageMaker's two documented event time formats: yyyy-MM-dd'T'HH:mm:ssZ and
# yyyy-MM-dd'T'HH:mm:ss.SSSZ (UTC only, milliseconds exactly three digits).
_ISO_EVENT_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{3}))?Z"
)


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """A valid record: its key, event time (integer microseconds, so ties compare exactly)."""

    identifier: str
    event_time_us: int
    event_date: str
    values: dict[str, str]  # in definition order, only the features the record carries
    typed: dict[str, Any]  # the same values as int / float / str


def parse_value(kind: str, name: str, value: Any) -> Any:
    """The typed value of one feature, or a ValidationError naming the feature and the value."""
    if not isinstance(value, str):
        raise _invalid(name, value, "every ValueAsString must be a string")
    if kind == "String":
        return value
    if kind == "Integral":
        if _INTEGRAL.fullmatch(value):
            # Leading zeros dropped first: Python converts no more than 4,300 digits, and a
            # 64-bit integer has at most 19.
            sign, digits = value[:1] if value[:1] in "+-" else "", value.lstrip("+-").lstrip("0")
            number = int(sign + (digits or "0")) if len(digits) <= 19 else None
            if number is not None and _INT64_MIN <= number <= _INT64_MAX:
                return number
        raise _invalid(name, value, "expected an Integral (a 64-bit integer)")
    if _FRACTIONAL.fullmatch(value):
        number = float(value)
        if number not in (float("inf"), float("-inf")):
            return number
    raise _invalid(name, value, "expected a Fractional (a finite 64-bit float)")


def parse_event_time(kind: str, name: str, value: Any) -> tuple[int, str]:
    """(microseconds since the epoch, 'YYYY-MM-DD') of an event time value of `kind`."""
    if kind == "Fractional":
        seconds = parse_value("Fractional", name, value)
        try:
            day = datetime.fromtimestamp(seconds, UTC).date()
        except (OverflowError, ValueError, OSError):
            raise _invalid(name, value, "Unix timestamp out of range") from None
        return round(seconds * 1_000_000), day.isoformat()
    match = _ISO_EVENT_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid(
            name,
            value,
            "expected an event time yyyy-MM-dd'T'HH:mm:ssZ or yyyy-MM-dd'T'HH:mm:ss.SSSZ",
        )
    year, month, day_, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        moment = datetime(year, month, day_, hour, minute, second, tzinfo=UTC)
    except ValueError as error:
        raise _invalid(name, value, f"not a real date and time ({error})") from None
    millis = int(match.group(7) or 0)
    return int(moment.timestamp()) * 1_000_000 + millis * 1_000, value[:10]


def parse_identifier(group: FeatureGroup, value: Any) -> str:
    """The stored key of a record identifier: Integral identifiers compare as numbers."""
    definition = group.definition
    kind = definition.features[definition.record_identifier]
    typed = parse_value(kind, definition.record_identifier, value)
    return str(typed) if kind == "Integral" else typed


def parse_record(group: FeatureGroup, record: Any) -> ParsedRecord:
    """Check a `[{"FeatureName", "ValueAsString"}, ...]` record against the group's definition."""
    definition = group.definition
    features = definition.features
    if not isinstance(record, list) or not record:
        raise FeatureStoreError("ValidationError", "Record must be a non-empty list of features")
    given: dict[str, str] = {}
    for entry in record:
        if (
            not isinstance(entry, dict)
            or "FeatureName" not in entry
            or "ValueAsString" not in entry
        ):
            raise FeatureStoreError(
                "ValidationError",
                f"every record entry needs FeatureName and ValueAsString, got {entry!r}",
            )
        name = entry["FeatureName"]
        if name not in features:
            raise FeatureStoreError(
                "ValidationError",
                f"feature {name!r} is not defined in feature group {definition.name!r}",
            )
        if name in given:
            raise FeatureStoreError("ValidationError", f"feature {name!r} appears more than once")
        given[name] = entry["ValueAsString"]
    return parse_values(group, given)


def parse_values(group: FeatureGroup, given: dict[str, Any]) -> ParsedRecord:
    """Check a name -> string map whose names are all known features (records and CSV rows)."""
    definition = group.definition
    features = definition.features
    for required in (definition.record_identifier, definition.event_time):
        if required not in given:
            raise FeatureStoreError(
                "ValidationError", f"record is missing required feature {required!r}"
            )
    typed = {name: parse_value(features[name], name, given[name]) for name in given}
    event_time_us, event_date = parse_event_time(
        features[definition.event_time], definition.event_time, given[definition.event_time]
    )
    identifier = typed[definition.record_identifier]
    return ParsedRecord(
        identifier=str(identifier),
        event_time_us=event_time_us,
        event_date=event_date,
        values={name: given[name] for name in group.feature_names if name in given},
        typed=typed,
    )


def _invalid(name: str, value: Any, problem: str) -> FeatureStoreError:
    shown = repr(value)
    if len(shown) > MAX_SHOWN:  # a value of megabytes is no help in a message
        shown = f"{shown[:MAX_SHOWN]}... ({len(shown)} characters)"
    return FeatureStoreError(
        "ValidationError", f"feature {name!r}: value {shown} is not valid: {problem}"
    )
