"""The shared history of runs (`mlinfra runs compare|search`): what differed between two
pipeline executions, and which past runs tried a setting, best first.

Both read what SageMaker records of every run (the emulator records it the same way,
`emulator/services/tracking.py`): an execution's parameters and steps; each job step's
trial component, with its parameters (hyperparameters), metrics and input artifacts; and,
through lineage, the content hash of each input and of the code (`sha256:...`). Search is
SageMaker's `Search` over trial components. Locally from the emulator; on SageMaker with the
user's credentials. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlinfra.didyoumean import suggest
from mlinfra.operations.emulator import call, named
from mlinfra.operations.environment import EnvironmentRequest, environment
from mlinfra.operations.errors import OperationError
from mlinfra.operations.lineage import parameter_text
from mlinfra.operations.registry import clients

JOB_KINDS = ("TrainingJob", "ProcessingJob")
SEARCH_LIMIT = 100  # botocore: Search's MaxResults


RunsRequest = EnvironmentRequest  # the environment whose runs to read


@dataclass(frozen=True)
class RunRecord:
    """One execution as compared: everything keyed `step.name` (or `pipeline.NAME` for the
    execution's own parameters)."""

    arn: str
    parameters: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # step.input -> sha256 (or location)
    code: dict[str, str] = field(default_factory=dict)  # step -> sha256 of its code
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    what: str  # parameters | inputs | code | metrics
    key: str
    a: Any
    b: Any


@dataclass(frozen=True)
class Comparison:
    a: RunRecord
    b: RunRecord
    differences: tuple[Difference, ...]
    same: dict[str, int]  # what -> how many keys were equal

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.__dict__,
            "b": self.b.__dict__,
            "differences": [d.__dict__ for d in self.differences],
            "same": self.same,
        }


@dataclass(frozen=True)
class FoundRun:
    """A past job that tried the setting: its trial component, job, parameters and the
    metric (None if it has not that one)."""

    name: str
    job: str | None
    execution: str | None  # the trial (a pipeline execution's id) it belongs to
    parameters: dict[str, str]
    metric: float | None


def compare(request: RunsRequest, first: str, second: str) -> Comparison:
    """What differed between executions `first` and `second` (ARNs, or the ids
    `mlinfra pipeline runs` shows)."""
    spec = environment(request.validation, request.env, request.spec_file)
    sagemaker, _ = clients(spec, request.spec_file)
    a = _record(sagemaker, _execution(sagemaker, spec, first))
    b = _record(sagemaker, _execution(sagemaker, spec, second))
    differences: list[Difference] = []
    same: dict[str, int] = {}
    for what in ("parameters", "inputs", "code", "metrics"):
        left, right = getattr(a, what), getattr(b, what)
        same[what] = 0
        for key in sorted({*left, *right}):
            if left.get(key) == right.get(key):
                same[what] += 1
            else:
                differences.append(Difference(what, key, left.get(key), right.get(key)))
    return Comparison(a, b, tuple(differences), same)


def search(
    request: RunsRequest, settings: tuple[str, ...], metric: str | None, limit: int
) -> tuple[int, tuple[FoundRun, ...]]:
    """The runs whose parameters match every `KEY=VALUE` of `settings`, best `metric`
    first (by its maximum; those without it last), at most `limit`; and how many matched."""
    spec = environment(request.validation, request.env, request.spec_file)
    sagemaker, _ = clients(spec, request.spec_file)
    filters = []
    for text in settings:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise OperationError(f"--param {text!r} is not KEY=VALUE")
        filters.append({"Name": f"Parameters.{key}", "Operator": "Equals", "Value": value})
    query: dict[str, Any] = {
        "Resource": "ExperimentTrialComponent",
        "MaxResults": min(limit, SEARCH_LIMIT),
    }
    if filters:
        query["SearchExpression"] = {"Filters": filters}
    if metric:
        query.update(SortBy=f"Metrics.{metric}.Max", SortOrder="Descending")
    found = call(sagemaker.search, **query)
    runs = []
    for result in found.get("Results") or []:
        component = result.get("TrialComponent") or {}
        metrics = {m.get("MetricName"): m for m in component.get("Metrics") or []}
        parents = component.get("Parents") or [{}]
        runs.append(
            FoundRun(
                component.get("TrialComponentName", ""),
                (component.get("Source") or {}).get("SourceArn"),
                parents[0].get("TrialName"),
                {k: parameter_text(v) for k, v in (component.get("Parameters") or {}).items()},
                (metrics.get(metric) or {}).get("Max") if metric else None,
            )
        )
    return (found.get("TotalHits") or {}).get("Value", len(runs)), tuple(runs)


# --- one execution --------------------------------------------------------------------------


def _execution(sagemaker: Any, spec: Any, given: str) -> str:
    """The ARN of the execution `given` names (its ARN, or its id among the executions of
    the environment's pipelines)."""
    if given.startswith("arn:"):
        return given
    known = []
    for pipeline in spec.pipelines.values():
        physical = named(spec, pipeline.name, "pipeline")
        pages = sagemaker.get_paginator("list_pipeline_executions").paginate(PipelineName=physical)
        try:
            for page in pages:
                for summary in page["PipelineExecutionSummaries"]:
                    arn = summary["PipelineExecutionArn"]
                    if arn.rsplit("/", 1)[-1] == given:
                        return arn
                    known.append(arn.rsplit("/", 1)[-1])
        except sagemaker.exceptions.ClientError:
            continue  # a pipeline not created yet has no runs
    close = suggest(given, known)
    raise OperationError(
        f"no execution {given!r} of the pipelines of environment {spec.env!r}",
        f"did you mean {close!r}?" if close else "list them with `mlinfra pipeline runs NAME`",
    )


def _record(sagemaker: Any, arn: str) -> RunRecord:
    record = RunRecord(arn)
    listed = call(sagemaker.list_pipeline_parameters_for_execution, PipelineExecutionArn=arn)
    for parameter in listed.get("PipelineParameters") or []:
        record.parameters[f"pipeline.{parameter['Name']}"] = str(parameter["Value"])
    steps = call(sagemaker.list_pipeline_execution_steps, PipelineExecutionArn=arn)
    for step in steps.get("PipelineExecutionSteps") or []:
        metadata = step.get("Metadata") or {}
        job = next((metadata[k]["Arn"] for k in JOB_KINDS if k in metadata), None)
        if job is not None:
            _job(sagemaker, step["StepName"], job, record)
    return record


def _job(sagemaker: Any, step: str, job: str, record: RunRecord) -> None:
    """What step `step`'s job (ARN `job`) recorded, into `record`."""
    listed = call(sagemaker.list_trial_components, SourceArn=job)
    for summary in listed.get("TrialComponentSummaries") or []:
        component = call(
            sagemaker.describe_trial_component, TrialComponentName=summary["TrialComponentName"]
        )
        for key, value in (component.get("Parameters") or {}).items():
            record.parameters[f"{step}.{key}"] = parameter_text(value)
        for metric in component.get("Metrics") or []:
            if isinstance(metric.get("Last"), (int, float)):
                record.metrics[f"{step}.{metric['MetricName']}"] = metric["Last"]
        for name, artifact in (component.get("InputArtifacts") or {}).items():
            record.inputs[f"{step}.{name}"] = artifact.get("Value", "")
        _hashes(sagemaker, step, component["TrialComponentArn"], record)


def _hashes(sagemaker: Any, step: str, component: str, record: RunRecord) -> None:
    """The content hashes of what contributed to a job, from its lineage: a `Code`
    artifact's as the step's code, a data set's in place of its location."""
    edges = call(
        sagemaker.list_associations, DestinationArn=component, AssociationType="ContributedTo"
    )
    by_location = {v: k for k, v in record.inputs.items() if k.startswith(f"{step}.")}
    for edge in edges.get("AssociationSummaries") or []:
        if edge.get("SourceType") not in ("Code", "DataSet"):
            continue
        artifact = call(sagemaker.describe_artifact, ArtifactArn=edge["SourceArn"])
        source = artifact.get("Source") or {}
        digest = next((t["Value"] for t in source.get("SourceTypes") or [] if t.get("Value")), None)
        if digest is None:
            continue
        if edge.get("SourceType") == "Code":
            script = str(source.get("SourceUri", "")).rstrip("/").rsplit("/", 1)[-1]
            record.code[f"{step}.{script}"] = digest
        elif source.get("SourceUri") in by_location:
            record.inputs[by_location[source["SourceUri"]]] = digest
