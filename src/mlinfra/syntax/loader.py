"""YAML text -> ranged node tree, safely and within bounds.

PyYAML composes the document (never constructs arbitrary objects); this module turns its nodes
into ours, refusing what PyYAML would silently accept: duplicate keys (it keeps the last),
unknown tags, and alias expansions that blow up (a "billion laughs" is measured on the shared
node graph in linear time, before anything is expanded).

Specs are nearly always plain (one document of maps, lists and scalars: no anchors, tags or
problems), and for those `parse_plain` builds the same tree in one pass over libyaml's event
stream, at about a third of the cost; whatever is not plain takes the careful path,
`parse_carefully`, which says exactly what is wrong. tests/test_syntax_paths.py holds the
two paths to the same trees and diagnostics.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re

import yaml

from mlinfra.allocation import without_collector
from mlinfra.diagnostics import Diagnostic, Position, SourceRange, error
from mlinfra.syntax.nodes import Document, Entry, Mapping, Node, Scalar, Sequence

MAX_FILE_BYTES = 4 * 1024 * 1024
# Expanded size (nodes after aliases) allowed: generous for real specs, fatal for bombs.
MAX_EXPANDED_NODES = 250_000
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SURROGATE = re.compile("[\ud800-\udfff]")
_OPEN_EVENTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE_EVENTS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


class _Refused(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


def _pos(mark) -> Position:
    return Position(mark.line + 1, mark.column + 1, mark.index)


def parse_bytes(data: bytes, filename: str) -> tuple[Document | None, list[Diagnostic]]:
    """Decode and parse a file's bytes; refuse what is too large or not UTF-8 text."""
    start = SourceRange(filename, Position(1, 1), Position(1, 1))
    if len(data) > MAX_FILE_BYTES:
        return None, [
            error(
                "file-too-large",
                f"the file is {len(data):,} bytes; specs are limited to {MAX_FILE_BYTES:,}",
                start,
                suggestion="split data out of the spec: reference CSV or artifact files by path",
            )
        ]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [
            error(
                "not-utf8",
                f"the file is not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x})",
                start,
                suggestion="save the spec as UTF-8",
            )
        ]
    return parse_text(text, filename)


def parse_text(text: str, filename: str) -> tuple[Document, list[Diagnostic]]:
    """Parse YAML text into a `Document`; every problem becomes a diagnostic.

    The document keeps the text even when parsing fails (its root is then None), so that
    diagnostics can be shown with an excerpt.
    """
    root, diagnostics = _parse(text, filename)
    return Document(filename, text, root), diagnostics


@without_collector  # a tree of small objects, none freed until the end (allocation.py)
def _parse(text: str, filename: str) -> tuple[Node | None, list[Diagnostic]]:
    try:
        return parse_plain(text, filename), []
    except NotPlain:
        return parse_carefully(text, filename)


def parse_carefully(text: str, filename: str) -> tuple[Node | None, list[Diagnostic]]:
    """The tree of any YAML text, or what is wrong with it: PyYAML's composer, the alias
    expansion check and `_Converter`. `parse_plain` is the fast path for plain specs."""
    start = SourceRange(filename, Position(1, 1), Position(1, 1))
    if "\x00" in text:
        where = _range_at(text, text.index("\x00"), filename)
        return None, [error("not-text", "the file contains NUL bytes; it is not YAML text", where)]
    depth_problem = _depth_problem(text, filename)
    if depth_problem:
        return None, [depth_problem]
    try:
        composed = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_diagnostic(exc, text, filename)]
    except yaml.YAMLError as exc:
        return None, [error("yaml-syntax", str(exc).splitlines()[0], start)]
    except RecursionError:
        return None, [error("too-deep", f"the YAML nests deeper than {MAX_DEPTH} levels", start)]

    if len(composed) > 1:
        where = SourceRange(filename, _pos(composed[1].start_mark), _pos(composed[1].end_mark))
        return None, [
            error(
                "multiple-documents",
                "the file holds more than one YAML document; a spec is one document",
                where,
                suggestion="remove the '---' separator and everything after it",
            )
        ]
    if not composed or composed[0] is None:
        return None, []
    try:
        _check_expansion(composed[0], filename)
        root = _Converter(filename).convert(composed[0], 0)
    except _Refused as refused:
        return None, [refused.diagnostic]
    return root, []


class NotPlain(Exception):
    """The text is not a plain spec: it needs the careful path (and maybe a diagnostic)."""


_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "null", "timestamp")
)
_STR_TAG = "tag:yaml.org,2002:str"
_resolver = yaml.resolver.Resolver()


@functools.lru_cache(maxsize=8192)
def _plain_tag(value: str) -> str:
    """The tag PyYAML's resolver gives an untagged plain scalar (specs repeat values a lot)."""
    return _resolver.resolve(yaml.ScalarNode, value, (True, False))


def parse_plain(text: str, filename: str) -> Node | None:
    """The tree of a plain spec, built in one pass over libyaml's event stream.

    A plain spec is what specs are: one document of maps, lists and scalars, without anchors,
    aliases, merge keys, tags, duplicate or non-text keys, lone surrogates, non-finite numbers,
    deep nesting or a quarter of a million nodes. For those the careful path
    (`yaml.compose_all`, the expansion check and `_Converter`) builds the very same tree and
    finds no problem, at about three times the cost; anything else (including a syntax error)
    raises `NotPlain`, and the careful path builds the tree or the diagnostic as it always
    has. Scalars are resolved and constructed by the same PyYAML resolver and constructors.
    """
    # A frame per open collection: [is_map, start_mark, entries_or_items, keys_seen, key].
    stack: list[list] = []
    root: Node | None = None
    documents = 0
    # Events, an upper bound of nodes: past the careful path's limit, it says so.
    events = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            events += 1
            if events > MAX_EXPANDED_NODES:
                raise NotPlain
            kind = event.__class__
            if kind is yaml.ScalarEvent:
                if event.anchor is not None or event.tag is not None:
                    raise NotPlain
                value = event.value
                where = SourceRange(filename, _pos(event.start_mark), _pos(event.end_mark))
                top = stack[-1] if stack else None
                if top is not None and top[0] and top[4] is None:
                    if value in top[3] or _SURROGATE.search(value):
                        raise NotPlain
                    if value == "<<" and event.implicit[0]:
                        raise NotPlain  # a merge key
                    top[4] = Scalar(where, value, value)
                    top[3].add(value)
                    continue
                node = Scalar(where, _plain_value(event), value)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.anchor is not None or event.tag is not None or len(stack) >= MAX_DEPTH:
                    raise NotPlain
                if stack and stack[-1][0] and stack[-1][4] is None:
                    raise NotPlain  # a list or map as a key
                is_map = kind is yaml.MappingStartEvent
                stack.append([is_map, event.start_mark, [], set() if is_map else None, None])
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                is_map, start_mark, children, _, _ = stack.pop()
                where = SourceRange(filename, _pos(start_mark), _pos(event.end_mark))
                node = (
                    Mapping(where, tuple(children)) if is_map else Sequence(where, tuple(children))
                )
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise NotPlain
                continue
            elif kind is yaml.AliasEvent:
                raise NotPlain
            else:  # stream start and end, document end
                continue
            if not stack:
                root = node
            elif stack[-1][0]:
                top = stack[-1]
                top[2].append(Entry(top[4], node))
                top[4] = None
            else:
                stack[-1][2].append(node)
    except yaml.YAMLError:
        raise NotPlain from None
    return root


def _plain_value(event: yaml.ScalarEvent):
    """An untagged scalar's value, as `_Converter.scalar` makes it; `NotPlain` if it would
    refuse it."""
    value = event.value
    if not event.implicit[0]:  # quoted or block text: a string
        if _SURROGATE.search(value):
            raise NotPlain
        return value
    tag = _plain_tag(value)
    if tag == _STR_TAG:
        if _SURROGATE.search(value):
            raise NotPlain
        return value
    if tag not in _PLAIN_TAGS:
        raise NotPlain
    node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark)
    try:
        constructed = _constructor.yaml_constructors[tag](_constructor, node)
    except Exception:
        raise NotPlain from None
    if isinstance(constructed, dt.datetime | dt.date):
        return value  # dates stay text, as in `_Converter.scalar`
    if isinstance(constructed, float) and not math.isfinite(constructed):
        raise NotPlain
    if isinstance(constructed, int) and not isinstance(constructed, bool):
        try:
            float(constructed)
        except OverflowError:
            raise NotPlain from None
    return constructed


def _range_at(text: str, index: int, filename: str) -> SourceRange:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    pos = Position(line, column, index)
    return SourceRange(filename, pos, pos)


def _depth_problem(text: str, filename: str) -> Diagnostic | None:
    """Refuse collections nested past MAX_DEPTH before libyaml's composer recurses into them.

    The composer recurses in C: `- - - ... x` or `[[[...` a few hundred thousand levels deep
    overflows the C stack and kills the process (no RecursionError). The parser does not
    recurse, so nesting is measured on its event stream first; brackets inside strings or
    comments are not nesting. A collection at node depth > MAX_DEPTH is refused by the converter
    anyway, so this refuses nothing that would have been accepted.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, _OPEN_EVENTS):
                depth += 1
                if depth > MAX_DEPTH + 1:
                    return error(
                        "too-deep",
                        f"the YAML nests deeper than {MAX_DEPTH} levels",
                        SourceRange(filename, _pos(event.start_mark), _pos(event.end_mark)),
                    )
            elif isinstance(event, _CLOSE_EVENTS):
                depth -= 1
    except yaml.YAMLError:
        return None  # composing reports the same syntax error, with its context
    return None


def _syntax_diagnostic(exc: yaml.MarkedYAMLError, text: str, filename: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    if mark is not None and mark.index >= len(text):
        # libyaml ends the stream with a line break of its own: a problem found there would
        # sit on a line past the last one when the text does not end with a newline.
        where = _range_at(text, len(text), filename)
    else:
        pos = _pos(mark) if mark else Position(1, 1)
        where = SourceRange(filename, pos, pos)
    problem = exc.problem or "invalid YAML"
    at_tab = mark is not None and text[mark.index : mark.index + 1] == "\t"
    if at_tab or "'\\t'" in problem:
        return error(
            "yaml-tab",
            "a tab character is used for indentation; YAML allows only spaces",
            where,
            suggestion="replace the tab with spaces",
        )
    detail = f"while {exc.context}" if exc.context else None
    return error("yaml-syntax", f"invalid YAML: {problem}", where, detail=detail)


def _check_expansion(root: yaml.Node, filename: str) -> None:
    """Measure the expanded size of the node graph without expanding it."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if depth > MAX_DEPTH:
            raise _Refused(
                error(
                    "too-deep",
                    f"the YAML nests deeper than {MAX_DEPTH} levels",
                    _node_range(node, filename),
                )
            )
        if key in on_path:
            raise _Refused(
                error(
                    "alias-recursive",
                    "an alias refers to a node that contains it",
                    _node_range(node, filename),
                    suggestion="YAML aliases must not refer to an enclosing anchor",
                )
            )
        on_path.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        on_path.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise _Refused(
                error(
                    "alias-limit",
                    f"aliases expand this document past {MAX_EXPANDED_NODES:,} nodes",
                    _node_range(node, filename),
                    suggestion="aliases must not multiply the document; write the values out",
                )
            )
        return total

    size(root, 0)


def _node_range(node: yaml.Node, filename: str) -> SourceRange:
    return SourceRange(filename, _pos(node.start_mark), _pos(node.end_mark))


class _Converter:
    def __init__(self, filename: str):
        self.filename = filename

    def range(self, node: yaml.Node) -> SourceRange:
        return _node_range(node, self.filename)

    def convert(self, node: yaml.Node, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise _Refused(
                error(
                    "too-deep", f"the YAML nests deeper than {MAX_DEPTH} levels", self.range(node)
                )
            )
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self.expect_tag(node, "tag:yaml.org,2002:seq")
            items = tuple(self.convert(child, depth + 1) for child in node.value)
            return Sequence(self.range(node), items)
        self.expect_tag(node, "tag:yaml.org,2002:map")
        return self.mapping(node, depth)

    def expect_tag(self, node: yaml.Node, tag: str) -> None:
        if node.tag != tag:
            raise _Refused(self.tag_error(node))

    def tag_error(self, node: yaml.Node) -> Diagnostic:
        return error(
            "unsupported-tag",
            f"the YAML tag {node.tag!r} is not supported",
            self.range(node),
            suggestion="remove the tag: specs hold only plain strings, numbers, lists and maps",
        )

    def scalar(self, node: yaml.ScalarNode) -> Scalar:
        construct = _constructor.yaml_constructors.get(node.tag)
        # `!!map x` / `!!seq x` on a scalar would construct a generator, not a value.
        refused = (":binary", ":set", ":omap", ":pairs", ":map", ":seq")
        if construct is None or node.tag.endswith(refused):
            raise _Refused(self.tag_error(node))
        try:
            value = construct(_constructor, node)
        except Exception as exc:
            # Explicit tags (`!!bool x`, `!!int ""`, `!!timestamp x`) make PyYAML's constructors
            # raise KeyError, IndexError or AttributeError, not only YAMLError or ValueError.
            if node.tag.endswith(":timestamp"):
                # `2027-02-30` looks like a date but is none: keep the text, checks report it.
                return Scalar(self.range(node), node.value, node.value)
            known = isinstance(exc, yaml.YAMLError | ValueError | OverflowError)
            reason = exc if known else repr(node.value)
            raise _Refused(
                error(
                    "yaml-syntax",
                    f"invalid {node.tag.rsplit(':', 1)[-1]}: {reason}",
                    self.range(node),
                )
            ) from None
        if isinstance(value, dt.datetime | dt.date):
            # Dates stay text: the schema checks their format and JSON has no date type.
            value = node.value
        elif isinstance(value, float) and value != value:
            raise _Refused(error("wrong-type", "NaN is not a valid value", self.range(node)))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.finite(value, node)
        return Scalar(self.range(node), self.valid_text(value, node), node.value)

    def finite(self, value: int | float, node: yaml.ScalarNode) -> None:
        """Refuse infinities and numbers past a 64-bit float's range: JSON (the schema, plans,
        state, rendered programs) has no infinity, and AWS's APIs carry numbers as doubles."""
        try:
            number = float(value)
        except OverflowError:  # an integer with over 308 digits
            number = math.inf
        if math.isfinite(number):
            return
        written = node.value if len(node.value) <= 20 else f"{node.value[:17]}..."
        summary = (
            "infinity is not a valid value"
            if isinstance(value, float) and node.value.lstrip("+-").lower() == ".inf"
            else f"{written} is too large: numbers in a spec must fit a 64-bit float "
            "(at most about 1.8e308)"
        )
        raise _Refused(
            error("invalid-number", summary, self.range(node), suggestion="write a finite number")
        )

    def key(self, node: yaml.Node) -> Scalar:
        if not isinstance(node, yaml.ScalarNode):
            raise _Refused(
                error(
                    "complex-key",
                    "a mapping key must be plain text, not a list or map",
                    self.range(node),
                )
            )
        # Keys are names: `on:` or `1:` mean the text the user typed, not YAML 1.1's bool or int.
        return Scalar(self.range(node), self.valid_text(node.value, node), node.value)

    def valid_text(self, value, node: yaml.Node):
        """Refuse lone surrogates (`"\\ud800"` escapes): they are not Unicode text, and no
        AWS API, file or program could carry them."""
        if isinstance(value, str) and _SURROGATE.search(value):
            raise _Refused(
                error(
                    "not-text",
                    "the text contains a lone UTF-16 surrogate escape, which is not a character",
                    self.range(node),
                    suggestion="write the character itself, or a \\U escape of its code point",
                )
            )
        return value

    def mapping(self, node: yaml.MappingNode, depth: int) -> Mapping:
        entries: list[Entry] = []
        seen: dict[str, Scalar] = {}
        merged: list[Entry] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self.merge_entries(value_node, depth))
                continue
            key = self.key(key_node)
            if key.value in seen:
                first = seen[key.value]
                raise _Refused(
                    error(
                        "duplicate-key",
                        f"duplicate key {key.value!r} "
                        f"(first defined at line {first.range.start.line})",
                        key.range,
                        suggestion="remove one of them; YAML loaders would silently keep the last",
                    )
                )
            seen[key.value] = key
            entries.append(Entry(key, self.convert(value_node, depth + 1)))
        # Merge keys (`<<: *defaults`) supply what the mapping does not say itself.
        for entry in merged:
            if entry.name not in seen:
                seen[entry.name] = entry.key
                entries.append(entry)
        return Mapping(self.range(node), tuple(entries))

    def merge_entries(self, value: yaml.Node, depth: int) -> list[Entry]:
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        entries: list[Entry] = []
        for source in sources:
            converted = self.convert(source, depth + 1)
            if not isinstance(converted, Mapping):
                raise _Refused(
                    error(
                        "yaml-syntax",
                        "a merge key '<<' must refer to a mapping",
                        self.range(source),
                    )
                )
            entries.extend(converted.entries)
        return entries
