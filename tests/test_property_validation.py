"""Property tests: whatever is done to the reference spec, validation answers with diagnostics.

Two kinds of damage are applied to `examples/churn/mlinfra.yaml`: structural mutations of its
data (delete, duplicate, retype, rename keys and values, move subtrees), serialised back with
`yaml.safe_dump`; and raw edits of its text (and bytes). Either way `validate_text` must not
raise, and must end valid with no errors or with at least one error carrying a code and, when
it has a range, a line inside the text.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlinfra.diagnostics import Diagnostic
from mlinfra.spec.validate import Validation, validate_text
from mlinfra.syntax.loader import parse_bytes, parse_text
from mlinfra.syntax.nodes import to_data

CHURN = Path(__file__).resolve().parents[1] / "examples" / "churn"
REFERENCE_TEXT = (CHURN / "mlinfra.yaml").read_text(encoding="utf-8")
CODE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=False,
)


def _as_data(text: str) -> Any:
    """The spec as plain data, read as mlinfra reads it (YAML dates stay ISO text)."""
    return to_data(parse_text(text, "mlinfra.yaml")[0].root)


REFERENCE = _as_data(REFERENCE_TEXT)


def _names(value: Any) -> set[str]:
    """Every key and string value in the spec: the pool references are swapped from."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found.add(str(k))
            found |= _names(v)
    elif isinstance(value, list):
        for v in value:
            found |= _names(v)
    elif isinstance(value, str):
        found.add(value)
    return found


NAMES = sorted(_names(REFERENCE))


# --- values of every type ----------------------------------------------------------------

LONG_TEXT = st.sampled_from(["x" * 5000, "é" * 3000, "a-" * 2000, "\u2028" * 100, "😀" * 1000])
TEXT = st.one_of(
    st.just(""),
    st.text(max_size=30),
    st.sampled_from(NAMES),
    st.sampled_from(["on", "yes", "no", "null", "~", "1e9", "0x1F", "2027-02-30", "12:30:00"]),
    LONG_TEXT,
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=-1),
    st.sampled_from([0, -1, 2**63, 2**64 + 1, 10**40, -(10**40)]),
    st.floats(),  # nan and inf included: the loader refuses NaN, the schema judges the rest
    st.sampled_from([0.0, -0.5, 1e308, -1e308, 1e-320]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
KEYS = st.one_of(st.sampled_from(NAMES), st.text(max_size=20), st.integers(-5, 5), st.booleans())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


# --- mutations of the spec's data ---------------------------------------------------------


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value below the root (dict keys and list indexes)."""
    found = []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return found
    for k, v in items:
        found.append((*prefix, k))
        found.extend(_paths(v, (*prefix, k)))
    return found


def _containers(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if isinstance(value, dict | list) else []
    if isinstance(value, dict):
        for k, v in value.items():
            found.extend(_containers(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(_containers(v, (*prefix, i)))
    return found


def _get(root: Any, path: tuple) -> Any:
    for part in path:
        root = root[part]
    return root


def _rename_key(mapping: dict, old: Any, new: Any) -> None:
    items = [((new if k == old else k), v) for k, v in mapping.items()]
    mapping.clear()
    mapping.update(items)


def _mutate(data: Any, draw) -> Any:
    paths = _paths(data)
    if not paths:
        return draw(VALUES)
    kind = draw(
        st.sampled_from(["delete", "duplicate", "retype", "rename-key", "rename-value", "move"])
    )
    path = draw(st.sampled_from(paths))
    parent, last = _get(data, path[:-1]), path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "duplicate":
        if isinstance(parent, dict):
            parent[draw(KEYS)] = copy.deepcopy(parent[last])
        else:
            parent.insert(last, copy.deepcopy(parent[last]))
    elif kind == "retype":
        parent[last] = draw(VALUES)
    elif kind == "rename-key":
        if isinstance(parent, dict):
            _rename_key(parent, last, draw(KEYS))
        else:
            parent[last] = draw(VALUES)
    elif kind == "rename-value":
        # Swap a value (often a reference) for another name the spec uses, or for new text.
        parent[last] = draw(st.one_of(st.sampled_from(NAMES), TEXT))
    else:  # move a subtree somewhere else
        moved = parent.pop(last)
        targets = _containers(data)
        target = _get(data, draw(st.sampled_from(targets)))
        if isinstance(target, dict):
            target[last if not isinstance(parent, list) else draw(KEYS)] = moved
        else:
            target.insert(draw(st.integers(0, len(target))), moved)
    return data


def _dumped_with(path: tuple, value: Any) -> str:
    """The reference spec with one value replaced, as `yaml.safe_dump` writes it."""
    data = copy.deepcopy(REFERENCE)
    _get(data, path[:-1])[path[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


@st.composite
def mutated_specs(draw) -> str:
    data = copy.deepcopy(REFERENCE)
    for _ in range(draw(st.integers(1, 3))):
        data = _mutate(data, draw)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))


# --- edits of the text --------------------------------------------------------------------

TOKENS = [
    "\t",
    ":",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "-",
    "- ",
    "&a ",
    "*a",
    "&a [*a, *a]",
    "<<: *a\n",
    "!!python/object/apply:os.system ['true'] ",
    "!!python/object:builtins.dict ",
    "!!binary ",
    "!!set ",
    "!!bool ",
    "!!int ",
    "!!float ",
    "!!timestamp ",
    "!!map ",
    "!!seq ",
    "!!str ",
    "!custom ",
    "\x00",
    "\n",
    "\n---\n",
    "%YAML 1.1\n",
    "  ",
    '"',
    "'",
    "|",
    ">",
    "? ",
    "#",
    "@",
    "`",
    "\ufeff",
    "\r",
    "é",
    ".nan",
    "2027-02-30",
    "99999999999999999999999999",
]


@st.composite
def edited_texts(draw) -> str:
    text = REFERENCE_TEXT
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "insert", "delete", "swap-lines", "indent"]))
        if kind == "insert":
            token = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=5)))
            text = text[:where] + token + text[where:]
        elif kind == "delete":
            text = text[:where] + text[where + draw(st.integers(1, 40)) :]
        elif kind == "swap-lines":
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = draw(st.sampled_from([" ", "   ", "\t", ""])) + lines[i].lstrip()
            text = "\n".join(lines)
    return text


@st.composite
def edited_bytes(draw) -> bytes:
    data = REFERENCE_TEXT.encode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(data)))
        junk = draw(
            st.one_of(
                st.binary(min_size=1, max_size=4),
                st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00"]),
            )
        )
        data = data[:where] + junk + data[where:]
    return data


# --- the property -------------------------------------------------------------------------


# Line breaks as libyaml counts them (YAML 1.1): besides \n and \r\n, a lone \r, NEL and the
# Unicode line and paragraph separators start a new line too (so does `str.splitlines`).
LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def _line_count(text: str) -> int:
    # A range may sit at the very end of the file, one line past its last line break.
    return len(LINE_BREAK.findall(text)) + 1


def _check_diagnostic(d: Diagnostic, text: str) -> None:
    assert isinstance(d.code, str) and CODE.match(d.code), d
    assert d.summary, d
    if d.range is not None:
        assert 1 <= d.range.start.line <= _line_count(text), (d, _line_count(text))
        assert d.range.start.column >= 1, d


def _check_outcome(result: Validation, text: str) -> None:
    errors = [d for d in result.diagnostics if d.is_error]
    if result.ok:
        assert errors == []
    else:
        assert errors, "invalid without an error diagnostic"
    for d in result.diagnostics:
        _check_diagnostic(d, text)


@SETTINGS
@given(mutated_specs())
@example(REFERENCE_TEXT)
@example(yaml.safe_dump(REFERENCE, sort_keys=False))
# Regression: a file name longer than the file system allows made Path.exists() raise OSError.
@example(_dumped_with(("feature_stores", "customers", "source"), "x" * 5000))
def test_mutated_spec_data_validates_to_ok_or_located_errors(text: str) -> None:
    _check_outcome(validate_text(text, "mlinfra.yaml", spec_dir=CHURN), text)


@SETTINGS
@given(edited_texts())
# Regressions: a syntax error at the end of a text without a final newline was put on a line
# past the last; explicitly tagged scalars made PyYAML raise KeyError, IndexError and
# AttributeError out of the loader.
@example(REFERENCE_TEXT + "[")
@example(REFERENCE_TEXT.replace("min: 1", "min: !!bool x"))
@example(REFERENCE_TEXT.replace("min: 1", 'min: !!int ""'))
@example(REFERENCE_TEXT.replace("min: 1", "min: !!timestamp x"))
def test_edited_spec_text_validates_to_ok_or_located_errors(text: str) -> None:
    _check_outcome(validate_text(text, "mlinfra.yaml", spec_dir=CHURN), text)


@settings(SETTINGS, max_examples=120)
@given(edited_bytes())
@example(b"\xef\xbb\xbf" + REFERENCE_TEXT.encode())
@example(b"\xff" + REFERENCE_TEXT.encode())
def test_edited_spec_bytes_parse_to_a_document_or_an_error(data: bytes) -> None:
    document, found = parse_bytes(data, "mlinfra.yaml")
    if document is None:
        assert any(d.is_error for d in found)
        for d in found:
            _check_diagnostic(d, "")
        return
    _check_outcome(validate_text(document.text, "mlinfra.yaml", spec_dir=CHURN), document.text)
