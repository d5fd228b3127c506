"""Endpoints: the endpoint, its configuration, SLO alarms, safe deployments and autoscaling.

An endpoint configuration is immutable, so its name carries a hash of its content: a change
makes a new configuration, the endpoint moves to it (blue/green, with the spec's canary or
linear traffic shifting, rolled back by the SLO alarms), and only then is the old one deleted.
The SLO alarms notify `slo.alert`'s targets when they fire (see `alerts`).
"""

from __future__ import annotations

import re
from typing import Any

from mlinfra.ir.graph import Args, Concat, Ref, Resource, content_hash
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
from mlinfra.spec.model import Autoscaling, Deployment, Endpoint
from mlinfra.spec.values import parse_duration

NAMESPACE = "AWS/SageMaker"
# Alarms look at one-minute periods and fire when two of the last three breach: fast enough to
# stop a canary within its wait, and not tripped by a single slow minute.
PERIOD_SECONDS = 60
EVALUATION_PERIODS = 3
DATAPOINTS_TO_ALARM = 2
TRAFFIC_ROUTING = {"canary": "CANARY", "linear": "LINEAR", "all_at_once": "ALL_AT_ONCE"}

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
    deployment = deployment_config(component, alarms)
    if deployment is not None:
        request["DeploymentConfig"] = deployment
    return translate(fields.ENDPOINT, request)


def rollback_alarms(component: Endpoint, alarms: dict[str, Resource]) -> list[Resource]:
    # An alarm named in rollback_on without its SLO threshold is reported by validation.
    return [alarms[kind] for kind in component.deployment.rollback_on if kind in alarms]


def traffic_routing(deployment: Deployment) -> dict[str, Any]:
    strategy = deployment.strategy
    routing: dict[str, Any] = {
        "Type": TRAFFIC_ROUTING[strategy],
        "WaitIntervalInSeconds": deployment.wait_minutes * 60,
    }
    if strategy == "canary":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": deployment.canary_percent}
    elif strategy == "linear":
        routing["LinearStepSize"] = {
            "Type": "CAPACITY_PERCENT",
            "Value": deployment.linear_step_percent,
        }
    return routing


def deployment_config(component: Endpoint, alarms: dict[str, Resource]) -> dict | None:
    """Blue/green with the spec's traffic shifting, rolled back by the named SLO alarms.

    An all-at-once deployment without rollback alarms is SageMaker's default: no config.
    """
    deployment = component.deployment
    rollback = rollback_alarms(component, alarms)
    if deployment.strategy == "all_at_once" and not rollback:
        return None
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": traffic_routing(deployment)}
    }
    if rollback:
        config["AutoRollbackConfiguration"] = {
            # A Ref, so the alarm exists before a deployment can need it.
            "Alarms": [{"AlarmName": Ref(alarm.address, "name")} for alarm in rollback]
        }
    return config


# --- SLO alarms -------------------------------------------------------------------------------


def _dimensions(ctx: LoweringContext, component: Endpoint) -> dict[str, str]:
    return {"EndpointName": endpoint_name(ctx, component), "VariantName": VARIANT}


def _alarm_common(ctx: LoweringContext, component: Endpoint, what: str) -> dict[str, Any]:
    return {
        "name": f"{endpoint_name(ctx, component)}-{what}",
        "comparison_operator": "GreaterThanThreshold",
        "evaluation_periods": EVALUATION_PERIODS,
        "datapoints_to_alarm": DATAPOINTS_TO_ALARM,
        # No traffic is no breach: an idle endpoint must not roll a deployment back.
        "treat_missing_data": "notBreaching",
    }


def latency_alarm(
    ctx: LoweringContext, component: Endpoint, latency_ms: float, actions: list | None = None
) -> Resource:
    properties = _alarm_common(ctx, component, "latency-p99")
    properties.update(
        {
            "alarm_description": f"{component.address}: p99 model latency above {latency_ms} ms",
            "namespace": NAMESPACE,
            "metric_name": "ModelLatency",
            "extended_statistic": "p99",
            "period": PERIOD_SECONDS,
            # SageMaker reports ModelLatency in microseconds.
            "threshold": float(latency_ms) * 1000,
            "dimensions": _dimensions(ctx, component),
            "tags": ctx.tags(component),
        }
    )
    if actions:
        properties["alarm_actions"] = actions
    return ctx.resource(
        f"{component.address}/alarm-latency",
        "aws.cloudwatch.MetricAlarm",
        properties,
        component.slo.range_of("latency_p99_ms"),
    )


def _metric(ctx: LoweringContext, component: Endpoint, query_id: str, metric: str) -> Args:
    dimensions = _dimensions(ctx, component)
    return metric_query(query_id, NAMESPACE, metric, "Sum", PERIOD_SECONDS, dimensions)


def error_alarm(
    ctx: LoweringContext, component: Endpoint, percent: float, actions: list | None = None
) -> Resource:
    # SageMaker publishes error counts, not rates: the rate is metric math over two sums.
    rate = Args(
        "aws.cloudwatch.MetricAlarmMetricQueryArgs",
        {
            "id": "error_rate",
            "expression": "100 * errors / invocations",
            "label": "5XX error rate (%)",
            "return_data": True,
        },
    )
    properties = _alarm_common(ctx, component, "error-rate")
    properties.update(
        {
            "alarm_description": f"{component.address}: 5XX error rate above {percent}%",
            "metric_queries": [
                _metric(ctx, component, "errors", "Invocation5XXErrors"),
                _metric(ctx, component, "invocations", "Invocations"),
                rate,
            ],
            "threshold": float(percent),
            "tags": ctx.tags(component),
        }
    )
    if actions:
        properties["alarm_actions"] = actions
    return ctx.resource(
        f"{component.address}/alarm-errors",
        "aws.cloudwatch.MetricAlarm",
        properties,
        component.slo.range_of("error_rate_percent"),
    )


def slo_alarms(
    ctx: LoweringContext, component: Endpoint, actions: list | None = None
) -> dict[str, Resource]:
    """The SLO's alarms by the names `deployment.rollback_on` uses for them, notifying
    `actions` (the targets of `slo.alert`) when they fire."""
    slo = component.slo
    alarms: dict[str, Resource] = {}
    if slo.latency_p99_ms is not None:
        alarms["latency"] = latency_alarm(ctx, component, slo.latency_p99_ms, actions)
    if slo.error_rate_percent is not None:
        alarms["errors"] = error_alarm(ctx, component, slo.error_rate_percent, actions)
    return alarms


# --- autoscaling ------------------------------------------------------------------------------


def autoscaling(ctx: LoweringContext, component: Endpoint) -> list[Resource]:
    scaling = component.autoscaling
    if scaling is None:
        return []
    source = component.range_of("autoscaling")
    target_address = f"{component.address}/scaling-target"
    target = ctx.resource(
        target_address,
        "aws.appautoscaling.Target",
        {
            "service_namespace": "sagemaker",
            # A Ref to the endpoint, so the variant exists before it is registered.
            "resource_id": Concat(
                ("endpoint/", Ref(component.address, "name"), f"/variant/{VARIANT}")
            ),
            "scalable_dimension": "sagemaker:variant:DesiredInstanceCount",
            "min_capacity": scaling.min,
            "max_capacity": scaling.max,
            "tags": ctx.tags(component),
        },
        source,
    )
    policy = ctx.resource(
        f"{component.address}/scaling-policy",
        "aws.appautoscaling.Policy",
        {
            "name": f"{endpoint_name(ctx, component)}-invocations-per-instance",
            "policy_type": "TargetTrackingScaling",
            "service_namespace": Ref(target_address, "service_namespace"),
            "resource_id": Ref(target_address, "resource_id"),
            "scalable_dimension": Ref(target_address, "scalable_dimension"),
            "target_tracking_scaling_policy_configuration": target_tracking(scaling),
        },
        source,
    )
    return [target, policy]


def _seconds(duration: str) -> int:
    return int(parse_duration(duration).total_seconds())


def target_tracking(scaling: Autoscaling) -> Args:
    return Args(
        "aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs",
        {
            "target_value": float(scaling.target_invocations_per_instance),
            "predefined_metric_specification": Args(
                "aws.appautoscaling."
                "PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs",
                {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
            ),
            "scale_in_cooldown": _seconds(scaling.scale_in_cooldown),
            "scale_out_cooldown": _seconds(scaling.scale_out_cooldown),
        },
    )
