"""Reading a pipeline definition (format `2020-12-01`): its steps, what each depends on, and
the values its `Get`, `Std:Join` and `Std:JsonGet` functions stand for.

Everything here is data interpretation: property paths are parsed by a small tokenizer and
conditions compared by the rules of SageMaker's condition types, never evaluated as code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlinfra.emulator.constraints import check_value
from mlinfra.emulator.protocol import CONTROL_SERVICE
from mlinfra.emulator.wire import Unreadable, load_json
from mlinfra.sagemaker.api import service_model
from mlinfra.sagemaker.pipelines import CONDITION_MEMBERS, NEGATED


class DefinitionError(ValueError):
    """The definition cannot be run: its message says what is wrong and where."""


@dataclass(frozen=True)
class Step:
    """One step of a definition, wherever it sits (top level, or a condition's branch)."""

    name: str
    type: str
    arguments: dict[str, Any]
    body: dict[str, Any]
    depends_on: tuple[str, ...]  # DependsOn, the steps it reads from, and its condition
    branch: tuple[str, str] | None = None  # (condition step, "If" | "Else") it runs under
    children: dict[str, list[str]] = field(default_factory=dict)  # a condition's branches


def parse_definition(text: str) -> tuple[dict[str, Any], list[Step]]:
    """The definition document and its steps, in an order that respects dependencies."""
    if not isinstance(text, str):
        raise DefinitionError("PipelineDefinition is not valid JSON: it is not text.")
    try:
        # Read as request bodies are (`wire.py`): bounded depth, no NaN, no lone surrogates.
        document = load_json(text.encode("utf-8", "surrogatepass"), "PipelineDefinition")
    except Unreadable as exc:
        raise DefinitionError(exc.message) from None
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        raise DefinitionError("PipelineDefinition must be a JSON object with a Steps list.")
    found: dict[str, Step] = {}
    _collect(document["Steps"], None, found)
    for step in found.values():
        missing = [d for d in step.depends_on if d not in found]
        if missing:
            raise DefinitionError(
                f"Step {step.name} depends on {', '.join(missing)}, which the definition lacks."
            )
    return document, _ordered(found)


def _collect(steps: Any, branch: tuple[str, str] | None, found: dict[str, Step]) -> None:
    if not isinstance(steps, list):
        raise DefinitionError("Steps, IfSteps and ElseSteps must be lists.")
    for body in steps:
        if not isinstance(body, dict) or not body.get("Name") or not body.get("Type"):
            raise DefinitionError("Every step needs a Name and a Type.")
        name = body["Name"]
        problem = _name_problem(name)
        if problem is not None:
            raise DefinitionError(f"Step name {name!r}: {problem}")
        if name in found:
            raise DefinitionError(f"Step name {name} is used more than once.")
        arguments = body.get("Arguments") or {}
        # A condition step reads what its conditions read: the steps of its branches come
        # after it, whatever they read.
        scope = arguments.get("Conditions") if body["Type"] == "Condition" else arguments
        reads = {path.split(".")[1] for path in _gets(scope) if path.startswith("Steps.")}
        depends = dict.fromkeys([*body.get("DependsOn", ()), *sorted(reads)])
        if branch is not None:
            depends[branch[0]] = None
        children = {}
        if body["Type"] == "Condition":
            children = {
                kind: [
                    s.get("Name") for s in arguments.get(f"{kind}Steps", ()) if isinstance(s, dict)
                ]
                for kind in ("If", "Else")
            }
        found[name] = Step(name, body["Type"], arguments, body, tuple(depends), branch, children)
        if body["Type"] == "Condition":
            for condition in arguments.get("Conditions") or ():
                _check_condition(condition)
            _collect(arguments.get("IfSteps", []), (name, "If"), found)
            _collect(arguments.get("ElseSteps", []), (name, "Else"), found)


def _name_problem(name: Any) -> str | None:
    """What SageMaker's StepName rule says of a name (each step gets a folder named by it)."""
    if not isinstance(name, str):
        return "a step name is a string."
    return check_value(name, service_model(CONTROL_SERVICE).shape_for("StepName"), "Name")


def _ordered(steps: Mapping[str, Step]) -> list[Step]:
    ordered: dict[str, Step] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise DefinitionError(f"Steps form a cycle through {name}.")
        for dep in steps[name].depends_on:
            visit(dep, (*path, name))
        ordered[name] = steps[name]

    for name in steps:
        visit(name, ())
    return list(ordered.values())


def _gets(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("Get"), str) and len(value) == 1:
            yield value["Get"]
        for item in value.values():
            yield from _gets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _gets(item)


# --- values ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_\-]*)|\['([^']*)'\]|\[(\d+)\]")


def path_parts(path: str) -> list[str | int]:
    """`Outputs['x'].S3Output.S3Uri` -> ["Outputs", "x", "S3Output", "S3Uri"]."""
    parts: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None or match.end() == position:
            raise DefinitionError(f"Cannot read property path {path!r}.")
        name, key, index = match.groups()
        parts.append(int(index) if index is not None else (name if name is not None else key))
        position = match.end()
    return parts


def lookup(data: Any, parts: list[str | int], what: str) -> Any:
    for part in parts:
        if isinstance(part, int) and isinstance(data, dict):
            data = list(data.values())  # Outputs[0]: outputs are kept by name, in order
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            raise DefinitionError(f"{what} has no value at {part!r}.") from None
    return data


@dataclass
class Scope:
    """What a running execution's expressions can read."""

    parameters: dict[str, Any]
    execution: dict[str, Any]
    steps: dict[str, dict[str, Any]]  # each finished step's properties
    # (step, property file) -> its parsed JSON; the runner, which knows where they are, sets it
    read_property_file: Callable[[str, str], Any] = lambda step, name: None

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1 and "Get" in value:
            return self.get(value["Get"])
        if len(value) == 1 and "Std:Join" in value:
            join = value["Std:Join"]
            return str(join.get("On", "")).join(_text(self.resolve(v)) for v in join["Values"])
        if len(value) == 1 and "Std:JsonGet" in value:
            return self.json_get(value["Std:JsonGet"])
        return {k: self.resolve(v) for k, v in value.items()}

    def get(self, path: str) -> Any:
        head, _, rest = path.partition(".")
        if head == "Parameters":
            if rest not in self.parameters:
                raise DefinitionError(f"Parameter {rest} is not defined.")
            return self.parameters[rest]
        if head == "Execution":
            return lookup(self.execution, path_parts(rest), "Execution")
        if head == "Steps":
            step, _, prop = rest.partition(".")
            if step not in self.steps:
                raise DefinitionError(f"Step {step} has not run, so {path} has no value.")
            return lookup(self.steps[step], path_parts(prop), f"Step {step}")
        raise DefinitionError(f"Unknown value {path!r}.")

    def json_get(self, spec: Mapping[str, Any]) -> Any:
        reference = spec.get("PropertyFile")
        if isinstance(reference, dict):
            reference = reference.get("Get", "")
        parts = str(reference).split(".")
        if len(parts) != 4 or parts[0] != "Steps" or parts[2] != "PropertyFiles":
            raise DefinitionError(f"Std:JsonGet reads an unknown property file {reference!r}.")
        document = self.read_property_file(parts[1], parts[3])
        return lookup(document, path_parts(str(spec["Path"])), f"Property file {parts[3]}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- conditions --------------------------------------------------------------------------------

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def _check_condition(condition: Any) -> None:
    """Refuse a condition SageMaker cannot parse, with the words CreatePipeline uses."""
    if not isinstance(condition, dict) or condition.get("Type") not in CONDITION_MEMBERS:
        kind = condition.get("Type") if isinstance(condition, dict) else condition
        raise DefinitionError(f"Unable to parse pipeline definition. Unknown condition {kind!r}.")
    members = CONDITION_MEMBERS[condition["Type"]]
    unknown = sorted(set(condition) - members - {"Type"})
    if unknown:
        raise DefinitionError(
            "Unable to parse pipeline definition. "
            f"Cannot parse object, unknown property {unknown[0]!r}."
        )
    missing = sorted(members - set(condition))
    if missing:
        raise DefinitionError(
            f"Unable to parse pipeline definition. A {condition['Type']} condition needs "
            f"{', '.join(missing)}."
        )
    nested = {"Not": [condition.get(NEGATED)], "Or": condition.get("Conditions")}
    for item in nested.get(condition["Type"]) or ():
        _check_condition(item)


def holds(condition: Mapping[str, Any], scope: Scope) -> bool:
    """Whether one SageMaker condition holds, by its Type's rules."""
    kind = condition.get("Type")
    if kind == "Not":
        return not holds(condition[NEGATED], scope)
    if kind == "Or":
        return any(holds(c, scope) for c in condition["Conditions"])
    if kind == "In":
        value = _comparable(scope.resolve(condition["QueryValue"]))
        return any(_equal(value, _comparable(scope.resolve(v))) for v in condition["Values"])
    left = _comparable(scope.resolve(condition.get("LeftValue")))
    right = _comparable(scope.resolve(condition.get("RightValue")))
    if kind == "Equals":
        return _equal(left, right)
    ordering = _ORDERINGS.get(str(kind))
    if ordering is None:
        raise DefinitionError(f"Unknown condition type {kind!r}.")
    if isinstance(left, str) != isinstance(right, str):
        raise DefinitionError(f"{kind} cannot compare {left!r} with {right!r}.")
    return ordering(left, right)


def evaluated(condition: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """One condition as evaluated: its Type, whether it held, and for a comparison the two
    values compared (`{"type": "GreaterThanOrEqualTo", "held": false, "left": 0.71,
    "right": 0.75}`), so that a run can say why its gate held or not."""
    found: dict[str, Any] = {"type": condition.get("Type"), "held": holds(condition, scope)}
    if "LeftValue" in condition:
        found["left"] = _comparable(scope.resolve(condition["LeftValue"]))
        found["right"] = _comparable(scope.resolve(condition.get("RightValue")))
    return found


def _comparable(value: Any) -> Any:
    """Numbers compare as numbers (a metric read as text is still a number), booleans as such."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _equal(left: Any, right: Any) -> bool:
    return left == right
