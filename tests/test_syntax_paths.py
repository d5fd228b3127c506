"""The fast path of the parser (`parse_plain`) gives what the careful path gives.

`parse_text` tries `parse_plain` and falls back to `parse_carefully` on anything that is not a
plain spec. These tests hold the two to the same tree (every node's type, range, value and
value type) and the same diagnostics, on real specs and on generated YAML full of what the
fast path must hand over: anchors, aliases, merge keys, tags, duplicates, odd scalars.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlinfra.syntax.loader import NotPlain, parse_carefully, parse_plain, parse_text
from mlinfra.syntax.nodes import Mapping, Node, Scalar, Sequence

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(
    [ROOT / "examples" / "churn" / "mlinfra.yaml", *ROOT.glob("examples/*/mlinfra.yaml")]
    + list((ROOT / "tests" / "fixtures").rglob("*.yaml"))
)


def shape(node: Node | None):
    """Everything a node holds, as nested tuples that compare by value."""
    if node is None:
        return None
    if isinstance(node, Scalar):
        return ("scalar", node.range, type(node.value), node.value, node.text)
    if isinstance(node, Sequence):
        return ("seq", node.range, tuple(shape(item) for item in node.items))
    assert isinstance(node, Mapping)
    return ("map", node.range, tuple((shape(e.key), shape(e.value)) for e in node.entries))


def both(text: str):
    fast = parse_text(text, "spec.yaml")
    careful = parse_carefully(text, "spec.yaml")
    return (shape(fast[0].root), fast[1]), (shape(careful[0]), careful[1])


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_real_specs_take_the_fast_path_to_the_careful_tree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        fast = parse_plain(text, "spec.yaml")
    except NotPlain:
        pytest.skip("not a plain spec: only the careful path reads it")
    root, diagnostics = parse_carefully(text, "spec.yaml")
    assert diagnostics == []
    assert shape(fast) == shape(root)


def test_the_reference_spec_is_plain() -> None:
    text = (ROOT / "examples" / "churn" / "mlinfra.yaml").read_text(encoding="utf-8")
    assert isinstance(parse_plain(text, "spec.yaml"), Mapping)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n",
        "a: 1\na: 2\n",
        "a: !!str 1\n",
        "a: !!binary aGk=\n",
        "? [1, 2]\n: x\n",
        "a: .inf\n",
        "a: .nan\n",
        "a: 1" + "0" * 400 + "\n",
        'a: "\\ud800"\n',
        "a: =\n",
        "a: 1\n---\nb: 2\n",
        "a:\n\t- 1\n",
        "a: [1, 2\n",
        "a: 2027-02-30\n",
        "a: 2027-02-03\n",
        "a: 0x1F\nb: 0o17\nc: 1_000\nd: yes\ne: ~\nf: 1e3\ng: -.5\n",
        "[" * 70 + "]" * 70 + "\n",
        "- " * 70 + "x\n",
        "a: x\x00\n",
        "",
        "# only a comment\n",
        "just text\n",
        "<<: {a: 1}\n",
        "'<<': 1\n",
        "a: [" + "1, " * 260_000 + "1]\n",  # past the node limit, without an alias
    ],
)
def test_what_is_not_plain_gets_the_careful_answer(text: str) -> None:
    fast, careful = both(text)
    assert fast == careful


_KEYS = st.sampled_from(["a", "b", "name", "on", "1", "<<", "'<<'", '"a"', "x y"])
_SCALARS = st.sampled_from(
    [
        "1",
        "-2",
        "0x1F",
        "1_000",
        "1.5",
        "1e3",
        ".inf",
        "-.inf",
        ".nan",
        "yes",
        "No",
        "true",
        "~",
        "null",
        "",
        "2027-02-30",
        "2026-12-07",
        "2026-12-07T10:00:00Z",
        "'quoted'",
        '"dq"',
        '"\\ud800"',
        "text",
        "ml.m5.large",
        "s3://b/k",
        "*x",
        "&x 1",
        "!!str 5",
        "!!int x",
        "!!float 1",
        "!!binary aGk=",
        "!custom v",
        "=",
        "1" + "0" * 320,
        "|\n  block",
        "[1, 2]",
        "{a: 1}",
        "[]",
        "{}",
    ]
)


@st.composite
def documents(draw, depth: int = 0) -> str:
    """A block mapping of a few entries, whose values are scalars or nested documents."""
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        key = draw(_KEYS)
        if depth < 3 and draw(st.booleans()):
            child = draw(documents(depth + 1))
            anchor = draw(st.sampled_from(["", "", " &x", " !!map"]))
            lines.append(f"{key}:{anchor}")
            lines += ["  " + line for line in child.splitlines()]
        elif draw(st.integers(0, 4)) == 0:
            items = draw(st.lists(_SCALARS, min_size=0, max_size=3))
            lines.append(f"{key}:")
            lines += [f"  - {item}" for item in items] or ["  []"]
        else:
            value = draw(_SCALARS)
            lines.append(f"{key}: {value}".replace("\n", "\n  "))
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(documents())
def test_generated_yaml_gets_the_same_tree_and_diagnostics_on_both_paths(text: str) -> None:
    fast, careful = both(text)
    assert fast == careful
