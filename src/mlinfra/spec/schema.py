"""JSON Schema validation, with every error mapped onto the line the user wrote, and the
schema's defaults filled in on the way (`defaults`).

jsonschema yields errors located by `absolute_path` in the plain data; `locate()` walks the
same path in the ranged tree. An unknown or misspelt key is reported at the key itself, with
the closest allowed key as a suggestion; a missing key at the key of the object that lacks it.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from mlinfra.diagnostics import Diagnostic, Position, SourceRange, error
from mlinfra.didyoumean import suggest
from mlinfra.spec.defaults import DefaultFillingValidator
from mlinfra.syntax.nodes import Mapping, Node, locate, to_data

_TYPE_NAMES = {
    "object": "a map",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


@functools.cache
def load_schema() -> dict:
    text = resources.files("mlinfra").joinpath("schemas/mlinfra.schema.json").read_text("utf-8")
    return json.loads(text)


@functools.cache
def _validator() -> Draft202012Validator:
    return DefaultFillingValidator(inline_refs(load_schema()))


# What may stand beside a `$ref` that `inline_refs` replaces: annotations (the target's own
# are what messages read, as jsonschema reports an error in the target with the target's
# schema) and keywords whose messages read no schema.
_INLINED_BESIDE_REF = frozenset({"description", "examples", "default", "required", "maxLength"})
_ANNOTATIONS = frozenset({"description", "examples", "title"})


def inline_refs(root: dict) -> dict:
    """`root` with each `$ref` to one of its `$defs` replaced by the definition itself.

    Following a reference is most of jsonschema's work on this schema (a registry lookup and a
    new validator per `$ref`: 40% of validating a large spec), and the schema has no recursive
    definitions. The inlined schema validates, fills defaults and reports errors exactly as
    the original: keywords keep their order of evaluation (the definition's where the `$ref`
    stood), an error inside a definition carries the definition's annotations, as jsonschema
    gives it; a `$ref` with other keywords beside it, or a recursive one, stays as it is.
    `$defs` stay too, for references made later (`fill`).
    """
    definitions = root.get("$defs", {})

    def inline(node: Any, following: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [inline(item, following) for item in node]
        if not isinstance(node, dict):
            return node
        out = {
            key: value
            if key in ("default", "examples", "const", "enum")
            else {name: inline(sub, following) for name, sub in value.items()}
            if key in ("properties", "$defs", "patternProperties")
            else inline(value, following)
            for key, value in node.items()
        }
        ref = out.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return out
        name = ref.removeprefix("#/$defs/")
        beside = set(out) - {"$ref"}
        if name in following or name not in definitions or beside - _INLINED_BESIDE_REF:
            return out
        target = inline(definitions[name], (*following, name))
        kept = beside - _ANNOTATIONS
        if kept & set(target):
            return out
        merged: dict = {}
        for key, value in out.items():
            if key == "$ref":
                merged.update(target)
            elif key in kept:
                merged[key] = value
        return merged

    return inline(root, ())


def fill(definition: str, value: dict) -> dict:
    """`value`, valid under `$defs/<definition>`, with that definition's defaults filled in
    (for settings merged from two places before their defaults apply: `security`)."""
    filled = copy.deepcopy(value)
    _validator().evolve(schema={"$ref": f"#/$defs/{definition}"}).validate(filled)
    return filled


def dotted(path) -> str:
    return ".".join(str(p) for p in path) or "the document"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"the text {value!r}"


def _allowed_keys(schema: dict) -> list[str]:
    """The property names a (sub)schema allows, following $ref and allOf."""
    root = load_schema()
    keys: list[str] = []

    def walk(s: dict) -> None:
        if "$ref" in s:
            walk(_resolve_ref(root, s["$ref"]))
        keys.extend(s.get("properties", {}))
        for sub in s.get("allOf", []):
            walk(sub)

    walk(schema)
    return list(dict.fromkeys(keys))


def _resolve_ref(root: dict, ref: str) -> dict:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def validate(root: Node | None, filename: str) -> tuple[Any, list[Diagnostic]]:
    """Validate a parsed document against the spec schema: its plain data with the schema's
    defaults filled in (meaningful when there is no error), and one diagnostic per problem."""
    data = to_data(root)
    if root is None:
        start = SourceRange(filename, Position(1, 1), Position(1, 1))
        return data, [
            error("empty-spec", "the spec is empty", start, suggestion="start from `version: 1`")
        ]
    found: dict[tuple, Diagnostic] = {}
    for err in _validator().iter_errors(data):
        if err.validator == "required" and "overrides" in err.absolute_path:
            # Overrides are partial by nature: what they leave out comes from the defaults.
            # Required keys are checked again on each environment's merged spec.
            continue
        for diagnostic in _diagnostics(err, root):
            key = (diagnostic.range, diagnostic.summary)
            found.setdefault(key, diagnostic)
    return data, list(found.values())


def _diagnostics(err: ValidationError, root: Node) -> Iterator[Diagnostic]:
    path = list(err.absolute_path)
    where = locate(root, path)
    kind = err.validator

    if kind == "additionalProperties" and isinstance(err.instance, dict):
        allowed = _allowed_keys(err.schema)
        for name in err.instance:
            if name in allowed or not isinstance(where.node, Mapping):
                continue
            entry = where.node.entry(name)
            close = suggest(name, allowed)
            yield error(
                "unknown-key",
                f"unknown key {name!r} in {dotted(path)}",
                entry.key.range if entry else where.key_range,
                suggestion=f"did you mean {close!r}?" if close else None,
                detail="allowed keys: " + ", ".join(allowed),
            )
        return

    if "propertyNames" in err.relative_schema_path and isinstance(where.node, Mapping):
        # jsonschema reports a bad map key at the map, with the key as the instance.
        name = err.instance
        entry = where.node.entry(name) if isinstance(name, str) else None
        yield error(
            "invalid-name",
            f"{name!r} is not a valid name in {dotted(path)}",
            entry.key.range if entry else where.key_range,
            detail=err.message,
            suggestion="use lowercase letters, digits and hyphens, starting with a letter",
        )
        return

    if kind == "required":
        missing = [name for name in err.validator_value if name not in (err.instance or {})]
        for name in missing:
            yield error(
                "missing-key",
                f"{dotted(path)} is missing the required key {name!r}",
                where.key_range,
            )
        return

    if kind in ("anyOf", "oneOf"):
        if err.context and all(e.validator == "required" for e in err.context):
            options = " or ".join(repr(e.validator_value[0]) for e in err.context)
            yield error("missing-key", f"{dotted(path)} needs {options}", where.key_range)
            return
        deeper = [e for e in err.context if e.relative_path]
        if deeper:
            # One alternative got inside the value: its error is the useful one.
            yield from _diagnostics(max(deeper, key=lambda e: len(e.relative_path)), root)
            return
        # The value matched none of several forms (e.g. `create`, `none` or a KMS key ARN).
        examples = err.schema.get("examples") or []
        yield error(
            "invalid-value",
            f"{dotted(path)}: {_describe(err.instance)} is not a valid value",
            where.value_range,
            detail=err.schema.get("description"),
            suggestion=f"for example {examples[0]!r}" if examples else None,
        )
        return

    subject = f"{dotted(path)}: "
    if kind == "type":
        expected = err.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        yield error(
            "wrong-type",
            f"{subject}expected {wanted}, got {_describe(err.instance)}",
            where.value_range,
        )
        return
    if kind in ("enum", "const"):
        options = err.validator_value if kind == "enum" else [err.validator_value]
        close = suggest(str(err.instance), [str(o) for o in options])
        yield error(
            "invalid-value",
            f"{subject}{_describe(err.instance)} is not one of: "
            + ", ".join(json.dumps(o) for o in options),
            where.value_range,
            suggestion=f"did you mean {close!r}?" if close else None,
        )
        return
    if kind == "pattern":
        examples = err.schema.get("examples") or []
        hint = f"for example {examples[0]!r}" if examples else None
        yield error(
            "invalid-value",
            f"{subject}{_describe(err.instance)} does not have the expected form",
            where.value_range,
            detail=err.schema.get("description"),
            suggestion=hint,
        )
        return
    yield error("invalid-value", f"{subject}{err.message}", where.value_range)
