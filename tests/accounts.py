"""AWS account states made in moto (a helper module, not tests): registry groups with
versions in given approval states, and endpoints serving a version as an earlier apply
made them (model, configuration, endpoint).

moto has no UpdateEndpoint: an endpoint whose update SageMaker rolled back, or that failed,
is made by setting on moto's own endpoint what DescribeEndpoint then answers
(`describe_as`).
"""

from __future__ import annotations

from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's
# Any version's container: moto stores it, mlinfra never reads it.
INFERENCE = {
    "Containers": [{"Image": "1.dkr.ecr.us-east-1.amazonaws.com/x:1", "ModelDataUrl": "s3://b/k"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


def register(region: str, group: str, *statuses: str) -> list[str]:
    """Versions 1, 2... of `group` (created if needed) with these approval statuses, in
    that order; their ARNs."""
    client = boto3.client("sagemaker", region_name=region)
    groups = client.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if group not in {g["ModelPackageGroupName"] for g in groups}:
        client.create_model_package_group(ModelPackageGroupName=group)
    return [
        client.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification=INFERENCE,
        )["ModelPackageArn"]
        for status in statuses
    ]


def set_status(region: str, arn: str, status: str) -> None:
    boto3.client("sagemaker", region_name=region).update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status
    )


def serve(region: str, endpoint: str, package_arn: str, suffix: str = "v1") -> str:
    """An endpoint `endpoint` in service, serving registered version `package_arn` through a
    model and configuration as an earlier apply made them; the configuration's name."""
    client = boto3.client("sagemaker", region_name=region)
    model = f"{endpoint}-model-{suffix}"
    client.create_model(
        ModelName=model,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
        PrimaryContainer={"ModelPackageName": package_arn},
    )
    config = f"{endpoint}-{suffix}"
    client.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    return config


def describe_as(region: str, endpoint: str, **answers: Any) -> None:
    """Make DescribeEndpoint of `endpoint` answer these fields (snake_case:
    `endpoint_config_name`, `endpoint_status`, `failure_reason`, `last_deployment_config`)."""
    from moto.sagemaker.models import sagemaker_backends

    found = sagemaker_backends[ACCOUNT][region].endpoints[endpoint]
    for name, value in answers.items():
        setattr(found, name, value)
