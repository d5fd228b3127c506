"""The SageMaker resource types mlinfra creates and reads, in one catalogue (as LocalStack
keeps `aws/spec.py`).

Per type, by its API noun (`EndpointConfig`: CreateEndpointConfig, DescribeEndpointConfig,
...): the request field that names it and the response field holding its ARN, the resource
part of its ARN, what its Update call changes in place, and what deleting it loses.

Everyone who asks "which field names an endpoint config" or "can this change in place" reads
it here: the embedded engine's providers, the plan, the outputs and previews, the emulator's
services. A resource type in mlinfra's graph is named after its noun on both targets
(`local.Model` for the emulator, `aws.sagemaker.Model` for pulumi_aws), so `of_type` answers
for either.

What updates in place is SageMaker's API (UpdateEndpoint takes a new EndpointConfigName,
UpdateFeatureGroup adds features and changes the online store's TtlDuration and the
throughput); `provider_in_place` is the same question for the Terraform AWS provider that
pulumi_aws bridges, which is narrower (see `mlinfra.ir.sagemaker.updates`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

TAGS = "Tags"  # every type's tags change in place (AddTags, DeleteTags)
LOCAL_PREFIX = "local."
PULUMI_PREFIX = "aws.sagemaker."


@dataclass(frozen=True)
class ResourceType:
    noun: str  # Create<noun>, Describe<noun>, Update<noun>, Delete<noun>
    name_field: str  # the request field that names it
    arn_field: str  # the Describe response field that holds its ARN
    arn_kind: str  # its ARN's resource part: arn:aws:sagemaker:<region>:<account>:<arn_kind>/...
    # Fields Update<noun> changes in place; a change to any other field (tags aside)
    # replaces the resource.
    updatable: frozenset[str] = frozenset()
    # Fields it changes only in part: field -> whether it can go from old to new in place.
    partly: Mapping[str, Callable[[Any, Any], bool]] = field(default_factory=dict)
    # The Update<noun> requests that make a change, when they are not the changed fields as
    # they are: (name, old request, new request, changed fields) -> requests.
    updates: Callable[[str, Mapping, Mapping, list[str]], list[dict]] | None = None
    # What changes in place, for people (default: the updatable fields and Tags).
    in_place: str = ""
    # What deleting it loses, when it holds data; `{offline_store}` says where a feature
    # group's offline files stay, which depends on where it ran.
    loses: str | None = None
    # What the Terraform AWS provider (pulumi_aws) updates in place, by its property paths;
    # None where mlinfra does not list it and the Pulumi engine decides.
    provider_in_place: tuple[str, ...] | None = None
    # The botocore service whose API creates it: SageMaker's, or for the alarms and scaling
    # an endpoint's SLO and autoscaling make, CloudWatch's and Application Auto Scaling's.
    api: str = "sagemaker"

    @property
    def method_noun(self) -> str:
        """The noun in boto3's method names: `endpoint_config` (create_endpoint_config)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.noun).lower()

    def fixed_fields(
        self, changed: Any, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> list[str]:
        """Those of the `changed` request fields that cannot go from `old` to `new` in place."""
        in_place = self.updatable | {TAGS}
        return [
            k
            for k in changed
            if k not in in_place
            and not (k in self.partly and self.partly[k](old.get(k), new.get(k)))
        ]

    def describe_in_place(self) -> str:
        return self.in_place or ", ".join(sorted(self.updatable | {TAGS}))

    def update_requests(
        self, name: str, old: Mapping[str, Any], new: Mapping[str, Any], fields: list[str]
    ) -> list[dict]:
        """The Update<noun> requests that change `fields` (updatable or partly) from old to new."""
        if self.updates is not None:
            return self.updates(name, old, new, fields)
        return [{self.name_field: name, **{k: new[k] for k in fields}}]


# --- feature groups: what UpdateFeatureGroup can do ------------------------------------------


def _features_added(old: Any, new: Any) -> bool:
    """UpdateFeatureGroup's FeatureAdditions appends features: the old ones stay as they were."""
    return isinstance(old, list) and isinstance(new, list) and new[: len(old)] == old


def _online_ttl_changed(old: Any, new: Any) -> bool:
    """Only the online store's TtlDuration changes in place (OnlineStoreConfig's update)."""

    def rest(config: Any) -> Any:
        return {k: v for k, v in config.items() if k != "TtlDuration"}

    return isinstance(old, dict) and isinstance(new, dict) and rest(old) == rest(new)


def _feature_group_updates(name: str, old: Mapping, new: Mapping, fields: list[str]) -> list[dict]:
    """One UpdateFeatureGroup per kind of change: AWS takes one of them at a time."""
    requests: list[dict] = []
    if "FeatureDefinitions" in fields:
        added = new["FeatureDefinitions"][len(old["FeatureDefinitions"]) :]
        requests.append({"FeatureGroupName": name, "FeatureAdditions": added})
    if "OnlineStoreConfig" in fields:
        # An empty TtlDuration (no Unit, no Value) removes the default TTL, as AWS documents.
        ttl = new["OnlineStoreConfig"].get("TtlDuration") or {}
        requests.append({"FeatureGroupName": name, "OnlineStoreConfig": {"TtlDuration": ttl}})
    if "ThroughputConfig" in fields:
        # No throughput in the spec is SageMaker's default: on demand.
        throughput = new.get("ThroughputConfig") or {"ThroughputMode": "OnDemand"}
        requests.append({"FeatureGroupName": name, "ThroughputConfig": throughput})
    return requests


# --- the catalogue ---------------------------------------------------------------------------

MODEL = ResourceType("Model", "ModelName", "ModelArn", "model")
ENDPOINT_CONFIG = ResourceType(
    "EndpointConfig", "EndpointConfigName", "EndpointConfigArn", "endpoint-config"
)


def _endpoint_updates(name: str, old: Mapping, new: Mapping, fields: list[str]) -> list[dict]:
    """UpdateEndpoint moves the endpoint to a new configuration, deployed as its
    DeploymentConfig says; a changed DeploymentConfig alone waits for the next one."""
    if "EndpointConfigName" not in fields:
        return []
    request = {"EndpointName": name, "EndpointConfigName": new["EndpointConfigName"]}
    if new.get("DeploymentConfig"):
        request["DeploymentConfig"] = new["DeploymentConfig"]
    return [request]


ENDPOINT = ResourceType(
    "Endpoint",
    "EndpointName",
    "EndpointArn",
    "endpoint",
    frozenset({"EndpointConfigName", "DeploymentConfig"}),
    updates=_endpoint_updates,
)
FEATURE_GROUP = ResourceType(
    "FeatureGroup",
    "FeatureGroupName",
    "FeatureGroupArn",
    "feature-group",
    frozenset({"ThroughputConfig"}),
    partly={"FeatureDefinitions": _features_added, "OnlineStoreConfig": _online_ttl_changed},
    updates=_feature_group_updates,
    in_place=(
        "features added after the others, the online store's TtlDuration, ThroughputConfig and Tags"
    ),
    loses=(
        "every record of the online store; "
        "the offline store's files stay {offline_store}, but in no feature group"
    ),
    # internal/service/sagemaker/feature_group.go: everything is ForceNew except tags,
    # online_store_config.ttl_duration and throughput_config, which its update sends as
    # UpdateFeatureGroup's OnlineStoreConfig and ThroughputConfig. feature_definition is
    # ForceNew: the provider never sends FeatureAdditions, so an added feature replaces.
    provider_in_place=("tags", "online_store_config.ttl_duration", "throughput_config"),
)
MODEL_PACKAGE_GROUP = ResourceType(
    "ModelPackageGroup",
    "ModelPackageGroupName",
    "ModelPackageGroupArn",
    "model-package-group",
    loses="every registered model version, with its approval",
)
# A version is named by its group and number, not by a name field of its own; its ARN
# (`model-package/<group>/<version>`) is what Describe and Delete take as ModelPackageName.
MODEL_PACKAGE = ResourceType("ModelPackage", "ModelPackageName", "ModelPackageArn", "model-package")
PIPELINE = ResourceType(
    "Pipeline",
    "PipelineName",
    "PipelineArn",
    "pipeline",
    frozenset({"PipelineDefinition", "PipelineDescription", "PipelineDisplayName", "RoleArn"}),
)
MONITORING_SCHEDULE = ResourceType(
    "MonitoringSchedule",
    "MonitoringScheduleName",
    "MonitoringScheduleArn",
    "monitoring-schedule",
    frozenset({"MonitoringScheduleConfig"}),
)

# What the local target creates through the emulator's other APIs for an endpoint's SLO and
# autoscaling. Each is created and changed by one call (PutMetricAlarm,
# RegisterScalableTarget, PutScalingPolicy), so all but what identifies it changes in place.
METRIC_ALARM = ResourceType(
    "MetricAlarm",
    "AlarmName",
    "AlarmArn",
    "alarm",
    frozenset(
        {
            "AlarmDescription",
            "ActionsEnabled",
            "AlarmActions",
            "OKActions",
            "InsufficientDataActions",
            "ComparisonOperator",
            "DatapointsToAlarm",
            "Dimensions",
            "EvaluationPeriods",
            "ExtendedStatistic",
            "Metrics",
            "MetricName",
            "Namespace",
            "Period",
            "Statistic",
            "Threshold",
            "TreatMissingData",
            "Unit",
        }
    ),  # fmt: skip
    api="cloudwatch",
)
SCALABLE_TARGET = ResourceType(
    "ScalableTarget",
    "ResourceId",
    "ScalableTargetARN",
    "scalable-target",
    frozenset({"MinCapacity", "MaxCapacity", "SuspendedState"}),
    api="application-autoscaling",
)
SCALING_POLICY = ResourceType(
    "ScalingPolicy",
    "PolicyName",
    "PolicyARN",
    "scaling-policy",
    frozenset({"PolicyType", "TargetTrackingScalingPolicyConfiguration"}),
    api="application-autoscaling",
)
OTHER_API_TYPES: Mapping[str, ResourceType] = MappingProxyType(
    {kind.noun: kind for kind in (METRIC_ALARM, SCALABLE_TARGET, SCALING_POLICY)}
)

RESOURCE_TYPES: Mapping[str, ResourceType] = MappingProxyType(
    {
        kind.noun: kind
        for kind in (
            MODEL,
            ENDPOINT_CONFIG,
            ENDPOINT,
            FEATURE_GROUP,
            MODEL_PACKAGE_GROUP,
            MODEL_PACKAGE,
            PIPELINE,
            MONITORING_SCHEDULE,
        )
    }
)


def local_type(kind: ResourceType) -> str:
    """The graph type of `kind` on the local target: `local.<noun>`."""
    return LOCAL_PREFIX + kind.noun


def pulumi_type(kind: ResourceType) -> str:
    """The pulumi_aws type of `kind`: `aws.sagemaker.<noun>`."""
    return PULUMI_PREFIX + kind.noun


def of_type(type_: str) -> ResourceType | None:
    """The catalogue's entry for a graph type (`local.Model`, `aws.sagemaker.Model`), if any."""
    if type_.startswith(LOCAL_PREFIX):
        noun = type_[len(LOCAL_PREFIX) :]
        return RESOURCE_TYPES.get(noun) or OTHER_API_TYPES.get(noun)
    if type_.startswith(PULUMI_PREFIX):
        return RESOURCE_TYPES.get(type_[len(PULUMI_PREFIX) :])
    return None


def kind_of(type_: str) -> ResourceType:
    """`of_type`, for a type that must be in the catalogue (KeyError otherwise)."""
    found = of_type(type_)
    if found is None:
        raise KeyError(f"{type_!r} is not a SageMaker resource type mlinfra knows")
    return found
