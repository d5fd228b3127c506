"""An endpoint's SLO and safe deployments: the `PutMetricAlarm` requests of its SLO alarms and
the `DeploymentConfig` its updates take (blue/green, the spec's traffic shifting, rolled back
by the alarms `deployment.rollback_on` names).

Both targets make the same alarms from these requests: the local target sends them to the
emulator's CloudWatch as they are, the SageMaker target gives them to `pulumi_aws`
(`ir.sagemaker.endpoints`). What an alarm notifies is the target's (an SNS topic on AWS, the
spec's alert targets in the emulator), as is the value that names an alarm in a deployment
(a Ref to the alarm, so that it exists before a deployment can need it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlinfra.ir.graph import Resource
from mlinfra.ir.requests.endpoints import VARIANT, endpoint_name
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import Deployment, Endpoint

NAMESPACE = "AWS/SageMaker"
# Alarms look at one-minute periods and fire when two of the last three breach: fast enough to
# stop a canary within its wait, and not tripped by a single slow minute.
PERIOD_SECONDS = 60
EVALUATION_PERIODS = 3
DATAPOINTS_TO_ALARM = 2
TRAFFIC_ROUTING = {"canary": "CANARY", "linear": "LINEAR", "all_at_once": "ALL_AT_ONCE"}
# The SLO's alarms by the names `deployment.rollback_on` gives them: their addresses, and
# the SLO settings they come from.
ALARM_ADDRESSES = {"latency": "alarm-latency", "errors": "alarm-errors"}
SLO_SETTINGS = {"latency": "latency_p99_ms", "errors": "error_rate_percent"}


def dimensions(ctx: LoweringContext, component: Endpoint) -> list[dict[str, str]]:
    return [
        {"Name": "EndpointName", "Value": endpoint_name(ctx, component)},
        {"Name": "VariantName", "Value": VARIANT},
    ]


def _common(ctx: LoweringContext, component: Endpoint, what: str) -> dict[str, Any]:
    return {
        "AlarmName": f"{endpoint_name(ctx, component)}-{what}",
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": EVALUATION_PERIODS,
        "DatapointsToAlarm": DATAPOINTS_TO_ALARM,
        # No traffic is no breach: an idle endpoint must not roll a deployment back.
        "TreatMissingData": "notBreaching",
    }


def latency_alarm(ctx: LoweringContext, component: Endpoint, latency_ms: float) -> dict[str, Any]:
    """`PutMetricAlarm`'s request, but for actions and tags: p99 model latency too high."""
    return {
        **_common(ctx, component, "latency-p99"),
        "AlarmDescription": f"{component.address}: p99 model latency above {latency_ms} ms",
        "Namespace": NAMESPACE,
        "MetricName": "ModelLatency",
        "ExtendedStatistic": "p99",
        "Period": PERIOD_SECONDS,
        # SageMaker reports ModelLatency in microseconds.
        "Threshold": float(latency_ms) * 1000,
        "Dimensions": dimensions(ctx, component),
    }


def summed(ctx: LoweringContext, component: Endpoint, query_id: str, metric: str) -> dict:
    """One metric of an alarm's `Metrics`, fed into an expression, not alarmed on."""
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": NAMESPACE,
                "MetricName": metric,
                "Dimensions": dimensions(ctx, component),
            },
            "Period": PERIOD_SECONDS,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


def error_alarm(ctx: LoweringContext, component: Endpoint, percent: float) -> dict[str, Any]:
    """`PutMetricAlarm`'s request, but for actions and tags: 5XX error rate too high."""
    # SageMaker publishes error counts, not rates: the rate is metric math over two sums.
    return {
        **_common(ctx, component, "error-rate"),
        "AlarmDescription": f"{component.address}: 5XX error rate above {percent}%",
        "Metrics": [
            summed(ctx, component, "errors", "Invocation5XXErrors"),
            summed(ctx, component, "invocations", "Invocations"),
            {
                "Id": "error_rate",
                "Expression": "100 * errors / invocations",
                "Label": "5XX error rate (%)",
                "ReturnData": True,
            },
        ],
        "Threshold": float(percent),
    }


def slo_alarms(ctx: LoweringContext, component: Endpoint) -> dict[str, dict[str, Any]]:
    """The SLO's alarm requests by the names `deployment.rollback_on` uses for them."""
    slo = component.slo
    alarms: dict[str, dict[str, Any]] = {}
    if slo.latency_p99_ms is not None:
        alarms["latency"] = latency_alarm(ctx, component, slo.latency_p99_ms)
    if slo.error_rate_percent is not None:
        alarms["errors"] = error_alarm(ctx, component, slo.error_rate_percent)
    return alarms


def alarm_resources(
    ctx: LoweringContext,
    component: Endpoint,
    type_: str,
    properties: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Resource]:
    """The SLO's alarms as resources of the target's `type_`, by the names `rollback_on`
    uses; `properties` turns an alarm's request into the resource's properties."""
    return {
        kind: ctx.resource(
            f"{component.address}/{ALARM_ADDRESSES[kind]}",
            type_,
            properties(request),
            component.slo.range_of(SLO_SETTINGS[kind]),
        )
        for kind, request in slo_alarms(ctx, component).items()
    }


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


def deployment_config(component: Endpoint, alarm_names: dict[str, Any]) -> dict | None:
    """Blue/green with the spec's traffic shifting, rolled back by the SLO alarms that
    `rollback_on` names (`alarm_names`: the target's value naming each, by kind).

    An all-at-once deployment without rollback alarms is SageMaker's default: no config.
    """
    deployment = component.deployment
    # An alarm named in rollback_on without its SLO threshold is reported by validation.
    rollback = [alarm_names[kind] for kind in deployment.rollback_on if kind in alarm_names]
    if deployment.strategy == "all_at_once" and not rollback:
        return None
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": traffic_routing(deployment)}
    }
    if rollback:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in rollback]}
    return config
