"""The ranged node tree: what the user wrote, with where each key and value stands.

Positions live beside the data, not in it: a `Mapping` holds `Entry(key, value)` pairs whose
keys and values are nodes with a `SourceRange`; `to_data()` gives the plain Python value that
schemas and checks read, and `locate()` maps a path in that value back onto the tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from typing import Any

from mlinfra.diagnostics import SourceRange

PathPart = str | int
Path = tuple[PathPart, ...]


@dataclass(frozen=True, eq=False)
class Node:
    range: SourceRange


@dataclass(frozen=True, eq=False)
class Scalar(Node):
    """A string, number, boolean, date (kept as ISO text) or null."""

    value: Any
    text: str = ""


@dataclass(frozen=True, eq=False)
class Sequence(Node):
    items: tuple[Node, ...] = ()


@dataclass(frozen=True, eq=False)
class Entry:
    key: Scalar
    value: Node

    @property
    def name(self) -> str:
        return self.key.value


@dataclass(frozen=True, eq=False)
class Mapping(Node):
    entries: tuple[Entry, ...] = ()
    _index: dict[str, Entry] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {e.name: e for e in self.entries})

    def entry(self, name: str) -> Entry | None:
        return self._index.get(name)

    def get(self, name: str) -> Node | None:
        found = self._index.get(name)
        return found.value if found else None

    def keys(self) -> list[str]:
        return [e.name for e in self.entries]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)


def to_data(node: Node | None) -> Any:
    """The plain value (dict, list, str, int, float, bool, None) a node stands for."""
    if node is None:
        return None
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [to_data(item) for item in node.items]
    assert isinstance(node, Mapping)
    return {e.name: to_data(e.value) for e in node.entries}


@dataclass(frozen=True)
class Located:
    """Where a path lands in the tree.

    `node` is the deepest node found along the path and `key` the key node of the last mapping
    entry passed through; `complete` says whether the whole path was found. A missing value is
    reported at the key of the nearest enclosing component.
    """

    node: Node
    key: Scalar | None
    complete: bool

    @property
    def value_range(self) -> SourceRange:
        return self.node.range

    @property
    def key_range(self) -> SourceRange:
        return (self.key or self.node).range


def locate(root: Node, path: Seq[PathPart]) -> Located:
    node: Node = root
    key: Scalar | None = None
    for part in path:
        if isinstance(node, Mapping) and isinstance(part, str):
            found = node.entry(part)
            if found is None:
                return Located(node, key, False)
            node, key = found.value, found.key
        elif isinstance(node, Sequence) and isinstance(part, int) and 0 <= part < len(node.items):
            # A list item has no key of its own: problems inside it point at the item.
            node, key = node.items[part], None
        else:
            return Located(node, key, False)
    return Located(node, key, True)


@dataclass(frozen=True)
class Document:
    """A parsed file: its name, its text (for excerpts) and its root node."""

    filename: str
    text: str
    root: Node | None
