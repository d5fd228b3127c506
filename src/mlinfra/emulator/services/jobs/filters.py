"""A transform job's `DataProcessing` for CSV records: filter the input, join, filter the output.

SageMaker applies `InputFilter` to each record before it is sent, joins each answer to its
record (`JoinSource: Input`: for CSV, the answer's fields appended to the record's) and applies
`OutputFilter` to what is written. For CSV the filters are JSONPath over a record's columns:
`$` (all of them) or `$[...]` with indexes and slices, negatives counting from the end
(`$[1:]`, `$[0,5:9]`, `$[0,-1]`). The emulator supports exactly that; JSON records, and
JSONPath beyond indexes and slices, are refused when the job is created.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from mlinfra.emulator.containers import JobFailure

Select = Callable[[list[str]], list[str]]
_ITEM = re.compile(r"^\s*(-?\d+)?\s*(:)?\s*(-?\d+)?\s*$")
CSV = "text/csv"


class FilterError(ValueError):
    """A filter the emulator cannot apply."""


def selector(path: str | None) -> Select | None:
    """The columns a JSONPath filter keeps from a CSV record; None for `$` (all)."""
    text = (path or "$").strip()
    if text == "$":
        return None
    if not (text.startswith("$[") and text.endswith("]")):
        raise FilterError(
            f"{path!r}: the local emulator applies CSV filters of column indexes and slices "
            "only, such as $[1:] or $[0,-1]"
        )
    picks: list[slice | int] = []
    for item in text[2:-1].split(","):
        found = _ITEM.match(item)
        if found is None or not any(found.groups()):
            raise FilterError(f"{path!r}: {item.strip()!r} is not a column index or slice")
        start, colon, end = found.groups()
        if colon:
            picks.append(slice(int(start) if start else None, int(end) if end else None))
        elif end is None:
            picks.append(int(start))
        else:
            raise FilterError(f"{path!r}: {item.strip()!r} is not a column index or slice")

    def select(fields: list[str]) -> list[str]:
        kept: list[str] = []
        for pick in picks:
            if isinstance(pick, slice):
                kept.extend(fields[pick])
            elif -len(fields) <= pick < len(fields):
                kept.append(fields[pick])
            else:
                raise JobFailure(
                    f"filter {path}: a record has {len(fields)} columns, no column {pick}"
                )
        return kept

    return select


@dataclass(frozen=True)
class Filters:
    """A job's DataProcessing, ready to apply."""

    input: Select | None
    join: bool
    output: Select | None

    @classmethod
    def of(cls, request: dict) -> Filters | None:
        """The filters of a CreateTransformJob request; None when it has none.
        FilterError for what the emulator cannot apply."""
        given = request.get("DataProcessing") or {}
        join = given.get("JoinSource", "None") == "Input"
        filters = cls(selector(given.get("InputFilter")), join, selector(given.get("OutputFilter")))
        if filters.input is None and not join and filters.output is None:
            return None
        content = (request["TransformInput"].get("ContentType") or CSV).split(";")[0].strip()
        accept = (request["TransformOutput"].get("Accept") or CSV).split(";")[0].strip()
        if content != CSV or (accept != CSV and (join or filters.output is not None)):
            raise FilterError(
                "DataProcessing: the local emulator filters and joins CSV records only "
                f"(ContentType and Accept text/csv; they are {content} and {accept})"
            )
        if request["TransformInput"].get("SplitType", "None") != "Line":
            raise FilterError("DataProcessing: the local emulator needs SplitType Line with it")
        return filters


def rows(data: bytes) -> list[list[str]]:
    """A CSV file's records, blank lines left out."""
    text = data.decode("utf-8")
    return [row for row in csv.reader(io.StringIO(text)) if row]


def to_csv(records: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue().encode("utf-8")


def filtered_input(filters: Filters, records: list[list[str]]) -> bytes:
    """The data sent to the model: each record with the input filter's columns."""
    select = filters.input
    return to_csv(records if select is None else [select(r) for r in records])


def joined_output(filters: Filters, records: list[list[str]], answers: bytes) -> bytes:
    """What is written: each answer (joined to its record) with the output filter's columns."""
    answered = rows(answers)
    if filters.join and len(answered) != len(records):
        raise JobFailure(
            f"the model answered {len(answered)} lines for {len(records)} records: joining "
            "answers to their records (JoinSource Input) needs one answer line per record"
        )
    out = [r + a for r, a in zip(records, answered, strict=True)] if filters.join else answered
    select = filters.output
    return to_csv(out if select is None else [select(r) for r in out])
