"""An endpoint's autoscaling: the `RegisterScalableTarget` and `PutScalingPolicy` requests of
Application Auto Scaling that scale its variant by target tracking on
`SageMakerVariantInvocationsPerInstance`. The target gives the value naming the variant
(`resource_id`: a Ref to the endpoint, so the variant exists before it is registered)."""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import Concat, Ref
from mlinfra.ir.requests.endpoints import VARIANT, endpoint_name
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import Autoscaling, Endpoint
from mlinfra.spec.values import parse_duration

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"


TARGET, POLICY = "scaling-target", "scaling-policy"  # their addresses under the endpoint's


def variant_resource_id(component: Endpoint) -> Concat:
    """The variant's ResourceId, with a Ref to the endpoint so that the variant exists
    before it is registered."""
    return Concat(("endpoint/", Ref(component.address, "name"), f"/variant/{VARIANT}"))


def scalable_target(scaling: Autoscaling, resource_id: Any) -> dict[str, Any]:
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id,
        "ScalableDimension": DIMENSION,
        "MinCapacity": scaling.min,
        "MaxCapacity": scaling.max,
    }


def _seconds(duration: str) -> int:
    return int(parse_duration(duration).total_seconds())


def target_tracking(scaling: Autoscaling) -> dict[str, Any]:
    return {
        "TargetValue": float(scaling.target_invocations_per_instance),
        "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
        "ScaleInCooldown": _seconds(scaling.scale_in_cooldown),
        "ScaleOutCooldown": _seconds(scaling.scale_out_cooldown),
    }


def scaling_policy(
    ctx: LoweringContext, component: Endpoint, scaling: Autoscaling, resource_id: Any
) -> dict[str, Any]:
    return {
        "PolicyName": f"{endpoint_name(ctx, component)}-invocations-per-instance",
        "PolicyType": "TargetTrackingScaling",
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id,
        "ScalableDimension": DIMENSION,
        "TargetTrackingScalingPolicyConfiguration": target_tracking(scaling),
    }
