"""The translator from SageMaker API requests to pulumi_aws arguments: its tables name real
fields on both sides (botocore's request shapes, the installed pulumi_aws classes), and it
keeps the table's order, turns structures into typed Args and tags into a map, and refuses
a field it does not know rather than dropping it."""

from __future__ import annotations

import functools
import inspect
from types import MappingProxyType

import botocore.session
import pulumi_aws
import pytest

from mlinfra.ir.graph import Args, GraphError, Ref
from mlinfra.ir.sagemaker.fields import MODEL, NAME_ARGUMENTS, TABLES, api_name, request_of
from mlinfra.ir.sagemaker.translate import Nested, Struct, Tags, translate
from mlinfra.render.outputs import name_property
from mlinfra.sagemaker.resources import RESOURCE_TYPES


@functools.cache
def sagemaker_model():
    return botocore.session.get_session().get_service_model("sagemaker")


def pulumi_class(dotted: str) -> type:
    """`aws.sagemaker.ModelPrimaryContainerArgs` -> the class in the installed pulumi_aws."""
    _, module, name = dotted.split(".")
    return getattr(getattr(pulumi_aws, module), name)


def arguments(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self", "__self__"}


def walk(struct: Struct, shape, where: str):
    """(where, API field, its botocore shape or None, what it becomes, the pulumi class)."""
    cls = pulumi_class(struct.args) if struct.args else None
    for key, target in struct.fields.items():
        member = shape.members.get(key)
        yield where, key, member, target, cls
        if isinstance(target, Nested) and member is not None:
            inner = member.member if member.type_name == "list" else member
            yield from walk(target.struct, inner, f"{where}.{key}")


@pytest.mark.parametrize("type_", sorted(TABLES))
def test_every_field_is_in_the_api_request_and_in_pulumi_aws(type_):
    table = TABLES[type_]
    request = sagemaker_model().operation_model(table.operation).input_shape
    resource_args = arguments(pulumi_class(type_ + "Args"))
    for where, key, member, target, cls in walk(table.struct, request, table.operation):
        assert member is not None, f"{where}: {key} is not in botocore's request shape"
        name = target if isinstance(target, str) else target.name
        assert name in (arguments(cls) if cls else resource_args), f"{where}.{key} -> {name}"
        if isinstance(target, Tags):
            assert member.type_name == "list" and set(member.member.members) == {"Key", "Value"}


def test_arguments_come_in_the_tables_order_with_structures_typed_and_tags_a_map():
    request = {
        "Tags": [{"Key": "team", "Value": "growth"}],
        "PrimaryContainer": {"Environment": {"A": "1"}, "Image": "image:1"},
        "ExecutionRoleArn": Ref("model.m/role", "arn"),
        "ModelName": "m",
    }
    translated = translate(MODEL, request)
    assert list(translated) == ["name", "execution_role_arn", "primary_container", "tags"]
    container = translated["primary_container"]
    assert container == Args(
        "aws.sagemaker.ModelPrimaryContainerArgs", {"image": "image:1", "environment": {"A": "1"}}
    )
    assert list(container.fields) == ["image", "environment"]
    assert translated["tags"] == MappingProxyType({"team": "growth"})


def test_lists_of_structures_become_lists_of_args():
    table = TABLES["aws.sagemaker.FeatureGroup"]
    translated = translate(
        table, {"FeatureDefinitions": [{"FeatureName": "id", "FeatureType": "String"}]}
    )
    assert translated["feature_definitions"] == [
        Args(
            "aws.sagemaker.FeatureGroupFeatureDefinitionArgs",
            {"feature_name": "id", "feature_type": "String"},
        )
    ]


def test_a_field_the_table_does_not_know_is_refused_not_dropped():
    with pytest.raises(GraphError, match=r"aws.sagemaker.Model.PrimaryContainer.*'Mode'"):
        translate(MODEL, {"PrimaryContainer": {"Image": "i", "Mode": "SingleModel"}})
    with pytest.raises(GraphError, match="'Containers'"):
        translate(MODEL, {"Containers": []})


def test_a_list_pulumi_aws_takes_as_one_structure_must_hold_exactly_one():
    table = TABLES["aws.sagemaker.DataQualityJobDefinition"]
    output = {"S3Output": {"S3Uri": "s3://b/reports", "LocalPath": "/out"}}
    translated = translate(table, {"DataQualityJobOutputConfig": {"MonitoringOutputs": [output]}})
    outputs = translated["data_quality_job_output_config"].fields["monitoring_outputs"]
    assert outputs.type.endswith("DataQualityJobOutputConfigMonitoringOutputsArgs")
    assert outputs.fields["s3_output"].fields == {"s3_uri": "s3://b/reports", "local_path": "/out"}
    with pytest.raises(GraphError, match="exactly one"):
        translate(table, {"DataQualityJobOutputConfig": {"MonitoringOutputs": [output, output]}})


def test_the_request_is_read_back_from_the_arguments_it_was_translated_into():
    table = TABLES["aws.sagemaker.DataQualityJobDefinition"]
    request = {
        "JobDefinitionName": "churn-prod-drift",
        "DataQualityJobOutputConfig": {
            "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://b/r", "LocalPath": "/out"}}],
            "KmsKeyId": Ref("kms.key", "arn"),
        },
        "NetworkConfig": {"EnableNetworkIsolation": True, "VpcConfig": {"Subnets": ["s-1"]}},
        "Tags": [{"Key": "team", "Value": "growth"}],
    }
    arguments = translate(table, request)
    assert request_of(table.type, arguments) == request
    assert request_of("aws.s3.Bucket", {"bucket": "b"}) is None


def test_each_argument_has_the_api_name_of_its_field():
    assert api_name("aws.sagemaker.EndpointConfiguration", "kms_key_arn") == "KmsKeyId"
    data_capture = "aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs"
    assert api_name(data_capture, "kms_key_id") == "KmsKeyId"
    assert api_name(data_capture, "enable_capture") == "EnableCapture"
    assert api_name("aws.sagemaker.Model", "vpc_config") == "VpcConfig"
    assert api_name("aws.s3.BucketObjectv2", "kms_key_id") is None
    assert api_name(None, "kms_key_id") is None


def test_each_sagemaker_type_is_named_by_its_catalogue_name_field_as_translated():
    # The tables of every type the catalogue lists, each named by exactly that field.
    created = {t.operation.removeprefix("Create") for t in TABLES.values()}
    assert created & set(RESOURCE_TYPES) == set(RESOURCE_TYPES) - {"ModelPackage"}
    assert {api_name(type_, arg) for type_, arg in NAME_ARGUMENTS.items()} == {
        kind.name_field for kind in RESOURCE_TYPES.values() if kind.noun != "ModelPackage"
    }
    # What `mlinfra output` and the plan read as each resource's own name.
    assert name_property("aws.sagemaker.FeatureGroup") == "feature_group_name"
    assert name_property("aws.sagemaker.Pipeline") == "pipeline_name"
    assert name_property("aws.sagemaker.ModelPackageGroup") == "model_package_group_name"
    assert name_property("aws.sagemaker.EndpointConfiguration") == "name"
    assert name_property("aws.sagemaker.MonitoringSchedule") == "name"
    assert name_property("aws.sagemaker.DataQualityJobDefinition") == "name"
    assert name_property("aws.s3.BucketV2") == "bucket"
    assert name_property("local.FeatureGroup") == "FeatureGroupName"
