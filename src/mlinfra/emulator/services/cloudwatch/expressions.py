"""CloudWatch metric math, the part the SLO alarms and simple dashboards use.

An expression is arithmetic (`+ - * /`, unary minus, parentheses) over numbers and the ids of
other queries of the same request, such as the error-rate alarm's `100 * errors / invocations`
(`ir/sagemaker/endpoints.error_alarm`). A query's value is a time series (period start ->
value); a number stands for itself at every time. Two series combine where both have a
value, as CloudWatch aligns them, and a division by zero leaves that time out. Functions
(`SUM(...)`, `FILL(...)`, `METRICS()`...) and anything else are refused with a ValidationError
naming the expression, its position and what is supported. The text is parsed here into a tree
and evaluated over series: it never becomes code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlinfra.emulator.kit.errors import ApiError

Series = dict[int, float]
Value = float | Series
MAX_LENGTH = 2048  # CloudWatch's limit on an Expression's length (its model's max)
MAX_DEPTH = 100  # operations nested in one another: far beyond any alarm, far within Python's

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/()]))"
)
SUPPORTED = "numbers, query ids, + - * / and parentheses"


def invalid(expression: str, why: str) -> ApiError:
    return ApiError(
        "ValidationError",
        f"Error in expression {expression!r}: {why}. The local emulator's metric math "
        f"supports {SUPPORTED}.",
    )


@dataclass(frozen=True)
class Node:
    op: str  # "num", "id", "neg", "+", "-", "*", "/"
    value: float = 0.0
    name: str = ""
    left: Node | None = None
    right: Node | None = None

    def ids(self) -> set[str]:
        if self.op == "id":
            return {self.name}
        found: set[str] = set()
        for child in (self.left, self.right):
            if child is not None:
                found |= child.ids()
        return found


def parse(expression: str) -> Node:
    """The expression's tree; ValidationError for anything outside `SUPPORTED`."""
    if len(expression) > MAX_LENGTH:
        raise invalid(expression[:40] + "...", f"it is longer than {MAX_LENGTH} characters")
    tokens = _tokens(expression)
    parser = _Parser(expression, tokens)
    node = parser.expression()
    if parser.position < len(tokens):
        raise invalid(expression, f"unexpected {tokens[parser.position][1]!r}")
    if _depth(node) > MAX_DEPTH:
        raise invalid(expression, f"it has more than {MAX_DEPTH} operations nested")
    return node


def _depth(node: Node) -> int:
    """The tree's depth, without recursion (evaluation recurses only within MAX_DEPTH)."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in (current.left, current.right) if child)
    return deepest


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            at = len(text) - len(text[position:].lstrip())  # the character, not the space
            raise invalid(expression, f"unexpected character {text[at]!r} at position {at + 1}")
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


class _Parser:
    def __init__(self, expression: str, tokens: list[tuple[str, str]]) -> None:
        self.text = expression
        self.tokens = tokens
        self.position = 0
        self.nesting = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def expression(self) -> Node:
        node = self.term()
        while (token := self._peek()) is not None and token[1] in "+-" and token[0] == "op":
            self.position += 1
            node = Node(token[1], left=node, right=self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while (token := self._peek()) is not None and token[1] in "*/" and token[0] == "op":
            self.position += 1
            node = Node(token[1], left=node, right=self.factor())
        return node

    def factor(self) -> Node:
        self.nesting += 1  # parentheses and unary minus recurse here: bounded before Python is
        if self.nesting > MAX_DEPTH:
            raise invalid(self.text, f"it has more than {MAX_DEPTH} operations nested")
        try:
            return self._factor()
        finally:
            self.nesting -= 1

    def _factor(self) -> Node:
        token = self._peek()
        if token is None:
            raise invalid(self.text, "it ends where a value is expected")
        kind, text = token
        self.position += 1
        if kind == "number":
            return Node("num", value=float(text))
        if kind == "name":
            following = self._peek()
            if following == ("op", "("):
                raise invalid(self.text, f"the function {text}() is not supported")
            if not text[0].islower():
                raise invalid(self.text, f"{text!r} is no query id (ids start with a-z)")
            return Node("id", name=text)
        if text == "-":
            return Node("neg", left=self.factor())
        if text == "(":
            node = self.expression()
            if self._peek() != ("op", ")"):
                raise invalid(self.text, "a '(' is not closed")
            self.position += 1
            return node
        raise invalid(self.text, f"unexpected {text!r}")


_OPERATIONS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def evaluate(node: Node, values: Mapping[str, Value], expression: str) -> Value:
    """The expression's value over the queries' `values` (by id)."""
    if node.op == "num":
        return node.value
    if node.op == "id":
        if node.name not in values:
            raise invalid(expression, f"no query of this request has the id {node.name!r}")
        return values[node.name]
    if node.op == "neg":
        assert node.left is not None
        return _combine(-1.0, evaluate(node.left, values, expression), _OPERATIONS["*"])
    assert node.left is not None and node.right is not None
    left = evaluate(node.left, values, expression)
    right = evaluate(node.right, values, expression)
    return _combine(left, right, _OPERATIONS[node.op])


def _combine(left: Value, right: Value, op: Callable[[float, float], float]) -> Value:
    if isinstance(left, dict) and isinstance(right, dict):
        pairs = ((t, left[t], right[t]) for t in left.keys() & right.keys())
    elif isinstance(left, dict):
        pairs = ((t, v, right) for t, v in left.items())
    elif isinstance(right, dict):
        pairs = ((t, left, v) for t, v in right.items())
    else:
        try:
            return op(left, right)
        except ZeroDivisionError:
            return {}
    found: Series = {}
    for time, a, b in pairs:
        try:
            found[time] = op(a, b)  # type: ignore[arg-type]
        except ZeroDivisionError:
            continue  # no value at that time, as CloudWatch leaves it out
    return found
