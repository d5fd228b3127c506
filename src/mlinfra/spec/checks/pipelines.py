"""Pipelines make sense: steps form no cycle, conditions parse and read what exists upstream
(or, as `serving.metrics.NAME`, the version that serves the model the pipeline registers),
and each step carries only the fields its type uses."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping as MappingOf

from mlinfra.diagnostics import Diagnostic, Position, SourceRange, error
from mlinfra.sagemaker.serving_lookup import STEP_NAME as SERVING
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.checks.references import unknown
from mlinfra.spec.expressions import (
    BoolOp,
    Compare,
    Expression,
    ExpressionError,
    Literal,
    Not,
    Reference,
    parse_condition,
    references,
)
from mlinfra.spec.model import (
    ConditionStep,
    JobStep,
    Pipeline,
    RegisterModelStep,
    Step,
    TrainingStep,
)
from mlinfra.syntax.nodes import Mapping, Node

# Fields a step of each type may carry, besides `type`, `description` and `after`.
STEP_FIELDS = {
    "processing": {"script", "inputs", "instance_type", "instance_count", "environment"},
    "training": {
        "entry_point",
        "inputs",
        "instance_type",
        "instance_count",
        "hyperparameters",
        "max_runtime",
        "environment",
    },
    "condition": {"when"},
    "register_model": {"model"},
    "transform": {
        "model",
        "inputs",
        "instance_type",
        "instance_count",
        "environment",
        "features",
        "split",
        "batch_strategy",
        "assemble_with",
        "max_payload_mb",
        "content_type",
        "accept",
    },
}
COMMON_STEP_FIELDS = {"type", "description", "after"}


def upstream_steps(steps: MappingOf[str, Step]) -> dict[str, set[str]]:
    """Each step's direct predecessors: `after:` plus steps whose outputs it reads."""
    edges: dict[str, set[str]] = {}
    for name, step in steps.items():
        deps = {s for s in step.after if s in steps}
        inputs = step.reads()
        deps |= {i.split(".", 1)[0] for i in inputs if i.split(".", 1)[0] in steps}
        edges[name] = deps
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle among steps, as the list of steps around it, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def ancestors(edges: dict[str, set[str]], step: str) -> set[str]:
    seen: set[str] = set()
    todo = list(edges.get(step, ()))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(edges.get(dep, ()))
    return seen


def check_step_cycles(ctx: CheckContext) -> Iterator[Diagnostic]:
    for pipeline in ctx.spec.pipelines.values():
        cycle = find_cycle(upstream_steps(pipeline.steps))
        if cycle and len(cycle) > 2:  # a step after itself is reported by the references check
            yield error(
                "step-cycle",
                f"steps of pipeline {pipeline.name!r} form a cycle: "
                + " -> ".join(reversed(cycle)),
                pipeline.steps[cycle[0]].key_range,
                suggestion="remove one of these `after:` entries",
            )


def check_step_fields(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A check of what was written: the typed steps hold only the fields of their type."""
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            allowed = STEP_FIELDS[step.type] | COMMON_STEP_FIELDS
            written = step.ranges.written()
            for field in written.keys() if isinstance(written, Mapping) else ():
                if field not in allowed:
                    owners = [t for t, fields in STEP_FIELDS.items() if field in fields]
                    yield error(
                        "field-not-for-step-type",
                        f"{field!r} does not apply to a {step.type} step",
                        step.key_range_of(field),
                        detail=f"{field!r} belongs to steps of type: " + ", ".join(owners),
                        suggestion=f"remove {field!r} or change the step's type",
                    )


def _within(node: Node, column: int, length: int = 1) -> SourceRange:
    """A stretch inside a one-line condition string, past its opening quote if it has one."""
    where = node.range
    text = getattr(node, "text", "")
    quoted = 1 if where.end.offset - where.start.offset > len(text) else 0
    shift = quoted + column - 1
    start = Position(where.start.line, where.start.column + shift, where.start.offset + shift)
    end = Position(start.line, start.column + length, start.offset + length)
    return SourceRange(where.filename, start, end)


def check_conditions(ctx: CheckContext) -> Iterator[Diagnostic]:
    for pipeline in ctx.spec.pipelines.values():
        steps = pipeline.steps
        edges = upstream_steps(steps)
        parameters = list(pipeline.parameters)
        for step in steps.values():
            if not isinstance(step, ConditionStep):
                continue
            where = step.ranges.written("when")
            try:
                expression = parse_condition(step.when)
            except ExpressionError as exc:
                yield error(
                    "invalid-condition",
                    f"invalid condition: {exc.message}",
                    _within(where, exc.column),
                    detail="conditions compare step metrics and parameters, e.g. "
                    "`evaluate.metrics.accuracy >= parameters.min_accuracy`",
                )
                continue
            before = ancestors(edges, step.name)
            for ref in references(expression):
                at = _within(where, ref.column, len(".".join(ref.parts)))
                head = ref.parts[0]
                if head == "parameters":
                    name = ref.parts[1] if len(ref.parts) > 1 else ""
                    if name not in parameters or len(ref.parts) != 2:
                        what = f"parameter of pipeline {pipeline.name!r}"
                        yield unknown(what, name, parameters, at)
                elif head == SERVING and head not in steps:
                    yield from _serving_reference(pipeline, ref, at)
                elif head not in steps:
                    known = [s for s in steps if s != step.name] + ["parameters", SERVING]
                    yield unknown(f"step in pipeline {pipeline.name!r}", head, known, at)
                elif head not in before:
                    yield error(
                        "condition-order",
                        f"condition {step.name!r} reads {head!r}, which does not run before it",
                        at,
                        suggestion=f"add {head!r} to the `after:` of {step.name!r}",
                    )
                elif not isinstance(steps[head], JobStep) or len(ref.parts) < 3:
                    yield error(
                        "invalid-condition",
                        f"{'.'.join(ref.parts)!r} is not a metric: write STEP.metrics.NAME "
                        "for a processing or training step",
                        at,
                    )


def _serving_reference(pipeline: Pipeline, ref: Reference, at: SourceRange) -> Iterator[Diagnostic]:
    """`serving.metrics.NAME`: a metric of the version that serves the model the pipeline
    registers, so the pipeline registers exactly one model (that it has a registry group,
    `register-needs-registry` checks)."""
    if len(ref.parts) != 3 or ref.parts[1] != "metrics":
        yield error(
            "invalid-condition",
            f"{ref.name!r} is not a metric of the serving version: write serving.metrics.NAME",
            at,
        )
        return
    models = pipeline.registered_models()
    if len(models) != 1:
        yield error(
            "invalid-condition",
            f"{ref.name!r} compares with the version that serves now, but pipeline "
            f"{pipeline.name!r} registers "
            + (f"{len(models)} models ({', '.join(models)})" if models else "no model"),
            at,
            suggestion="give the pipeline one register_model step to say which model serves",
        )
        return


def _nested_comparisons(expr: Expression) -> Iterator[Compare]:
    """Comparisons whose operands are not plain values (`(a > 1) == true`).

    SageMaker's condition steps compare a value with a value; a comparison of comparisons
    has no form there.
    """
    if isinstance(expr, Compare):
        if not all(isinstance(side, Literal | Reference) for side in (expr.left, expr.right)):
            yield expr
    elif isinstance(expr, Not):
        yield from _nested_comparisons(expr.operand)
    elif isinstance(expr, BoolOp):
        for operand in expr.operands:
            yield from _nested_comparisons(operand)


def check_condition_forms(ctx: CheckContext) -> Iterator[Diagnostic]:
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            if not isinstance(step, ConditionStep):
                continue
            try:
                expression = parse_condition(step.when)
            except ExpressionError:
                continue  # reported by check_conditions
            node = step.ranges.written("when")
            for compare in _nested_comparisons(expression):
                yield error(
                    "invalid-condition",
                    "a condition compares a metric or parameter with a value, "
                    "not the result of another comparison",
                    _within(node, compare.column),
                    suggestion="combine comparisons with `and`, `or` and `not` instead",
                )


def check_step_data_flow(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Steps read data only from steps that produce it, and register what was trained."""
    stores = ctx.spec.feature_stores
    for pipeline in ctx.spec.pipelines.values():
        steps = pipeline.steps
        edges = upstream_steps(steps)
        for step in steps.values():
            for i, source in enumerate(step.reads()):
                head, _, rest = source.partition(".")
                where = step.range_of("inputs", i)
                if head in steps and not isinstance(steps[head], JobStep):
                    yield error(
                        "invalid-input",
                        f"{source!r} reads a {steps[head].type} step, which produces no data",
                        where,
                        suggestion="read the output of a processing or training step",
                    )
                elif head == "feature_store" and rest in stores:
                    if not stores[rest].offline.enabled:
                        yield error(
                            "invalid-input",
                            f"feature store {rest!r} has no offline store for a step to read",
                            where,
                            suggestion=f"enable offline storage on {rest!r}",
                        )
            if isinstance(step, RegisterModelStep):
                before = ancestors(edges, step.name)
                trained = [s for s in before if isinstance(steps[s], TrainingStep)]
                if not trained:
                    yield error(
                        "register-needs-training",
                        f"step {step.name!r} registers a model, but no training step runs before "
                        "it",
                        step.key_range,
                        suggestion="add the training step to its `after:` (directly or through "
                        "the steps it follows)",
                    )


CHECKS = (
    check_step_cycles,
    check_step_fields,
    check_conditions,
    check_condition_forms,
    check_step_data_flow,
)
