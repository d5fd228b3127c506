"""Batch jobs in the local emulator: run one now (and follow it), list its runs, and where
each run's scores are (`mlinfra batch run|runs`).

A batch job runs as a pipeline of its name whose one step is its transform job, so running
and listing are the pipeline operations' (`operations.pipelines`); what is added here is the
transform job of each run: its status, and the `.out` files it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlinfra.emulator.containers import LOG_FILE
from mlinfra.emulator.kit.paths import location_path
from mlinfra.emulator.process import state_dir_of
from mlinfra.ir.requests.batch_jobs import STEP
from mlinfra.operations.emulator import call, client
from mlinfra.operations.environment import local_environment
from mlinfra.operations.pipelines import PipelineRequest, Run, run, runs
from mlinfra.operations.progress import Progress

KIND = "batch_job"


@dataclass(frozen=True)
class Scores:
    """Where a run's transform job wrote its scores."""

    job: str  # the transform job's name
    status: str  # its TransformJobStatus
    location: str  # S3OutputPath, as the job names it
    files: tuple[str, ...]  # the .out files there, relative to the spec's folder
    failure: str | None = None
    note: str | None = None  # what the step did first (a feature store's rows exported)


@dataclass(frozen=True)
class BatchRun:
    run: Run
    scores: Scores | None  # None: the run has not reached its transform job


def batch_request(validation: object, spec_file: str, env: str, name: str) -> PipelineRequest:
    return PipelineRequest(validation, spec_file, env, name, kind=KIND)


def run_now(request: PipelineRequest, wait: bool, progress: Progress) -> dict[str, Any] | None:
    """Start the batch job; with `wait`, follow it to its end and return its description."""
    return run(request, (), wait, progress)


def batch_runs(
    request: PipelineRequest, limit: int, progress: Progress, wait: bool = False
) -> tuple[BatchRun, ...]:
    """The batch job's runs, newest first, each with where its scores are."""
    found = runs(request, limit, progress, wait)
    sagemaker = client(request.spec_file, _region(request)) if found else None
    return tuple(BatchRun(each, _scores(request, sagemaker, each)) for each in found)


def scores_of(request: PipelineRequest, execution: dict[str, Any]) -> Scores | None:
    """Where a finished run (its DescribePipelineExecution) wrote its scores."""
    sagemaker = client(request.spec_file, _region(request))
    steps = call(
        sagemaker.list_pipeline_execution_steps,
        PipelineExecutionArn=execution["PipelineExecutionArn"],
    )["PipelineExecutionSteps"]
    return _scores(request, sagemaker, Run(execution, tuple(steps), {}))


def _region(request: PipelineRequest) -> str:
    return local_environment(request.validation, request.env, request.spec_file).region


def _scores(request: PipelineRequest, sagemaker: Any, each: Run) -> Scores | None:
    arns = [(step.get("Metadata") or {}).get("TransformJob", {}).get("Arn") for step in each.steps]
    arn = next((a for a in arns if a), None)
    if arn is None:
        return None
    name = arn.rsplit("/", 1)[-1]
    try:
        job = sagemaker.describe_transform_job(TransformJobName=name)
    except sagemaker.exceptions.ClientError:
        return None  # the job's record is gone (a deleted pipeline's)
    location = job["TransformOutput"]["S3OutputPath"]
    folder = location_path(Path(request.spec_file).parent, location)
    files: tuple[str, ...] = ()
    if folder.is_dir():
        base = Path(request.spec_file).parent.resolve()
        files = tuple(
            str(p.resolve().relative_to(base)) if p.resolve().is_relative_to(base) else str(p)
            for p in sorted(folder.rglob("*.out"))
        )
    note = _step_log(request, each)
    return Scores(name, job["TransformJobStatus"], location, files, job.get("FailureReason"), note)


def _step_log(request: PipelineRequest, each: Run) -> str | None:
    """The first line of the transform step's log in the emulator's state, if it wrote one."""
    execution = each.summary["PipelineExecutionArn"]
    physical = execution.split(":pipeline/", 1)[-1].split("/", 1)[0]
    log = (
        state_dir_of(request.spec_file) / "pipelines" / physical / "executions"
        / execution.rsplit("/", 1)[-1] / STEP / LOG_FILE
    )  # fmt: skip
    try:
        return log.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
