"""The emulator's SageMaker control plane, driven by real boto3 clients over HTTP."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from mlinfra.emulator.access import Access
from mlinfra.emulator.server import EmulatorServer
from mlinfra.engines.providers.local import LocalProvider, ProviderError
from mlinfra.sagemaker import registry

ROLE = "arn:aws:iam::123456789012:role/emulator"


def client(server: EmulatorServer, service: str = "sagemaker", region="us-east-1", config=None):
    return Access.for_server(server, region).client(service, config=config)


@pytest.fixture()
def sm(server):
    return client(server)


def create_model(sm, name: str, url: str = "model/not-yet-trained") -> dict:
    return sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": url},
        ExecutionRoleArn=ROLE,
    )


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# --- models -----------------------------------------------------------------------------


def test_model_lifecycle_create_describe_list_delete(sm):
    arn = create_model(sm, "churn")["ModelArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:model/churn"
    described = sm.describe_model(ModelName="churn")
    assert described["ModelArn"] == arn
    assert described["PrimaryContainer"]["ModelDataUrl"] == "model/not-yet-trained"
    assert described["ExecutionRoleArn"] == ROLE
    assert described["CreationTime"].timestamp() > 0
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["churn"]
    sm.delete_model(ModelName="churn")
    assert sm.list_models()["Models"] == []


def test_describing_an_unknown_model_raises_validation_exception(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model(ModelName="missing")
    assert error_code(excinfo) == "ValidationException"
    assert "Could not find model" in excinfo.value.response["Error"]["Message"]


def test_deleting_an_unknown_model_raises_validation_exception(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.delete_model(ModelName="missing")
    assert error_code(excinfo) == "ValidationException"


def test_a_duplicate_model_name_is_refused(sm):
    create_model(sm, "churn")
    with pytest.raises(ClientError) as excinfo:
        create_model(sm, "churn")
    assert error_code(excinfo) == "ValidationException"
    assert "already existing" in excinfo.value.response["Error"]["Message"]


def test_a_parameter_of_the_wrong_type_is_refused_naming_it(server):
    # Client-side validation off, so the server itself must refuse what boto3 would.
    raw = client(server, config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as excinfo:
        raw.create_model(ModelName=42, PrimaryContainer={"Image": "x"}, ExecutionRoleArn=ROLE)
    assert error_code(excinfo) == "ValidationException"
    assert "ModelName" in excinfo.value.response["Error"]["Message"]


def test_a_missing_required_parameter_is_refused_naming_it(server):
    raw = client(server, config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as excinfo:
        raw.describe_model()
    assert error_code(excinfo) == "ValidationException"
    assert "ModelName" in excinfo.value.response["Error"]["Message"]


def test_boto3_and_the_emulator_refuse_the_same_request(sm):
    with pytest.raises(ParamValidationError):
        sm.describe_model(ModelName=42)


def test_list_models_sorts_filters_and_paginates(sm):
    for name in ["m-c", "m-a", "m-e", "m-b", "m-d", "other"]:
        create_model(sm, name)
    first = sm.list_models(SortBy="Name", SortOrder="Ascending", NameContains="m-", MaxResults=2)
    assert [m["ModelName"] for m in first["Models"]] == ["m-a", "m-b"]
    assert "NextToken" in first
    pages = sm.get_paginator("list_models").paginate(
        SortBy="Name", SortOrder="Ascending", NameContains="m-", PaginationConfig={"PageSize": 2}
    )
    names = [m["ModelName"] for page in pages for m in page["Models"]]
    assert names == ["m-a", "m-b", "m-c", "m-d", "m-e"]
    newest_first = [m["ModelName"] for m in sm.list_models()["Models"]]
    assert newest_first == ["other", "m-d", "m-b", "m-e", "m-a", "m-c"]


def test_an_invalid_pagination_token_is_refused(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.list_models(NextToken="garbage")
    assert error_code(excinfo) == "ValidationException"


def test_arns_carry_the_region_the_request_was_signed_for(server):
    sm = client(server, region="eu-west-1")
    arn = create_model(sm, "churn")["ModelArn"]
    assert arn.startswith("arn:aws:sagemaker:eu-west-1:123456789012:model/")


# --- endpoint configs and endpoints ----------------------------------------------------


def create_config(sm, name: str, model: str, capture: bool = False) -> str:
    extra = {}
    if capture:
        extra["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://bucket/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    return sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
        **extra,
    )["EndpointConfigArn"]


def test_a_capture_config_without_its_sampling_percentage_is_refused(server):
    # The emulator has no default of its own for it: the API requires it, as the spec's
    # schema fills it in (data_capture.sampling_percent) before mlinfra sends the request.
    raw = client(server, config=Config(parameter_validation=False))
    create_model(raw, "churn")
    with pytest.raises(ClientError) as excinfo:
        raw.create_endpoint_config(
            EndpointConfigName="churn-cfg",
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": "churn", "InitialInstanceCount": 1}
            ],
            DataCaptureConfig={
                "DestinationS3Uri": "s3://bucket/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}],
            },
        )
    assert error_code(excinfo) == "ValidationException"
    assert "InitialSamplingPercentage" in excinfo.value.response["Error"]["Message"]
    assert raw.list_endpoint_configs()["EndpointConfigs"] == []


def test_endpoint_config_lifecycle(sm):
    create_model(sm, "churn")
    arn = create_config(sm, "churn-cfg", "churn", capture=True)
    assert arn.endswith(":endpoint-config/churn-cfg")
    described = sm.describe_endpoint_config(EndpointConfigName="churn-cfg")
    assert described["ProductionVariants"][0]["ModelName"] == "churn"
    assert described["DataCaptureConfig"]["InitialSamplingPercentage"] == 100
    names = [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]]
    assert names == ["churn-cfg"]
    sm.delete_endpoint_config(EndpointConfigName="churn-cfg")
    with pytest.raises(ClientError) as excinfo:
        sm.describe_endpoint_config(EndpointConfigName="churn-cfg")
    assert error_code(excinfo) == "ValidationException"


def test_an_endpoint_config_naming_an_unknown_model_is_refused(sm):
    with pytest.raises(ClientError) as excinfo:
        create_config(sm, "cfg", "missing")
    assert error_code(excinfo) == "ValidationException"
    assert "Could not find model" in excinfo.value.response["Error"]["Message"]


def test_a_duplicate_endpoint_config_is_refused(sm):
    create_model(sm, "churn")
    create_config(sm, "cfg", "churn")
    with pytest.raises(ClientError) as excinfo:
        create_config(sm, "cfg", "churn")
    assert error_code(excinfo) == "ValidationException"


def test_an_endpoint_on_s3_model_data_fails_with_a_clear_reason(sm):
    create_model(sm, "remote", url="s3://bucket/model.tar.gz")
    create_config(sm, "cfg", "remote")
    sm.create_endpoint(EndpointName="api", EndpointConfigName="cfg")
    described = sm.describe_endpoint(EndpointName="api")
    assert described["EndpointStatus"] == "Failed"
    assert "s3://bucket/model.tar.gz" in described["FailureReason"]
    assert "local" in described["FailureReason"]


def test_an_endpoint_serves_a_local_model_and_goes_in_service(sm, model_dir, server):
    create_model(sm, "churn", url=f"file://{model_dir}")
    create_config(sm, "cfg", "churn", capture=True)
    arn = sm.create_endpoint(EndpointName="churn-api", EndpointConfigName="cfg")["EndpointArn"]
    assert arn.endswith(":endpoint/churn-api")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="churn-api", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    described = sm.describe_endpoint(EndpointName="churn-api")
    assert described["EndpointConfigName"] == "cfg"
    assert described["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert described["DataCaptureConfig"]["CaptureStatus"] == "Started"
    listed = sm.list_endpoints(StatusEquals="InService")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == ["churn-api"]


def test_update_endpoint_switches_config_and_delete_removes_it(sm, model_dir):
    create_model(sm, "churn", url=str(model_dir))
    create_config(sm, "cfg-1", "churn")
    create_config(sm, "cfg-2", "churn")
    sm.create_endpoint(EndpointName="api", EndpointConfigName="cfg-1")
    sm.update_endpoint(EndpointName="api", EndpointConfigName="cfg-2")
    described = sm.describe_endpoint(EndpointName="api")
    assert described["EndpointConfigName"] == "cfg-2"
    assert described["EndpointStatus"] == "InService"
    sm.delete_endpoint(EndpointName="api")
    with pytest.raises(ClientError) as excinfo:
        sm.describe_endpoint(EndpointName="api")
    assert error_code(excinfo) == "ValidationException"
    assert sm.list_endpoints()["Endpoints"] == []


def test_an_endpoint_on_an_unknown_config_is_refused(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint(EndpointName="api", EndpointConfigName="missing")
    assert error_code(excinfo) == "ValidationException"


def test_a_model_from_the_registry_is_served_through_its_package(sm, model_dir):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    package = sm.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification=package_inference(str(model_dir)),
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    sm.create_model(
        ModelName="from-registry",
        PrimaryContainer={"ModelPackageName": package},
        ExecutionRoleArn=ROLE,
    )
    create_config(sm, "cfg", "from-registry")
    sm.create_endpoint(EndpointName="api", EndpointConfigName="cfg")
    assert sm.describe_endpoint(EndpointName="api")["EndpointStatus"] == "InService"


# --- model registry ----------------------------------------------------------------------


def package_inference(url: str = "file:models/churn") -> dict:
    return {
        "Containers": [{"Image": "sklearn", "ModelDataUrl": url}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


def test_model_package_group_lifecycle(sm):
    arn = sm.create_model_package_group(
        ModelPackageGroupName="churn", ModelPackageGroupDescription="churn models"
    )["ModelPackageGroupArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn"
    described = sm.describe_model_package_group(ModelPackageGroupName="churn")
    assert described["ModelPackageGroupStatus"] == "Completed"
    assert described["ModelPackageGroupDescription"] == "churn models"
    groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["churn"]
    sm.delete_model_package_group(ModelPackageGroupName="churn")
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package_group(ModelPackageGroupName="churn")
    assert error_code(excinfo) == "ValidationException"


def test_a_duplicate_model_package_group_is_refused(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    with pytest.raises(ClientError) as excinfo:
        sm.create_model_package_group(ModelPackageGroupName="churn")
    assert error_code(excinfo) == "ValidationException"


def test_a_group_with_packages_cannot_be_deleted(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    sm.create_model_package(
        ModelPackageGroupName="churn", InferenceSpecification=package_inference()
    )
    with pytest.raises(ClientError) as excinfo:
        sm.delete_model_package_group(ModelPackageGroupName="churn")
    assert error_code(excinfo) == "ConflictException"


def test_model_packages_are_numbered_per_group(sm):
    sm.create_model_package_group(ModelPackageGroupName="a")
    sm.create_model_package_group(ModelPackageGroupName="b")
    arns = [
        sm.create_model_package(
            ModelPackageGroupName=group, InferenceSpecification=package_inference()
        )["ModelPackageArn"]
        for group in ["a", "a", "b", "a"]
    ]
    assert [arn.rsplit(":model-package/", 1)[1] for arn in arns] == ["a/1", "a/2", "b/1", "a/3"]
    described = sm.describe_model_package(ModelPackageName=arns[1])
    assert described["ModelPackageVersion"] == 2
    assert described["ModelPackageGroupName"] == "a"
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["InferenceSpecification"]["Containers"][0]["Image"] == "sklearn"


def test_a_package_in_an_unknown_group_is_refused(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.create_model_package(
            ModelPackageGroupName="missing", InferenceSpecification=package_inference()
        )
    assert error_code(excinfo) == "ValidationException"


def test_describing_an_unknown_package_raises_validation_exception(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package(ModelPackageName="churn/9")
    assert error_code(excinfo) == "ValidationException"


def test_list_model_packages_filters_sorts_and_paginates(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    sm.create_model_package_group(ModelPackageGroupName="other")
    statuses = ["Approved", "Rejected", "Approved", "PendingManualApproval", "Approved"]
    for status in statuses:
        sm.create_model_package(
            ModelPackageGroupName="churn",
            InferenceSpecification=package_inference(),
            ModelApprovalStatus=status,
        )
    sm.create_model_package(
        ModelPackageGroupName="other",
        InferenceSpecification=package_inference(),
        ModelApprovalStatus="Approved",
    )
    approved = sm.list_model_packages(
        ModelPackageGroupName="churn", ModelApprovalStatus="Approved", SortOrder="Ascending"
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in approved] == [1, 3, 5]
    pages = sm.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName="churn",
        SortBy="CreationTime",
        SortOrder="Descending",
        PaginationConfig={"PageSize": 2},
    )
    versions = [p["ModelPackageVersion"] for page in pages for p in page["ModelPackageSummaryList"]]
    assert versions == [5, 4, 3, 2, 1]


def test_approval_flow_drives_latest_approved(sm, server):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arns = [
        sm.create_model_package(
            ModelPackageGroupName="churn", InferenceSpecification=package_inference()
        )["ModelPackageArn"]
        for _ in range(3)
    ]

    def latest(group):
        listed = sm.list_model_packages(**registry.latest_approved(group))
        return [s["ModelPackageArn"] for s in listed["ModelPackageSummaryList"]]

    assert latest("churn") == []
    sm.update_model_package(ModelPackageArn=arns[0], ModelApprovalStatus="Approved")
    sm.update_model_package(
        ModelPackageArn=arns[1], ModelApprovalStatus="Approved", ApprovalDescription="better"
    )
    described = sm.describe_model_package(ModelPackageName=arns[1])
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "better"
    assert latest("churn") == [arns[1]]
    sm.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Rejected")
    assert latest("churn") == [arns[0]]
    provider = LocalProvider(sm)
    assert provider.call("latest_approved_model_package", ("churn",)) == arns[0]
    assert provider.call("latest_approved_version", ("churn",)) == "1"
    with pytest.raises(ProviderError, match="'missing' has no approved version"):
        provider.call("latest_approved_model_package", ("missing",))


# --- feature groups ----------------------------------------------------------------------


def create_feature_group(sm, name: str = "customers") -> str:
    return sm.create_feature_group(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "customer_id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "Fractional"},
            {"FeatureName": "tenure_months", "FeatureType": "Integral"},
            {"FeatureName": "monthly_charges", "FeatureType": "Fractional"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
        RoleArn=ROLE,
    )["FeatureGroupArn"]


def test_feature_group_lifecycle(sm):
    arn = create_feature_group(sm)
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:feature-group/customers"
    described = sm.describe_feature_group(FeatureGroupName="customers")
    assert described["FeatureGroupStatus"] == "Created"
    assert described["RecordIdentifierFeatureName"] == "customer_id"
    assert len(described["FeatureDefinitions"]) == 4
    summaries = sm.list_feature_groups()["FeatureGroupSummaries"]
    assert [s["FeatureGroupName"] for s in summaries] == ["customers"]
    sm.delete_feature_group(FeatureGroupName="customers")
    assert sm.list_feature_groups()["FeatureGroupSummaries"] == []


def test_a_duplicate_feature_group_is_resource_in_use(sm):
    create_feature_group(sm)
    with pytest.raises(ClientError) as excinfo:
        create_feature_group(sm)
    assert error_code(excinfo) == "ResourceInUse"


def test_an_unknown_feature_group_is_resource_not_found(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.describe_feature_group(FeatureGroupName="missing")
    assert error_code(excinfo) == "ResourceNotFound"
    with pytest.raises(ClientError) as excinfo:
        sm.delete_feature_group(FeatureGroupName="missing")
    assert error_code(excinfo) == "ResourceNotFound"


def test_an_invalid_feature_group_is_refused(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.create_feature_group(
            FeatureGroupName="bad",
            RecordIdentifierFeatureName="id",
            EventTimeFeatureName="missing",
            FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"}],
            OnlineStoreConfig={"EnableOnlineStore": True},
        )
    assert error_code(excinfo) == "ValidationException"


# --- unsupported --------------------------------------------------------------------------


def test_an_unsupported_operation_is_named_as_unsupported(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.list_compilation_jobs()
    assert error_code(excinfo) == "UnknownOperationException"
    assert "ListCompilationJobs" in excinfo.value.response["Error"]["Message"]
    assert "not supported" in excinfo.value.response["Error"]["Message"]


def test_list_models_filters_by_creation_time(sm):
    create_model(sm, "old")
    # The wire carries epoch seconds; keep the cutoff clear of microsecond rounding.
    cutoff = sm.describe_model(ModelName="old")["CreationTime"] + timedelta(milliseconds=50)
    time.sleep(0.1)
    create_model(sm, "new")
    after = sm.list_models(CreationTimeAfter=cutoff)["Models"]
    assert [m["ModelName"] for m in after] == ["new"]
    before = sm.list_models(CreationTimeBefore=cutoff)["Models"]
    assert [m["ModelName"] for m in before] == ["old"]
