"""The versions of a spec's model in the local emulator's registry, with what each carries
as its evidence (`mlinfra model versions`, `mlinfra model show`): its status, the metrics of
its evaluation report, the data, code and hyperparameters that made it (their content
hashes), the git commit, the execution that registered it and why it was approved or not.

What a version carries is written when it is registered (`mlinfra.sagemaker.evidence`);
here it is read back, the report's metrics from the report itself: a file of the project
(the emulator's are), or on SageMaker an S3 object read with the user's credentials.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from mlinfra.operations.approval_history import Approval, approval_history
from mlinfra.operations.emulator import call
from mlinfra.operations.pipelines import PipelineRequest
from mlinfra.operations.registry import Registry, open_registry
from mlinfra.sagemaker.evidence import ARTIFACT, CODE, HYPERPARAMETER, INPUT, report_metrics


@dataclass(frozen=True)
class Version:
    """One version of a model and its evidence."""

    number: int
    arn: str
    status: str
    created: datetime
    metrics: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> sha256, rows...
    code: dict[str, str] = field(default_factory=dict)  # step -> sha256
    hyperparameters: dict[str, str] = field(default_factory=dict)
    artifact: str | None = None
    commit: str | None = None
    repository: str | None = None
    generated_by: str | None = None
    report: str | None = None
    approval_description: str | None = None
    history: tuple[Approval, ...] = ()  # every decision on it, oldest first

    def to_json(self) -> dict[str, Any]:
        found = {k: v for k, v in self.__dict__.items() if k not in ("created", "history")}
        history = [a.to_json() for a in self.history]
        return {**found, "created": self.created.isoformat(), "history": history}


def versions(request: PipelineRequest) -> tuple[Version, ...]:
    """Every version of the model, newest first, with its evidence."""
    found = open_registry(request.validation, request.env, request.spec_file, request.name)
    spec_file = request.spec_file
    return tuple(describe_version(found, s["ModelPackageArn"], spec_file) for s in found.versions())


def show(request: PipelineRequest, number: int) -> Version:
    """Version `number` of the model, with its evidence and every decision on it."""
    found = open_registry(request.validation, request.env, request.spec_file, request.name)
    arn = found.version(number)["ModelPackageArn"]
    version = describe_version(found, arn, request.spec_file)
    return replace(version, history=approval_history(found, arn))


def describe_version(found: Registry, arn: str, spec_file: str) -> Version:
    """Version `arn` of registry `found` and its evidence, as DescribeModelPackage gives
    them, the metrics from its evaluation report."""
    described = call(found.sagemaker.describe_model_package, ModelPackageName=arn)
    customer = described.get("CustomerMetadataProperties") or {}
    metadata = described.get("MetadataProperties") or {}
    statistics = ((described.get("ModelMetrics") or {}).get("ModelQuality") or {}).get(
        "Statistics"
    ) or {}
    inputs: dict[str, dict[str, str]] = {}
    for key, value in customer.items():
        if key.startswith(INPUT):
            name, _, what = key.removeprefix(INPUT).rpartition(":")
            inputs.setdefault(name, {})[what] = value
    return Version(
        number=described["ModelPackageVersion"],
        arn=arn,
        status=described["ModelApprovalStatus"],
        created=described["CreationTime"],
        metrics=_metrics(statistics.get("S3Uri"), spec_file, found),
        inputs=inputs,
        code={k.removeprefix(CODE): v for k, v in customer.items() if k.startswith(CODE)},
        hyperparameters={
            k.removeprefix(HYPERPARAMETER): v
            for k, v in customer.items()
            if k.startswith(HYPERPARAMETER)
        },
        artifact=customer.get(ARTIFACT),
        commit=metadata.get("CommitId"),
        repository=metadata.get("Repository"),
        generated_by=metadata.get("GeneratedBy"),
        report=statistics.get("S3Uri"),
        approval_description=described.get("ApprovalDescription"),
    )


def _metrics(location: str | None, spec_file: str, found: Registry) -> dict[str, float]:
    """The metrics of an evaluation report (`{"metrics": {"auc": {"value": 0.9}}}`): a file
    of the project, or on SageMaker an S3 object; none from anything else or unreadable."""
    if not location:
        return {}
    if location.startswith("s3://"):
        return report_metrics(found.read_report(location))
    project = Path(spec_file).resolve().parent
    path = Path(location.removeprefix("file:"))
    path = (project / path).resolve() if not path.is_absolute() else path.resolve()
    if not path.is_relative_to(project):
        return {}  # only what the project holds is read
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return report_metrics(document)
