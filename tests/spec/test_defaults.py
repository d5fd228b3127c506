"""Defaults come from the JSON Schema alone, filled by the validator as jsonschema's FAQ shows:
its `properties` keyword, extended to set what is missing before it validates."""

from __future__ import annotations

import copy
import json

import pytest

from mlinfra.spec import schema
from mlinfra.spec.defaults import DefaultFillingValidator
from mlinfra.spec.schema import load_schema
from mlinfra.syntax.loader import parse_text

SMALL = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "count": {"type": "integer", "default": 1},
        "modes": {"type": "array", "default": ["a", "b"]},
        "inner": {
            "type": "object",
            "default": {},
            "properties": {"enabled": {"type": "boolean", "default": True}},
        },
    },
}


def filled(value, schema_: dict = SMALL):
    errors = list(DefaultFillingValidator(schema_).iter_errors(value))
    return value, errors


def test_a_missing_property_gets_its_default_and_a_written_one_is_kept():
    value, errors = filled({"name": "x", "count": 7})
    assert errors == []
    assert value == {"name": "x", "count": 7, "modes": ["a", "b"], "inner": {"enabled": True}}


def test_an_object_default_is_filled_in_too():
    # The FAQ's hint: an object's own `default: {}` lets its fields' defaults apply.
    assert filled({})[0]["inner"] == {"enabled": True}
    assert filled({"inner": {"enabled": False}})[0]["inner"] == {"enabled": False}


def test_defaults_are_copies_and_the_schema_is_left_alone():
    before = copy.deepcopy(SMALL)
    first, second = filled({})[0], filled({})[0]
    first["modes"].append("c")
    first["inner"]["enabled"] = False
    assert second["modes"] == ["a", "b"] and second["inner"] == {"enabled": True}
    assert SMALL == before


def test_a_value_of_the_wrong_type_is_reported_not_filled():
    value, errors = filled({"inner": 5})
    assert value == {"inner": 5, "count": 1, "modes": ["a", "b"]}
    assert [e.validator for e in errors] == ["type"]


def spec_values(text: str) -> dict:
    document, problems = parse_text(text, "mlinfra.yaml")
    assert problems == []
    values, problems = schema.validate(document.root, "mlinfra.yaml")
    assert problems == [], [p.summary for p in problems]
    return values


PIPELINE = """\
version: 1
project: p
environments: {dev: {target: local}}
pipelines:
  train:
    steps:
      prepare: {type: processing, script: prepare.py}
      fit: {type: training, entry_point: train.py, after: [prepare], instance_count: 2}
      gate: {type: condition, after: [fit], when: "fit.metrics.auc > 0.5"}
"""


def test_defaults_in_a_conditional_apply_only_where_its_condition_holds():
    steps = spec_values(PIPELINE)["pipelines"]["train"]["steps"]
    assert steps["prepare"] == {
        "type": "processing",
        "script": "prepare.py",
        "instance_type": "ml.m5.large",
        "instance_count": 1,
    }
    assert steps["fit"]["max_runtime"] == "24h"
    assert steps["fit"]["instance_count"] == 2  # written, so kept
    assert "max_runtime" not in steps["prepare"]
    assert steps["gate"] == {"type": "condition", "after": ["fit"], "when": "fit.metrics.auc > 0.5"}


def test_defaults_behind_a_ref_and_in_the_top_level_are_filled():
    values = spec_values(PIPELINE)
    assert values["state"] == ".mlinfra/state"
    assert values["defaults"] == {"region": "us-east-1"}
    assert values["policies"] == {"packs": ["baseline"]}
    assert values["environments"]["dev"]["protect"] is False


def test_validation_fills_nothing_into_the_schema_it_reads():
    before = json.dumps(load_schema(), sort_keys=True)
    spec_values(PIPELINE)
    assert json.dumps(load_schema(), sort_keys=True) == before


def test_fill_gives_one_definition_its_defaults():
    assert schema.fill("security", {"kms_key": "create"}) == {
        "kms_key": "create",
        "network_isolation": False,
        "encrypt_inter_container_traffic": False,
    }


def test_fill_refuses_a_value_the_definition_does_not_allow():
    with pytest.raises(Exception, match="is not one of|does not match|is not valid"):
        schema.fill("security", {"kms_key": "sometimes"})


# --- the schema keeps to what the recipe fills exactly ---------------------------------------

# Keywords whose subschemas jsonschema evaluates whether or not they hold: a default there
# would be filled in even where its branch does not apply.
EVALUATED_ANYWAY = ("if", "anyOf", "oneOf", "not")
# Objects whose absence means "off", not "with their defaults": they have no `default: {}`.
ABSENT_MEANS_OFF = {"autoscaling", "data_capture", "throughput", "security", "previews"}


def _walk(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


def test_no_default_sits_where_its_branch_is_evaluated_anyway():
    misplaced = [
        "/".join(map(str, path))
        for path, node in _walk(load_schema())
        if "default" in node and any(k in path for k in EVALUATED_ANYWAY)
    ]
    assert misplaced == []


def test_every_default_is_a_property_default():
    # The recipe sets defaults from `properties` only.
    stray = [
        "/".join(map(str, path))
        for path, node in _walk(load_schema())
        if "default" in node and (len(path) < 2 or path[-2] != "properties")
    ]
    assert stray == []


def test_an_object_whose_fields_have_defaults_has_a_default_of_its_own():
    missing = [
        "/".join(map(str, path))
        for path, node in _walk(load_schema())
        if len(path) >= 2
        and path[-2] == "properties"
        and any("default" in sub for sub in node.get("properties", {}).values())
        and "default" not in node
        and path[-1] not in ABSENT_MEANS_OFF
    ]
    assert missing == []
