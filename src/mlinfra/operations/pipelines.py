"""Pipelines in the local emulator: run a pipeline (and follow it), list its runs
(`mlinfra pipeline run|runs`).

Each talks to the emulator running beside the spec with boto3, exactly as a user's own code
would: StartPipelineExecution, DescribePipelineExecution, ListPipelineExecutions,
ListPipelineExecutionSteps.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlinfra.didyoumean import suggest
from mlinfra.emulator.process import state_dir_of
from mlinfra.emulator.services.pipelines.service import evaluated_condition
from mlinfra.engines.providers.values import resolve
from mlinfra.ir.local.pipelines import lower_pipeline
from mlinfra.ir.requests.batch_jobs import as_pipeline
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.operations.emulator import call, client, component, named, reason
from mlinfra.operations.environment import local_environment
from mlinfra.operations.errors import OperationError
from mlinfra.operations.progress import (
    ExecutionStarted,
    PipelineDiffers,
    Progress,
    RunEnded,
    StepEnded,
)
from mlinfra.spec.model import BatchJob

CREATED_BY = "create it with `mlinfra apply --env {env}` (or boto3's CreatePipeline)"
POLL_SECONDS = 0.5
FINAL = ("Succeeded", "Failed", "Stopped")


@dataclass(frozen=True)
class PipelineRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    name: str  # the pipeline (or model, or batch job) as the spec names it
    kind: str = "pipeline"  # or batch_job: a batch job runs as a pipeline of its name


@dataclass(frozen=True)
class Gate:
    """What a condition step found: whether it held, the spec's `when:` (None when the spec
    has no such step), and each condition as the emulator evaluated it (its `type`, whether
    it `held`, and for a comparison the `left` and `right` values compared)."""

    step: str
    held: bool
    when: str | None
    conditions: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {"held": self.held, "when": self.when, "conditions": list(self.conditions)}


@dataclass(frozen=True)
class Run:
    """One execution of a pipeline: its summary, its steps in the order they started, and
    what its condition steps found (step name -> `Gate`)."""

    summary: dict[str, Any]
    steps: tuple[dict[str, Any], ...]
    gates: dict[str, Gate]


def run(
    request: PipelineRequest, params: tuple[str, ...], wait: bool, progress: Progress
) -> dict[str, Any] | None:
    """Start the pipeline with `params` (`KEY=VALUE` each); with `wait`, follow its steps
    until it ends (a `StepEnded` event each) and return its final description."""
    spec, found, sagemaker, physical = _pipeline(request, progress)
    parameters = _parameters(params, found)
    started = call(
        sagemaker.start_pipeline_execution,
        PipelineName=physical,
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
    )
    arn = started["PipelineExecutionArn"]
    progress(ExecutionStarted(request.name, arn))
    if not wait:
        return None

    def gate(step: dict[str, Any]) -> Gate | None:
        return _gate(request.spec_file, found, physical, arn, step)

    return _follow(sagemaker, arn, progress, gate)


def runs(
    request: PipelineRequest, limit: int, progress: Progress, wait: bool = False
) -> tuple[Run, ...]:
    """The pipeline's executions, newest first, at most `limit`; with `wait`, once those
    still running (a retraining a monitor started, say) have ended."""
    _, pipeline, sagemaker, physical = _pipeline(request, progress)
    while True:
        found = call(sagemaker.list_pipeline_executions, PipelineName=physical, MaxResults=limit)
        summaries = found["PipelineExecutionSummaries"]
        if not wait or all(s["PipelineExecutionStatus"] in FINAL for s in summaries):
            break
        time.sleep(POLL_SECONDS)
    listed = []
    for summary in summaries:
        arn = summary["PipelineExecutionArn"]
        steps = call(sagemaker.list_pipeline_execution_steps, PipelineExecutionArn=arn)
        ran = sorted(steps["PipelineExecutionSteps"], key=lambda s: s["StartTime"])
        gates = (_gate(request.spec_file, pipeline, physical, arn, step) for step in ran)
        listed.append(Run(summary, tuple(ran), {g.step: g for g in gates if g is not None}))
    return tuple(listed)


# --- helpers -------------------------------------------------------------------------------


def _pipeline(request: PipelineRequest, progress: Progress) -> tuple[Any, Any, Any, str]:
    """The environment, the pipeline component, a client of the emulator, and its name there."""
    spec_file, env, name = request.spec_file, request.env, request.name
    spec = local_environment(request.validation, env, spec_file)
    found = component(spec, request.kind, name, spec_file)
    if isinstance(found, BatchJob):
        found = as_pipeline(found)
    physical = named(spec, name, "pipeline")
    sagemaker = client(spec_file, spec.region)
    try:
        deployed = sagemaker.describe_pipeline(PipelineName=physical)
    except sagemaker.exceptions.ResourceNotFound:
        if request.kind == "batch_job":
            raise OperationError(
                f"batch job {name} (pipeline {physical}) does not exist in the emulator yet",
                f"`mlinfra apply --env {env}` creates it once model {found.steps['score'].model!r}"
                " has a version to serve",
            ) from None
        raise OperationError(
            f"pipeline {physical} does not exist in the emulator yet", CREATED_BY.format(env=env)
        ) from None
    except sagemaker.exceptions.ClientError as exc:
        raise OperationError(f"pipeline {physical}: {reason(exc)}") from None
    if not _same(deployed.get("PipelineDefinition"), _definition(spec, found, spec_file)):
        progress(PipelineDiffers(physical, spec_file, env))
    return spec, found, sagemaker, physical


# What a definition holds where it names another resource (a transform step's model): the
# resource's name is known once applied, so any deployed value matches it.
ANY_NAME = object()


def _definition(spec: Any, found: Any, spec_file: str) -> Any:
    """The definition the spec gives the pipeline now, as plain data (`ANY_NAME` where it
    names another resource), or None if it cannot be built."""
    try:
        (resource,) = lower_pipeline(LoweringContext(spec, Path(spec_file).parent), found)
    except (OSError, ValueError):  # a missing script: the run itself will say so
        return None
    document = resource.properties["PipelineDefinition"].value
    return resolve(document, lambda ref: ANY_NAME, None)


def _same(deployed: str | None, wanted: Any) -> bool:
    """Whether the deployed definition (JSON text) is the one the spec gives now."""
    if deployed is None or wanted is None:
        return deployed is None and wanted is None
    try:
        return _matches(json.loads(deployed), wanted)
    except ValueError:
        return False


def _matches(deployed: Any, wanted: Any) -> bool:
    if wanted is ANY_NAME:
        return isinstance(deployed, str)
    if isinstance(wanted, dict):
        return (
            isinstance(deployed, dict)
            and deployed.keys() == wanted.keys()
            and all(_matches(deployed[k], v) for k, v in wanted.items())
        )
    if isinstance(wanted, list):
        return (
            isinstance(deployed, list)
            and len(deployed) == len(wanted)
            and all(_matches(d, w) for d, w in zip(deployed, wanted, strict=True))
        )
    return deployed == wanted


def _parameters(given: tuple[str, ...], found: Any) -> dict[str, str]:
    declared = list(found.parameters)
    parameters: dict[str, str] = {}
    for text in given:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise OperationError(f"--param {text!r} is not KEY=VALUE")
        if key not in declared:
            close = suggest(key, declared)
            raise OperationError(
                f"pipeline {found.name!r} has no parameter {key!r} "
                f"(it has: {', '.join(declared) or 'none'})",
                f"did you mean {close!r}?" if close else None,
            )
        parameters[key] = value
    return parameters


def _gate(spec_file: str, pipeline: Any, physical: str, arn: str, step: dict) -> Gate | None:
    """What condition step `step` of execution `arn` found, as the emulator recorded it; None
    for another kind of step, or one that has not been evaluated."""
    outcome = ((step.get("Metadata") or {}).get("Condition") or {}).get("Outcome")
    if outcome is None:
        return None
    name = step["StepName"]
    found = evaluated_condition(state_dir_of(spec_file), physical, arn, name)
    declared = pipeline.steps.get(name)
    return Gate(
        name,
        outcome == "True",
        getattr(declared, "when", None),
        tuple((found or {}).get("conditions") or ()),
    )


def _follow(sagemaker: Any, arn: str, progress: Progress, gate) -> dict[str, Any]:
    """A `StepEnded` event as each step ends (with what a condition step found), until the
    execution does; its final description."""
    shown: set[str] = set()
    while True:
        status = call(sagemaker.describe_pipeline_execution, PipelineExecutionArn=arn)
        steps = call(sagemaker.list_pipeline_execution_steps, PipelineExecutionArn=arn)
        for step in sorted(steps["PipelineExecutionSteps"], key=lambda s: s["StartTime"]):
            if step["StepStatus"] not in FINAL or step["StepName"] in shown:
                continue
            shown.add(step["StepName"])
            progress(StepEnded(step, gate(step)))
        if status["PipelineExecutionStatus"] in FINAL:
            progress(RunEnded(status["PipelineExecutionStatus"]))
            return status
        time.sleep(POLL_SECONDS)
