"""The `when:` condition grammar: what parses to what, what is refused and where, how
conditions evaluate, and that printing a condition gives text that parses back to it."""

from __future__ import annotations

import ast
import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlinfra.spec import expressions
from mlinfra.spec.expressions import (
    BoolOp,
    Compare,
    ExpressionError,
    Literal,
    Not,
    Reference,
    evaluate,
    parse_condition,
    references,
    unparse,
)


def ref(dotted: str) -> Reference:
    return Reference(tuple(dotted.split(".")))


# --- parsing --------------------------------------------------------------------------------

PARSES = [
    (
        "evaluate.metrics.accuracy >= parameters.min_accuracy",
        Compare(">=", ref("evaluate.metrics.accuracy"), ref("parameters.min_accuracy")),
    ),
    ("train-model.metrics.auc > 0.9", Compare(">", ref("train-model.metrics.auc"), Literal(0.9))),
    ("x-1 == 2", Compare("==", ref("x-1"), Literal(2))),
    ("a<=1", Compare("<=", ref("a"), Literal(1))),
    ("  a  !=  1  ", Compare("!=", ref("a"), Literal(1))),
    ("a < -1", Compare("<", ref("a"), Literal(-1))),
    ("a == 1.5e-3", Compare("==", ref("a"), Literal(0.0015))),
    ("a == 2E3", Compare("==", ref("a"), Literal(2000.0))),
    ("a == 'single'", Compare("==", ref("a"), Literal("single"))),
    ('a == "double"', Compare("==", ref("a"), Literal("double"))),
    (r"a == 'it\'s'", Compare("==", ref("a"), Literal("it's"))),
    (r'a == "say \"hi\""', Compare("==", ref("a"), Literal('say "hi"'))),
    (r"a == 'back\\slash'", Compare("==", ref("a"), Literal("back\\slash"))),
    ("a == true", Compare("==", ref("a"), Literal(True))),
    ("a != false", Compare("!=", ref("a"), Literal(False))),
    ("a.ready", ref("a.ready")),
    ("true", Literal(True)),
    ("not a == b", Not(Compare("==", ref("a"), ref("b")))),
    ("not not a", Not(Not(ref("a")))),
    ("(not a) == b", Compare("==", Not(ref("a")), ref("b"))),
    ("a and b and c", BoolOp("and", (ref("a"), ref("b"), ref("c")))),
    ("a or b and c", BoolOp("or", (ref("a"), BoolOp("and", (ref("b"), ref("c")))))),
    ("(a or b) and c", BoolOp("and", (BoolOp("or", (ref("a"), ref("b"))), ref("c")))),
    ("(a and b) and c", BoolOp("and", (BoolOp("and", (ref("a"), ref("b"))), ref("c")))),
    ("not a and b", BoolOp("and", (Not(ref("a")), ref("b")))),
    ("a.and == 1", Compare("==", Reference(("a", "and")), Literal(1))),
]


@pytest.mark.parametrize(("text", "tree"), PARSES)
def test_parses_valid_condition_to_its_tree(text, tree):
    assert parse_condition(text) == tree


REFUSED = [
    ("", "empty expression", 1),
    ("   ", "empty expression", 1),
    ("a" * 1001, "the limit is 1,000", 1),
    ("a >=", "expected a value after '>='", 5),
    ("a >= )", "expected a value after '>=' but found ')'", 6),
    ("()", "expected a value after '(' but found ')'", 2),
    ("not", "expected a value after 'not'", 4),
    ("a == 1 and", "expected a value after 'and'", 11),
    ("and", "unexpected 'and'; expected a value", 1),
    ("a == b)", "unexpected ')'", 7),
    (")", "unexpected ')'", 1),
    ("(a == 1", "expected ')' to close the '(' at column 1", 8),
    ("a == 1 b", "unexpected 'b' after '1'", 8),
    ("a = 1", "unknown operator '='; did you mean '=='?", 3),
    ("a => 1", "did you mean '>='?", 3),
    ("a =< 1", "did you mean '<='?", 3),
    ("a === b", "'===' is not supported; use '=='", 3),
    ("a !== b", "'!==' is not supported; use '!='", 3),
    ("a <> b", "'<>' is not supported; use '!='", 3),
    ("a && b", "'&&' is not supported; use 'and'", 3),
    ("a || b", "'||' is not supported; use 'or'", 3),
    ("a & b", "'&' is not supported; use 'and'", 3),
    ("!a", "'!' is not supported; use 'not'", 1),
    ("a + 1 > 2", "arithmetic is not supported", 3),
    ("a - 1 > 2", "'-' must be followed directly by a number", 3),
    ("a == @", "unexpected character '@'", 6),
    (".a", "unexpected '.'", 1),
    ("a.b. == 1", "expected a name after 'a.b.'", 5),
    ("a == 'abc", "unterminated string", 6),
    ('a == "x\\n"', "unsupported escape '\\n'", 8),
    ("a == 3d", "unexpected 'd' after the number '3'", 7),
    ("a == 1.x", "unexpected '.' after the number '1'", 7),
    ("a == 1e999", "the number '1e999' is too large", 6),
    ("a < b < c", "comparisons cannot be chained", 7),
    ("a == b == c", "comparisons cannot be chained", 8),
    ("True", "write 'true' (keywords are lowercase)", 1),
    ("a AND b", "write 'and'", 3),
    ("1 and a", "'and' needs true/false operands, but '1' is a number", 1),
    ("a or 'x'", "'or' needs true/false operands, but '\"x\"' is a string", 6),
    ("not 'x'", "'not' needs true/false operands", 5),
    ("1 == 'a'", "cannot compare a number with a string", 3),
    ("true < false", "'<' compares numbers or strings, not true/false values", 6),
    ("(a < b) < c", "'<' compares numbers or strings", 9),
    ("'a'", "a condition must be true or false, but '\"a\"' is a string", 1),
    ("(" * 33 + "a" + ")" * 33, "too deeply nested", 33),
]


@pytest.mark.parametrize(("text", "fragment", "column"), REFUSED)
def test_refuses_invalid_condition_saying_what_and_where(text, fragment, column):
    with pytest.raises(ExpressionError) as caught:
        parse_condition(text)
    assert fragment in caught.value.message
    assert caught.value.column == column


def test_accepts_thirty_two_levels_of_parentheses():
    assert parse_condition("(" * 32 + "a" + ")" * 32) == ref("a")


def test_accepts_a_condition_of_exactly_the_length_limit():
    text = "a" * 995 + " == 1"
    assert len(text) == expressions.MAX_LENGTH
    assert parse_condition(text) == Compare("==", ref("a" * 995), Literal(1))


def test_a_long_chain_of_not_parses_and_prints():
    text = "not " * 249 + "a"
    tree = parse_condition(text)
    assert unparse(tree) == text
    assert evaluate(tree, lambda parts: True) is False


def test_reports_the_leftmost_of_several_errors():
    with pytest.raises(ExpressionError) as caught:
        parse_condition("a = 1 and 'unterminated")
    assert caught.value.column == 3


def test_refuses_text_that_is_not_a_string():
    with pytest.raises(ExpressionError, match="must be text"):
        parse_condition(42)


def test_error_is_a_value_error_whose_text_is_the_message():
    error = ExpressionError("boom", 4)
    assert isinstance(error, ValueError)
    assert str(error) == "boom"


def test_nodes_record_the_column_where_they_start():
    tree = parse_condition("a >= 1 and not (b.c)")
    assert isinstance(tree, BoolOp)
    compare, negation = tree.operands
    assert (tree.column, compare.column, compare.right.column) == (1, 1, 6)
    assert (negation.column, negation.operand.column) == (12, 17)


def test_a_node_that_begins_with_a_parenthesis_starts_at_it():
    tree = parse_condition("(a or b) and c")
    assert tree.column == 1
    assert tree.operands[0].column == 2


def test_equality_of_trees_ignores_columns():
    assert parse_condition("a>=1") == parse_condition("  a   >=   1")


def test_literals_of_different_kinds_are_not_equal():
    assert Literal(True) != Literal(1)
    assert Literal(1) != Literal("1")
    assert Literal(1) == Literal(1.0)


def test_module_never_evaluates_text_as_code():
    # A guard for the design rule that user text is data, never code.
    tree = ast.parse(inspect.getsource(expressions))
    builtins_called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not builtins_called & {"eval", "exec", "compile", "__import__"}
    assert not attributes & {"eval", "exec", "literal_eval"}
    assert "ast" not in imported


# --- references -----------------------------------------------------------------------------


def test_references_are_listed_in_source_order_with_columns():
    tree = parse_condition("not (b.x > 1 or a.y == c) and b.x < 5")
    found = references(tree)
    assert [r.name for r in found] == ["b.x", "a.y", "c", "b.x"]
    assert [r.column for r in found] == [6, 17, 24, 31]


def test_a_condition_without_references_has_none():
    assert references(parse_condition("1 < 2")) == []


# --- evaluation -----------------------------------------------------------------------------

VALUES = {
    ("evaluate", "metrics", "accuracy"): 0.81,
    ("parameters", "min_accuracy"): 0.75,
    ("count",): 3,
    ("name",): "churn",
    ("ready",): True,
    ("nothing",): None,
    ("table",): {"a": 1},
}


def resolve(parts):
    return VALUES[parts]


EVALUATES = [
    ("evaluate.metrics.accuracy >= parameters.min_accuracy", True),
    ("evaluate.metrics.accuracy < parameters.min_accuracy", False),
    ("count == 3.0", True),
    ("count != 3", False),
    ("count > -1", True),
    ("name == 'churn'", True),
    ("name < 'dogs'", True),
    ("ready", True),
    ("ready == true", True),
    ("not ready", False),
    ("ready and count >= 3", True),
    ("not ready or count < 3", False),
    ("not (ready and name == 'x')", True),
    ("true", True),
]


@pytest.mark.parametrize(("text", "expected"), EVALUATES)
def test_evaluates_condition_with_resolved_references(text, expected):
    assert evaluate(parse_condition(text), resolve) is expected


EVALUATION_ERRORS = [
    ("name > 3", 'cannot compare the string "churn" with the number 3', 1),
    ("ready == 1", "cannot compare true with the number 1", 1),
    ("ready < ready", "'<' compares numbers or strings", 1),
    ("missing.value > 1", "'missing.value' has no value", 1),
    ("count", "a condition must be true or false, but 'count' is the number 3", 1),
    ("ready and count", "'and' needs true/false operands, but 'count' is the number 3", 11),
    ("not name", "'not' needs true/false operands", 5),
    ("nothing == 1", "'nothing' is null, not a number, string or true/false", 1),
    ("table == 1", "'table' is a dict", 1),
]


@pytest.mark.parametrize(("text", "fragment", "column"), EVALUATION_ERRORS)
def test_evaluation_error_says_what_and_where(text, fragment, column):
    with pytest.raises(ExpressionError) as caught:
        evaluate(parse_condition(text), resolve)
    assert fragment in caught.value.message
    assert caught.value.column == column


def test_and_stops_at_the_first_false_operand():
    assert evaluate(parse_condition("false and missing.value"), resolve) is False


def test_or_stops_at_the_first_true_operand():
    assert evaluate(parse_condition("ready or missing.value"), resolve) is True


def test_errors_other_than_lookup_errors_from_the_resolver_propagate():
    def broken(parts):
        raise RuntimeError("resolver failed")

    with pytest.raises(RuntimeError):
        evaluate(parse_condition("a == 1"), broken)


# --- printing -------------------------------------------------------------------------------

UNPARSES = [
    ("a>=1", "a >= 1"),
    ("a == 'x'", 'a == "x"'),
    (r"a == 'say \"hi\" \\ bye'", r'a == "say \"hi\" \\ bye"'),
    ("a == -2.50", "a == -2.5"),
    ("((a))", "a"),
    ("a or (b and c)", "a or b and c"),
    ("(a or b) and c", "(a or b) and c"),
    ("(a and b) and c", "(a and b) and c"),
    ("a and (b and c)", "a and (b and c)"),
    ("not (a == b)", "not a == b"),
    ("not (a or b)", "not (a or b)"),
    ("not not a", "not not a"),
    ("(not a) == b", "(not a) == b"),
    ("(a < b) == true", "(a < b) == true"),
    ("x != false", "x != false"),
]


@pytest.mark.parametrize(("text", "canonical"), UNPARSES)
def test_unparse_gives_canonical_text(text, canonical):
    assert unparse(parse_condition(text)) == canonical


# --- properties -----------------------------------------------------------------------------

# Characters of the grammar, so that generated text often gets past the first token.
_GRAMMAR_TEXT = st.text(alphabet="ab.-_ ()'\"\\=!<>&|019e+andortruefls", max_size=40)


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=60), _GRAMMAR_TEXT))
def test_any_text_parses_or_raises_expression_error(text):
    try:
        tree = parse_condition(text)
    except ExpressionError as error:
        assert 1 <= error.column <= len(text) + 1
    else:
        assert isinstance(tree, Literal | Reference | Compare | Not | BoolOp)


@settings(max_examples=400)
@given(_GRAMMAR_TEXT)
def test_printed_text_of_any_parsed_text_parses_to_the_same_tree(text):
    try:
        tree = parse_condition(text)
    except ExpressionError:
        return
    assert parse_condition(unparse(tree)) == tree


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True).filter(
    lambda name: name.lower() not in {"and", "or", "not", "true", "false"}
)
_REFERENCES = st.lists(_NAMES, min_size=1, max_size=3).map(lambda parts: Reference(tuple(parts)))
_SCALARS = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)


def _comparisons():
    ordered = st.builds(
        Compare,
        st.sampled_from(["<", "<=", ">", ">="]),
        _REFERENCES,
        st.one_of(_REFERENCES, _SCALARS.map(Literal)),
    )
    equality = st.builds(
        Compare,
        st.sampled_from(["==", "!="]),
        _REFERENCES,
        st.one_of(_REFERENCES, _SCALARS.map(Literal), st.booleans().map(Literal)),
    )
    return st.one_of(ordered, equality)


_CONDITIONS = st.recursive(
    st.one_of(_comparisons(), _REFERENCES, st.booleans().map(Literal)),
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(
            BoolOp,
            st.sampled_from(["and", "or"]),
            st.lists(inner, min_size=2, max_size=3).map(tuple),
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=400)
@given(_CONDITIONS)
def test_any_tree_prints_as_text_that_parses_back_to_it(tree):
    assert parse_condition(unparse(tree)) == tree


@settings(max_examples=200)
@given(_CONDITIONS, st.one_of(_SCALARS, st.booleans(), st.none()))
def test_evaluation_gives_a_bool_or_raises_expression_error(tree, value):
    try:
        result = evaluate(tree, lambda parts: value)
    except ExpressionError:
        return
    assert isinstance(result, bool)
