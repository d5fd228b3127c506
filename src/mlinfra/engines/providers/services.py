"""Create, read, update and delete the local resources of the emulator's other APIs: an
endpoint's SLO alarms (CloudWatch) and its scalable target and scaling policy (Application
Auto Scaling).

Each is made and changed by one call that creates or overwrites it (PutMetricAlarm,
RegisterScalableTarget, PutScalingPolicy), so an update is that call again with the new
inputs; what identifies it (its name, a policy's or target's namespace, resource and
dimension) cannot change, and the plan replaces it instead. Reads compare only what was sent,
as `LocalProvider.refresh` does: Describe calls leave out the tags, which are kept as sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlinfra.ir.local import api


@dataclass(frozen=True)
class Calls:
    """How one resource type is put, found and deleted through its API's boto3 client."""

    api: str  # the boto3 client: cloudwatch, application-autoscaling
    put: str  # creates it, or overwrites it with new inputs
    delete: Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]  # method, request
    find: Callable[[Any, Mapping[str, Any]], dict[str, Any] | None]  # client, inputs -> found
    arn_field: str


def _alarm(client: Any, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    found = client.describe_alarms(AlarmNames=[inputs["AlarmName"]])["MetricAlarms"]
    return found[0] if found else None


def _variant(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: inputs[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension")}


def _target(client: Any, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    found = client.describe_scalable_targets(
        ServiceNamespace=inputs["ServiceNamespace"],
        ResourceIds=[inputs["ResourceId"]],
        ScalableDimension=inputs["ScalableDimension"],
    )["ScalableTargets"]
    return found[0] if found else None


def _policy(client: Any, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    found = client.describe_scaling_policies(
        **_variant(inputs), PolicyNames=[inputs["PolicyName"]]
    )["ScalingPolicies"]
    return found[0] if found else None


CALLS: dict[str, Calls] = {
    api.METRIC_ALARM: Calls(
        "cloudwatch",
        "put_metric_alarm",
        lambda i: ("delete_alarms", {"AlarmNames": [i["AlarmName"]]}),
        _alarm,
        "AlarmArn",
    ),
    api.SCALABLE_TARGET: Calls(
        "application-autoscaling",
        "register_scalable_target",
        lambda i: ("deregister_scalable_target", _variant(i)),
        _target,
        "ScalableTargetARN",
    ),
    api.SCALING_POLICY: Calls(
        "application-autoscaling",
        "put_scaling_policy",
        lambda i: ("delete_scaling_policy", {**_variant(i), "PolicyName": i["PolicyName"]}),
        _policy,
        "PolicyARN",
    ),
}
# Errors that mean "it is not there": deleting what is already gone is no error.
MISSING = frozenset({"ResourceNotFound", "ObjectNotFoundException"})
