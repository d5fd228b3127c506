"""Processing steps: `python3 <script>` in SageMaker's scikit-learn image, reading its
inputs and writing one output per execution."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipeline_definition.conditions import property_file_name
from mlinfra.ir.sagemaker.pipeline_definition.images import processing_image
from mlinfra.ir.sagemaker.pipeline_definition.jobs import (
    VOLUME_SIZE_GB,
    Build,
    vpc_config,
    with_key,
    with_volume_key,
)
from mlinfra.ir.sagemaker.pipeline_definition.layout import (
    CODE_CHANNEL,
    CODE_DIR,
    INPUT_DIR,
    OUTPUT_DIR,
    PROPERTY_FILE_PATH,
)
from mlinfra.sagemaker.serving_lookup import GROUP_VARIABLE, METRICS_VARIABLE, SCRIPT_NAME
from mlinfra.sagemaker.serving_lookup import STEP_NAME as SERVING


def _processing_input(name: str, uri: Any, local_path: str) -> dict:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def processing_output_uri(ctx: LoweringContext, pipeline: str, step: str) -> dict:
    runs = ctx.s3_uri("artifacts", "pipelines", pipeline, "runs")
    return {
        "Std:Join": {"On": "/", "Values": [runs, {"Get": "Execution.PipelineExecutionId"}, step]}
    }


def _network_config(build: Build) -> dict:
    config: dict[str, Any] = {
        "EnableInterContainerTrafficEncryption": build.encrypted_traffic,
        "EnableNetworkIsolation": build.isolated,
    }
    vpc = vpc_config(build)
    if vpc:
        config["VpcConfig"] = vpc
    return config


def _output(build: Build, name: str) -> dict:
    """The step's one output: `OUTPUT_DIR`, uploaded to this execution's folder of it."""
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {
            "S3Uri": processing_output_uri(build.ctx, build.component.name, name),
            "LocalPath": OUTPUT_DIR,
            "S3UploadMode": "EndOfJob",
        },
    }


def _property_files(name: str) -> list[dict]:
    """The metrics file conditions read, `PROPERTY_FILE_PATH` in the step's output."""
    return [
        {
            "PropertyFileName": property_file_name(name),
            "OutputName": name,
            "FilePath": PROPERTY_FILE_PATH,
        }
    ]


def processing_step(build: Build, name: str) -> dict:
    body = build.steps[name]
    script = PurePosixPath(body.script).name
    inputs = [
        _processing_input(i.name, i.uri, f"{INPUT_DIR}/{i.name}") for i in build.flow.inputs[name]
    ]
    inputs.append(_processing_input(CODE_CHANNEL, build.code_uris[name], CODE_DIR))
    output = _output(build, name)
    cluster = {
        "InstanceType": body.instance_type,
        "InstanceCount": body.instance_count,
        "VolumeSizeInGB": VOLUME_SIZE_GB,
    }
    arguments = {
        "ProcessingResources": {"ClusterConfig": with_volume_key(build, cluster)},
        "AppSpecification": {
            "ImageUri": processing_image(build.ctx, build.component, body.instance_type),
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{script}"],
        },
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": with_key(build, {"Outputs": [output]}, "KmsKeyId"),
        # The layout is mlinfra's, so its variables win over the step's own.
        "Environment": {
            **dict(body.environment),
            "MLINFRA_PROCESSING_INPUT": INPUT_DIR,
            "MLINFRA_PROCESSING_OUTPUT": OUTPUT_DIR,
        },
        "NetworkConfig": _network_config(build),
        "RoleArn": build.role_arn,
    }
    step: dict[str, Any] = {"Name": name, "Type": "Processing", "Arguments": arguments}
    if name in build.metric_reads:
        step["PropertyFiles"] = _property_files(name)
    return step


# The lookup reads two API answers and a small report: the smallest processing instance.
SERVING_INSTANCE_TYPE = "ml.t3.medium"


def serving_step(build: Build, group: Any, metrics: list[str]) -> dict:
    """The `serving` step: the metrics of the version of registry group `group` that serves
    now, as the property file a `when:` reading `serving.metrics.NAME` gets them from
    (`mlinfra.sagemaker.serving_lookup`). It asks SageMaker and S3, so it cannot run
    network-isolated; in the environment's VPC, its endpoints decide what it reaches."""
    name = SERVING
    output = _output(build, name)
    cluster = {
        "InstanceType": SERVING_INSTANCE_TYPE,
        "InstanceCount": 1,
        "VolumeSizeInGB": VOLUME_SIZE_GB,
    }
    network = {**_network_config(build), "EnableNetworkIsolation": False}
    arguments = {
        "ProcessingResources": {"ClusterConfig": with_volume_key(build, cluster)},
        "AppSpecification": {
            "ImageUri": processing_image(build.ctx, build.component, SERVING_INSTANCE_TYPE),
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{SCRIPT_NAME}"],
        },
        "ProcessingInputs": [_processing_input(CODE_CHANNEL, build.code_uris[name], CODE_DIR)],
        "ProcessingOutputConfig": with_key(build, {"Outputs": [output]}, "KmsKeyId"),
        "Environment": {
            GROUP_VARIABLE: group,
            METRICS_VARIABLE: ",".join(metrics),
            "MLINFRA_PROCESSING_OUTPUT": OUTPUT_DIR,
        },
        "NetworkConfig": network,
        "RoleArn": build.role_arn,
    }
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": arguments,
        "PropertyFiles": _property_files(name),
    }
