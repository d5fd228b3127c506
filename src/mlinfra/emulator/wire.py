"""Request bodies read as AWS reads them, before any handler sees a value.

Two steps, both before botocore's validation and the model's constraints (`constraints.py`):

- `load_json`: the JSON text, parsed with bounds. Nesting deeper than `MAX_DEPTH` (no
  SageMaker input shape comes close, and Python's parser would otherwise hit its recursion
  limit), `NaN` and `Infinity` (not JSON), numbers no AWS wire type carries (a double beyond
  1.8e308, an integer literal of more than `MAX_DIGITS` digits: Python refuses to convert
  those past 4,300 digits anyway), and text that is not Unicode (a lone surrogate escape such
  as `"\\ud800"`, which nothing downstream could encode) are all refused here.
- `problems`: each value against its shape's wire type. An `integer` is Java's 32-bit int
  and a `long` its 64-bit one, a `float` or `double` is finite, a boolean is no number, and a
  `timestamp` is what the JSON protocols send for one: a number of seconds since the epoch
  (`unixTimestamp`), here within the years 1 to 9999 (what the emulator can compute with). AWS
  refuses a string there ("STRING_VALUE can not be converted to milliseconds since epoch"),
  and so does the emulator.

Both answer with a message that says where and what; the protocol turns it into its own
error code (`SerializationException` for the control plane's JSON 1.1).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from botocore.model import Shape

MAX_DEPTH = 100
MAX_DIGITS = 40  # a long has 19; a double written out in full has at most 309 before the point
# The epoch seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, as datetime reaches.
EARLIEST = -62135596800
LATEST = 253402300799
_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
MAX_SHOWN = 40  # characters of a refused number quoted in a message


class Unreadable(ValueError):
    """The body is not JSON AWS would read; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def load_json(body: bytes, what: str = "The request body") -> Any:
    """The parsed document, or Unreadable (whose message starts with `what`)."""
    try:
        document = json.loads(
            body,
            parse_int=_integer,
            parse_float=_double,
            parse_constant=_constant,
        )
    except Unreadable as exc:
        raise Unreadable(f"{what} is not valid JSON: {exc.message}") from None
    except RecursionError:
        raise Unreadable(f"{what} is nested more than {MAX_DEPTH} levels deep.") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(
            f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise Unreadable(f"{what} is not valid JSON (not UTF-8 text).") from None
    # Cheap tests first: only a body with enough brackets can be too deep, and only one with a
    # surrogate escape can hold a lone surrogate.
    deep = body.count(b"[") + body.count(b"{") > MAX_DEPTH
    surrogates = _SURROGATE_ESCAPE.search(body) is not None
    if deep or surrogates:
        try:
            _walk(document, surrogates)
        except Unreadable as exc:
            raise Unreadable(f"{what} {exc.message}") from None
    return document


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise Unreadable(
            f"the number {_shown(text)} ({len(text)} digits) is out of the range of every "
            "number type AWS accepts."
        )
    return int(text)


def _double(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Unreadable(f"the number {_shown(text)} is out of the range of a double.")
    return value


def _constant(name: str) -> Any:
    raise Unreadable(f"{name} is not a JSON number.")


def _shown(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def _walk(document: Any, surrogates: bool) -> None:
    """Depth and text of every value, without recursion (a deep document is the point)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise Unreadable(f"is nested more than {MAX_DEPTH} levels deep.")
            for key, item in value.items():
                if surrogates:
                    _text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise Unreadable(f"is nested more than {MAX_DEPTH} levels deep.")
            stack.extend((item, depth + 1) for item in value)
        elif surrogates and isinstance(value, str):
            _text(value)


def _text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Unreadable(
            f"holds a lone surrogate (\\u{ord(value[exc.start]):04x}), which is not Unicode text."
        ) from None


def problems(value: Any, shape: Shape | None, where: tuple[str, ...] = ()) -> list[str]:
    """Each value of `value` its shape's wire type cannot carry, in AWS's path notation."""
    found: list[str] = []
    _check(value, shape, where, found)
    return found


def _check(value: Any, shape: Shape | None, where: tuple[str, ...], found: list[str]) -> None:
    if shape is None or value is None:
        return
    kind = shape.type_name
    if kind == "structure":
        if isinstance(value, dict):
            for name, member in shape.members.items():
                if name in value:
                    _check(value[name], member, (*where, name[:1].lower() + name[1:]), found)
    elif kind == "list":
        if isinstance(value, list):
            for index, item in enumerate(value, start=1):
                _check(item, shape.member, (*where, str(index), "member"), found)
    elif kind == "map":
        if isinstance(value, dict):
            for key, item in value.items():
                _check(item, shape.value, (*where, str(key), "value"), found)
    elif kind in ("integer", "long", "float", "double", "timestamp"):
        problem = _number(value, kind)
        if problem:
            found.append(f"Value '{_shown(str(value))}' at '{'.'.join(where)}' {problem}")


def _number(value: Any, kind: str) -> str | None:
    """Why `value` is no `kind` on the wire, or None. Strings and others are left to botocore's
    validator (it names the wrong type), except in a timestamp, which only a number can be."""
    if isinstance(value, bool):
        return f"is a boolean, not {'a timestamp' if kind == 'timestamp' else 'a number'}"
    if kind == "timestamp":
        if not isinstance(value, int | float):
            return "is not a timestamp: a number of seconds since the epoch is expected"
        if not EARLIEST <= value <= LATEST:
            return "is not a timestamp between the years 1 and 9999"
        return None
    if kind in _RANGES and isinstance(value, int):
        low, high = _RANGES[kind]
        if not low <= value <= high:
            return f"is out of the range of {'an' if kind == 'integer' else 'a'} {kind}"
    return None
