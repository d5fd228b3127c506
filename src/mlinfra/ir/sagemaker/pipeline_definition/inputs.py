"""What each step reads: the spec's `inputs:` and `after:` read as a data flow.

The inputs of each processing and training step, named as the module docstring of
`pipeline_definition` says: explicit `inputs:` first, else the churn layout from `after:`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mlinfra.ir.graph import GraphError
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.feature_stores import offline_store_uri
from mlinfra.ir.sagemaker.pipeline_definition.layout import CODE_CHANNEL
from mlinfra.spec.model import Pipeline, Step


@dataclass(frozen=True)
class StepInput:
    """One input of a step: its channel or input name, S3 URI, and the step it reads, if any."""

    name: str
    uri: Any
    step: str | None = None


def classify_input(text: str, steps: Mapping[str, Step]) -> tuple[str, Any]:
    """What an `inputs:` entry names: ("s3", uri), ("feature_store", store),
    ("step", (step, output)) or ("local", path). A step's output wins over a local path."""
    if text.startswith("s3://"):
        return "s3", text
    head, dot, rest = text.partition(".")
    if head == "feature_store" and dot:
        return "feature_store", rest
    if head in steps and dot and rest:
        return "step", (head, rest)
    return "local", text


def upstream(steps: Mapping[str, Step]) -> dict[str, list[str]]:
    """Each step's direct predecessors, in spec order: `after:` plus steps whose output it reads."""
    edges: dict[str, list[str]] = {}
    for name, body in steps.items():
        found = dict.fromkeys(s for s in body.after if s in steps)
        for text in body.reads():
            kind, value = classify_input(text, steps)
            if kind == "step":
                found[value[0]] = None
        edges[name] = list(found)
    return edges


def ancestors(edges: Mapping[str, list[str]], step: str) -> dict[str, int]:
    """Every step `step` runs after, with its distance (1 for a direct predecessor)."""
    found: dict[str, int] = {}
    frontier, distance = list(edges.get(step, ())), 1
    while frontier:
        following: list[str] = []
        for name in frontier:
            if name not in found:
                found[name] = distance
                following.extend(edges.get(name, ()))
        frontier, distance = following, distance + 1
    return found


def _step_type(steps: Mapping[str, Step], name: str) -> str:
    return steps[name].type


def _input_name(text: str) -> str:
    stem = PurePosixPath(text.removeprefix("s3://").rstrip("/")).stem
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "data"


@dataclass
class DataFlow:
    """Who reads what: each step's inputs, and the processing steps each training step read."""

    inputs: dict[str, list[StepInput]] = field(default_factory=dict)
    read_by_training: dict[str, list[str]] = field(default_factory=dict)


def output_uri(step: str) -> dict:
    """Where processing step `step` published its output, in this execution."""
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{step}'].S3Output.S3Uri"}


def scores_uri(step: str) -> dict:
    """Where transform step `step` wrote its .out files, in this execution."""
    return {"Get": f"Steps.{step}.TransformOutput.S3OutputPath"}


def model_uri(step: str) -> dict:
    return {"Get": f"Steps.{step}.ModelArtifacts.S3ModelArtifacts"}


def _subfolder(step: str, folder: str) -> dict:
    return {"Std:Join": {"On": "/", "Values": [output_uri(step), folder]}}


def _read_step(steps: Mapping[str, Step], reader: str, source: str, output: str) -> StepInput:
    kind = _step_type(steps, source)
    if kind == "processing":  # a batch job's export step too
        return StepInput(output, _subfolder(source, output), source)
    if kind == "training":
        return StepInput(output, model_uri(source), source)
    if kind == "transform":  # its .out files, whatever the name after the dot
        return StepInput(output, scores_uri(source), source)
    raise GraphError(f"step {reader!r} reads {source}.{output}, but {kind} steps have no output")


def _explicit(
    ctx: LoweringContext, steps: Mapping[str, Step], name: str, data_uris: Mapping[str, Any]
) -> list[StepInput]:
    found = []
    for text in steps[name].reads():
        kind, value = classify_input(text, steps)
        if kind == "step":
            found.append(_read_step(steps, name, *value))
        elif kind == "feature_store":
            found.append(StepInput(value, offline_store_uri(ctx, value)))
        elif kind == "s3":
            found.append(StepInput(_input_name(value), value))
        else:
            if value not in data_uris:
                raise GraphError(f"step {name!r} reads {value!r}, which was not uploaded")
            found.append(StepInput(_input_name(value), data_uris[value]))
    return found


def _after_of_type(steps: Mapping[str, Step], name: str, kind: str) -> list[str]:
    return [s for s in steps[name].after if s in steps and steps[s].type == kind]


def _implicit(steps: Mapping[str, Step], name: str, flow: DataFlow) -> list[StepInput]:
    kind = _step_type(steps, name)
    if kind == "training":
        sources = _after_of_type(steps, name, "processing")
        if len(sources) == 1:
            return [_read_step(steps, name, sources[0], c) for c in ("train", "validation")]
    if kind == "processing":
        trainers = _after_of_type(steps, name, "training")
        if len(trainers) == 1:
            found = [StepInput("model", model_uri(trainers[0]), trainers[0])]
            read = flow.read_by_training.get(trainers[0], [])
            if len(read) == 1:
                found.append(_read_step(steps, name, read[0], "test"))
            return found
    return []


def _unique_names(inputs: list[StepInput]) -> list[StepInput]:
    """The inputs with a name each of their own: a repeated name gets the first free `-<n>`.

    `code` is taken before any data input is named: it is the script's own input (a
    processing step's `/opt/ml/processing/input/code`, an isolated training job's channel),
    and a data input of that name would share its folder. Kept for training steps that are
    not isolated too, so a script's paths do not change with the security settings."""
    taken = {CODE_CHANNEL}
    unique = []
    for item in inputs:
        name, count = item.name, 1
        while name in taken:
            count += 1
            name = f"{item.name}-{count}"
        taken.add(name)
        unique.append(StepInput(name, item.uri, item.step))
    return unique


def data_flow(
    ctx: LoweringContext, component: Pipeline, data_uris: Mapping[str, Any] | None = None
) -> DataFlow:
    steps = component.steps
    flow = DataFlow()
    for name in topological_order(steps):
        if _step_type(steps, name) not in ("processing", "training", "transform"):
            continue
        inputs = _explicit(ctx, steps, name, data_uris or {})
        if not any(i.step for i in inputs):
            inputs += _implicit(steps, name, flow)
        flow.inputs[name] = _unique_names(inputs)
        if _step_type(steps, name) == "training":
            flow.read_by_training[name] = list(
                dict.fromkeys(
                    i.step for i in inputs if i.step and steps[i.step].type == "processing"
                )
            )
    return flow


def topological_order(steps: Mapping[str, Step]) -> list[str]:
    """Steps in an order where every step follows those it runs after (spec order otherwise)."""
    edges = upstream(steps)
    ordered: dict[str, None] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise GraphError(f"pipeline steps form a cycle through {name!r}")
        for dep in edges[name]:
            visit(dep, (*path, name))
        ordered[name] = None

    for name in steps:
        visit(name, ())
    return list(ordered)
