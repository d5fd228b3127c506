"""How values are written as Python source: safe literals, laid out within a line width.

This is the one place where data becomes program text. A value from the spec reaches a
rendered program only as a literal made here: strings through `repr()`, which escapes quotes,
backslashes, newlines and every unprintable character, so no text can end the literal and
become code. Nothing is ever spliced into code with f-strings, `format()` or a template.

Only JSON-like data is accepted: None, bools, ints, finite floats, strings that are valid
Unicode, lists/tuples and maps with string keys. Tuples are written as lists (pulumi_aws
takes lists for its sequence inputs). Anything else raises `LiteralError`.

Expressions are first built as layout nodes (`Atom`, `Group`, `Item`) and then laid out: a
group is written on one line when it fits in `WIDTH`, else one item per line, indented by
four spaces, each followed by a comma (the style of black and ruff format).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

WIDTH = 99  # lines longer than this are broken where they can be (strings cannot)
INDENT = "    "


class LiteralError(ValueError):
    """A value that cannot be written as a Python literal of JSON-like data."""


# -- layout nodes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Atom:
    """Code that is never broken across lines: a literal, a name, `var.attribute`."""

    text: str


@dataclass(frozen=True)
class Item:
    """One element of a group: `prefix` (`key: ` or `name=`, possibly empty) then a value."""

    prefix: str
    value: Node


@dataclass(frozen=True)
class Group:
    """Bracketed items: a list, a dict, or a call's arguments (`head` is `name(`)."""

    head: str
    items: tuple[Item, ...]
    tail: str


Node = Atom | Group


def flat(node: Node) -> str:
    """The node written on one line."""
    if isinstance(node, Atom):
        return node.text
    inner = ", ".join(item.prefix + flat(item.value) for item in node.items)
    return f"{node.head}{inner}{node.tail}"


def flat_width(node: Node, budget: int) -> int:
    """`len(flat(node))`, or `budget + 1` as soon as it is known to exceed `budget`.

    Deciding whether a node fits on a line then costs at most a line's worth of work,
    instead of writing out every subtree once per enclosing level.
    """
    if isinstance(node, Atom):
        return len(node.text)
    total = len(node.head) + len(node.tail) + 2 * max(len(node.items) - 1, 0)
    for item in node.items:
        total += len(item.prefix)
        if total > budget:
            return budget + 1
        total += flat_width(item.value, budget - total)
        if total > budget:
            return budget + 1
    return total


def layout(node: Node, indent: int = 0, used: int = 0, after: int = 0) -> str:
    """The node written from column `indent * 4 + used`, with `after` characters to follow it
    on its last line (a comma, a closing bracket); broken across lines when too wide."""
    if isinstance(node, Atom) or not node.items:
        return flat(node)
    room = WIDTH - len(INDENT) * indent - used - after
    if flat_width(node, room) <= room:
        return flat(node)
    pad = INDENT * (indent + 1)
    lines = [node.head]
    for item in node.items:
        value = layout(item.value, indent + 1, len(item.prefix), after=1)
        lines.append(f"{pad}{item.prefix}{value},")
    lines.append(INDENT * indent + node.tail)
    return "\n".join(lines)


# -- literals -----------------------------------------------------------------------------


def string_literal(text: str) -> str:
    """`text` as a Python string literal that evaluates back to exactly `text`.

    Lone surrogates are refused rather than escaped: `repr()` would escape them faithfully,
    but the Pulumi engine (gRPC, protobuf) and AWS carry only valid UTF-8, so such a string
    would fail at deploy time instead of here.
    """
    if not isinstance(text, str):
        raise LiteralError(f"expected a string, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise LiteralError("a string holds a lone surrogate, which is not valid Unicode") from None
    written = str.__repr__(text)
    # repr() picks single quotes unless the text holds one; double quotes read better (and
    # are what black writes). Swapping is safe only when the text holds no quote at all:
    # then repr() escaped none, and the inside cannot contain a double quote.
    if written[0] == "'" and "'" not in text and '"' not in text:
        written = f'"{written[1:-1]}"'
    return written


def scalar_literal(value: object) -> str:
    """None, a bool, an int, a finite float or a string as a Python literal."""
    if value is None or isinstance(value, bool):
        return repr(value)
    # The base types' own __repr__, so a subclass (an enum, a str with a custom __repr__)
    # cannot write its own text into the program.
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LiteralError(f"{float.__repr__(value)} is not a JSON number")
        return float.__repr__(value)
    if isinstance(value, str):
        return string_literal(value)
    raise LiteralError(f"cannot write a {type(value).__name__} as a literal")


def node(value: object) -> Node:
    """The layout node of plain data (no IR markers)."""
    if isinstance(value, Mapping):
        return Group("{", tuple(map_items(value, node)), "}")
    if isinstance(value, list | tuple):
        return Group("[", tuple(Item("", node(v)) for v in value), "]")
    return Atom(scalar_literal(value))


def map_items(value: Mapping, make) -> list[Item]:
    """The `key: value` items of a map, keys as string literals, in the map's order."""
    items = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise LiteralError(f"map keys must be strings, got {type(key).__name__}")
        items.append(Item(f"{string_literal(key)}: ", make(item)))
    return items


def literal(value: object, indent: int = 0, used: int = 0) -> str:
    """Plain data as Python source that `ast.literal_eval` turns back into the same data
    (with lists for tuples and dicts for read-only maps)."""
    return layout(node(value), indent, used)
