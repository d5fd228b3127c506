"""The grammar of pipeline `when:` conditions: parse, inspect, evaluate and print them.

A condition such as ``evaluate.metrics.accuracy >= parameters.min_accuracy`` is user text, so
it is read by a small hand-written tokenizer and recursive-descent parser and evaluated by
walking the tree: never by `eval`, `exec`, `compile` or `ast`. There is deliberately no
arithmetic, so a hyphen inside a name is part of the name (step names are kebab-case, like
``train-model.metrics.auc``) and a hyphen in front of a number is its sign.

Grammar (EBNF; whitespace between tokens is ignored, keywords are lowercase)::

    condition  = or_expr ;
    or_expr    = and_expr , { "or" , and_expr } ;
    and_expr   = not_expr , { "and" , not_expr } ;
    not_expr   = "not" , not_expr | comparison ;
    comparison = operand , [ compare_op , operand ] ;  (* one at most: a < b < c is an error *)
    compare_op = "==" | "!=" | "<" | "<=" | ">" | ">=" ;
    operand    = literal | reference | "(" , or_expr , ")" ;
    literal    = number | string | "true" | "false" ;
    number     = [ "-" ] , digits , [ "." , digits ] , [ ( "e" | "E" ) , [ "+" | "-" ] , digits ] ;
    digits     = digit , { digit } ;
    string     = "'" , { char - ( "'" | "\\" ) | escape } , "'"
               | '"' , { char - ( '"' | "\\" ) | escape } , '"' ;
    escape     = "\\" , ( "\\" | "'" | '"' ) ;
    reference  = name , { "." , name } ;              (* no whitespace around "." *)
    name       = ( letter | "_" ) , { letter | digit | "_" | "-" } ;

So `not` binds loosest of the unary and comparison forms, as in Python and SQL:
``not a == b`` means ``not (a == b)``, which is also the only reading a SageMaker condition
step (a ConditionNot wrapping a comparison) can express. Then come `and`, then `or`.

Limits: a condition is at most 1,000 characters and 32 levels of parentheses deep.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

MAX_LENGTH = 1_000
MAX_DEPTH = 32

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")
_ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
_KEYWORDS = frozenset({"and", "or", "not", "true", "false"})


class ExpressionError(ValueError):
    """A condition that cannot be parsed or evaluated, and where (1-based column) it goes wrong."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return self.message


# --- the tree -------------------------------------------------------------------------------
# Columns are kept for messages but left out of equality, so two spellings of one condition
# (`a>=1` and `a >= 1`) give equal trees.


@dataclass(frozen=True, eq=False)
class Literal:
    """A number, string or boolean written in the condition."""

    value: bool | int | float | str
    column: int = field(default=1, compare=False)

    # Python holds True == 1 == 1.0; a condition does not, so equality also compares kinds.
    def _key(self) -> tuple[str, object]:
        return (_kind(self.value) or "", self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Literal):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True)
class Reference:
    """A dotted name (`evaluate.metrics.accuracy`) whose value the caller supplies."""

    parts: tuple[str, ...]
    column: int = field(default=1, compare=False)

    @property
    def name(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expression
    right: Expression
    column: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Not:
    operand: Expression
    column: int = field(default=1, compare=False)


@dataclass(frozen=True)
class BoolOp:
    """`and` or `or` over two or more operands (`a and b and c` is one node)."""

    op: str
    operands: tuple[Expression, ...]
    column: int = field(default=1, compare=False)


Expression = Literal | Reference | Compare | Not | BoolOp


# --- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "name", "op", "(", ")", a keyword, or "end"
    text: str
    column: int
    value: object = None


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'"}
_DIGITS = frozenset("0123456789")
# Symbols, longest first so `===` is not read as `==` then `=`. Operators from other languages
# are answered with what to write instead.
_SYMBOLS: tuple[tuple[str, str | None], ...] = (
    ("===", "'===' is not supported; use '=='"),
    ("!==", "'!==' is not supported; use '!='"),
    ("==", None),
    ("!=", None),
    ("<=", None),
    (">=", None),
    ("<>", "'<>' is not supported; use '!='"),
    ("=>", "unknown operator '=>'; did you mean '>='?"),
    ("=<", "unknown operator '=<'; did you mean '<='?"),
    ("&&", "'&&' is not supported; use 'and'"),
    ("||", "'||' is not supported; use 'or'"),
    ("<", None),
    (">", None),
    ("=", "unknown operator '='; did you mean '=='?"),
    ("!", "'!' is not supported; use 'not'"),
    ("&", "'&' is not supported; use 'and'"),
    ("|", "'|' is not supported; use 'or'"),
)


def _tokens(text: str) -> Iterator[_Token]:
    """Yield tokens lazily, so the first error reported is the leftmost one."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch in "()":
            yield _Token(ch, ch, col)
            i += 1
        elif ch in "'\"":
            value, end = _read_string(text, i)
            yield _Token("string", text[i:end], col, value)
            i = end
        elif ch in _DIGITS or (ch == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            token = _read_number(text, i)
            yield token
            i += len(token.text)
        elif _NAME.match(text, i):
            token = _read_name(text, i)
            yield token
            i += len(token.text)
        else:
            symbol, problem = next(
                ((s, p) for s, p in _SYMBOLS if text.startswith(s, i)), (None, None)
            )
            if problem:
                raise ExpressionError(problem, col)
            if symbol:
                yield _Token("op", symbol, col)
                i += len(symbol)
            else:
                raise ExpressionError(_stray_character(ch), col)
    yield _Token("end", "", n + 1)


def _stray_character(ch: str) -> str:
    if ch == "-":
        return "'-' must be followed directly by a number; arithmetic is not supported"
    if ch in "+-*/%":
        return f"arithmetic is not supported: unexpected '{ch}'"
    if ch == ".":
        return "unexpected '.'; a name must come before it"
    return f"unexpected character {ch!r}"


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt not in _ESCAPES:
                shown = f"\\{nxt}" if nxt else "\\"
                raise ExpressionError(
                    f"unsupported escape '{shown}' in string; only \\\\, \\\" and \\' are allowed",
                    i + 1,
                )
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ExpressionError(f"unterminated string: no closing {quote} for the quote here", start + 1)


def _read_number(text: str, start: int) -> _Token:
    raw = _NUMBER.match(text, start).group()
    end = start + len(raw)
    # `3d` or `1.` is neither a number nor a name: say so rather than parse it as two tokens.
    if end < len(text) and (text[end].isalnum() or text[end] in "._-"):
        raise ExpressionError(f"unexpected {text[end]!r} after the number '{raw}'", end + 1)
    is_float = any(c in raw for c in ".eE")
    value: int | float = float(raw) if is_float else int(raw)
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError(f"the number '{raw}' is too large", start + 1)
    return _Token("number", raw, start + 1, value)


def _read_name(text: str, start: int) -> _Token:
    parts = []
    i = start
    while True:
        m = _NAME.match(text, i)
        parts.append(m.group())
        i = m.end()
        if i < len(text) and text[i] == ".":
            if not _NAME.match(text, i + 1):
                raise ExpressionError(f"expected a name after '{text[start : i + 1]}'", i + 2)
            i += 1
            continue
        break
    raw = text[start:i]
    if len(parts) == 1:
        word = parts[0]
        if word in _KEYWORDS:
            return _Token(word, word, start + 1)
        if word.lower() in _KEYWORDS:
            raise ExpressionError(
                f"'{word}' is not recognised; write '{word.lower()}' (keywords are lowercase)",
                start + 1,
            )
    return _Token("name", raw, start + 1, tuple(parts))


# --- parsing --------------------------------------------------------------------------------


def parse_condition(text: str) -> Expression:
    """Parse a `when:` condition, or raise `ExpressionError` saying what is wrong and where."""
    if not isinstance(text, str):
        raise ExpressionError("a condition must be text, like 'a.b >= 1'", 1)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the condition is {len(text):,} characters long; the limit is {MAX_LENGTH:,}", 1
        )
    if not text.strip():
        raise ExpressionError("empty expression: write a condition like 'a.b >= 1'", 1)
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str):
        self._tokens = _tokens(text)
        self._next: _Token = next(self._tokens)
        self._previous: _Token | None = None
        self._depth = 0

    def parse(self) -> Expression:
        expr = self._or()
        token = self._next
        if token.kind != "end":
            raise self._unexpected_after_value(token)
        if _static_kind(expr) not in (None, "bool"):
            raise ExpressionError(
                f"a condition must be true or false, but {_describe(expr)} is a "
                f"{_static_kind(expr)}",
                expr.column,
            )
        return expr

    def _advance(self) -> _Token:
        token = self._next
        self._previous = token
        if token.kind != "end":
            self._next = next(self._tokens)
        return token

    def _or(self) -> Expression:
        return self._bool_chain("or", self._and)

    def _and(self) -> Expression:
        return self._bool_chain("and", self._not)

    def _bool_chain(self, op: str, operand: Callable[[], Expression]) -> Expression:
        start = self._next.column  # of the '(' when the first operand is parenthesised
        first = operand()
        if self._next.kind != op:
            return first
        _require_condition(first, f"'{op}'")
        operands = [first]
        while self._next.kind == op:
            self._advance()
            item = operand()
            _require_condition(item, f"'{op}'")
            operands.append(item)
        return BoolOp(op, tuple(operands), start)

    def _not(self) -> Expression:
        if self._next.kind == "not":
            token = self._advance()
            operand = self._not()
            _require_condition(operand, "'not'")
            return Not(operand, token.column)
        return self._comparison()

    def _comparison(self) -> Expression:
        start = self._next.column
        left = self._operand()
        if self._next.kind != "op":
            return left
        op_token = self._advance()
        right = self._operand()
        if self._next.kind == "op":
            raise ExpressionError(
                f"comparisons cannot be chained; write 'a {op_token.text} b and "
                f"b {self._next.text} c' instead",
                self._next.column,
            )
        _check_comparable(op_token, left, right)
        return Compare(op_token.text, left, right, start)

    def _operand(self) -> Expression:
        token = self._next
        if token.kind == "number" or token.kind == "string":
            self._advance()
            return Literal(token.value, token.column)
        if token.kind in ("true", "false"):
            self._advance()
            return Literal(token.kind == "true", token.column)
        if token.kind == "name":
            self._advance()
            return Reference(token.value, token.column)
        if token.kind == "(":
            return self._parenthesised()
        raise self._expected_value(token)

    def _parenthesised(self) -> Expression:
        opening = self._advance()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ExpressionError(
                f"too deeply nested: more than {MAX_DEPTH} levels of parentheses",
                opening.column,
            )
        inner = self._or()
        token = self._next
        if token.kind == ")":
            self._advance()
            self._depth -= 1
            return inner
        if token.kind == "end":
            raise ExpressionError(
                f"expected ')' to close the '(' at column {opening.column}", token.column
            )
        raise self._unexpected_after_value(token)

    def _expected_value(self, token: _Token) -> ExpressionError:
        before = self._previous
        if before is None:
            return ExpressionError(f"unexpected {_show(token)}; expected a value", token.column)
        if token.kind == "end":
            return ExpressionError(f"expected a value after '{before.text}'", token.column)
        return ExpressionError(
            f"expected a value after '{before.text}' but found {_show(token)}", token.column
        )

    def _unexpected_after_value(self, token: _Token) -> ExpressionError:
        if token.kind == ")":
            return ExpressionError("unexpected ')' without a matching '('", token.column)
        before = self._previous.text if self._previous else ""
        return ExpressionError(
            f"unexpected {_show(token)} after '{before}'; expected 'and', 'or' or a comparison "
            "such as '=='",
            token.column,
        )


def _show(token: _Token) -> str:
    if token.kind == "end":
        return "end of condition"
    text = token.text if len(token.text) <= 24 else token.text[:21] + "..."
    return f"'{text}'"


# --- static checks: mistakes visible without knowing any reference's value ------------------


def _kind(value: object) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


_KIND_NAMES = {"bool": "true/false value", "number": "number", "string": "string"}


def _static_kind(expr: Expression) -> str | None:
    if isinstance(expr, Literal):
        return _kind(expr.value)
    if isinstance(expr, Reference):
        return None
    return "bool"


def _describe(expr: Expression) -> str:
    if isinstance(expr, Literal | Reference):
        return f"'{unparse(expr)}'"
    return "the comparison"


def _require_condition(expr: Expression, operator: str) -> None:
    kind = _static_kind(expr)
    if kind not in (None, "bool"):
        raise ExpressionError(
            f"{operator} needs true/false operands, but {_describe(expr)} is a {kind}",
            expr.column,
        )


def _check_comparable(op: _Token, left: Expression, right: Expression) -> None:
    lk, rk = _static_kind(left), _static_kind(right)
    if op.text in _ORDERING_OPS and "bool" in (lk, rk):
        raise ExpressionError(
            f"'{op.text}' compares numbers or strings, not true/false values", op.column
        )
    if lk and rk and lk != rk:
        raise ExpressionError(
            f"cannot compare a {_KIND_NAMES[lk]} with a {_KIND_NAMES[rk]}", op.column
        )


# --- using a tree ---------------------------------------------------------------------------


def references(expr: Expression) -> list[Reference]:
    """Every reference in the condition, in the order they are written."""
    if isinstance(expr, Reference):
        return [expr]
    if isinstance(expr, Compare):
        return references(expr.left) + references(expr.right)
    if isinstance(expr, Not):
        return references(expr.operand)
    if isinstance(expr, BoolOp):
        return [ref for operand in expr.operands for ref in references(operand)]
    return []


def evaluate(expr: Expression, resolve: Callable[[tuple[str, ...]], object]) -> bool:
    """The truth of a condition, given `resolve(parts)` for the value of each reference.

    `resolve` may raise `LookupError` for a reference it cannot answer; that, a value that is
    not a bool, number or string, a comparison across kinds, or a result that is not a bool
    raises `ExpressionError` at the offending column. `and`/`or` stop at the first operand
    that decides the result, as in Python, so later operands need not resolve.
    """
    result = _value(expr, resolve)
    if not isinstance(result, bool):
        raise ExpressionError(
            f"a condition must be true or false, but {_describe(expr)} is {_shown_value(result)}",
            expr.column,
        )
    return result


def _value(expr: Expression, resolve: Callable[[tuple[str, ...]], object]) -> object:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Reference):
        try:
            value = resolve(expr.parts)
        except LookupError:
            raise ExpressionError(f"'{expr.name}' has no value", expr.column) from None
        if _kind(value) is None:
            raise ExpressionError(
                f"'{expr.name}' is {_shown_value(value)}, not a number, string or true/false",
                expr.column,
            )
        return value
    if isinstance(expr, Compare):
        return _compare(expr, _value(expr.left, resolve), _value(expr.right, resolve))
    if isinstance(expr, Not):
        return not _truth(expr.operand, _value(expr.operand, resolve), "'not'")
    # BoolOp: short-circuit, like Python.
    deciding = expr.op == "or"
    for operand in expr.operands:
        if _truth(operand, _value(operand, resolve), f"'{expr.op}'") is deciding:
            return deciding
    return not deciding


def _truth(expr: Expression, value: object, operator: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(
            f"{operator} needs true/false operands, but {_describe(expr)} is {_shown_value(value)}",
            expr.column,
        )
    return value


def _compare(expr: Compare, left: object, right: object) -> bool:
    lk, rk = _kind(left), _kind(right)
    if lk != rk:
        raise ExpressionError(
            f"cannot compare {_shown_value(left)} with {_shown_value(right)}", expr.column
        )
    if expr.op in _ORDERING_OPS and lk == "bool":
        raise ExpressionError(
            f"'{expr.op}' compares numbers or strings, not true/false values", expr.column
        )
    match expr.op:
        case "==":
            return left == right
        case "!=":
            return left != right
        case "<":
            return left < right
        case "<=":
            return left <= right
        case ">":
            return left > right
        case _:
            return left >= right


def _shown_value(value: object) -> str:
    kind = _kind(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "number":
        return f"the number {value!r}"
    if kind == "string":
        return f"the string {_quote(value)}"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


# --- printing -------------------------------------------------------------------------------

# Binding strength, loosest first; an operand that binds no tighter than its parent is
# parenthesised, so the printed text parses back to the same tree.
_OR, _AND, _NOT, _COMPARE, _ATOM = range(5)


def _strength(expr: Expression) -> int:
    if isinstance(expr, BoolOp):
        return _OR if expr.op == "or" else _AND
    if isinstance(expr, Not):
        return _NOT
    if isinstance(expr, Compare):
        return _COMPARE
    return _ATOM


def unparse(expr: Expression) -> str:
    """The canonical text of a condition: single spaces, double-quoted strings."""
    if isinstance(expr, Literal):
        value = expr.value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return _quote(value)
        return repr(value)
    if isinstance(expr, Reference):
        return expr.name
    if isinstance(expr, Compare):
        left = _wrapped(expr.left, _COMPARE)
        right = _wrapped(expr.right, _COMPARE)
        return f"{left} {expr.op} {right}"
    if isinstance(expr, Not):
        # `not not x` needs no parentheses, `not (a and b)` does.
        inner = expr.operand
        text = unparse(inner)
        return f"not {text}" if _strength(inner) >= _NOT else f"not ({text})"
    parent = _strength(expr)
    return f" {expr.op} ".join(_wrapped(operand, parent) for operand in expr.operands)


def _wrapped(expr: Expression, parent: int) -> str:
    text = unparse(expr)
    return f"({text})" if _strength(expr) <= parent else text


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
