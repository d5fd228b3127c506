"""The spec's JSON Schema: valid itself, accepts the reference spec, locates errors, documents
every field, and renders to a complete, deterministic Markdown reference."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from mlinfra.spec.docs import load_schema, reference_markdown
from mlinfra.syntax.loader import parse_text
from mlinfra.syntax.nodes import to_data

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "src" / "mlinfra" / "schemas" / "mlinfra.schema.json"
ROOT_SCHEMA_FILE = REPO / "schemas" / "mlinfra.schema.json"
REFERENCE_SPEC = REPO / "examples" / "churn" / "mlinfra.yaml"

COMPONENT_SECTIONS = ["feature_stores", "models", "pipelines", "endpoints", "monitors"]
# Keywords whose values are schemas, or lists or maps of schemas. `if` is left out on purpose:
# its `properties` are conditions on a field, not declarations of one.
SCHEMA_KEYWORDS = ("additionalProperties", "items", "propertyNames", "then", "not")
SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf")
SCHEMA_MAP_KEYWORDS = ("properties", "$defs", "patternProperties")


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _as_data(text: str) -> Any:
    """The spec as plain data, read as mlinfra reads it (YAML dates stay ISO text)."""
    return to_data(parse_text(text, "mlinfra.yaml")[0].root)


@pytest.fixture(scope="module")
def reference() -> dict:
    return _as_data(REFERENCE_SPEC.read_text(encoding="utf-8"))


def _subschemas(schema: Any, pointer: str = "#") -> Iterator[tuple[str, dict]]:
    """Every schema in the document with its JSON pointer, `if` conditions excepted."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key in SCHEMA_KEYWORDS:
        yield from _subschemas(schema.get(key), f"{pointer}/{key}")
    for key in SCHEMA_LIST_KEYWORDS:
        for i, sub in enumerate(schema.get(key, [])):
            yield from _subschemas(sub, f"{pointer}/{key}/{i}")
    for key in SCHEMA_MAP_KEYWORDS:
        for name, sub in schema.get(key, {}).items():
            yield from _subschemas(sub, f"{pointer}/{key}/{name}")


def _declared_properties(schema: dict) -> Iterator[tuple[str, dict]]:
    for pointer, sub in _subschemas(schema):
        for name, prop in sub.get("properties", {}).items():
            yield f"{pointer}/properties/{name}", prop


def _resolve(schema: dict, sub: dict) -> dict:
    """`sub` with its chain of $refs merged in (the referring schema's keys win)."""
    while "$ref" in sub:
        target = schema["$defs"][sub["$ref"].removeprefix("#/$defs/")]
        sub = {**target, **{k: v for k, v in sub.items() if k != "$ref"}}
    return sub


# ------------------------------------------------------------------------------ the schema


def test_schema_is_a_valid_draft_2020_12_schema(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://mlinfra.dev/schemas/mlinfra.schema.json"
    assert schema["title"] and schema["description"]
    Draft202012Validator.check_schema(schema)


def test_every_ref_points_at_a_definition(schema):
    for pointer, sub in _subschemas(schema):
        if "$ref" in sub:
            ref = sub["$ref"]
            assert ref.startswith("#/$defs/"), pointer
            assert ref.removeprefix("#/$defs/") in schema["$defs"], f"{pointer}: {ref}"


def test_every_property_has_a_description(schema):
    missing = [
        pointer
        for pointer, prop in _declared_properties(schema)
        if not str(prop.get("description", "")).strip()
    ]
    assert missing == []


def test_every_free_string_or_number_property_has_examples(schema):
    missing = []
    for pointer, prop in _declared_properties(schema):
        resolved = _resolve(schema, prop)
        free = "enum" not in resolved and "const" not in resolved
        if resolved.get("type") in ("string", "number", "integer") and free:
            if not resolved.get("examples"):
                missing.append(pointer)
    assert missing == []


def test_examples_are_valid_values_of_their_field(schema):
    for pointer, sub in _subschemas(schema):
        if "examples" not in sub:
            continue
        check = Draft202012Validator(
            {"$defs": schema["$defs"], **{k: v for k, v in sub.items() if k != "$defs"}},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        for example in sub["examples"]:
            assert check.is_valid(example), f"{pointer}: example {example!r}"


def test_every_object_with_declared_fields_forbids_others(schema):
    open_objects = [
        pointer
        for pointer, sub in _subschemas(schema)
        if sub.get("type") == "object"
        and "properties" in sub
        and sub.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_step_fields_have_no_defaults_outside_their_type(schema):
    # Defaults of type-specific step fields sit in the if/then of their type, so filling in
    # defaults never gives a condition step an instance_type.
    step_fields = schema["$defs"]["stepPartial"]["properties"]
    assert [name for name, prop in step_fields.items() if "default" in prop] == []
    rules = {
        rule["if"]["properties"]["type"]["const"]: rule["then"]
        for rule in schema["$defs"]["stepRules"]["allOf"]
    }
    assert rules["training"]["properties"]["max_runtime"]["default"] == "24h"
    assert "max_runtime" not in rules["processing"].get("properties", {})


def test_root_schemas_path_is_the_packaged_schema():
    assert ROOT_SCHEMA_FILE.exists()
    assert os.path.samefile(ROOT_SCHEMA_FILE, SCHEMA_FILE)


def test_reference_spec_modeline_points_at_the_schema():
    first_line = REFERENCE_SPEC.read_text(encoding="utf-8").splitlines()[0]
    target = first_line.split("$schema=", 1)[1].strip()
    assert os.path.samefile(REFERENCE_SPEC.parent / target, SCHEMA_FILE)


def test_load_schema_reads_the_packaged_file_once(schema):
    assert load_schema() == schema
    assert load_schema() is load_schema()


# ------------------------------------------------------------------------------ validation


def test_reference_spec_validates(validator, reference):
    errors = [(list(e.absolute_path), e.message) for e in validator.iter_errors(reference)]
    assert errors == []


def _set(path: list, value: Any) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        node = doc
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
        node[path[-1]] = value

    return change


def _delete(path: list) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        node = doc
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


def _rename(path: list, new: str) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[new] = node.pop(path[-1])

    return change


def _both(*changes: Callable[[dict], None]) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        for each in changes:
            each(doc)

    return change


API = ["endpoints", "churn-api"]
STEPS = ["pipelines", "train-churn", "steps"]
PROD = ["environments", "prod"]

# (case, change to the reference spec, where the error is, which keyword reports it)
INVALID = [
    (
        "misspelt endpoint field",
        _rename([*API, "instance_type"], "instance_tpye"),
        API,
        "additionalProperties",
    ),
    (
        "condition step without when",
        _delete([*STEPS, "gate", "when"]),
        [*STEPS, "gate"],
        "required",
    ),
    (
        "training step without entry_point",
        _delete([*STEPS, "train", "entry_point"]),
        [*STEPS, "train"],
        "required",
    ),
    (
        "step of unknown type",
        _set([*STEPS, "gate", "type"], "approval"),
        [*STEPS, "gate", "type"],
        "enum",
    ),
    (
        "model with neither registry_group nor artifact",
        _delete(["models", "churn-model", "registry_group"]),
        ["models", "churn-model"],
        "anyOf",
    ),
    ("version 2", _set(["version"], 2), ["version"], "const"),
    ("uppercase component name", _rename([*API], "Churn-API"), ["endpoints"], "propertyNames"),
    ("uppercase environment name", _rename([*PROD], "Prod"), ["environments"], "propertyNames"),
    ("project name too long", _set(["project"], "c" * 33), ["project"], "maxLength"),
    ("unknown top-level key", _set(["endpoint"], {}), [], "additionalProperties"),
    ("account as a number", _set([*PROD, "account"], 222222222222), [*PROD, "account"], "type"),
    (
        "account of 11 digits",
        _set([*PROD, "account"], "22222222222"),
        [*PROD, "account"],
        "pattern",
    ),
    ("unknown target", _set([*PROD, "target"], "aws"), [*PROD, "target"], "enum"),
    ("region misspelt", _set([*PROD, "region"], "eu-west"), [*PROD, "region"], "pattern"),
    (
        "kms key neither create, none nor an ARN",
        _set([*PROD, "security", "kms_key"], "alias/prod"),
        [*PROD, "security", "kms_key"],
        "anyOf",
    ),
    (
        "vpc without security groups",
        _delete([*PROD, "security", "vpc", "security_groups"]),
        [*PROD, "security", "vpc"],
        "required",
    ),
    (
        "malformed subnet id",
        _set([*PROD, "security", "vpc", "subnets"], ["subnet-xyz"]),
        [*PROD, "security", "vpc", "subnets", 0],
        "pattern",
    ),
    (
        "misspelt field in an override",
        _set([*PROD, "overrides", "endpoints", "churn-api", "instance_tpye"], "ml.m5.large"),
        [*PROD, "overrides", "endpoints", "churn-api"],
        "additionalProperties",
    ),
    (
        "override of an unknown section",
        _set([*PROD, "overrides", "notebooks"], {}),
        [*PROD, "overrides"],
        "additionalProperties",
    ),
    ("preview ttl in words", _set(["previews", "ttl"], "3 days"), ["previews", "ttl"], "pattern"),
    ("preview without base", _delete(["previews", "base"]), ["previews"], "required"),
    (
        "feature store with a single feature",
        _set(["feature_stores", "customers", "features"], {"customer_id": "string"}),
        ["feature_stores", "customers", "features"],
        "minProperties",
    ),
    (
        "feature of unknown type",
        _set(["feature_stores", "customers", "features", "churned"], "boolean"),
        ["feature_stores", "customers", "features", "churned"],
        "enum",
    ),
    (
        "schedule in words",
        _set(["pipelines", "train-churn", "schedule"], "every night"),
        ["pipelines", "train-churn", "schedule"],
        "anyOf",
    ),
    (
        "step after itself twice",
        _set([*STEPS, "train", "after"], ["prepare", "prepare"]),
        [*STEPS, "train", "after"],
        "uniqueItems",
    ),
    ("endpoint without a model", _delete([*API, "model"]), API, "required"),
    (
        "autoscaling without max",
        _delete([*API, "autoscaling", "max"]),
        [*API, "autoscaling"],
        "required",
    ),
    (
        "fractional sampling percent",
        _set([*API, "data_capture", "sampling_percent"], 12.5),
        [*API, "data_capture", "sampling_percent"],
        "type",
    ),
    (
        "canary of all traffic",
        _set([*API, "deployment", "canary_percent"], 100),
        [*API, "deployment", "canary_percent"],
        "exclusiveMaximum",
    ),
    (
        "wait longer than SageMaker allows",
        _set([*API, "deployment", "wait_minutes"], 61),
        [*API, "deployment", "wait_minutes"],
        "maximum",
    ),
    (
        "alert to an unknown channel",
        _set(["monitors", "churn-drift", "on_violation", "alert"], ["slack:#ml"]),
        ["monitors", "churn-drift", "on_violation", "alert", 0],
        "pattern",
    ),
    (
        "monitor of unknown type",
        _set(["monitors", "churn-drift", "type"], "feature_quality"),
        ["monitors", "churn-drift", "type"],
        "enum",
    ),
    (
        "unknown policy pack",
        _set(["policies", "packs"], ["baseline", "hipaa"]),
        ["policies", "packs", 1],
        "enum",
    ),
    (
        "waiver without a reason",
        _delete(["policies", "waivers", 0, "reason"]),
        ["policies", "waivers", 0],
        "required",
    ),
    (
        "waiver expiring on no real date",
        _set(["policies", "waivers", 0, "expires"], "2027-02-30"),
        ["policies", "waivers", 0, "expires"],
        "format",
    ),
    (
        "waiver of a malformed address",
        _set(["policies", "waivers", 0, "resource"], "churn-api"),
        ["policies", "waivers", 0, "resource"],
        "pattern",
    ),
]


def _keyword(error: ValidationError) -> str:
    """The keyword that failed. A bad map key fails inside `propertyNames` (as a `pattern`
    error at the map's path, the key being `error.instance`): name the outer keyword."""
    return "propertyNames" if "propertyNames" in error.schema_path else error.validator


@pytest.mark.parametrize(
    ("change", "path", "keyword"),
    [pytest.param(change, path, keyword, id=case) for case, change, path, keyword in INVALID],
)
def test_invalid_spec_is_reported_where_it_is_wrong(validator, reference, change, path, keyword):
    doc = copy.deepcopy(reference)
    change(doc)
    errors = list(validator.iter_errors(doc))
    assert {(tuple(e.absolute_path), _keyword(e)) for e in errors} >= {(tuple(path), keyword)}
    assert [list(e.absolute_path) for e in errors if list(e.absolute_path) != path] == []


MINIMAL = {"version": 1, "project": "p", "environments": {"local": {"target": "local"}}}


def _replace(doc: dict, content: dict) -> None:
    doc.clear()
    doc.update(copy.deepcopy(content))


VALID_VARIANTS = [
    (
        "override of one step field, without its type",
        _set(
            [*PROD, "overrides", "pipelines", "train-churn"],
            {"steps": {"train": {"instance_count": 2}}},
        ),
    ),
    (
        "model from an artifact only",
        _both(
            _delete(["models", "churn-model", "registry_group"]),
            _set(["models", "churn-model", "artifact"], "models/churn/model.tar.gz"),
        ),
    ),
    ("pinned model version", _set(["models", "churn-model", "version"], 3)),
    (
        "kms key by ARN",
        _set([*PROD, "security", "kms_key"], "arn:aws:kms:eu-west-1:222222222222:key/abc"),
    ),
    ("rate schedule", _set(["pipelines", "train-churn", "schedule"], "rate(6 hours)")),
    ("state in S3", _set(["state"], "s3://my-bucket/mlinfra/churn")),
    ("only what is required", lambda doc: _replace(doc, MINIMAL)),
]


@pytest.mark.parametrize(
    "change", [pytest.param(change, id=case) for case, change in VALID_VARIANTS]
)
def test_valid_variants_of_the_reference_spec_validate(validator, reference, change):
    doc = copy.deepcopy(reference)
    change(doc)
    assert [(list(e.absolute_path), e.message) for e in validator.iter_errors(doc)] == []


# ------------------------------------------------------------------------------ reference docs


def test_reference_markdown_names_every_property(schema):
    markdown = reference_markdown(schema)
    names = {pointer.rsplit("/", 1)[1] for pointer, _ in _declared_properties(schema)}
    missing = sorted(n for n in names if f".{n}`" not in markdown and f"`{n}`" not in markdown)
    assert missing == []


def test_reference_markdown_has_a_section_per_top_level_object(schema):
    markdown = reference_markdown(schema)
    for key in ["defaults", "environments", "previews", *COMPONENT_SECTIONS, "policies"]:
        assert f"\n## `{key}`\n" in markdown
    for key in schema["properties"]:
        assert f"| `{key}` |" in markdown


def test_reference_markdown_shows_defaults_requirements_and_type_rules(schema):
    markdown = reference_markdown(schema)
    assert "| `endpoints.<endpoint>.instance_count` | integer (1 to 100) | `1` |" in markdown
    assert "| `endpoints.<endpoint>.model` |" in markdown
    assert "**Required.** The model (under models) the endpoint serves." in markdown
    assert "- When `type` is `condition`: requires `when`." in markdown
    assert "- At least one of `registry_group` or `artifact` is required." in markdown
    assert "Same fields as `defaults.security`." in markdown


def test_reference_markdown_is_deterministic_and_leaves_the_schema_alone(schema):
    before = copy.deepcopy(schema)
    first = reference_markdown(schema)
    assert reference_markdown(copy.deepcopy(schema)) == first
    assert schema == before
    assert first.endswith("\n") and not first.endswith("\n\n")
