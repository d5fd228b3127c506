"""Values become Python literals that evaluate back to the same data, and no text, however
hostile, becomes code: every literal parses as one constant expression."""

from __future__ import annotations

import ast
import enum
import math
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlinfra.render.literals import WIDTH, LiteralError, literal, string_literal
from mlinfra.render.pulumi import comment_text

HOSTILE = [
    "",
    "'",
    '"',
    "'''",
    '"""',
    'it\'s "both"',
    "\\",
    "ends with a backslash\\",
    "\\'",
    '\\"',
    "line\nbreak",
    "carriage\rreturn",
    "\r\n",
    "tab\there",
    "{{ jinja }}",
    "{% if x %}{% endif %}",
    "{#",
    "{x!r} {0} %s %(name)s",
    "# not a comment",
    "\x00nul",
    "\x0cform feed",
    "\x1b[31mred",
    "\u2028line separator\u2029",
    "\ufeffbom",
    "\u202eevil bidi override",
    "ünïcödé ✓ 中文 🚀",
    "\U0010ffff",
    "__import__('os').system('id')",
    "'); import os; os.system('id'); ('",
    '"""); import os  #',
    "\\N{BULLET}",
    "\\x41",
]


def plain(value):
    """What `ast.literal_eval` gives back for `value`: lists for tuples, dicts for maps."""
    if isinstance(value, MappingProxyType | dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def assert_round_trip(value) -> None:
    written = literal(value)
    tree = ast.parse(written, mode="eval")
    # Data only: nothing but constants, containers and unary minus (negative numbers).
    allowed = (
        ast.Expression,
        ast.Constant,
        ast.List,
        ast.Dict,
        ast.UnaryOp,
        ast.USub,
        ast.Load,
    )
    assert all(isinstance(node, allowed) for node in ast.walk(tree)), written
    assert ast.literal_eval(written) == plain(value)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_written_as_the_same_string(text: str) -> None:
    written = string_literal(text)
    tree = ast.parse(written, mode="eval")
    assert isinstance(tree.body, ast.Constant)
    assert tree.body.value == text
    assert "\n" not in written and "\r" not in written


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -1, 2**70, 1.5, -0.0, 1e-300, 1e300, "text"],
    ids=repr,
)
def test_scalars_round_trip(value) -> None:
    assert_round_trip(value)
    assert type(ast.literal_eval(literal(value))) is type(value)


def test_containers_round_trip_as_lists_and_dicts() -> None:
    value = MappingProxyType(
        {"a": (1, 2.5, None), "b": MappingProxyType({"nested": (True, "x")}), "": [], "c": {}}
    )
    assert_round_trip(value)
    assert literal(()) == "[]" and literal({}) == "{}"


def test_map_keys_keep_their_order() -> None:
    assert literal({"b": 1, "a": 2}) == '{"b": 1, "a": 2}'


def test_strings_use_double_quotes_when_they_hold_no_quote() -> None:
    assert literal("plain") == '"plain"'
    assert literal("it's") == '"it\'s"'
    assert ast.literal_eval(literal("a'b\"c")) == "a'b\"c"


def test_lone_surrogates_are_refused_not_escaped() -> None:
    # Pulumi's engine and AWS carry only valid UTF-8: refusing here beats failing at deploy.
    with pytest.raises(LiteralError, match="surrogate"):
        literal("\ud800")
    with pytest.raises(LiteralError, match="surrogate"):
        literal({"k": ["ok", "bad \udfff"]})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_json_numbers_are_refused(value: float) -> None:
    with pytest.raises(LiteralError):
        literal(value)


@pytest.mark.parametrize("value", [{1: "x"}, {("a",): 1}, object(), b"bytes", {"a"}])
def test_other_types_are_refused(value) -> None:
    with pytest.raises(LiteralError):
        literal(value)


def test_subclasses_cannot_write_their_own_repr() -> None:
    class Sneaky(str):
        def __repr__(self) -> str:
            return "__import__('os')"

    class Level(enum.IntEnum):
        HIGH = 3

    assert literal(Sneaky("x")) == '"x"'
    assert literal(Level.HIGH) == "3"


def test_short_values_stay_on_one_line() -> None:
    assert literal(["a", "b", {"c": 1}]) == '["a", "b", {"c": 1}]'


def test_long_values_are_broken_one_item_per_line_within_the_width() -> None:
    value = {f"key{i}": [f"value-{i}-{j}" for j in range(6)] for i in range(8)}
    written = literal(value)
    lines = written.splitlines()
    assert len(lines) > 8
    assert all(len(line) <= WIDTH for line in lines)
    assert lines[1].startswith("    ") and lines[-1] == "}"
    assert ast.literal_eval(written) == value


def test_a_string_longer_than_the_width_stays_one_literal() -> None:
    text = "x" * 300
    assert literal([text]) == f'[\n    "{text}",\n]'


@pytest.mark.parametrize("text", HOSTILE)
def test_comment_text_cannot_leave_a_comment_or_docstring(text: str) -> None:
    assert ast.parse(f"# {comment_text(text)}\n").body == []
    docstring = ast.parse(f'"""Header {comment_text(text)} end"""\n').body
    assert len(docstring) == 1 and isinstance(docstring[0].value, ast.Constant)


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_like)
def test_any_json_like_data_round_trips(value) -> None:
    assert_round_trip(value)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_round_trips_and_stays_data(text: str) -> None:
    assert_round_trip(text)
    assert ast.parse(f"# {comment_text(text)}\n").body == []
