"""No text in a spec can change the structure of the program rendered from it.

Arbitrary text goes into each free-text field of the churn spec (descriptions, tag values,
pipeline parameter values, environment variables of models and steps). When the spec is
still valid, its prod program must have exactly the structure of the program rendered with a
harmless placeholder in that field (the same statements, calls and names, with only string
constants differing), and the text, as the spec holds it, must sit in the program inside a
string constant.
"""

from __future__ import annotations

import ast
import copy

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from render_cases import CHURN, STACKS, churn_spec_from

from mlinfra.ir.lower import lower
from mlinfra.render.pulumi import render_program
from mlinfra.spec.validate import validate_text
from mlinfra.syntax.nodes import to_data

PLACEHOLDER = "placeholder"
BASE = yaml.safe_load(CHURN.read_text())

# Where text is put: a path into the spec, and whether the text must reach the program.
FIELDS = {
    "feature store description": (("feature_stores", "customers", "description"), True),
    "pipeline description": (("pipelines", "train-churn", "description"), False),
    "step description": (("pipelines", "train-churn", "steps", "prepare", "description"), False),
    "endpoint description": (("endpoints", "churn-api", "description"), False),
    "monitor description": (("monitors", "churn-drift", "description"), False),
    "model description": (("models", "churn-model", "description"), True),
    "environment description": (("environments", "prod", "description"), False),
    "tag value": (("defaults", "tags", "note"), True),
    "prod tag value": (("environments", "prod", "tags", "owner"), True),
    "pipeline parameter": (("pipelines", "train-churn", "parameters", "label"), True),
    "model environment variable": (("models", "churn-model", "environment", "NOTE"), True),
    "step environment variable": (
        ("pipelines", "train-churn", "steps", "prepare", "environment", "NOTE"),
        True,
    ),
}


def spec_with(field: str, text: str) -> str:
    data = copy.deepcopy(BASE)
    path, _ = FIELDS[field]
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = text
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def program_of(spec_text: str) -> tuple[str, object] | None:
    """The prod program of a spec and its data as read, or None when it is not valid."""
    result = validate_text(spec_text, "mlinfra.yaml", CHURN.parent)
    if not result.ok:
        return None
    graph = lower(result.environments["prod"], CHURN.parent)
    return render_program(graph, churn_spec_from(STACKS / "prod")), to_data(result.document.root)


def value_at(data, field: str):
    path, _ = FIELDS[field]
    for key in path:
        data = data[key]
    return data


def structure(program: str) -> str:
    """The program's AST with every string constant blanked: what the code *does*."""
    tree = ast.parse(program)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


def strings_in(program: str) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(program))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


_placeholders: dict[str, str] = {}


def placeholder_program(field: str) -> str:
    if field not in _placeholders:
        found = program_of(spec_with(field, PLACEHOLDER))
        assert found is not None, f"the churn spec with a placeholder {field} is invalid"
        _placeholders[field] = found[0]
    return _placeholders[field]


def test_every_field_is_valid_with_the_placeholder() -> None:
    for field, (_, reaches) in FIELDS.items():
        program = placeholder_program(field)
        if reaches:
            assert any(PLACEHOLDER in s for s in strings_in(program)), field


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(field=st.sampled_from(sorted(FIELDS)), text=st.text(min_size=1))
@example(field="tag value", text='"""); import os; os.system("id"); ("""')
@example(field="model environment variable", text="'''\n\\\x00{{ x }}{% if %}# ")
@example(field="pipeline parameter", text="\r\n\u2028")
@example(field="feature store description", text="}}]); __import__('os')  #")
def test_no_text_changes_the_program_structure(field: str, text: str) -> None:
    found = program_of(spec_with(field, text))
    if found is None:
        return  # the validator refused the text: nothing is rendered
    program, data = found
    assert structure(program) == structure(placeholder_program(field))
    _, reaches = FIELDS[field]
    if reaches:
        # The text as the spec holds it: YAML itself folds some line breaks (`\x85`).
        read = value_at(data, field)
        assert any(read in s for s in strings_in(program)), (field, text, read)
