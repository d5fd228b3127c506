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


def processing_step(build: Build, name: str) -> dict:
    body = build.steps[name]
    script = PurePosixPath(body.script).name
    inputs = [
        _processing_input(i.name, i.uri, f"{INPUT_DIR}/{i.name}") for i in build.flow.inputs[name]
    ]
    inputs.append(_processing_input(CODE_CHANNEL, build.code_uris[name], CODE_DIR))
    output = {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {
            "S3Uri": processing_output_uri(build.ctx, build.component.name, name),
            "LocalPath": OUTPUT_DIR,
            "S3UploadMode": "EndOfJob",
        },
    }
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
        step["PropertyFiles"] = [
            {
                "PropertyFileName": property_file_name(name),
                "OutputName": name,
                "FilePath": PROPERTY_FILE_PATH,
            }
        ]
    return step
