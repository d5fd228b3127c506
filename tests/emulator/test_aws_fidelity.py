"""The emulator answers as AWS documents: required output members, List* defaults (order,
page size), NextTokens, and the registry listing the SageMaker SDK reads."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from every_kind import Populated, create_endpoint, create_schedule
from test_server import client

from mlinfra.emulator.control import SUPPORTED
from mlinfra.emulator.protocol import CONTROL_SERVICE
from mlinfra.sagemaker.api import service_model

ROLE = "arn:aws:iam::123456789012:role/emulator"


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# --- required output members ----------------------------------------------------------------


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    emulator = Populated(tmp_path_factory.mktemp("populated"))
    # A monitoring execution, for DescribeProcessingJob and ListMonitoringExecutions.
    job = emulator.server.control.monitors.run_now("fz-monitor")["ProcessingJobName"]
    emulator.seeds["ProcessingJobName"] = [job]
    deadline = time.monotonic() + 30
    sm = emulator.sm
    arn = emulator.seeds["PipelineExecutionArn"][0]
    while time.monotonic() < deadline:  # both finish in well under a second
        execution = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        monitor = sm.describe_processing_job(ProcessingJobName=job)
        if execution["PipelineExecutionStatus"] != "Executing" and monitor[
            "ProcessingJobStatus"
        ] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.05)
    yield emulator
    emulator.close()


def missing_members(value, shape, where: str) -> list[str]:
    """Where `value` lacks a member its output shape marks required, at any depth."""
    found = []
    if shape.type_name == "structure" and isinstance(value, dict):
        found += [f"{where}.{name}" for name in shape.required_members if name not in value]
        for name, item in value.items():
            if name in shape.members:
                found += missing_members(item, shape.members[name], f"{where}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            found += missing_members(item, shape.member, f"{where}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            found += missing_members(item, shape.value, f"{where}[{key}]")
    return found


READS = [op for op in SUPPORTED if op.startswith(("Describe", "List"))]
# The parameter that names what a read describes, for those that take one.
SUBJECT = {
    "DescribeModel": "ModelName",
    "DescribeEndpointConfig": "EndpointConfigName",
    "DescribeEndpoint": "EndpointName",
    "DescribeModelPackageGroup": "ModelPackageGroupName",
    "DescribeModelPackage": "ModelPackageName",
    "DescribeFeatureGroup": "FeatureGroupName",
    "ListTags": "ResourceArn",
    "DescribePipeline": "PipelineName",
    "DescribePipelineExecution": "PipelineExecutionArn",
    "ListPipelineExecutions": "PipelineName",
    "ListPipelineExecutionSteps": "PipelineExecutionArn",
    "ListPipelineParametersForExecution": "PipelineExecutionArn",
    "DescribeMonitoringSchedule": "MonitoringScheduleName",
    "DescribeProcessingJob": "ProcessingJobName",
    "DescribeArtifact": "ArtifactArn",
    "DescribeAction": "ActionName",
    "DescribeContext": "ContextName",
    "DescribeExperiment": "ExperimentName",
    "DescribeTrial": "TrialName",
    "DescribeTrialComponent": "TrialComponentName",
    "DescribeTrainingJob": "TrainingJobName",
    "DescribeTransformJob": "TransformJobName",
    "DescribePipelineDefinitionForExecution": "PipelineExecutionArn",
}


@pytest.mark.parametrize("operation", READS)
def test_every_read_carries_every_member_botocore_marks_required(populated, operation):
    request = {}
    if operation in SUBJECT:
        request[SUBJECT[operation]] = populated.seeds[SUBJECT[operation]][0]
    response = populated.sm._make_api_call(operation, request)
    response.pop("ResponseMetadata")
    shape = service_model(CONTROL_SERVICE).operation_model(operation).output_shape
    assert missing_members(response, shape, operation) == []
    listed = [v for k, v in response.items() if isinstance(v, list) and k != "Tags"]
    if operation.startswith("List") and operation != "ListTags":
        assert listed and listed[0], f"{operation} listed nothing to check"


def test_every_read_is_checked():
    assert {op for op in SUPPORTED if op.startswith(("Describe", "List"))} == set(READS)
    assert len(READS) == 42


def create_offline_group(sm, **offline) -> None:
    sm.create_feature_group(
        FeatureGroupName="customers",
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="time",
        FeatureDefinitions=[
            {"FeatureName": "id", "FeatureType": "String"},
            {"FeatureName": "time", "FeatureType": "Fractional"},
        ],
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://bucket/features"}, **offline},
        RoleArn=ROLE,
    )


def test_a_feature_group_with_an_offline_store_names_its_glue_table(server):
    sm = client(server, "sagemaker")
    create_offline_group(sm)
    described = sm.describe_feature_group(FeatureGroupName="customers")
    offline = described["OfflineStoreConfig"]
    created = int(described["CreationTime"].timestamp())
    assert offline["DataCatalogConfig"] == {
        "TableName": f"customers_{created}",
        "Catalog": "AwsDataCatalog",
        "Database": "sagemaker_featurestore",
    }
    assert offline["DisableGlueTableCreation"] is False
    assert described["NextToken"] == ""
    with pytest.raises(ClientError) as excinfo:
        sm.describe_feature_group(FeatureGroupName="customers", NextToken="elsewhere")
    assert error_code(excinfo) == "ValidationException"


def test_a_disabled_glue_table_is_not_named(server):
    sm = client(server, "sagemaker")
    create_offline_group(sm, DisableGlueTableCreation=True)
    offline = sm.describe_feature_group(FeatureGroupName="customers")["OfflineStoreConfig"]
    assert "DataCatalogConfig" not in offline


# --- the registry, as the SageMaker SDK lists it -------------------------------------------


def inference() -> dict:
    return {
        "Containers": [{"Image": "sklearn", "ModelDataUrl": "file:models/churn"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


def test_versions_are_listed_oldest_first_without_a_model_package_name(server):
    sm = client(server, "sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="churn")
    for _ in range(5):
        sm.create_model_package(ModelPackageGroupName="churn", InferenceSpecification=inference())
    sm.create_model_package(ModelPackageName="standalone", InferenceSpecification=inference())
    pages = sm.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName="churn", PaginationConfig={"PageSize": 2}
    )
    summaries = [s for page in pages for s in page["ModelPackageSummaryList"]]
    assert [s["ModelPackageVersion"] for s in summaries] == [1, 2, 3, 4, 5]
    assert all("ModelPackageName" not in s for s in summaries)
    assert all(s["ModelPackageGroupName"] == "churn" for s in summaries)
    unversioned = sm.list_model_packages(ModelPackageType="Unversioned")
    assert [s["ModelPackageName"] for s in unversioned["ModelPackageSummaryList"]] == ["standalone"]
    # Describing a version still names it by its group, as AWS does.
    described = sm.describe_model_package(ModelPackageName=summaries[0]["ModelPackageArn"])
    assert described["ModelPackageName"] == "churn"
    assert described["ModelPackageStatusDetails"] == {
        "ValidationStatuses": [],
        "ImageScanStatuses": [],
    }


def test_model_package_groups_are_listed_oldest_first(server):
    sm = client(server, "sagemaker")
    for name in ("first", "second", "third"):
        sm.create_model_package_group(ModelPackageGroupName=name)
    listed = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in listed] == ["first", "second", "third"]
    newest = sm.list_model_package_groups(SortOrder="Descending")["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in newest] == ["third", "second", "first"]
    described = sm.describe_model_package_group(ModelPackageGroupName="first")
    assert described["CreatedBy"] == {}


# --- page sizes and tokens ----------------------------------------------------------------


def create_models(sm, count: int) -> None:
    for index in range(count):
        sm.create_model(
            ModelName=f"m{index:03d}",
            PrimaryContainer={"Image": "sklearn", "ModelDataUrl": "model/x"},
            ExecutionRoleArn=ROLE,
        )


def test_models_are_listed_newest_first_100_a_page(server):
    sm = client(server, "sagemaker")
    create_models(sm, 101)
    first = sm.list_models()
    assert len(first["Models"]) == 100
    assert first["Models"][0]["ModelName"] == "m100"
    rest = sm.list_models(NextToken=first["NextToken"])
    assert [m["ModelName"] for m in rest["Models"]] == ["m000"]
    assert "NextToken" not in rest


def test_monitoring_schedules_are_listed_10_a_page(server):
    sm = client(server, "sagemaker")
    create_endpoint(sm, server.control.store)
    for index in range(11):
        create_schedule(sm, server.root, f"monitor-{index:02d}")
    pages = list(sm.get_paginator("list_monitoring_schedules").paginate())
    assert [len(p["MonitoringScheduleSummaries"]) for p in pages] == [10, 1]
    names = [s["MonitoringScheduleName"] for p in pages for s in p["MonitoringScheduleSummaries"]]
    assert names == [f"monitor-{index:02d}" for index in reversed(range(11))]


def test_tags_are_listed_50_a_page(server):
    sm = client(server, "sagemaker")
    create_models(sm, 1)
    arn = sm.describe_model(ModelName="m000")["ModelArn"]
    for batch in range(2):
        sm.add_tags(
            ResourceArn=arn,
            Tags=[{"Key": f"k{batch}-{i:02d}", "Value": "v"} for i in range(30)],
        )
    first = sm.list_tags(ResourceArn=arn)
    assert len(first["Tags"]) == 50
    second = sm.list_tags(ResourceArn=arn, NextToken=first["NextToken"])
    assert len(second["Tags"]) == 10 and "NextToken" not in second
    every = [t for page in sm.get_paginator("list_tags").paginate(ResourceArn=arn)
             for t in page["Tags"]]  # fmt: skip
    assert len({t["Key"] for t in every}) == 60


def test_max_results_over_the_limit_is_refused(server):
    sm = client(server, "sagemaker")
    with pytest.raises(ClientError) as excinfo:
        sm.list_models(MaxResults=101)
    assert error_code(excinfo) == "ValidationException"
    assert "less than or equal to 100" in excinfo.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "token",
    ["garbage", "1", "-1", "2.", "99999999999999999999", "1.0000000000000000000000000"],
)
def test_a_next_token_the_emulator_did_not_issue_is_refused(server, token):
    sm = client(server, "sagemaker")
    create_models(sm, 3)
    with pytest.raises(ClientError) as excinfo:
        sm.list_models(MaxResults=1, NextToken=token)
    assert error_code(excinfo) == "ValidationException"
    assert "pagination token" in excinfo.value.response["Error"]["Message"]


def test_a_next_token_works_only_for_the_operation_that_issued_it(server):
    sm = client(server, "sagemaker")
    create_models(sm, 3)
    token = sm.list_models(MaxResults=1)["NextToken"]
    offset, _, signature = token.partition(".")
    edited = f"{int(offset) + 1}.{signature}"
    with pytest.raises(ClientError) as excinfo:
        sm.list_models(MaxResults=1, NextToken=edited)
    assert error_code(excinfo) == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        sm.list_endpoint_configs(NextToken=token)
    assert error_code(excinfo) == "ValidationException"
    assert len(sm.list_models(MaxResults=1, NextToken=token)["Models"]) == 1


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda sm: sm.list_endpoints(SortBy="Color"), "enum value set"),
        (lambda sm: sm.list_feature_groups(SortOrder="Sideways"), "enum value set"),
        (lambda sm: sm.describe_model(ModelName="a" * 64), "length less than or equal to 63"),
        (lambda sm: sm.describe_model(ModelName="bad_name"), "regular expression pattern"),
        (lambda sm: sm.create_model_package_group(ModelPackageGroupName="-x"), "pattern"),
    ],
)
def test_requests_aws_refuses_are_refused(server, call, problem):
    with pytest.raises(ClientError) as excinfo:
        call(client(server, "sagemaker"))
    assert error_code(excinfo) == "ValidationException"
    assert problem in excinfo.value.response["Error"]["Message"]


@pytest.mark.parametrize(("memory", "accepted"), [(1111, False), (5000, False), (2048, True)])
def test_serverless_memory_is_whole_gigabytes(server, memory, accepted):
    sm = client(server, "sagemaker")
    create_models(sm, 1)
    request = {
        "EndpointConfigName": "serverless",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m000",
                                "ServerlessConfig": {"MemorySizeInMB": memory,
                                                     "MaxConcurrency": 1}}],
    }  # fmt: skip
    if accepted:
        sm.create_endpoint_config(**request)
        return
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(**request)
    assert error_code(excinfo) == "ValidationException"
    assert f"Value '{memory}' at 'productionVariants.1.member.serverlessConfig.memorySizeInMB' " \
        "failed to satisfy constraint: Member must satisfy enum value set: [1024, 2048" in \
        excinfo.value.response["Error"]["Message"]  # fmt: skip
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []


def test_a_second_feature_group_of_a_name_is_resource_in_use_in_aws_words(server):
    sm = client(server, "sagemaker")
    create_offline_group(sm)
    with pytest.raises(ClientError) as excinfo:
        create_offline_group(sm)
    assert error_code(excinfo) == "ResourceInUse"
    assert excinfo.value.response["Error"]["Message"] == (
        "Resource Already Exists: FeatureGroup with name customers already exists. Choose a "
        "different name.\nInfo: Feature Group 'customers' already exists."
    )
