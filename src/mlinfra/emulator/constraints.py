"""The constraints of botocore's input shapes, checked as AWS checks them before it acts.

boto3's client-side `ParamValidator` checks types, required members and minimums only; the
services also refuse values longer or larger than the model's `max`, strings outside an
`enum`, and strings that break a `pattern`, with a `ValidationException` that lists each
broken constraint ("1 validation error detected: Value 'a/b' at 'endpointName' failed to
satisfy constraint: Member must satisfy regular expression pattern: ..."). The emulator does
the same for every operation, which is also what keeps `../` out of every name the
emulator later turns into a folder.

Patterns are Java regular expressions that must match the whole value (Java's `matches()`:
SageMaker refuses `my/endpoint` for `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`, which a search would
accept). `python_pattern` translates what Python's `re` lacks: Unicode categories and POSIX
classes (`\\p{L}`, `\\p{Alnum}`, `\\p{Print}`), `\\z`, surrogate pairs, a quantified `$`;
Java's `\\w \\d \\s` are ASCII, so patterns compile with `re.ASCII`. A pattern it cannot
translate is not checked (`UNTRANSLATABLE` names them; a test counts them).

One exception, the emulator's own convention: fields whose pattern is an S3 location
(`S3Uri`, `ModelDataUrl`, `DestinationS3Uri`, ...) also take local locations (`file:` URIs and
plain paths), which `paths.confine` then keeps inside the project and state folders.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator
from functools import cache
from typing import Any

from botocore.model import Shape

MAX_SHOWN = 200  # characters of an offending value quoted in the message

# Java's POSIX classes (US-ASCII unless UNICODE_CHARACTER_CLASS), as Python class bodies.
_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "Graph": "\\x21-\\x7e",
    "Print": "\\x20-\\x7e",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}
_PROPERTY = re.compile(r"\\([pP])\{(?:Is)?([A-Za-z_]+)\}")
_SURROGATES = re.compile(r"\\u(D[89ABab][0-9A-Fa-f]{2})\\u(D[C-Fc-f][0-9A-Fa-f]{2})")
_QUANTIFIED_END = re.compile(r"(?<!\\)\$\{\d+(?:,\d*)?\}")


class Untranslatable(ValueError):
    """A Java pattern construct with no Python equivalent here."""


def python_pattern(java: str) -> re.Pattern[str]:
    """A Java pattern as a compiled Python one (to use with `fullmatch`), or Untranslatable."""
    if "\\Q" in java or "&&" in java or re.search(r"(?<!\\)\[[^\]]*(?<!\\)\[", java):
        # Quoting, class intersection and nested classes: Java-only syntax.
        raise Untranslatable(java)
    text = _SURROGATES.sub(_pair, java)
    text = _QUANTIFIED_END.sub("$", text)
    text = text.replace("\\z", "\\Z")
    text = _translate_properties(text)
    try:
        return re.compile(text, re.ASCII)
    except re.error as exc:
        raise Untranslatable(f"{java}: {exc}") from None


def _pair(found: re.Match[str]) -> str:
    high, low = int(found[1], 16), int(found[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


def _translate_properties(text: str) -> str:
    """`\\p{X}` as a class body inside `[...]`, or as a whole class outside one."""
    out, position, in_class = [], 0, False
    while position < len(text):
        ch = text[position]
        if ch == "\\":
            found = _PROPERTY.match(text, position)
            if found is None:
                out.append(text[position : position + 2])
                position += 2
                continue
            body = _class_body(found[2])
            negated = found[1] == "P"
            if in_class and negated:
                raise Untranslatable(found[0])
            out.append(body if in_class else f"[{'^' if negated else ''}{body}]")
            position = found.end()
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            # A `]` right after `[` or `[^` is a literal member, not the end.
            for lead in ("^", "]"):
                if text.startswith(lead, position + 1):
                    position += 1
                    out.append(lead)
        elif ch == "]" and in_class:
            in_class = False
            out.append(ch)
        else:
            out.append(ch)
        position += 1
    return "".join(out)


def _class_body(name: str) -> str:
    if name in _POSIX:
        return _POSIX[name]
    if name in ("L", "M", "N", "P", "S", "Z", "C") or (len(name) == 2 and name[0] in "LMNPSZC"):
        return _category(name)
    raise Untranslatable(f"\\p{{{name}}}")


@cache
def _category(name: str) -> str:
    """A Unicode general category (`L`, or `Lu`...) as ranges of a Python class body."""
    ranges: list[tuple[int, int]] = []
    for first, last, category in _categories():
        if category.startswith(name):
            if ranges and ranges[-1][1] == first - 1:
                ranges[-1] = (ranges[-1][0], last)
            else:
                ranges.append((first, last))
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


@cache
def _categories() -> tuple[tuple[int, int, str], ...]:
    """Runs of code points with one general category, once per process (~1/4 s).

    Only U+0000-U+3FFFF and the tags block U+E0000-U+E0FFF hold assigned characters; the
    rest is unassigned (Cn) up to the private-use planes (Co) from U+F0000."""
    runs: list[tuple[int, int, str]] = []
    for low, high in ((0, 0x40000), (0xE0000, 0xE1000)):
        start, current = low, unicodedata.category(chr(low))
        for code in range(low + 1, high):
            category = unicodedata.category(chr(code))
            if category != current:
                runs.append((start, code - 1, current))
                start, current = code, category
        runs.append((start, high - 1, current))
    runs += [(0x40000, 0xDFFFF, "Cn"), (0xE1000, 0xEFFFF, "Cn"), (0xF0000, sys.maxunicode, "Co")]
    return tuple(sorted(runs))


@cache
def compiled(java: str) -> re.Pattern[str] | None:
    """The compiled pattern, once per pattern; None when it cannot be translated."""
    try:
        return python_pattern(java)
    except Untranslatable:
        return None


@cache
def _is_s3_location(java: str) -> bool:
    """A pattern for S3 locations: one that takes `s3://` URIs and refuses local ones."""
    pattern = compiled(java)
    return (
        pattern is not None
        and pattern.fullmatch("s3://bucket/key") is not None
        and not any(pattern.fullmatch(local) for local in ("file:data/x", "data/x"))
    )


def is_local_location(value: str) -> bool:
    return value.startswith("file:") or "://" not in value


def problems(value: Any, shape: Shape | None, where: str = "") -> list[str]:
    """Each constraint `value` breaks, in AWS's words (`Value 'x' at 'a.b' failed to ...`).

    Types and required members are botocore's `ParamValidator`'s business; this assumes they
    hold where it looks and skips what does not have the expected type.
    """
    found: list[str] = []
    _check(value, shape, (where,) if where else (), found)
    return found


Path_ = tuple[str, ...]  # where a value is, built into AWS's `a.1.member.b` only on an error


def _check(value: Any, shape: Shape | None, where: Path_, found: list[str]) -> None:
    if shape is None or value is None:
        return
    kind = shape.type_name
    if kind == "structure":
        if isinstance(value, dict):
            for name, camel, member in _members(shape):
                if name in value:
                    _check(value[name], member, (*where, camel), found)
    elif kind == "list":
        if isinstance(value, list):
            _length(value, shape, where, len(value), found)
            for index, item in enumerate(value, start=1):
                _check(item, shape.member, (*where, str(index), "member"), found)
    elif kind == "map":
        if isinstance(value, dict):
            _length(value, shape, where, len(value), found)
            for key, item in value.items():
                _check(key, shape.key, (*where, str(key), "key"), found)
                _check(item, shape.value, (*where, str(key), "value"), found)
    elif kind == "string":
        if isinstance(value, str):
            _string(value, shape, where, found)
    elif kind == "blob":
        if isinstance(value, bytes | bytearray | str):
            _length(value, shape, where, len(value), found)
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            meta = shape.metadata
            if "min" in meta and value < meta["min"]:
                found.append(
                    _message(
                        value,
                        shape,
                        where,
                        f"Member must have value greater than or equal to {meta['min']}",
                    )
                )
            if "max" in meta and value > meta["max"]:
                found.append(
                    _message(
                        value,
                        shape,
                        where,
                        f"Member must have value less than or equal to {meta['max']}",
                    )
                )


@cache
def _members(shape: Shape) -> tuple[tuple[str, str, Shape], ...]:
    # AWS names members in lower camel case: productionVariants.1.member.variantName.
    return tuple((n, n[:1].lower() + n[1:], m) for n, m in shape.members.items())


@cache
def _string_rules(shape: Shape) -> tuple[frozenset[str] | None, re.Pattern[str] | None, bool]:
    """A string shape's enum, compiled pattern, and whether local locations skip it."""
    meta = shape.metadata
    enum = frozenset(meta["enum"]) if "enum" in meta else None
    java = meta.get("pattern")
    pattern = compiled(java) if java is not None else None
    return enum, pattern, java is not None and _is_s3_location(java)


def _string(value: str, shape: Shape, where: Path_, found: list[str]) -> None:
    _length(value, shape, where, len(value), found)
    enum, pattern, s3_location = _string_rules(shape)
    if enum is not None and value not in enum:
        allowed = ", ".join(shape.metadata["enum"])
        found.append(
            _message(value, shape, where, f"Member must satisfy enum value set: [{allowed}]")
        )
    if pattern is not None and pattern.fullmatch(value) is None:
        if not (s3_location and is_local_location(value)):
            found.append(_message(value, shape, where, "Member must satisfy regular expression "
                                  f"pattern: {shape.metadata['pattern']}"))  # fmt: skip


def _length(value: Any, shape: Shape, where: Path_, length: int, found: list[str]) -> None:
    meta = shape.metadata
    if "min" in meta and length < meta["min"]:
        found.append(
            _message(
                value,
                shape,
                where,
                f"Member must have length greater than or equal to {meta['min']}",
            )
        )
    if "max" in meta and length > meta["max"]:
        found.append(
            _message(
                value, shape, where, f"Member must have length less than or equal to {meta['max']}"
            )
        )


def _message(value: Any, shape: Shape, where: Path_, constraint: str) -> str:
    if shape.metadata.get("sensitive") or shape.type_name in ("blob", "list", "map"):
        shown = ""  # AWS never echoes sensitive values; a body or a list is no help either
    else:
        text = str(value)
        shown = f" '{text[:MAX_SHOWN]}{'...' if len(text) > MAX_SHOWN else ''}'"
    return f"Value{shown} at '{'.'.join(where)}' failed to satisfy constraint: {constraint}"


def report(found: list[str]) -> str:
    count = len(found)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(found)


def check_value(value: Any, shape: Shape, what: str) -> str | None:
    """What is wrong with one value of a shape (a name from a URL, a step name), or None."""
    found = problems(value, shape, what)
    return report(found) if found else None


def untranslatable(shapes: Iterator[Shape]) -> set[str]:
    """The patterns among `shapes` that are not checked because they cannot be translated."""
    return {
        shape.metadata["pattern"]
        for shape in shapes
        if "pattern" in shape.metadata and compiled(shape.metadata["pattern"]) is None
    }
