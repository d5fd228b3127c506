"""Conditions: a `when:` expression as SageMaker condition data, and the Condition steps
that hold it (a spec's condition step, or a gate of several)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlinfra.ir.graph import GraphError
from mlinfra.ir.sagemaker.pipeline_definition.jobs import Build
from mlinfra.sagemaker.pipelines import NEGATED
from mlinfra.sagemaker.serving_lookup import EXISTS_PATH
from mlinfra.sagemaker.serving_lookup import STEP_NAME as SERVING
from mlinfra.spec.expressions import (
    BoolOp,
    Compare,
    Expression,
    Literal,
    Not,
    Reference,
    parse_condition,
    references,
)
from mlinfra.spec.model import ConditionStep, Step

COMPARISONS = {
    "==": "Equals",
    ">": "GreaterThan",
    ">=": "GreaterThanOrEqualTo",
    "<": "LessThan",
    "<=": "LessThanOrEqualTo",
}


def metric_reads(steps: Mapping[str, Step]) -> dict[str, list[str]]:
    """The metric paths conditions read, by the step that produces them (`serving`, unless
    a step has that name: the lookup of the serving version's, `serving_lookup`)."""
    reads: dict[str, dict[str, None]] = {}
    for body in steps.values():
        if not isinstance(body, ConditionStep):
            continue
        for ref in references(parse_condition(body.when)):
            if ref.parts[0] in steps or _is_serving(steps, ref):
                reads.setdefault(ref.parts[0], {})[".".join(ref.parts[1:])] = None
    return {step: list(paths) for step, paths in reads.items()}


def serving_metrics(steps: Mapping[str, Step]) -> list[str]:
    """The metrics of the serving version the conditions compare with (none: no lookup)."""
    if SERVING in steps:
        return []
    return [path.split(".", 1)[1] for path in metric_reads(steps).get(SERVING, ())]


def _is_serving(steps: Mapping[str, Step], expr: Expression) -> bool:
    return isinstance(expr, Reference) and expr.parts[0] == SERVING and SERVING not in steps


def property_file_name(step: str) -> str:
    return f"{step}-metrics"


def _json_path(parts: tuple[str, ...]) -> str:
    # `metrics.<name>` is a metric in SageMaker's property-file style: {"value": ...}.
    if len(parts) == 2 and parts[0] == "metrics":
        return f"metrics.{parts[1]}.value"
    return ".".join(parts)


def _operand(steps: Mapping[str, Step], expr: Expression) -> Any:
    if isinstance(expr, Literal):
        return expr.value
    if not isinstance(expr, Reference):
        raise GraphError("a SageMaker condition compares values, not conditions")
    head, rest = expr.parts[0], expr.parts[1:]
    if head == "parameters":
        return {"Get": f"Parameters.{rest[0]}"}
    if _is_serving(steps, expr):
        return _json_get(head, _json_path(rest))
    if steps[head].type == "training":
        return {"Get": f"Steps.{head}.FinalMetricDataList['{rest[-1]}'].Value"}
    return _json_get(head, _json_path(rest))


def _json_get(step: str, path: str) -> dict:
    return {
        "Std:JsonGet": {
            "PropertyFile": {"Get": f"Steps.{step}.PropertyFiles.{property_file_name(step)}"},
            "Path": path,
        }
    }


def _negate(condition: dict) -> dict:
    # SageMaker reads the negated condition from `Condition`, not `Expression`: see
    # mlinfra.sagemaker.pipelines.
    if condition["Type"] == "Not":
        return condition[NEGATED]
    return {"Type": "Not", NEGATED: condition}


def condition(steps: Mapping[str, Step], expr: Expression) -> dict:
    """One SageMaker condition for `expr`. SageMaker has Or and Not but no And inside them,
    so a nested `and` becomes not(or(not a, not b))."""
    if isinstance(expr, Compare):
        left, right = _operand(steps, expr.left), _operand(steps, expr.right)
        op = "==" if expr.op == "!=" else expr.op
        found = {"Type": COMPARISONS[op], "LeftValue": left, "RightValue": right}
        found = _negate(found) if expr.op == "!=" else found
        if _is_serving(steps, expr.left) or _is_serving(steps, expr.right):
            # With no version serving, the comparison holds: a first model can register.
            none_serves = {
                "Type": "Equals",
                "LeftValue": _json_get(SERVING, EXISTS_PATH),
                "RightValue": False,
            }
            return {"Type": "Or", "Conditions": [none_serves, found]}
        return found
    if isinstance(expr, Not):
        return _negate(condition(steps, expr.operand))
    if isinstance(expr, BoolOp) and expr.op == "or":
        return {"Type": "Or", "Conditions": [condition(steps, o) for o in expr.operands]}
    if isinstance(expr, BoolOp):
        negated = [_negate(condition(steps, o)) for o in expr.operands]
        return _negate({"Type": "Or", "Conditions": negated})
    # A bare boolean (a parameter, or true/false) holds when it equals true.
    return {"Type": "Equals", "LeftValue": _operand(steps, expr), "RightValue": True}


def conditions(steps: Mapping[str, Step], expr: Expression) -> list[dict]:
    """The condition list of a step: all must hold, so a top-level `and` is the list itself."""
    if isinstance(expr, BoolOp) and expr.op == "and":
        return [c for operand in expr.operands for c in conditions(steps, operand)]
    return [condition(steps, expr)]


def condition_step(build: Build, name: str) -> dict:
    expr = parse_condition(build.steps[name].when)
    arguments = {"Conditions": conditions(build.steps, expr), "IfSteps": [], "ElseSteps": []}
    return {"Name": name, "Type": "Condition", "Arguments": arguments}


def gate_step(build: Build, name: str, combined: tuple[str, ...]) -> dict:
    found = []
    for step in combined:
        found += conditions(build.steps, parse_condition(build.steps[step].when))
    arguments = {"Conditions": found, "IfSteps": [], "ElseSteps": []}
    return {"Name": name, "Type": "Condition", "Arguments": arguments}
