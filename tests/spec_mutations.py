"""Mutations of the reference spec for property tests (a helper module, not tests): its data
changed structurally (delete, duplicate, retype, rename keys and values, move subtrees) and
serialised back with `yaml.safe_dump`, or its text edited raw."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from mlinfra.syntax.loader import parse_text
from mlinfra.syntax.nodes import to_data

CHURN = Path(__file__).resolve().parents[1] / "examples" / "churn"
REFERENCE_TEXT = (CHURN / "mlinfra.yaml").read_text(encoding="utf-8")


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


def mutate(data: Any, draw, names: list[str] = NAMES) -> Any:
    """`data` (a spec, a state...) with one structural change; `names` are what references
    are swapped for."""
    paths = _paths(data)
    if not paths:
        return draw(VALUES)
    keys = st.one_of(st.sampled_from(names), KEYS)
    kind = draw(
        st.sampled_from(["delete", "duplicate", "retype", "rename-key", "rename-value", "move"])
    )
    path = draw(st.sampled_from(paths))
    parent, last = _get(data, path[:-1]), path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "duplicate":
        if isinstance(parent, dict):
            parent[draw(keys)] = copy.deepcopy(parent[last])
        else:
            parent.insert(last, copy.deepcopy(parent[last]))
    elif kind == "retype":
        parent[last] = draw(VALUES)
    elif kind == "rename-key":
        if isinstance(parent, dict):
            _rename_key(parent, last, draw(keys))
        else:
            parent[last] = draw(VALUES)
    elif kind == "rename-value":
        # Swap a value (often a reference) for another name in use, or for new text.
        parent[last] = draw(st.one_of(st.sampled_from(names), TEXT))
    else:  # move a subtree somewhere else
        moved = parent.pop(last)
        targets = _containers(data)
        target = _get(data, draw(st.sampled_from(targets)))
        if isinstance(target, dict):
            target[last if not isinstance(parent, list) else draw(keys)] = moved
        else:
            target.insert(draw(st.integers(0, len(target))), moved)
    return data


# Values of the same type as those they replace, so that the spec often stays valid and its
# values reach the later stages (lowering, rendering, planning, auditing).
SAME_TYPE = {
    bool: st.booleans(),
    int: st.one_of(
        st.integers(-10, 10**6),
        st.sampled_from([0, -1, 2**31, 2**63, 2**64, 10**300, -(10**300), 10**308]),
    ),
    float: st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([0.0, -0.0, 5e-324, 1e-9, 0.999, 1e15, 1e308, -1e308]),
    ),
    str: st.one_of(
        st.sampled_from(NAMES),
        st.text(max_size=40),
        st.sampled_from(
            [
                "",
                " ",
                "../../..",
                "/etc/passwd",
                "s3://b/k",
                "a" * 300,
                "名前",
                "\u202e",
                "$(id)",
                "'\"",
                "{{x}}",
                "%s",
                "\\",
                "x\ny",
                "C:\\x",
                ".",
                "-",
                "0",
                "1e309",
            ]
        ),
        LONG_TEXT,
    ),
}


def retyped_leaf(data: Any, draw) -> Any:
    """`data` with one scalar replaced by another of the same type."""
    leaves = [p for p in _paths(data) if type(_get(data, p)) in SAME_TYPE]
    if leaves:
        path = draw(st.sampled_from(leaves))
        parent = _get(data, path[:-1])
        parent[path[-1]] = draw(SAME_TYPE[type(parent[path[-1]])])
    return data


def spec_data(text: str) -> Any:
    """A spec as plain data, read as mlinfra reads it (YAML dates stay ISO text)."""
    return _as_data(text)


@st.composite
def _changed_specs(draw, change, bases: tuple[Any, ...]) -> str:
    """One of `bases` (spec data) after one to three `change(data, draw)`, as
    `yaml.safe_dump` writes it."""
    data = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 3))):
        data = change(data, draw)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))


def tweaked_specs(bases: tuple[Any, ...] = (REFERENCE,)):
    """A spec (by default the reference) with a few of its values changed, each for one of
    the same type."""
    return _changed_specs(retyped_leaf, bases)


def mutated_specs(bases: tuple[Any, ...] = (REFERENCE,)):
    """A spec (by default the reference) with a few structural changes (`mutate`)."""
    return _changed_specs(mutate, bases)


def dumped_with(path: tuple, value: Any) -> str:
    """The reference spec with one value replaced, as `yaml.safe_dump` writes it."""
    data = copy.deepcopy(REFERENCE)
    _get(data, path[:-1])[path[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


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
