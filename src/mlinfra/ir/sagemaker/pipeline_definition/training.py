"""Training steps in script mode (`sagemaker_program`, `sagemaker_submit_directory`), with
the metrics conditions read from their logs."""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Any

from mlinfra.ir.graph import Concat
from mlinfra.ir.sagemaker.pipeline_definition.images import training_image
from mlinfra.ir.sagemaker.pipeline_definition.jobs import (
    LOG_LEVEL,
    VOLUME_SIZE_GB,
    Build,
    vpc_config,
    with_key,
    with_volume_key,
)
from mlinfra.ir.sagemaker.pipeline_definition.layout import CODE_CHANNEL, ISOLATED_SUBMIT_DIRECTORY
from mlinfra.spec.values import parse_duration

METRIC_REGEX = r"{name}=([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def _channel(name: str, uri: Any) -> dict:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


def _json_text(value: Any) -> Any:
    """A hyperparameter as the SDK writes it: JSON text, decoded again by the container."""
    if isinstance(value, Concat):
        return Concat(('"', *value.parts, '"'))
    return json.dumps(value)


def _hyperparameters(build: Build, name: str) -> dict:
    body = build.steps[name]
    found = {key: _json_text(value) for key, value in body.hyperparameters.items()}
    submit = ISOLATED_SUBMIT_DIRECTORY if build.isolated else build.code_uris[name]
    found.update(
        {
            "sagemaker_program": _json_text(PurePosixPath(body.entry_point).name),
            "sagemaker_submit_directory": _json_text(submit),
            "sagemaker_container_log_level": LOG_LEVEL,
            "sagemaker_region": _json_text(build.ctx.spec.region),
        }
    )
    return found


def _algorithm(build: Build, name: str) -> dict:
    body = build.steps[name]
    spec: dict[str, Any] = {
        "TrainingImage": training_image(build.ctx, build.component, body.instance_type),
        "TrainingInputMode": "File",
    }
    metrics = [path.split(".")[-1] for path in build.metric_reads.get(name, ())]
    if metrics:
        spec["MetricDefinitions"] = [
            {"Name": metric, "Regex": METRIC_REGEX.format(name=re.escape(metric))}
            for metric in sorted(set(metrics))
        ]
    return spec


def training_step(build: Build, name: str) -> dict:
    body = build.steps[name]
    channels = [_channel(i.name, i.uri) for i in build.flow.inputs[name]]
    if build.isolated:
        channels.append(_channel(CODE_CHANNEL, build.code_uris[name]))
    artifacts = build.ctx.s3_uri("artifacts", "pipelines", build.component.name, name)
    output = {"S3OutputPath": artifacts}
    resources = {
        "InstanceType": body.instance_type,
        "InstanceCount": body.instance_count,
        "VolumeSizeInGB": VOLUME_SIZE_GB,
    }
    arguments: dict[str, Any] = {
        "AlgorithmSpecification": _algorithm(build, name),
        "HyperParameters": _hyperparameters(build, name),
        "OutputDataConfig": with_key(build, output, "KmsKeyId"),
        "ResourceConfig": with_volume_key(build, resources),
        "StoppingCondition": {
            "MaxRuntimeInSeconds": int(parse_duration(body.max_runtime).total_seconds())
        },
        "RoleArn": build.role_arn,
        "EnableNetworkIsolation": build.isolated,
        "EnableInterContainerTrafficEncryption": build.encrypted_traffic,
    }
    if channels:
        arguments["InputDataConfig"] = channels
    vpc = vpc_config(build)
    if vpc:
        arguments["VpcConfig"] = vpc
    if body.environment:
        arguments["Environment"] = dict(body.environment)
    return {"Name": name, "Type": "Training", "Arguments": arguments}
