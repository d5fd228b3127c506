"""`mlinfra pipeline run|runs` and `mlinfra model approve`, against the local emulator.

Each command finds the emulator running beside the spec and talks to it with boto3, exactly
as a user's own code would: StartPipelineExecution, DescribePipelineExecution,
ListPipelineExecutions, ListPipelineExecutionSteps, UpdateModelPackage.
"""

from __future__ import annotations

import time
from typing import Any

import click

from mlinfra.cli.common import (
    fail,
    local_environment,
    make_console,
    say,
    validate_spec,
)
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION, limit_option

CREATED_BY = "create it with `mlinfra apply --env {env}` (or boto3's CreatePipeline)"
POLL_SECONDS = 0.5
FINAL = ("Succeeded", "Failed", "Stopped")
STYLES = {"Succeeded": "green", "Failed": "bold red", "Stopped": "yellow", "Executing": "cyan"}


@click.group("pipeline")
def pipeline_command() -> None:
    """Run a spec's pipelines in the local emulator and see their runs."""


@pipeline_command.command("run")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--param",
    "params",
    metavar="KEY=VALUE",
    multiple=True,
    help="A value for one of the pipeline's `parameters:` (repeatable).",
)
@click.option("--wait", is_flag=True, help="Follow the steps until the run ends.")
@SPEC_OPTION
def run_command(name: str, env: str, params: tuple[str, ...], wait: bool, spec_file: str) -> None:
    """Start pipeline NAME in the local emulator and print the execution's ARN.

    ENV must have `target: local`, and the emulator must be running beside the spec and hold
    the pipeline. With --wait, each step is shown as it ends; exits 1 if the run fails.
    """
    _, component, sagemaker, physical = _pipeline(spec_file, env, name)
    parameters = _parameters(params, component)
    started = _call(
        sagemaker.start_pipeline_execution,
        PipelineName=physical,
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
    )
    arn = started["PipelineExecutionArn"]
    console = make_console()
    say(console, f"started {name}: execution {arn.rsplit('/', 1)[-1]}", "bold")
    say(console, f"  {arn}")
    if not wait:
        say(console, f"follow it with `mlinfra pipeline runs {name} --env {env}`")
        return
    status = _follow(sagemaker, arn)
    if status["PipelineExecutionStatus"] != "Succeeded":
        fail(
            f"{name} {status['PipelineExecutionStatus'].lower()}: "
            f"{status.get('FailureReason', 'no reason given')}"
        )


@pipeline_command.command("runs")
@click.argument("name")
@ENV_OPTION
@limit_option()
@SPEC_OPTION
def runs_command(name: str, env: str, limit: int, spec_file: str) -> None:
    """List the executions of pipeline NAME in the local emulator, newest first."""
    _, _, sagemaker, physical = _pipeline(spec_file, env, name)
    found = _call(sagemaker.list_pipeline_executions, PipelineName=physical, MaxResults=limit)[
        "PipelineExecutionSummaries"
    ]
    console = make_console()
    if not found:
        say(console, f"{name} has not run yet: start it with `mlinfra pipeline run {name} "
             f"--env {env}`")  # fmt: skip
        return
    for summary in found:
        arn = summary["PipelineExecutionArn"]
        steps = _call(sagemaker.list_pipeline_execution_steps, PipelineExecutionArn=arn)
        ran = sorted(steps["PipelineExecutionSteps"], key=lambda s: s["StartTime"])
        state = summary["PipelineExecutionStatus"]
        started = summary["StartTime"].astimezone().strftime("%Y-%m-%d %H:%M:%S")
        say(console, f"{arn.rsplit('/', 1)[-1]}  {started}  {state}", STYLES.get(state))
        say(console, "    " + "  ".join(_step_state(s) for s in ran))
        if summary.get("PipelineExecutionFailureReason"):
            reason = summary["PipelineExecutionFailureReason"].splitlines()[0]
            say(console, f"    {reason}", "red")


@click.group("model")
def model_command() -> None:
    """Work with the versions of a spec's models in the local emulator's registry."""


@model_command.command("approve")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--version",
    type=click.IntRange(1),
    help="The version to approve.  [default: the newest one]",
)
@SPEC_OPTION
def approve_command(name: str, env: str, version: int | None, spec_file: str) -> None:
    """Approve a registered version of model NAME in the local emulator's registry.

    An endpoint that serves the model's latest approved version moves to it on the next
    `mlinfra apply`.
    """
    from mlinfra.naming import physical_name

    result = validate_spec(spec_file)
    spec = local_environment(result, env, spec_file)
    model = _component(spec, "model", name, spec_file)
    if not model.registry_group:
        fail(f"model {name!r} has no `registry_group:`, so it has no versions to approve")
    group = physical_name(spec.project, spec.env, model.registry_group, "model_package_group")
    sagemaker = _client(spec_file, spec.region)
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group.name, ModelPackageType="Versioned", SortBy="CreationTime"
    )
    try:
        versions = [p for page in pages for p in page["ModelPackageSummaryList"]]
    except sagemaker.exceptions.ClientError as exc:
        fail(f"registry group {group.name}: {_reason(exc)}")
    if not versions:
        fail(
            f"registry group {group.name} has no versions yet",
            "a pipeline's register_model step adds them: `mlinfra pipeline run NAME --env "
            f"{env} --wait`",
        )
    chosen = max(versions, key=lambda v: v["ModelPackageVersion"])
    if version is not None:
        chosen = next((v for v in versions if v["ModelPackageVersion"] == version), None)
        if chosen is None:
            known = ", ".join(str(v["ModelPackageVersion"]) for v in versions)
            fail(f"registry group {group.name} has no version {version} (it has: {known})")
    number = chosen["ModelPackageVersion"]
    if chosen["ModelApprovalStatus"] == "Approved":
        say(make_console(), f"{name} version {number} is already approved")
        return
    _call(
        sagemaker.update_model_package,
        ModelPackageArn=chosen["ModelPackageArn"],
        ModelApprovalStatus="Approved",
    )
    say(make_console(), f"approved {name} version {number} ({chosen['ModelPackageArn']})", "green")


# --- helpers -------------------------------------------------------------------------------


def _pipeline(spec_file: str, env: str, name: str) -> tuple[Any, Any, Any, str]:
    """The environment, the pipeline component, a client of the emulator, and its name there."""
    result = validate_spec(spec_file)
    spec = local_environment(result, env, spec_file)
    component = _component(spec, "pipeline", name, spec_file)
    physical = component_name(spec, name)
    sagemaker = _client(spec_file, spec.region)
    try:
        deployed = sagemaker.describe_pipeline(PipelineName=physical)
    except sagemaker.exceptions.ResourceNotFound:
        fail(
            f"pipeline {physical} does not exist in the emulator yet",
            CREATED_BY.format(env=env),
        )
    except sagemaker.exceptions.ClientError as exc:
        fail(f"pipeline {physical}: {_reason(exc)}")
    if deployed.get("PipelineDefinition") != _definition(spec, component, spec_file):
        say(
            make_console(stderr=True),
            f"warning: pipeline {physical} in the emulator differs from {spec_file}: it runs "
            f"as last applied; `mlinfra apply --env {env}` updates it",
            "yellow",
        )
    return spec, component, sagemaker, physical


def _definition(spec: Any, component: Any, spec_file: str) -> str | None:
    """The definition the spec gives the pipeline now, or None if it cannot be built."""
    from pathlib import Path

    from mlinfra.ir.local.pipelines import lower_pipeline
    from mlinfra.ir.sagemaker.context import LoweringContext
    from mlinfra.providers.values import resolve

    try:
        (resource,) = lower_pipeline(LoweringContext(spec, Path(spec_file).parent), component)
    except (OSError, ValueError):  # a missing script: the run itself will say so
        return None
    # As the provider sends it: the document as JSON text.
    return resolve(resource.properties["PipelineDefinition"], None, None)


def component_name(spec: Any, name: str) -> str:
    from mlinfra.naming import physical_name

    return physical_name(spec.project, spec.env, name, "pipeline").name


def _component(spec: Any, kind: str, name: str, spec_file: str) -> Any:
    from mlinfra.didyoumean import suggest

    found = spec.component(f"{kind}.{name}")
    if found is None:
        known = [c.name for c in spec.of_kind(kind)]
        close = suggest(name, known)
        fail(
            f"{spec_file} has no {kind} {name!r} (it has: {', '.join(known) or 'none'})",
            f"did you mean {close!r}?" if close else None,
        )
    return found


def _access(spec_file: str, region: str) -> Any:
    """How to reach the emulator running beside the spec; exits 1 when none runs."""
    from mlinfra.emulator.access import Access, NotRunning

    try:
        return Access.for_spec(spec_file, region)
    except NotRunning as exc:
        fail(str(exc), f"start it with `mlinfra emulator start -f {spec_file}`")
    raise AssertionError("unreachable")


def _client(spec_file: str, region: str) -> Any:
    from mlinfra.providers.local import LocalProvider

    return LocalProvider.for_access(_access(spec_file, region)).client


def _parameters(given: tuple[str, ...], component: Any) -> dict[str, str]:
    from mlinfra.didyoumean import suggest

    declared = list(component.parameters)
    found: dict[str, str] = {}
    for text in given:
        key, sep, value = text.partition("=")
        if not sep or not key:
            fail(f"--param {text!r} is not KEY=VALUE")
        if key not in declared:
            close = suggest(key, declared)
            fail(
                f"pipeline {component.name!r} has no parameter {key!r} "
                f"(it has: {', '.join(declared) or 'none'})",
                f"did you mean {close!r}?" if close else None,
            )
        found[key] = value
    return found


def _follow(sagemaker: Any, arn: str) -> dict[str, Any]:
    """Print each step as it ends, until the execution does; its final description."""
    console = make_console()
    shown: set[str] = set()
    while True:
        status = _call(sagemaker.describe_pipeline_execution, PipelineExecutionArn=arn)
        steps = _call(sagemaker.list_pipeline_execution_steps, PipelineExecutionArn=arn)
        for step in sorted(steps["PipelineExecutionSteps"], key=lambda s: s["StartTime"]):
            if step["StepStatus"] not in FINAL or step["StepName"] in shown:
                continue
            shown.add(step["StepName"])
            seconds = (step["EndTime"] - step["StartTime"]).total_seconds()
            detail = _step_detail(step)
            if step.get("CacheHitResult"):
                detail += "  (cached: same code, inputs and arguments as an earlier run)"
            line = f"  {step['StepName']:<20} {step['StepStatus']:<10} {seconds:6.1f}s{detail}"
            say(console, line, STYLES.get(step["StepStatus"]))
        if status["PipelineExecutionStatus"] in FINAL:
            state = status["PipelineExecutionStatus"]
            say(console, f"execution {state.lower()}", STYLES.get(state))
            return status
        time.sleep(POLL_SECONDS)


def _step_state(step: dict[str, Any]) -> str:
    cached = " (cached)" if step.get("CacheHitResult") else ""
    return f"{step['StepName']}:{step['StepStatus']}{cached}"


def _step_detail(step: dict[str, Any]) -> str:
    metadata = step.get("Metadata") or {}
    if "Condition" in metadata:
        outcome = metadata["Condition"].get("Outcome")
        return "  condition " + (
            "held" if outcome == "True" else "did not hold: later steps skipped"
        )
    if "RegisterModel" in metadata:
        return f"  registered version {metadata['RegisterModel']['Arn'].rsplit('/', 1)[-1]}"
    return ""


def _call(method: Any, **request: Any) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return method(**request)
    except ClientError as exc:
        fail(_reason(exc))
    except BotoCoreError as exc:
        fail(f"cannot reach the emulator: {exc}", "check it with `mlinfra emulator status`")
    raise AssertionError("unreachable")


def _reason(exc: Any) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"
