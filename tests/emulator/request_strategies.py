"""Hypothesis strategies for API requests, built from botocore's input shapes.

`request(shape, seeds)` draws a request that conforms to the shape (types, required members,
lengths, enums, patterns, ranges), then, half the time, mutates one to three places of it:
a member removed or added, or a value replaced by a hostile one for its type (`hostile`):
the wrong type, too long or too short, a broken pattern, an unknown enum value, numbers no
wire type carries, NaN and Infinity, out-of-range timestamps, lone surrogates, deep nesting.

Values that plain JSON cannot spell (NaN, a 5,000-digit integer, 100,000 nested brackets)
are `Raw` JSON text, written as is by `to_json`. `seeds` maps a member name to values that
name existing resources (`{"EndpointName": ["fz-endpoint"]}`), so that conforming requests
reach past "not found" into the handlers.
"""

from __future__ import annotations

import base64
import json
import string
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

from mlinfra.emulator import constraints

MAX_ITEMS = 3  # members of a generated list or map
MAX_TEXT = 40  # characters of a generated string without a pattern
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
SAMPLE = ("abc", "Hello World-1.x_y", "é ü", "a/b:c=d+e@f")


@dataclass(frozen=True, repr=False)
class Raw:
    """JSON text written as is."""

    text: str

    def __repr__(self) -> str:  # a failing example shows 100,000 brackets as a count
        shown = self.text if len(self.text) <= 60 else f"{self.text[:30]}... ({len(self.text)})"
        return f"Raw({shown!r})"


def to_json(value: Any) -> str:
    """`value` as JSON text; `Raw` parts verbatim, lone surrogates as `\\ud800` escapes."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(str(k))}: {to_json(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


# --- conforming values --------------------------------------------------------------------


def conforming(shape: Shape, seeds: dict[str, list], name: str = "", depth: int = 0):
    """Values that satisfy every constraint of `shape` (what boto3 would send)."""
    kind = shape.type_name
    if kind == "structure" and shape.is_tagged_union:  # exactly one member set
        return st.one_of(
            *(st.fixed_dictionaries({n: conforming(m, seeds, n, depth + 1)})
              for n, m in shape.members.items())
        )  # fmt: skip
    if kind == "structure":
        required = set(shape.required_members)
        # Deep in a shape, optional members only make requests bigger, not more telling.
        return st.fixed_dictionaries(
            {n: conforming(m, seeds, n, depth + 1) for n, m in shape.members.items()
             if n in required},
            optional={} if depth > 4 else {
                n: conforming(m, seeds, n, depth + 1) for n, m in shape.members.items()
                if n not in required
            },
        )  # fmt: skip
    if kind == "list":
        low, high = _bounds(shape, MAX_ITEMS)
        return st.lists(conforming(shape.member, seeds, name, depth + 1), min_size=low,
                        max_size=high)  # fmt: skip
    if kind == "map":
        low, high = _bounds(shape, MAX_ITEMS)
        return st.dictionaries(
            conforming(shape.key, seeds, "", depth + 1),
            conforming(shape.value, seeds, "", depth + 1),
            min_size=low,
            max_size=high,
        )
    strategy = _scalar(shape)
    if seeds.get(name):
        strategy = st.one_of(st.sampled_from(seeds[name]), strategy)
    return strategy


def _bounds(shape: Shape, most: int) -> tuple[int, int]:
    low = int(shape.metadata.get("min", 0))
    high = int(shape.metadata.get("max", most))
    return min(low, most), max(min(high, most), min(low, most))


def _scalar(shape: Shape):
    kind = shape.type_name
    meta = shape.metadata
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        low, high = INT32 if kind == "integer" else INT64
        return st.integers(int(meta.get("min", low)), int(meta.get("max", high)))
    if kind in ("float", "double"):
        return st.floats(meta.get("min"), meta.get("max"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.floats(0, 4_102_444_800)  # 1970 to 2100, as epoch seconds
    if kind == "blob":
        low, high = _bounds(shape, 64)
        return st.binary(min_size=low, max_size=high).map(lambda b: base64.b64encode(b).decode())
    return st.none()


@cache
def _string(shape: Shape):
    meta = shape.metadata
    if "enum" in meta:
        return st.sampled_from(meta["enum"])
    low = int(meta.get("min", 0))
    high = int(meta.get("max", MAX_TEXT))
    pattern = constraints.compiled(meta["pattern"]) if "pattern" in meta else None
    if pattern is None:
        return st.text(min_size=low, max_size=max(low, min(high, MAX_TEXT)))

    def fits(text: str) -> bool:
        return low <= len(text) <= high

    if all(pattern.fullmatch(sample) for sample in SAMPLE):
        # A pattern for free text: Hypothesis builds huge classes slowly, so draw text and
        # keep what matches.
        text = st.text(string.ascii_letters + string.digits + " -_.:/=+@é", max_size=MAX_TEXT)
        return text.filter(lambda t: fits(t) and pattern.fullmatch(t) is not None)
    return st.from_regex(pattern, fullmatch=True).filter(fits)


# --- hostile values -----------------------------------------------------------------------

NUMBERS = tuple(
    Raw(text)
    for text in ("1e308", "-1e308", "1e400", "NaN", "Infinity", "-Infinity", "1" * 5000,
                 "-" + "9" * 30, str(10**18), str(2**31), str(2**63), "-0", "1e-400", "0.5")
)  # fmt: skip
TIMESTAMPS = (
    Raw("1e308"), Raw("-1e308"), -1, 0, 253402300800, -62135596801, 1e17,
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-01-01T00:00:00Z", "soon",
)  # fmt: skip
TEXTS = (
    "", " ", "../x", "a/b", "a\x00b", "\ud800", "a\udfffb", "\ud83d\ude00", "é", "Nope",
    "\n", "%2e%2e%2f", "x" * 70, "y" * 300, Raw(json.dumps("z" * 100_000)),
    Raw(json.dumps("[" * 50_000)), Raw(json.dumps('{"Steps": [{"Name": ' * 3000)), "NaN",
)  # fmt: skip


def deep(levels: int) -> Raw:
    return Raw("[" * levels + "]" * levels)


def deep_object(levels: int) -> Raw:
    return Raw('{"a": ' * levels + "1" + "}" * levels)


WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([deep(100_000), deep_object(100_000), deep(101), deep_object(60)]),
    st.sampled_from(NUMBERS),
)


def hostile(shape: Shape):
    """Values for a place of `shape` that AWS refuses, or that strain what reads them."""
    kind = shape.type_name
    meta = shape.metadata
    own: list[Any] = []
    if kind == "string":
        own = list(TEXTS)
        if "max" in meta:
            own.append("a" * (int(meta["max"]) + 1))
    elif kind in ("integer", "long"):
        own = [*NUMBERS, -1, 0]
        for bound, step in (("min", -1), ("max", 1)):
            if bound in meta:
                own.append(int(meta[bound]) + step)
    elif kind in ("float", "double"):
        own = [*NUMBERS, -1.0]
    elif kind == "timestamp":
        own = list(TIMESTAMPS)
    elif kind == "list":
        own = [["x"] * (int(meta.get("max", 100)) + 1), [None], [deep(50)]]
    elif kind == "map":
        own = [
            {"\ud800": "x"},
            {"": ""},
            {str(i): "x" for i in range(int(meta.get("max", 60)) + 1)},
        ]
    elif kind == "blob":
        own = ["not base64!", "\ud800"]
    return st.one_of(st.sampled_from(own), WRONG_TYPES) if own else WRONG_TYPES


# --- mutation -----------------------------------------------------------------------------


def _places(value: Any, shape: Shape, path: tuple) -> list[tuple[tuple, Shape, Any]]:
    """Every place of a value (path, shape, what is there), absent members included."""
    found = [(path, shape, value)]
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                found += _places(value[name], member, (*path, name))
            else:
                found.append(((*path, name), member, None))
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            found += _places(item, shape.member, (*path, index))
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, shape.value, (*path, key))
    return found


def _replace(value: Any, path: tuple, new: Any, remove: bool = False) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    if remove and not rest:
        if isinstance(copy, dict):
            copy.pop(head, None)
        else:
            del copy[head]
        return copy
    copy[head] = _replace(copy[head] if not isinstance(copy, dict) or head in copy else {},
                          rest, new, remove)  # fmt: skip
    return copy


@st.composite
def request(draw, shape: Shape, seeds: dict[str, list]) -> tuple[Any, bool]:
    """(request, whether it was mutated) for an operation's input shape."""
    value = draw(conforming(shape, seeds))
    if not draw(st.booleans()):
        return value, False
    for _ in range(draw(st.integers(1, 3))):
        path, place, there = draw(st.sampled_from(_places(value, shape, ())))
        action = draw(st.sampled_from(["hostile", "hostile", "hostile", "remove", "unknown"]))
        if action == "remove" and path:
            value = _replace(value, path, None, remove=True)
        elif action == "unknown" and isinstance(there, dict):
            value = _replace(value, (*path, "NotAMember"), draw(WRONG_TYPES))
        else:
            value = _replace(value, path, draw(hostile(place)))
    return value, True
