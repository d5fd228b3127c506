"""The YAML layer: safe, bounded loading into a ranged node tree, and `locate()` on that tree."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlinfra.syntax.loader import MAX_DEPTH, MAX_FILE_BYTES, parse_bytes, parse_text
from mlinfra.syntax.nodes import Entry, Mapping, Node, Scalar, Sequence, locate, to_data

REFERENCE = Path(__file__).resolve().parents[1] / "examples" / "churn" / "mlinfra.yaml"


def parse(text: str) -> Node | None:
    """Parse text that must load cleanly; return its root."""
    document, found = parse_text(text, "spec.yaml")
    assert found == [], [str(d.range) + " " + d.summary for d in found]
    return document.root


def refused(text: str) -> list[tuple[str, int, int]]:
    """Parse text that must be refused: no root, and (code, line, column) per diagnostic."""
    document, found = parse_text(text, "spec.yaml")
    assert document.root is None
    assert found, "refused without a diagnostic"
    assert all(d.is_error for d in found)
    return [(d.code, d.range.start.line, d.range.start.column) for d in found]


def codes(text: str) -> list[str]:
    return [code for code, _, _ in refused(text)]


def at(text: str, line: int, column: int) -> str:
    """The text from a 1-based line and column to the end of that line."""
    return text.splitlines()[line - 1][column - 1 :]


def entries(node: Node):
    """Every mapping entry in the tree, depth first."""
    if isinstance(node, Mapping):
        for entry in node:
            yield entry
            yield from entries(entry.value)
    elif isinstance(node, Sequence):
        for item in node.items:
            yield from entries(item)


def _dates_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@pytest.fixture(scope="module")
def reference() -> tuple[str, Mapping]:
    text = REFERENCE.read_text(encoding="utf-8")
    root = parse(text)
    assert isinstance(root, Mapping)
    return text, root


# --- positions -----------------------------------------------------------------------------


def test_every_key_keeps_its_line_and_column(reference):
    text, root = reference
    found = list(entries(root))
    assert len(found) >= 100
    for entry in found:
        start = entry.key.range.start
        assert at(text, start.line, start.column).startswith(entry.name), entry.name
        assert text[start.offset :].startswith(entry.name)


def test_every_scalar_value_keeps_its_line_and_column(reference):
    text, root = reference
    for entry in entries(root):
        if not isinstance(entry.value, Scalar):
            continue
        value = entry.value
        written = text[value.range.start.offset : value.range.end.offset]
        assert written.strip("\"'") == value.text, entry.name
        assert at(text, value.range.start.line, value.range.start.column).startswith(written)


def test_named_values_point_at_their_lines(reference):
    text, root = reference
    lines = text.splitlines()
    count = locate(root, ("environments", "prod", "overrides", "endpoints", "churn-api"))
    count = count.node.get("instance_count")
    assert lines[count.range.start.line - 1].strip() == "instance_count: 2"
    assert count.range.start.column == lines[count.range.start.line - 1].index("2") + 1

    account = locate(root, ("environments", "dev", "account")).node
    assert account.value == "111111111111"  # quoted in the file: stays text
    assert at(text, account.range.start.line, account.range.start.column) == '"111111111111"'


def test_flow_sequence_items_keep_their_columns(reference):
    text, root = reference
    subnets = locate(root, ("environments", "prod", "security", "vpc", "subnets")).node
    assert isinstance(subnets, Sequence)
    line = text.splitlines()[subnets.range.start.line - 1]
    for item in subnets.items:
        assert item.range.start.line == subnets.range.start.line
        assert line[item.range.start.column - 1 :].startswith(item.value)
    assert [i.value for i in subnets.items] == [
        "subnet-0a1b2c3d4e5f60718",
        "subnet-1b2c3d4e5f6071829",
    ]


def test_to_data_equals_a_safe_load_with_dates_as_text(reference):
    text, root = reference
    assert to_data(root) == _dates_as_text(yaml.safe_load(text))


# --- duplicates, tabs ----------------------------------------------------------------------


def test_duplicate_key_is_rejected_at_the_second_naming_the_line_of_the_first():
    text = "a:\n  b: 1\n  c: 2\n  b: 3\n"
    document, found = parse_text(text, "spec.yaml")
    assert document.root is None
    [diagnostic] = found
    assert diagnostic.code == "duplicate-key"
    assert (diagnostic.range.start.line, diagnostic.range.start.column) == (4, 3)
    assert "line 2" in diagnostic.summary


def test_duplicate_key_that_differs_only_in_quoting_is_still_a_duplicate():
    assert codes('name: a\n"name": b\n') == ["duplicate-key"]


def test_tab_indentation_is_reported_at_the_tab_line():
    assert refused("a:\n  b: 1\n \tc: 2\n") == [("yaml-tab", 3, 2)]


def test_tabs_inside_values_and_after_a_colon_are_text():
    root = parse('a:\t1\nb: x\ty\nc: "p\tq"\n')
    assert to_data(root) == {"a": 1, "b": "x\ty", "c": "p\tq"}


# --- aliases -------------------------------------------------------------------------------


def test_billion_laughs_is_refused_with_alias_limit():
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        aliases = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    assert codes("\n".join(lines) + "\n") == ["alias-limit"]


def test_a_few_aliases_are_expanded():
    root = parse("base: &b [x, y]\ncopy: *b\n")
    assert to_data(root) == {"base": ["x", "y"], "copy": ["x", "y"]}


def test_recursive_alias_is_refused():
    assert refused("a: &a\n  b: *a\n") == [("alias-recursive", 1, 4)]


def test_recursive_alias_in_a_sequence_is_refused():
    assert codes("a: &a [1, *a]\n") == ["alias-recursive"]


# --- merge keys ----------------------------------------------------------------------------


def test_merge_key_supplies_missing_keys_and_explicit_keys_win():
    text = "base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 9\n"
    thing = locate(parse(text), ("thing",)).node
    assert to_data(thing) == {"y": 9, "x": 1}
    # The merged key keeps the range of the anchor it came from; the explicit one its own.
    assert thing.entry("x").key.range.start.line == 1
    assert thing.entry("y").key.range.start.line == 4


def test_merge_key_with_a_list_lets_the_first_mapping_win():
    text = "m: &m {a: 1}\nn: &n {a: 2, b: 3}\nthing:\n  <<: [*m, *n]\n"
    assert to_data(parse(text))["thing"] == {"a": 1, "b": 3}


def test_merge_key_of_a_non_mapping_is_refused():
    assert codes("s: &s [1]\nthing:\n  <<: *s\n") == ["yaml-syntax"]


# --- tags ----------------------------------------------------------------------------------


def test_python_object_tags_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    text = (
        f"a: !!python/object/apply:os.system ['touch {marker}']\n"
        f"b: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n"
    )
    assert codes(text) == ["unsupported-tag"]
    assert not marker.exists()


def test_binary_tag_is_refused():
    assert refused("a: !!binary aGVsbG8=\n") == [("unsupported-tag", 1, 4)]


@pytest.mark.parametrize("tag", ["!!set {x}", "!!omap [a: 1]", "!custom x", "!!python/dict {}"])
def test_other_unknown_tags_are_refused(tag):
    assert codes(f"a: {tag}\n") == ["unsupported-tag"]


@pytest.mark.parametrize("value", ["!!map x", "!!seq x"])
def test_collection_tag_on_a_scalar_is_refused(value):
    # Regression: PyYAML's constructors for these are generators; the value was one.
    assert codes(f"a: {value}\n") == ["unsupported-tag"]


@pytest.mark.parametrize("value", ["!!bool x", '!!bool ""', '!!int ""', '!!float ""'])
def test_invalid_explicitly_tagged_scalar_is_a_syntax_error(value):
    # Regression: these raised KeyError / IndexError from PyYAML's constructors.
    assert codes(f"a: {value}\n") == ["yaml-syntax"]


def test_nan_is_refused():
    assert codes("a: .nan\n") == ["wrong-type"]


# --- scalars kept as the user wrote them ---------------------------------------------------


def test_dates_and_timestamps_stay_text():
    root = parse("d: 2027-06-30\nt: 2001-12-14t21:59:43.10-05:00\n")
    assert to_data(root) == {"d": "2027-06-30", "t": "2001-12-14t21:59:43.10-05:00"}


@pytest.mark.parametrize("text", ["d: 2027-02-30\n", "d: !!timestamp 2027-02-30\n"])
def test_an_impossible_date_stays_text(text):
    assert to_data(parse(text)) == {"d": "2027-02-30"}


def test_yaml_1_1_boolean_and_number_keys_stay_text():
    root = parse("on: 1\nyes: 2\nno: 3\n1: 4\nnull: 5\n")
    assert root.keys() == ["on", "yes", "no", "1", "null"]


def test_complex_keys_are_refused():
    assert codes("? [a, b]\n: 1\n") == ["complex-key"]


# --- documents -----------------------------------------------------------------------------


def test_more_than_one_document_is_refused_at_the_second():
    assert refused("a: 1\n---\nb: 2\n") == [("multiple-documents", 3, 1)]


def test_a_leading_document_marker_is_still_one_document():
    assert to_data(parse("---\na: 1\n...\n")) == {"a": 1}


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_file_gives_an_empty_document(text):
    document, found = parse_text(text, "spec.yaml")
    assert found == []
    assert document.root is None
    assert document.text == text


def test_a_syntax_error_keeps_the_text_for_excerpts():
    document, found = parse_text("a: [1\n", "spec.yaml")
    assert document.root is None and document.text == "a: [1\n"
    assert [d.code for d in found] == ["yaml-syntax"]


def test_a_syntax_error_at_the_end_of_a_file_without_newline_is_on_its_last_line():
    # Regression: libyaml puts the end of the stream one line past a text without a final
    # newline; the diagnostic pointed at line 3 of a two-line file.
    assert refused("a: 1\n[") == [("yaml-syntax", 2, 2)]


# --- bounds --------------------------------------------------------------------------------


def test_deep_flow_nesting_is_refused_as_too_deep():
    [(code, line, _)] = refused("a: " + "[" * 200 + "]" * 200 + "\n")
    assert (code, line) == ("too-deep", 1)


def test_deep_block_nesting_is_refused_as_too_deep():
    text = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 10)) + "  " * 80 + "x: 1\n"
    assert codes(text) == ["too-deep"]


def test_nesting_just_within_the_limit_is_accepted():
    depth = MAX_DEPTH - 1
    value = to_data(parse("[" * depth + "x" + "]" * depth))
    for _ in range(depth):
        [value] = value
    assert value == "x"


def test_brackets_inside_strings_and_comments_are_not_nesting():
    # Regression: a count of `[` in the raw text refused these as too deep.
    text = f'a: "{"[" * 200}"\n# {"{" * 200}\nb: 1\n'
    assert to_data(parse(text)) == {"a": "[" * 200, "b": 1}


@pytest.mark.parametrize("unit", ["- ", "[", "{a: ", "? "])
def test_very_deep_nesting_is_refused_without_crashing_the_process(unit):
    # Regression: `- - - ... x` 100,000 levels deep overflowed libyaml's recursive composer
    # and killed the interpreter (SIGSEGV), so this runs in a child process.
    code = (
        "from mlinfra.syntax.loader import parse_text\n"
        f"_, found = parse_text({unit!r} * 200_000 + 'x\\n', 'spec.yaml')\n"
        "print(','.join(d.code for d in found))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "too-deep"


def test_a_file_over_the_size_limit_is_refused_by_parse_bytes():
    data = b"a: 1\n" * (MAX_FILE_BYTES // 5 + 1)
    assert len(data) > MAX_FILE_BYTES
    document, found = parse_bytes(data, "spec.yaml")
    assert document is None
    assert [d.code for d in found] == ["file-too-large"]


def test_a_file_at_the_size_limit_is_read():
    data = b"a: 1\n" + b"#" * (MAX_FILE_BYTES - 6) + b"\n"
    assert len(data) == MAX_FILE_BYTES
    document, found = parse_bytes(data, "spec.yaml")
    assert found == [] and to_data(document.root) == {"a": 1}


# --- bytes and encodings -------------------------------------------------------------------


def test_non_utf8_bytes_are_refused_naming_the_byte():
    document, found = parse_bytes(b"a: caf\xe9\n", "spec.yaml")
    assert document is None
    [diagnostic] = found
    assert diagnostic.code == "not-utf8"
    assert "byte 6" in diagnostic.summary and "0xe9" in diagnostic.summary


def test_a_utf8_bom_is_accepted_and_positions_start_after_it():
    document, found = parse_bytes("\ufeffname: café\n".encode(), "spec.yaml")
    assert found == []
    [entry] = document.root.entries
    assert (entry.name, entry.value.value) == ("name", "café")
    assert (entry.key.range.start.line, entry.key.range.start.column) == (1, 1)


def test_nul_bytes_are_refused_where_they_are():
    document, found = parse_bytes(b"a: 1\nb: x\x00y\n", "spec.yaml")
    assert document is not None and document.root is None
    assert [(d.code, d.range.start.line, d.range.start.column) for d in found] == [
        ("not-text", 2, 5)
    ]


# --- locate() ------------------------------------------------------------------------------

LOCATE_TEXT = """\
endpoints:
  api:
    model: m
    autoscaling:
      min: 1
waivers:
  - rule: r1
    environments: [dev, prod]
  - rule: r2
"""


@pytest.fixture(scope="module")
def tree() -> Mapping:
    root = parse(LOCATE_TEXT)
    assert isinstance(root, Mapping)
    return root


def test_locate_finds_a_value_and_its_key(tree):
    found = locate(tree, ("endpoints", "api", "autoscaling", "min"))
    assert found.complete
    assert found.node.value == 1
    assert (found.key_range.start.line, found.key_range.start.column) == (5, 7)
    assert (found.value_range.start.line, found.value_range.start.column) == (5, 12)


def test_locate_of_a_missing_key_is_incomplete_at_the_nearest_key(tree):
    found = locate(tree, ("endpoints", "api", "autoscaling", "max"))
    assert not found.complete
    assert found.key.value == "autoscaling"
    assert found.key_range.start.line == 4
    assert isinstance(found.node, Mapping) and found.node.keys() == ["min"]


def test_locate_of_a_missing_component_points_at_its_section(tree):
    found = locate(tree, ("endpoints", "nope", "model"))
    assert not found.complete
    assert found.key.value == "endpoints"
    assert found.key_range.start.line == 1


def test_locate_of_a_missing_top_level_key_points_at_the_document(tree):
    found = locate(tree, ("monitors",))
    assert not found.complete and found.key is None
    assert found.key_range == tree.range


def test_locate_of_a_list_item_has_no_key_and_points_at_the_item(tree):
    found = locate(tree, ("waivers", 1))
    assert found.complete and found.key is None
    assert found.key_range == found.value_range
    assert found.key_range.start.line == 9
    assert to_data(found.node) == {"rule": "r2"}


def test_locate_inside_a_list_item_finds_keys_and_flow_items(tree):
    rule = locate(tree, ("waivers", 0, "rule"))
    assert rule.complete and rule.key.value == "rule" and rule.node.value == "r1"
    env = locate(tree, ("waivers", 0, "environments", 1))
    assert env.complete and env.node.value == "prod"
    assert (env.value_range.start.line, env.value_range.start.column) == (8, 25)


@pytest.mark.parametrize("index", [2, -1])
def test_locate_of_an_index_out_of_range_is_incomplete_at_the_list(tree, index):
    found = locate(tree, ("waivers", index))
    assert not found.complete
    assert isinstance(found.node, Sequence)
    assert found.key.value == "waivers"


def test_locate_through_a_scalar_is_incomplete_at_the_scalar(tree):
    found = locate(tree, ("endpoints", "api", "model", "deeper"))
    assert not found.complete
    assert found.node.value == "m" and found.key.value == "model"


def test_locate_with_a_string_on_a_list_or_an_int_on_a_map_is_incomplete(tree):
    assert not locate(tree, ("waivers", "0")).complete
    assert not locate(tree, ("endpoints", 0)).complete


def test_locate_of_the_empty_path_is_the_root(tree):
    found = locate(tree, ())
    assert found.complete and found.node is tree and found.key is None


def test_entry_name_is_its_key_text(tree):
    entry = tree.entry("endpoints")
    assert isinstance(entry, Entry) and entry.name == "endpoints"
    assert tree.get("missing") is None and tree.entry("missing") is None
