"""How values are written as Python source: safe literals, laid out within a line width.

This is the one place where data becomes program text. A value from the spec reaches a
rendered program only as a literal made here: strings through `repr()`, which escapes quotes,
backslashes, newlines and every unprintable character, so no text can end the literal and
become code. Nothing is ever spliced into code with f-strings, `format()` or a template.

Only JSON-like data is accepted: None, bools, ints, finite floats, strings that are valid
Unicode, lists/tuples and maps with string keys. Tuples are written as lists (pulumi_aws
takes lists for its sequence inputs). Anything else raises `LiteralError`.

Expressions are first built as layout nodes and then laid out: a node is either a `str`
(an atom: code never broken across lines, such as a literal, a name or `var.attribute`) or a
`Group`. A group is written on one line when it fits in `WIDTH`, else one item per line,
indented by four spaces, each followed by a comma (the style of black and ruff format).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

WIDTH = 99  # lines longer than this are broken where they can be (strings cannot)
INDENT = "    "


class LiteralError(ValueError):
    """A value that cannot be written as a Python literal of JSON-like data."""


# -- layout nodes -------------------------------------------------------------------------


class Group:
    """Bracketed items: a list, a dict, or a call's arguments (`head` is `name(`).

    Each item is a pair `(prefix, node)`: the prefix (`key: `, `name=`, `**` or empty) is
    written before the node. `flat` is the group written on one line, made once when the
    group is built, or None when that line would be wider than `WIDTH`: such a group can
    never be written on one line, and neither can any group holding it, so nothing wider
    is ever written out only to be measured.
    """

    __slots__ = ("flat", "head", "items", "tail")

    def __init__(self, head: str, items: tuple[tuple[str, Node], ...], tail: str) -> None:
        self.head = head
        self.items = items
        self.tail = tail
        self.flat = _flat(head, items, tail)


Node = str | Group


def _flat(head: str, items: tuple[tuple[str, Node], ...], tail: str) -> str | None:
    if not items:
        return head + tail  # never broken, however wide
    size = len(head) + len(tail) + 2 * (len(items) - 1)
    parts = []
    for prefix, value in items:
        text = value if type(value) is str else value.flat
        if text is None:
            return None
        size += len(prefix) + len(text)
        if size > WIDTH:
            return None
        parts.append(prefix + text)
    return head + ", ".join(parts) + tail


def layout(node: Node, indent: int = 0, used: int = 0, after: int = 0) -> str:
    """The node written from column `indent * 4 + used`, with `after` characters to follow it
    on its last line (a comma, a closing bracket); broken across lines when too wide."""
    if type(node) is str:
        return node
    flat = node.flat
    if flat is not None and (
        not node.items or len(flat) <= WIDTH - len(INDENT) * indent - used - after
    ):
        return flat
    pad = INDENT * (indent + 1)
    lines = [node.head]
    for prefix, value in node.items:
        text = value if type(value) is str else layout(value, indent + 1, len(prefix), 1)
        lines.append(f"{pad}{prefix}{text},")
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
    # ASCII holds no surrogates, so most strings need no encoding. The base type's methods:
    # a subclass cannot answer for itself.
    if not str.isascii(text):
        try:
            str.encode(text, "utf-8")
        except UnicodeEncodeError:
            raise LiteralError(
                "a string holds a lone surrogate, which is not valid Unicode"
            ) from None
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
        return Group("[", tuple([("", node(v)) for v in value]), "]")
    return scalar_literal(value)


def map_items(value: Mapping, make) -> list[tuple[str, Node]]:
    """The `key: value` items of a map, keys as string literals, in the map's order."""
    items = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise LiteralError(f"map keys must be strings, got {type(key).__name__}")
        items.append((f"{string_literal(key)}: ", make(item)))
    return items


def literal(value: object, indent: int = 0, used: int = 0) -> str:
    """Plain data as Python source that `ast.literal_eval` turns back into the same data
    (with lists for tuples and dicts for read-only maps)."""
    return layout(node(value), indent, used)
