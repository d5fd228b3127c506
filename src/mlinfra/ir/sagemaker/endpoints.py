"""Endpoints: the endpoint, its configuration, SLO alarms, safe deployments and autoscaling.

An endpoint configuration is immutable, so its name carries a hash of its content: a change
makes a new configuration, the endpoint moves to it (blue/green, with the spec's canary or
linear traffic shifting, rolled back by the SLO alarms), and only then is the old one deleted.
The SLO alarms notify `slo.alert`'s targets when they fire (see `alerts`).
"""

from __future__ import annotations

import re
from typing import Any

from mlinfra.ir.graph import Args, Ref, Resource, content_hash
from mlinfra.ir.requests import autoscaling as scaled
from mlinfra.ir.requests import slo
from mlinfra.ir.requests.endpoints import (  # noqa: F401  (VARIANT: re-exported)
    VARIANT,
    create_endpoint,
    create_endpoint_config,
    endpoint_name,
)
from mlinfra.ir.sagemaker import fields
from mlinfra.ir.sagemaker.alerts import alarm_actions, alert_topic
from mlinfra.ir.sagemaker.cloudwatch import metric_query
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.models import (
    VERSION_SUFFIX_LENGTH,
    model_name,
    served_version,
    with_version,
    without_endpoints,
)
from mlinfra.ir.sagemaker.translate import translate
from mlinfra.naming import fit
from mlinfra.sagemaker.names import name_rule
from mlinfra.spec.model import Endpoint

# Instance families with NVMe instance storage. Their local volumes are encrypted by the
# hardware, and CreateEndpointConfig fails if a KMS key is given for them.
_INSTANCE_STORE_FAMILIES = frozenset(
    {"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}
)
# m5d, c5d, r5d, m6id, c6gd, g4dn, p3dn, p4d, p4de...: a "d" after the generation digit.
_INSTANCE_STORE_SUFFIX = re.compile(r"^[a-z]+\d[a-z]*d[a-z]*$")


def lower_endpoint(ctx: LoweringContext, component: Endpoint) -> list[Resource]:
    slo = component.slo
    topic = alert_topic(ctx, component, slo, f"{endpoint_name(ctx, component)}-alerts")
    alarms = slo_alarms(ctx, component, alarm_actions(slo.alert, topic))
    config = endpoint_config(ctx, component)
    endpoint = ctx.resource(
        component.address,
        fields.ENDPOINT.type,
        endpoint_properties(ctx, component, config, alarms),
        component.key_range,
    )
    return [config, *topic, *alarms.values(), endpoint, *autoscaling(ctx, component)]


# --- the configuration ------------------------------------------------------------------------


def has_instance_storage(instance_type: str) -> bool:
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else ""
    return family in _INSTANCE_STORE_FAMILIES or bool(_INSTANCE_STORE_SUFFIX.match(family))


def endpoint_config_properties(ctx: LoweringContext, component: Endpoint) -> dict[str, Any]:
    """The configuration's pulumi_aws arguments but its name: its request, capturing under
    the endpoint's own prefix (so a monitor reads only its traffic), encrypted with the
    environment's key where the instance's volumes take one."""
    capture = ctx.s3_uri("capture", endpoint_name(ctx, component))
    request = create_endpoint_config(ctx, component, capture)
    key = ctx.kms_key
    if key is not None:
        if not has_instance_storage(component.instance_type):
            request["KmsKeyId"] = key
        if "DataCaptureConfig" in request:
            request["DataCaptureConfig"]["KmsKeyId"] = key
    return translate(fields.ENDPOINT_CONFIGURATION, request)


def endpoint_config(ctx: LoweringContext, component: Endpoint) -> Resource:
    model = ctx.spec.models[component.model]
    properties = endpoint_config_properties(ctx, component)
    # The model's name is static and itself a hash of the model's content, so a new model
    # makes a new configuration even though the variant only refers to it by Ref. Tags are
    # hashed too: replacing the configuration in place would reuse its name.
    # A latest-approved model's version is only known when the program runs: it is added to
    # the name then, so a newly approved version makes a new configuration too.
    model_named = without_endpoints(model_name(ctx, model))
    digest = content_hash({"properties": properties, "model": model_named})
    base = ctx.name(component, "endpoint_config")
    if served_version(ctx, model) is not None:
        base = fit(base, name_rule("endpoint_config").max_length - 9 - VERSION_SUFFIX_LENGTH)
    name = with_version(ctx, model, f"{base}-{digest}")
    return ctx.resource(
        f"{component.address}/config",
        fields.ENDPOINT_CONFIGURATION.type,
        {"name": name, **properties},
        component.range_of("instance_type"),
        replace_on_change=True,
    )


# --- the endpoint and its deployments ---------------------------------------------------------


def endpoint_properties(
    ctx: LoweringContext, component: Endpoint, config: Resource, alarms: dict[str, Resource]
) -> dict:
    request = create_endpoint(ctx, component, config.address)
    # A Ref names each alarm, so the alarm exists before a deployment can need it.
    names = {kind: Ref(alarm.address, "name") for kind, alarm in alarms.items()}
    deployment = slo.deployment_config(component, names)
    if deployment is not None:
        request["DeploymentConfig"] = deployment
    return translate(fields.ENDPOINT, request)


# --- SLO alarms: their requests (`ir.requests.slo`) as pulumi_aws arguments --------------------

# PutMetricAlarm's fields and the aws.cloudwatch.MetricAlarm arguments they become, in the order
# programs write them.
_ALARM_ARGUMENTS = (
    ("AlarmName", "name"),
    ("ComparisonOperator", "comparison_operator"),
    ("EvaluationPeriods", "evaluation_periods"),
    ("DatapointsToAlarm", "datapoints_to_alarm"),
    ("TreatMissingData", "treat_missing_data"),
    ("AlarmDescription", "alarm_description"),
    ("Namespace", "namespace"),
    ("MetricName", "metric_name"),
    ("ExtendedStatistic", "extended_statistic"),
    ("Metrics", "metric_queries"),
    ("Period", "period"),
    ("Threshold", "threshold"),
    ("Dimensions", "dimensions"),
)


def _query(query: dict[str, Any]) -> Args:
    if "MetricStat" in query:
        stat = query["MetricStat"]
        metric = stat["Metric"]
        return metric_query(
            query["Id"],
            metric["Namespace"],
            metric["MetricName"],
            stat["Stat"],
            stat["Period"],
            {d["Name"]: d["Value"] for d in metric["Dimensions"]},
        )
    return Args(
        "aws.cloudwatch.MetricAlarmMetricQueryArgs",
        {
            "id": query["Id"],
            "expression": query["Expression"],
            "label": query["Label"],
            "return_data": query["ReturnData"],
        },
    )


def alarm_properties(
    ctx: LoweringContext, component: Endpoint, request: dict[str, Any], actions: list | None
) -> dict[str, Any]:
    """An alarm's PutMetricAlarm request as aws.cloudwatch.MetricAlarm's arguments."""
    properties: dict[str, Any] = {}
    for field, argument in _ALARM_ARGUMENTS:
        if field not in request:
            continue
        value = request[field]
        if field == "Dimensions":
            value = {d["Name"]: d["Value"] for d in value}
        elif field == "Metrics":
            value = [_query(q) for q in value]
        properties[argument] = value
    properties["tags"] = ctx.tags(component)
    if actions:
        properties["alarm_actions"] = actions
    return properties


def slo_alarms(
    ctx: LoweringContext, component: Endpoint, actions: list | None = None
) -> dict[str, Resource]:
    """The SLO's alarms by the names `deployment.rollback_on` uses for them, notifying
    `actions` (the targets of `slo.alert`) when they fire."""
    return slo.alarm_resources(
        ctx,
        component,
        "aws.cloudwatch.MetricAlarm",
        lambda request: alarm_properties(ctx, component, request, actions),
    )


# --- autoscaling: its requests (`ir.requests.autoscaling`) as pulumi_aws arguments -------------


def autoscaling(ctx: LoweringContext, component: Endpoint) -> list[Resource]:
    scaling = component.autoscaling
    if scaling is None:
        return []
    source = component.range_of("autoscaling")
    target_address = f"{component.address}/{scaled.TARGET}"
    resource_id = scaled.variant_resource_id(component)
    target = scaled.scalable_target(scaling, resource_id)
    target_resource = ctx.resource(
        target_address,
        "aws.appautoscaling.Target",
        {
            "service_namespace": target["ServiceNamespace"],
            "resource_id": target["ResourceId"],
            "scalable_dimension": target["ScalableDimension"],
            "min_capacity": target["MinCapacity"],
            "max_capacity": target["MaxCapacity"],
            "tags": ctx.tags(component),
        },
        source,
    )
    policy = scaled.scaling_policy(ctx, component, scaling, resource_id)
    policy_resource = ctx.resource(
        f"{component.address}/{scaled.POLICY}",
        "aws.appautoscaling.Policy",
        {
            "name": policy["PolicyName"],
            "policy_type": policy["PolicyType"],
            "service_namespace": Ref(target_address, "service_namespace"),
            "resource_id": Ref(target_address, "resource_id"),
            "scalable_dimension": Ref(target_address, "scalable_dimension"),
            "target_tracking_scaling_policy_configuration": target_tracking(
                policy["TargetTrackingScalingPolicyConfiguration"]
            ),
        },
        source,
    )
    return [target_resource, policy_resource]


def target_tracking(config: dict[str, Any]) -> Args:
    return Args(
        "aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs",
        {
            "target_value": config["TargetValue"],
            "predefined_metric_specification": Args(
                "aws.appautoscaling."
                "PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs",
                {
                    "predefined_metric_type": config["PredefinedMetricSpecification"][
                        "PredefinedMetricType"
                    ]
                },
            ),
            "scale_in_cooldown": config["ScaleInCooldown"],
            "scale_out_cooldown": config["ScaleOutCooldown"],
        },
    )
