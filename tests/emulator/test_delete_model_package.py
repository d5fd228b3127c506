"""DeleteModelPackage in the emulator, as AWS has it: an unversioned package by name, a version
of a model package group by ARN; once its versions are gone, the group can be deleted."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

INFERENCE = {
    "Containers": [{"Image": "sklearn", "ModelDataUrl": "file:models/churn"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


@pytest.fixture()
def sm(server):
    return boto3.client(
        "sagemaker",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def register(sm, group: str = "churn") -> str:
    return sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=INFERENCE)[
        "ModelPackageArn"
    ]


def versions(sm, group: str = "churn") -> list[int]:
    found = sm.list_model_packages(ModelPackageGroupName=group, SortOrder="Ascending")
    return [p["ModelPackageVersion"] for p in found["ModelPackageSummaryList"]]


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_a_version_is_deleted_by_its_arn_and_its_number_is_not_given_again(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arns = [register(sm) for _ in range(3)]
    sm.delete_model_package(ModelPackageName=arns[2])
    assert versions(sm) == [1, 2]
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package(ModelPackageName=arns[2])
    assert code(excinfo) == "ValidationException"
    assert register(sm).endswith("/churn/4")


def test_the_group_name_is_not_a_package_name(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    register(sm)
    with pytest.raises(ClientError) as excinfo:
        sm.delete_model_package(ModelPackageName="churn")
    assert code(excinfo) == "ValidationException"
    assert versions(sm) == [1]


def test_an_unversioned_package_is_deleted_by_name(sm):
    sm.create_model_package(ModelPackageName="standalone", InferenceSpecification=INFERENCE)
    sm.delete_model_package(ModelPackageName="standalone")
    listed = sm.list_model_packages(ModelPackageType="Unversioned")["ModelPackageSummaryList"]
    assert listed == []


def test_an_unknown_package_is_a_validation_exception(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.delete_model_package(
            ModelPackageName="arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/7"
        )
    assert code(excinfo) == "ValidationException"


def test_a_group_whose_versions_are_deleted_can_be_deleted(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    for arn in [register(sm), register(sm)]:
        sm.delete_model_package(ModelPackageName=arn)
    sm.delete_model_package_group(ModelPackageGroupName="churn")
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
