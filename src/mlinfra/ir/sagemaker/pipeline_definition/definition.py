"""The whole definition: every step built, in an order where each follows what it runs
after, and placed at the top level or under the conditions before it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.models import registry_group_name
from mlinfra.ir.sagemaker.pipeline_definition.conditions import (
    condition_step,
    gate_step,
    metric_reads,
    serving_metrics,
)
from mlinfra.ir.sagemaker.pipeline_definition.document import VERSION, get_paths
from mlinfra.ir.sagemaker.pipeline_definition.gating import conditions_before, gating
from mlinfra.ir.sagemaker.pipeline_definition.inputs import data_flow, topological_order
from mlinfra.ir.sagemaker.pipeline_definition.jobs import Build
from mlinfra.ir.sagemaker.pipeline_definition.processing import processing_step, serving_step
from mlinfra.ir.sagemaker.pipeline_definition.register import register_step
from mlinfra.ir.sagemaker.pipeline_definition.training import training_step
from mlinfra.ir.sagemaker.pipeline_definition.transform import transform_step
from mlinfra.spec.model import Pipeline

PARAMETER_TYPES = ((bool, "Boolean"), (int, "Integer"), (float, "Float"), (str, "String"))
STEP_BUILDERS = {
    "processing": processing_step,
    "training": training_step,
    "register_model": register_step,
    "condition": condition_step,
    "transform": transform_step,
}


def parameters(component: Pipeline) -> list[dict]:
    found = []
    for name, value in component.parameters.items():
        kind = next(t for python, t in PARAMETER_TYPES if isinstance(value, python))
        found.append({"Name": name, "Type": kind, "DefaultValue": value})
    return found


def _reads(step: Mapping[str, Any]) -> set[str]:
    """The steps whose properties a step reads (a condition step: in its conditions)."""
    scope = step["Arguments"]["Conditions"] if step["Type"] == "Condition" else step["Arguments"]
    return {path.split(".")[1] for path in get_paths(scope) if path.startswith("Steps.")}


def pipeline_definition(
    ctx: LoweringContext,
    component: Pipeline,
    role_arn: Any,
    code_uris: Mapping[str, Any],
    data_uris: Mapping[str, Any] | None = None,
) -> dict:
    """The definition of pipeline `component`, as plain data to wrap in `Json`.

    `code_uris` gives the S3 URI of each processing step's uploaded script and each training
    step's source archive; `data_uris` that of each local path named in `inputs:`.
    """
    steps = component.steps
    flow = data_flow(ctx, component, data_uris)
    build = Build(ctx, component, role_arn, code_uris, flow, metric_reads(steps))
    placed, before = gating(steps), conditions_before(steps)
    built: dict[str, dict] = {}
    for name in topological_order(steps):
        step = built[name] = STEP_BUILDERS[steps[name].type](build, name)
        # Data already orders a step after what it reads, and its place after its conditions.
        depends = set(steps[name].after) - _reads(step) - before[name]
        if depends:
            step["DependsOn"] = sorted(depends)
        for gate, combined in placed.gates.items():
            if gate not in built and all(c in built for c in combined):
                built[gate] = gate_step(build, gate, combined)
    for gate, combined in placed.gates.items():
        # A gate waits for what its conditions wait for, besides the data they read.
        waits = set().union(*(built[c].get("DependsOn", ()) for c in combined))
        waits -= _reads(built[gate])
        if waits:
            built[gate]["DependsOn"] = sorted(waits)
    for name, step in built.items():
        owner = placed.owners[name]
        if owner is not None:
            built[owner]["Arguments"]["IfSteps"].append(step)
    top = [step for name, step in built.items() if placed.owners[name] is None]
    compared = serving_metrics(steps)
    if compared:
        # First, whatever else runs: the conditions that compare with it read its file.
        model = ctx.spec.models[component.registered_models()[0]]
        group = registry_group_name(ctx, model.registry_group)
        top.insert(0, serving_step(build, group, compared))
    return {
        "Version": VERSION,
        "Metadata": {},
        "Parameters": parameters(component),
        "Steps": top,
    }
