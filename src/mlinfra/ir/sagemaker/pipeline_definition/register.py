"""RegisterModel steps: a version of the model in its registry group, served with the
script of the training step before it, and carrying its evidence in SageMaker's own fields:
the evaluation report the conditions read (`ModelMetrics`), the execution that made it
(`MetadataProperties.GeneratedBy`) and the training step's hyperparameters
(`CustomerMetadataProperties`, `hyperparameter:<name>`). What only a run knows (content
hashes of code, inputs and artifact; the git commit) the local emulator adds when it
registers (`emulator/services/pipelines/evidence.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from mlinfra.ir.graph import GraphError
from mlinfra.ir.sagemaker.models import image as serving_image
from mlinfra.ir.sagemaker.models import registry_group_name, serving_endpoints
from mlinfra.ir.sagemaker.pipeline_definition.inputs import (
    ancestors,
    model_uri,
    output_uri,
    upstream,
)
from mlinfra.ir.sagemaker.pipeline_definition.jobs import LOG_LEVEL, Build
from mlinfra.ir.sagemaker.pipeline_definition.layout import (
    ISOLATED_SERVING_DIRECTORY,
    PROPERTY_FILE_PATH,
)
from mlinfra.sagemaker.evidence import HYPERPARAMETER, is_key, metadata_value
from mlinfra.spec.model import Step

CONTENT_TYPES = ["text/csv", "application/json"]
REPORT_CONTENT_TYPE = "application/json"


def source_training_step(steps: Mapping[str, Step], name: str) -> str:
    """The training step whose model `name` registers: the nearest one before it."""
    found = ancestors(upstream(steps), name)
    trainers = [s for s in steps if s in found and steps[s].type == "training"]
    if not trainers:
        raise GraphError(f"step {name!r} registers a model, but no training step runs before it")
    return min(trainers, key=lambda s: found[s])


def evaluation_step(build: Build, name: str) -> str | None:
    """The processing step whose report (the metrics the conditions read) judges the model
    `name` registers: the nearest such step before it, if any."""
    found = ancestors(upstream(build.steps), name)
    reports = [s for s in found if build.steps[s].type == "processing" and s in build.metric_reads]
    return min(reports, key=lambda s: found[s]) if reports else None


def _model_metrics(build: Build, name: str) -> dict | None:
    evaluation = evaluation_step(build, name)
    if evaluation is None:
        return None
    report = {"Std:Join": {"On": "/", "Values": [output_uri(evaluation), PROPERTY_FILE_PATH]}}
    statistics = {"ContentType": REPORT_CONTENT_TYPE, "S3Uri": report}
    return {"ModelQuality": {"Statistics": statistics}}


def _hyperparameters(build: Build, trainer: str) -> dict[str, str]:
    """The training step's hyperparameters as customer metadata; a value SageMaker's metadata
    pattern cannot hold is left out (the execution's definition still has it)."""
    found = {}
    for key, value in sorted(build.steps[trainer].hyperparameters.items()):
        text = metadata_value(value)
        if text is not None and is_key(HYPERPARAMETER + key):
            found[HYPERPARAMETER + key] = text
    return found


def _serving_environment(build: Build, trainer: str) -> dict:
    program = PurePosixPath(build.steps[trainer].entry_point).name
    directory = ISOLATED_SERVING_DIRECTORY if build.isolated else build.code_uris[trainer]
    return {
        "SAGEMAKER_PROGRAM": program,
        "SAGEMAKER_SUBMIT_DIRECTORY": directory,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": LOG_LEVEL,
        "SAGEMAKER_REGION": build.ctx.spec.region,
    }


def register_step(build: Build, name: str) -> dict:
    model = build.ctx.spec.models.get(build.steps[name].model)
    if model is None or not model.registry_group:
        raise GraphError(f"step {name!r} registers a model that has no registry group")
    trainer = source_training_step(build.steps, name)
    container = {
        "Image": serving_image(build.ctx, model),
        "ModelDataUrl": model_uri(trainer),
        "Environment": _serving_environment(build, trainer),
    }
    specification: dict[str, Any] = {
        "Containers": [container],
        "SupportedContentTypes": list(CONTENT_TYPES),
        "SupportedResponseMIMETypes": list(CONTENT_TYPES),
    }
    instance_types = sorted({e.instance_type for e in serving_endpoints(build.ctx, model)})
    if instance_types:
        specification["SupportedRealtimeInferenceInstanceTypes"] = instance_types
    approved = model.approval == "auto"
    arguments = {
        "ModelPackageGroupName": registry_group_name(build.ctx, model.registry_group),
        "ModelPackageDescription": f"Trained by pipeline {build.component.name}, step {trainer}",
        "ModelApprovalStatus": "Approved" if approved else "PendingManualApproval",
        "InferenceSpecification": specification,
        "MetadataProperties": {"GeneratedBy": {"Get": "Execution.PipelineExecutionArn"}},
    }
    metrics = _model_metrics(build, name)
    if metrics is not None:
        arguments["ModelMetrics"] = metrics
    customer = _hyperparameters(build, trainer)
    if customer:
        arguments["CustomerMetadataProperties"] = customer
    return {"Name": name, "Type": "RegisterModel", "Arguments": arguments}
