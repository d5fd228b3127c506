"""The field tables of the translator: each SageMaker API request field and the `pulumi_aws`
argument it becomes, per resource type.

The names are pulumi_aws's (generated from the Terraform provider's schema, e.g.
`resource_aws_sagemaker_endpoint_configuration.go`, where an endpoint configuration's
`KmsKeyId` is `kms_key_arn`); `tests/ir/test_translate.py` checks every one against the
installed pulumi_aws classes and every API field against botocore's request shapes. Each
table lists its fields in the order the rendered programs write them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from mlinfra.ir.sagemaker.translate import TAGS, Nested, Struct, Tags, nested, resource, untranslate
from mlinfra.sagemaker.resources import RESOURCE_TYPES

_SM = "aws.sagemaker."

MODEL = resource(
    _SM + "Model",
    "CreateModel",
    {
        "ModelName": "name",
        "ExecutionRoleArn": "execution_role_arn",
        "PrimaryContainer": nested(
            "primary_container",
            _SM + "ModelPrimaryContainerArgs",
            {
                "Image": "image",
                "ModelDataUrl": "model_data_url",
                "ModelPackageName": "model_package_name",
                "Environment": "environment",
            },
        ),
        "EnableNetworkIsolation": "enable_network_isolation",
        "VpcConfig": nested(
            "vpc_config",
            _SM + "ModelVpcConfigArgs",
            {"Subnets": "subnets", "SecurityGroupIds": "security_group_ids"},
        ),
        "Tags": TAGS,
    },
)

MODEL_PACKAGE_GROUP = resource(
    _SM + "ModelPackageGroup",
    "CreateModelPackageGroup",
    {
        "ModelPackageGroupName": "model_package_group_name",
        "ModelPackageGroupDescription": "model_package_group_description",
        "Tags": TAGS,
    },
)

ENDPOINT_CONFIGURATION = resource(
    _SM + "EndpointConfiguration",
    "CreateEndpointConfig",
    {
        "EndpointConfigName": "name",
        "ProductionVariants": nested(
            "production_variants",
            _SM + "EndpointConfigurationProductionVariantArgs",
            {
                "VariantName": "variant_name",
                "ModelName": "model_name",
                "InitialInstanceCount": "initial_instance_count",
                "InstanceType": "instance_type",
                "InitialVariantWeight": "initial_variant_weight",
            },
        ),
        "KmsKeyId": "kms_key_arn",
        "DataCaptureConfig": nested(
            "data_capture_config",
            _SM + "EndpointConfigurationDataCaptureConfigArgs",
            {
                "EnableCapture": "enable_capture",
                "InitialSamplingPercentage": "initial_sampling_percentage",
                "DestinationS3Uri": "destination_s3_uri",
                "CaptureOptions": nested(
                    "capture_options",
                    _SM + "EndpointConfigurationDataCaptureConfigCaptureOptionArgs",
                    {"CaptureMode": "capture_mode"},
                ),
                "KmsKeyId": "kms_key_id",
            },
        ),
        "Tags": TAGS,
    },
)

_ROUTING = _SM + "EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfiguration"
_CAPACITY = {"Type": "type", "Value": "value"}
ENDPOINT = resource(
    _SM + "Endpoint",
    "CreateEndpoint",
    {
        "EndpointName": "name",
        "EndpointConfigName": "endpoint_config_name",
        "DeploymentConfig": nested(
            "deployment_config",
            _SM + "EndpointDeploymentConfigArgs",
            {
                "BlueGreenUpdatePolicy": nested(
                    "blue_green_update_policy",
                    _SM + "EndpointDeploymentConfigBlueGreenUpdatePolicyArgs",
                    {
                        "TrafficRoutingConfiguration": nested(
                            "traffic_routing_configuration",
                            _ROUTING + "Args",
                            {
                                "Type": "type",
                                "WaitIntervalInSeconds": "wait_interval_in_seconds",
                                "CanarySize": nested(
                                    "canary_size", _ROUTING + "CanarySizeArgs", _CAPACITY
                                ),
                                "LinearStepSize": nested(
                                    "linear_step_size", _ROUTING + "LinearStepSizeArgs", _CAPACITY
                                ),
                            },
                        )
                    },
                ),
                "AutoRollbackConfiguration": nested(
                    "auto_rollback_configuration",
                    _SM + "EndpointDeploymentConfigAutoRollbackConfigurationArgs",
                    {
                        "Alarms": nested(
                            "alarms",
                            _SM + "EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs",
                            {"AlarmName": "alarm_name"},
                        )
                    },
                ),
            },
        ),
        "Tags": TAGS,
    },
)

FEATURE_GROUP = resource(
    _SM + "FeatureGroup",
    "CreateFeatureGroup",
    {
        "FeatureGroupName": "feature_group_name",
        "RecordIdentifierFeatureName": "record_identifier_feature_name",
        "EventTimeFeatureName": "event_time_feature_name",
        "FeatureDefinitions": nested(
            "feature_definitions",
            _SM + "FeatureGroupFeatureDefinitionArgs",
            {"FeatureName": "feature_name", "FeatureType": "feature_type"},
        ),
        "OnlineStoreConfig": nested(
            "online_store_config",
            _SM + "FeatureGroupOnlineStoreConfigArgs",
            {
                "EnableOnlineStore": "enable_online_store",
                "SecurityConfig": nested(
                    "security_config",
                    _SM + "FeatureGroupOnlineStoreConfigSecurityConfigArgs",
                    {"KmsKeyId": "kms_key_id"},
                ),
                "TtlDuration": nested(
                    "ttl_duration",
                    _SM + "FeatureGroupOnlineStoreConfigTtlDurationArgs",
                    {"Unit": "unit", "Value": "value"},
                ),
            },
        ),
        "ThroughputConfig": nested(
            "throughput_config",
            _SM + "FeatureGroupThroughputConfigArgs",
            {
                "ThroughputMode": "throughput_mode",
                "ProvisionedReadCapacityUnits": "provisioned_read_capacity_units",
                "ProvisionedWriteCapacityUnits": "provisioned_write_capacity_units",
            },
        ),
        "OfflineStoreConfig": nested(
            "offline_store_config",
            _SM + "FeatureGroupOfflineStoreConfigArgs",
            {
                "S3StorageConfig": nested(
                    "s3_storage_config",
                    _SM + "FeatureGroupOfflineStoreConfigS3StorageConfigArgs",
                    {"S3Uri": "s3_uri", "KmsKeyId": "kms_key_id"},
                ),
                "TableFormat": "table_format",
                "DisableGlueTableCreation": "disable_glue_table_creation",
            },
        ),
        "RoleArn": "role_arn",
        "Description": "description",
        "Tags": TAGS,
    },
)

PIPELINE = resource(
    _SM + "Pipeline",
    "CreatePipeline",
    {
        "PipelineName": "pipeline_name",
        "PipelineDisplayName": "pipeline_display_name",
        "RoleArn": "role_arn",
        "PipelineDefinition": "pipeline_definition",
        "PipelineDescription": "pipeline_description",
        "Tags": TAGS,
    },
)

_DQ = _SM + "DataQualityJobDefinition"
_OUTPUTS = _DQ + "DataQualityJobOutputConfigMonitoringOutputs"
DATA_QUALITY_JOB_DEFINITION = resource(
    _DQ,
    "CreateDataQualityJobDefinition",
    {
        "JobDefinitionName": "name",
        "DataQualityAppSpecification": nested(
            "data_quality_app_specification",
            _DQ + "DataQualityAppSpecificationArgs",
            {"ImageUri": "image_uri", "Environment": "environment"},
        ),
        "DataQualityBaselineConfig": nested(
            "data_quality_baseline_config",
            _DQ + "DataQualityBaselineConfigArgs",
            {
                "ConstraintsResource": nested(
                    "constraints_resource",
                    _DQ + "DataQualityBaselineConfigConstraintsResourceArgs",
                    {"S3Uri": "s3_uri"},
                ),
                "StatisticsResource": nested(
                    "statistics_resource",
                    _DQ + "DataQualityBaselineConfigStatisticsResourceArgs",
                    {"S3Uri": "s3_uri"},
                ),
            },
        ),
        "DataQualityJobInput": nested(
            "data_quality_job_input",
            _DQ + "DataQualityJobInputArgs",
            {
                "EndpointInput": nested(
                    "endpoint_input",
                    _DQ + "DataQualityJobInputEndpointInputArgs",
                    {
                        "EndpointName": "endpoint_name",
                        "LocalPath": "local_path",
                        "S3DataDistributionType": "s3_data_distribution_type",
                        "S3InputMode": "s3_input_mode",
                    },
                )
            },
        ),
        "DataQualityJobOutputConfig": nested(
            "data_quality_job_output_config",
            _DQ + "DataQualityJobOutputConfigArgs",
            {
                "MonitoringOutputs": nested(
                    "monitoring_outputs",
                    _OUTPUTS + "Args",
                    {
                        "S3Output": nested(
                            "s3_output",
                            _OUTPUTS + "S3OutputArgs",
                            {
                                "S3Uri": "s3_uri",
                                "LocalPath": "local_path",
                                "S3UploadMode": "s3_upload_mode",
                            },
                        )
                    },
                    single=True,
                ),
                "KmsKeyId": "kms_key_id",
            },
        ),
        "JobResources": nested(
            "job_resources",
            _DQ + "JobResourcesArgs",
            {
                "ClusterConfig": nested(
                    "cluster_config",
                    _DQ + "JobResourcesClusterConfigArgs",
                    {
                        "InstanceCount": "instance_count",
                        "InstanceType": "instance_type",
                        "VolumeSizeInGB": "volume_size_in_gb",
                        "VolumeKmsKeyId": "volume_kms_key_id",
                    },
                )
            },
        ),
        "NetworkConfig": nested(
            "network_config",
            _DQ + "NetworkConfigArgs",
            {
                "EnableNetworkIsolation": "enable_network_isolation",
                "EnableInterContainerTrafficEncryption": (
                    "enable_inter_container_traffic_encryption"
                ),
                "VpcConfig": nested(
                    "vpc_config",
                    _DQ + "NetworkConfigVpcConfigArgs",
                    {"SecurityGroupIds": "security_group_ids", "Subnets": "subnets"},
                ),
            },
        ),
        "RoleArn": "role_arn",
        "StoppingCondition": nested(
            "stopping_condition",
            _DQ + "StoppingConditionArgs",
            {"MaxRuntimeInSeconds": "max_runtime_in_seconds"},
        ),
        "Tags": TAGS,
    },
)

_SCHEDULE = _SM + "MonitoringScheduleMonitoringScheduleConfig"
MONITORING_SCHEDULE = resource(
    _SM + "MonitoringSchedule",
    "CreateMonitoringSchedule",
    {
        "MonitoringScheduleName": "name",
        "MonitoringScheduleConfig": nested(
            "monitoring_schedule_config",
            _SCHEDULE + "Args",
            {
                "MonitoringJobDefinitionName": "monitoring_job_definition_name",
                "MonitoringType": "monitoring_type",
                "ScheduleConfig": nested(
                    "schedule_config",
                    _SCHEDULE + "ScheduleConfigArgs",
                    {"ScheduleExpression": "schedule_expression"},
                ),
            },
        ),
        "Tags": TAGS,
    },
)

TABLES = {
    table.type: table
    for table in (
        MODEL,
        MODEL_PACKAGE_GROUP,
        ENDPOINT_CONFIGURATION,
        ENDPOINT,
        FEATURE_GROUP,
        PIPELINE,
        DATA_QUALITY_JOB_DEFINITION,
        MONITORING_SCHEDULE,
    )
}


# The pulumi_aws argument that holds each resource's own name: the catalogue's name field of
# the type its table creates (`Create<noun>`), as the table translates it.
NAME_ARGUMENTS: Mapping[str, str] = MappingProxyType(
    {
        table.type: table.struct.fields[kind.name_field]
        for table in TABLES.values()
        if (kind := RESOURCE_TYPES.get(table.operation.removeprefix("Create"))) is not None
    }
)


def request_of(type_: str, properties: Mapping[str, Any]) -> dict[str, Any] | None:
    """The SageMaker API request of a SageMaker target's resource (None for a type the
    tables do not translate: S3, IAM, KMS, CloudWatch...)."""
    table = TABLES.get(type_)
    return untranslate(table, properties) if table is not None else None


def api_name(owner: str | None, argument: str) -> str | None:
    """The SageMaker API's name of pulumi_aws argument `argument` of `owner` (a resource type
    or an `...Args` class of the tables), or None where the tables do not translate it.

    Readers of the IR (the security judge, the audit's rules) compare SageMaker settings in
    the API's one spelling through this, whichever target's resource they read.
    """
    return _api_names().get((owner, argument)) if owner is not None else None


@functools.cache
def _api_names() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}

    def walk(owner: str, struct: Struct) -> None:
        for key, target in struct.fields.items():
            if isinstance(target, str):
                found[owner, target] = key
            elif isinstance(target, Tags):
                found[owner, target.name] = key
            elif isinstance(target, Nested):
                found[owner, target.name] = key
                walk(target.struct.args, target.struct)

    for table in TABLES.values():
        walk(table.type, table.struct)
    return found
